// Flow-matching Euler and Heun (diffusers FlowMatchEulerDiscreteScheduler and
// FlowMatchHeunDiscreteScheduler), stepping in flow time t = sigma / (1 + sigma) on the flow
// state x_f = x / (1 + sigma) with velocity u = (x_f - x0) / t. Flow Euler equals DDIM and VE
// Euler (a test checks it); flow Heun averages velocities in t, which differs from VE Heun.
// The last step, to t = 0, is Euler.
#include <torch/torch.h>

#include "core/samplers/common.h"

namespace diffuse {
using namespace detail;

namespace {
double flow_t(double sigma) { return sigma / (1.0 + sigma); }

torch::Tensor velocity(const Denoiser& denoise, const torch::Tensor& x_f, double sigma, const SamplerOptions& o) {
  const auto x0 = denoise_at(denoise, x_f * (1.0 + sigma), sigma, o);
  return (x_f - x0) / flow_t(sigma);
}
}  // namespace

torch::Tensor sample_flow_euler(const Denoiser& denoise, torch::Tensor x, const torch::Tensor& sigmas_t,
                                NoiseSource& /*noise*/, const SamplerOptions& o) {
  const auto sigmas = to_vector(sigmas_t);
  for (int64_t i = 0; i + 1 < int64_t(sigmas.size()); ++i) {
    const auto x_f = x / (1.0 + sigmas[i]);
    const auto u = velocity(denoise, x_f, sigmas[i], o);
    x = (x_f + (flow_t(sigmas[i + 1]) - flow_t(sigmas[i])) * u) * (1.0 + sigmas[i + 1]);
    step_done(x, i, sigmas[i + 1], o);
  }
  return x;
}

torch::Tensor sample_flow_heun(const Denoiser& denoise, torch::Tensor x, const torch::Tensor& sigmas_t,
                               NoiseSource& /*noise*/, const SamplerOptions& o) {
  const auto sigmas = to_vector(sigmas_t);
  for (int64_t i = 0; i + 1 < int64_t(sigmas.size()); ++i) {
    const auto x_f = x / (1.0 + sigmas[i]);
    const double dt = flow_t(sigmas[i + 1]) - flow_t(sigmas[i]);
    const auto u = velocity(denoise, x_f, sigmas[i], o);
    auto x_next = x_f + dt * u;
    if (sigmas[i + 1] > 0) x_next = x_f + dt * 0.5 * (u + velocity(denoise, x_next, sigmas[i + 1], o));
    x = x_next * (1.0 + sigmas[i + 1]);
    step_done(x, i, sigmas[i + 1], o);
  }
  return x;
}

}  // namespace diffuse
