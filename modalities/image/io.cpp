// OpenImageIO reading and writing.
#include "modalities/image/io.h"

#include <OpenImageIO/imageio.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <stdexcept>

#include "core/files.h"

namespace diffuse::image {

torch::Tensor read_image(const std::string& path) {
  if (!std::filesystem::exists(path)) throw std::runtime_error(path + ": no such file");
  OIIO::ImageSpec config;
  config.attribute("oiio:UnassociatedAlpha", 1);  // keep straight alpha: no premultiplication
  auto in = OIIO::ImageInput::open(path, &config);
  if (!in) throw std::runtime_error(path + ": not a readable image (" + OIIO::geterror() + ")");
  const auto& spec = in->spec();
  const int64_t w = spec.width, h = spec.height, c = spec.nchannels;
  if (w < 1 || h < 1 || c < 1) throw std::runtime_error(path + ": empty image");
  auto hwc = torch::empty({h, w, c}, torch::kFloat32);
  if (!in->read_image(0, 0, 0, int(c), OIIO::TypeDesc::FLOAT, hwc.data_ptr<float>())) {
    const std::string why = in->geterror();
    throw std::runtime_error(path + ": cannot decode (" + (why.empty() ? "truncated or corrupt" : why) + ")");
  }
  in->close();
  return hwc.permute({2, 0, 1}).contiguous();
}

void write_image(const std::string& path, const torch::Tensor& image, const WriteOptions& o) {
  check_writable(path, o.force);
  auto chw = image.dim() == 2 ? image.unsqueeze(0) : image;
  TORCH_CHECK(chw.dim() == 3 && chw.size(0) >= 1 && chw.size(0) <= 4, "write_image: expected (C, H, W) with C in 1..4, got ",
              image.sizes());
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
  OIIO::TypeDesc type = OIIO::TypeDesc::UINT8;
  if (ext == ".png") {
    if (o.bits != 8 && o.bits != 16) throw std::invalid_argument("PNG bit depth must be 8 or 16, got " + std::to_string(o.bits));
    type = o.bits == 16 ? OIIO::TypeDesc::UINT16 : OIIO::TypeDesc::UINT8;
  } else if (ext == ".exr") {
    type = o.bits == 32 ? OIIO::TypeDesc::FLOAT : OIIO::TypeDesc::HALF;
  } else if (ext == ".tif" || ext == ".tiff") {
    type = o.bits == 16 ? OIIO::TypeDesc::UINT16 : o.bits == 32 ? OIIO::TypeDesc::FLOAT : OIIO::TypeDesc::UINT8;
  } else if (ext != ".jpg" && ext != ".jpeg") {
    throw std::invalid_argument(path + ": unsupported image format '" + ext + "'; one of: .png, .jpg, .jpeg, .exr, .tif, .tiff");
  }
  auto hwc = chw.detach().to(torch::kCPU, torch::kFloat32);
  if (type != OIIO::TypeDesc::FLOAT && type != OIIO::TypeDesc::HALF) hwc = hwc.clamp(0.0, 1.0);
  hwc = hwc.permute({1, 2, 0}).contiguous();
  const int64_t h = hwc.size(0), w = hwc.size(1), c = hwc.size(2);
  // Same folder and extension, so the rename is atomic and OIIO picks the format.
  const auto p = std::filesystem::path(path);
  const auto tmp = (p.parent_path() / ("." + p.stem().string() + ".tmp-" + std::to_string(::getpid()) + ext)).string();
  auto out = OIIO::ImageOutput::create(tmp);
  if (!out) throw std::runtime_error(path + ": cannot create a writer (" + OIIO::geterror() + ")");
  OIIO::ImageSpec spec(int(w), int(h), int(c), type);
  if (ext == ".jpg" || ext == ".jpeg") spec.attribute("Compression", "jpeg:" + std::to_string(o.quality));
  if (c == 4) spec.attribute("oiio:UnassociatedAlpha", 1);  // tensors hold straight alpha
  if (!out->open(tmp, spec) || !out->write_image(OIIO::TypeDesc::FLOAT, hwc.data_ptr<float>()) || !out->close()) {
    const std::string why = out->geterror();
    std::remove(tmp.c_str());
    throw std::runtime_error(path + ": write failed (" + why + ")");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    throw std::runtime_error(path + ": rename failed (" + ec.message() + ")");
  }
}

torch::Tensor make_grid(const torch::Tensor& images, int64_t columns, int64_t padding, double pad_value) {
  TORCH_CHECK(images.dim() == 4, "make_grid expects (N, C, H, W), got ", images.sizes());
  TORCH_CHECK(columns >= 1 && padding >= 0, "make_grid needs columns >= 1 and padding >= 0");
  const int64_t n = images.size(0), c = images.size(1), h = images.size(2), w = images.size(3);
  const int64_t cols = std::min(columns, n), rows = (n + cols - 1) / cols;
  auto grid = torch::full({c, rows * (h + padding) + padding, cols * (w + padding) + padding}, pad_value, images.options());
  for (int64_t i = 0; i < n; ++i) {
    const int64_t r = i / cols, q = i % cols;
    grid.slice(1, padding + r * (h + padding), padding + r * (h + padding) + h)
        .slice(2, padding + q * (w + padding), padding + q * (w + padding) + w)
        .copy_(images[i]);
  }
  return grid;
}

}  // namespace diffuse::image
