// High-accuracy reference solutions of the probability-flow ODE, for convergence checks and
// the sampler benchmark: classical RK4 in log-sigma on dx/dlog(sigma) = x - D(x, sigma).
#pragma once
#include <torch/types.h>

#include "core/denoiser.h"

namespace diffuse {

// Integrates from sigma_from down to sigma_to (> 0) with `steps` RK4 steps uniform in log sigma.
torch::Tensor solve_pf_ode(const Denoiser& denoise, torch::Tensor x, double sigma_from, double sigma_to, int64_t steps);

}  // namespace diffuse
