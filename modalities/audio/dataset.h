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
  int64_t test_repeats = 1;  // ... in the test split
  int64_t test_every = 5;   // variants i % test_every == 0 form the held-out split (unseen speakers)
  uint64_t seed = 0;        // picks pitch and speed per rendering
  int64_t pitch_min = 20, pitch_max = 80;    // espeak-ng -p
  int64_t speed_min = 130, speed_max = 200;  // espeak-ng -s, words per minute
  // Which split the speaker (voice i, variant v) renders into: 0 train, 1 test, -1 none.
  // Default: test when v % test_every == 0.
  std::function<int(size_t voice, size_t variant)> split;
  int64_t rate = 16000, samples = 16000;
  std::string program = "espeak-ng";
};
// The judge's speakers: voice/variant combinations the generator's set never renders. The
// generator's 7 voices on its held-out variants (v % 5 == 0) plus en-us-nyc, which it never
// uses, with pitch 10-90 and speed 110-230 wpm (wider than its 20-80 and 130-200). A third of
// these speakers ((voice + v / 5) % 3 == 0) form the judge's own held-out split, the reference
// `eval audio` scores against; the classifier trains on the rest. 3 train and 2 test renderings
// per (speaker, digit).
SpokenDigitsOptions judge_digits_options(int64_t variants = 0);
struct SpokenDigits {
  AudioDataset train, test;
};
// Renders the set with the espeak-ng program (two processes at a time). `progress(done, total)`.
SpokenDigits generate_spoken_digits(const SpokenDigitsOptions& o,
                                    const std::function<void(int64_t, int64_t)>& progress = {});
// The set a recipe's data names ({"dataset": "spoken-digits" or "spoken-digits-judge" (the judge's
// speakers), "variants": N (0: all), "cache": DIR}), cached as 16-bit safetensors under DIR
// (default $DIFFUSE_DATA, else $XDG_CACHE_HOME/diffuse, else ~/.cache/diffuse); built on first use
// (about 5 minutes for all variants, 2 for the judge's).
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
