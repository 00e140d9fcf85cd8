// Video I/O: an H.264 MP4 round trip (PSNR at the default CRF), what ffprobe says about the file,
// odd sizes, fps resampling and stride, and the refusals.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "modalities/video/clips.h"
#include "modalities/image/vae.h"
#include "modalities/image/idx.h"
#include "modalities/image/dataset.h"
#include "core/train/checkpoint.h"
#include "core/files.h"
#include "core/json.h"
#include "tests/core/test_util.h"
#include "modalities/image/io.h"
#include "modalities/video/io.h"
#include "modalities/video/moving.h"
#include "modalities/video/options.h"
#include "modalities/video/temporal_decoder.h"
#include "modalities/video/video_pipeline.h"

namespace diffuse::video {
namespace {

namespace fs = std::filesystem;

std::string temp_dir() {
  const auto d = fs::temp_directory_path() / "diffuse_video_test";
  fs::create_directories(d);
  return d.string();
}

// A smooth synthetic clip: a soft bright disc moving over a colour gradient.
torch::Tensor synthetic_clip(int64_t t, int64_t h, int64_t w) {
  const auto ys = torch::linspace(0, 1, h).view({1, h, 1}), xs = torch::linspace(0, 1, w).view({1, 1, w});
  std::vector<torch::Tensor> frames;
  for (int64_t i = 0; i < t; ++i) {
    const double cx = 0.2 + 0.6 * double(i) / double(t), cy = 0.5;
    const auto disc = torch::exp(-((xs - cx).pow(2) + (ys - cy).pow(2)) / 0.02);
    frames.push_back(torch::cat({0.2 + 0.6 * xs.expand({1, h, w}), 0.3 + 0.4 * ys.expand({1, h, w}), 0.5 * disc.expand({1, h, w})}) * 0.7 +
                     0.3 * disc);
  }
  return torch::stack(frames).clamp(0, 1);
}

std::string shell(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  pclose(p);
  return out;
}

TEST(VideoIo, Mp4RoundTripIsH264Yuv420pWithTheRequestedFramesAndFps) {
  const auto dir = temp_dir();
  const auto clip = synthetic_clip(16, 64, 64);
  write_video(dir + "/clip.mp4", clip, {8, 18, "medium", true});
  const auto back = read_video(dir + "/clip.mp4");
  ASSERT_EQ(back.frames.sizes(), clip.sizes());
  EXPECT_NEAR(back.fps, 8.0, 1e-6);
  const double psnr = video_psnr(back.frames, clip);
  EXPECT_GE(psnr, 35.0);
  std::printf("round-trip PSNR at CRF 18: %.2f dB\n", psnr);
  if (std::system("ffprobe -version > /dev/null 2>&1") != 0) GTEST_SKIP() << "ffprobe not installed (Debian package ffmpeg)";
  const auto j = Json::parse(shell("ffprobe -v error -select_streams v:0 -count_frames -show_entries "
                                   "stream=codec_name,pix_fmt,nb_read_frames,r_frame_rate,width,height -of json " + dir + "/clip.mp4"));
  const auto& s = j.at("streams").at(0);
  EXPECT_EQ(s.at("codec_name"), "h264");
  EXPECT_EQ(s.at("pix_fmt"), "yuv420p");
  EXPECT_EQ(s.at("nb_read_frames"), "16");
  EXPECT_EQ(s.at("r_frame_rate"), "8/1");
  // +faststart: the moov atom comes before mdat.
  std::ifstream in(dir + "/clip.mp4", std::ios::binary);
  std::string b((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_LT(b.find("moov"), b.find("mdat"));
}

// An MP4 or WebM file is a function of its frames alone, not of what the heap held before: x264's
// AVX-512 code read memory it had not written (the shipped video model's clip differed with the
// output path and the thread count), and WebM carried a random segment ID.
TEST(VideoIo, Mp4BytesAreAFunctionOfTheFramesAlone) {
  const auto dir = temp_dir();
  const auto clip = synthetic_clip(8, 64, 64);
  write_video(dir + "/a.mp4", clip, {8, 18, "medium", true});
  {  // freed blocks full of 0xAB that the next write's buffers may reuse
    std::vector<std::vector<unsigned char>> dirt;
    for (const size_t size : {1024, 2048, 4096, 8192, 12288, 16384, 32768, 65536}) {
      for (int k = 0; k < 16; ++k) dirt.emplace_back(size + size_t(k) * 64, 0xAB);
    }
  }
  write_video(dir + "/a_much_longer_name.mp4", clip, {8, 18, "medium", true});
  EXPECT_EQ(read_file(dir + "/a.mp4"), read_file(dir + "/a_much_longer_name.mp4"));
  write_video(dir + "/a.webm", clip, {8, 18, "medium", true});
  write_video(dir + "/b.webm", clip, {8, 18, "medium", true});
  EXPECT_EQ(read_file(dir + "/a.webm"), read_file(dir + "/b.webm"));
}

TEST(VideoIo, OddSizesGrayFramesWebmFpsAndStride) {
  const auto dir = temp_dir();
  const auto gray = synthetic_clip(6, 31, 33).mean(1, true);
  write_video(dir + "/odd.mp4", gray, {10, 18, "fast", true});
  const auto back = read_video(dir + "/odd.mp4");
  EXPECT_EQ(back.frames.sizes(), (std::vector<int64_t>{6, 3, 32, 34}));  // padded to even sizes
  EXPECT_GE(video_psnr(back.frames.slice(2, 0, 31).slice(3, 0, 33).mean(1, true), gray), 35.0);
  write_video(dir + "/c.webm", synthetic_clip(4, 32, 32), {8, 30, "medium", true});
  EXPECT_EQ(read_video(dir + "/c.webm").frames.size(0), 4);
  write_video(dir + "/long.mp4", synthetic_clip(24, 16, 16), {24, 18, "fast", true});
  VideoReadOptions o;
  o.fps = 8;
  EXPECT_EQ(read_video(dir + "/long.mp4", o).frames.size(0), 8);
  o = {};
  o.stride = 4;
  o.height = 8;
  o.width = 12;
  const auto s = read_video(dir + "/long.mp4", o);
  EXPECT_EQ(s.frames.sizes(), (std::vector<int64_t>{6, 3, 8, 12}));
  EXPECT_NEAR(s.fps, 6.0, 1e-9);
}

TEST(VideoIo, AnimatedGifKeepsOddSizesGrayLevelsAndFrameCount) {
  const auto dir = temp_dir();
  const auto gray = synthetic_clip(5, 31, 33).mean(1, true);
  write_video(dir + "/g.gif", gray, {10, 18, "medium", true});
  const auto back = read_video(dir + "/g.gif");
  ASSERT_EQ(back.frames.sizes(), (std::vector<int64_t>{5, 3, 31, 33}));  // no padding: GIF has no chroma subsampling
  EXPECT_NEAR(back.fps, 10.0, 1e-6);
  EXPECT_GE(video_psnr(back.frames.mean(1, true), gray), 45.0);  // 8-bit gray: rounding only
  const auto colour = synthetic_clip(3, 16, 16);
  write_video(dir + "/c.gif", colour, {8, 18, "medium", true});
  const auto c = read_video(dir + "/c.gif");
  EXPECT_EQ(c.frames.size(0), 3);
  EXPECT_GE(video_psnr(c.frames, colour), 20.0);  // RGB 3-3-2 with dithering
}

TEST(VideoIo, RefusesBadFilesAndOverwrites) {
  const auto dir = temp_dir();

  const auto clip = synthetic_clip(4, 16, 16);
  write_video(dir + "/a.mp4", clip, {8, 18, "fast", true});
  test::expect_throw_containing([&] { write_video(dir + "/a.mp4", clip); }, "a.mp4: exists; pass --force");
  test::expect_throw_containing([&] { write_video(dir + "/a.avi", clip); }, "unsupported video format '.avi'");
  std::ofstream(dir + "/text.mp4") << "not a video at all";
  test::expect_throw_containing([&] { read_video(dir + "/text.mp4"); }, "text.mp4: not a readable video");
  {  // the first part of a real file: header without frames
    std::ifstream in(dir + "/a.mp4", std::ios::binary);
    std::string b((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ofstream(dir + "/trunc.mp4", std::ios::binary) << b.substr(0, b.size() / 3);
  }
  test::expect_throw_containing([&] { read_video(dir + "/trunc.mp4"); }, dir + "/trunc.mp4: ");
  // A WAV file: a container FFmpeg reads, with no video stream.
  {
    std::ofstream w(dir + "/tone.wav", std::ios::binary);
    const uint32_t n = 800;
    auto u32 = [&](uint32_t v) { w.write(reinterpret_cast<const char*>(&v), 4); };
    auto u16 = [&](uint16_t v) { w.write(reinterpret_cast<const char*>(&v), 2); };
    w << "RIFF";
    u32(36 + 2 * n);
    w << "WAVEfmt ";
    u32(16);
    u16(1);
    u16(1);
    u32(8000);
    u32(16000);
    u16(2);
    u16(16);
    w << "data";
    u32(2 * n);
    for (uint32_t i = 0; i < n; ++i) u16(uint16_t(i * 37));
  }
  test::expect_throw_containing([&] { read_video(dir + "/tone.wav"); }, "tone.wav: no video stream");
  test::expect_throw_containing([&] { read_video(dir + "/missing.mp4"); }, "missing.mp4: no such file");
  // A real file cut anywhere after its index (at the front, +faststart) is refused, never read as
  // a shorter clip.
  write_video(dir + "/long.mp4", synthetic_clip(16, 32, 32), {8, 18, "fast", true});
  std::string whole;
  {
    std::ifstream in(dir + "/long.mp4", std::ios::binary);
    whole.assign((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  EXPECT_EQ(read_video(dir + "/long.mp4").frames.size(0), 16);
  for (const double keep : {0.5, 0.7, 0.9, 0.97}) {
    std::ofstream(dir + "/cut.mp4", std::ios::binary) << whole.substr(0, size_t(double(whole.size()) * keep));
    SCOPED_TRACE(keep);
    test::expect_throw_containing([&] { read_video(dir + "/cut.mp4"); }, dir + "/cut.mp4: ");
  }
  // A PNG renamed .mp4: FFmpeg would read it as a one-frame video.
  diffuse::image::write_image(dir + "/still.png", torch::rand({3, 16, 16}), {8, 95, true});
  fs::copy_file(dir + "/still.png", dir + "/still.mp4", fs::copy_options::overwrite_existing);
  test::expect_throw_containing([&] { read_video(dir + "/still.mp4"); }, "still.mp4: a still image");
}

TEST(VideoFolder, LoadsClassesAndReportsBadFiles) {
  const auto dir = temp_dir() + "/folder";
  fs::remove_all(dir);
  fs::create_directories(dir + "/left");
  fs::create_directories(dir + "/right");
  write_video(dir + "/left/a.mp4", synthetic_clip(6, 32, 32), {8, 18, "fast", true});
  write_video(dir + "/right/b.webm", synthetic_clip(3, 20, 24), {8, 18, "fast", true});
  std::ofstream(dir + "/right/c.mp4") << "junk";
  const auto f = load_video_folder(dir, 4, 16, 16, true);
  EXPECT_EQ(f.class_names, (std::vector<std::string>{"left", "right"}));
  ASSERT_EQ(f.clips.sizes(), (std::vector<int64_t>{2, 4, 3, 16, 16}));  // b.webm padded to 4 frames
  EXPECT_TRUE(torch::equal(f.clips[1][3], f.clips[1][2]));
  ASSERT_EQ(f.bad.size(), 1u);
  EXPECT_NE(f.bad[0].second.find("c.mp4: not a readable video"), std::string::npos);
  EXPECT_THROW(load_video_folder(dir, 4, 16, 16, false), std::runtime_error);
}

TEST(MovingFashionMnist, ItemsStayOnTheCanvasBounceAndAreReproducible) {
  // Synthetic 28 x 28 "items": a bright square, so the tracker's centroid is exact.
  auto items = torch::zeros({3, 1, 28, 28});
  items.slice(2, 4, 24).slice(3, 4, 24).fill_(1.0);
  MovingOptions o;
  o.frames = 40;
  o.max_speed = o.min_speed = 3.0;
  const auto a = moving_fashion_mnist(items, torch::tensor({4, 5, 6}), 8, o);
  ASSERT_EQ(a.clips.sizes(), (std::vector<int64_t>{8, 40, 1, 64, 64}));
  // Mass is conserved (never cut by a wall) and the tracker finds the true centres.
  EXPECT_NEAR(a.clips.sum({2, 3, 4}).min().item<double>(), 400.0, 1e-3);
  const auto [c, crops] = track_objects(a.clips);
  EXPECT_LT((c - a.centroids.select(2, 0)).abs().max().item<double>(), 0.51);
  EXPECT_EQ(crops.sizes(), (std::vector<int64_t>{8, 40, 1, 28, 28}));
  // 40 frames at 3 px/frame on a 36 px track: every clip bounces, and the speed stays 3 px.
  const auto [smooth, speed] = motion_smoothness(a.centroids.select(2, 0));
  EXPECT_NEAR(speed, 3.0, 0.5);
  EXPECT_GT(smooth, 0.0);
  EXPECT_EQ(background_flicker(a.clips, c), 0.0);
  // Background noise below half an 8-bit level flickers in floats and not in the written file;
  // noise of one level flickers in both.
  auto faint = a.clips.clone();
  faint.slice(1, 1, 40, 2).add_(0.4 / 255.0);  // every other frame
  EXPECT_NEAR(background_flicker(faint, c), 0.4 / 255.0, 1e-7);
  EXPECT_EQ(background_flicker(as_written(faint), c), 0.0);
  faint.slice(1, 1, 40, 2).add_(0.6 / 255.0);
  EXPECT_NEAR(background_flicker(as_written(faint), c), 1.0 / 255.0, 1e-7);
  // The recorded steps: 3 px per frame, the first one the first frame's move (positions are
  // rounded to pixels), the last one the last frame's (a bounce within it reflects it).
  const auto v = a.velocities.select(1, 0);  // (8, 2, 2)
  EXPECT_NEAR(v.norm(2, 2).min().item<double>(), 3.0, 1e-9);
  EXPECT_NEAR(v.norm(2, 2).max().item<double>(), 3.0, 1e-9);
  const auto moved = a.centroids.select(2, 0);  // (8, 40, 2)
  int64_t first = 0, last = 0;  // clips whose step hits no wall: their move is that step
  for (int64_t i = 0; i < 8; ++i) {
    first += (moved[i][1] - moved[i][0] - v[i][0]).abs().max().item<double>() <= 1.0 + 1e-9;
    last += (moved[i][39] - moved[i][38] - v[i][1]).abs().max().item<double>() <= 1.0 + 1e-9;
  }
  EXPECT_GE(first, 6);
  EXPECT_GE(last, 6);
  // Clip i depends only on (seed, i), so a training set made in chunks (`first`) is the same.
  const auto b = moving_fashion_mnist(items, torch::tensor({4, 5, 6}), 3, o);
  EXPECT_TRUE(torch::equal(b.clips, a.clips.slice(0, 0, 3)));
  o.fps = {4, 8};  // the frame-rate draw too
  const auto whole = moving_fashion_mnist(items, torch::tensor({4, 5, 6}), 8, o);
  o.first = 3;
  const auto rest = moving_fashion_mnist(items, torch::tensor({4, 5, 6}), 5, o);
  EXPECT_TRUE(torch::equal(rest.clips, whole.clips.slice(0, 3)));
  EXPECT_TRUE(torch::equal(rest.labels, whole.labels.slice(0, 3)));
  EXPECT_TRUE(torch::equal(rest.fps, whole.fps.slice(0, 3)));
  EXPECT_TRUE(torch::equal(rest.velocities, whole.velocities.slice(0, 3)));
  o.first = -1;
  EXPECT_THROW(moving_fashion_mnist(items, torch::tensor({4, 5, 6}), 1, o), std::invalid_argument);
  o = MovingOptions{};
  o.frames = 40;
  o.max_speed = o.min_speed = 3.0;
  o.seed = 1;
  EXPECT_FALSE(torch::equal(moving_fashion_mnist(items, torch::tensor({4, 5, 6}), 3, o).clips, b.clips));
  EXPECT_THROW(moving_fashion_mnist(items, torch::tensor({4, 5, 6}), 1, MovingOptions{16, 20}), std::invalid_argument);
}

// The training set is made and encoded kClipChunk clips at a time, into one tensor: the same
// latents, labels and fingerprint as the whole set made at once.
TEST(MovingFashionMnist, ATrainingSetMadeInChunksIsTheWholeSet) {
  torch::manual_seed(2);
  image::VaeConfig c;
  c.base_channels = 8;
  c.channel_mult = {1};
  image::Vae vae(c);
  vae->eval();
  const auto items = torch::rand({3, 1, 28, 28});
  const auto labels = torch::tensor({4, 5, 6});
  MovingOptions o;
  o.frames = 2;
  const int64_t n = kClipChunk + 3;
  const auto set = moving_training_set(items, labels, n, o);
  const auto whole = moving_fashion_mnist(items, labels, n, o);
  EXPECT_TRUE(torch::equal(set.labels, whole.labels.select(1, 0)));
  EXPECT_EQ(set.frames.n, n);
  EXPECT_NEAR(set.frames.sum, whole.clips.sum(torch::kFloat64).item<double>(), 1e-6 * set.frames.sum);
  const auto z = set.encode(vae);
  ASSERT_EQ(z.sizes(), (std::vector<int64_t>{n, 4, 2, 32, 32}));
  for (const int64_t first : {int64_t(0), kClipChunk - 1, n - 3}) {
    const auto alone = encode_clips(vae, whole.clips.slice(0, first, first + 3));
    EXPECT_TRUE(torch::allclose(z.slice(0, first, first + 3), alone, 1e-4, 1e-5)) << "clips from " << first;
  }
}

TEST(MovingFashionMnist, AClipAtHalfTheFrameRateIsEveryOtherFrameOfTheNativeOne) {
  auto items = torch::zeros({3, 1, 28, 28});
  items.slice(2, 4, 24).slice(3, 4, 24).fill_(1.0);
  MovingOptions o;
  o.frames = 32;
  const auto native = moving_fashion_mnist(items, torch::tensor({4, 5, 6}), 6, o);
  EXPECT_TRUE(torch::equal(native.fps, torch::full({6}, 8.0, torch::kFloat64)));
  // One choice equal to the native rate: the same clips as without choices.
  o.fps = {8};
  EXPECT_TRUE(torch::equal(moving_fashion_mnist(items, torch::tensor({4, 5, 6}), 6, o).clips, native.clips));
  // At 4 fps items move twice as far per frame (bounces included): frame t is native frame 2t.
  o.fps = {4};
  o.frames = 16;
  const auto half = moving_fashion_mnist(items, torch::tensor({4, 5, 6}), 6, o);
  EXPECT_TRUE(torch::equal(half.clips, native.clips.slice(1, 0, 32, 2)));
  EXPECT_TRUE(torch::equal(half.fps, torch::full({6}, 4.0, torch::kFloat64)));
  // Several choices: each clip gets one of them, every one is used, and clip i is still its own.
  o.fps = {4, 8, 16};
  const auto mixed = moving_fashion_mnist(items, torch::tensor({4, 5, 6}), 60, o);
  for (const double f : o.fps) EXPECT_GT((mixed.fps == f).sum().item<int64_t>(), 5) << f;
  EXPECT_TRUE(torch::equal(moving_fashion_mnist(items, torch::tensor({4, 5, 6}), 6, o).clips, mixed.clips.slice(0, 0, 6)));
  const auto slow = (mixed.fps == 16).nonzero().flatten(), fast = (mixed.fps == 4).nonzero().flatten();
  const double slow_speed = motion_smoothness(mixed.centroids.index_select(0, slow).select(2, 0)).second;
  const double fast_speed = motion_smoothness(mixed.centroids.index_select(0, fast).select(2, 0)).second;
  EXPECT_GT(fast_speed, 2.5 * slow_speed);
  o.fps = {0};
  EXPECT_THROW(moving_fashion_mnist(items, torch::tensor({4, 5, 6}), 1, o), std::invalid_argument);
}

// An untrained temporal decoder decodes exactly as the image VAE per frame; with its temporal
// layers non-zero, a frame's output depends on its neighbours up to the layers' reach and no further.
TEST(TemporalDecoder, StartsAsThePerFrameDecoderAndReachesOnlyNeighbouringFrames) {
  torch::manual_seed(2);
  image::Vae vae(image::VaeConfig{});
  vae->eval();
  TemporalDecoder d(vae, 3);
  const int64_t reach = d->layers() * (d->kernel() / 2), T = reach + 2;
  ASSERT_GE(d->layers(), 2);
  torch::NoGradGuard g;
  const auto z = torch::randn({2, 4, T, 4, 4});
  const auto per_frame = vae->decode(z.permute({0, 2, 1, 3, 4}).flatten(0, 1)).view({2, T, 1, 16, 16});
  EXPECT_LE((d->decode(z) - per_frame).abs().max().item<double>(), 1e-6);
  for (auto& p : d->parameters()) p.add_(torch::randn_like(p) * 0.05);
  const auto before = d->decode(z);
  EXPECT_GT((before - per_frame).abs().max().item<double>(), 1e-3);
  auto z2 = z.clone();
  z2.select(2, 0).add_(1.0);  // change frame 0 of both clips
  const auto after = d->decode(z2);
  EXPECT_GT((after.select(1, 1) - before.select(1, 1)).abs().max().item<double>(), 1e-4);       // a neighbour sees it
  EXPECT_GT((after.select(1, reach) - before.select(1, reach)).abs().max().item<double>(), 0.0);  // as far as the reach
  EXPECT_EQ((after.slice(1, reach + 1) - before.slice(1, reach + 1)).abs().max().item<double>(), 0.0);  // and no further
  // Clips do not see each other: clip 1 alone decodes as in the batch.
  EXPECT_LE((d->decode(z.slice(0, 1, 2))[0] - before[1]).abs().max().item<double>(), 1e-5);
  EXPECT_THROW(TemporalDecoder(vae, 2), std::invalid_argument);
}

TEST(VideoMetrics, StraightMotionIsSmoothAndShuffledIsNot) {
  auto c = torch::zeros({1, 10, 2});
  for (int64_t t = 0; t < 10; ++t) c[0][t][0] = 2.0 * double(t), c[0][t][1] = 1.0 * double(t);
  const auto [s, v] = motion_smoothness(c);
  EXPECT_NEAR(s, 0.0, 1e-6);
  EXPECT_NEAR(v, std::sqrt(5.0), 1e-5);
  const auto shuffled = c.index_select(1, torch::tensor({3, 7, 0, 9, 1, 5, 2, 8, 4, 6}));
  EXPECT_GT(motion_smoothness(shuffled).first, 5.0);
}

// Feature consistency: 1 for a clip whose frames have the same features (any scale), 0 for
// orthogonal ones, and the mean over pairs otherwise (three frames at 0, 60 and 120 degrees in a
// plane: cosines 0.5, -0.5 and 0.5, mean 1/6).
TEST(VideoMetrics, FeatureConsistencyIsTheMeanCosineOverPairsOfFrames) {
  const auto same = torch::tensor({1.0, 2.0, -1.0}).repeat({1, 4, 1}) * torch::tensor({1.0, 3.0, 0.5, 2.0}).view({1, 4, 1});
  EXPECT_NEAR(feature_consistency(same), 1.0, 1e-9);
  EXPECT_NEAR(feature_consistency(torch::eye(3).unsqueeze(0)), 0.0, 1e-9);
  const double pi = std::acos(-1.0);
  auto plane = torch::zeros({1, 3, 3}, torch::kFloat64);
  for (int64_t t = 0; t < 3; ++t) plane[0][t][0] = std::cos(double(t) * pi / 3), plane[0][t][1] = std::sin(double(t) * pi / 3);
  EXPECT_NEAR(feature_consistency(torch::cat({plane, same.slice(1, 0, 3)})), (1.0 / 6 + 1.0) / 2, 1e-9);
  EXPECT_THROW(feature_consistency(torch::ones({2, 1, 3})), std::invalid_argument);
}

// Identity to the first frame: the mean cosine of frames 1..T-1 to frame 0, and the last frame's.
TEST(VideoMetrics, IdentityToTheFirstFrameIsTheMeanCosineToFrameZero) {
  auto f = torch::zeros({2, 3, 2}, torch::kFloat64);
  f[0][0][0] = 1, f[0][1][0] = 2, f[0][2][1] = 1;  // clip 0: same, then orthogonal
  f[1][0][0] = 1, f[1][1][0] = -1, f[1][2][0] = 1, f[1][2][1] = 1;  // clip 1: opposite, then 45 degrees
  const auto [mean, last] = identity_to_first(f);
  EXPECT_NEAR(mean, (1.0 + 0.0 - 1.0 + std::sqrt(0.5)) / 4, 1e-9);
  EXPECT_NEAR(last, (0.0 + std::sqrt(0.5)) / 2, 1e-9);
  EXPECT_THROW(identity_to_first(torch::ones({2, 1, 3})), std::invalid_argument);
  const auto by_frame = identity_by_frame(f);
  ASSERT_EQ(by_frame.size(), 2u);
  EXPECT_NEAR(by_frame[0], (1.0 - 1.0) / 2, 1e-9);
  EXPECT_NEAR(by_frame[1], last, 1e-9);
  EXPECT_THROW(identity_by_frame(torch::ones({2, 1, 3})), std::invalid_argument);
}

// Swapping items keeps each frame's class and frame index but draws the clip it comes from anew.
TEST(VideoMetrics, SwappedItemsKeepTheClassAndTheFrameIndex) {
  const int64_t n = 12, T = 5;
  const auto labels = torch::arange(n) % 3;
  // Frame t of clip i holds the value 100 i + t.
  const auto clips = (torch::arange(n).view({n, 1, 1}) * 100 + torch::arange(T).view({1, T, 1})).to(torch::kFloat32).expand({n, T, 2}).contiguous();
  at::Generator gen = at::detail::createCPUGenerator(7);
  const auto s = swap_items(clips, labels, gen);
  int64_t moved = 0;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t t = 0; t < T; ++t) {
      const auto v = s[i][t][0].item<int64_t>();
      EXPECT_EQ(v % 100, t);
      EXPECT_EQ((v / 100) % 3, i % 3) << "clip " << i << " frame " << t;
      moved += v / 100 != i;
    }
  }
  EXPECT_GT(moved, n * T / 2);
}

// The per-frame codec's round trip on Moving Fashion-MNIST clips, and sampling through the DiT
// pipeline with the shipped model (the chain: the image model draws frame 0, the first-frame
// model animates it), reproducible from the seed in any batch size.
TEST(VideoPipeline, ClipsRoundTripThroughTheFrameCodecAndSampleFromTheSeedInAnyBatchSize) {
  if (!fs::exists(std::string(image::kFashionMnistDir) + "/t10k-images-idx3-ubyte.gz")) GTEST_SKIP() << "dataset-fashion-mnist not installed";
  const auto path = shipped_model_path("moving-fashion-mnist/dit.safetensors");
  const auto recipe = load_checkpoint(path).recipe;
  auto vae = image::load_vae(resolve_beside(recipe.at("vae"), path));
  const auto fm = image::load_fashion_mnist("test");
  const auto clips = moving_fashion_mnist(fm.images.slice(0, 0, 8), fm.labels.slice(0, 0, 8), 2, MovingOptions{}).clips;
  const auto z = encode_clips(vae, clips);
  EXPECT_EQ(z.sizes(), (std::vector<int64_t>{2, 4, 16, 16, 16}));
  const auto back = decode_clips(vae, z);
  ASSERT_EQ(back.sizes(), clips.sizes());
  const double err = (back - clips).pow(2).mean().item<double>();
  EXPECT_LT(err, 0.1 * (clips.flip({0}) - clips).pow(2).mean().item<double>());

  SampleArgs a;
  a.checkpoint = path;
  a.seed = 5;
  a.steps = 2;
  a.label = "2";
  a.batch = 2;
  auto own = std::make_shared<VideoSampleOptions>();
  own->decoder = "per-frame";
  a.own = own;
  const auto g = sample_clips(a, 2);
  ASSERT_EQ(g.data.sizes(), (std::vector<int64_t>{2, 16, 1, 64, 64}));
  EXPECT_EQ(g.labels, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(g.info.at("decoder"), "per-frame");
  EXPECT_EQ(g.info.at("fps").get<double>(), 8.0);
  EXPECT_EQ(g.info.at("first_frame").get<std::string>().rfind("image model ", 0), 0u) << g.info.dump();
  EXPECT_TRUE(g.info.at("first_frame_guidance").get<bool>());
  a.batch = 1;
  const auto one = sample_clips(a, 1);
  const double mse = (one.data[0] - g.data[0]).pow(2).mean().item<double>();
  EXPECT_LT(mse, 1e-6) << "batch 1 against batch 2: mean squared difference " << mse;
  // A first frame from the user: every clip's frame 0 is its VAE latent, whatever the model does
  // with it (a first-frame model sees it on every frame; another inpaints around it).
  const auto item = fm.images[3];  // (1, 28, 28), centred on the 64 x 64 canvas
  const std::string png = "/tmp/diffuse_video_first_frame.png";
  image::write_image(png, item, {8, 95, true});
  own->first_frame = png;
  const auto given = sample_clips(a, 2);
  const auto canvas = torch::constant_pad_nd(image::read_image(png).mean(0, true).unsqueeze(0), {18, 18, 18, 18}, 0);
  torch::Tensor z0;
  {
    torch::NoGradGuard g;
    z0 = vae->encode(canvas)[0];
  }
  for (int64_t i = 0; i < 2; ++i) EXPECT_LE((given.latents[i].select(1, 0) - z0).abs().max().item<double>(), 1e-5) << i;
  own->first_frame = "";
  own->frames = 8;
  test::expect_throw_containing<std::invalid_argument>([&] { sample_clips(a, 1); }, "--frames 8: this model generates 16-frame clips");
  // The direct text-to-video model, shipped beside it for comparison, runs without an image stage.
  own->frames = 0;
  a.checkpoint = shipped_model_path("moving-fashion-mnist/dit-unconditional.safetensors");
  const auto direct = sample_clips(a, 1);
  EXPECT_EQ(direct.data.sizes(), (std::vector<int64_t>{1, 16, 1, 64, 64}));
  EXPECT_FALSE(direct.info.contains("first_frame")) << direct.info.dump();
}

}  // namespace
}  // namespace diffuse::video
