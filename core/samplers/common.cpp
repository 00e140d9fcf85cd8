// Shared sampler steps.
#include "core/samplers/common.h"

#include <torch/torch.h>

#include <cmath>
#include <sstream>
#include <stdexcept>

namespace diffuse::detail {

std::vector<double> to_vector(const torch::Tensor& sigmas) {
  auto c = sigmas.to(torch::kCPU, torch::kFloat64).contiguous();
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

torch::Tensor denoise_at(const Denoiser& denoise, const torch::Tensor& x, double sigma, const SamplerOptions& o) {
  if (o.on_model_call) o.on_model_call(sigma);
  return denoise(x, torch::scalar_tensor(sigma, torch::kFloat64));
}

AncestralStep ancestral_step(double from, double to, double eta) {
  if (eta == 0.0) return {to, 0.0};
  const double up = std::min(to, eta * std::sqrt(to * to * (from * from - to * to) / (from * from)));
  return {std::sqrt(to * to - up * up), up};
}

double churn(torch::Tensor& x, double sigma, int64_t n_steps, NoiseSource& noise, const SamplerOptions& o) {
  const double gamma = (o.s_tmin <= sigma && sigma <= o.s_tmax)
                           ? std::min(o.s_churn / double(n_steps), std::sqrt(2.0) - 1.0)
                           : 0.0;
  const double sigma_hat = sigma * (gamma + 1.0);
  if (gamma > 0) x = x + noise.draw(x) * o.s_noise * std::sqrt(sigma_hat * sigma_hat - sigma * sigma);
  return sigma_hat;
}

void step_done(const torch::Tensor& x, int64_t step, double sigma, const SamplerOptions& o) {
  if (!torch::isfinite(x).all().item<bool>()) {
    std::ostringstream s;
    s << "sampling diverged: non-finite values (NaN or Inf) in x after step " << step << " (sigma " << sigma << ")";
    throw std::runtime_error(s.str());
  }
  if (o.callback) o.callback(step, x, sigma);
}

}  // namespace diffuse::detail
