// Metrics in a classifier's feature space, shared by every modality's `eval`: Frechet distance,
// k-NN precision/recall and the inception score.
#pragma once
#include <torch/types.h>

#include <utility>

namespace diffuse {

// Frechet distance between Gaussians fitted to two feature sets (N, D) (Heusel et al. 2017).
double frechet_distance(const torch::Tensor& a, const torch::Tensor& b);
// k-NN precision and recall (Kynkaanniemi et al. 2019): the fraction of generated features inside
// the real manifold (union of k-NN balls), and of real features inside the generated one.
std::pair<double, double> precision_recall(const torch::Tensor& real, const torch::Tensor& fake, int64_t k = 3);
// Inception score (Salimans et al. 2016) from class logits (N, C): exp(E_x KL(p(y|x) || p(y))).
double inception_score(const torch::Tensor& logits);

}  // namespace diffuse
