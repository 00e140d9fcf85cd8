// The report's audio section: a player and a log-mel heat map for each clip of a run.
#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <sstream>
#include <stdexcept>

#include <zlib.h>

#include "core/files.h"
#include "core/report.h"
#include "modalities/audio/audio_pipeline.h"
#include "modalities/audio/io.h"
#include "modalities/audio/spectrogram.h"

namespace diffuse::audio {

namespace {

// A magma-like colour of x in [0, 1].
std::array<int, 3> colour(double x) {
  return {int(255 * std::min(1.0, 1.6 * x)), int(255 * std::max(0.0, 1.6 * x - 0.6)), int(255 * std::min(1.0, 0.4 + 0.6 * x) * (x < 0.7 ? x / 0.7 : 1.0))};
}

// A log-mel spectrogram as an SVG heat map (low bands at the bottom).
std::string spectrogram_svg(const torch::Tensor& lm) {
  const int64_t bands = lm.size(0), frames = lm.size(1), cell = 3;
  const auto v = ((lm - lm.min()) / (lm.max() - lm.min() + 1e-9)).contiguous();
  const auto a = v.accessor<float, 2>();
  std::ostringstream s;
  s << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << frames * cell << "\" height=\"" << bands * cell
    << "\" shape-rendering=\"crispEdges\">";
  for (int64_t b = 0; b < bands; ++b) {
    for (int64_t t = 0; t < frames; ++t) {
      const auto [r, g, bl] = colour(a[b][t]);
      s << "<rect x=\"" << t * cell << "\" y=\"" << (bands - 1 - b) * cell << "\" width=\"" << cell << "\" height=\"" << cell
        << "\" fill=\"rgb(" << r << "," << g << "," << bl << ")\"/>";
    }
  }
  s << "</svg>";
  return s.str();
}

// An 8-bit RGB image (rows top to bottom) as PNG bytes: no filter, zlib-compressed.
std::string png_bytes(const std::vector<uint8_t>& rgb, int64_t width, int64_t height) {
  auto be32 = [](std::string& s, uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) s.push_back(char((v >> shift) & 0xFF));
  };
  auto chunk = [&](std::string& out, const char* type, const std::string& data) {
    be32(out, uint32_t(data.size()));
    const std::string body = std::string(type, 4) + data;
    out += body;
    be32(out, uint32_t(crc32(0L, reinterpret_cast<const Bytef*>(body.data()), uInt(body.size()))));
  };
  std::string raw;
  raw.reserve(size_t(height * (1 + 3 * width)));
  for (int64_t y = 0; y < height; ++y) {
    raw.push_back('\0');  // filter: none
    raw.append(reinterpret_cast<const char*>(rgb.data() + y * 3 * width), size_t(3 * width));
  }
  uLongf packed_size = compressBound(uLong(raw.size()));
  std::string packed(packed_size, '\0');
  if (compress2(reinterpret_cast<Bytef*>(packed.data()), &packed_size, reinterpret_cast<const Bytef*>(raw.data()), uLong(raw.size()), 9) != Z_OK) {
    throw std::runtime_error("PNG: zlib could not compress the image");
  }
  packed.resize(packed_size);
  std::string ihdr;
  be32(ihdr, uint32_t(width));
  be32(ihdr, uint32_t(height));
  ihdr += std::string("\x08\x02\x00\x00\x00", 5);  // 8 bits, RGB, deflate, no filter, no interlace
  std::string out("\x89PNG\r\n\x1a\n", 8);
  chunk(out, "IHDR", ihdr);
  chunk(out, "IDAT", packed);
  chunk(out, "IEND", "");
  return out;
}

}  // namespace

std::string audio_report_section(const std::string& dir) {
  const auto files = files_with_extension(dir, {".wav", ".flac"}, /*recursive=*/true);
  std::string html;
  MelConfig mel;
  for (const auto& f : files) {
    const auto a = read_audio(f.string(), mel.sample_rate, true);
    const auto lm = log_mel(a.samples, mel)[0];
    const std::string mime = f.extension() == ".wav" ? "audio/wav" : "audio/flac";
    std::ostringstream caption;
    caption << std::filesystem::relative(f, dir).string() << ": " << std::fixed << std::setprecision(2)
            << double(a.samples.size(1)) / double(a.rate) << " s";
    html += "<figure><audio controls src=\"data:" + mime + ";base64," + base64(read_file(f.string())) + "\"></audio>" +
            spectrogram_svg(lm) + "<figcaption>" + caption.str() + " (log-mel, 64 bands, 0-8 kHz)</figcaption></figure>\n";
  }
  return html.empty() ? "" : "<h2>Audio</h2>\n" + html;
}

void write_mel_contact_sheet(const std::string& path, const std::vector<torch::Tensor>& left, const std::vector<torch::Tensor>& right,
                             int64_t per_side, bool force) {
  check_writable(path, force);
  if (left.size() != right.size() || left.empty() || per_side < 1) throw std::invalid_argument("contact sheet: needs clips of each class on both sides");
  const MelConfig mel;  // unnormalised log-mels at the default settings
  std::vector<std::vector<torch::Tensor>> rows(left.size());
  int64_t frames = 0;
  const float bottom = float(std::log(mel.floor));
  float top = bottom + 1.f;  // a sheet of silence stays black instead of dividing by zero
  for (size_t c = 0; c < left.size(); ++c) {
    for (const auto* side : {&left[c], &right[c]}) {
      for (int64_t i = 0; i < per_side; ++i) {
        const auto lm = i < side->size(0) ? log_mel(side->slice(0, i, i + 1), mel)[0] : torch::Tensor();
        if (lm.defined()) {
          frames = std::max(frames, lm.size(1));
          top = std::max(top, lm.max().item<float>());
        }
        rows[c].push_back(lm);
      }
    }
  }
  const int64_t gap = 2, wide_gap = 8, bands = mel.n_mels, columns = 2 * per_side;
  const int64_t width = columns * frames + (columns - 2) * gap + wide_gap, height = int64_t(rows.size()) * (bands + gap) - gap;
  std::vector<uint8_t> rgb(size_t(width * height * 3), 255);
  for (size_t c = 0; c < rows.size(); ++c) {
    for (int64_t k = 0; k < columns; ++k) {
      const auto& lm = rows[c][size_t(k)];
      if (!lm.defined()) continue;
      const auto a = ((lm - bottom) / (top - bottom)).clamp(0, 1).contiguous();
      const auto acc = a.accessor<float, 2>();
      const int64_t x0 = k * (frames + gap) + (k >= per_side ? wide_gap - gap : 0), y0 = int64_t(c) * (bands + gap);
      for (int64_t b = 0; b < bands; ++b) {
        for (int64_t t = 0; t < lm.size(1); ++t) {
          const auto rgb3 = colour(acc[b][t]);
          uint8_t* px = rgb.data() + 3 * ((y0 + bands - 1 - b) * width + x0 + t);
          for (int j = 0; j < 3; ++j) px[j] = uint8_t(rgb3[size_t(j)]);
        }
      }
    }
  }
  write_file_atomic(path, png_bytes(rgb, width, height), force);
}


}  // namespace diffuse::audio
