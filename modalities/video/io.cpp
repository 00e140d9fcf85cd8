// FFmpeg decoding and encoding (a headless build, without DIFFUSE_VIDEO_FILES, has none).
#include "modalities/video/io.h"

#if DIFFUSE_VIDEO_FILES
extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
}
#endif
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <stdexcept>

#include "core/files.h"
#include "core/precision.h"

namespace diffuse::video {

double video_psnr(const torch::Tensor& a, const torch::Tensor& b) {
  const double mse = (a.to(torch::kFloat64) - b.to(torch::kFloat64)).pow(2).mean().item<double>();
  return mse <= 0 ? 100.0 : 10.0 * std::log10(1.0 / mse);
}

#if DIFFUSE_VIDEO_FILES
namespace {

// Our errors name the file and the reason; FFmpeg's own log lines would repeat them on stderr.
void quiet_ffmpeg() {
  static const bool once = [] {
    av_log_set_level(AV_LOG_FATAL);
    return true;
  }();
  (void)once;
}

std::string av_error(int code) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {0};
  av_strerror(code, buf, sizeof(buf));
  return buf;
}

struct FormatInput {
  AVFormatContext* ctx = nullptr;
  ~FormatInput() { avformat_close_input(&ctx); }
};
struct CodecContext {
  AVCodecContext* ctx = nullptr;
  ~CodecContext() { avcodec_free_context(&ctx); }
};
struct Frame {
  AVFrame* f = av_frame_alloc();
  ~Frame() { av_frame_free(&f); }
};
struct Packet {
  AVPacket* p = av_packet_alloc();
  ~Packet() { av_packet_free(&p); }
};
struct Scaler {
  SwsContext* s = nullptr;
  ~Scaler() { sws_freeContext(s); }
};

}  // namespace

Video read_video(const std::string& path, const VideoReadOptions& o) {
  if (!std::filesystem::exists(path)) throw std::runtime_error(path + ": no such file");
  if (o.stride < 1) throw std::invalid_argument("frame stride must be >= 1, got " + std::to_string(o.stride));
  quiet_ffmpeg();
  FormatInput in;
  if (int e = avformat_open_input(&in.ctx, path.c_str(), nullptr, nullptr); e < 0) {
    throw std::runtime_error(path + ": not a readable video (" + av_error(e) + ")");
  }
  if (int e = avformat_find_stream_info(in.ctx, nullptr); e < 0) {
    throw std::runtime_error(path + ": cannot read stream info (" + av_error(e) + ")");
  }
  // FFmpeg reads a still image (a PNG renamed .mp4) as a one-frame video: not a clip.
  if (const std::string format = in.ctx->iformat ? in.ctx->iformat->name : "";
      format == "image2" || (format.size() > 5 && format.compare(format.size() - 5, 5, "_pipe") == 0)) {
    throw std::runtime_error(path + ": a still image (FFmpeg format " + format + "), not a video");
  }
  const AVCodec* codec = nullptr;
  const int si = av_find_best_stream(in.ctx, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
  if (si < 0 || !codec) throw std::runtime_error(path + ": no video stream");
  AVStream* st = in.ctx->streams[si];
  CodecContext dec;
  dec.ctx = avcodec_alloc_context3(codec);
  avcodec_parameters_to_context(dec.ctx, st->codecpar);
  dec.ctx->thread_count = 1;
  if (int e = avcodec_open2(dec.ctx, codec, nullptr); e < 0) throw std::runtime_error(path + ": cannot open decoder (" + av_error(e) + ")");
  double fps = av_q2d(st->avg_frame_rate);
  if (!(fps > 0)) fps = av_q2d(st->r_frame_rate);
  if (!(fps > 0)) fps = 25.0;
  std::vector<torch::Tensor> frames;
  Frame frame;
  Packet pkt;
  Scaler sc;
  int64_t out_h = 0, out_w = 0;
  auto take = [&]() {
    const int w = frame.f->width, h = frame.f->height;
    out_h = o.height > 0 ? o.height : h;
    out_w = o.width > 0 ? o.width : w;
    sc.s = sws_getCachedContext(sc.s, w, h, AVPixelFormat(frame.f->format), int(out_w), int(out_h), AV_PIX_FMT_RGB24,
                                SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT, nullptr, nullptr, nullptr);
    if (!sc.s) throw std::runtime_error(path + ": cannot convert pixel format " + std::to_string(frame.f->format));
    const int cs = frame.f->colorspace == AVCOL_SPC_BT709 ? SWS_CS_ITU709 : SWS_CS_ITU601;
    const int src_full = frame.f->color_range == AVCOL_RANGE_JPEG ? 1 : 0;
    sws_setColorspaceDetails(sc.s, sws_getCoefficients(cs), src_full, sws_getCoefficients(cs), 1, 0, 1 << 16, 1 << 16);
    auto rgb = torch::empty({out_h, out_w, 3}, torch::kUInt8);
    uint8_t* dst[4] = {rgb.data_ptr<uint8_t>(), nullptr, nullptr, nullptr};
    int dst_stride[4] = {int(out_w * 3), 0, 0, 0};
    sws_scale(sc.s, frame.f->data, frame.f->linesize, 0, h, dst, dst_stride);
    frames.push_back(rgb.permute({2, 0, 1}).contiguous());
  };
  auto drain = [&]() {
    while (true) {
      const int e = avcodec_receive_frame(dec.ctx, frame.f);
      if (e == AVERROR(EAGAIN) || e == AVERROR_EOF) return;
      if (e < 0) throw std::runtime_error(path + ": decoding failed (" + av_error(e) + ")");
      take();
      av_frame_unref(frame.f);
    }
  };
  int read_status = 0;
  while ((read_status = av_read_frame(in.ctx, pkt.p)) >= 0) {
    if (pkt.p->stream_index == si) {
      const int e = avcodec_send_packet(dec.ctx, pkt.p);
      if (e < 0 && e != AVERROR(EAGAIN) && e != AVERROR_INVALIDDATA) {
        av_packet_unref(pkt.p);
        throw std::runtime_error(path + ": decoding failed (" + av_error(e) + ")");
      }
      drain();
    }
    av_packet_unref(pkt.p);
  }
  avcodec_send_packet(dec.ctx, nullptr);
  drain();
  if (frames.empty()) throw std::runtime_error(path + ": no decodable video frames (truncated or corrupt)");
  // A file cut short: the demuxer stopped on an error rather than at the end, or fewer frames
  // decoded than the container's index lists.
  if (read_status < 0 && read_status != AVERROR_EOF) {
    throw std::runtime_error(path + ": truncated or corrupt (" + av_error(read_status) + " after " + std::to_string(frames.size()) + " frames)");
  }
  if (st->nb_frames > 0 && int64_t(frames.size()) < st->nb_frames) {
    throw std::runtime_error(path + ": truncated (" + std::to_string(frames.size()) + " of the " + std::to_string(st->nb_frames) +
                             " frames its index lists decode)");
  }
  // fps resampling by nearest frame, then the stride and the frame limit.
  std::vector<int64_t> pick;
  const double out_fps = o.fps > 0 ? o.fps : fps;
  const int64_t n_out = o.fps > 0 ? int64_t(std::floor(double(frames.size()) * out_fps / fps)) : int64_t(frames.size());
  for (int64_t k = 0; k < n_out; k += o.stride) {
    pick.push_back(std::min<int64_t>(int64_t(frames.size()) - 1, int64_t(std::llround(double(k) * fps / out_fps))));
    if (o.max_frames > 0 && int64_t(pick.size()) >= o.max_frames) break;
  }
  std::vector<torch::Tensor> kept;
  for (auto i : pick) kept.push_back(frames[size_t(i)]);
  return {torch::stack(kept).to(torch::kFloat32) / 255.0, out_fps / double(o.stride)};
}

void write_video(const std::string& path, const torch::Tensor& frames_in, const VideoWriteOptions& o) {
  check_writable(path, o.force);
  quiet_ffmpeg();
  TORCH_CHECK(frames_in.dim() == 4 && (frames_in.size(1) == 1 || frames_in.size(1) == 3) && frames_in.size(0) >= 1,
              "write_video expects (T, C, H, W) with C = 1 or 3, got ", frames_in.sizes());
  if (!(o.fps > 0 && o.fps <= 240)) throw std::invalid_argument(path + ": fps must be in (0, 240], got " + std::to_string(o.fps));
  if (o.crf < 0 || o.crf > 63) throw std::invalid_argument(path + ": crf must be in 0..63, got " + std::to_string(o.crf));
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
  const char* codec_name = ext == ".mp4" ? "libx264" : ext == ".webm" ? "libvpx-vp9" : ext == ".gif" ? "gif" : nullptr;
  if (!codec_name) throw std::invalid_argument(path + ": unsupported video format '" + ext + "'; one of: .mp4, .webm, .gif");
  const bool gif = ext == ".gif";
  const AVCodec* codec = avcodec_find_encoder_by_name(codec_name);
  if (!codec) throw std::runtime_error(path + ": FFmpeg has no " + codec_name + " encoder");
  // RGB uint8 frames, padded (edge pixels repeated) to even sizes for yuv420p.
  auto x = frames_in.detach().to(torch::kCPU, torch::kFloat32).clamp(0, 1);
  const bool gray = x.size(1) == 1;
  if (gray) x = x.expand({-1, 3, -1, -1});
  // GIF: 8-bit gray for one-channel frames (lossless but for rounding), else RGB 3-3-2 with dithering.
  const AVPixelFormat pix = gif ? (gray ? AV_PIX_FMT_GRAY8 : AV_PIX_FMT_RGB8) : AV_PIX_FMT_YUV420P;
  const int64_t T = x.size(0), H = x.size(2), W = x.size(3), H2 = H + (gif ? 0 : H & 1), W2 = W + (gif ? 0 : W & 1);
  if (H2 != H || W2 != W) x = torch::replication_pad2d(x, {0, W2 - W, 0, H2 - H});
  const auto rgb = (x * 255.0).round().to(torch::kUInt8).permute({0, 2, 3, 1}).contiguous();

  const auto tmp = temp_path_for(path);
  TempFileGuard tmp_guard(tmp);  // declared before the container, so removed after it is closed
  AVFormatContext* oc = nullptr;
  if (int e = avformat_alloc_output_context2(&oc, nullptr, nullptr, tmp.c_str()); e < 0 || !oc) {
    throw std::runtime_error(path + ": cannot create the container (" + av_error(e) + ")");
  }
  std::unique_ptr<AVFormatContext, void (*)(AVFormatContext*)> oc_guard(oc, [](AVFormatContext* c) {
    if (c->pb) avio_closep(&c->pb);
    avformat_free_context(c);
  });
  auto fail = [&](const std::string& what, int e) { throw std::runtime_error(path + ": " + what + " (" + av_error(e) + ")"); };
  oc->flags |= AVFMT_FLAG_BITEXACT;  // no random segment ID (WebM) or library version: a file is a function of its frames
  AVStream* st = avformat_new_stream(oc, nullptr);
  CodecContext enc;
  enc.ctx = avcodec_alloc_context3(codec);
  const AVRational rate = av_d2q(o.fps, 100000);
  enc.ctx->width = int(W2);
  enc.ctx->height = int(H2);
  enc.ctx->pix_fmt = pix;
  enc.ctx->time_base = av_inv_q(rate);
  enc.ctx->framerate = rate;
  enc.ctx->gop_size = 12;
  enc.ctx->thread_count = 1;  // deterministic output
  if (!gif) {
    enc.ctx->color_range = AVCOL_RANGE_MPEG;
    enc.ctx->colorspace = AVCOL_SPC_BT709;
    enc.ctx->color_primaries = AVCOL_PRI_BT709;
    enc.ctx->color_trc = AVCOL_TRC_BT709;
  }
  if (oc->oformat->flags & AVFMT_GLOBALHEADER) enc.ctx->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  AVDictionary* opts = nullptr;
  if (!gif) av_dict_set(&opts, "crf", std::to_string(o.crf).c_str(), 0);
  if (std::string(codec_name) == "libx264") {
    av_dict_set(&opts, "preset", o.preset.c_str(), 0);
    // x264's AVX-512 code reads memory it did not write: the same frames gave different files
    // with the heap's state (the output path, the thread count). Up to AVX2 they do not. (x264
    // takes the named set as it is, so only a CPU with AVX-512, which has AVX2, is told.)
    if (cpu_isa().avx512f) av_dict_set(&opts, "x264-params", "asm=AVX2", 0);
  } else if (!gif) {
    av_dict_set(&opts, "b", "0", 0);  // VP9 constant quality mode
  }
  int e = avcodec_open2(enc.ctx, codec, &opts);
  av_dict_free(&opts);
  if (e < 0) fail("cannot open the encoder", e);
  avcodec_parameters_from_context(st->codecpar, enc.ctx);
  st->time_base = enc.ctx->time_base;
  st->avg_frame_rate = rate;
  if ((e = avio_open(&oc->pb, tmp.c_str(), AVIO_FLAG_WRITE)) < 0) fail("cannot open for writing", e);
  AVDictionary* mux = nullptr;
  if (ext == ".mp4") av_dict_set(&mux, "movflags", "+faststart", 0);
  e = avformat_write_header(oc, &mux);
  av_dict_free(&mux);
  if (e < 0) fail("cannot write the header", e);

  Scaler sc;
  sc.s = sws_getContext(int(W2), int(H2), AV_PIX_FMT_RGB24, int(W2), int(H2), pix,
                        SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INP, nullptr, nullptr, nullptr);
  const int* coeffs = sws_getCoefficients(SWS_CS_ITU709);
  // Full-range RGB -> limited-range BT.709 YUV (MP4, WebM) or full-range gray/RGB (GIF).
  sws_setColorspaceDetails(sc.s, coeffs, 1, coeffs, gif ? 1 : 0, 0, 1 << 16, 1 << 16);
  Frame frame;
  frame.f->format = pix;
  frame.f->width = int(W2);
  frame.f->height = int(H2);
  if ((e = av_frame_get_buffer(frame.f, 0)) < 0) fail("cannot allocate a frame", e);
  Packet pkt;
  auto flush_packets = [&]() {
    while (true) {
      const int r = avcodec_receive_packet(enc.ctx, pkt.p);
      if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return;
      if (r < 0) fail("encoding failed", r);
      av_packet_rescale_ts(pkt.p, enc.ctx->time_base, st->time_base);
      pkt.p->stream_index = st->index;
      if (int w = av_interleaved_write_frame(oc, pkt.p); w < 0) fail("writing a packet failed", w);
    }
  };
  for (int64_t t = 0; t < T; ++t) {
    if ((e = av_frame_make_writable(frame.f)) < 0) fail("frame not writable", e);
    const uint8_t* src[4] = {rgb[t].data_ptr<uint8_t>(), nullptr, nullptr, nullptr};
    const int src_stride[4] = {int(W2 * 3), 0, 0, 0};
    sws_scale(sc.s, src, src_stride, 0, int(H2), frame.f->data, frame.f->linesize);
    frame.f->pts = t;
    if ((e = avcodec_send_frame(enc.ctx, frame.f)) < 0) fail("encoding failed", e);
    flush_packets();
  }
  avcodec_send_frame(enc.ctx, nullptr);
  flush_packets();
  if ((e = av_write_trailer(oc)) < 0) fail("cannot finish the file", e);
  avio_flush(oc->pb);
  if (oc->pb->error < 0) fail("write failed; nothing was replaced", oc->pb->error);  // e.g. a full disk
  if ((e = avio_closep(&oc->pb)) < 0) fail("write failed; nothing was replaced", e);
  tmp_guard.release();
  commit_temp_file(tmp, path);
}

VideoFolder load_video_folder(const std::string& dir, int64_t frames, int64_t height, int64_t width, bool skip_bad) {
  namespace fs = std::filesystem;
  if (!fs::is_directory(dir)) throw std::runtime_error(dir + ": not a folder (expected DIR/<class>/<video files>)");
  VideoFolder out;
  for (const auto& e : fs::directory_iterator(dir)) if (e.is_directory()) out.class_names.push_back(e.path().filename().string());
  std::sort(out.class_names.begin(), out.class_names.end());
  if (out.class_names.empty()) throw std::runtime_error(dir + ": no class sub-folders (expected DIR/<class>/<video files>)");
  std::vector<torch::Tensor> clips;
  std::vector<int64_t> labels;
  for (size_t k = 0; k < out.class_names.size(); ++k) {
    std::vector<fs::path> files;
    for (const auto& e : fs::recursive_directory_iterator(fs::path(dir) / out.class_names[k])) if (e.is_regular_file()) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      try {
        VideoReadOptions o;
        o.height = height;
        o.width = width;
        o.max_frames = frames;
        auto v = read_video(f.string(), o).frames;
        if (v.size(0) < frames) v = torch::cat({v, v.slice(0, -1).expand({frames - v.size(0), -1, -1, -1})});
        clips.push_back(v);
        labels.push_back(int64_t(k));
      } catch (const std::exception& e) {
        if (!skip_bad) throw std::runtime_error(std::string(e.what()) + " (pass --on-bad skip to skip unreadable files)");
        out.bad.emplace_back(f.string(), e.what());
      }
    }
  }
  if (clips.empty()) throw std::runtime_error(dir + ": no readable video files in " + std::to_string(out.class_names.size()) + " class folders");
  out.clips = torch::stack(clips);
  out.labels = torch::tensor(labels, torch::kLong);
  return out;
}

#else  // headless: no video files

namespace {
[[noreturn]] void no_video_files(const std::string& what) {
  throw std::runtime_error(what + ": this diffuse was built headless (-DDIFFUSE_HEADLESS=ON, without FFmpeg), so it reads and writes no video files");
}
}  // namespace

Video read_video(const std::string& path, const VideoReadOptions&) { no_video_files(path); }
void write_video(const std::string& path, const torch::Tensor&, const VideoWriteOptions&) { no_video_files(path); }
VideoFolder load_video_folder(const std::string& dir, int64_t, int64_t, int64_t, bool) { no_video_files(dir); }

#endif

}  // namespace diffuse::video
