// The video pipeline through the CLI: training on Moving Fashion-MNIST, an MP4 that ffprobe
// reports as requested and that decodes back to the same frame count, GIF output, image-to-video
// from a first frame, the latent cache on resume, evaluation, refusals.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/json.h"
#include "core/train/checkpoint.h"
#include "modalities/image/io.h"
#include "modalities/image/vae.h"
#include "modalities/video/io.h"
#include "test_paths.h"
#include "tests/apps/cli_util.h"

namespace {

using diffuse::test::run;

std::string shell(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  pclose(p);
  return out;
}

// A fresh folder d with a 2-step VAE (d/vae), classifier (d/clf) and 8-frame video DiT (d/dit).
void small_video_run(const std::string& d) {
  for (const std::string& args : {"train vae --steps 2 --batch 8 --data-n 64 --out " + d + "/vae",
                                 "train classifier --steps 2 --batch 16 --data-n 64 --out " + d + "/clf",
                                 "train video --vae " + d + "/vae/checkpoint.safetensors --frames 8 --steps 2 --batch 2 --data-n 8 --out " + d + "/dit"}) {
    const auto r = run(args);
    ASSERT_EQ(r.code, 0) << args << "\n" << r.out;
  }
}

TEST(CliVideo, TrainSampleMp4EvalRoundTrip) {
  if (!std::ifstream("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")) GTEST_SKIP() << "dataset-fashion-mnist not installed";
  const diffuse::test::TempDir tmp("cli_video");
  const std::string d = tmp.path;
  ASSERT_NO_FATAL_FAILURE(small_video_run(d));
  diffuse::test::Result r;
  const std::string ck = d + "/dit/checkpoint.safetensors";
  r = run("sample video --checkpoint " + ck + " --class Sneaker --fps 12 --steps 2 --out " + d + "/clip.mp4");
  ASSERT_EQ(r.code, 0) << r.out;
  if (std::system("ffprobe -version > /dev/null 2>&1") == 0) {
    const auto j = diffuse::Json::parse(shell("ffprobe -v error -select_streams v:0 -count_frames -show_entries "
                                              "stream=codec_name,pix_fmt,nb_read_frames,r_frame_rate -of json " + d + "/clip.mp4"));
    const auto& s = j.at("streams").at(0);
    EXPECT_EQ(s.at("codec_name"), "h264");
    EXPECT_EQ(s.at("pix_fmt"), "yuv420p");
    EXPECT_EQ(s.at("nb_read_frames"), "8");
    EXPECT_EQ(s.at("r_frame_rate"), "12/1");
  }
  const auto back = diffuse::video::read_video(d + "/clip.mp4");
  EXPECT_EQ(back.frames.size(0), 8);
  EXPECT_NEAR(back.fps, 12.0, 1e-6);
  r = run("sample video --checkpoint " + ck + " --class Sneaker --steps 2 --out " + d + "/clip.mp4");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find(d + "/clip.mp4: exists; pass --force to overwrite"), std::string::npos) << r.out;
  // The recipe records the clip count, so a resume trains on the same clips without being told
  // and reads the run's cached latents instead of encoding the clips again; it refuses other data.
  EXPECT_EQ(diffuse::load_checkpoint(ck).recipe.at("data").at("clips"), 8);
  r = run("train video --resume " + ck + " --steps 3 --batch 2 --out " + d + "/dit2");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("latents from " + d + "/dit/latents.safetensors"), std::string::npos) << r.out;
  r = run("train video --resume " + ck + " --steps 3 --batch 2 --data-n 6 --out " + d + "/dit2");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("--data-n 6: " + ck + " trains on 8 clips; start a fine-tune with --init instead"), std::string::npos) << r.out;
  // A run on other data (fewer clips) does not reuse latents left in its folder.
  std::filesystem::create_directories(d + "/dit3");
  std::filesystem::copy_file(d + "/dit/latents.safetensors", d + "/dit3/latents.safetensors");
  r = run("train video --vae " + d + "/vae/checkpoint.safetensors --frames 8 --steps 1 --batch 2 --data-n 6 --out " + d + "/dit3");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find(d + "/dit3/latents.safetensors: written for other data or another VAE; encoding again"), std::string::npos) << r.out;
  EXPECT_EQ(diffuse::load_checkpoint(d + "/dit3/checkpoint.safetensors").recipe.at("data").at("clips"), 6);
  // The same VAE under another name (as a fine-tune names its model's VAE) reuses them.
  std::filesystem::create_directories(d + "/dit5");
  std::filesystem::copy_file(d + "/dit/latents.safetensors", d + "/dit5/latents.safetensors");
  std::filesystem::copy_file(d + "/vae/checkpoint.safetensors", d + "/vae-copy.safetensors");
  r = run("train video --vae " + d + "/vae-copy.safetensors --frames 8 --steps 1 --batch 2 --data-n 8 --out " + d + "/dit5");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("latents from " + d + "/dit5/latents.safetensors"), std::string::npos) << r.out;
  // Joint image-video training: frame sets are drawn from the cached latents (same key) and the
  // share is kept in the recipe, so a later resume goes on with them.
  r = run("train video --resume " + ck + " --frame-sets 0.5 --steps 3 --batch 4 --data-n 8 --out " + d + "/dit4");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("latents from " + d + "/dit/latents.safetensors"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("16 frame sets (8 frames of one class from different clips"), std::string::npos) << r.out;
  EXPECT_EQ(diffuse::load_checkpoint(d + "/dit4/checkpoint.safetensors").recipe.at("data").at("frame_sets"), 0.5);
  // A factorised model resumes as a hybrid one (space-time blocks, same weights) and samples.
  r = run("train video --resume " + d + "/dit4/checkpoint.safetensors --attention hybrid --steps 4 --batch 4 --data-n 8 --out " + d + "/dit6");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(diffuse::load_checkpoint(d + "/dit6/checkpoint.safetensors").recipe.at("model").at("config").at("attention"), "hybrid");
  r = run("sample video --checkpoint " + d + "/dit6/checkpoint.safetensors --n 1 --steps 2 --out " + d + "/hybrid.mp4");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(diffuse::video::read_video(d + "/hybrid.mp4").frames.size(0), 8);
  // Cross-frame attention to the first frame: switched on by a resume (same weights), kept in the
  // recipe, reported by eval, and switched off again for sampling.
  r = run("train video --resume " + ck + " --anchor-frame on --steps 4 --batch 4 --data-n 8 --out " + d + "/dit8");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(diffuse::load_checkpoint(d + "/dit8/checkpoint.safetensors").recipe.at("model").at("config").at("anchor_frame"), true);
  r = run("sample video --checkpoint " + d + "/dit8/checkpoint.safetensors --anchor-frame off --temporal-guidance 1 --n 1 --steps 2 --out " +
          d + "/anchor.mp4");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(diffuse::video::read_video(d + "/anchor.mp4").frames.size(0), 8);
  // Exporting keeps the EMA weights and may switch it off again; a model without temporal blocks refuses.
  r = run("model export " + d + "/dit8/checkpoint.safetensors " + d + "/dit8-off.safetensors --anchor-frame off");
  ASSERT_EQ(r.code, 0) << r.out;
  const auto trained = diffuse::load_checkpoint(d + "/dit8/checkpoint.safetensors");
  const auto exported = diffuse::load_checkpoint(d + "/dit8-off.safetensors");
  EXPECT_EQ(exported.recipe.at("model").at("config").at("anchor_frame"), false);
  EXPECT_TRUE(exported.ema.empty());
  ASSERT_EQ(exported.model.size(), trained.model.size());
  for (const auto& [name, w] : trained.ema) EXPECT_TRUE(torch::equal(exported.model.at(name), w)) << name;
  r = run("model export " + d + "/vae/checkpoint.safetensors " + d + "/vae-anchor.safetensors --anchor-frame on");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("--anchor-frame: " + d + "/vae/checkpoint.safetensors is not a factorised or hybrid video DiT (attention full)"),
            std::string::npos) << r.out;
  EXPECT_FALSE(std::filesystem::exists(d + "/vae-anchor.safetensors"));
  r = run("train video --resume " + ck + " --attention spacetime --steps 3 --out " + d + "/dit7");
  EXPECT_NE(r.out.find("--attention: spacetime not in {factorized,hybrid}"), std::string::npos) << r.out;
  r = run("train video --resume " + ck + " --frame-sets 1 --steps 3 --data-n 8 --out " + d + "/dit5");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("--frame-sets 1.000000: must be in [0, 1)"), std::string::npos) << r.out;
  // Image-to-video: a 28 x 28 item centred on the canvas is every clip's first frame (as the VAE
  // reconstructs it); an 8-bit gray GIF keeps it to rounding.
  const auto item = torch::zeros({1, 28, 28});
  item.slice(1, 4, 24).slice(2, 8, 20).fill_(0.9);
  diffuse::image::write_image(d + "/item.png", item);
  r = run("sample video --checkpoint " + ck + " --first-frame " + d + "/item.png --n 2 --steps 4 --out " + d + "/i2v.gif");
  ASSERT_EQ(r.code, 0) << r.out;
  auto vae = diffuse::image::load_vae(d + "/vae/checkpoint.safetensors");
  torch::Tensor expected;
  {
    torch::NoGradGuard g;
    expected = vae->decode(vae->encode(torch::constant_pad_nd(item, {18, 18, 18, 18}, 0).unsqueeze(0)))[0].clamp(0, 1);
  }
  for (const char* f : {"/i2v_0.gif", "/i2v_1.gif"}) {
    const auto v = diffuse::video::read_video(d + f).frames;
    ASSERT_EQ(v.size(0), 8);
    EXPECT_GE(diffuse::video::video_psnr(v[0].mean(0, true), expected), 35.0) << f;
  }
  r = run("sample video --checkpoint " + ck + " --frames 16 --out " + d + "/x.mp4");
  EXPECT_NE(r.out.find("this model generates 8-frame clips"), std::string::npos) << r.out;
  r = run("sample video --checkpoint " + ck + " --out " + d + "/x.avi");
  EXPECT_NE(r.out.find("unsupported video format '.avi'"), std::string::npos) << r.out;
  // A video folder with a broken file trains on the rest (and fails with --on-bad fail).
  std::system(("mkdir -p " + d + "/folder/sneaker " + d + "/folder/other && cp " + d + "/clip.mp4 " + d + "/folder/sneaker/ && cp " + d +
               "/clip.mp4 " + d + "/folder/other/c.mp4 && echo junk > " + d + "/folder/other/bad.mp4").c_str());
  r = run("train video --vae " + d + "/vae/checkpoint.safetensors --data " + d + "/folder --frames 8 --steps 1 --batch 2 --out " + d + "/fdit");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("skipped " + d + "/folder/other/bad.mp4: not a readable video"), std::string::npos) << r.out;
  r = run("train video --vae " + d + "/vae/checkpoint.safetensors --data " + d + "/folder --on-bad fail --frames 8 --steps 1 --out " + d + "/fdit2");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("bad.mp4: not a readable video"), std::string::npos) << r.out;
  r = run("eval video " + ck + " --classifier " + d + "/clf/checkpoint.safetensors --n-per-class 1 --steps 2 --calibrate --json");
  ASSERT_EQ(r.code, 0) << r.out;
  const auto j = diffuse::Json::parse(r.out);
  EXPECT_EQ(j.at("samples").at("clips").get<int>(), 10);
  EXPECT_EQ(j.at("samples").at("anchor_frame"), false);
  EXPECT_EQ(j.at("samples").at("temporal_guidance"), 0.0);
  EXPECT_LT(j.at("real").at("smoothness_px").get<double>(), j.at("frame_shuffled").at("smoothness_px").get<double>());
  // The same real clips through the model's (barely trained) VAE: the same clips, further from the real ones.
  ASSERT_TRUE(j.contains("round_trip")) << r.out;
  EXPECT_EQ(j.at("round_trip").at("clips"), j.at("real").at("clips"));
  EXPECT_GT(j.at("round_trip").at("fd").get<double>(), 4 * j.at("real").at("fd").get<double>());
  r = run("eval video " + d + "/dit8/checkpoint.safetensors --classifier " + d + "/clf/checkpoint.safetensors --n-per-class 1 --steps 2 "
          "--temporal-guidance 0.5 --json");
  ASSERT_EQ(r.code, 0) << r.out;
  const auto anchored = diffuse::Json::parse(r.out).at("samples");
  EXPECT_EQ(anchored.at("anchor_frame"), true);
  EXPECT_EQ(anchored.at("temporal_guidance"), 0.5);
}

// Frame-rate conditioning: a fine-tune from a model without it (--init) learns clips filmed at
// several rates; sample and eval condition on --fps within that range and refuse outside it.
// `--vae` defaults to the shipped image VAE, as its help says (it used to be refused).
TEST(CliVideo, TrainWithoutVaeUsesTheShippedOne) {
  if (!std::ifstream("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")) GTEST_SKIP() << "dataset-fashion-mnist not installed";
  const diffuse::test::TempDir tmp("cli_video_vae");
  const auto r = run("train video --frames 8 --steps 1 --batch 2 --data-n 2 --out " + tmp.path + "/dit");
  ASSERT_EQ(r.code, 0) << r.out;
  const auto recipe = diffuse::load_checkpoint(tmp.path + "/dit/checkpoint.safetensors").recipe;
  EXPECT_EQ(std::filesystem::weakly_canonical(recipe.at("vae").get<std::string>()),
            std::filesystem::weakly_canonical(DIFFUSE_SOURCE_DIR "/models/fashion-mnist/vae.safetensors"));
}

TEST(CliVideo, FpsConditionedFineTuneSamplesAndScoresAtTheRatesItLearned) {
  if (!std::ifstream("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")) GTEST_SKIP() << "dataset-fashion-mnist not installed";
  const diffuse::test::TempDir tmp("cli_video_fps");
  const std::string d = tmp.path;
  ASSERT_NO_FATAL_FAILURE(small_video_run(d));
  diffuse::test::Result r;
  const std::string base = d + "/dit/checkpoint.safetensors", ck = d + "/fps/checkpoint.safetensors";
  r = run("train video --init " + base + " --fps-choices 4 8 16 --steps 2 --batch 4 --data-n 12 --out " + d + "/fps");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("frame rates: 4 ("), std::string::npos) << r.out;
  const auto tuned = diffuse::load_checkpoint(ck);
  EXPECT_EQ(tuned.step, 2);  // a new run
  EXPECT_EQ(tuned.recipe.at("data").at("fps"), diffuse::Json({4.0, 8.0, 16.0}));
  EXPECT_EQ(tuned.recipe.at("model").at("config").at("cond_dim"), 1);
  r = run("sample video --checkpoint " + ck + " --fps 4 --steps 2 --out " + d + "/slow.mp4");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NEAR(diffuse::video::read_video(d + "/slow.mp4").fps, 4.0, 1e-6);
  r = run("sample video --checkpoint " + ck + " --fps 30 --steps 2 --out " + d + "/fast.mp4");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("--fps 30: this model was trained at 4 to 16 fps"), std::string::npos) << r.out;
  EXPECT_FALSE(std::filesystem::exists(d + "/fast.mp4"));
  r = run("eval video " + ck + " --classifier " + d + "/clf/checkpoint.safetensors --fps 16 --n-per-class 1 --steps 2 --json");
  ASSERT_EQ(r.code, 0) << r.out;
  const auto j = diffuse::Json::parse(r.out);
  EXPECT_EQ(j.at("real_fps"), 16.0);
  EXPECT_EQ(j.at("samples").at("fps"), 16.0);
  EXPECT_EQ(j.at("samples").at("fps_conditioned"), true);
  r = run("eval video " + base + " --classifier " + d + "/clf/checkpoint.safetensors --fps 4 --n-per-class 1 --steps 2 --json");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("--fps 4: " + base + " is not conditioned on the frame rate (its items move as at 8 fps)"), std::string::npos) << r.out;
  r = run("train video --resume " + ck + " --fps-choices 4 8 --steps 3 --batch 4 --data-n 12 --out " + d + "/fps2");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("--fps-choices 4 8: a resume keeps the run's frame rates; start a fine-tune with --init instead"), std::string::npos)
      << r.out;
  r = run("train video --init " + base + " --fps-choices 8 --steps 2 --out " + d + "/fps3");
  EXPECT_NE(r.out.find("--fps-choices 8: give two or more frame rates"), std::string::npos) << r.out;
  // train image fine-tunes too, from an image model only; an option only video has is refused naming it.
  r = run("train image --init " + base + " --steps 2 --out " + d + "/img");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find(base + ": a video 'dit' model, expected an image 'dit' model"), std::string::npos) << r.out;
  r = run("train image --fps-choices 4 8 --steps 2 --out " + d + "/img");
  EXPECT_NE(r.out.find("--fps-choices: not an option of train image (train video has it)"), std::string::npos) << r.out;
}

// A first-frame-conditioned fine-tune (--condition first-frame): frame 0 from the image model,
// the user's image or a held-out item; eval reports identity to the first frame; refusals.
TEST(CliVideo, FirstFrameModelChainsAfterTheImageModel) {
  if (!std::ifstream("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")) GTEST_SKIP() << "dataset-fashion-mnist not installed";
  const diffuse::test::TempDir tmp("cli_video_first");
  const std::string d = tmp.path;
  ASSERT_NO_FATAL_FAILURE(small_video_run(d));
  diffuse::test::Result r;
  const std::string base = d + "/dit/checkpoint.safetensors", ck = d + "/ff/checkpoint.safetensors", clf = d + "/clf/checkpoint.safetensors";
  r = run("train video --init " + base + " --condition first-frame --fps-choices 4 8 --steps 2 --batch 2 --data-n 8 --out " + d + "/ff");
  ASSERT_EQ(r.code, 0) << r.out;
  const auto tuned = diffuse::load_checkpoint(ck);
  EXPECT_EQ(tuned.recipe.at("model").at("config").at("context_channels"), 4);
  EXPECT_EQ(tuned.recipe.at("model").at("config").at("vector_embedding"), "sinusoidal");
  EXPECT_GT(tuned.recipe.at("train").at("context_noise_std").get<double>(), 0.0);
  EXPECT_EQ(tuned.model.at("x_embed.weight").size(1), 8 * 4);
  // The chain: the image model (here the shipped one, 2 steps) makes frame 0.
  r = run("eval video " + ck + " --classifier " + clf + " --n-per-class 1 --steps 2 --image-steps 2 --image-cfg 2 --video-cfg 1.5 --json");
  ASSERT_EQ(r.code, 0) << r.out;
  auto j = diffuse::Json::parse(r.out);
  const auto& s = j.at("samples");
  EXPECT_EQ(s.at("first_frame").get<std::string>().rfind("image model ", 0), 0u) << s.dump();
  EXPECT_EQ(s.at("image_stage").at("cfg"), 2.0);
  EXPECT_EQ(s.at("cfg"), 1.5);
  EXPECT_EQ(s.at("first_frame_guidance"), true);  // the default: CFG also guides toward frame 0
  for (const char* key : {"identity_to_first", "identity_last_frame"}) {
    EXPECT_GE(s.at(key).get<double>(), -1.0) << key;
    EXPECT_LE(s.at(key).get<double>(), 1.0) << key;
  }
  r = run("eval video " + ck + " --classifier " + clf + " --first-frame held-out --first-frame-guidance off --n-per-class 1 --steps 2 --json");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(diffuse::Json::parse(r.out).at("samples").at("first_frame"), "held-out Fashion-MNIST test items");
  EXPECT_EQ(diffuse::Json::parse(r.out).at("samples").at("first_frame_guidance"), false);
  // The user's image; and none.
  diffuse::image::write_image(d + "/item.png", torch::rand({1, 28, 28}));
  for (const std::string& first : {d + "/item.png", std::string("none")}) {
    r = run("sample video --checkpoint " + ck + " --first-frame " + first + " --fps 4 --steps 2 --out " + d + "/c.mp4 --force");
    ASSERT_EQ(r.code, 0) << first << "\n" << r.out;
    EXPECT_EQ(diffuse::video::read_video(d + "/c.mp4").frames.size(0), 8);
  }
  // Refusals, by name.
  // A model without the condition inpaints around the given frames (the comparison's baseline).
  r = run("eval video " + base + " --classifier " + clf + " --first-frame held-out --n-per-class 1 --steps 2 --json");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(diffuse::Json::parse(r.out).at("samples").at("first_frame"), "held-out Fashion-MNIST test items");
  r = run("train video --init " + base + " --condition first-frame --frame-sets 0.3 --steps 2 --batch 2 --data-n 8 --out " + d + "/ff2");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("--frame-sets: a first-frame-conditioned model trains on whole clips"), std::string::npos) << r.out;
  r = run("train video --resume " + ck + " --condition none --steps 3 --batch 2 --data-n 8 --out " + d + "/ff");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("--condition none: " + ck + " is first-frame-conditioned; it cannot drop its condition"), std::string::npos) << r.out;
  // The first frame also as a clean frame of tokens: a new run's choice, which adds weights.
  r = run("train video --init " + base + " --condition first-frame --first-frame-tokens on --steps 2 --batch 2 --data-n 8 --out " + d + "/ff3");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("--first-frame-tokens on: " + base + " was trained without them; only a new run chooses"), std::string::npos) << r.out;
  r = run("train video --init " + base + " --condition first-frame --position rope --steps 2 --batch 2 --data-n 8 --out " + d + "/ff3");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("--position rope: " + base + " was trained with other positions; only a new run chooses"), std::string::npos) << r.out;
  r = run("train video --first-frame-tokens on --width 48 --depth 2 --steps 2 --batch 2 --data-n 8 --out " + d + "/fft");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("--first-frame-tokens on: needs --condition first-frame"), std::string::npos) << r.out;
  r = run("train video --vae " + d + "/vae/checkpoint.safetensors --frames 8 --condition first-frame --first-frame-tokens on --anchor-frame on "
          "--position sincos+rope --width 48 --depth 2 --steps 2 --batch 2 --data-n 8 --out " + d + "/fft");
  ASSERT_EQ(r.code, 0) << r.out;
  const auto with_tokens = diffuse::load_checkpoint(d + "/fft/checkpoint.safetensors");
  EXPECT_EQ(with_tokens.recipe.at("model").at("config").at("context_frame"), true);
  EXPECT_EQ(with_tokens.recipe.at("model").at("config").at("position"), "sincos+rope");
  EXPECT_EQ(with_tokens.model.at("context_frame_embed.weight").sizes(), torch::IntArrayRef({48, 4 * 4}));
  r = run("sample video --checkpoint " + d + "/fft/checkpoint.safetensors --first-frame " + d + "/item.png --steps 2 --out " + d + "/t.mp4");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(diffuse::video::read_video(d + "/t.mp4").frames.size(0), 8);
  // A fine-tune may deepen its model (new blocks start closed) but not resize it otherwise; a
  // resume keeps its depth.
  const std::string fft = d + "/fft/checkpoint.safetensors";
  r = run("train video --init " + fft + " --depth 4 --steps 1 --batch 2 --data-n 8 --out " + d + "/deep");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("--init " + fft + ": 2 blocks grown to 4 (new blocks start closed)"), std::string::npos) << r.out;
  EXPECT_EQ(diffuse::load_checkpoint(d + "/deep/checkpoint.safetensors").recipe.at("model").at("config").at("depth"), 4);
  r = run("sample video --checkpoint " + d + "/deep/checkpoint.safetensors --first-frame " + d + "/item.png --steps 2 --out " + d + "/deep.mp4");
  ASSERT_EQ(r.code, 0) << r.out;
  r = run("train video --init " + fft + " --width 96 --steps 1 --batch 2 --data-n 8 --out " + d + "/wide");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("--width: " + fft + " has its size; only a new run chooses"), std::string::npos) << r.out;
  r = run("train video --init " + d + "/deep/checkpoint.safetensors --depth 2 --steps 1 --batch 2 --data-n 8 --out " + d + "/shallow");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("--depth 2: " + d + "/deep/checkpoint.safetensors has 4 blocks; a fine-tune may add blocks, not remove them"),
            std::string::npos) << r.out;
  r = run("train video --resume " + fft + " --depth 4 --steps 3 --batch 2 --out " + d + "/fft");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("--depth 4: " + fft + " has 2 blocks; start a fine-tune with --init to add blocks"), std::string::npos) << r.out;
  // Motion conditioning: a new run's, whose samples take the item's first step or draw it.
  r = run("train video --init " + base + " --motion-condition --steps 2 --batch 2 --data-n 8 --out " + d + "/fm");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("--motion-condition: " + base + " is not motion-conditioned; only a new run chooses"), std::string::npos) << r.out;
  r = run("train video --vae " + d + "/vae/checkpoint.safetensors --frames 8 --condition first-frame --motion-condition --fps-choices 4 8 "
          "--width 48 --depth 2 --steps 2 --batch 2 --data-n 8 --out " + d + "/fm");
  ASSERT_EQ(r.code, 0) << r.out;
  const auto moving = diffuse::load_checkpoint(d + "/fm/checkpoint.safetensors");
  EXPECT_EQ(moving.recipe.at("model").at("config").at("cond_dim"), 3);  // the frame rate, dy, dx
  EXPECT_EQ(moving.recipe.at("data").at("motion"), true);
  r = run("eval video " + d + "/fm/checkpoint.safetensors --classifier " + clf + " --first-frame held-out --n-per-class 1 --steps 2 --json");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(diffuse::Json::parse(r.out).at("samples").at("motion"), "drawn");
  r = run("sample video --checkpoint " + d + "/fm/checkpoint.safetensors --first-frame " + d + "/item.png --motion 1.5 -2 --steps 2 --out " + d + "/m.mp4");
  ASSERT_EQ(r.code, 0) << r.out;
  r = run("sample video --checkpoint " + ck + " --first-frame " + d + "/item.png --motion 1.5 -2 --steps 2 --out " + d + "/m2.mp4");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("--motion: " + ck + " is not conditioned on motion (train video --motion-condition)"), std::string::npos) << r.out;
  // Two guidance scales: the frame's own beside the class's; refused without first-frame guidance.
  r = run("eval video " + ck + " --classifier " + clf + " --first-frame held-out --first-frame-cfg 4 --video-cfg 2 --n-per-class 1 --steps 2 --json");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(diffuse::Json::parse(r.out).at("samples").at("first_frame_cfg"), 4.0);
  r = run("sample video --checkpoint " + ck + " --first-frame-cfg 4 --first-frame-guidance off --steps 2 --out " + d + "/g.mp4");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("--first-frame-cfg: needs a first frame and first-frame guidance on"), std::string::npos) << r.out;
  // The image stage's options where no image stage runs: a model without the condition, or a given frame.
  r = run("sample video --checkpoint " + base + " --image-cfg 2 --steps 2 --out " + d + "/x.mp4");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("--image-cfg: no image stage runs here (it makes frame 0 only for a model trained with --condition first-frame and no "
                       "--first-frame; " + base + " has no first-frame condition)"), std::string::npos) << r.out;
  r = run("sample video --checkpoint " + base + " --first-frame-guidance on --steps 2 --out " + d + "/x.mp4");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("--first-frame-guidance on: " + base + " has no first-frame condition to guide toward"), std::string::npos) << r.out;
  r = run("eval video " + ck + " --classifier " + clf + " --first-frame none --image-model " + base + " --n-per-class 1 --steps 2 --json");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("--image-model: no image stage runs here"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(ck + " is given --first-frame none)"), std::string::npos) << r.out;
  EXPECT_FALSE(std::filesystem::exists(d + "/x.mp4"));
  r = run("sample video --checkpoint " + ck + " --first-frame " + d + "/missing.png --out " + d + "/x.mp4");
  EXPECT_EQ(r.code, 2);  // a usage error
  EXPECT_NE(r.out.find("missing.png"), std::string::npos) << r.out;
}

// The temporal decoder: trained on its own (the VAE frozen), picked by --decoder or found beside
// the model (auto), reported by eval, and refused when it decodes another VAE's latents.
TEST(CliVideo, TemporalDecoderTrainsAndDecodesSamples) {
  if (!std::ifstream("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")) GTEST_SKIP() << "dataset-fashion-mnist not installed";
  const diffuse::test::TempDir tmp("cli_video_decoder");
  const std::string d = tmp.path;
  ASSERT_NO_FATAL_FAILURE(small_video_run(d));
  diffuse::test::Result r;
  const std::string ck = d + "/dit/checkpoint.safetensors", dec = d + "/tdec/checkpoint.safetensors";
  r = run("train video-decoder --vae " + d + "/vae/checkpoint.safetensors --frames 8 --steps 2 --batch 2 --data-n 4 --out " + d + "/tdec");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("held-out PSNR of 64 clips: {\"latent_noise_0\":{\"per_frame_psnr_db\":"), std::string::npos) << r.out;
  const auto trained = diffuse::load_checkpoint(dec);
  EXPECT_EQ(trained.recipe.at("model").at("type"), "temporal-decoder");
  for (const auto& [name, w] : trained.model) EXPECT_TRUE(name.rfind("norms.", 0) == 0 || name.rfind("convs.", 0) == 0) << name;  // no VAE weights
  r = run("sample video --checkpoint " + ck + " --decoder " + dec + " --n 1 --steps 2 --out " + d + "/t.mp4");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(diffuse::video::read_video(d + "/t.mp4").frames.size(0), 8);
  const std::string clf = " --classifier " + d + "/clf/checkpoint.safetensors --n-per-class 1 --steps 2 --json";
  r = run("eval video " + ck + clf);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(diffuse::Json::parse(r.out).at("samples").at("decoder"), "per-frame");
  std::filesystem::copy_file(dec, d + "/dit/decoder.safetensors");  // auto: the one beside the model
  r = run("eval video " + ck + clf);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(diffuse::Json::parse(r.out).at("samples").at("decoder"), d + "/dit/decoder.safetensors");
  r = run("eval video " + ck + clf + " --decoder per-frame");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(diffuse::Json::parse(r.out).at("samples").at("decoder"), "per-frame");
  r = run("sample video --checkpoint " + ck + " --decoder " + d + "/none.safetensors --steps 2 --out " + d + "/x.mp4");
  EXPECT_NE(r.out.find("--decoder " + d + "/none.safetensors: no such file (auto, per-frame or a temporal decoder checkpoint)"),
            std::string::npos) << r.out;
  r = run("sample video --checkpoint " + ck + " --decoder " + d + "/clf/checkpoint.safetensors --steps 2 --out " + d + "/x.mp4");
  EXPECT_NE(r.out.find(d + "/clf/checkpoint.safetensors: not a temporal decoder (model.type is not 'temporal-decoder'"), std::string::npos)
      << r.out;
  // The same decoder relabelled for the shipped VAE (whose latents differ from this run's).
  const std::string other_vae = std::string(DIFFUSE_SOURCE_DIR) + "/models/fashion-mnist/vae.safetensors";
  r = run("model export " + dec + " " + d + "/other.safetensors --vae " + other_vae);
  ASSERT_EQ(r.code, 0) << r.out;
  r = run("sample video --checkpoint " + ck + " --decoder " + d + "/other.safetensors --steps 2 --out " + d + "/x.mp4");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("--decoder " + d + "/other.safetensors: decodes the latents of " + other_vae + ", but " + ck +
                       " generates those of " + d + "/vae/checkpoint.safetensors"), std::string::npos) << r.out;
  EXPECT_FALSE(std::filesystem::exists(d + "/x.mp4"));
}

}  // namespace
