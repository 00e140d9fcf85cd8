// A small CNN over normalised log-mel spectrograms, trained by diffuse on the spoken digits. It
// gives `eval audio` its metrics without any downloaded network (the SC09 protocol: accuracy,
// inception score and a Frechet distance in its 128-d feature space).
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/types.h>

#include <string>
#include <utility>

#include "modalities/audio/spectrogram.h"

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

// The classifier of a checkpoint (model.type mel-classifier), refused naming the file otherwise.
MelClassifier load_mel_classifier(const std::string& path);
// Logits and features of waveforms (N, T) under the classifier's own mel settings `mel`.
std::pair<torch::Tensor, torch::Tensor> classify(MelClassifier& c, const MelConfig& mel, const torch::Tensor& waves);

}  // namespace diffuse::audio
