// Audio modality: WAV/FLAC round trips checked through libsndfile and an independent RIFF parser,
// refusals, resampling, the mel filter bank, Griffin-Lim and the dataset loaders.
#include <gtest/gtest.h>
#include <sndfile.h>
#include <torch/torch.h>

#include <cmath>
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <chrono>
#include <thread>

#include "modalities/audio/audio_pipeline.h"
#include "modalities/audio/augment.h"
#include "core/train/checkpoint.h"
#include "core/json.h"
#include "tests/core/test_util.h"
#include "core/files.h"
#include "modalities/audio/dataset.h"
#include "modalities/audio/io.h"
#include "modalities/audio/options.h"
#include "modalities/audio/spectrogram.h"
#include "modalities/audio/vocoder.h"

namespace diffuse::audio {
namespace {

namespace fs = std::filesystem;

std::string temp_dir() {
  const auto d = fs::temp_directory_path() / "diffuse_audio_test";
  fs::create_directories(d);
  return d.string();
}

torch::Tensor sine(double hz, int64_t rate, int64_t n, double amp = 0.5) {
  return amp * torch::sin(2 * M_PI * hz * torch::arange(n, torch::kFloat64) / double(rate)).to(torch::kFloat32);
}

// The fmt chunk of a RIFF/WAVE file read byte by byte, without libsndfile.
struct WavHeader {
  int format = 0, channels = 0, rate = 0, bits = 0;
  uint32_t data_bytes = 0;
};
WavHeader parse_wav(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string b((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto u16 = [&](size_t o) { return int(uint8_t(b[o])) | int(uint8_t(b[o + 1])) << 8; };
  auto u32 = [&](size_t o) { return uint32_t(u16(o)) | uint32_t(u16(o + 2)) << 16; };
  WavHeader h;
  if (b.size() < 12 || b.compare(0, 4, "RIFF") != 0 || b.compare(8, 4, "WAVE") != 0) return h;
  for (size_t o = 12; o + 8 <= b.size();) {
    const std::string id = b.substr(o, 4);
    const uint32_t size = u32(o + 4);
    if (id == "fmt ") {
      h.format = u16(o + 8);
      h.channels = u16(o + 10);
      h.rate = int(u32(o + 12));
      h.bits = u16(o + 22);
      if (h.format == 0xFFFE) h.format = u16(o + 32);  // WAVE_FORMAT_EXTENSIBLE: the sub-format GUID
    } else if (id == "data") {
      h.data_bytes = size;
    }
    o += 8 + size + (size & 1);
  }
  return h;
}

TEST(AudioIo, WavRoundTripsAndHeadersAgreeWithAnIndependentParser) {
  const auto dir = temp_dir();
  const auto x = torch::stack({sine(440, 16000, 1600), sine(660, 16000, 1600, 0.25)});
  struct Case {
    SampleFormat f;
    int bits, format_tag;
    double tol;
  };
  for (const auto& c : {Case{SampleFormat::kPcm16, 16, 1, 1.0 / 32767}, Case{SampleFormat::kPcm24, 24, 1, 1.0 / 8388607},
                        Case{SampleFormat::kFloat, 32, 3, 1e-7}}) {
    const std::string path = dir + "/x" + std::to_string(c.bits) + ".wav";
    AudioWriteOptions o;
    o.format = c.f;
    o.force = true;
    const auto rep = write_audio(path, x, 16000, o);
    EXPECT_FALSE(rep.protected_from_clipping);
    const auto h = parse_wav(path);
    EXPECT_EQ(h.format, c.format_tag);
    EXPECT_EQ(h.channels, 2);
    EXPECT_EQ(h.rate, 16000);
    EXPECT_EQ(h.bits, c.bits);
    EXPECT_EQ(h.data_bytes, uint32_t(1600 * 2 * c.bits / 8));
    SF_INFO info{};
    SNDFILE* f = sf_open(path.c_str(), SFM_READ, &info);
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(info.frames, 1600);
    EXPECT_EQ(info.samplerate, 16000);
    sf_close(f);
    const auto back = read_audio(path, 0, false);
    EXPECT_EQ(back.rate, 16000);
    ASSERT_EQ(back.samples.sizes(), x.sizes());
    EXPECT_LE((back.samples - x).abs().max().item<double>(), c.tol);
  }
  // FLAC, and mono mixing on read.
  write_audio(dir + "/x.flac", x, 16000, {SampleFormat::kPcm16, false, true});
  const auto m = read_audio(dir + "/x.flac");
  EXPECT_EQ(m.samples.size(0), 1);
  EXPECT_LE((m.samples[0] - x.mean(0)).abs().max().item<double>(), 2.0 / 32767);
}

TEST(AudioIo, ClippingProtectionNormalisationAndRefusals) {
  const auto dir = temp_dir();
  const auto loud = sine(440, 16000, 800, 2.0);
  const auto rep = write_audio(dir + "/loud.wav", loud, 16000, {SampleFormat::kPcm16, false, true});
  EXPECT_TRUE(rep.protected_from_clipping);
  EXPECT_NEAR(rep.peak, 2.0, 1e-3);
  EXPECT_NEAR(read_audio(dir + "/loud.wav").samples.abs().max().item<double>(), 0.999, 1e-3);
  const auto n = write_audio(dir + "/norm.wav", sine(440, 16000, 800, 0.1), 16000, {SampleFormat::kFloat, true, true});
  EXPECT_NEAR(n.gain * 0.1, std::pow(10.0, -1.0 / 20.0), 1e-3);
  // The same float samples give the same bytes (libsndfile's PEAK chunk would stamp the time).
  const auto before = read_file(dir + "/norm.wav");
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  write_audio(dir + "/norm.wav", sine(440, 16000, 800, 0.1), 16000, {SampleFormat::kFloat, true, true});
  EXPECT_EQ(read_file(dir + "/norm.wav"), before);

  test::expect_throw_containing([&] { write_audio(dir + "/loud.wav", loud, 16000); }, "loud.wav: exists; pass --force");
  test::expect_throw_containing([&] { write_audio(dir + "/a.mp3", loud, 16000); }, "a.mp3: unsupported audio format '.mp3'");
  test::expect_throw_containing([&] { write_audio(dir + "/a.flac", loud, 16000, {SampleFormat::kFloat, false, true}); }, "FLAC stores integer");
  std::ofstream(dir + "/text.wav") << "this is not audio";
  test::expect_throw_containing([&] { read_audio(dir + "/text.wav"); }, "text.wav: not a readable audio file");
  std::ofstream(dir + "/empty.wav");
  test::expect_throw_containing([&] { read_audio(dir + "/empty.wav"); }, "empty.wav:");
  write_audio(dir + "/zero.wav", torch::zeros({1, 1}), 16000, {SampleFormat::kPcm16, false, true});
  // A header with no frames: rewrite the data chunk size to 0 and cut the file there.
  {
    std::ifstream in(dir + "/zero.wav", std::ios::binary);
    std::string b((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto pos = b.find("data");
    ASSERT_NE(pos, std::string::npos);
    b = b.substr(0, pos + 8);
    std::memset(&b[pos + 4], 0, 4);
    std::ofstream(dir + "/zero.wav", std::ios::binary) << b;
  }
  test::expect_throw_containing([&] { read_audio(dir + "/zero.wav"); }, "zero.wav: ");
  test::expect_throw_containing([&] { write_audio(dir + "/nan.wav", torch::full({10}, NAN), 16000); }, "NaN");
  // Files a dataset must not take: cut short, a header claiming 4 GB, a 1 GHz sample rate.
  write_audio(dir + "/whole.wav", sine(440, 16000, 8000), 16000, {SampleFormat::kPcm16, false, true});
  std::string whole;
  {
    std::ifstream in(dir + "/whole.wav", std::ios::binary);
    whole.assign((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  const auto data = whole.find("data");
  ASSERT_NE(data, std::string::npos);
  std::ofstream(dir + "/cut.wav", std::ios::binary) << whole.substr(0, whole.size() / 2);
  test::expect_throw_containing([&] { read_audio(dir + "/cut.wav"); }, "cut.wav: truncated (");
  auto patched = [&](const std::string& name, size_t at, uint32_t v) {
    std::string b = whole;
    std::memcpy(&b[at], &v, 4);
    std::ofstream(dir + "/" + name, std::ios::binary) << b;
    return dir + "/" + name;
  };
  const auto huge = patched("huge.wav", data + 4, 0xFFFFFFF0u);
  test::expect_throw_containing([&] { read_audio(huge); }, "huge.wav: ");
  const auto fast = patched("fast.wav", whole.find("fmt ") + 12, 1000000000u);
  test::expect_throw_containing([&] { read_audio(fast); }, "fast.wav: sample rate 1000000000 Hz; expected 1000 to 768000 Hz");
}

// The judge's degradations do what they say: the SNR asked for, nothing above the cutoff, the
// pitch moved with the speed, a room that keeps the level; the training mix follows its generator.
TEST(Augment, DegradationsMeasureWhatTheySay) {
  const auto x = torch::stack({sine(440, 16000, 16000), sine(440, 16000, 16000, 0.1)}) + torch::stack({sine(6000, 16000, 16000, 0.2), sine(6000, 16000, 16000, 0.02)});
  at::Generator gen = at::detail::createCPUGenerator(3);
  const auto noisy = add_noise(x, 10, gen);
  const auto snr = 10 * torch::log10(x.pow(2).mean(1) / (noisy - x).pow(2).mean(1));
  EXPECT_NEAR(snr[0].item<double>(), 10.0, 0.2);
  EXPECT_NEAR(snr[1].item<double>(), 10.0, 0.2) << "relative to each clip's own level";
  const auto peak_hz = [](const torch::Tensor& w) { return torch::fft::rfft(w).abs().argmax(-1).to(torch::kFloat64) * 16000.0 / double(w.size(-1)); };
  const auto band = [](const torch::Tensor& w, int64_t lo, int64_t hi) { return torch::fft::rfft(w).abs().slice(-1, lo, hi).pow(2).sum().item<double>(); };
  const auto lp = low_pass(x, 4000, 16000);
  EXPECT_LT(band(lp, 4001, 8001), 1e-6 * band(x, 4001, 8001));
  EXPECT_NEAR(band(lp, 0, 4000), band(x, 0, 4000), 1e-3 * band(x, 0, 4000));
  const auto fast = change_speed(sine(400, 16000, 16000).unsqueeze(0), 1.25);
  EXPECT_EQ(fast.sizes(), (torch::IntArrayRef{1, 16000}));
  EXPECT_NEAR(peak_hz(fast.slice(1, 2000, 14000))[0].item<double>(), 500.0, 2.0);
  const auto room = reverberate(x, 0.05, 0.5, 16000, gen);
  EXPECT_EQ(room.sizes(), x.sizes());
  EXPECT_GT((room - x).abs().max().item<double>(), 0.01);
  EXPECT_NEAR(room[1].pow(2).mean().sqrt().item<double>() / x[1].pow(2).mean().sqrt().item<double>(), 1.0, 1e-4);
  at::Generator g1 = at::detail::createCPUGenerator(7), g2 = at::detail::createCPUGenerator(7);
  const auto a1 = augment_speech(x, 16000, g1), a2 = augment_speech(x, 16000, g2);
  EXPECT_EQ(a1.sizes(), x.sizes());
  EXPECT_TRUE(torch::equal(a1, a2));
  EXPECT_GT((a1 - x).abs().max().item<double>(), 0.01);
}

// The judge's speakers are ones the generator's set never renders: only its held-out variants or a
// voice it does not use; and both of the judge's splits have speakers, even on a small set.
TEST(SpokenDigits, TheJudgesSpeakersAreNotTheGenerators) {
  const SpokenDigitsOptions gen;
  const auto judge = judge_digits_options();
  EXPECT_EQ(std::count(gen.voices.begin(), gen.voices.end(), "en-us-nyc"), 0);
  EXPECT_LT(judge.pitch_min, gen.pitch_min);
  EXPECT_GT(judge.speed_max, gen.speed_max);
  int train = 0, test = 0;
  for (size_t i = 0; i < judge.voices.size(); ++i) {
    const bool generator_voice = std::count(gen.voices.begin(), gen.voices.end(), judge.voices[i]) > 0;
    for (size_t v = 0; v < 101; ++v) {
      const int split = judge.split(i, v);
      const bool generator_trains_on_it = generator_voice && v % size_t(gen.test_every) != 0;
      if (generator_trains_on_it) {
        EXPECT_EQ(split, -1) << judge.voices[i] << " variant " << v;
      }
      train += split == 0;
      test += split == 1;
      if (v == 0) {
        EXPECT_GE(split, 0);  // --espeak-variants 1 or 2 still has both splits
      }
    }
  }
  EXPECT_EQ(train + test, 8 * 21);
  EXPECT_EQ(test, 56);
}

TEST(Resample, MatchesTheAnalyticSineAwayFromTheEdges) {
  const auto x = sine(1000, 22050, 22050);
  const auto y = resample(x, 22050, 16000);
  ASSERT_EQ(y.size(0), 16000);
  const auto ref = sine(1000, 16000, 16000);
  EXPECT_LT((y - ref).slice(0, 200, 15800).abs().max().item<double>(), 2e-3);
  // Content above the new Nyquist frequency is removed (a 10 kHz tone mostly vanishes at 16 kHz).
  EXPECT_LT(resample(sine(10000, 44100, 44100), 44100, 16000).slice(0, 200, 15800).abs().max().item<double>(), 0.02);
  EXPECT_TRUE(torch::equal(resample(x, 16000, 16000), x));
}

TEST(Spectrogram, MelBasisPeaksInOrderAndSineLandsInItsBand) {
  MelConfig c;
  const auto w = mel_basis(c);
  ASSERT_EQ(w.sizes(), (std::vector<int64_t>{64, 513}));
  const auto peaks = w.argmax(1);
  for (int64_t m = 1; m < 64; ++m) EXPECT_GE(peaks[m].item<int64_t>(), peaks[m - 1].item<int64_t>());
  // Slaney area normalisation: each filter integrates to about 1 over Hz (upper, wide filters).
  const double df = 8000.0 / 512;
  EXPECT_NEAR(w[40].sum().item<double>() * df, 1.0, 0.05);
  const auto lm = log_mel(sine(1000, 16000, 16000).unsqueeze(0), c);
  ASSERT_EQ(lm.sizes(), (std::vector<int64_t>{1, 64, 63}));
  const int64_t band = lm[0].mean(1).argmax().item<int64_t>();
  const int64_t bin_1k = int64_t(std::lround(1000.0 / df));
  EXPECT_GT(w[band][bin_1k].item<double>(), 0.0);  // the loudest band's filter covers 1 kHz
}

// The adversarial vocoder's parts: the LSGAN and feature-matching losses by their definitions, the
// discriminators' shapes, each side's gradient from its own loss only, and a discriminator that
// learns to tell real from generated.
TEST(VocoderGan, LossesDiscriminatorsAndGradientsAreEachSidesOwn) {
  torch::manual_seed(0);
  const Verdict real{torch::ones({2, 1, 3}), {torch::zeros({2, 4}), torch::ones({2, 1, 3})}};
  const Verdict fake{torch::zeros({2, 1, 3}), {torch::full({2, 4}, 0.5), torch::zeros({2, 1, 3})}};
  EXPECT_TRUE(torch::allclose(lsgan_discriminator_loss({real}, {fake}), torch::zeros({2})));           // a perfect judge
  EXPECT_TRUE(torch::allclose(lsgan_discriminator_loss({fake}, {real}), torch::full({2}, 2.0)));       // the reverse
  EXPECT_TRUE(torch::allclose(lsgan_generator_loss({fake, fake}), torch::full({2}, 2.0)));             // summed over judges
  EXPECT_TRUE(torch::allclose(feature_matching_loss({real}, {fake}), torch::full({2}, 0.5 + 1.0)));   // per map, summed

  WaveDiscriminator d{DiscriminatorConfig{}};
  const auto wave = 0.1 * torch::randn({2, 4001});
  const auto v = d->forward(wave);
  ASSERT_EQ(v.size(), 8u);  // periods 2, 3, 5, 7, 11, then n_fft 512, 1024, 2048
  EXPECT_EQ(v[0].score.size(3), 2);
  EXPECT_EQ(v[4].score.size(3), 11);
  EXPECT_EQ(v[4].features.size(), 6u);  // five convolutions and the score
  EXPECT_EQ(v[5].features.size(), 6u);
  EXPECT_EQ(v[7].score.size(0), 2);

  auto generated = (0.1 * torch::randn({2, 4001})).requires_grad_(true);
  auto losses = gan_losses(*d, wave, generated);
  losses.discriminator.sum().backward();
  EXPECT_FALSE(generated.grad().defined()) << "the discriminator's loss reached the generator";
  for (const auto& p : d->parameters()) {
    ASSERT_TRUE(p.grad().defined());
    EXPECT_TRUE(p.requires_grad());
    p.mutable_grad() = torch::Tensor();
  }
  losses = gan_losses(*d, wave, generated);
  losses.generator.sum().backward();
  ASSERT_TRUE(generated.grad().defined());
  EXPECT_GT(generated.grad().abs().sum().item<double>(), 0.0);
  for (const auto& p : d->parameters()) EXPECT_FALSE(p.grad().defined()) << "the generator's loss reached the discriminator";

  // A small discriminator learns to tell sines (real) from noise of the same level (generated).
  DiscriminatorConfig small;
  small.periods = {3};
  small.resolutions = {256};
  small.channels = 4;
  WaveDiscriminator judge(small);
  torch::optim::Adam opt(judge->parameters(), torch::optim::AdamOptions(2e-3));
  auto batch = [](int64_t n) {
    const auto t = torch::arange(2048, torch::kFloat) / 16000.0;
    const auto hz = 200 + 1800 * torch::rand({n, 1});
    const auto sines = 0.3 * torch::sin(2 * M_PI * hz * t + 6.28 * torch::rand({n, 1}));
    return std::make_pair(sines, 0.3 / std::sqrt(2.0) * torch::randn({n, 2048}));
  };
  auto score = [&](const torch::Tensor& w) {
    double s = 0;
    for (const auto& x : judge->forward(w)) s += x.score.mean().item<double>();
    return s / 2;
  };
  const auto [test_real, test_noise] = batch(16);
  const double gap_before = score(test_real) - score(test_noise);
  for (int step = 0; step < 200; ++step) {
    const auto [r, f] = batch(8);
    opt.zero_grad();
    lsgan_discriminator_loss(judge->forward(r), judge->forward(f)).mean().backward();
    opt.step();
  }
  const double gap_after = score(test_real) - score(test_noise);
  EXPECT_GT(gap_after, 0.5) << "before training: " << gap_before;
}

TEST(Spectrogram, GriffinLimRecoversAWaveformWithTheSameMagnitudes) {
  MelConfig c;
  const auto x = (sine(300, 16000, 8000) + sine(900, 16000, 8000, 0.2) + sine(2100, 16000, 8000, 0.1)).unsqueeze(0);
  const auto mag = stft(x, c).abs();
  const auto y8 = griffin_lim(mag, c, 8000, 8), y64 = griffin_lim(mag, c, 8000, 64);
  const double sc8 = spectral_convergence(x, y8, c).item<double>(), sc64 = spectral_convergence(x, y64, c).item<double>();
  EXPECT_LT(sc64, 0.1);
  EXPECT_LT(sc64, sc8);  // more iterations converge further
  EXPECT_NEAR(spectral_convergence(x, x, c).item<double>(), 0.0, 1e-6);
  // Through the mel and back: the pseudo-inverse loses detail but keeps the structure.
  const auto from_mel = griffin_lim(mel_to_magnitude(log_mel(x, c), c), c, 8000, 64);
  EXPECT_LT(spectral_convergence(x, from_mel, c).item<double>(), 0.8);  // 0.62 measured; pure low tones are the hard case
  EXPECT_THROW(mel_config_from_json({{"n_fft", 1000}}), std::invalid_argument);
  EXPECT_THROW(mel_config_from_json({{"hops", 256}}), std::invalid_argument);
}

TEST(AudioDataset, FitClipCentresAndFolderReportsBadFiles) {
  auto w = torch::zeros({100});
  w.slice(0, 10, 20).fill_(0.8);
  const auto f = fit_clip(w, 30, 0.5);
  EXPECT_NEAR(f.slice(0, 10, 20).mean().item<double>(), 0.5, 1e-6);  // 10 loud samples centred in 30
  EXPECT_EQ(f.slice(0, 0, 10).abs().max().item<double>(), 0.0);
  const auto dir = temp_dir() + "/folder";
  fs::remove_all(dir);
  fs::create_directories(dir + "/hum");
  fs::create_directories(dir + "/beep");
  write_audio(dir + "/hum/a.wav", sine(100, 8000, 4000), 8000);
  write_audio(dir + "/beep/b.flac", sine(1000, 16000, 8000), 16000);
  std::ofstream(dir + "/beep/c.wav") << "junk";
  std::vector<BadAudio> bad;
  const auto ds = load_audio_folder(dir, 16000, 16000, true, &bad);
  EXPECT_EQ(ds.class_names, (std::vector<std::string>{"beep", "hum"}));
  ASSERT_EQ(ds.waves.sizes(), (std::vector<int64_t>{2, 16000}));
  EXPECT_TRUE(torch::equal(ds.labels, torch::tensor({0, 1}, torch::kLong)));
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_NE(bad[0].reason.find("c.wav: not a readable audio file"), std::string::npos);
  EXPECT_THROW(load_audio_folder(dir, 16000, 16000, false), std::runtime_error);
}

TEST(SpokenDigits, RendersBothSplitsWithEspeak) {
  if (std::system("espeak-ng --version > /dev/null 2>&1") != 0) GTEST_SKIP() << "espeak-ng not installed";
  SpokenDigitsOptions o;
  o.voices = {"en-us"};
  o.variants = 2;
  o.repeats = 1;
  o.test_every = 2;  // variant 0 held out, variant 1 trains
  const auto sd = generate_spoken_digits(o);
  ASSERT_EQ(sd.train.waves.sizes(), (std::vector<int64_t>{10, 16000}));
  ASSERT_EQ(sd.test.waves.size(0), 10);
  EXPECT_TRUE(torch::equal(sd.train.labels, torch::arange(10, torch::kLong)));
  EXPECT_NEAR(std::get<0>(sd.train.waves.abs().max(1)).min().item<double>(), 0.5, 1e-4);  // every clip has speech
  // Deterministic: the same seed renders the same clips.
  const auto again = generate_spoken_digits(o);
  EXPECT_TRUE(torch::equal(again.train.waves, sd.train.waves));
}

TEST(InstrumentNotes, RendersPitchedNotesWithFluidSynth) {
  if (std::system("fluidsynth --version > /dev/null 2>&1") != 0 || !fs::exists("/usr/share/sounds/sf2/FluidR3_GM.sf2")) {
    GTEST_SKIP() << "fluidsynth or fluid-soundfont-gm not installed";
  }
  InstrumentNotesOptions o;
  o.programs = {{"flute", 73}, {"organ", 19}};
  o.pitch_min = o.pitch_max = 69;  // A4: 440 Hz
  const auto ds = generate_instrument_notes(o);
  ASSERT_EQ(ds.waves.sizes(), (std::vector<int64_t>{2, 16000}));
  EXPECT_EQ(ds.class_names, (std::vector<std::string>{"flute", "organ"}));
  // The strongest partial of the held note sits on a harmonic of 440 Hz.
  for (int64_t i = 0; i < 2; ++i) {
    const auto spec = torch::fft_rfft(ds.waves[i].slice(0, 1600, 9600)).abs();  // 0.1 .. 0.6 s, 2 Hz bins
    const double f = spec.argmax().item<double>() * 16000.0 / 8000.0;
    const double harmonic = std::round(f / 440.0);
    EXPECT_GE(harmonic, 1.0) << f;
    EXPECT_NEAR(f / harmonic, 440.0, 440.0 * 0.02) << "peak at " << f << " Hz";
  }
}

// Sampling through the DiT pipeline with the shipped model, reproducible from the seed in any
// batch size, and its decoders' round trip: the log-mel of the decoded audio is the log-mel the
// model sampled (far closer than to another class's clip).
TEST(AudioPipeline, SamplesFromTheSeedInAnyBatchSizeAndDecodesToTheSampledSpectrogram) {
  const auto path = shipped_model_path("spoken-digits/dit.safetensors");
  SampleArgs a;
  a.checkpoint = path;
  a.seed = 5;
  a.steps = 4;
  a.label = "four";
  a.batch = 2;
  auto own = std::make_shared<AudioSampleOptions>();
  a.own = own;
  const auto g = sample_audio(a, 2);
  ASSERT_EQ(g.data.sizes(), (std::vector<int64_t>{2, 16000}));
  EXPECT_EQ(g.labels, (std::vector<int64_t>{4, 4}));
  EXPECT_EQ(g.info.at("decoder"), (fs::path(path).parent_path() / "vocoder.safetensors").string());
  a.batch = 1;
  const auto one = sample_audio(a, 1);
  EXPECT_LT((one.latents[0] - g.latents[0]).abs().max().item<double>(), 1e-4);
  const auto mel = mel_config_from_json(load_checkpoint(path).recipe.at("mel"));
  auto distance = [&](const torch::Tensor& waves, const torch::Tensor& mels) {
    return (log_mel(waves, mel).slice(2, 0, mels.size(2)) - mels).abs().mean().item<double>();
  };
  const double vocoded = distance(g.data, g.latents);
  own->decoder = "griffin-lim";
  a.label = "one";
  const auto gl = sample_audio(a, 2);
  EXPECT_EQ(gl.info.at("decoder"), "griffin-lim");
  const double griffin_lim = distance(gl.data, gl.latents), other = distance(gl.data, g.latents);
  // Measured: vocoder 0.25, Griffin-Lim 0.22, another clip 0.32 (log-mel L1). The decoders sit
  // closer to their own spectrogram than to another's, but not by much: a decode that drops the
  // spectrogram it was given lands at or above `other` and fails here.
  EXPECT_LT(vocoded, 0.9 * other) << "vocoder " << vocoded << ", another clip's spectrogram " << other;
  EXPECT_LT(griffin_lim, 0.9 * other) << "Griffin-Lim " << griffin_lim << ", another clip's spectrogram " << other;
  own->seconds = 2.0;
  test::expect_throw_containing<std::invalid_argument>([&] { sample_audio(a, 1); }, "--seconds 2: this model generates 1.000 s clips");
}

}  // namespace
}  // namespace diffuse::audio
