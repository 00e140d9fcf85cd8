// RK4 on the probability-flow ODE in log-sigma (u = log sigma, dx/du = x - D(x, e^u)).
#include "core/ode.h"

#include <torch/torch.h>

#include <cmath>

namespace diffuse {

torch::Tensor solve_pf_ode(const Denoiser& denoise, torch::Tensor x, double sigma_from, double sigma_to, int64_t steps) {
  TORCH_CHECK(sigma_from > sigma_to && sigma_to > 0 && steps >= 1, "solve_pf_ode: need sigma_from > sigma_to > 0");
  auto f = [&](const torch::Tensor& y, double u) {
    return y - denoise(y, torch::scalar_tensor(std::exp(u), torch::kFloat64));
  };
  const double u0 = std::log(sigma_from), u1 = std::log(sigma_to);
  const double h = (u1 - u0) / double(steps);
  for (int64_t i = 0; i < steps; ++i) {
    const double u = u0 + double(i) * h;
    const auto k1 = f(x, u);
    const auto k2 = f(x + 0.5 * h * k1, u + 0.5 * h);
    const auto k3 = f(x + 0.5 * h * k2, u + 0.5 * h);
    const auto k4 = f(x + h * k3, u + h);
    x = x + h / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4);
  }
  return x;
}

}  // namespace diffuse
