// Image modality I/O: round trips through each written format, IDX reading, refusals.
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>

#include "modalities/image/idx.h"
#include "modalities/image/io.h"

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

}  // namespace
}  // namespace diffuse::image
