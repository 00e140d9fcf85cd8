// Audio files through libsndfile: read WAV, FLAC, OGG/Vorbis (and the rest libsndfile reads) to
// float tensors, mono-mixed or with channels kept, resampled to a target rate; write WAV (16-bit,
// 24-bit or float) and FLAC atomically, with clipping protection that is reported.
#pragma once
#include <torch/types.h>

#include <string>
#include <vector>

namespace diffuse::audio {

struct Audio {
  torch::Tensor samples;  // (C, T) float32 in [-1, 1]
  int64_t rate = 0;       // samples per second
};

// rate 0 keeps the file's rate; mono averages the channels. Errors name the file and the reason
// (not audio, unsupported format, zero length).
Audio read_audio(const std::string& path, int64_t rate = 0, bool mono = true);

// Band-limited resampling of (..., T) from one rate to another: windowed sinc with a Kaiser
// window (the torchaudio/librosa "kaiser_best"-style design: 16 zero crossings, roll-off 0.99).
torch::Tensor resample(const torch::Tensor& x, int64_t from, int64_t to);

enum class SampleFormat { kPcm16, kPcm24, kFloat };
SampleFormat sample_format_from_string(const std::string& s);  // "pcm16", "pcm24", "float"

struct AudioWriteOptions {
  SampleFormat format = SampleFormat::kPcm16;  // FLAC: pcm16 or pcm24
  bool normalize = false;  // scale the peak to -1 dBFS
  bool force = false;      // overwrite an existing file
};

struct WriteReport {
  double peak = 0;  // of the input
  double gain = 1;  // applied: < 1 when the peak exceeded full scale (clipping protection) or normalize
  bool protected_from_clipping = false;
};

// Writes (C, T) or (T,) at `rate`; the format follows the extension (.wav, .flac).
// The formats write_audio writes (by extension).
inline const std::vector<std::string> kAudioFormats = {".wav", ".flac"};
WriteReport write_audio(const std::string& path, const torch::Tensor& samples, int64_t rate, const AudioWriteOptions& o = {});

}  // namespace diffuse::audio
