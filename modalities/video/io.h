// Video files through FFmpeg's libraries (libavformat, libavcodec, libswscale; not the ffmpeg
// program): decode any container and codec FFmpeg reads to a frames tensor, with frame stride,
// fps resampling and resizing; encode H.264 (libx264) MP4 in yuv420p with +faststart, or VP9
// WebM, with fps, CRF and preset options. Odd sizes are padded to even ones for yuv420p.
#pragma once
#include <torch/types.h>

#include <string>
#include <utility>
#include <vector>

namespace diffuse::video {

struct Video {
  torch::Tensor frames;  // (T, 3, H, W) float32 in [0, 1]
  double fps = 0;
};

struct VideoReadOptions {
  int64_t stride = 1;          // keep every stride-th frame (after fps resampling)
  double fps = 0;              // resample to this rate by nearest frame (0: the file's)
  int64_t height = 0, width = 0;  // resize (0: the file's size)
  int64_t max_frames = 0;      // stop after this many output frames (0: all)
};
// Errors name the file and the reason: not a video, no video stream, no decodable frames.
Video read_video(const std::string& path, const VideoReadOptions& o = {});

struct VideoWriteOptions {
  double fps = 8;
  int crf = 18;                  // libx264/libvpx-vp9 constant quality: lower is better
  std::string preset = "medium"; // libx264 speed/size trade-off
  bool force = false;            // overwrite an existing file
};
// Writes (T, C, H, W) frames (C = 1 or 3, values in [0, 1]) atomically; the format follows the
// extension: .mp4 (H.264), .webm (VP9) or .gif (animated; 8-bit gray for C = 1, RGB 3-3-2 with
// dithering for C = 3; crf and preset do not apply).
// The formats write_video writes (by extension).
inline const std::vector<std::string> kVideoFormats = {".mp4", ".webm", ".gif"};
void write_video(const std::string& path, const torch::Tensor& frames, const VideoWriteOptions& o = {});

struct VideoFolder {
  torch::Tensor clips;   // (N, T, 3, H, W)
  torch::Tensor labels;  // (N,) int64
  std::vector<std::string> class_names;
  std::vector<std::pair<std::string, std::string>> bad;  // unreadable files: path, reason
};
// DIR/<class>/<files>: every file FFmpeg decodes, resized to height x width and cut or padded
// (last frame repeated) to `frames`. Unreadable files are reported and skipped, or throw when
// skip_bad is false. Throws if nothing loads.
VideoFolder load_video_folder(const std::string& dir, int64_t frames, int64_t height, int64_t width, bool skip_bad);

// PSNR in dB between two frame stacks in [0, 1].
double video_psnr(const torch::Tensor& a, const torch::Tensor& b);

}  // namespace diffuse::video
