// `diffuse train|sample|eval audio` and `diffuse train audio-classifier`: a class-conditional DiT
// over log-mel spectrograms (a 1-D sequence of frames with the mel bins as channels), decoded
// with fast Griffin-Lim and written as WAV; the metrics of the SC09 protocol.
#pragma once
#include <torch/types.h>

#include <string>
#include <vector>

#include "core/modality.h"

namespace diffuse::audio {

PipelineCommands audio_pipeline();
PipelineCommands audio_classifier_pipeline();
PipelineCommands audio_vocoder_pipeline();  // train only: the learned decoder

// `diffuse report`: every WAV/FLAC in `dir` and its sub-folders, embedded with a player and its
// log-mel spectrogram drawn as SVG.
std::string audio_report_section(const std::string& dir);

struct GeneratedAudio {
  torch::Tensor waves;      // (n, T) at `rate`
  torch::Tensor mels;       // (n, n_mels, frames), normalised
  std::vector<int64_t> labels;
  std::vector<std::string> class_names;
  int64_t rate = 16000;
  double seconds = 0;       // wall time of sampling and decoding
  std::string decoder;      // "griffin-lim" or the vocoder checkpoint used
};
// Samples n clips from a checkpoint; options as the CLI's (label, seed, sampler, steps, cfg, ...;
// decoder: "auto" (default: vocoder.safetensors beside the checkpoint when there is one, else
// Griffin-Lim), "griffin-lim", or a vocoder checkpoint).
GeneratedAudio sample_audio(const Json& args, int64_t n);

}  // namespace diffuse::audio
