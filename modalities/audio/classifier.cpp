// The spoken-digit evaluation classifier.
#include "modalities/audio/classifier.h"

#include <torch/torch.h>

namespace diffuse::audio {

MelClassifierImpl::MelClassifierImpl(int64_t classes) {
  c1_ = register_module("c1", torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 32, 3).padding(1)));
  c2_ = register_module("c2", torch::nn::Conv2d(torch::nn::Conv2dOptions(32, 64, 3).padding(1)));
  c3_ = register_module("c3", torch::nn::Conv2d(torch::nn::Conv2dOptions(64, 128, 3).padding(1)));
  fc_ = register_module("fc", torch::nn::Linear(128 * 4 * 4, 128));
  head_ = register_module("head", torch::nn::Linear(128, classes));
}

torch::Tensor MelClassifierImpl::features(const torch::Tensor& mel) {
  auto h = torch::max_pool2d(torch::relu(c1_(mel.unsqueeze(1))), 2);
  h = torch::max_pool2d(torch::relu(c2_(h)), 2);
  h = torch::adaptive_avg_pool2d(torch::relu(c3_(h)), {4, 4});
  return torch::relu(fc_(h.flatten(1)));
}

torch::Tensor MelClassifierImpl::forward(const torch::Tensor& mel) { return head_(features(mel)); }

}  // namespace diffuse::audio
