// Checks of what a reference run records about itself, before it is replayed: the step count it
// asked for, its initial state against the file's noise, and the timesteps and sigmas diffuse
// computes from the scheduler's config against the recorded ones. A replay compares states only,
// so an edited schedule, noise or step count would otherwise pass unnoticed.
#pragma once
#include <torch/types.h>

#include <string>
#include <vector>

#include "core/json.h"

namespace diffuse {

// "" when the run agrees with itself and with diffuse's schedules, else the first disagreement.
std::string check_recorded_schedule(const Json& run, const Json& file);

// A diffusers config's alphas_cumprod (beta schedule, range, zero-terminal-SNR rescaling).
torch::Tensor alphas_cumprod_for(const Json& cfg);
std::vector<double> to_doubles(const Json& j);  // numbers, with "inf" / "-inf" for the infinities

}  // namespace diffuse
