// STFT, mel and Griffin-Lim.
#include "modalities/audio/spectrogram.h"

#include <torch/torch.h>
#include <vector>

#include <cmath>

namespace diffuse::audio {
namespace {

// Slaney's mel scale: linear below 1 kHz, logarithmic above.
double hz_to_mel(double f) {
  constexpr double f_sp = 200.0 / 3, min_log_hz = 1000.0, min_log_mel = min_log_hz / f_sp, logstep = 0.06875177742094912;
  return f < min_log_hz ? f / f_sp : min_log_mel + std::log(f / min_log_hz) / logstep;
}
double mel_to_hz(double m) {
  constexpr double f_sp = 200.0 / 3, min_log_hz = 1000.0, min_log_mel = min_log_hz / f_sp, logstep = 0.06875177742094912;
  return m < min_log_mel ? m * f_sp : min_log_hz * std::exp(logstep * (m - min_log_mel));
}

torch::Tensor hann(const MelConfig& c) { return torch::hann_window(c.n_fft, torch::TensorOptions().dtype(torch::kFloat32)); }

}  // namespace

torch::Tensor istft(const torch::Tensor& spec, const MelConfig& c, int64_t length) {
  return torch::istft(spec, c.n_fft, c.hop, c.n_fft, hann(c), /*center=*/true, /*normalized=*/false, /*onesided=*/true,
                      length, /*return_complex=*/false);
}

void MelConfig::validate() const {
  if (sample_rate <= 0) throw std::invalid_argument("mel.sample_rate must be positive, got " + std::to_string(sample_rate));
  if (n_fft < 16 || (n_fft & (n_fft - 1))) throw std::invalid_argument("mel.n_fft must be a power of two >= 16, got " + std::to_string(n_fft));
  if (hop <= 0 || hop > n_fft) throw std::invalid_argument("mel.hop must be in 1..n_fft, got " + std::to_string(hop));
  if (n_mels <= 0 || n_mels > n_fft / 2) throw std::invalid_argument("mel.n_mels must be in 1..n_fft/2, got " + std::to_string(n_mels));
  if (!(f_min >= 0 && f_max > f_min && f_max <= sample_rate / 2.0)) {
    throw std::invalid_argument("mel.f_min/f_max must satisfy 0 <= f_min < f_max <= sample_rate/2");
  }
  if (!(floor > 0) || !(std > 0)) throw std::invalid_argument("mel.floor and mel.std must be positive");
}

namespace {
const auto kMelFields = [](auto& c, auto&& f) {
  f("sample_rate", c.sample_rate); f("n_fft", c.n_fft); f("hop", c.hop); f("n_mels", c.n_mels); f("f_min", c.f_min);
  f("f_max", c.f_max); f("floor", c.floor); f("mean", c.mean); f("std", c.std);
};
}  // namespace

Json to_json(const MelConfig& c) { return fields_to_json(c, kMelFields); }
MelConfig mel_config_from_json(const Json& j) { return validated(fields_from_json<MelConfig>(j, kMelFields, "mel")); }

torch::Tensor mel_basis(const MelConfig& c) {
  const int64_t bins = c.n_fft / 2 + 1;
  auto opts = torch::TensorOptions().dtype(torch::kFloat64);
  const auto freqs = torch::linspace(0, double(c.sample_rate) / 2, bins, opts);
  std::vector<double> pts;
  const double m0 = hz_to_mel(c.f_min), m1 = hz_to_mel(c.f_max);
  for (int64_t i = 0; i < c.n_mels + 2; ++i) pts.push_back(mel_to_hz(m0 + (m1 - m0) * double(i) / double(c.n_mels + 1)));
  auto w = torch::zeros({c.n_mels, bins}, opts);
  for (int64_t m = 0; m < c.n_mels; ++m) {
    const double lo = pts[size_t(m)], mid = pts[size_t(m + 1)], hi = pts[size_t(m + 2)];
    const auto up = (freqs - lo) / (mid - lo), down = (hi - freqs) / (hi - mid);
    w[m] = torch::clamp_min(torch::minimum(up, down), 0.0) * (2.0 / (hi - lo));  // Slaney area norm
  }
  return w.to(torch::kFloat32);
}

torch::Tensor stft(const torch::Tensor& wave, const MelConfig& c) {
  TORCH_CHECK(wave.dim() == 2, "stft expects (N, T), got ", wave.sizes());
  return torch::stft(wave.to(torch::kFloat32), c.n_fft, c.hop, c.n_fft, hann(c), /*center=*/true, "reflect",
                     /*normalized=*/false, /*onesided=*/true, /*return_complex=*/true);
}

torch::Tensor log_mel(const torch::Tensor& wave, const MelConfig& c) {
  const auto mag = stft(wave, c).abs();
  const auto mel = torch::matmul(mel_basis(c), mag);
  return (torch::log(mel.clamp_min(c.floor)) - c.mean) / c.std;
}

torch::Tensor mel_to_magnitude(const torch::Tensor& lm, const MelConfig& c) {
  const auto mel = torch::exp(lm * c.std + c.mean);
  const auto pinv = torch::linalg_pinv(mel_basis(c).to(torch::kFloat64)).to(torch::kFloat32);  // (bins, n_mels)
  return torch::matmul(pinv, mel).clamp_min(0.0);
}

torch::Tensor griffin_lim(const torch::Tensor& magnitude, const MelConfig& c, int64_t length, int64_t iterations, double momentum) {
  TORCH_CHECK(magnitude.dim() == 3, "griffin_lim expects (N, bins, frames), got ", magnitude.sizes());
  const auto mag = magnitude.to(torch::kFloat32);
  auto angles = torch::ones_like(mag).to(torch::kComplexFloat);  // zero phase
  auto prev = torch::zeros_like(angles);
  for (int64_t i = 0; i < iterations; ++i) {
    const auto rebuilt = stft(istft(mag * angles, c, length), c);
    angles = rebuilt - prev * (momentum / (1.0 + momentum));
    angles = angles / (angles.abs() + 1e-16);
    prev = rebuilt;
  }
  return istft(mag * angles, c, length);
}

torch::Tensor spectral_convergence(const torch::Tensor& reference, const torch::Tensor& estimate, const MelConfig& c) {
  const auto a = stft(reference, c).abs(), b = stft(estimate, c).abs();
  return (a - b).flatten(1).norm(2, 1) / a.flatten(1).norm(2, 1).clamp_min(1e-12);
}

torch::Tensor log_mels(const torch::Tensor& waves, const MelConfig& c) {
  torch::NoGradGuard g;
  std::vector<torch::Tensor> out;
  for (int64_t s = 0; s < waves.size(0); s += 256) out.push_back(log_mel(waves.slice(0, s, s + 256), c));
  return torch::cat(out);
}

// Griffin-Lim decoding of normalised log-mels in chunks.
torch::Tensor griffin_lim_decode(const torch::Tensor& mels, const MelConfig& c, int64_t samples, int64_t iterations) {
  torch::NoGradGuard g;
  std::vector<torch::Tensor> out;
  for (int64_t s = 0; s < mels.size(0); s += 64) {
    out.push_back(griffin_lim(mel_to_magnitude(mels.slice(0, s, s + 64), c), c, samples, iterations));
  }
  return torch::cat(out);
}

// Mel settings with the normalisation fitted to data (global mean and std of the log-mel).
MelConfig fitted_mel(const torch::Tensor& waves) {
  MelConfig c;
  const auto m = log_mels(waves.slice(0, 0, std::min<int64_t>(2000, waves.size(0))), c);
  c.mean = m.mean().item<double>();
  c.std = m.std().item<double>();
  return c;
}

}  // namespace diffuse::audio
