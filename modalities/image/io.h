// Image files through OpenImageIO: any format and bit depth it reads (PNG, JPEG, TIFF, EXR, ...)
// to float tensors (C, H, W) in [0, 1] (EXR keeps its values); PNG (8/16-bit), JPEG, TIFF and EXR
// out. Alpha stays straight (unassociated) both ways.
#pragma once
#include <torch/types.h>

#include <string>
#include <vector>

namespace diffuse::image {

// (C, H, W) float32; C is the file's channel count (1 gray, 3 RGB, 4 RGBA). Errors name the file.
torch::Tensor read_image(const std::string& path);

struct WriteOptions {
  int bits = 8;       // PNG: 8 or 16; EXR: 16 (half) or 32 (float); JPEG: 8
  int quality = 95;   // JPEG
  bool force = false; // overwrite an existing file
};
// Writes (C, H, W) or (H, W) values in [0, 1] (clamped for integer formats) atomically; the format
// follows the extension (.png, .jpg/.jpeg, .exr, .tif/.tiff).
// The formats write_image writes (by extension).
inline const std::vector<std::string> kImageFormats = {".png", ".jpg", ".jpeg", ".exr", ".tif", ".tiff"};
void write_image(const std::string& path, const torch::Tensor& image, const WriteOptions& o = {});

// Tiles (N, C, H, W) into one (C, H', W') image, `columns` per row, `padding` pixels of `pad_value`.
torch::Tensor make_grid(const torch::Tensor& images, int64_t columns, int64_t padding = 2, double pad_value = 0.0);

// A grid with text (RGB out): when every row holds one label, the label is written left of the
// row; otherwise each cell gets its label as a caption below. Images are first enlarged `scale`
// times (nearest neighbour). Text is drawn with OpenImageIO and the DejaVu Sans font (Debian
// package fonts-dejavu-core); throws naming the font when it cannot draw.
torch::Tensor make_labelled_grid(const torch::Tensor& images, int64_t columns, const std::vector<std::string>& labels,
                                 int64_t scale = 1);

}  // namespace diffuse::image
