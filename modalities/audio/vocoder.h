// The learned decoder: a Vocos-style vocoder (Siuzdak 2023) that maps a normalised log-mel
// spectrogram to STFT magnitude and phase with a ConvNeXt stack and inverts them with the iSTFT,
// so it runs at frame rate (no upsampling convolutions). Trained by diffuse on the spoken digits
// with multi-resolution STFT and mel losses and, by default, against the discriminators HiFi-GAN
// and Vocos train with (least-squares GAN and feature-matching losses).
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/types.h>

#include <string>
#include <vector>

#include "core/json.h"
#include "modalities/audio/spectrogram.h"

namespace diffuse::audio {

struct VocoderConfig {
  int64_t dim = 192, blocks = 6, expansion = 3;
};
Json to_json(const VocoderConfig& c);
VocoderConfig vocoder_config_from_json(const Json& j);

class VocoderImpl : public torch::nn::Module {
 public:
  VocoderImpl(const VocoderConfig& config, const MelConfig& mel);
  // Normalised log-mel (N, n_mels, frames) under this vocoder's MelConfig -> complex STFT.
  torch::Tensor spectrum(const torch::Tensor& log_mel);
  // -> waveforms (N, length), the iSTFT of spectrum().
  torch::Tensor forward(const torch::Tensor& log_mel, int64_t length);
  const MelConfig& mel() const { return mel_; }
  const VocoderConfig& config() const { return config_; }

 private:
  VocoderConfig config_;
  MelConfig mel_;
  torch::nn::Conv1d in_{nullptr};
  torch::nn::ModuleList blocks_;
  torch::nn::LayerNorm norm_{nullptr};
  torch::nn::Linear head_{nullptr};
};
TORCH_MODULE(Vocoder);

// Multi-resolution STFT loss per item (N,): spectral convergence plus L1 of log magnitudes at
// n_fft 512/1024/2048 (hops a quarter of that), as Parallel WaveGAN defines it.
torch::Tensor multi_resolution_stft_loss(const torch::Tensor& reference, const torch::Tensor& estimate);

// A trained vocoder checkpoint (model.type "vocoder"), EMA weights, in eval mode.
Vocoder load_vocoder(const std::string& path);

// Re-expresses normalised log-mels of one MelConfig under another's normalisation (the DiT's and
// the vocoder's fitted mean/std may differ); the mel filters themselves must agree (throws).
torch::Tensor renormalise(const torch::Tensor& log_mel, const MelConfig& from, const MelConfig& to);

// The discriminators of HiFi-GAN (Kong et al. 2020) and Vocos (Siuzdak 2023): a multi-period one
// (the waveform folded by each period, 2-D convolutions along time) and a multi-resolution one
// (UnivNet's: 2-D convolutions over STFT magnitudes at several n_fft). Narrower than the papers'
// (period discriminators 16..128 channels instead of 32..1024, resolution ones 16 instead of 32)
// and shown a segment of each clip, as HiFi-GAN trains on 8,192-sample segments: for CPU training.
struct DiscriminatorConfig {
  std::vector<int64_t> periods{2, 3, 5, 7, 11};
  std::vector<int64_t> resolutions{512, 1024, 2048};  // n_fft; hop n_fft / 4
  int64_t channels = 16;                              // first layer of a period discriminator (x2 per layer, to 8x); each resolution one's
  int64_t segment = 8192;                             // samples the discriminators judge (one window per batch; 0 = whole clips)
};
Json to_json(const DiscriminatorConfig& c);
DiscriminatorConfig discriminator_config_from_json(const Json& j);

// One sub-discriminator's verdict: its score map and the feature maps feature matching compares.
struct Verdict {
  torch::Tensor score;
  std::vector<torch::Tensor> features;
};

class WaveDiscriminatorImpl : public torch::nn::Module {
 public:
  explicit WaveDiscriminatorImpl(const DiscriminatorConfig& config);
  // Waveforms (N, T) -> one verdict per sub-discriminator (periods first, then resolutions).
  std::vector<Verdict> forward(const torch::Tensor& wave);

 private:
  DiscriminatorConfig config_;
  torch::nn::ModuleList periods_, resolutions_;
};
TORCH_MODULE(WaveDiscriminator);

// Least-squares GAN losses (Mao et al. 2017) per item (N,), summed over sub-discriminators: the
// discriminator's mean (1 - D(real))^2 + mean D(fake)^2, the generator's mean (1 - D(fake))^2.
torch::Tensor lsgan_discriminator_loss(const std::vector<Verdict>& real, const std::vector<Verdict>& fake);
torch::Tensor lsgan_generator_loss(const std::vector<Verdict>& fake);
// Feature matching per item: mean |f_real - f_fake| of each feature map, summed; the real
// features are constants (no gradient reaches the discriminator through them).
torch::Tensor feature_matching_loss(const std::vector<Verdict>& real, const std::vector<Verdict>& fake);

// HiFi-GAN's weight of feature matching against the GAN term (its reconstruction weight is 45).
constexpr double kFeatureMatchingWeight = 2.0;

// One batch's adversarial terms, per item (N,). `discriminator`: its LSGAN loss on `real` and on
// `generated` detached, so only the discriminator's parameters get its gradient. `generator`: the
// LSGAN loss of `generated` plus kFeatureMatchingWeight x feature matching, judged with the
// discriminator's parameters frozen, so only the generator gets its gradient. Their sum can be
// minimised in one backward pass and one optimizer step.
struct GanLosses {
  torch::Tensor generator, discriminator;
};
GanLosses gan_losses(WaveDiscriminatorImpl& d, const torch::Tensor& real, const torch::Tensor& generated);

// The vocoder with its discriminator, as one module for the trainer: the generator's tensors keep
// the vocoder's names and the discriminator's sit under "discriminator.", a training-only part
// (the recipe's model.train_only) that `model export` drops and load_vocoder ignores.
class AdversarialVocoderImpl : public VocoderImpl {
 public:
  AdversarialVocoderImpl(const VocoderConfig& config, const MelConfig& mel, const DiscriminatorConfig& d);
  WaveDiscriminator& discriminator() { return discriminator_; }

 private:
  WaveDiscriminator discriminator_{nullptr};
};
TORCH_MODULE(AdversarialVocoder);

// Vocoder decoding of normalised log-mels (under `mel`) to `samples`, in chunks.
torch::Tensor vocode(Vocoder& v, const torch::Tensor& mels, const MelConfig& mel, int64_t samples);

}  // namespace diffuse::audio
