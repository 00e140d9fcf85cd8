// Image folders and augmentations.
#include "modalities/image/dataset.h"

#if DIFFUSE_IMAGE_FILES
#include <OpenImageIO/imageio.h>
#endif
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <set>

#include "modalities/image/io.h"

namespace diffuse::image {
namespace fs = std::filesystem;

namespace {

// Lower-case extensions OpenImageIO can read ("png", "jpg", ...).
const std::set<std::string>& image_extensions() {
  static const std::set<std::string> exts = [] {
    std::set<std::string> s;
#if DIFFUSE_IMAGE_FILES
    std::string list = OIIO::get_string_attribute("extension_list");  // "png:png;jpeg:jpg,jpe,jpeg;..."
#else
    std::string list;  // headless: the common ones below, which read_image refuses by name
#endif
    for (size_t start = 0; start < list.size();) {
      size_t end = list.find(';', start);
      if (end == std::string::npos) end = list.size();
      const std::string entry = list.substr(start, end - start);
      const size_t colon = entry.find(':');
      std::string rest = colon == std::string::npos ? entry : entry.substr(colon + 1);
      for (size_t a = 0; a <= rest.size();) {
        size_t b = rest.find(',', a);
        if (b == std::string::npos) b = rest.size();
        if (b > a) s.insert(rest.substr(a, b - a));
        a = b + 1;
      }
      start = end + 1;
    }
    for (const char* e : {"png", "jpg", "jpeg", "tif", "tiff", "exr", "bmp"}) s.insert(e);
    return s;
  }();
  return exts;
}

std::string lower_extension(const fs::path& p) {
  std::string e = p.extension().string();
  if (!e.empty()) e = e.substr(1);
  std::transform(e.begin(), e.end(), e.begin(), ::tolower);
  return e;
}

}  // namespace

torch::Tensor to_channels(const torch::Tensor& image, int64_t channels) {
  TORCH_CHECK(image.dim() == 3, "to_channels expects (C, H, W), got ", image.sizes());
  TORCH_CHECK(channels == 1 || channels == 3, "to_channels: channels must be 1 or 3, got ", channels);
  auto x = image;
  const int64_t c = x.size(0);
  if (c == 2 || c == 4) x = x.slice(0, 0, c - 1) * x.slice(0, c - 1, c);  // straight alpha over black
  if (x.size(0) > 3) x = x.slice(0, 0, 3);
  if (x.size(0) == channels) return x.contiguous();
  if (channels == 3) return x.slice(0, 0, 1).expand({3, -1, -1}).contiguous();
  const auto w = torch::tensor({0.299f, 0.587f, 0.114f}).view({3, 1, 1});
  return (x * w).sum(0, true);
}

torch::Tensor resize(const torch::Tensor& images, int64_t h, int64_t w) {
  TORCH_CHECK(images.dim() == 4 && h > 0 && w > 0, "resize expects (N, C, H, W) and a positive size");
  if (images.size(2) == h && images.size(3) == w) return images;
  namespace F = torch::nn::functional;
  if (h <= images.size(2) && w <= images.size(3)) {
    return F::adaptive_avg_pool2d(images, F::AdaptiveAvgPool2dFuncOptions({h, w}));
  }
  return F::interpolate(images, F::InterpolateFuncOptions().size(std::vector<int64_t>{h, w}).mode(torch::kBilinear).align_corners(false));
}

torch::Tensor resize_crop(const torch::Tensor& images, int64_t h, int64_t w) {
  const int64_t H = images.size(2), W = images.size(3);
  const double s = std::max(double(h) / double(H), double(w) / double(W));
  const int64_t rh = std::max(h, int64_t(std::lround(H * s))), rw = std::max(w, int64_t(std::lround(W * s)));
  const auto r = resize(images, rh, rw);
  const int64_t top = (rh - h) / 2, left = (rw - w) / 2;
  return r.slice(2, top, top + h).slice(3, left, left + w).contiguous();
}

torch::Tensor random_crop(const torch::Tensor& images, int64_t pad, at::Generator& gen) {
  if (pad <= 0) return images;
  const int64_t n = images.size(0), H = images.size(2), W = images.size(3);
  const auto padded = torch::constant_pad_nd(images, {pad, pad, pad, pad}, 0.0);
  const auto offsets = torch::randint(0, 2 * pad + 1, {n, 2}, gen, torch::kLong);
  auto out = torch::empty_like(images);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t dy = offsets[i][0].item<int64_t>(), dx = offsets[i][1].item<int64_t>();
    out[i].copy_(padded[i].slice(1, dy, dy + H).slice(2, dx, dx + W));
  }
  return out;
}

torch::Tensor random_hflip(const torch::Tensor& images, at::Generator& gen, double p) {
  const auto flip = (torch::rand({images.size(0)}, gen) < p).to(images.device()).view({-1, 1, 1, 1});
  return torch::where(flip, images.flip({3}), images);
}

ImageDataset load_image_folder(const std::string& dir, const FolderOptions& o, std::vector<BadFile>* bad) {
  if (!fs::is_directory(dir)) throw std::runtime_error(dir + ": not a folder (expected DIR/<class>/<image files>)");
  std::vector<std::string> classes;
  for (const auto& e : fs::directory_iterator(dir)) if (e.is_directory()) classes.push_back(e.path().filename().string());
  std::sort(classes.begin(), classes.end());
  if (classes.empty()) throw std::runtime_error(dir + ": no class sub-folders (expected DIR/<class>/<image files>)");
  int64_t h = o.height, w = o.width, c = o.channels;
  std::vector<torch::Tensor> images;
  std::vector<int64_t> labels;
  for (size_t k = 0; k < classes.size(); ++k) {
    std::vector<fs::path> files;
    for (const auto& e : fs::recursive_directory_iterator(fs::path(dir) / classes[k])) {
      if (e.is_regular_file() && image_extensions().count(lower_extension(e.path()))) files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      torch::Tensor img;
      try {
        img = read_image(f.string());
      } catch (const std::exception& e) {
        if (!o.skip_bad) throw std::runtime_error(std::string(e.what()) + " (pass --on-bad skip to skip unreadable files)");
        if (bad) bad->push_back({f.string(), e.what()});
        continue;
      }
      if (c == 0) c = img.size(0) >= 3 ? 3 : 1;
      if (h == 0 || w == 0) h = img.size(1), w = img.size(2);
      images.push_back(resize_crop(to_channels(img, c).unsqueeze(0), h, w)[0]);
      labels.push_back(int64_t(k));
    }
  }
  if (images.empty()) throw std::runtime_error(dir + ": no readable images in " + std::to_string(classes.size()) + " class folders");
  return {torch::stack(images), torch::tensor(labels, torch::kLong), classes};
}

ImageDataset load_image_data(const Json& data, const std::string& split) {
  const std::string kind = data.value("dataset", std::string("fashion-mnist"));
  if (kind == "fashion-mnist") return load_fashion_mnist(split, data.value("dir", std::string(kFashionMnistDir)));
  if (kind != "folder") throw std::invalid_argument("unknown image dataset '" + kind + "'; one of: fashion-mnist, folder");
  const std::string dir = json_at(data, "dir", "data").get<std::string>();
  if (split != "train") throw std::invalid_argument(dir + ": an image folder has only a train split");
  FolderOptions o;
  if (data.contains("size")) {
    const auto s = data.at("size").get<std::vector<int64_t>>();
    if (s.size() != 2 || s[0] < 1 || s[1] < 1) throw std::invalid_argument("data.size must be [height, width], got " + data.at("size").dump());
    o.height = s[0];
    o.width = s[1];
  }
  o.channels = data.value("channels", int64_t(0));
  const std::string on_bad = data.value("on_bad", std::string("skip"));
  if (on_bad != "skip" && on_bad != "fail") throw std::invalid_argument("on_bad must be skip or fail, got '" + on_bad + "'");
  o.skip_bad = on_bad == "skip";
  std::vector<BadFile> bad;
  auto ds = load_image_folder(dir, o, &bad);
  for (const auto& b : bad) std::cerr << "skipped " << b.reason << "\n";
  std::cerr << dir << ": " << ds.images.size(0) << " images in " << ds.class_names.size() << " classes, "
            << ds.images.size(2) << "x" << ds.images.size(3) << "x" << ds.images.size(1);
  if (!bad.empty()) std::cerr << "; " << bad.size() << " unreadable file(s) skipped";
  std::cerr << "\n";
  return ds;
}

}  // namespace diffuse::image
