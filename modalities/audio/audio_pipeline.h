// `diffuse train|sample|eval audio` and `diffuse train audio-classifier`: a class-conditional DiT
// over log-mel spectrograms (a 1-D sequence of frames with the mel bins as channels), decoded
// with fast Griffin-Lim and written as WAV; the metrics of the SC09 protocol.
#pragma once
#include <torch/types.h>

#include <string>
#include <vector>

#include "core/modality.h"
#include "core/pipeline.h"

namespace diffuse::audio {

PipelineCommands audio_pipeline();
PipelineCommands audio_classifier_pipeline();
PipelineCommands audio_vocoder_pipeline();  // train only: the learned decoder

// `diffuse report`: every WAV/FLAC in `dir` and its sub-folders, embedded with a player and its
// log-mel spectrogram drawn as SVG.
std::string audio_report_section(const std::string& dir);
// A contact sheet: one row per class, `left[c]` and `right[c]` (N, T) waveforms of class c, their
// first `per_side` clips as log-mels (low bands at the bottom, one colour scale for the sheet),
// written as a PNG.
void write_mel_contact_sheet(const std::string& path, const std::vector<torch::Tensor>& left, const std::vector<torch::Tensor>& right,
                             int64_t per_side, bool force);

// Samples n clips from a checkpoint through the generic pipeline; options as the CLI's (label,
// seed, sampler, steps, cfg, ...; decoder: "auto" (default: vocoder.safetensors beside the
// checkpoint when there is one, else Griffin-Lim), "griffin-lim", or a vocoder checkpoint).
// data: (n, T) waveforms; latents: the sampled normalised log-mels (n, n_mels, frames); info:
// rate, decoder.
Generated sample_audio(const SampleArgs& args, int64_t n);

}  // namespace diffuse::audio
