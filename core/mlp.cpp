// The MLP denoiser backbone.
#include "core/mlp.h"

#include <torch/torch.h>

#include <stdexcept>

#include "core/layers.h"

namespace diffuse {

namespace {
const auto kMlpFields = [](auto& c, auto&& f) {
  f("dim", c.dim); f("hidden", c.hidden); f("layers", c.layers); f("num_classes", c.num_classes);
  f("time_features", c.time_features); f("time_scale", c.time_scale);
};
}  // namespace

Json to_json(const MlpConfig& c) { return fields_to_json(c, kMlpFields); }

MlpConfig mlp_config_from_json(const Json& j) {
  const auto c = fields_from_json<MlpConfig>(j, kMlpFields, "MLP config");
  if (c.dim < 1 || c.hidden < 1 || c.layers < 1 || c.time_features < 2 || c.time_features % 2) {
    throw std::invalid_argument("MLP config: dim, hidden, layers >= 1 and time_features even >= 2");
  }
  return c;
}

MlpDenoiserImpl::MlpDenoiserImpl(const MlpConfig& c) : config_(c) {
  in_ = register_module("in", torch::nn::Linear(c.dim, c.hidden));
  t_proj_ = register_module("t_proj", torch::nn::Linear(c.time_features, c.hidden));
  if (c.num_classes > 0) label_ = register_module("label", torch::nn::Embedding(c.num_classes + 1, c.hidden));
  for (int64_t i = 0; i < c.layers; ++i) {
    hidden_.push_back(register_module("hidden" + std::to_string(i), torch::nn::Linear(c.hidden, c.hidden)));
  }
  out_ = register_module("out", torch::nn::Linear(c.hidden, c.dim));
}

torch::Tensor MlpDenoiserImpl::forward(const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& labels) {
  TORCH_CHECK(x.dim() == 2 && x.size(1) == config_.dim, "MLP denoiser expects (N, ", config_.dim, "), got ", x.sizes());
  // The objective's time input (a timestep, flow t * T or EDM c_noise), scaled.
  const auto tf = timestep_features(t.reshape({-1}).to(x.device()) * config_.time_scale, config_.time_features);
  auto h = in_(x) + t_proj_(tf.to(x.dtype()));
  if (label_) {
    const auto y = labels.defined() ? labels.to(x.device())
                                    : torch::full({x.size(0)}, config_.num_classes, torch::TensorOptions().dtype(torch::kLong).device(x.device()));
    h = h + label_(y);
  }
  for (auto& l : hidden_) h = l(torch::silu(h));
  return out_(torch::silu(h));
}

}  // namespace diffuse
