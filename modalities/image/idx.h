// IDX files (the MNIST format; gzipped or not) and the Fashion-MNIST dataset from the Debian
// package dataset-fashion-mnist (/usr/share/datasets/fashion-mnist/).
#pragma once
#include <torch/types.h>

#include <string>
#include <vector>

namespace diffuse::image {

// An unsigned-byte IDX tensor: images (N, H, W) uint8 or labels (N,) uint8. Errors name the file
// and what was wrong (bad magic, unsupported type, truncated data).
torch::Tensor read_idx(const std::string& path);

struct ImageDataset {
  torch::Tensor images;  // (N, 1, H, W) float32 in [0, 1]
  torch::Tensor labels;  // (N,) int64
  std::vector<std::string> class_names;
};

constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";
const std::vector<std::string>& fashion_mnist_classes();
// split: "train" (60000) or "test" (10000). Throws naming the file and the package to install.
ImageDataset load_fashion_mnist(const std::string& split, const std::string& dir = kFashionMnistDir);

}  // namespace diffuse::image
