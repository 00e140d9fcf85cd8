// The evaluation classifier and its feature-space metrics.
#include "modalities/image/classifier.h"

#include <torch/torch.h>

namespace diffuse::image {

ClassifierImpl::ClassifierImpl(int64_t classes, int64_t in_channels) {
  c1_ = register_module("c1", torch::nn::Conv2d(torch::nn::Conv2dOptions(in_channels, 32, 3).padding(1)));
  c2_ = register_module("c2", torch::nn::Conv2d(torch::nn::Conv2dOptions(32, 64, 3).padding(1)));
  c3_ = register_module("c3", torch::nn::Conv2d(torch::nn::Conv2dOptions(64, 64, 3).padding(1)));
  fc_ = register_module("fc", torch::nn::Linear(64 * 7 * 7, 128));
  head_ = register_module("head", torch::nn::Linear(128, classes));
}

torch::Tensor ClassifierImpl::features(const torch::Tensor& x) {
  auto h = torch::max_pool2d(torch::relu(c1_(x * 2 - 1)), 2);  // 14 x 14
  h = torch::max_pool2d(torch::relu(c2_(h)), 2);               // 7 x 7
  h = torch::relu(c3_(h));
  return torch::relu(fc_(h.flatten(1)));
}

torch::Tensor ClassifierImpl::forward(const torch::Tensor& x) { return head_(features(x)); }

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

}  // namespace diffuse::image
