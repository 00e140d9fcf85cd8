// The Gaussian-mixture posterior mean and sample statistics.
#include "core/analytic.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <cmath>

namespace diffuse {

namespace {
torch::Tensor tensor_from(const Json& j) {
  const auto& rows = j;
  if (rows.is_array() && !rows.empty() && rows[0].is_array()) {
    std::vector<torch::Tensor> r;
    for (const auto& row : rows) r.push_back(torch::tensor(row.get<std::vector<double>>(), torch::kFloat64));
    return torch::stack(r);
  }
  return torch::tensor(rows.get<std::vector<double>>(), torch::kFloat64);
}
}  // namespace

torch::Tensor GaussianMixture::posterior_mean(const torch::Tensor& x_t, double a, double s, const torch::Tensor& w) const {
  TORCH_CHECK(x_t.dim() == 2 && x_t.size(1) == dim(), "expected (N, ", dim(), "), got ", x_t.sizes());
  const auto x = x_t.to(torch::kFloat64).unsqueeze(1);           // (N, 1, D)
  const auto v = a * a * variances + s * s;                       // (K, D)
  const auto diff = x - a * means;                                // (N, K, D)
  const auto ll = -0.5 * (diff.pow(2) / v + torch::log(2 * M_PI * v)).sum(-1);  // (N, K)
  const auto logw = torch::log(w.to(torch::kFloat64));
  const auto r = torch::softmax(ll + (logw.dim() == 1 ? logw.unsqueeze(0) : logw), 1);  // (N, K)
  const auto x0_k = means + (a * variances / v) * diff;           // (N, K, D)
  return (r.unsqueeze(-1) * x0_k).sum(1).to(x_t.dtype());
}

torch::Tensor GaussianMixture::sample(int64_t n, uint64_t seed) const {
  auto gen = at::detail::createCPUGenerator(seed);
  const auto k = torch::multinomial(weights, n, /*replacement=*/true, gen);
  const auto z = torch::randn({n, dim()}, gen, torch::kFloat64);
  return means.index_select(0, k) + variances.index_select(0, k).sqrt() * z;
}

double GaussianMixture::mean_log_density(const torch::Tensor& x) const {
  const auto diff = x.to(torch::kFloat64).unsqueeze(1) - means;
  const auto ll = -0.5 * (diff.pow(2) / variances + torch::log(2 * M_PI * variances)).sum(-1);
  return torch::logsumexp(ll + torch::log(weights).unsqueeze(0), 1).mean().item<double>();
}

GaussianMixture GaussianMixture::from_json(const Json& j) {
  GaussianMixture g;
  g.means = tensor_from(json_at(j, "means", "gmm"));
  g.variances = tensor_from(json_at(j, "variances", "gmm"));
  g.weights = tensor_from(json_at(j, "weights", "gmm"));
  if (j.contains("class_weights")) g.class_weights = tensor_from(j.at("class_weights"));
  TORCH_CHECK(g.means.sizes() == g.variances.sizes() && g.weights.size(0) == g.means.size(0),
              "gmm: means, variances and weights disagree in shape");
  return g;
}

GaussianMixture GaussianMixture::toy2d() {
  GaussianMixture g;
  g.means = torch::tensor({-1.5, -1.0, 1.5, -0.5, -0.5, 1.5, 1.0, 1.0}, torch::kFloat64).view({4, 2});
  g.variances = torch::tensor({0.20, 0.25, 0.15, 0.10, 0.30, 0.12, 0.10, 0.18}, torch::kFloat64).view({4, 2});
  g.weights = torch::tensor({0.3, 0.2, 0.25, 0.25}, torch::kFloat64);
  g.class_weights = torch::tensor({0.7, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.7, 0.25, 0.25, 0.25, 0.25}, torch::kFloat64).view({3, 4});
  return g;
}

double sliced_wasserstein(const torch::Tensor& a, const torch::Tensor& b, int64_t projections, uint64_t seed) {
  TORCH_CHECK(a.dim() == 2 && a.sizes() == b.sizes(), "sliced_wasserstein needs equal (N, D) shapes, got ", a.sizes(),
              " and ", b.sizes());
  auto gen = at::detail::createCPUGenerator(seed);
  auto dirs = torch::randn({a.size(1), projections}, gen, torch::kFloat64);
  dirs = dirs / dirs.norm(2, 0, true);
  const auto pa = std::get<0>(torch::sort(a.to(torch::kFloat64).matmul(dirs), 0));
  const auto pb = std::get<0>(torch::sort(b.to(torch::kFloat64).matmul(dirs), 0));
  return std::sqrt((pa - pb).pow(2).mean().item<double>());
}

}  // namespace diffuse
