// Molecule metrics and the judge of `diffuse eval molecule`.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "core/json.h"
#include "core/pipeline.h"

namespace diffuse::molecule {

// Wasserstein-1 distance between two 1-D samples (sorted quantile matching).
double wasserstein1(std::vector<double> a, std::vector<double> b);

// The judge of `diffuse eval molecule [CHECKPOINT]`: samples of the checkpoint scored against its
// data's held-out split (validity, uniqueness, novelty, property W1, MOSES similarities, logP per
// requested bin); its calibration rows are held-out vs train and one-bond-edited held-out molecules.
// `recipe`: the checkpoint's (its codec and data), or null for the default data.
std::unique_ptr<Evaluator> molecule_evaluator(const Json& recipe);

}  // namespace diffuse::molecule
