// A small MLP denoiser backbone for low-dimensional data (the toy 2-D modality): input point,
// sinusoidal time features and an optional label embedding (with a null label) -> prediction.
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/types.h>

#include "core/json.h"

namespace diffuse {

struct MlpConfig {
  int64_t dim = 2;
  int64_t hidden = 128;
  int64_t layers = 3;
  int64_t num_classes = 0;  // labels 0..C-1, null = C
  int64_t time_features = 32;
  double time_scale = 1.0;  // time input multiplier before the sinusoidal features
};
Json to_json(const MlpConfig& c);
MlpConfig mlp_config_from_json(const Json& j);  // unknown keys are an error

class MlpDenoiserImpl : public torch::nn::Module {
 public:
  explicit MlpDenoiserImpl(const MlpConfig& c);
  // x (N, dim), t (N,), labels (N,) or undefined (null) -> (N, dim)
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& labels = {});
  const MlpConfig& config() const { return config_; }

 private:
  MlpConfig config_;
  torch::nn::Linear in_{nullptr}, t_proj_{nullptr}, out_{nullptr};
  torch::nn::Embedding label_{nullptr};
  std::vector<torch::nn::Linear> hidden_;
};
TORCH_MODULE(MlpDenoiser);

}  // namespace diffuse
