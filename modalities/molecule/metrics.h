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
// requested bin, GuacaMol's KL benchmark); its calibration rows are held-out vs train, one-bond-
// edited held-out molecules, their atoms on random trees (garbage) and the held-out molecules as
// random SMILES. `recipe`: the
// checkpoint's (its codec and data), or null for the default data; `reference`: files of the
// user's held-out molecules to score against instead of the data's test split.
std::unique_ptr<Evaluator> molecule_evaluator(const Json& recipe, const std::vector<std::string>& reference = {});

}  // namespace diffuse::molecule
