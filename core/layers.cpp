// Shared DiT blocks.
#include "core/layers.h"

#include <torch/torch.h>
#include <c10/core/impl/LocalDispatchKeySet.h>
#include <torch/version.h>

#include <cmath>
#include <limits>

namespace diffuse {

torch::Tensor timestep_features(const torch::Tensor& t, int64_t dim, double max_period) {
  const int64_t half = dim / 2;
  const auto freqs = torch::exp(-std::log(max_period) * torch::arange(half, torch::kFloat32) / double(half)).to(t.device());
  const auto args = t.to(torch::kFloat32).unsqueeze(1) * freqs.unsqueeze(0);  // (N, half)
  return torch::cat({torch::cos(args), torch::sin(args)}, 1);
}

namespace {
// (M,) positions -> (M, dim) with [sin | cos] over dim/2 frequencies (MAE's 1-D embedding).
torch::Tensor sincos_1d(int64_t dim, const torch::Tensor& pos) {
  const auto omega = 1.0 / torch::pow(10000.0, torch::arange(dim / 2, torch::kFloat64) / (dim / 2.0));
  const auto out = pos.to(torch::kFloat64).unsqueeze(1) * omega.unsqueeze(0);
  return torch::cat({torch::sin(out), torch::cos(out)}, 1);
}
}  // namespace

torch::Tensor sincos_position_embedding(int64_t dim, const std::vector<int64_t>& grid) {
  const int64_t axes = int64_t(grid.size());
  TORCH_CHECK(axes >= 1 && axes <= 3, "position grids are 1-D, 2-D or 3-D, got ", axes, " axes");
  TORCH_CHECK(dim % (2 * axes) == 0, "hidden size ", dim, " must be divisible by ", 2 * axes, " for a ", axes, "-D sin-cos embedding");
  std::vector<torch::Tensor> ranges;
  for (auto g : grid) ranges.push_back(torch::arange(g, torch::kFloat64));
  const auto mesh = torch::meshgrid(ranges, "ij");  // axis-major order: token index = row-major over grid
  // DiT's 2-D embedding puts the W coordinate first, then H; reverse the axes to match it.
  std::vector<torch::Tensor> parts;
  for (int64_t a = axes - 1; a >= 0; --a) parts.push_back(sincos_1d(dim / axes, mesh[size_t(a)].reshape(-1)));
  return torch::cat(parts, 1).to(torch::kFloat32);
}

torch::Tensor dit_gelu(const torch::Tensor& x) { return x.scalar_type() == torch::kBFloat16 ? torch::gelu(x) : torch::gelu(x, "tanh"); }

torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v, int64_t chunk) {
#if TORCH_VERSION_MAJOR >= 2
  (void)chunk;
  return torch::scaled_dot_product_attention(q, k, v);
#else
  // bf16 (under autocast): contiguous operands take oneDNN's fast batched GEMM (3x the strided
  // rate here), and the softmax stays bf16 in memory with its max and sum in fp32 inside the
  // kernel, instead of autocast's round trip through an fp32 copy of the scores.
  const bool bf16 = q.scalar_type() == torch::kBFloat16 && k.scalar_type() == torch::kBFloat16 && v.scalar_type() == torch::kBFloat16;
  c10::optional<c10::impl::ExcludeDispatchKeyGuard> no_autocast;
  if (bf16) no_autocast.emplace(c10::DispatchKey::AutocastCPU);
  // Scaling q (T x d values) is cheaper than scaling the scores (T x T).
  auto qs = q * (1.0 / std::sqrt(double(q.size(-1))));
  auto kt = k.transpose(-2, -1);
  auto vv = v;
  if (bf16) {
    qs = qs.contiguous();
    kt = k.contiguous().transpose(-2, -1);
    vv = v.contiguous();
  }
  const auto softmax = [bf16](const torch::Tensor& s) { return bf16 ? at::_softmax(s, -1, false) : torch::softmax(s, -1); };
  const int64_t T = q.size(2);
  if (chunk <= 0 || T <= chunk) return softmax(torch::matmul(qs, kt)).matmul(vv);
  std::vector<torch::Tensor> outs;
  for (int64_t s = 0; s < T; s += chunk) {
    outs.push_back(softmax(torch::matmul(qs.slice(2, s, std::min(T, s + chunk)), kt)).matmul(vv));
  }
  return torch::cat(outs, 2);
#endif
}

Rope rope_table(int64_t d, const std::vector<int64_t>& grid, double base) {
  const int64_t axes = int64_t(grid.size());
  TORCH_CHECK(axes >= 1 && axes <= 3 && d % (2 * axes) == 0, "rotary embedding: head dim ", d,
              " must be divisible by 2 x ", axes, " axes");
  const int64_t part = d / axes, half = part / 2;
  std::vector<torch::Tensor> ranges;
  for (auto g : grid) ranges.push_back(torch::arange(g, torch::kFloat64));
  const auto mesh = torch::meshgrid(ranges, "ij");
  const auto inv_freq = 1.0 / torch::pow(base, torch::arange(half, torch::kFloat64) / double(half));
  std::vector<torch::Tensor> angles;
  std::vector<int64_t> idx;
  std::vector<float> sign;
  for (int64_t a = 0; a < axes; ++a) {
    const auto ang = mesh[size_t(a)].reshape({-1, 1}) * inv_freq.unsqueeze(0);  // (T, half)
    angles.push_back(torch::cat({ang, ang}, 1));                                  // (T, part)
    for (int64_t i = 0; i < part; ++i) {
      idx.push_back(a * part + (i < half ? i + half : i - half));
      sign.push_back(i < half ? -1.0f : 1.0f);
    }
  }
  const auto all = torch::cat(angles, 1);
  return {all.cos().to(torch::kFloat32), all.sin().to(torch::kFloat32), torch::tensor(idx, torch::kLong),
          torch::tensor(sign, torch::kFloat32)};
}

torch::Tensor apply_rope(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin, const Rope& r) {
  const auto rotated = x.index_select(-1, r.rot_index.to(x.device())) * r.rot_sign.to(x.options());
  return x * cos.to(x.options()) + rotated * sin.to(x.options());
}

torch::nn::LayerNorm plain_layer_norm(int64_t d) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({d}).elementwise_affine(false).eps(1e-6));
}

void xavier_init(torch::nn::Linear& l) {
  torch::nn::init::xavier_uniform_(l->weight);
  torch::nn::init::zeros_(l->bias);
}

void zero_init(torch::nn::Linear& l) {
  torch::nn::init::zeros_(l->weight);
  torch::nn::init::zeros_(l->bias);
}

torch::Tensor condition_embedding(torch::nn::Embedding& table, int64_t num_classes, const torch::Tensor& labels,
                                  torch::nn::Linear& proj, const torch::Tensor& null_vector, const torch::Tensor& vectors,
                                  const torch::Tensor& like) {
  const int64_t N = like.size(0);
  auto out = torch::zeros({N, like.size(-1)}, like.options());
  if (table) {
    const auto y = labels.defined() ? labels.to(like.device())
                                    : torch::full({N}, num_classes, torch::TensorOptions().dtype(torch::kLong).device(like.device()));
    TORCH_CHECK(y.min().item<int64_t>() >= 0 && y.max().item<int64_t>() <= num_classes, "labels must be in [0, ",
                num_classes, "] (", num_classes, " = null)");
    out = out + table(y);
  }
  if (proj) {
    const int64_t K = proj->weight.size(1);
    const auto v = vectors.defined() ? vectors.to(like.options()) : torch::full({N, K}, NAN, like.options());
    out = out + torch::where(torch::isnan(v).any(1, true), null_vector.unsqueeze(0), proj(torch::nan_to_num(v, 0.0)));
  }
  return out;
}

TimestepEmbedderImpl::TimestepEmbedderImpl(int64_t hidden, int64_t freq_dim) : freq_dim_(freq_dim) {
  fc1_ = register_module("fc1", torch::nn::Linear(freq_dim, hidden));
  fc2_ = register_module("fc2", torch::nn::Linear(hidden, hidden));
  torch::nn::init::normal_(fc1_->weight, 0.0, 0.02);
  torch::nn::init::normal_(fc2_->weight, 0.0, 0.02);
}

torch::Tensor TimestepEmbedderImpl::forward(const torch::Tensor& t) {
  return fc2_(torch::silu(fc1_(timestep_features(t, freq_dim_).to(fc1_->weight.dtype()))));
}

ScalarEmbedderImpl::ScalarEmbedderImpl(int64_t count, int64_t hidden, double scale, int64_t freq_dim)
    : count_(count), freq_dim_(freq_dim), scale_(scale) {
  fc1_ = register_module("fc1", torch::nn::Linear(count * freq_dim, hidden));
  fc2_ = register_module("fc2", torch::nn::Linear(hidden, hidden));
  torch::nn::init::normal_(fc1_->weight, 0.0, 0.02);
  torch::nn::init::normal_(fc2_->weight, 0.0, 0.02);
}

torch::Tensor ScalarEmbedderImpl::forward(const torch::Tensor& v) {
  TORCH_CHECK(v.dim() == 2 && v.size(1) == count_, "ScalarEmbedder expects (N, ", count_, "), got ", v.sizes());
  const auto f = timestep_features(v.reshape({-1}) * scale_, freq_dim_).view({v.size(0), count_ * freq_dim_});
  return fc2_(torch::silu(fc1_(f.to(fc1_->weight.dtype()))));
}

}  // namespace diffuse
