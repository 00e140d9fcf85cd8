// An analytic denoiser: for data from a diagonal Gaussian mixture the posterior mean E[x0 | x_t]
// is exact, so samplers can be checked without a network (shared/reference/README.md).
#pragma once
#include <torch/types.h>

#include "core/json.h"

namespace diffuse {

struct GaussianMixture {
  torch::Tensor means;          // (K, D) float64
  torch::Tensor variances;      // (K, D)
  torch::Tensor weights;        // (K,)
  torch::Tensor class_weights;  // (C, K), optional

  int64_t dim() const { return means.size(1); }
  // E[x0 | x_t] for x_t = a x0 + s eps. weights: (K,) or per item (N, K). Log-sum-exp softmax;
  // at a = 0 the result is the prior mean.
  torch::Tensor posterior_mean(const torch::Tensor& x_t, double a, double s, const torch::Tensor& weights) const;
  torch::Tensor posterior_mean(const torch::Tensor& x_t, double a, double s) const {
    return posterior_mean(x_t, a, s, weights);
  }
  // n exact samples, drawn with a generator seeded by `seed`.
  torch::Tensor sample(int64_t n, uint64_t seed) const;
  // Mean log-density of points (N, D).
  double mean_log_density(const torch::Tensor& x) const;

  static GaussianMixture from_json(const Json& gmm);  // {means, variances, weights, [class_weights]}
  // A fixed 2-D mixture of four components, for tests, benches and demos.
  static GaussianMixture toy2d();
};

// Sliced Wasserstein-2 distance between point clouds (N, D) and (M, D) with N == M, over
// `projections` random directions seeded by `seed`.
double sliced_wasserstein(const torch::Tensor& a, const torch::Tensor& b, int64_t projections = 256, uint64_t seed = 0);

}  // namespace diffuse
