// Blocks shared by the DiT family: timestep and label embedders, fixed sin-cos position
// embeddings (1-D/2-D/3-D), memory-bounded attention and adaLN modulation.
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/types.h>

#include <vector>

namespace diffuse {

// Sinusoidal features of (N,) times, dim even (DiT / ADM timestep_embedding, max_period 1e4).
torch::Tensor timestep_features(const torch::Tensor& t, int64_t dim, double max_period = 10000.0);

// Fixed sin-cos position embedding over a grid (MAE / DiT get_2d_sincos_pos_embed generalised):
// the hidden size is split evenly over the grid's axes. grid = {W}, {H, W} or {T, H, W};
// returns (prod(grid), dim) float32.
torch::Tensor sincos_position_embedding(int64_t dim, const std::vector<int64_t>& grid);

// The DiT MLP's activation: GELU with the tanh approximation (as trained). On bf16 activations it
// is the exact GELU instead: libtorch 1.13's tanh-approximate kernel is scalar on the CPU (7x
// slower than the exact one here, a third of a bf16 DiT forward), and the two differ by at most
// 4.7e-4, under bf16's rounding.
torch::Tensor dit_gelu(const torch::Tensor& x);

// Multi-head attention on (B, H, T, d) tensors. Uses the fused kernel on libtorch >= 2.0; on
// older versions it is computed in chunks of `chunk` queries so memory stays O(chunk * T).
torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v, int64_t chunk = 1024);

// Rotary position embedding (Su et al. 2021) over a 1-D/2-D/3-D grid: the head dimension is split
// evenly over the axes, each part rotated by its axis coordinate (half-split pairs).
struct Rope {
  torch::Tensor cos, sin;  // (T, d)
  torch::Tensor rot_index, rot_sign;  // rotate_half within each axis part: x[idx] * sign
  bool defined() const { return cos.defined(); }
};
Rope rope_table(int64_t head_dim, const std::vector<int64_t>& grid, double base = 10000.0);
// x (B, H, T, d) with cos/sin broadcastable to it.
torch::Tensor apply_rope(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin, const Rope& r);

// x * (1 + scale) + shift with (N, D) modulation broadcast over tokens of (N, T, D).
inline torch::Tensor modulate(const torch::Tensor& x, const torch::Tensor& shift, const torch::Tensor& scale) {
  return torch::addcmul(shift.unsqueeze(1), x, 1 + scale.unsqueeze(1));
}

// LayerNorm without affine parameters (DiT's blocks take scale and shift from adaLN).
torch::nn::LayerNorm plain_layer_norm(int64_t dim);
void xavier_init(torch::nn::Linear& l);  // Xavier-uniform weight, zero bias
void zero_init(torch::nn::Linear& l);    // zero weight and bias (adaLN-Zero, output layers)

// The class/vector part of the conditioning, added to the timestep embedding: a label embedding
// (undefined labels mean the null label num_classes) and a vector projection (a NaN row, or
// undefined vectors, mean the learned null vector). Modules that are null are skipped.
torch::Tensor condition_embedding(torch::nn::Embedding& labels_table, int64_t num_classes, const torch::Tensor& labels,
                                  torch::nn::Linear& vector_proj, const torch::Tensor& null_vector,
                                  const torch::Tensor& vectors, const torch::Tensor& like);

class TimestepEmbedderImpl : public torch::nn::Module {
 public:
  TimestepEmbedderImpl(int64_t hidden, int64_t freq_dim = 256);
  torch::Tensor forward(const torch::Tensor& t);  // (N,) -> (N, hidden)
 private:
  int64_t freq_dim_;
  torch::nn::Linear fc1_{nullptr}, fc2_{nullptr};
};
TORCH_MODULE(TimestepEmbedder);

// K scalar conditions -> (N, hidden): each scalar times `scale` through the timestep's sinusoidal
// features, concatenated, then Linear-SiLU-Linear (how Stable Video Diffusion embeds fps, motion
// and the conditioning frame's noise level before adding them to the timestep's embedding).
class ScalarEmbedderImpl : public torch::nn::Module {
 public:
  ScalarEmbedderImpl(int64_t count, int64_t hidden, double scale = 100.0, int64_t freq_dim = 256);
  torch::Tensor forward(const torch::Tensor& v);  // (N, K) -> (N, hidden)
 private:
  int64_t count_, freq_dim_;
  double scale_;
  torch::nn::Linear fc1_{nullptr}, fc2_{nullptr};
};
TORCH_MODULE(ScalarEmbedder);

}  // namespace diffuse
