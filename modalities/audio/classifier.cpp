// The spoken-digit evaluation classifier.
#include "modalities/audio/classifier.h"

#include <torch/torch.h>
#include "modalities/audio/spectrogram.h"
#include "core/train/checkpoint.h"
#include "core/json.h"

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

MelClassifier load_mel_classifier(const std::string& path) {
  const auto ck = load_checkpoint(path);
  if (json_at(ck.recipe, "model", path).value("type", std::string()) != "mel-classifier") {
    throw std::runtime_error(path + ": not an audio classifier checkpoint (model.type is not 'mel-classifier')");
  }
  MelClassifier c(int64_t(ck.recipe.at("classes").size()));
  load_for_inference(*c, ck, path);
  return c;
}

// Logits and features of waveforms under the classifier's own mel settings.
std::pair<torch::Tensor, torch::Tensor> classify(MelClassifier& c, const MelConfig& mel, const torch::Tensor& waves) {
  torch::NoGradGuard g;
  std::vector<torch::Tensor> logits, feats;
  for (int64_t s = 0; s < waves.size(0); s += 256) {
    const auto m = log_mel(waves.slice(0, s, s + 256), mel);
    const auto f = c->features(m);
    feats.push_back(f);
    logits.push_back(c->forward(m));
  }
  return {torch::cat(logits), torch::cat(feats)};
}

}  // namespace diffuse::audio
