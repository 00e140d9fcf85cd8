// libsndfile reading and writing, and the sinc resampler.
#include "modalities/audio/io.h"

#include <sndfile.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <stdexcept>

#include "core/files.h"

namespace diffuse::audio {

namespace {
constexpr int kMinRate = 1000, kMaxRate = 768000;
constexpr int64_t kMaxKernelValues = int64_t(1) << 24;  // 64 MB of float32 filters

// The polyphase filter bank resample() builds for from -> to: one kernel per output phase.
int64_t resample_kernel_values(int64_t from, int64_t to) {
  const int64_t g = std::gcd(from, to), orig = from / g, out = to / g;
  const int64_t width = int64_t(std::ceil(16.0 * double(orig) / (double(std::min(orig, out)) * 0.99)));
  return out * (2 * width + orig);
}

uint32_t le32(const char* p) {
  return uint32_t(uint8_t(p[0])) | uint32_t(uint8_t(p[1])) << 8 | uint32_t(uint8_t(p[2])) << 16 | uint32_t(uint8_t(p[3])) << 24;
}

// A RIFF/WAVE file's chunks against its length: libsndfile quietly clamps a data chunk that
// claims more than the file holds (a cut download, a corrupt header), so a truncated WAV would
// pass as a shorter clip. Throws naming the file; files that are not RIFF are left to libsndfile.
void check_riff(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char head[12];
  if (!in.read(head, 12) || std::string(head, 4) != "RIFF" || std::string(head + 8, 4) != "WAVE") return;
  std::error_code ec;
  const uint64_t size = std::filesystem::file_size(path, ec);
  if (uint64_t(le32(head + 4)) + 8 > size) {
    throw std::runtime_error(path + ": truncated (its RIFF header claims " + std::to_string(uint64_t(le32(head + 4)) + 8) + " bytes, the file has " +
                             std::to_string(size) + ")");
  }
  uint64_t pos = 12;
  char chunk[8];
  while (pos + 8 <= size && in.seekg(std::streamoff(pos)) && in.read(chunk, 8)) {
    const uint64_t length = le32(chunk + 4);
    if (std::string(chunk, 4) == "data") {
      if (pos + 8 + length > size) {
        throw std::runtime_error(path + ": truncated (its data chunk claims " + std::to_string(length) + " bytes, the file holds " +
                                 std::to_string(size - pos - 8) + ")");
      }
      return;
    }
    pos += 8 + length + (length & 1);  // chunks are padded to even sizes
  }
}
}  // namespace

Audio read_audio(const std::string& path, int64_t rate, bool mono) {
  if (!std::filesystem::exists(path)) throw std::runtime_error(path + ": no such file");
  check_riff(path);
  SF_INFO info{};
  SNDFILE* f = sf_open(path.c_str(), SFM_READ, &info);
  if (!f) throw std::runtime_error(path + ": not a readable audio file (" + sf_strerror(nullptr) + ")");
  auto refuse = [&](const std::string& why) {
    sf_close(f);
    throw std::runtime_error(path + ": " + why);
  };
  if (info.frames <= 0 || info.channels <= 0) refuse("empty audio (0 frames)");
  if (info.samplerate < kMinRate || info.samplerate > kMaxRate) {
    refuse("sample rate " + std::to_string(info.samplerate) + " Hz; expected " + std::to_string(kMinRate) + " to " + std::to_string(kMaxRate) + " Hz");
  }
  // What the header claims must fit the file (lossless codecs compress well under 32x), so a
  // corrupt header cannot make us allocate gigabytes.
  std::error_code ec;
  const double bytes = double(std::filesystem::file_size(path, ec));
  if (info.channels > 64 || double(info.frames) * double(info.channels) > 32.0 * bytes + 4096.0) {
    refuse("the header claims " + std::to_string(info.frames) + " frames x " + std::to_string(info.channels) + " channels, more than a " +
           std::to_string(int64_t(bytes)) + "-byte file holds (corrupt header)");
  }
  auto interleaved = torch::empty({int64_t(info.frames), int64_t(info.channels)}, torch::kFloat32);
  const sf_count_t got = sf_readf_float(f, interleaved.data_ptr<float>(), info.frames);
  sf_close(f);
  if (got <= 0) throw std::runtime_error(path + ": cannot decode any audio frames (truncated or corrupt)");
  if (got < info.frames) {
    throw std::runtime_error(path + ": truncated (" + std::to_string(got) + " of the " + std::to_string(info.frames) + " frames its header claims)");
  }
  if (rate > 0 && rate != info.samplerate && resample_kernel_values(info.samplerate, rate) > kMaxKernelValues) {
    throw std::runtime_error(path + ": resampling " + std::to_string(info.samplerate) + " Hz to " + std::to_string(rate) +
                             " Hz needs a filter bank of " + std::to_string(resample_kernel_values(info.samplerate, rate)) +
                             " values (the rates share too small a factor); convert the file to a common rate first");
  }
  auto x = interleaved.slice(0, 0, got).t().contiguous();  // (C, T)
  if (mono && x.size(0) > 1) x = x.mean(0, true);
  Audio a{x, info.samplerate};
  if (rate > 0 && rate != a.rate) {
    a.samples = resample(a.samples, a.rate, rate);
    a.rate = rate;
  }
  return a;
}

torch::Tensor resample(const torch::Tensor& x, int64_t from, int64_t to) {
  TORCH_CHECK(from > 0 && to > 0, "resample: rates must be positive, got ", from, " and ", to);
  if (from == to) return x;
  const int64_t g = std::gcd(from, to), orig = from / g, out = to / g;
  constexpr double kZeroCrossings = 16, kRolloff = 0.99, kBeta = 14.769656459379492;
  const double base = double(std::min(orig, out)) * kRolloff;
  const int64_t width = int64_t(std::ceil(kZeroCrossings * double(orig) / base));
  auto opts = torch::TensorOptions().dtype(torch::kFloat64);
  const auto idx = torch::arange(-width, width + orig, opts) / double(orig);
  auto t = (-torch::arange(out, opts) / double(out)).unsqueeze(1) + idx.unsqueeze(0);
  t = (t * base).clamp(-kZeroCrossings, kZeroCrossings);
  const auto window = torch::i0(kBeta * torch::sqrt(1.0 - (t / kZeroCrossings).pow(2))) / torch::i0(torch::tensor(kBeta, opts));
  t = t * M_PI;
  const auto sinc = torch::where(t == 0, torch::ones_like(t), torch::sin(t) / t);
  const auto kernels = (sinc * window * (base / double(orig))).to(torch::kFloat32).unsqueeze(1);  // (out, 1, K)
  const auto shape = x.sizes().vec();
  const int64_t length = shape.back();
  auto flat = x.reshape({-1, 1, length}).to(torch::kFloat32);
  flat = torch::constant_pad_nd(flat, {width, width + orig}, 0.0);
  auto y = torch::conv1d(flat, kernels, {}, orig);  // (B, out, frames)
  y = y.transpose(1, 2).reshape({flat.size(0), -1});
  const int64_t target = int64_t(std::ceil(double(out) * double(length) / double(orig)));
  auto result_shape = shape;
  result_shape.back() = target;
  return y.slice(1, 0, target).reshape(result_shape).contiguous();
}

SampleFormat sample_format_from_string(const std::string& s) {
  if (s == "pcm16") return SampleFormat::kPcm16;
  if (s == "pcm24") return SampleFormat::kPcm24;
  if (s == "float") return SampleFormat::kFloat;
  throw std::invalid_argument("unknown sample format '" + s + "'; one of: pcm16, pcm24, float");
}

WriteReport write_audio(const std::string& path, const torch::Tensor& samples, int64_t rate, const AudioWriteOptions& o) {
  check_writable(path, o.force);
  auto x = samples.dim() == 1 ? samples.unsqueeze(0) : samples;
  TORCH_CHECK(x.dim() == 2 && x.size(0) >= 1 && x.size(1) >= 1, "write_audio: expected (C, T) or (T,), got ", samples.sizes());
  if (rate <= 0) throw std::invalid_argument(path + ": sample rate must be positive, got " + std::to_string(rate));
  x = x.detach().to(torch::kCPU, torch::kFloat32);
  if (!torch::isfinite(x).all().item<bool>()) throw std::invalid_argument(path + ": samples contain NaN or infinity");
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
  int format = 0;
  const int sub = o.format == SampleFormat::kPcm16 ? SF_FORMAT_PCM_16 : o.format == SampleFormat::kPcm24 ? SF_FORMAT_PCM_24 : SF_FORMAT_FLOAT;
  if (ext == ".wav") {
    format = SF_FORMAT_WAV | sub;
  } else if (ext == ".flac") {
    if (o.format == SampleFormat::kFloat) throw std::invalid_argument(path + ": FLAC stores integer samples; use pcm16 or pcm24");
    format = SF_FORMAT_FLAC | sub;
  } else {
    throw std::invalid_argument(path + ": unsupported audio format '" + ext + "'; one of: .wav, .flac");
  }
  WriteReport report;
  report.peak = x.abs().max().item<double>();
  if (o.normalize && report.peak > 0) {
    report.gain = std::pow(10.0, -1.0 / 20.0) / report.peak;
  } else if (report.peak > 1.0) {  // clipping protection: scale down instead of clipping
    report.gain = 0.999 / report.peak;
    report.protected_from_clipping = true;
  }
  if (report.gain != 1.0) x = x * report.gain;
  const auto interleaved = x.t().contiguous();
  const auto tmp = temp_path_for(path);
  TempFileGuard guard(tmp);
  SF_INFO info{};
  info.samplerate = int(rate);
  info.channels = int(x.size(0));
  info.format = format;
  SNDFILE* f = sf_open(tmp.c_str(), SFM_WRITE, &info);
  if (!f) throw std::runtime_error(path + ": cannot write (" + sf_strerror(nullptr) + ")");
  // No PEAK chunk in float files: it holds the time of writing, so the same samples would give
  // other bytes on every run.
  sf_command(f, SFC_SET_ADD_PEAK_CHUNK, nullptr, SF_FALSE);
  const sf_count_t frames = x.size(1);
  bool ok = sf_writef_float(f, interleaved.data_ptr<float>(), frames) == frames;
  std::string why = ok ? "" : sf_strerror(f);
  sf_write_sync(f);
  if (sf_close(f) != 0 && ok) {
    ok = false;
    why = "closing failed";
  }
  if (!ok) throw std::runtime_error(path + ": write failed (" + why + "); nothing was replaced");
  // The header and every frame must read back before the file replaces anything.
  SF_INFO back{};
  SNDFILE* r = sf_open(tmp.c_str(), SFM_READ, &back);
  const bool whole = r && back.frames == frames && back.channels == info.channels;
  if (r) sf_close(r);
  if (!whole) throw std::runtime_error(path + ": write failed (the file does not read back whole; disk full?); nothing was replaced");
  guard.release();
  commit_temp_file(tmp, path);
  return report;
}

}  // namespace diffuse::audio
