// Clips and latents, recipe options and frame-rate conditioning shared by the video pipeline.
#include "modalities/video/clips.h"

#include <torch/torch.h>

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

}  // namespace diffuse::video
