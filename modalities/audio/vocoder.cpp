// The Vocos-style vocoder and its losses.
#include "modalities/audio/vocoder.h"

#include <torch/torch.h>

#include <cmath>
#include <stdexcept>

#include "core/train/checkpoint.h"

namespace diffuse::audio {
namespace {

// ConvNeXt block: depthwise conv (k=7), LayerNorm over channels, pointwise MLP, layer scale.
class ConvNeXtImpl : public torch::nn::Module {
 public:
  ConvNeXtImpl(int64_t dim, int64_t expansion) {
    dw_ = register_module("dw", torch::nn::Conv1d(torch::nn::Conv1dOptions(dim, dim, 7).padding(3).groups(dim)));
    norm_ = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(1e-6)));
    up_ = register_module("up", torch::nn::Linear(dim, dim * expansion));
    down_ = register_module("down", torch::nn::Linear(dim * expansion, dim));
    scale_ = register_parameter("scale", torch::full({dim}, 1.0 / 6.0));
  }
  torch::Tensor forward(const torch::Tensor& x) {  // (N, C, T)
    auto h = norm_(dw_(x).transpose(1, 2));
    h = down_(torch::gelu(up_(h))) * scale_;
    return x + h.transpose(1, 2);
  }

 private:
  torch::nn::Conv1d dw_{nullptr};
  torch::nn::LayerNorm norm_{nullptr};
  torch::nn::Linear up_{nullptr}, down_{nullptr};
  torch::Tensor scale_;
};
TORCH_MODULE(ConvNeXt);

}  // namespace

Json to_json(const VocoderConfig& c) { return {{"dim", c.dim}, {"blocks", c.blocks}, {"expansion", c.expansion}}; }
VocoderConfig vocoder_config_from_json(const Json& j) {
  VocoderConfig c;
  c.dim = j.value("dim", c.dim);
  c.blocks = j.value("blocks", c.blocks);
  c.expansion = j.value("expansion", c.expansion);
  if (c.dim < 1 || c.blocks < 1 || c.expansion < 1) throw std::invalid_argument("vocoder config: dim, blocks and expansion must be positive");
  return c;
}

VocoderImpl::VocoderImpl(const VocoderConfig& config, const MelConfig& mel) : config_(config), mel_(mel) {
  mel_.validate();
  in_ = register_module("in", torch::nn::Conv1d(torch::nn::Conv1dOptions(mel.n_mels, config.dim, 7).padding(3)));
  blocks_ = register_module("blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < config.blocks; ++i) blocks_->push_back(ConvNeXt(config.dim, config.expansion));
  norm_ = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({config.dim}).eps(1e-6)));
  head_ = register_module("head", torch::nn::Linear(config.dim, 2 * (mel.n_fft / 2 + 1)));
}

torch::Tensor VocoderImpl::spectrum(const torch::Tensor& log_mel) {
  auto h = in_(log_mel);
  for (const auto& b : *blocks_) h = b->as<ConvNeXtImpl>()->forward(h);
  const auto out = head_(norm_(h.transpose(1, 2))).transpose(1, 2);  // (N, 2F, T)
  const int64_t bins = mel_.n_fft / 2 + 1;
  // Log-magnitude clamped against overflow (exp(10) is far above any |STFT| of audio in [-1, 1]
  // times a 1024-sample window); the phase is the raw output taken as an angle (Vocos).
  const auto magnitude = torch::exp(out.slice(1, 0, bins).clamp_max(10.0));
  const auto phase = out.slice(1, bins);
  return torch::polar(magnitude, phase);
}

torch::Tensor VocoderImpl::forward(const torch::Tensor& log_mel, int64_t length) { return istft(spectrum(log_mel), mel_, length); }

torch::Tensor multi_resolution_stft_loss(const torch::Tensor& reference, const torch::Tensor& estimate) {
  auto loss = torch::zeros({reference.size(0)}, reference.options());
  for (const int64_t n_fft : {512, 1024, 2048}) {
    const auto window = torch::hann_window(n_fft, reference.options());
    auto mag = [&](const torch::Tensor& w) {
      return torch::stft(w, n_fft, n_fft / 4, n_fft, window, true, "reflect", false, true, true).abs().clamp_min(1e-7);
    };
    const auto a = mag(reference), b = mag(estimate);
    const auto sc = (a - b).flatten(1).norm(2, 1) / a.flatten(1).norm(2, 1).clamp_min(1e-7);
    const auto log_l1 = (a.log() - b.log()).abs().flatten(1).mean(1);
    loss = loss + sc + log_l1;
  }
  return loss / 3.0;
}

Vocoder load_vocoder(const std::string& path) {
  const auto ck = load_checkpoint(path);
  const auto& m = json_at(ck.recipe, "model", path);
  if (m.value("type", std::string()) != "vocoder") throw std::runtime_error(path + ": not a vocoder checkpoint (model.type is not 'vocoder')");
  Vocoder v(vocoder_config_from_json(json_at(m, "config", path)), mel_config_from_json(json_at(ck.recipe, "mel", path)));
  load_for_inference(*v, ck, path);
  return v;
}

torch::Tensor renormalise(const torch::Tensor& log_mel, const MelConfig& from, const MelConfig& to) {
  if (from.sample_rate != to.sample_rate || from.n_fft != to.n_fft || from.hop != to.hop || from.n_mels != to.n_mels ||
      from.f_min != to.f_min || from.f_max != to.f_max || from.floor != to.floor) {
    throw std::invalid_argument("the vocoder's mel settings differ from the model's (rate, n_fft, hop, bands, range or floor)");
  }
  return (log_mel * from.std + from.mean - to.mean) / to.std;
}

// Vocoder decoding of normalised log-mels (under `mel`) in chunks.
torch::Tensor vocode(Vocoder& v, const torch::Tensor& mels, const MelConfig& mel, int64_t samples) {
  torch::NoGradGuard g;
  std::vector<torch::Tensor> out;
  for (int64_t s = 0; s < mels.size(0); s += 64) out.push_back(v->forward(renormalise(mels.slice(0, s, s + 64), mel, v->mel()), samples));
  return torch::cat(out);
}

}  // namespace diffuse::audio
