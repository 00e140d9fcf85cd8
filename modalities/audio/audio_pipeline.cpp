// The spectrogram-diffusion audio pipeline.
#include "modalities/audio/audio_pipeline.h"

#include <torch/torch.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "core/dit_pipeline.h"
#include "core/files.h"
#include "core/metrics.h"
#include "core/report.h"
#include "core/objectives.h"
#include "core/train/trainer.h"
#include "modalities/audio/classifier.h"
#include "modalities/audio/dataset.h"
#include "modalities/audio/io.h"
#include "modalities/audio/spectrogram.h"
#include "modalities/audio/vocoder.h"

namespace diffuse::audio {
namespace {

constexpr int64_t kBatch = 256;  // items per chunk for spectrograms and the classifier

// The recipe's dataset: {"dataset": "spoken-digits"} or {"dataset": "folder", "dir", "on_bad"}.
SpokenDigits load_data(const Json& data, int64_t rate, int64_t samples) {
  const std::string kind = data.value("dataset", std::string("spoken-digits"));
  if (kind == "spoken-digits") return load_spoken_digits(data);
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
    throw std::invalid_argument("unknown audio dataset '" + kind + "'; one of: spoken-digits, instrument-notes, folder");
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

torch::Tensor mels_of(const torch::Tensor& waves, const MelConfig& c) {
  torch::NoGradGuard g;
  std::vector<torch::Tensor> out;
  for (int64_t s = 0; s < waves.size(0); s += kBatch) out.push_back(log_mel(waves.slice(0, s, s + kBatch), c));
  return torch::cat(out);
}

// Griffin-Lim decoding of normalised log-mels in chunks.
torch::Tensor decode(const torch::Tensor& mels, const MelConfig& c, int64_t samples, int64_t iterations) {
  torch::NoGradGuard g;
  std::vector<torch::Tensor> out;
  for (int64_t s = 0; s < mels.size(0); s += 64) {
    out.push_back(griffin_lim(mel_to_magnitude(mels.slice(0, s, s + 64), c), c, samples, iterations));
  }
  return torch::cat(out);
}

// The command's dataset: spoken digits unless `data` (from --data and friends) says otherwise.
Json data_spec_from(const Json& a) {
  Json spec = {{"dataset", "spoken-digits"}};
  const Json given = a.value("data", Json::object());
  for (const auto& [k, v] : given.items()) spec[k] = v;
  return spec;
}

// Vocoder decoding of normalised log-mels (under `mel`) in chunks.
torch::Tensor vocode(Vocoder& v, const torch::Tensor& mels, const MelConfig& mel, int64_t samples) {
  torch::NoGradGuard g;
  std::vector<torch::Tensor> out;
  for (int64_t s = 0; s < mels.size(0); s += 64) out.push_back(v->forward(renormalise(mels.slice(0, s, s + 64), mel, v->mel()), samples));
  return torch::cat(out);
}

// Mel settings with the normalisation fitted to data (global mean and std of the log-mel).
MelConfig fitted_mel(const torch::Tensor& waves) {
  MelConfig c;
  const auto m = mels_of(waves.slice(0, 0, std::min<int64_t>(2000, waves.size(0))), c);
  c.mean = m.mean().item<double>();
  c.std = m.std().item<double>();
  return c;
}

// The DiT sees the frames padded with silence to a multiple of its patch (63 -> 64 for 1 s).
constexpr int64_t kFramePatch = 2;
int64_t padded_frames(int64_t frames) { return (frames + kFramePatch - 1) / kFramePatch * kFramePatch; }

torch::Tensor pad_frames(const torch::Tensor& mels, const MelConfig& mel, int64_t to) {
  const double silence = (std::log(mel.floor) - mel.mean) / mel.std;
  return torch::constant_pad_nd(mels, {0, to - mels.size(2)}, silence);
}

Json default_recipe(const MelConfig& mel, int64_t samples, const std::vector<std::string>& classes) {
  DiTConfig d;
  d.input_size = {padded_frames(mel.frames(samples))};
  d.patch = {kFramePatch};
  d.in_channels = mel.n_mels;  // mel bins as channels: 32 tokens of 2 frames x 64 bins for 1 s
  d.learn_sigma = false;
  d.hidden = 128;  // 1.3M parameters, as the image model: trainable on 2 CPU cores in about half an hour
  d.depth = 6;
  d.heads = 4;
  d.num_classes = int64_t(classes.size());
  ObjectiveOptions o;
  o.kind = ModelKind::kEdm;
  o.sampling = SigmaSampling::kLogNormal;
  o.weighting = LossWeighting::kEdm;
  o.sigma_data = 1.0;  // normalised log-mel
  return {{"modality", "audio"}, {"mel", to_json(mel)}, {"samples", samples}, {"classes", classes},
          {"model", {{"type", "dit"}, {"config", to_json(d)}}}, {"objective", to_json(o)},
          {"decoder", {{"type", "griffin-lim"}, {"iterations", 64}}}, {"data", {{"dataset", "spoken-digits"}}},
          {"sampling", {{"sigma_min", 0.002}, {"sigma_max", 80.0}}}};
}

void train(const Json& a) {
  check_run_folder(a);
  const std::string resume = a.value("resume", std::string());
  Json recipe;
  if (!resume.empty()) recipe = load_model_checkpoint(resume, "audio", "dit").recipe;
  const Json data_spec = resume.empty() ? data_spec_from(a) : recipe.at("data");
  const int64_t samples = resume.empty() ? int64_t(std::lround(a.value("seconds", 1.0) * 16000)) : recipe.at("samples").get<int64_t>();
  auto data = load_data(data_spec, 16000, samples).train;
  if (const int64_t n = a.value("data_n", int64_t(0)); n > 0) {
    data.waves = data.waves.slice(0, 0, n);
    data.labels = data.labels.slice(0, 0, n);
  }
  if (resume.empty()) {
    recipe = default_recipe(fitted_mel(data.waves), samples, data.class_names);
    recipe["data"] = data_spec;
  }
  recipe.erase("train");
  const auto mel = mel_config_from_json(recipe.at("mel"));
  const auto frames = mels_of(data.waves, mel);
  const auto x = pad_frames(frames, mel, recipe["model"]["config"]["input_size"][0].get<int64_t>());
  std::cerr << "training on " << x.size(0) << " clips as log-mel " << x.sizes().slice(1) << "\n";
  const int64_t classes = int64_t(recipe.at("classes").size());
  train_dit(a, recipe, x, {data.labels},
            {{"steps", 2000}, {"batch", 64}, {"lr", 1e-3}, {"warmup", 200}, {"ema_decay", 0.999}, {"log_every", 200},
             {"checkpoint_every", 250}, {"cond_dropout", 0.1}, {"null_label", classes}});
}

}  // namespace

static std::string vocoder_path(const std::string& choice, const std::string& checkpoint) {
  if (choice == "griffin-lim") return {};
  if (choice != "auto") {
    if (!std::filesystem::exists(choice)) throw std::invalid_argument("--decoder " + choice + ": no such vocoder checkpoint (or say griffin-lim or auto)");
    return choice;
  }
  const auto beside = std::filesystem::path(checkpoint).parent_path() / "vocoder.safetensors";
  return std::filesystem::exists(beside) ? beside.string() : std::string();
}

GeneratedAudio sample_audio(const Json& a, int64_t n) {
  const std::string path = a.at("checkpoint");
  auto s = prepare_dit_sampling(a, "audio", n);
  const auto& recipe = s.checkpoint.recipe;
  const auto mel = mel_config_from_json(recipe.at("mel"));
  const int64_t samples = recipe.at("samples").get<int64_t>();
  if (a.contains("seconds") && a.at("seconds").get<double>() > 0) {
    const double want = a.at("seconds").get<double>(), have = double(samples) / double(mel.sample_rate);
    if (std::abs(want - have) > 0.5 / double(mel.sample_rate) * double(mel.hop)) {
      std::ostringstream msg;
      msg << "--seconds " << want << ": this model generates " << std::fixed << std::setprecision(3) << have
          << " s clips (its DiT has " << s.net->config().input_size[0] << " frame positions)";
      throw std::invalid_argument(msg.str());
    }
  }
  GeneratedAudio out;
  out.class_names = s.classes;
  out.rate = mel.sample_rate;
  out.labels = s.labels;
  const auto t0 = std::chrono::steady_clock::now();
  out.mels = sample(dit_denoiser(s.net, s.sigma_data, 0.0, s.request.precision), s.request).cpu().slice(2, 0, mel.frames(samples));
  const auto vocoder = vocoder_path(a.value("decoder", std::string("auto")), path);
  if (vocoder.empty()) {
    out.waves = decode(out.mels, mel, samples, recipe.at("decoder").value("iterations", int64_t(64)));
    out.decoder = "griffin-lim";
  } else {
    auto v = load_vocoder(vocoder);
    out.waves = vocode(v, out.mels, mel, samples);
    out.decoder = vocoder;
  }
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

namespace {

void sample_cmd(const Json& a) {
  const bool force = a.value("force", false);
  const int64_t n = a.value("n", int64_t(1));
  AudioWriteOptions o;
  o.format = sample_format_from_string(a.value("format", std::string("pcm16")));
  o.normalize = a.value("normalize", false);
  o.force = force;
  const SampleFiles files(a.at("out"), n, force, kAudioFormats, "audio");
  const auto g = sample_audio(a, n);
  int64_t protected_count = 0;
  for (int64_t i = 0; i < n; ++i) {
    const auto rep = write_audio(files[i], g.waves[i], g.rate, o);
    if (rep.protected_from_clipping) {
      ++protected_count;
      std::cerr << files[i] << ": peak " << rep.peak << " above full scale; scaled by " << rep.gain << " instead of clipping\n";
    }
  }
  const double audio_s = double(n) * double(g.waves.size(1)) / double(g.rate);
  std::cout << "wrote " << n << (n == 1 ? " clip to " : " clips as ") << files.written() << " (" << std::fixed
            << std::setprecision(2) << audio_s << " s of audio in " << g.seconds << " s)\n";
}

MelClassifier load_classifier(const std::string& path) {
  const auto ck = load_checkpoint(path);
  if (json_at(ck.recipe, "model", path).value("type", std::string()) != "mel-classifier") {
    throw std::runtime_error(path + ": not an audio classifier checkpoint (model.type is not 'mel-classifier')");
  }
  MelClassifier c(int64_t(ck.recipe.at("classes").size()));
  load_for_inference(*c, ck, path);
  return c;
}

// Logits and features of waveforms under the classifier's own mel settings.
std::pair<torch::Tensor, torch::Tensor> classify(MelClassifier& c, const MelConfig& mel, const torch::Tensor& waves) {
  torch::NoGradGuard g;
  std::vector<torch::Tensor> logits, feats;
  for (int64_t s = 0; s < waves.size(0); s += kBatch) {
    const auto m = log_mel(waves.slice(0, s, s + kBatch), mel);
    const auto f = c->features(m);
    feats.push_back(f);
    logits.push_back(c->forward(m));
  }
  return {torch::cat(logits), torch::cat(feats)};
}

void train_classifier(const Json& a) {
  check_run_folder(a);
  const std::string out = a.at("out");
  const Json data_spec = data_spec_from(a);
  if (data_spec.value("dataset", std::string()) != "spoken-digits") {
    throw std::invalid_argument("the audio classifier trains on the spoken digits (its held-out split is the eval reference)");
  }
  auto sd = load_spoken_digits(data_spec);
  auto data = sd.train;
  if (const int64_t n = a.value("data_n", int64_t(0)); n > 0) {
    data.waves = data.waves.slice(0, 0, n);
    data.labels = data.labels.slice(0, 0, n);
  }
  const auto mel = fitted_mel(data.waves);
  const auto x = mels_of(data.waves, mel);
  const TrainOptions o = train_options_from_args(a, {{"steps", 2000}, {"batch", 64}, {"lr", 1e-3}, {"warmup", 100}, {"ema_decay", 0.99},
                                                     {"log_every", 250}, {"cond_dropout", 0.0}});
  MelClassifier net(10);
  TrainLoss loss = [net](const torch::Tensor& m, const Condition& c, at::Generator& gen) mutable {
    // Augmentation: a random shift in time of up to 8 frames per clip (silence fills in).
    const auto shifts = torch::randint(-8, 9, {m.size(0)}, gen, torch::kLong);
    auto shifted = m.clone();
    const double floor = m.min().item<double>();
    for (int64_t i = 0; i < m.size(0); ++i) {
      const int64_t s = shifts[i].item<int64_t>();
      shifted[i] = torch::roll(m[i], s, 1);
      if (s > 0) shifted[i].slice(1, 0, s).fill_(floor);
      if (s < 0) shifted[i].slice(1, m.size(2) + s).fill_(floor);
    }
    return torch::nn::functional::cross_entropy(net->forward(shifted), c.labels,
                                                torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));
  };
  Json recipe = {{"modality", "audio"}, {"model", {{"type", "mel-classifier"}}}, {"mel", to_json(mel)}, {"classes", digit_names()},
                 {"data", data_spec}};
  Trainer trainer(net.ptr(), loss, recipe, o);
  if (!a.value("resume", std::string()).empty()) trainer.resume(a.at("resume"));
  trainer.run({x, {data.labels}});
  MelClassifier ema(10);
  trainer.load_ema_into(*ema);
  ema->eval();
  const auto [logits, f] = classify(ema, mel, sd.test.waves);
  const double acc = (logits.argmax(1) == sd.test.labels).to(torch::kFloat64).mean().item<double>();
  std::cout << "held-out accuracy: " << std::fixed << std::setprecision(4) << acc << " on " << sd.test.waves.size(0)
            << " clips of unseen voice variants\ncheckpoint: " << out << "/checkpoint.safetensors\n";
}

void train_vocoder(const Json& a) {
  check_run_folder(a);
  const std::string out = a.at("out");
  const Json data_spec = data_spec_from(a);
  auto sd = load_data(data_spec, 16000, 16000);
  auto data = sd.train;
  if (const int64_t n = a.value("data_n", int64_t(0)); n > 0) data.waves = data.waves.slice(0, 0, n);
  const auto mel = fitted_mel(data.waves);
  const TrainOptions o = train_options_from_args(a, {{"steps", 3000}, {"batch", 16}, {"lr", 1e-3}, {"warmup", 200}, {"ema_decay", 0.999},
                                                     {"log_every", 100}, {"checkpoint_every", 250}, {"cond_dropout", 0.0}});
  const VocoderConfig config;
  Vocoder net(config, mel);
  TrainLoss loss = [net, mel](const torch::Tensor& w, const Condition&, at::Generator& gen) mutable {
    // Random gain in [0.3, 1] so the decoder does not learn one loudness.
    const auto wave = w * (0.3 + 0.7 * torch::rand({w.size(0), 1}, gen));
    torch::Tensor target;
    {
      torch::NoGradGuard ng;
      target = log_mel(wave, mel);
    }
    const auto est = net->forward(target, wave.size(1));
    return multi_resolution_stft_loss(wave, est) + (log_mel(est, mel) - target).abs().flatten(1).mean(1);
  };
  Json recipe = {{"modality", "audio"}, {"model", {{"type", "vocoder"}, {"config", to_json(config)}}}, {"mel", to_json(mel)},
                 {"samples", data.waves.size(1)}, {"data", data_spec}};
  Trainer trainer(net.ptr(), loss, recipe, o);
  if (!a.value("resume", std::string()).empty()) trainer.resume(a.at("resume"));
  trainer.run({data.waves, {data.labels}});
  Vocoder ema(config, mel);
  trainer.load_ema_into(*ema);
  ema->eval();
  const auto test = sd.test.waves.slice(0, 0, 256);
  const auto rt = vocode(ema, mels_of(test, mel), mel, test.size(1));
  std::cout << "held-out spectral convergence: " << std::fixed << std::setprecision(4) << spectral_convergence(test, rt, mel).mean().item<double>()
            << " on " << test.size(0) << " clips\ncheckpoint: " << out << "/checkpoint.safetensors\n";
}

// Accuracy, inception score, FD and k-NN precision/recall against held-out real clips, plus the
// fraction of silent clips (peak below 1% of full scale) and of clipped samples (|x| >= 0.999).
Json score(MelClassifier& c, const MelConfig& mel, const torch::Tensor& real_features, const torch::Tensor& waves,
           const torch::Tensor& labels) {
  const auto [logits, f] = classify(c, mel, waves);
  const auto [p, r] = precision_recall(real_features, f);
  return {{"n", waves.size(0)}, {"accuracy", (logits.argmax(1) == labels).to(torch::kFloat64).mean().item<double>()},
          {"inception_score", inception_score(logits)}, {"fd", frechet_distance(f, real_features)},
          {"precision", p}, {"recall", r},
          {"silent_fraction", (std::get<0>(waves.abs().max(1)) < 0.01).to(torch::kFloat64).mean().item<double>()},
          {"clipped_fraction", (waves.abs() >= 0.999).to(torch::kFloat64).mean().item<double>()}};
}

void eval(const Json& a) {
  // A wrong checkpoint is refused before the real data is loaded and scored.
  if (const std::string ck = a.value("checkpoint", std::string()); !ck.empty()) load_model_checkpoint(ck, "audio", "dit");
  auto clf = load_classifier(a.at("classifier"));
  const auto ck = load_checkpoint(a.at("classifier"));
  const auto cmel = mel_config_from_json(ck.recipe.at("mel"));
  auto sd = load_spoken_digits(ck.recipe.value("data", Json{{"dataset", "spoken-digits"}}));
  const auto& test = sd.test;
  const auto [real_logits, real_f] = classify(clf, cmel, test.waves);
  Json j = {{"classifier", a.at("classifier")}, {"held_out_clips", test.waves.size(0)}};
  if (a.value("calibrate", false)) {
    // Half the held-out clips against the other half, the Griffin-Lim round trip, white noise.
    const int64_t h = test.waves.size(0) / 2;
    at::Generator split_gen = at::detail::createCPUGenerator(1);  // the same halves every run
    const auto idx = torch::randperm(test.waves.size(0), split_gen);
    const auto first = idx.slice(0, 0, h), second = idx.slice(0, h);
    const auto real_half = real_f.index_select(0, second);
    j["real_held_out"] = score(clf, cmel, real_half, test.waves.index_select(0, first), test.labels.index_select(0, first));
    MelConfig gl;  // the Griffin-Lim round trip at the default settings
    const auto w = test.waves.index_select(0, first);
    const auto t0 = std::chrono::steady_clock::now();
    const auto rt = decode(mels_of(w, gl), gl, w.size(1), 64);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    j["griffin_lim_round_trip"] = score(clf, cmel, real_half, rt, test.labels.index_select(0, first));
    j["griffin_lim_round_trip"]["spectral_convergence"] = spectral_convergence(w, rt, gl).mean().item<double>();
    j["griffin_lim_round_trip"]["seconds_per_audio_second"] = secs / (double(w.numel()) / double(gl.sample_rate));
    if (const auto vp = a.value("vocoder", std::string()); !vp.empty()) {
      auto v = load_vocoder(vp);
      const auto t1 = std::chrono::steady_clock::now();
      const auto vr = vocode(v, mels_of(w, v->mel()), v->mel(), w.size(1));
      const double vsecs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
      j["vocoder_round_trip"] = score(clf, cmel, real_half, vr, test.labels.index_select(0, first));
      j["vocoder_round_trip"]["spectral_convergence"] = spectral_convergence(w, vr, gl).mean().item<double>();
      j["vocoder_round_trip"]["seconds_per_audio_second"] = vsecs / (double(w.numel()) / double(gl.sample_rate));
      j["vocoder_round_trip"]["vocoder"] = vp;
    }
    at::Generator gen = at::detail::createCPUGenerator(0);
    const auto noise = torch::rand(w.sizes(), gen) - 0.5;
    j["white_noise"] = score(clf, cmel, real_half, noise, test.labels.index_select(0, first));
  }
  if (!a.value("checkpoint", std::string()).empty()) {
    const std::string path = a.at("checkpoint");
    const int64_t per_class = a.value("n_per_class", int64_t(50));
    const int64_t classes = int64_t(load_checkpoint(path).recipe.at("classes").size());
    Json sa = a;
    sa.erase("label");  // cycle through the classes
    const auto g = sample_audio(sa, per_class * classes);
    auto s = score(clf, cmel, real_f, g.waves, torch::tensor(g.labels, torch::kLong));
    const double audio_s = double(g.waves.numel()) / double(g.rate);
    s["checkpoint"] = path;
    s["sampler"] = a.value("sampler", std::string("dpmpp_2m"));
    s["steps"] = a.value("steps", int64_t(20));
    s["cfg"] = a.value("cfg", 3.0);
    s["seconds"] = g.seconds;
    s["seconds_per_audio_second"] = g.seconds / audio_s;
    s["decoder"] = g.decoder;
    j["samples"] = s;
  }
  std::cout << j.dump(2) << "\n";
}

}  // namespace

PipelineCommands audio_pipeline() { return {train, sample_cmd, eval, nullptr}; }
PipelineCommands audio_classifier_pipeline() { return {train_classifier, nullptr, nullptr, nullptr}; }
PipelineCommands audio_vocoder_pipeline() { return {train_vocoder, nullptr, nullptr, nullptr}; }

}  // namespace diffuse::audio
