// Molecule metrics and `diffuse eval molecule`.
#pragma once
#include <string>
#include <vector>

#include "core/json.h"

namespace diffuse::molecule {

// Wasserstein-1 distance between two 1-D samples (sorted quantile matching).
double wasserstein1(std::vector<double> a, std::vector<double> b);

// `diffuse eval molecule [CHECKPOINT]`: samples of the checkpoint scored against its data's
// held-out split (validity, uniqueness, novelty, property W1, MOSES similarities, logP per
// requested bin); --calibrate adds held-out vs train and one-bond-edited held-out molecules.
void eval_molecules(const Json& args);

}  // namespace diffuse::molecule
