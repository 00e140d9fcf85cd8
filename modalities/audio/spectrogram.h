// The audio encoder and its baseline decoder: STFT and log-mel spectrogram in libtorch, and fast
// Griffin-Lim (Perraudin et al. 2013, momentum 0.99) from the mel through the pseudo-inverse of
// the mel basis. Settings live in the recipe, as AudioLDM and DiffWave use them.
#pragma once
#include <torch/types.h>

#include "core/json.h"

namespace diffuse::audio {

struct MelConfig {
  int64_t sample_rate = 16000;
  int64_t n_fft = 1024, hop = 256;
  int64_t n_mels = 64;
  double f_min = 0.0, f_max = 8000.0;
  double floor = 1e-5;  // log(max(mel, floor))
  // Per-recipe normalisation of the log-mel values: (log_mel - mean) / std.
  double mean = 0.0, std = 1.0;
  void validate() const;
  int64_t frames(int64_t samples) const { return samples / hop + 1; }  // centred STFT
};
Json to_json(const MelConfig& c);
MelConfig mel_config_from_json(const Json& j);

// Slaney-style mel filters with area normalisation (librosa's default): (n_mels, n_fft/2 + 1).
torch::Tensor mel_basis(const MelConfig& c);
// (N, T) waveforms -> complex STFT (N, n_fft/2 + 1, frames), Hann window, centred.
torch::Tensor stft(const torch::Tensor& wave, const MelConfig& c);
// Complex STFT (N, n_fft/2 + 1, frames) -> (N, length) waveforms, the inverse of stft().
torch::Tensor istft(const torch::Tensor& spec, const MelConfig& c, int64_t length);
// (N, T) -> normalised log-mel (N, n_mels, frames).
torch::Tensor log_mel(const torch::Tensor& wave, const MelConfig& c);
// Normalised log-mel -> linear magnitude (N, n_fft/2 + 1, frames) via the pseudo-inverse basis.
torch::Tensor mel_to_magnitude(const torch::Tensor& log_mel, const MelConfig& c);
// Fast Griffin-Lim: magnitude -> waveform (N, length). Zero initial phase: deterministic.
torch::Tensor griffin_lim(const torch::Tensor& magnitude, const MelConfig& c, int64_t length, int64_t iterations = 64,
                          double momentum = 0.99);
// Spectral convergence ||S_ref| - |S_est||_F / ||S_ref||_F of the STFT magnitudes, per item (N,).
torch::Tensor spectral_convergence(const torch::Tensor& reference, const torch::Tensor& estimate, const MelConfig& c);

// Normalised log-mels of many waveforms (N, T), in chunks, without gradients.
torch::Tensor log_mels(const torch::Tensor& waves, const MelConfig& c);
// Griffin-Lim decoding of normalised log-mels (N, n_mels, frames) to `samples`, in chunks.
torch::Tensor griffin_lim_decode(const torch::Tensor& mels, const MelConfig& c, int64_t samples, int64_t iterations);
// Mel settings with the normalisation fitted to data (global mean and std of the log-mel).
MelConfig fitted_mel(const torch::Tensor& waves);

}  // namespace diffuse::audio
