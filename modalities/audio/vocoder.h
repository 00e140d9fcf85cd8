// The learned decoder: a Vocos-style vocoder (Siuzdak 2023) that maps a normalised log-mel
// spectrogram to STFT magnitude and phase with a ConvNeXt stack and inverts them with the iSTFT,
// so it runs at frame rate (no upsampling convolutions). Trained by diffuse on the spoken digits
// with multi-resolution STFT and mel losses (no adversarial loss: there is no time for a GAN here).
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/types.h>

#include <string>

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

// Vocoder decoding of normalised log-mels (under `mel`) to `samples`, in chunks.
torch::Tensor vocode(Vocoder& v, const torch::Tensor& mels, const MelConfig& mel, int64_t samples);

}  // namespace diffuse::audio
