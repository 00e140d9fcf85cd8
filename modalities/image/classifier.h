// A small CNN classifier trained by diffuse on Fashion-MNIST. It gives the image metrics that need
// no downloaded network: class accuracy of conditional samples, and a Frechet distance and k-NN
// precision/recall in its 128-d feature space (the role Inception plays for FID).
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/types.h>

#include <string>

#include "core/metrics.h"

namespace diffuse::image {

class ClassifierImpl : public torch::nn::Module {
 public:
  explicit ClassifierImpl(int64_t classes = 10, int64_t in_channels = 1);
  torch::Tensor features(const torch::Tensor& x);  // (N, 1, 28, 28) in [0, 1] -> (N, 128)
  torch::Tensor forward(const torch::Tensor& x);   // -> logits (N, classes)

 private:
  torch::nn::Conv2d c1_{nullptr}, c2_{nullptr}, c3_{nullptr};
  torch::nn::Linear fc_{nullptr}, head_{nullptr};
};
TORCH_MODULE(Classifier);

// The classifier of a checkpoint (recipe.model.type "classifier") with its EMA weights.
Classifier load_classifier(const std::string& path);

}  // namespace diffuse::image
