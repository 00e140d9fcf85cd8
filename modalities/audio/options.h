// The audio modality's own options, one struct per command (core/args.h): registered with CLI11 by
// plugin.cpp and read by the pipelines as options<T>() of their arguments.
#pragma once
#include <cstdint>
#include <string>

#include "core/args.h"
#include "core/json.h"

namespace diffuse::audio {

// Spoken digits (espeak-ng), instrument notes (FluidSynth) or the user's audio folder.
struct DataOptions {
  std::string data;  // "" or spoken-digits, instrument-notes, else an audio folder DIR/<class>/<files>
  std::string on_bad = "skip";
  int64_t data_n = 0;           // the first N clips (0: all)
  int64_t espeak_variants = 0;  // spoken digits from the first N voice variants (0: all)
  // The recipe's data spec they give (spoken digits unless they say otherwise).
  Json spec() const;
};

// `train audio`.
struct AudioTrainOptions : PluginOptions {
  DataOptions data;
  double seconds = 1.0;  // clip length the model learns
  int64_t patch = 0, width = 0, depth = 0;  // a new model's DiT (0: the defaults, 2 frames, 128, 6)
};

// `train audio-classifier`, `train audio-vocoder`.
struct AudioDataOptions : PluginOptions {
  DataOptions data;
};

// `train audio-vocoder`.
struct AudioVocoderOptions : AudioDataOptions {
  std::string adversarial = "on";  // on: against the multi-period and multi-resolution discriminators
  double mel_weight = 1.0;         // of the mel L1 (normalised log-mel units) against the multi-resolution STFT loss
};

// `sample audio`.
struct AudioSampleOptions : PluginOptions {
  double seconds = 0;            // 0: the model's own
  std::string format = "pcm16";  // pcm16, pcm24 or float
  std::string decoder = "auto";  // auto, griffin-lim or a vocoder checkpoint
  bool normalize = false;
};

// `eval audio`: its samples' decoder (as sample's), the judge and the vocoder --calibrate scores.
struct AudioEvalOptions : AudioSampleOptions {
  std::string classifier;  // "" = the shipped one
  std::string vocoder;     // "" = the shipped one, when there is one
  std::string contact_sheet;  // a PNG of real and generated log-mels per class ("" = none)
  bool force = false;         // overwrite it
};

}  // namespace diffuse::audio
