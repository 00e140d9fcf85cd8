// The audio pipeline through the CLI: spoken digits from espeak-ng (a small set), classifier and
// DiT training, sampling WAVs (checked by libsndfile), evaluation, and the refusals.
#include <gtest/gtest.h>
#include <sndfile.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>

#include "tests/apps/cli_util.h"
#include "core/json.h"
#include "core/train/checkpoint.h"

namespace {

using diffuse::test::run;

TEST(CliAudio, ClassifierDitSampleEvalRoundTrip) {
  if (std::system("espeak-ng --version > /dev/null 2>&1") != 0) GTEST_SKIP() << "espeak-ng not installed";
  const diffuse::test::TempDir tmp("cli_audio");
  const std::string d = tmp.path;
  auto diffuse = [&](const std::string& args) { return run(args); };
  setenv("DIFFUSE_DATA", (d + "/cache").c_str(), 1);
  auto r = diffuse("train audio-classifier --espeak-variants 2 --steps 3 --batch 16 --out " + d + "/clf");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("held-out accuracy"), std::string::npos) << r.out;
  r = diffuse("train audio --espeak-variants 2 --steps 3 --batch 8 --out " + d + "/dit");
  ASSERT_EQ(r.code, 0) << r.out;
  const std::string ck = d + "/dit/checkpoint.safetensors";
  // A new model's shape: --patch, --width, --depth (refused where they cannot apply).
  r = diffuse("train audio --espeak-variants 2 --steps 1 --batch 4 --patch 4 --width 32 --depth 2 --out " + d + "/dit-shaped");
  ASSERT_EQ(r.code, 0) << r.out;
  {
    const auto c = diffuse::load_checkpoint(d + "/dit-shaped/checkpoint.safetensors").recipe.at("model").at("config");
    EXPECT_EQ(c.at("patch"), diffuse::Json::array({4}));
    EXPECT_EQ(c.at("input_size"), diffuse::Json::array({64}));
    EXPECT_EQ(c.at("hidden"), 32);
    EXPECT_EQ(c.at("depth"), 2);
  }
  r = diffuse("train audio --espeak-variants 2 --steps 1 --width 36 --out " + d + "/dit-odd");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("--width 36: must be a multiple of 8"), std::string::npos) << r.out;
  r = diffuse("train audio --init " + ck + " --steps 1 --width 256 --out " + d + "/dit-init-wide");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("--width: shapes a new model; a resumed or --init run keeps its model's"), std::string::npos) << r.out;
  r = diffuse("train audio --init " + ck + " --espeak-variants 2 --steps 1 --batch 4 --out " + d + "/dit-init");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(diffuse::load_checkpoint(d + "/dit-init/checkpoint.safetensors").recipe.at("init"), ck);  // the recipe names its start
  r = diffuse("sample audio --checkpoint " + ck + " --label seven --n 2 --steps 3 --out " + d + "/seven.wav");
  ASSERT_EQ(r.code, 0) << r.out;
  for (const char* f : {"/seven_0.wav", "/seven_1.wav"}) {
    SF_INFO info{};
    SNDFILE* s = sf_open((d + f).c_str(), SFM_READ, &info);
    ASSERT_NE(s, nullptr) << f;
    EXPECT_EQ(info.samplerate, 16000);
    EXPECT_EQ(info.channels, 1);
    EXPECT_EQ(info.frames, 16000);
    EXPECT_EQ(info.format, SF_FORMAT_WAV | SF_FORMAT_PCM_16);
    sf_close(s);
  }
  r = diffuse("sample audio --checkpoint " + ck + " --label 7 --n 1 --steps 2 --format pcm24 --out " + d + "/one.flac");
  ASSERT_EQ(r.code, 0) << r.out;
  r = diffuse("sample audio --checkpoint " + ck + " --label seven --n 2 --steps 3 --out " + d + "/seven.wav");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find(d + "/seven_0.wav: exists; pass --force to overwrite"), std::string::npos) << r.out;
  r = diffuse("sample audio --checkpoint " + ck + " --label siebzehn --out " + d + "/x.wav");
  EXPECT_NE(r.out.find("unknown class 'siebzehn'; one of: 0=zero"), std::string::npos) << r.out;
  r = diffuse("sample audio --checkpoint " + ck + " --seconds 3 --out " + d + "/x.wav");
  EXPECT_NE(r.out.find("this model generates 1.000 s clips"), std::string::npos) << r.out;
  // The learned decoder: trained by diffuse, chosen with --decoder, scored by --calibrate.
  r = diffuse("train audio-vocoder --espeak-variants 2 --steps 3 --batch 4 --out " + d + "/voc");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("held-out spectral convergence"), std::string::npos) << r.out;
  const std::string voc = d + "/voc/checkpoint.safetensors";
  // Trained against its discriminators by default: they are in the checkpoint, and export drops them.
  {
    const auto c = diffuse::load_checkpoint(voc);
    EXPECT_TRUE(std::any_of(c.model.begin(), c.model.end(), [](const auto& kv) { return kv.first.rfind("discriminator.", 0) == 0; }));
    EXPECT_EQ(c.recipe.at("model").at("loss").at("gan"), "least squares");
  }
  r = diffuse("model export " + voc + " " + d + "/voc.safetensors");
  ASSERT_EQ(r.code, 0) << r.out;
  {
    const auto c = diffuse::load_checkpoint(d + "/voc.safetensors");
    for (const auto& [k, t] : c.model) EXPECT_NE(k.rfind("discriminator.", 0), 0u) << k;
    EXPECT_FALSE(c.recipe.at("model").contains("train_only"));
  }
  // A resume restores the discriminator too (its settings from the run's recipe).
  r = diffuse("train audio-vocoder --espeak-variants 2 --resume " + voc + " --steps 4 --batch 4 --out " + d + "/voc-resumed");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(diffuse::load_checkpoint(d + "/voc-resumed/checkpoint.safetensors").step, 4);
  r = diffuse("train audio-vocoder --adversarial off --resume " + voc + " --steps 4 --out " + d + "/voc-off");
  EXPECT_NE(r.out.find("--resume " + voc + ": trained with --adversarial on; resume it the same way"), std::string::npos) << r.out;
  // Refused before the clips are rendered.
  r = diffuse("train audio-vocoder --precision bf16 --espeak-variants 2 --out " + d + "/voc-bf16");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("train audio-vocoder: --precision bf16 is not supported"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("clips"), std::string::npos) << r.out;
  r = diffuse("train audio-vocoder --init " + ck + " --out " + d + "/voc-dit");
  EXPECT_NE(r.out.find("not a vocoder checkpoint"), std::string::npos) << r.out;
  // A fine-tune keeps the model's mel normalisation and records where it started.
  r = diffuse("train audio-vocoder --init " + d + "/voc.safetensors --adversarial off --espeak-variants 2 --steps 1 --batch 2 --out " + d + "/voc2");
  ASSERT_EQ(r.code, 0) << r.out;
  {
    const auto c = diffuse::load_checkpoint(d + "/voc2/checkpoint.safetensors");
    EXPECT_EQ(c.recipe.at("init"), d + "/voc.safetensors");
    EXPECT_EQ(c.recipe.at("mel"), diffuse::load_checkpoint(voc).recipe.at("mel"));
  }
  r = diffuse("sample audio --checkpoint " + ck + " --label 3 --steps 2 --decoder " + voc + " --out " + d + "/voc.wav");
  ASSERT_EQ(r.code, 0) << r.out;
  SF_INFO vinfo{};
  SNDFILE* vs = sf_open((d + "/voc.wav").c_str(), SFM_READ, &vinfo);
  ASSERT_NE(vs, nullptr);
  EXPECT_EQ(vinfo.frames, 16000);
  sf_close(vs);
  r = diffuse("sample audio --checkpoint " + ck + " --decoder " + d + "/none.safetensors --out " + d + "/x.wav");
  EXPECT_NE(r.out.find("--decoder " + d + "/none.safetensors: no such vocoder checkpoint"), std::string::npos) << r.out;
  r = diffuse("sample audio --checkpoint " + ck + " --decoder " + ck + " --out " + d + "/x.wav");
  EXPECT_NE(r.out.find("not a vocoder checkpoint"), std::string::npos) << r.out;
  r = diffuse("eval audio " + ck + " --classifier " + d + "/clf/checkpoint.safetensors --vocoder " + voc +
              " --n-per-class 1 --steps 2 --calibrate --json --contact-sheet " + d + "/sheet.png");
  ASSERT_EQ(r.code, 0) << r.out;
  const auto j = diffuse::Json::parse(r.out);
  // The contact sheet: a PNG of 10 rows (64 bands, 2 px apart) of 4 real and 4 generated log-mels
  // (63 frames, 2 px apart, 8 between the sides), its size read from the IHDR chunk.
  EXPECT_EQ(j.at("samples").at("contact_sheet"), d + "/sheet.png");
  {
    std::ifstream png(d + "/sheet.png", std::ios::binary);
    std::string head(24, '\0');
    png.read(head.data(), 24);
    ASSERT_EQ(head.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
    EXPECT_EQ(head.substr(12, 4), "IHDR");
    auto be32 = [&](size_t o) { return (uint32_t(uint8_t(head[o])) << 24) | (uint32_t(uint8_t(head[o + 1])) << 16) | (uint32_t(uint8_t(head[o + 2])) << 8) | uint8_t(head[o + 3]); };
    EXPECT_EQ(be32(16), 8u * 63 + 6 * 2 + 8);
    EXPECT_EQ(be32(20), 10u * 66 - 2);
  }
  r = diffuse("eval audio " + ck + " --classifier " + d + "/clf/checkpoint.safetensors --n-per-class 1 --steps 2 --contact-sheet " + d + "/sheet.png");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find(d + "/sheet.png: exists; pass --force to overwrite"), std::string::npos) << r.out;
  EXPECT_EQ(j.at("samples").at("n").get<int>(), 10);
  EXPECT_TRUE(j.at("vocoder_round_trip").contains("spectral_convergence"));
  // The judge trained on the judge's speakers, its reference their held-out split; the degraded rows.
  EXPECT_EQ(j.at("reference"), "spoken-digits-judge");
  EXPECT_EQ(j.at("held_out_clips").get<int>(), 60);  // 3 of 8 speakers x 10 digits x 2 renderings
  EXPECT_TRUE(j.contains("held_out_accuracy"));
  for (const char* k : {"real_held_out", "griffin_lim_round_trip", "vocoder_round_trip", "noise_snr_20db", "noise_snr_10db", "noise_snr_0db",
                        "low_pass_4khz", "time_reversed", "white_noise", "samples"}) {
    EXPECT_TRUE(j.at(k).contains("fd")) << k;
    EXPECT_TRUE(j.at(k).contains("inception_score")) << k;
    EXPECT_TRUE(j.at(k).contains("inception_score_ratio")) << k;
  }
  EXPECT_DOUBLE_EQ(j.at("real_held_out").at("inception_score_ratio").get<double>(), 1.0);
  EXPECT_LT(j.at("griffin_lim_round_trip").at("spectral_convergence").get<double>(), 0.6);
}

}  // namespace
