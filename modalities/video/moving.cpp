// The Moving Fashion-MNIST generator.
#include "modalities/video/moving.h"

#include <torch/torch.h>

#include <cmath>
#include <random>
#include <stdexcept>

namespace diffuse::video {

MovingClips moving_fashion_mnist(const torch::Tensor& images, const torch::Tensor& labels, int64_t n, const MovingOptions& o) {
  TORCH_CHECK(images.dim() == 4 && images.size(1) == 1, "moving_fashion_mnist expects (M, 1, h, w) items, got ", images.sizes());
  const int64_t h = images.size(2), w = images.size(3), S = o.size, T = o.frames;
  if (S < std::max(h, w)) throw std::invalid_argument("canvas size " + std::to_string(S) + " is smaller than the items");
  if (o.items < 1 || o.items > 2) throw std::invalid_argument("items per clip must be 1 or 2, got " + std::to_string(o.items));
  if (T < 1 || n < 1) throw std::invalid_argument("need at least one clip and one frame");
  if (o.first < 0) throw std::invalid_argument("first clip index " + std::to_string(o.first) + ": must be >= 0");
  for (const double f : o.fps) {
    if (!(f > 0 && std::isfinite(f))) throw std::invalid_argument("frame rate " + std::to_string(f) + ": must be positive");
  }
  if (!(o.native_fps > 0)) throw std::invalid_argument("native frame rate must be positive");
  MovingClips out{torch::zeros({n, T, 1, S, S}), torch::empty({n, o.items}, torch::kLong), torch::empty({n, T, o.items, 2}),
                  torch::full({n}, o.native_fps, torch::kFloat64), torch::zeros({n, o.items, 2, 2}, torch::kFloat64)};
  auto lab = labels.to(torch::kLong);
  for (int64_t i = 0; i < n; ++i) {
    const uint64_t index = uint64_t(o.first + i);
    std::mt19937_64 rng(o.seed * 0x9E3779B97F4A7C15ULL + index);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    double per_frame = 1.0;  // distance per frame relative to the native rate
    if (!o.fps.empty()) {    // its own generator, so that the items' draws stay as without fps
      std::mt19937_64 pick((o.seed * 0x9E3779B97F4A7C15ULL + index) ^ 0xF0F5F0F5F0F5F0F5ULL);
      const double f = o.fps[size_t(pick() % o.fps.size())];
      out.fps[i] = f;
      per_frame = o.native_fps / f;
    }
    for (int64_t k = 0; k < o.items; ++k) {
      const int64_t idx = int64_t(rng() % uint64_t(images.size(0)));
      out.labels[i][k] = lab[idx];
      double y = u(rng) * double(S - h), x = u(rng) * double(S - w);
      const double angle = u(rng) * 2 * M_PI, speed = per_frame * (o.min_speed + u(rng) * (o.max_speed - o.min_speed));
      double vy = speed * std::sin(angle), vx = speed * std::cos(angle);
      for (int64_t t = 0; t < T; ++t) {
        if (t == 0) out.velocities[i][k][0].copy_(torch::tensor({vy, vx}, torch::kFloat64));
        if (t == T - 2) out.velocities[i][k][1].copy_(torch::tensor({vy, vx}, torch::kFloat64));
        const int64_t py = std::llround(y), px = std::llround(x);
        auto dst = out.clips[i][t][0].slice(0, py, py + h).slice(1, px, px + w);
        dst.copy_(torch::maximum(dst, images[idx][0]));
        out.centroids[i][t][k][0] = double(py) + double(h) / 2;
        out.centroids[i][t][k][1] = double(px) + double(w) / 2;
        y += vy;
        x += vx;
        // Bounce: reflect the position at the walls and reverse the velocity.
        if (y < 0) y = -y, vy = -vy;
        if (y > double(S - h)) y = 2.0 * double(S - h) - y, vy = -vy;
        if (x < 0) x = -x, vx = -vx;
        if (x > double(S - w)) x = 2.0 * double(S - w) - x, vx = -vx;
      }
    }
  }
  return out;
}

}  // namespace diffuse::video
