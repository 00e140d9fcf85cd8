// Audio datasets: a folder of audio files (class = sub-folder name) with a report of unreadable
// files, and spoken digits 'zero'..'nine' rendered with espeak-ng across its English voices,
// voice variants, pitches and speeds (in the spirit of SC09), cached after the first build.
#pragma once
#include <torch/types.h>

#include <functional>
#include <string>
#include <vector>

#include "core/json.h"

namespace diffuse::audio {

struct AudioDataset {
  torch::Tensor waves;   // (N, T) float32, mono, fixed length
  torch::Tensor labels;  // (N,) int64
  std::vector<std::string> class_names;
  int64_t rate = 16000;
};

struct BadAudio {
  std::string path, reason;
};

// DIR/<class>/<files>: every file libsndfile opens, mono-mixed, resampled to `rate`, trimmed of
// leading and trailing silence and centred in `samples` (cut when longer). Unreadable files go to
// `bad` and are skipped, or throw when skip_bad is false.
AudioDataset load_audio_folder(const std::string& dir, int64_t rate, int64_t samples, bool skip_bad,
                               std::vector<BadAudio>* bad = nullptr);

// Trims silence (below 1% of the peak) from both ends, centres the rest in `samples` and scales
// the peak to `peak` (0: keep the level).
torch::Tensor fit_clip(const torch::Tensor& wave, int64_t samples, double peak = 0.5);

const std::vector<std::string>& digit_names();  // zero .. nine

struct SpokenDigitsOptions {
  std::vector<std::string> voices = {"en-us", "en-gb", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-rp",
                                     "en-gb-x-gbcwmd", "en-029"};
  int64_t variants = 0;     // first N of espeak-ng's voice variants (0: all)
  int64_t repeats = 2;      // renderings per (voice, variant, digit) in the train split
  int64_t test_every = 5;   // variants i % test_every == 0 form the held-out split (unseen speakers)
  uint64_t seed = 0;        // picks pitch (20..80) and speed (130..200 wpm) per rendering
  int64_t rate = 16000, samples = 16000;
  std::string program = "espeak-ng";
};
struct SpokenDigits {
  AudioDataset train, test;
};
// Renders the set with the espeak-ng program (two processes at a time). `progress(done, total)`.
SpokenDigits generate_spoken_digits(const SpokenDigitsOptions& o,
                                    const std::function<void(int64_t, int64_t)>& progress = {});
// The set a recipe's data names ({"dataset": "spoken-digits", "variants": N (0: all), "cache": DIR}),
// cached as 16-bit safetensors under DIR (default $DIFFUSE_DATA, else $XDG_CACHE_HOME/diffuse,
// else ~/.cache/diffuse); built on first use (about 5 minutes for all variants).
SpokenDigits load_spoken_digits(const Json& spec = Json::object());

// Instrument notes (in the spirit of NSynth): one note per clip, rendered with the FluidSynth
// program from the General MIDI SoundFont of the Debian package fluid-soundfont-gm, across
// instrument families (one GM program each), pitches and velocities. Classes are the families.
struct InstrumentNotesOptions {
  std::vector<std::pair<std::string, int>> programs = {
      {"piano", 0}, {"organ", 19}, {"guitar", 24}, {"bass", 33}, {"strings", 48},
      {"brass", 56}, {"reed", 65}, {"flute", 73}};
  int64_t pitch_min = 48, pitch_max = 72;  // MIDI note numbers (C3..C5)
  int64_t per_pitch = 1;                   // renderings per (program, pitch), velocities varied
  double note_seconds = 0.75;              // held, then released within the clip
  uint64_t seed = 0;
  int64_t rate = 16000, samples = 16000;
  std::string soundfont = "/usr/share/sounds/sf2/FluidR3_GM.sf2";
  std::string program = "fluidsynth";
};
AudioDataset generate_instrument_notes(const InstrumentNotesOptions& o);

// A recipe's dataset: {"dataset": "spoken-digits"} (default), {"dataset": "instrument-notes"} (every
// fourth pitch held out) or {"dataset": "folder", "dir", "on_bad"} (its own held-out set), with
// clips of `samples` at `rate`; skipped files are reported on stderr.
SpokenDigits load_audio_data(const Json& data, int64_t rate, int64_t samples);

}  // namespace diffuse::audio
