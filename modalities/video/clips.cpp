// Clips and latents (training cache, frame sets), recipe options and frame-rate conditioning of the video pipeline.
#include "modalities/video/clips.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <iomanip>
#include <iostream>
#include <random>
#include <sstream>
#include <vector>

#include "core/safetensors.h"

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
  const auto device = vae->parameters().front().device();  // frames go to the VAE's device, latents come back
  std::vector<torch::Tensor> zs;
  for (int64_t s = 0; s < flat.size(0); s += 512) zs.push_back(vae->encode(flat.slice(0, s, s + 512).to(device)).cpu());
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

void ClipsFingerprint::add(const torch::Tensor& clips) {
  n += clips.size(0);
  sum += clips.sum(torch::kFloat64).item<double>();
  sum_sq += clips.square().sum(torch::kFloat64).item<double>();
}

MovingTrainingSet moving_training_set(const torch::Tensor& images, const torch::Tensor& labels, int64_t n, const MovingOptions& m) {
  const auto part = [images, labels, n, m](int64_t first) {
    MovingOptions o = m;
    o.first = first;
    return moving_fashion_mnist(images, labels, std::min(kClipChunk, n - first), o);
  };
  MovingTrainingSet set;
  std::vector<torch::Tensor> l, f, v;
  for (int64_t first = 0; first < n; first += kClipChunk) {
    const auto mv = part(first);
    set.frames.add(mv.clips);
    l.push_back(mv.labels.select(1, 0));
    f.push_back(mv.fps);
    v.push_back(mv.velocities.select(1, 0));
  }
  set.labels = torch::cat(l);
  set.fps = torch::cat(f);
  set.velocities = torch::cat(v);
  set.encode = [part, n](image::Vae& vae) {
    torch::Tensor z;  // filled chunk by chunk, never held twice
    for (int64_t first = 0; first < n; first += kClipChunk) {
      const auto chunk = encode_clips(vae, part(first).clips);
      if (!z.defined()) {
        auto shape = chunk.sizes().vec();
        shape[0] = n;
        z = torch::empty(shape, chunk.options());
      }
      z.slice(0, first, first + chunk.size(0)).copy_(chunk);
    }
    return z;
  };
  return set;
}

// The data spec (less what is drawn from the latents or conditions on the same clips), the frames
// (a folder's files may change) and the VAE file's contents, not its path: a fine-tune names it
// relative to its model's folder.
std::string latents_key(const Json& data, const ClipsFingerprint& frames, const std::string& vae_bytes) {
  Json spec = data;
  for (const char* k : {"frame_sets", "motion", "clips"}) spec.erase(k);
  std::ostringstream key;
  key << spec.dump() << " n=" << frames.n << std::setprecision(17) << " frames=" << frames.sum << "/" << frames.sum_sq
      << " vae=" << std::hash<std::string>{}(vae_bytes);
  return key.str();
}

// Encoding 96,000 frames takes minutes on two cores (320,000: ten), so resuming, fine-tuning from a
// run's checkpoint or re-running should not repeat it.
torch::Tensor cached_latents(const std::string& out, const std::string& from, const std::string& key,
                             const std::function<torch::Tensor()>& encode) {
  std::vector<std::string> places = {out + "/latents.safetensors"};
  if (!from.empty()) places.push_back((std::filesystem::path(from).parent_path() / "latents.safetensors").string());
  for (const auto& f : places) {
    if (!std::filesystem::exists(f)) continue;
    auto st = load_safetensors(f);
    if (st.metadata["key"] == key && st.tensors.count("latents")) {
      std::cerr << "latents from " << f << "\n";
      return st.tensors.at("latents");
    }
    std::cerr << f << ": written for other data or another VAE; encoding again\n";
  }
  auto z = encode();
  std::filesystem::create_directories(out);
  save_safetensors(places[0], {{{"latents", z}}, {{"key", key}}}, true);
  return z;
}

// The spatial blocks see many more distinct items per step than whole clips give them. The sets
// are spread evenly over the classes present.
std::pair<torch::Tensor, torch::Tensor> frame_sets(const torch::Tensor& z, const torch::Tensor& labels, int64_t count) {
  const int64_t T = z.size(2);
  const auto frames = z.permute({0, 2, 1, 3, 4}).reshape({-1, z.size(1), z.size(3), z.size(4)});  // (N*T, C, s, s)
  auto gen = at::detail::createCPUGenerator(0x5EED5E75);
  const auto present = torch::bincount(labels).nonzero().flatten();
  const int64_t P = present.numel();
  std::vector<torch::Tensor> sets, set_labels;
  for (int64_t i = 0; i < P; ++i) {
    const int64_t c = present[i].item<int64_t>(), n = count / P + (i < count % P ? 1 : 0);
    const auto clips = (labels == c).nonzero().flatten();
    if (n == 0) continue;
    const auto pick = clips.index_select(0, torch::randint(clips.numel(), {n * T}, gen, torch::kLong));
    const auto at_frame = torch::randint(T, {n * T}, gen, torch::kLong);
    sets.push_back(frames.index_select(0, pick * T + at_frame).view({n, T, z.size(1), z.size(3), z.size(4)}).permute({0, 2, 1, 3, 4}));
    set_labels.push_back(torch::full({n}, c, torch::kLong));
  }
  if (sets.empty()) throw std::invalid_argument("--frame-sets: no labelled clips to draw frames from");
  return {torch::cat(sets).contiguous(), torch::cat(set_labels)};
}

}  // namespace diffuse::video
