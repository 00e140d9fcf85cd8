// Feature-space metrics.
#include "core/metrics.h"

#include <torch/torch.h>

namespace diffuse {

double frechet_distance(const torch::Tensor& a_in, const torch::Tensor& b_in) {
  const auto a = a_in.to(torch::kFloat64), b = b_in.to(torch::kFloat64);
  const auto mu_a = a.mean(0), mu_b = b.mean(0);
  const auto ca = a - mu_a, cb = b - mu_b;
  const auto sa = ca.t().matmul(ca) / double(a.size(0) - 1), sb = cb.t().matmul(cb) / double(b.size(0) - 1);
  // Tr sqrt(Sa Sb) = sum sqrt(eig(sqrt(Sa) Sb sqrt(Sa))), all symmetric.
  const auto ea = torch::linalg_eigh(sa);
  const auto sqrt_sa = std::get<1>(ea).matmul(torch::diag(std::get<0>(ea).clamp_min(0).sqrt())).matmul(std::get<1>(ea).t());
  const auto m = sqrt_sa.matmul(sb).matmul(sqrt_sa);
  const double tr_sqrt = torch::linalg_eigvalsh(0.5 * (m + m.t())).clamp_min(0).sqrt().sum().item<double>();
  return (mu_a - mu_b).pow(2).sum().item<double>() + (sa.trace() + sb.trace()).item<double>() - 2.0 * tr_sqrt;
}

std::pair<double, double> precision_recall(const torch::Tensor& real_in, const torch::Tensor& fake_in, int64_t k) {
  const auto real = real_in.to(torch::kFloat32), fake = fake_in.to(torch::kFloat32);
  // Radius of each point's k-th nearest neighbour within its own set (index k skips itself).
  auto radii = [k](const torch::Tensor& x) {
    return std::get<0>(torch::cdist(x, x).topk(k + 1, 1, /*largest=*/false)).select(1, k);
  };
  auto coverage = [](const torch::Tensor& manifold, const torch::Tensor& r, const torch::Tensor& query) {
    return (torch::cdist(query, manifold) <= r.unsqueeze(0)).any(1).to(torch::kFloat64).mean().item<double>();
  };
  const auto rr = radii(real), rf = radii(fake);
  return {coverage(real, rr, fake), coverage(fake, rf, real)};
}

double inception_score(const torch::Tensor& logits) {
  const auto logp = torch::log_softmax(logits.to(torch::kFloat64), 1);
  const auto p = logp.exp();
  const auto log_marginal = p.mean(0).clamp_min(1e-30).log();
  return std::exp((p * (logp - log_marginal)).sum(1).mean().item<double>());
}

}  // namespace diffuse
