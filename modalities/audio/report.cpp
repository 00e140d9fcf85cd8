// The report's audio section: a player and a log-mel heat map for each clip of a run.
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <iomanip>
#include <sstream>

#include "core/files.h"
#include "core/report.h"
#include "modalities/audio/audio_pipeline.h"
#include "modalities/audio/io.h"
#include "modalities/audio/spectrogram.h"

namespace diffuse::audio {

namespace {

// A log-mel spectrogram as an SVG heat map (low bands at the bottom), magma-like colours.
std::string spectrogram_svg(const torch::Tensor& lm) {
  const int64_t bands = lm.size(0), frames = lm.size(1), cell = 3;
  const auto v = ((lm - lm.min()) / (lm.max() - lm.min() + 1e-9)).contiguous();
  const auto a = v.accessor<float, 2>();
  std::ostringstream s;
  s << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << frames * cell << "\" height=\"" << bands * cell
    << "\" shape-rendering=\"crispEdges\">";
  for (int64_t b = 0; b < bands; ++b) {
    for (int64_t t = 0; t < frames; ++t) {
      const double x = a[b][t];
      const int r = int(255 * std::min(1.0, 1.6 * x)), g = int(255 * std::max(0.0, 1.6 * x - 0.6)), bl = int(255 * std::min(1.0, 0.4 + 0.6 * x) * (x < 0.7 ? x / 0.7 : 1.0));
      s << "<rect x=\"" << t * cell << "\" y=\"" << (bands - 1 - b) * cell << "\" width=\"" << cell << "\" height=\"" << cell
        << "\" fill=\"rgb(" << r << "," << g << "," << bl << ")\"/>";
    }
  }
  s << "</svg>";
  return s.str();
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


}  // namespace diffuse::audio
