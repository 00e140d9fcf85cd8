// The Vocos-style vocoder and its losses.
#include "modalities/audio/vocoder.h"

#include <torch/torch.h>

#include <cmath>
#include <stdexcept>

#include "core/train/checkpoint.h"
#include "core/train/export.h"

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

// A stack of 2-D convolutions with leaky ReLU (0.1) and a one-channel output convolution; every
// activation, the score included, is a feature map for feature matching.
Verdict judge(torch::Tensor x, torch::nn::ModuleList& convs, torch::nn::Conv2d& post) {
  Verdict v;
  for (const auto& m : *convs) {
    x = torch::leaky_relu(m->as<torch::nn::Conv2dImpl>()->forward(x), 0.1);
    v.features.push_back(x);
  }
  v.score = post(x);
  v.features.push_back(v.score);
  return v;
}

// HiFi-GAN's period discriminator: the waveform, reflect-padded to a multiple of the period and
// folded to (N, 1, T / p, p), under (5, 1) convolutions that stride 3 along time.
class PeriodDiscriminatorImpl : public torch::nn::Module {
 public:
  PeriodDiscriminatorImpl(int64_t period, int64_t c) : period_(period) {
    convs_ = register_module("convs", torch::nn::ModuleList());
    int64_t in = 1;
    for (const int64_t out : {c, 2 * c, 4 * c, 8 * c}) {
      convs_->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, {5, 1}).stride({3, 1}).padding({2, 0})));
      in = out;
    }
    convs_->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(in, in, {5, 1}).padding({2, 0})));
    post_ = register_module("post", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, 1, {3, 1}).padding({1, 0})));
  }
  Verdict forward(const torch::Tensor& wave) {
    auto x = wave.unsqueeze(1);
    if (const int64_t r = x.size(2) % period_) {
      x = torch::nn::functional::pad(x, torch::nn::functional::PadFuncOptions({0, period_ - r}).mode(torch::kReflect));
    }
    return judge(x.view({x.size(0), 1, x.size(2) / period_, period_}), convs_, post_);
  }

 private:
  int64_t period_;
  torch::nn::ModuleList convs_{nullptr};
  torch::nn::Conv2d post_{nullptr};
};
TORCH_MODULE(PeriodDiscriminator);

// UnivNet's resolution discriminator (as Vocos uses it): 2-D convolutions over the STFT magnitude
// (N, 1, bins, frames) at one n_fft, hop n_fft / 4, Hann window.
class ResolutionDiscriminatorImpl : public torch::nn::Module {
 public:
  ResolutionDiscriminatorImpl(int64_t n_fft, int64_t c) : n_fft_(n_fft) {
    using O = torch::nn::Conv2dOptions;
    convs_ = register_module("convs", torch::nn::ModuleList());
    convs_->push_back(torch::nn::Conv2d(O(1, c, {7, 5}).stride({2, 2}).padding({3, 2})));
    convs_->push_back(torch::nn::Conv2d(O(c, c, {5, 3}).stride({2, 1}).padding({2, 1})));
    convs_->push_back(torch::nn::Conv2d(O(c, c, {5, 3}).stride({2, 1}).padding({2, 1})));
    convs_->push_back(torch::nn::Conv2d(O(c, c, 3).stride({2, 1}).padding(1)));
    convs_->push_back(torch::nn::Conv2d(O(c, c, 3).stride({2, 2}).padding(1)));
    post_ = register_module("post", torch::nn::Conv2d(O(c, 1, 3).padding(1)));
  }
  Verdict forward(const torch::Tensor& wave) {
    const auto w = wave.to(torch::kFloat);
    const auto spec = torch::stft(w, n_fft_, n_fft_ / 4, n_fft_, torch::hann_window(n_fft_, w.options()), true, "reflect", false, true, true);
    // |S| with a floor inside the root: the gradient of |z| is undefined at z = 0.
    const auto magnitude = torch::view_as_real(spec).pow(2).sum(-1).add(1e-9).sqrt();
    return judge(magnitude.unsqueeze(1), convs_, post_);
  }

 private:
  int64_t n_fft_;
  torch::nn::ModuleList convs_{nullptr};
  torch::nn::Conv2d post_{nullptr};
};
TORCH_MODULE(ResolutionDiscriminator);

torch::Tensor per_item_mean(const torch::Tensor& t) { return t.to(torch::kFloat).flatten(1).mean(1); }

// Within its scope the module's parameters take no gradient.
class Frozen {
 public:
  explicit Frozen(torch::nn::Module& m) : params_(m.parameters()) {
    for (auto& p : params_) p.requires_grad_(false);
  }
  ~Frozen() {
    for (auto& p : params_) p.requires_grad_(true);
  }

 private:
  std::vector<torch::Tensor> params_;
};

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

Json to_json(const DiscriminatorConfig& c) {
  return {{"periods", c.periods}, {"resolutions", c.resolutions}, {"channels", c.channels}, {"segment", c.segment}};
}
DiscriminatorConfig discriminator_config_from_json(const Json& j) {
  DiscriminatorConfig c;
  c.periods = j.value("periods", c.periods);
  c.resolutions = j.value("resolutions", c.resolutions);
  c.channels = j.value("channels", c.channels);
  c.segment = j.value("segment", c.segment);
  bool ok = c.channels >= 1 && c.segment >= 0 && !(c.periods.empty() && c.resolutions.empty());
  for (const int64_t p : c.periods) ok = ok && p >= 1;
  for (const int64_t n : c.resolutions) ok = ok && n >= 16;
  if (!ok) throw std::invalid_argument("discriminator config: needs periods >= 1 or resolutions (n_fft) >= 16, channels >= 1 and segment >= 0");
  return c;
}

WaveDiscriminatorImpl::WaveDiscriminatorImpl(const DiscriminatorConfig& config) : config_(config) {
  periods_ = register_module("periods", torch::nn::ModuleList());
  resolutions_ = register_module("resolutions", torch::nn::ModuleList());
  for (const int64_t p : config.periods) periods_->push_back(PeriodDiscriminator(p, config.channels));
  for (const int64_t n : config.resolutions) resolutions_->push_back(ResolutionDiscriminator(n, config.channels));
}

std::vector<Verdict> WaveDiscriminatorImpl::forward(const torch::Tensor& wave) {
  std::vector<Verdict> out;
  for (const auto& d : *periods_) out.push_back(d->as<PeriodDiscriminatorImpl>()->forward(wave));
  for (const auto& d : *resolutions_) out.push_back(d->as<ResolutionDiscriminatorImpl>()->forward(wave));
  return out;
}

torch::Tensor lsgan_discriminator_loss(const std::vector<Verdict>& real, const std::vector<Verdict>& fake) {
  auto loss = torch::zeros({real.at(0).score.size(0)}, real[0].score.options().dtype(torch::kFloat));
  for (size_t i = 0; i < real.size(); ++i) loss = loss + per_item_mean((1 - real[i].score).pow(2)) + per_item_mean(fake.at(i).score.pow(2));
  return loss;
}

torch::Tensor lsgan_generator_loss(const std::vector<Verdict>& fake) {
  auto loss = torch::zeros({fake.at(0).score.size(0)}, fake[0].score.options().dtype(torch::kFloat));
  for (const auto& v : fake) loss = loss + per_item_mean((1 - v.score).pow(2));
  return loss;
}

torch::Tensor feature_matching_loss(const std::vector<Verdict>& real, const std::vector<Verdict>& fake) {
  auto loss = torch::zeros({fake.at(0).score.size(0)}, fake[0].score.options().dtype(torch::kFloat));
  for (size_t i = 0; i < real.size(); ++i) {
    for (size_t j = 0; j < real[i].features.size(); ++j) loss = loss + per_item_mean((real[i].features[j].detach() - fake.at(i).features.at(j)).abs());
  }
  return loss;
}

GanLosses gan_losses(WaveDiscriminatorImpl& d, const torch::Tensor& real, const torch::Tensor& generated) {
  const auto real_verdicts = d.forward(real);
  GanLosses out;
  out.discriminator = lsgan_discriminator_loss(real_verdicts, d.forward(generated.detach()));
  std::vector<Verdict> judged;
  {
    Frozen frozen(d);
    judged = d.forward(generated);
  }
  out.generator = lsgan_generator_loss(judged) + kFeatureMatchingWeight * feature_matching_loss(real_verdicts, judged);
  return out;
}

AdversarialVocoderImpl::AdversarialVocoderImpl(const VocoderConfig& config, const MelConfig& mel, const DiscriminatorConfig& d)
    : VocoderImpl(config, mel) {
  discriminator_ = register_module("discriminator", WaveDiscriminator(d));
}

Vocoder load_vocoder(const std::string& path) {
  auto ck = load_checkpoint(path);
  drop_training_only(ck);  // a training checkpoint's discriminator
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
