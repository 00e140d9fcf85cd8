// Audio folders and the espeak-ng spoken-digit generator.
#include "modalities/audio/dataset.h"

#include <sndfile.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <random>
#include <thread>

#include "core/safetensors.h"
#include "core/system.h"
#include "modalities/audio/io.h"

namespace diffuse::audio {
namespace fs = std::filesystem;

torch::Tensor fit_clip(const torch::Tensor& wave, int64_t samples, double peak) {
  auto x = wave.flatten().to(torch::kFloat32);
  const double top = x.numel() ? x.abs().max().item<double>() : 0.0;
  auto out = torch::zeros({samples});
  if (top <= 0) return out;
  const auto loud = torch::nonzero(x.abs() > 0.01 * top).flatten();
  const int64_t first = loud[0].item<int64_t>(), last = loud[-1].item<int64_t>() + 1;
  x = x.slice(0, first, std::min(last, first + samples));
  const int64_t offset = (samples - x.size(0)) / 2;
  out.slice(0, offset, offset + x.size(0)).copy_(x);
  return peak > 0 ? out * (peak / top) : out;
}

AudioDataset load_audio_folder(const std::string& dir, int64_t rate, int64_t samples, bool skip_bad, std::vector<BadAudio>* bad) {
  if (!fs::is_directory(dir)) throw std::runtime_error(dir + ": not a folder (expected DIR/<class>/<audio files>)");
  std::vector<std::string> classes;
  for (const auto& e : fs::directory_iterator(dir)) if (e.is_directory()) classes.push_back(e.path().filename().string());
  std::sort(classes.begin(), classes.end());
  if (classes.empty()) throw std::runtime_error(dir + ": no class sub-folders (expected DIR/<class>/<audio files>)");
  AudioDataset ds;
  ds.class_names = classes;
  ds.rate = rate;
  std::vector<torch::Tensor> waves;
  std::vector<int64_t> labels;
  for (size_t k = 0; k < classes.size(); ++k) {
    std::vector<fs::path> files;
    for (const auto& e : fs::recursive_directory_iterator(fs::path(dir) / classes[k])) if (e.is_regular_file()) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      try {
        waves.push_back(fit_clip(read_audio(f.string(), rate, true).samples, samples, 0.0));
        labels.push_back(int64_t(k));
      } catch (const std::exception& e) {
        if (!skip_bad) throw std::runtime_error(std::string(e.what()) + " (pass --on-bad skip to skip unreadable files)");
        if (bad) bad->push_back({f.string(), e.what()});
      }
    }
  }
  if (waves.empty()) throw std::runtime_error(dir + ": no readable audio files in " + std::to_string(classes.size()) + " class folders");
  ds.waves = torch::stack(waves);
  ds.labels = torch::tensor(labels, torch::kLong);
  return ds;
}

const std::vector<std::string>& digit_names() {
  static const std::vector<std::string> names = {"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"};
  return names;
}

namespace {

std::vector<std::string> espeak_variants() {
  for (const char* d : {"/usr/lib/x86_64-linux-gnu/espeak-ng-data/voices/!v", "/usr/share/espeak-ng-data/voices/!v",
                        "/usr/lib/espeak-ng-data/voices/!v"}) {
    if (!fs::is_directory(d)) continue;
    std::vector<std::string> v;
    for (const auto& e : fs::directory_iterator(d)) if (e.is_regular_file()) v.push_back(e.path().filename().string());
    std::sort(v.begin(), v.end());
    return v;
  }
  throw std::runtime_error("espeak-ng voice variants not found (install the Debian package espeak-ng)");
}

std::string quote(const std::string& s) { return "'" + s + "'"; }  // names here have no quotes

}  // namespace

SpokenDigits generate_spoken_digits(const SpokenDigitsOptions& o, const std::function<void(int64_t, int64_t)>& progress) {
  if (std::system((o.program + " --version > /dev/null 2>&1").c_str()) != 0) {
    throw std::runtime_error(o.program + ": not found; install the Debian package espeak-ng (scripts/install-deps.sh)");
  }
  auto variants = espeak_variants();
  if (o.variants > 0 && o.variants < int64_t(variants.size())) variants.resize(size_t(o.variants));
  struct Job {
    std::string voice, variant;
    int64_t digit, pitch, speed;
    bool test;
  };
  std::vector<Job> jobs;
  std::mt19937_64 rng(o.seed);
  const uint64_t pitches = uint64_t(o.pitch_max - o.pitch_min + 1), speeds = uint64_t(o.speed_max - o.speed_min + 1);
  for (size_t i = 0; i < o.voices.size(); ++i) {
    for (size_t v = 0; v < variants.size(); ++v) {
      const int split = o.split ? o.split(i, v) : o.test_every > 0 && v % size_t(o.test_every) == 0 ? 1 : 0;
      if (split < 0) continue;
      const bool test = split == 1;
      for (int64_t d = 0; d < 10; ++d) {
        for (int64_t r = 0; r < (test ? o.test_repeats : o.repeats); ++r) {
          const auto pitch = o.pitch_min + int64_t(rng() % pitches);
          jobs.push_back({o.voices[i], variants[v], d, pitch, o.speed_min + int64_t(rng() % speeds), test});
        }
      }
    }
  }
  std::vector<torch::Tensor> waves(jobs.size());
  std::atomic<size_t> next{0};
  std::atomic<int64_t> done{0};
  std::mutex error_mutex;
  std::string error;
  const auto tmp_dir = fs::temp_directory_path() / ("diffuse-digits-" + std::to_string(::getpid()));
  fs::create_directories(tmp_dir);
  auto worker = [&](int id) {
    const std::string wav = (tmp_dir / ("w" + std::to_string(id) + ".wav")).string();
    for (size_t i = next++; i < jobs.size(); i = next++) {
      const auto& j = jobs[i];
      const std::string cmd = o.program + " -v " + quote(j.voice + "+" + j.variant) + " -p " + std::to_string(j.pitch) + " -s " +
                              std::to_string(j.speed) + " -w " + quote(wav) + " " + digit_names()[size_t(j.digit)] + " 2>/dev/null";
      try {
        if (std::system(cmd.c_str()) != 0) throw std::runtime_error("failed: " + cmd);
        waves[i] = fit_clip(read_audio(wav, o.rate, true).samples, o.samples);
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (error.empty()) error = e.what();
        next = jobs.size();
      }
      if (progress) progress(++done, int64_t(jobs.size()));
    }
  };
  std::thread a(worker, 0), b(worker, 1);
  a.join();
  b.join();
  fs::remove_all(tmp_dir);
  if (!error.empty()) throw std::runtime_error("rendering spoken digits: " + error);
  SpokenDigits out;
  for (auto* split : {&out.train, &out.test}) {
    const bool test = split == &out.test;
    std::vector<torch::Tensor> w;
    std::vector<int64_t> l;
    for (size_t i = 0; i < jobs.size(); ++i) {
      if (jobs[i].test != test) continue;
      w.push_back(waves[i]);
      l.push_back(jobs[i].digit);
    }
    if (w.empty()) throw std::runtime_error("spoken digits: the " + std::string(test ? "test" : "train") + " split is empty");
    *split = {torch::stack(w), torch::tensor(l, torch::kLong), digit_names(), o.rate};
  }
  return out;
}

SpokenDigitsOptions judge_digits_options(int64_t variants) {
  SpokenDigitsOptions o;
  o.voices.push_back("en-us-nyc");
  o.variants = variants;
  o.repeats = 3;
  o.test_repeats = 2;
  o.seed = 1;
  o.pitch_min = 10;
  o.pitch_max = 90;
  o.speed_min = 110;
  o.speed_max = 230;
  const size_t every = size_t(o.test_every);
  o.split = [every](size_t voice, size_t v) {
    if (v % every != 0) return -1;  // the generator's speakers
    return (voice + v / every) % 3 == 0 ? 1 : 0;
  };
  return o;
}

SpokenDigits load_spoken_digits(const Json& spec) {
  std::string dir = spec.value("cache", std::string());
  const bool judge = spec.value("dataset", std::string("spoken-digits")) == "spoken-digits-judge";
  const int64_t variants = spec.value("variants", int64_t(0));
  SpokenDigitsOptions o = judge ? judge_digits_options(variants) : SpokenDigitsOptions{};
  o.variants = variants;
  if (dir.empty()) dir = cache_dir();
  const std::string path = dir + (judge ? "/spoken-digits-judge-v1" : "/spoken-digits-v1") + (o.variants > 0 ? "-variants" + std::to_string(o.variants) : "") + ".safetensors";
  auto to_split = [](const SafeTensors& st, const std::string& name) {
    return AudioDataset{st.tensors.at(name + ".waves").to(torch::kFloat32) / 32767.0, st.tensors.at(name + ".labels"),
                        digit_names(), 16000};
  };
  if (fs::exists(path)) {
    const auto st = load_safetensors(path);
    for (const char* k : {"train.waves", "train.labels", "test.waves", "test.labels"}) {
      if (!st.tensors.count(k)) throw std::runtime_error(path + ": missing tensor " + k + " (delete the file to rebuild it)");
    }
    return {to_split(st, "train"), to_split(st, "test")};
  }
  std::cerr << "rendering the " << (judge ? "judge's " : "") << "spoken-digit set with espeak-ng into " << path << " (once)\n";
  const auto t0 = std::chrono::steady_clock::now();
  auto sd = generate_spoken_digits(o, [](int64_t done, int64_t total) {
    if (::isatty(2) && (done % 100 == 0 || done == total)) std::fprintf(stderr, "\rrendered %ld/%ld%s", long(done), long(total), done == total ? "\n" : "");
  });
  SafeTensors st;
  for (const auto& [name, split] : {std::pair<std::string, AudioDataset*>{"train", &sd.train}, {"test", &sd.test}}) {
    st.tensors[name + ".waves"] = (split->waves.clamp(-1, 1) * 32767.0).round().to(torch::kInt16);
    st.tensors[name + ".labels"] = split->labels;
  }
  st.metadata["generator"] = judge ? "espeak-ng spoken digits, the judge's speakers v1 (diffuse)" : "espeak-ng spoken digits v1 (diffuse)";
  fs::create_directories(dir);
  save_safetensors(path, st, true);
  std::cerr << "spoken digits: " << sd.train.waves.size(0) << " train, " << sd.test.waves.size(0) << " test clips in "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() << " s\n";
  return {to_split(st, "train"), to_split(st, "test")};  // the 16-bit values, as a cache hit gives
}

namespace {

// A one-track Standard MIDI File: program change, one note held for `ticks`, then note off.
std::string one_note_midi(int program, int pitch, int velocity, int ticks) {
  auto vlq = [](uint32_t v) {
    std::string out(1, char(v & 0x7f));
    while (v >>= 7) out.insert(out.begin(), char(0x80 | (v & 0x7f)));
    return out;
  };
  std::string track;
  track += vlq(0) + std::string{char(0xC0), char(program)};
  track += vlq(0) + std::string{char(0x90), char(pitch), char(velocity)};
  track += vlq(uint32_t(ticks)) + std::string{char(0x80), char(pitch), char(0)};
  track += vlq(0) + std::string{char(0xFF), char(0x2F), char(0)};
  auto be32 = [](uint32_t v) { return std::string{char(v >> 24), char(v >> 16), char(v >> 8), char(v)}; };
  // Header: format 0, one track, 480 ticks per quarter (at the default 120 bpm: 960 ticks/s).
  std::string midi = "MThd" + be32(6) + std::string{0, 0, 0, 1, char(480 >> 8), char(480 & 0xff)};
  return midi + "MTrk" + be32(uint32_t(track.size())) + track;
}

}  // namespace

AudioDataset generate_instrument_notes(const InstrumentNotesOptions& o) {
  if (!fs::exists(o.soundfont)) {
    throw std::runtime_error(o.soundfont + ": not found; install the Debian package fluid-soundfont-gm (scripts/install-deps.sh)");
  }
  if (std::system((o.program + " --version > /dev/null 2>&1").c_str()) != 0) {
    throw std::runtime_error(o.program + ": not found; install the Debian package fluidsynth (scripts/install-deps.sh)");
  }
  const auto tmp = fs::temp_directory_path() / ("diffuse-notes-" + std::to_string(::getpid()));
  fs::create_directories(tmp);
  std::mt19937_64 rng(o.seed);
  AudioDataset ds;
  ds.rate = o.rate;
  std::vector<torch::Tensor> waves;
  std::vector<int64_t> labels;
  try {
    for (size_t k = 0; k < o.programs.size(); ++k) {
      ds.class_names.push_back(o.programs[k].first);
      for (int64_t p = o.pitch_min; p <= o.pitch_max; ++p) {
        for (int64_t r = 0; r < o.per_pitch; ++r) {
          const int velocity = 60 + int(rng() % 61);
          const std::string mid = (tmp / "n.mid").string(), wav = (tmp / "n.wav").string();
          std::ofstream(mid, std::ios::binary) << one_note_midi(o.programs[k].second, int(p), velocity, int(o.note_seconds * 960));
          const std::string cmd = o.program + " -ni -g 1.0 -r " + std::to_string(o.rate) + " -F " + quote(wav) + " " +
                                  quote(o.soundfont) + " " + quote(mid) + " > /dev/null 2>&1";
          if (std::system(cmd.c_str()) != 0) throw std::runtime_error("failed: " + cmd);
          auto a = read_audio(wav, o.rate, true).samples.flatten();
          auto clip = torch::zeros({o.samples});
          const int64_t n = std::min<int64_t>(o.samples, a.size(0));
          clip.slice(0, 0, n).copy_(a.slice(0, 0, n));  // onset at t = 0, as NSynth
          const double peak = clip.abs().max().item<double>();
          waves.push_back(peak > 0 ? clip * (0.5 / peak) : clip);
          labels.push_back(int64_t(k));
        }
      }
    }
  } catch (...) {
    fs::remove_all(tmp);
    throw;
  }
  fs::remove_all(tmp);
  ds.waves = torch::stack(waves);
  ds.labels = torch::tensor(labels, torch::kLong);
  return ds;
}

// The recipe's dataset: {"dataset": "spoken-digits"} or {"dataset": "folder", "dir", "on_bad"}.
SpokenDigits load_audio_data(const Json& data, int64_t rate, int64_t samples) {
  const std::string kind = data.value("dataset", std::string("spoken-digits"));
  if (kind == "spoken-digits" || kind == "spoken-digits-judge") return load_spoken_digits(data);
  if (kind == "instrument-notes") {  // every fourth pitch held out
    InstrumentNotesOptions o;
    o.per_pitch = data.value("per_pitch", int64_t(2));
    o.samples = samples;
    const auto all = generate_instrument_notes(o);
    const int64_t pitches = o.pitch_max - o.pitch_min + 1;
    const auto idx = torch::arange(all.waves.size(0), torch::kLong);
    const auto test = ((idx / o.per_pitch) % pitches) % 4 == 0;
    auto split = [&](const torch::Tensor& mask) {
      const auto i = torch::nonzero(mask).flatten();
      return AudioDataset{all.waves.index_select(0, i), all.labels.index_select(0, i), all.class_names, all.rate};
    };
    return {split(~test), split(test)};
  }
  if (kind != "folder") {
    throw std::invalid_argument("unknown audio dataset '" + kind + "'; one of: spoken-digits, spoken-digits-judge, instrument-notes, folder");
  }
  const std::string dir = json_at(data, "dir", "data").get<std::string>();
  const std::string on_bad = data.value("on_bad", std::string("skip"));
  if (on_bad != "skip" && on_bad != "fail") throw std::invalid_argument("on_bad must be skip or fail, got '" + on_bad + "'");
  std::vector<BadAudio> bad;
  auto ds = load_audio_folder(dir, rate, samples, on_bad == "skip", &bad);
  for (const auto& b : bad) std::cerr << "skipped " << b.reason << "\n";
  std::cerr << dir << ": " << ds.waves.size(0) << " clips in " << ds.class_names.size() << " classes";
  if (!bad.empty()) std::cerr << "; " << bad.size() << " unreadable file(s) skipped";
  std::cerr << "\n";
  return {ds, ds};  // a folder has one split: it is its own held-out set
}

}  // namespace diffuse::audio
