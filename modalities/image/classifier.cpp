// The evaluation classifier and its feature-space metrics.
#include "modalities/image/classifier.h"

#include <torch/torch.h>

#include "core/train/checkpoint.h"

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

Classifier load_classifier(const std::string& path) {
  const auto ck = load_checkpoint(path);
  if (json_at(ck.recipe, "model", path).value("type", std::string()) != "classifier") {
    throw std::runtime_error(path + ": not a classifier checkpoint (model.type is not 'classifier')");
  }
  Classifier c(10, 1);
  load_for_inference(*c, ck, path);
  return c;
}

}  // namespace diffuse::image
