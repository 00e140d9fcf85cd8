// A small CNN over normalised log-mel spectrograms, trained by diffuse on the spoken digits. It
// gives `eval audio` its metrics without any downloaded network (the SC09 protocol: accuracy,
// inception score and a Frechet distance in its 128-d feature space).
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/types.h>

namespace diffuse::audio {

class MelClassifierImpl : public torch::nn::Module {
 public:
  explicit MelClassifierImpl(int64_t classes = 10);
  torch::Tensor features(const torch::Tensor& mel);  // (N, n_mels, frames) -> (N, 128)
  torch::Tensor forward(const torch::Tensor& mel);   // -> logits (N, classes)

 private:
  torch::nn::Conv2d c1_{nullptr}, c2_{nullptr}, c3_{nullptr};
  torch::nn::Linear fc_{nullptr}, head_{nullptr};
};
TORCH_MODULE(MelClassifier);

}  // namespace diffuse::audio
