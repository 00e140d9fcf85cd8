// Steps shared by samplers (k-diffusion's names): to_d, ancestral_step, churn, and the
// per-step bookkeeping (finite check, callback).
#pragma once
#include <torch/types.h>

#include <vector>

#include "core/samplers/samplers.h"

namespace diffuse::detail {

std::vector<double> to_vector(const torch::Tensor& sigmas);

// Evaluates the denoiser at a scalar sigma, reporting the call.
torch::Tensor denoise_at(const Denoiser& denoise, const torch::Tensor& x, double sigma, const SamplerOptions& o);

// dx/dsigma of the probability-flow ODE (Karras et al. 2022, eq. 4 with s = 1).
inline torch::Tensor to_d(const torch::Tensor& x, double sigma, const torch::Tensor& denoised) {
  return (x - denoised) / sigma;
}

// Splits a step sigma_from -> sigma_to into a deterministic part to sigma_down and fresh noise
// of std sigma_up (k-diffusion get_ancestral_step).
struct AncestralStep {
  double down, up;
};
AncestralStep ancestral_step(double sigma_from, double sigma_to, double eta);

// EDM churn: raises sigma to sigma_hat = sigma (1 + gamma) with fresh noise (Algorithm 2, l. 5-6).
double churn(torch::Tensor& x, double sigma, int64_t n_steps, NoiseSource& noise, const SamplerOptions& o);

// After each step: checks x is finite (throws naming the step and sigma) and calls the callback.
void step_done(const torch::Tensor& x, int64_t step, double sigma, const SamplerOptions& o);

}  // namespace diffuse::detail
