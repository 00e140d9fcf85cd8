// Waveform degradations for the audio judge.
#include "modalities/audio/augment.h"

#include <torch/torch.h>

#include <cmath>

namespace diffuse::audio {
namespace {

double uniform(at::Generator& gen, double lo, double hi) { return lo + (hi - lo) * torch::rand({1}, gen, torch::kFloat64).item<double>(); }

// `x` (T') centred in length T: cut evenly from both ends, or padded with silence.
torch::Tensor centred(const torch::Tensor& x, int64_t T) {
  const int64_t n = x.size(-1);
  if (n >= T) return x.narrow(-1, (n - T) / 2, T);
  const int64_t left = (T - n) / 2;
  return torch::constant_pad_nd(x, {left, T - n - left}, 0.0);
}

torch::Tensor rms(const torch::Tensor& waves) { return waves.pow(2).mean(-1, true).sqrt(); }

}  // namespace

torch::Tensor add_noise(const torch::Tensor& waves, double snr_db, at::Generator& gen) {
  const auto noise = torch::randn(waves.sizes(), gen, torch::kFloat32).to(waves.dtype());
  return waves + noise * rms(waves) * std::pow(10.0, -snr_db / 20.0);
}

torch::Tensor low_pass(const torch::Tensor& waves, double cutoff_hz, int64_t rate) {
  const int64_t T = waves.size(-1);
  auto spec = torch::fft::rfft(waves, T, -1);
  const int64_t keep = std::min<int64_t>(spec.size(-1), int64_t(std::floor(cutoff_hz / double(rate) * double(T))) + 1);
  spec.narrow(-1, keep, spec.size(-1) - keep).zero_();
  return torch::fft::irfft(spec, T, -1).to(waves.dtype());
}

torch::Tensor change_speed(const torch::Tensor& waves, double factor) {
  const int64_t T = waves.size(-1), n = std::max<int64_t>(2, std::llround(double(T) / factor));
  namespace F = torch::nn::functional;
  const auto x = F::interpolate(waves.unsqueeze(1), F::InterpolateFuncOptions().size(std::vector<int64_t>{n}).mode(torch::kLinear).align_corners(false));
  return centred(x.squeeze(1), T);
}

torch::Tensor reverberate(const torch::Tensor& waves, double decay_s, double wet, int64_t rate, at::Generator& gen) {
  const int64_t T = waves.size(-1), L = int64_t(0.3 * double(rate));
  const auto t = torch::arange(L, torch::kFloat64) / double(rate);
  auto ir = torch::randn({L}, gen, torch::kFloat64) * torch::exp(-t / decay_s);
  ir[0] = 0;
  ir = ir / ir.norm();
  const int64_t n = T + L;
  const auto tail = torch::fft::irfft(torch::fft::rfft(waves.to(torch::kFloat64), n, -1) * torch::fft::rfft(ir, n), n, -1).narrow(-1, 0, T);
  const auto w = waves.to(torch::kFloat64);
  const auto mixed = (1 - wet) * w + wet * tail * rms(w) / rms(tail).clamp_min(1e-12);
  return (mixed * rms(w) / rms(mixed).clamp_min(1e-12)).to(waves.dtype());
}

torch::Tensor augment_speech(const torch::Tensor& waves, int64_t rate, at::Generator& gen) {
  std::vector<torch::Tensor> out;
  const int64_t T = waves.size(1);
  for (int64_t i = 0; i < waves.size(0); ++i) {
    auto x = change_speed(waves.slice(0, i, i + 1), uniform(gen, 0.85, 1.15));
    if (uniform(gen, 0, 1) < 0.3) x = reverberate(x, uniform(gen, 0.02, 0.1), uniform(gen, 0.2, 0.5), rate, gen);
    if (uniform(gen, 0, 1) < 0.3) x = low_pass(x, uniform(gen, 3000, 7000), rate);
    const auto shift = int64_t(std::llround(uniform(gen, -0.1, 0.1) * double(rate)));
    x = torch::roll(x, shift, 1);
    if (shift > 0) x.narrow(1, 0, shift).zero_();
    if (shift < 0) x.narrow(1, T + shift, -shift).zero_();
    x = x * std::pow(10.0, uniform(gen, -24, 0) / 20.0);
    if (uniform(gen, 0, 1) < 0.5) x = add_noise(x, uniform(gen, 10, 40), gen);
    out.push_back(x);
  }
  return torch::cat(out);
}

}  // namespace diffuse::audio
