// Linear multistep (k-diffusion sample_lms, diffusers LMSDiscreteScheduler): Adams-Bashforth in
// sigma on non-uniform steps, coefficients from integrating the Lagrange basis exactly.
#include <torch/torch.h>

#include <deque>

#include "core/samplers/common.h"

namespace diffuse {
using namespace detail;

namespace {

// Integral over [t[i], t[i+1]] of the Lagrange basis polynomial j through t[i], ..., t[i-order+1].
// The integrand has degree < 4, so 4-point Gauss-Legendre is exact.
double lms_coefficient(int order, const std::vector<double>& t, int64_t i, int j) {
  auto basis = [&](double tau) {
    double prod = 1.0;
    for (int k = 0; k < order; ++k) {
      if (k == j) continue;
      prod *= (tau - t[size_t(i - k)]) / (t[size_t(i - j)] - t[size_t(i - k)]);
    }
    return prod;
  };
  static const double xg[4] = {-0.8611363115940526, -0.3399810435848563, 0.3399810435848563, 0.8611363115940526};
  static const double wg[4] = {0.3478548451374538, 0.6521451548625461, 0.6521451548625461, 0.3478548451374538};
  const double a = t[size_t(i)], b = t[size_t(i + 1)];
  double sum = 0.0;
  for (int q = 0; q < 4; ++q) sum += wg[q] * basis(0.5 * (b - a) * xg[q] + 0.5 * (a + b));
  return 0.5 * (b - a) * sum;
}

}  // namespace

torch::Tensor sample_lms(const Denoiser& denoise, torch::Tensor x, const torch::Tensor& sigmas_t,
                         NoiseSource& /*noise*/, const SamplerOptions& o) {
  const auto sigmas = to_vector(sigmas_t);
  const int order = o.order.value_or(4);
  TORCH_CHECK(order >= 1 && order <= 4, "lms order must be in 1..4, got ", order);
  std::deque<torch::Tensor> ds;  // newest first
  for (int64_t i = 0; i + 1 < int64_t(sigmas.size()); ++i) {
    ds.push_front(to_d(x, sigmas[i], denoise_at(denoise, x, sigmas[i], o)));
    if (int(ds.size()) > order) ds.pop_back();
    const int cur_order = int(std::min<int64_t>(i + 1, order));
    auto update = torch::zeros_like(x);
    for (int j = 0; j < cur_order; ++j) update = update + lms_coefficient(cur_order, sigmas, i, j) * ds[size_t(j)];
    x = x + update;
    step_done(x, i, sigmas[i + 1], o);
  }
  return x;
}

}  // namespace diffuse
