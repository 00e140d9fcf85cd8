// Clips and latents, recipe options and frame-rate conditioning shared by the video pipeline.
#include "modalities/video/clips.h"

#include <torch/torch.h>

#include <cmath>
#include <random>
#include <sstream>
#include <vector>

namespace diffuse::video {

std::string format_number(double v) {  // 8, 0.5, 12.5: as a person writes a frame rate
  std::ostringstream s;
  s << v;
  return s.str();
}

torch::Tensor encode_clips(image::Vae& vae, const torch::Tensor& clips) {
  torch::NoGradGuard g;
  const int64_t N = clips.size(0), T = clips.size(1);
  const auto flat = clips.flatten(0, 1);
  std::vector<torch::Tensor> zs;
  for (int64_t s = 0; s < flat.size(0); s += 512) zs.push_back(vae->encode(flat.slice(0, s, s + 512)));
  const auto z = torch::cat(zs);
  return z.view({N, T, z.size(1), z.size(2), z.size(3)}).permute({0, 2, 1, 3, 4}).contiguous();
}

torch::Tensor decode_clips(image::Vae& vae, const torch::Tensor& z) {
  torch::NoGradGuard g;
  const int64_t N = z.size(0), T = z.size(2);
  const auto flat = z.permute({0, 2, 1, 3, 4}).flatten(0, 1);
  std::vector<torch::Tensor> xs;
  for (int64_t s = 0; s < flat.size(0); s += 512) xs.push_back(vae->decode(flat.slice(0, s, s + 512)));
  const auto x = torch::cat(xs);
  return x.view({N, T, x.size(1), x.size(2), x.size(3)});
}

MovingOptions moving_options(const Json& data, uint64_t seed) {
  MovingOptions m;
  m.frames = data.value("frames", m.frames);
  m.size = data.value("size", m.size);
  m.items = data.value("items", m.items);
  m.fps = data.value("fps", std::vector<double>());
  m.seed = seed;
  return m;
}

bool fps_conditioned(const Json& recipe) { return recipe.at("data").contains("fps"); }
torch::Tensor fps_vector(const torch::Tensor& fps, double native) { return torch::log2(fps.to(torch::kFloat64) / native).to(torch::kFloat32).unsqueeze(1); }

bool motion_conditioned(const Json& recipe) { return recipe.at("data").value("motion", false); }
torch::Tensor motion_vector(const torch::Tensor& step) { return (step.to(torch::kFloat64) / 4.0).to(torch::kFloat32); }

torch::Tensor draw_motion(int64_t n, uint64_t seed, double fps, const MovingOptions& m) {
  auto out = torch::empty({n, 2}, torch::kFloat64);
  for (int64_t i = 0; i < n; ++i) {
    std::mt19937_64 rng((seed + uint64_t(i)) ^ 0x3071013071ULL);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    const double angle = u(rng) * 2 * M_PI, speed = m.native_fps / fps * (m.min_speed + u(rng) * (m.max_speed - m.min_speed));
    out[i][0] = speed * std::sin(angle);
    out[i][1] = speed * std::cos(angle);
  }
  return out;
}

}  // namespace diffuse::video
