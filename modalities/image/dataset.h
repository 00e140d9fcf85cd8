// Image datasets and augmentations: an image folder (class = sub-folder name, like torchvision's
// ImageFolder) with a report of unreadable files, Fashion-MNIST from IDX files, and the resize,
// crop and flip transforms training uses.
#pragma once
#include <ATen/core/Generator.h>
#include <torch/types.h>

#include <string>
#include <vector>

#include "core/json.h"
#include "modalities/image/idx.h"

namespace diffuse::image {

struct BadFile {
  std::string path, reason;
};

struct FolderOptions {
  int64_t height = 0, width = 0;  // 0: the first readable image's size
  int64_t channels = 0;           // 1 gray, 3 RGB; 0: the first readable image's (alpha dropped)
  bool skip_bad = true;           // false: the first unreadable file stops the load
};

// Reads DIR/<class>/<file> for every image extension OpenImageIO knows. Classes are the sorted
// sub-folder names. Each image is converted to `channels`, resized so its shorter side fits and
// centre-cropped to height x width. Unreadable or truncated files go to `bad` (path and reason)
// and are skipped, or throw when skip_bad is false. Throws if nothing loads.
ImageDataset load_image_folder(const std::string& dir, const FolderOptions& o, std::vector<BadFile>* bad = nullptr);

// The dataset a recipe's "data" names: {"dataset": "fashion-mnist"} (optionally "dir") or
// {"dataset": "folder", "dir": ..., "size": [H, W], "channels": C, "on_bad": "skip"|"fail"}.
// `split` is "train" or "test" (a folder has one split: "test" throws). Bad files are printed
// to stderr, one line each, with a count.
ImageDataset load_image_data(const Json& data, const std::string& split);

// (C, H, W) with any channel count -> `channels` (1 or 3): luminance (Rec. 601) for gray, alpha
// composited over black.
torch::Tensor to_channels(const torch::Tensor& image, int64_t channels);
// (N, C, H, W) -> (N, C, h, w): area averaging when shrinking, bilinear when enlarging.
torch::Tensor resize(const torch::Tensor& images, int64_t h, int64_t w);
// Resize the shorter side to fit, then centre-crop to h x w (torchvision Resize + CenterCrop).
torch::Tensor resize_crop(const torch::Tensor& images, int64_t h, int64_t w);
// Per-item random crop of the same size after zero padding by `pad` pixels (the CIFAR recipe).
torch::Tensor random_crop(const torch::Tensor& images, int64_t pad, at::Generator& gen);
// Flips each item left-right with probability p.
torch::Tensor random_hflip(const torch::Tensor& images, at::Generator& gen, double p = 0.5);

}  // namespace diffuse::image
