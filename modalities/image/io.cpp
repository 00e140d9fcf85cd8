// OpenImageIO reading and writing (a headless build, without DIFFUSE_IMAGE_FILES, has none).
#include "modalities/image/io.h"

#if DIFFUSE_IMAGE_FILES
#include <OpenImageIO/imagebuf.h>
#include <OpenImageIO/imagebufalgo.h>
#include <OpenImageIO/imageio.h>
#endif
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <stdexcept>

#include "core/files.h"

namespace diffuse::image {

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

#if DIFFUSE_IMAGE_FILES

namespace {
constexpr int64_t kMaxImageValues = int64_t(1) << 28;  // 1 GiB as float32, e.g. 16384 x 16384 RGBA
}  // namespace

torch::Tensor read_image(const std::string& path) {
  if (!std::filesystem::exists(path)) throw std::runtime_error(path + ": no such file");
  OIIO::ImageSpec config;
  config.attribute("oiio:UnassociatedAlpha", 1);  // keep straight alpha: no premultiplication
  auto in = OIIO::ImageInput::open(path, &config);
  if (!in) throw std::runtime_error(path + ": not a readable image (" + OIIO::geterror() + ")");
  const auto& spec = in->spec();
  const int64_t w = spec.width, h = spec.height, c = spec.nchannels;
  if (w < 1 || h < 1 || c < 1) throw std::runtime_error(path + ": empty image");
  if (double(w) * double(h) * double(c) > double(kMaxImageValues)) {  // before allocating what a header claims
    throw std::runtime_error(path + ": a " + std::to_string(w) + " x " + std::to_string(h) + " x " + std::to_string(c) +
                             " image, more than the " + std::to_string(kMaxImageValues) + " values diffuse reads from one image");
  }
  auto hwc = torch::empty({h, w, c}, torch::kFloat32);
  if (!in->read_image(0, 0, 0, int(c), OIIO::TypeDesc::FLOAT, hwc.data_ptr<float>())) {
    std::string why = in->geterror();
    std::replace(why.begin(), why.end(), '\n', ' ');  // one-line errors
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
  const auto tmp = temp_path_for(path);
  TempFileGuard guard(tmp);
  auto out = OIIO::ImageOutput::create(tmp);
  if (!out) throw std::runtime_error(path + ": cannot create a writer (" + OIIO::geterror() + ")");
  OIIO::ImageSpec spec(int(w), int(h), int(c), type);
  if (ext == ".jpg" || ext == ".jpeg") spec.attribute("Compression", "jpeg:" + std::to_string(o.quality));
  if (c == 4) spec.attribute("oiio:UnassociatedAlpha", 1);  // tensors hold straight alpha
  if (!out->open(tmp, spec) || !out->write_image(OIIO::TypeDesc::FLOAT, hwc.data_ptr<float>()) || !out->close()) {
    throw std::runtime_error(path + ": write failed (" + out->geterror() + "); nothing was replaced");
  }
  out.reset();
  // Format libraries do not always report a failed write (a full disk, a file-size limit): the
  // file must read back whole, at its size, before it replaces anything.
  {
    auto check = OIIO::ImageInput::open(tmp);
    std::vector<float> pixels(size_t(h * w * c));
    const bool whole = check && check->spec().width == int(w) && check->spec().height == int(h) &&
                       check->read_image(0, 0, 0, int(c), OIIO::TypeDesc::FLOAT, pixels.data());
    if (!whole) {
      const std::string why = check ? check->geterror() : OIIO::geterror();
      throw std::runtime_error(path + ": write failed (the file does not read back" + (why.empty() ? "" : ": " + why) +
                               "; disk full?); nothing was replaced");
    }
  }
  guard.release();
  commit_temp_file(tmp, path);
}

namespace {

torch::Tensor to_rgb(const torch::Tensor& x) {  // (N, C, H, W), alpha over black
  auto y = x;
  const int64_t c = y.size(1);
  if (c == 2 || c == 4) y = y.slice(1, 0, c - 1) * y.slice(1, c - 1, c);
  return y.size(1) == 3 ? y : y.slice(1, 0, 1).expand({-1, 3, -1, -1});
}

}  // namespace

namespace {

std::string font_path() {
  for (const char* f : {"/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/TTF/DejaVuSans.ttf"}) {
    if (std::filesystem::exists(f)) return f;
  }
  return "DejaVuSans";  // let OpenImageIO search its font path
}

}  // namespace

torch::Tensor make_labelled_grid(const torch::Tensor& images, int64_t columns, const std::vector<std::string>& labels,
                                 int64_t scale) {
  TORCH_CHECK(images.dim() == 4 && int64_t(labels.size()) == images.size(0), "make_labelled_grid: one label per image");
  TORCH_CHECK(scale >= 1, "make_labelled_grid: scale must be >= 1");
  auto x = images.detach().to(torch::kCPU, torch::kFloat32).clamp(0.0, 1.0);
  x = to_rgb(x);
  if (scale > 1) x = x.repeat_interleave(scale, 2).repeat_interleave(scale, 3);
  const int64_t n = x.size(0), h = x.size(2), w = x.size(3), pad = 2;
  const int64_t cols = std::min(columns, n), rows = (n + cols - 1) / cols;
  bool per_row = true;
  for (int64_t i = 0; i < n; ++i) per_row = per_row && labels[size_t(i)] == labels[size_t(i - i % cols)];
  const std::string font = font_path();
  const int size = int(std::clamp<int64_t>(h / 2, 11, 16));
  int64_t label_w = 0, caption_h = 0;
  if (per_row) {
    for (int64_t r = 0; r < rows; ++r) {
      const auto roi = OIIO::ImageBufAlgo::text_size(labels[size_t(r * cols)], size, font);
      if (!roi.defined()) throw std::runtime_error("cannot draw text with font " + font + " (install fonts-dejavu-core)");
      label_w = std::max<int64_t>(label_w, roi.width() + 8);
    }
  } else {
    caption_h = size + 8;
  }
  const int64_t cell_w = w + pad, cell_h = h + caption_h + pad;
  auto grid = torch::zeros({rows * cell_h + pad, label_w + cols * cell_w + pad, 3});
  for (int64_t i = 0; i < n; ++i) {
    const int64_t r = i / cols, q = i % cols, top = pad + r * cell_h, left = label_w + pad + q * cell_w;
    grid.slice(0, top, top + h).slice(1, left, left + w).copy_(x[i].permute({1, 2, 0}));
  }
  grid = grid.contiguous();
  OIIO::ImageBuf buf(OIIO::ImageSpec(int(grid.size(1)), int(grid.size(0)), 3, OIIO::TypeDesc::FLOAT), grid.data_ptr<float>());
  const float white[3] = {1.0f, 1.0f, 1.0f};
  auto draw = [&](int64_t px, int64_t py, const std::string& text, OIIO::ImageBufAlgo::TextAlignX ax) {
    if (!OIIO::ImageBufAlgo::render_text(buf, int(px), int(py), text, size, font, white, ax, OIIO::ImageBufAlgo::TextAlignY::Center)) {
      throw std::runtime_error("cannot draw text with font " + font + " (" + buf.geterror() + "; install fonts-dejavu-core)");
    }
  };
  for (int64_t r = 0; r < rows; ++r) {
    if (per_row) {
      draw(label_w - 4, pad + r * cell_h + h / 2, labels[size_t(r * cols)], OIIO::ImageBufAlgo::TextAlignX::Right);
      continue;
    }
    for (int64_t q = 0; q < cols && r * cols + q < n; ++q) {
      std::string t = labels[size_t(r * cols + q)];
      while (t.size() > 1 && OIIO::ImageBufAlgo::text_size(t, size, font).width() > w) t.pop_back();
      draw(label_w + pad + q * cell_w + w / 2, pad + r * cell_h + h + caption_h / 2, t, OIIO::ImageBufAlgo::TextAlignX::Center);
    }
  }
  return grid.permute({2, 0, 1}).contiguous();  // the buffer wrapped grid's memory
}

#else  // headless: no image files

namespace {
[[noreturn]] void no_image_files(const std::string& what) {
  throw std::runtime_error(what + ": this diffuse was built headless (-DDIFFUSE_HEADLESS=ON, without OpenImageIO), so it reads and writes no image files");
}
}  // namespace

torch::Tensor read_image(const std::string& path) { no_image_files(path); }
void write_image(const std::string& path, const torch::Tensor&, const WriteOptions&) { no_image_files(path); }
torch::Tensor make_labelled_grid(const torch::Tensor&, int64_t, const std::vector<std::string>&, int64_t) { no_image_files("a labelled grid"); }

#endif

}  // namespace diffuse::image
