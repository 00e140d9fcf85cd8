// Moving Fashion-MNIST (after Srivastava et al. 2015's Moving MNIST): 28 x 28 Fashion-MNIST items
// moving with constant velocity on a black canvas and bouncing off its walls. Clip i is drawn
// from a generator seeded with (seed, i), so any subset is reproducible on its own.
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <vector>

namespace diffuse::video {

struct MovingOptions {
  int64_t frames = 16;
  int64_t size = 64;             // canvas side
  int64_t items = 1;             // items per clip (1 or 2)
  double min_speed = 1.0, max_speed = 3.0;  // pixels per frame at native_fps
  uint64_t seed = 0;
  int64_t first = 0;  // index of the first clip drawn: clips first .. first + n - 1 of the sequence
  // Frame rates for fps conditioning: clip i is filmed at one of `fps` (drawn uniformly from the
  // list by its own generator), so its items move native_fps / fps times as far per frame. Empty:
  // every clip at native_fps, and clip i is the same as without this field.
  std::vector<double> fps;
  double native_fps = 8.0;
};

struct MovingClips {
  torch::Tensor clips;      // (N, T, 1, S, S) float32 in [0, 1]
  torch::Tensor labels;     // (N, items) int64 classes of the items
  torch::Tensor centroids;  // (N, T, items, 2) item centres (y, x) in pixels
  torch::Tensor fps;        // (N,) float64 frame rate of each clip
  // (N, items, 2, 2) float64: each item's step (vy, vx) in pixels per frame from frame 0 to 1, and
  // from frame T-2 to T-1 (before that step's bounce), for motion conditioning.
  torch::Tensor velocities;
};

// Items are drawn from `images` (M, 1, 28, 28) with their `labels` (M,).
MovingClips moving_fashion_mnist(const torch::Tensor& images, const torch::Tensor& labels, int64_t n, const MovingOptions& o);

}  // namespace diffuse::video
