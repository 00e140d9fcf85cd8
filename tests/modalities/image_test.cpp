// Image modality: round trips through each written format, IDX reading, refusals; the shipped
// VAE's round trip and sampling through the pipeline.
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>

#include "core/files.h"
#include "core/json.h"
#include "modalities/image/dataset.h"
#include "modalities/image/idx.h"
#include "modalities/image/image_pipeline.h"
#include "modalities/image/io.h"
#include "modalities/image/vae.h"

namespace diffuse::image {
namespace {

namespace fs = std::filesystem;

std::string temp_dir() {
  const auto d = fs::temp_directory_path() / "diffuse_image_test";
  fs::create_directories(d);
  return d.string();
}

double max_abs(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs().max().item<double>(); }

TEST(ImageIo, PngRoundTripsAt8And16Bits) {
  const auto dir = temp_dir();
  const auto img = torch::rand({3, 17, 23});
  write_image(dir + "/a8.png", img, {8, 95, true});
  write_image(dir + "/a16.png", img, {16, 95, true});
  const auto r8 = read_image(dir + "/a8.png"), r16 = read_image(dir + "/a16.png");
  EXPECT_EQ(r8.sizes(), img.sizes());
  EXPECT_LE(max_abs(r8, img), 0.5 / 255 + 1e-6);
  EXPECT_LE(max_abs(r16, img), 0.5 / 65535 + 1e-6);
}

TEST(ImageIo, GrayRgbaExrAndJpeg) {
  const auto dir = temp_dir();
  const auto gray = torch::linspace(0, 1, 32).view({1, 1, 32}).expand({1, 20, 32}).contiguous();
  write_image(dir + "/g.png", gray, {8, 95, true});
  EXPECT_EQ(read_image(dir + "/g.png").size(0), 1);
  const auto rgba = torch::rand({4, 8, 8});
  write_image(dir + "/rgba.png", rgba, {8, 95, true});
  EXPECT_LE(max_abs(read_image(dir + "/rgba.png"), rgba), 0.5 / 255 + 1e-6);
  const auto hdr = torch::rand({3, 8, 8}) * 10;  // EXR keeps values above 1
  write_image(dir + "/h.exr", hdr, {16, 95, true});
  EXPECT_LE(max_abs(read_image(dir + "/h.exr"), hdr), 10.0 / 1024);  // half precision
  write_image(dir + "/g.jpg", gray, {8, 95, true});
  EXPECT_LE((read_image(dir + "/g.jpg") - gray).abs().mean().item<double>(), 0.01);
}

// A PNG whose header claims 100000 x 100000 pixels (and holds a few bytes): refused by name
// before 40 GB are allocated, instead of libtorch's allocator error.
TEST(ImageIo, RefusesAHeaderThatClaimsMoreThanItCouldHold) {
  const auto path = (fs::temp_directory_path() / "diffuse_huge_header.png").string();
  auto be32 = [](uint32_t v) { return std::string{char(v >> 24), char(v >> 16), char(v >> 8), char(v)}; };
  auto chunk = [&](const std::string& type, const std::string& data) {
    const std::string body = type + data;
    return be32(uint32_t(data.size())) + body + be32(uint32_t(crc32(0, reinterpret_cast<const Bytef*>(body.data()), uInt(body.size()))));
  };
  const std::string ihdr = be32(100000) + be32(100000) + std::string{8, 0, 0, 0, 0};  // 8-bit gray
  std::ofstream(path, std::ios::binary) << std::string("\x89PNG\r\n\x1a\n", 8) << chunk("IHDR", ihdr) << chunk("IDAT", std::string(12, '\0'))
                                        << chunk("IEND", "");
  try {
    read_image(path);
    FAIL() << "read a 100000 x 100000 header";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(path + ": a 100000 x 100000 x 1 image, more than the"), std::string::npos) << e.what();
  }
}

TEST(ImageIo, RefusesOverwriteUnknownFormatAndCorruptFiles) {
  const auto dir = temp_dir();
  const auto img = torch::rand({1, 4, 4});
  write_image(dir + "/x.png", img, {8, 95, true});
  try {
    write_image(dir + "/x.png", img);
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), dir + "/x.png: exists; pass --force to overwrite");
  }
  try {
    write_image(dir + "/x.bmpx", img, {8, 95, true});
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("unsupported image format '.bmpx'; one of: .png"), std::string::npos);
  }
  // A PNG cut in half is reported with its name.
  std::ifstream in(dir + "/x.png", std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), {});
  std::ofstream(dir + "/cut.png", std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  try {
    read_image(dir + "/cut.png");
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()).rfind(dir + "/cut.png: ", 0), 0u) << e.what();
  }
  std::ofstream(dir + "/text.png") << "not an image";
  EXPECT_THROW(read_image(dir + "/text.png"), std::runtime_error);
  EXPECT_THROW(read_image(dir + "/missing.png"), std::runtime_error);
  // Nothing but the outputs is left behind.
  for (const auto& e : fs::directory_iterator(dir)) EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos);
}

TEST(MakeGrid, PlacesImagesRowByRow) {
  const auto imgs = torch::arange(5).to(torch::kFloat32).view({5, 1, 1, 1}).expand({5, 1, 2, 3}).contiguous();
  const auto g = make_grid(imgs, 2, 1, -1.0);
  EXPECT_EQ(g.sizes(), torch::IntArrayRef({1, 3 * 3 + 1, 2 * 4 + 1}));
  EXPECT_EQ(g[0][1][1].item<float>(), 0.0f);   // image 0
  EXPECT_EQ(g[0][1][5].item<float>(), 1.0f);   // image 1, same row
  EXPECT_EQ(g[0][4][1].item<float>(), 2.0f);   // image 2, second row
  EXPECT_EQ(g[0][7][5].item<float>(), -1.0f);  // the missing sixth cell is padding
}

void write_idx(const std::string& path, const std::vector<int>& dims, const std::vector<uint8_t>& data, bool gz) {
  std::string bytes = {0, 0, 0x08, char(dims.size())};
  for (int d : dims) for (int s = 24; s >= 0; s -= 8) bytes.push_back(char((d >> s) & 0xff));
  bytes.append(data.begin(), data.end());
  if (gz) {
    gzFile f = gzopen(path.c_str(), "wb");
    gzwrite(f, bytes.data(), unsigned(bytes.size()));
    gzclose(f);
  } else {
    std::ofstream(path, std::ios::binary) << bytes;
  }
}

TEST(MakeLabelledGrid, WritesRowLabelsLeftAndCaptionsBelow) {
  const auto images = torch::zeros({4, 1, 10, 10});
  // Two rows of one class each: a label column on the left, with text pixels in it.
  const auto rows = make_labelled_grid(images, 2, {"Coat", "Coat", "Bag", "Bag"}, 2);
  ASSERT_EQ(rows.size(0), 3);
  const int64_t label_w = rows.size(2) - (2 * (20 + 2) + 2);
  ASSERT_GT(label_w, 20);
  EXPECT_EQ(rows.size(1), 2 * (20 + 2) + 2);
  EXPECT_GT(rows.slice(2, 0, label_w).slice(1, 0, 22).max().item<double>(), 0.5);  // "Coat"
  EXPECT_GT(rows.slice(2, 0, label_w).slice(1, 22).max().item<double>(), 0.5);     // "Bag"
  EXPECT_EQ(rows.slice(2, label_w).max().item<double>(), 0.0);  // black images, no text over them
  // Mixed labels in a row: a caption band under each cell instead, images untouched.
  const auto cells = make_labelled_grid(images, 2, {"Coat", "Bag", "Bag", "Coat"}, 2);
  EXPECT_EQ(cells.size(2), 2 * (20 + 2) + 2);
  EXPECT_GT(cells.size(1), 2 * (20 + 2) + 2);
  EXPECT_EQ(cells.slice(1, 2, 22).slice(2, 2, 22).max().item<double>(), 0.0);
  EXPECT_GT(cells.slice(1, 22, cells.size(1) / 2).max().item<double>(), 0.5);
  EXPECT_THROW(make_labelled_grid(images, 2, {"a"}), c10::Error);
}

TEST(ImageFolder, LoadsClassesFromSubfoldersAndReportsBadFiles) {
  const auto dir = temp_dir() + "/folder";
  fs::remove_all(dir);
  fs::create_directories(dir + "/b_second");
  fs::create_directories(dir + "/a_first/nested");
  write_image(dir + "/a_first/x.png", torch::full({3, 8, 12}, 0.5), {8, 95, true});  // RGB, 8 x 12
  write_image(dir + "/a_first/nested/y.png", torch::ones({1, 16, 16}), {8, 95, true});
  write_image(dir + "/b_second/z.png", torch::zeros({1, 4, 4}), {8, 95, true});
  {
    std::ofstream(dir + "/b_second/broken.png") << "not a png";
    std::ofstream(dir + "/b_second/readme.txt") << "ignored: not an image extension";
    std::ifstream in(dir + "/a_first/x.png", std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ofstream(dir + "/a_first/truncated.png", std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  }
  FolderOptions o;
  o.height = o.width = 8;
  o.channels = 1;
  std::vector<BadFile> bad;
  const auto ds = load_image_folder(dir, o, &bad);
  EXPECT_EQ(ds.class_names, (std::vector<std::string>{"a_first", "b_second"}));
  ASSERT_EQ(ds.images.sizes(), (std::vector<int64_t>{3, 1, 8, 8}));
  EXPECT_TRUE(torch::equal(ds.labels, torch::tensor({0, 0, 1}, torch::kLong)));
  EXPECT_NEAR(ds.images[0].mean().item<double>(), 1.0, 1e-6);  // sorted paths: nested/y.png before x.png
  EXPECT_NEAR(ds.images[1].mean().item<double>(), 0.5, 0.01);  // RGB gray 0.5 to luminance, 8 x 12 cropped
  ASSERT_EQ(bad.size(), 2u);
  EXPECT_NE(bad[0].path.find("truncated.png"), std::string::npos);
  EXPECT_NE(bad[1].path.find("broken.png"), std::string::npos);
  EXPECT_EQ(bad[1].reason.find('\n'), std::string::npos);
  o.skip_bad = false;
  try {
    load_image_folder(dir, o);
    FAIL() << "expected a throw";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("truncated.png"), std::string::npos) << e.what();
  }
  EXPECT_THROW(load_image_folder(dir + "/missing", o), std::runtime_error);
}

TEST(Augment, ResizeCropChannelsFlipAndCrop) {
  // Shorter side fitted, then the centre kept: a 4 x 8 image with a bright centre band.
  auto img = torch::zeros({1, 1, 4, 8});
  img.slice(3, 2, 6).fill_(1.0);
  const auto r = resize_crop(img, 2, 2);
  EXPECT_EQ(r.sizes(), (std::vector<int64_t>{1, 1, 2, 2}));
  EXPECT_NEAR(r.mean().item<double>(), 1.0, 1e-6);
  EXPECT_EQ(resize(img, 8, 16).sizes(), (std::vector<int64_t>{1, 1, 8, 16}));
  // Rec. 601 luminance, alpha over black.
  const auto rgba = torch::tensor({1.0f, 0.0f, 0.0f, 0.5f}).view({4, 1, 1});
  EXPECT_NEAR(to_channels(rgba, 1).item<double>(), 0.299 * 0.5, 1e-6);
  EXPECT_EQ(to_channels(torch::ones({1, 2, 2}), 3).sizes(), (std::vector<int64_t>{3, 2, 2}));
  // Flips: p = 1 mirrors every item, p = 0 none; crops keep the size and stay inside the padding.
  at::Generator gen = at::detail::createCPUGenerator(1);
  const auto x = torch::arange(2 * 3 * 4, torch::kFloat32).view({2, 1, 3, 4});
  EXPECT_TRUE(torch::equal(random_hflip(x, gen, 1.0), x.flip({3})));
  EXPECT_TRUE(torch::equal(random_hflip(x, gen, 0.0), x));
  EXPECT_TRUE(torch::equal(random_crop(x, 0, gen), x));
  const auto c = random_crop(x + 1, 1, gen);
  EXPECT_EQ(c.sizes(), x.sizes());
  EXPECT_GE(c.min().item<double>(), 0.0);
}

TEST(Idx, ReadsPlainAndGzippedAndReportsTruncation) {
  const auto dir = temp_dir();
  std::vector<uint8_t> data(2 * 3 * 4);
  for (size_t i = 0; i < data.size(); ++i) data[i] = uint8_t(i * 7);
  write_idx(dir + "/a.idx", {2, 3, 4}, data, false);
  write_idx(dir + "/a.idx.gz", {2, 3, 4}, data, true);
  for (const char* f : {"/a.idx", "/a.idx.gz"}) {
    const auto t = read_idx(dir + f);
    EXPECT_EQ(t.sizes(), torch::IntArrayRef({2, 3, 4}));
    EXPECT_EQ(t[1][2][3].item<uint8_t>(), uint8_t(23 * 7));
  }
  write_idx(dir + "/short.idx", {2, 3, 4}, std::vector<uint8_t>(10), false);
  try {
    read_idx(dir + "/short.idx");
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(dir + "/short.idx: truncated IDX file (expected 24 bytes of data, got 10)"), std::string::npos) << e.what();
  }
}

TEST(FashionMnist, LoadsBothSplitsFromTheDebianPackage) {
  if (!fs::exists(std::string(kFashionMnistDir) + "/t10k-images-idx3-ubyte.gz")) GTEST_SKIP() << "dataset-fashion-mnist not installed";
  const auto test = load_fashion_mnist("test");
  EXPECT_EQ(test.images.sizes(), torch::IntArrayRef({10000, 1, 28, 28}));
  EXPECT_EQ(test.labels.min().item<int64_t>(), 0);
  EXPECT_EQ(test.labels.max().item<int64_t>(), 9);
  EXPECT_EQ(torch::bincount(test.labels).min().item<int64_t>(), 1000);  // balanced classes
  EXPECT_GT(test.images.mean().item<double>(), 0.2);
  EXPECT_EQ(test.class_names[9], "Ankle boot");
  EXPECT_THROW(load_fashion_mnist("valid"), std::invalid_argument);
}

// The plugin's two ends through the shipped models: the VAE's encode/decode round trip on held-out
// images, and sampling through the DiT pipeline, reproducible from the seed in any batch size.
TEST(ImagePipeline, VaeRoundTripsHeldOutImages) {
  if (!fs::exists(std::string(kFashionMnistDir) + "/t10k-images-idx3-ubyte.gz")) GTEST_SKIP() << "dataset-fashion-mnist not installed";
  auto vae = load_vae(shipped_model_path("fashion-mnist/vae.safetensors"));
  const auto x = load_fashion_mnist("test").images.slice(0, 0, 64);
  torch::NoGradGuard g;
  const auto z = vae->encode(x);
  EXPECT_EQ(z.sizes(), torch::IntArrayRef({64, 4, 7, 7}));
  const auto y = vae->decode(z);
  ASSERT_EQ(y.sizes(), x.sizes());
  const double mse = (y - x).pow(2).mean().item<double>(), var = x.var().item<double>();
  EXPECT_LT(mse, 0.05 * var) << "mse " << mse << " against the images' variance " << var;
  EXPECT_GT((y - x.flip({0})).pow(2).mean().item<double>(), 10 * mse);  // it is these images, not an average one
}

TEST(ImagePipeline, SamplesFromTheSeedInAnyBatchSize) {
  SampleArgs a;
  a.checkpoint = shipped_model_path("fashion-mnist/dit.safetensors");
  a.seed = 5;
  a.steps = 3;
  a.label = "Trouser";
  a.batch = 3;
  SampleInfo info;
  const auto x = sample_images(a, 3, &info);
  ASSERT_EQ(x.sizes(), torch::IntArrayRef({3, 1, 28, 28}));
  EXPECT_GE(x.min().item<double>(), 0.0);
  EXPECT_LE(x.max().item<double>(), 1.0);
  EXPECT_EQ(info.labels, std::vector<std::string>(3, "Trouser"));
  EXPECT_EQ(info.forward_items, 2 * 3 * info.forwards);  // CFG: cond and uncond in one call of all 3
  a.batch = 1;
  EXPECT_LT(max_abs(sample_images(a, 3), x), 1e-4);
  EXPECT_LT(max_abs(sample_images(a, 1)[0], x[0]), 1e-4);  // item i's noise is its own
  a.seed = 6;
  EXPECT_GT(max_abs(sample_images(a, 1)[0], x[0]), 0.1);
  a.label = "Sculpture";
  try {
    sample_images(a, 1);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("unknown class 'Sculpture'; one of: 0=T-shirt/top"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace diffuse::image
