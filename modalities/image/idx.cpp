// IDX reading through zlib (gzread reads plain files too).
#include "modalities/image/idx.h"

#include <torch/torch.h>
#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <stdexcept>

namespace diffuse::image {

namespace {
constexpr int64_t kMaxIdxBytes = int64_t(1) << 31;  // gzread reads at most INT_MAX bytes at a time
}  // namespace

torch::Tensor read_idx(const std::string& path) {
  if (!std::filesystem::exists(path)) throw std::runtime_error(path + ": no such file");
  std::unique_ptr<gzFile_s, int (*)(gzFile)> f(gzopen(path.c_str(), "rb"), gzclose);
  if (!f) throw std::runtime_error(path + ": cannot open");
  auto read_exact = [&](void* buf, size_t n, const char* what) {
    const int got = gzread(f.get(), buf, unsigned(n));
    if (got != int(n)) {
      throw std::runtime_error(path + ": truncated IDX file (expected " + std::to_string(n) + " bytes of " + what + ", got " +
                               std::to_string(std::max(got, 0)) + ")");
    }
  };
  // What the header may claim: a plain file holds at most its own size, a gzip stream at most
  // deflate's 1032:1 ratio of it; a corrupt header is refused before anything is allocated.
  std::error_code ec;
  const int64_t bytes = int64_t(std::filesystem::file_size(path, ec));
  unsigned char gz[2] = {0, 0};
  {
    std::unique_ptr<FILE, int (*)(FILE*)> raw(std::fopen(path.c_str(), "rb"), std::fclose);
    if (raw && std::fread(gz, 1, 2, raw.get()) != 2) gz[0] = gz[1] = 0;
  }
  const int64_t can_hold = std::min<int64_t>(kMaxIdxBytes, gz[0] == 0x1f && gz[1] == 0x8b ? bytes * 1032 : bytes);
  unsigned char magic[4];
  read_exact(magic, 4, "magic number");
  if (magic[0] != 0 || magic[1] != 0) throw std::runtime_error(path + ": not an IDX file (bad magic number)");
  if (magic[2] != 0x08) throw std::runtime_error(path + ": IDX type 0x" + std::to_string(magic[2]) + " not supported (expected unsigned byte, 0x08)");
  const int dims = magic[3];
  if (dims < 1 || dims > 4) throw std::runtime_error(path + ": IDX with " + std::to_string(dims) + " dimensions not supported");
  std::vector<int64_t> shape;
  int64_t total = 1;
  for (int i = 0; i < dims; ++i) {
    unsigned char b[4];
    read_exact(b, 4, "dimension size");
    shape.push_back((int64_t(b[0]) << 24) | (int64_t(b[1]) << 16) | (int64_t(b[2]) << 8) | int64_t(b[3]));
    total *= std::max<int64_t>(shape.back(), 1);
    if (total > can_hold) {  // before allocating what a corrupt header claims
      throw std::runtime_error(path + ": its IDX header claims more data than the file can hold (" + std::to_string(bytes) + " bytes; corrupt or truncated)");
    }
  }
  if (std::find(shape.begin(), shape.end(), 0) != shape.end()) throw std::runtime_error(path + ": an IDX file with an empty dimension");
  auto t = torch::empty(shape, torch::kUInt8);
  read_exact(t.data_ptr<uint8_t>(), size_t(total), "data");
  return t;
}

const std::vector<std::string>& fashion_mnist_classes() {
  static const std::vector<std::string> names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                 "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return names;
}

ImageDataset load_fashion_mnist(const std::string& split, const std::string& dir) {
  if (split != "train" && split != "test") throw std::invalid_argument("Fashion-MNIST split must be train or test, got '" + split + "'");
  const std::string prefix = dir + "/" + (split == "train" ? "train" : "t10k");
  const std::string images = prefix + "-images-idx3-ubyte.gz", labels = prefix + "-labels-idx1-ubyte.gz";
  if (!std::filesystem::exists(images)) {
    throw std::runtime_error(images + ": not found; install the Debian package dataset-fashion-mnist (scripts/install-deps.sh)");
  }
  const auto x = read_idx(images), y = read_idx(labels);
  if (x.dim() != 3 || y.dim() != 1 || x.size(0) != y.size(0)) {
    throw std::runtime_error(prefix + ": images and labels disagree (" + std::to_string(x.size(0)) + " vs " + std::to_string(y.size(0)) + ")");
  }
  return {x.unsqueeze(1).to(torch::kFloat32) / 255.0, y.to(torch::kLong), fashion_mnist_classes()};
}

}  // namespace diffuse::image
