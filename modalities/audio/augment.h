// Waveform degradations: the augmentations the evaluation classifier trains with (so that a
// different voice, level, room or channel does not fool it) and the degraded calibration rows
// `eval audio --calibrate` scores (noise at a given SNR, low-pass). Waves are (N, T) float32.
#pragma once
#include <ATen/core/Generator.h>
#include <torch/types.h>

namespace diffuse::audio {

// White Gaussian noise at `snr_db` below each clip's own RMS (a silent clip stays silent).
torch::Tensor add_noise(const torch::Tensor& waves, double snr_db, at::Generator& gen);
// Everything above `cutoff_hz` removed (FFT brick wall).
torch::Tensor low_pass(const torch::Tensor& waves, double cutoff_hz, int64_t rate);
// Played `factor` times faster (pitch up with it; linear interpolation), centred in the same length.
torch::Tensor change_speed(const torch::Tensor& waves, double factor);
// A small room: convolved with exponentially decaying noise (time constant `decay_s`), mixed in at
// `wet`; the result has the dry signal's RMS.
torch::Tensor reverberate(const torch::Tensor& waves, double decay_s, double wet, int64_t rate, at::Generator& gen);
// The classifier's training mix, drawn per clip: speed 0.85-1.15, reverb (p 0.3, 20-100 ms),
// low-pass 3-7 kHz (p 0.3), a shift of up to 0.1 s, gain -24..0 dB, noise at 10-40 dB SNR (p 0.5).
torch::Tensor augment_speech(const torch::Tensor& waves, int64_t rate, at::Generator& gen);

}  // namespace diffuse::audio
