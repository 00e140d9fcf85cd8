// A KL-regularised autoencoder in the design of Stable Diffusion's LDM VAE (Rombach et al. 2022),
// scaled down: ResNet blocks with GroupNorm, stride-2 downsampling per level, a latent of
// z_channels with a diagonal Gaussian posterior, nearest-neighbour upsampling back. Images are
// in [-1, 1] inside the model. The latent scaling factor is 1 / std of the latents, computed from
// data as LDM does. The video modality applies it per frame.
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/normalization.h>
#include <torch/types.h>

#include <functional>
#include <vector>

#include "core/json.h"

namespace diffuse::image {

struct VaeConfig {
  int64_t in_channels = 1;
  int64_t base_channels = 32;
  std::vector<int64_t> channel_mult = {1, 2};  // one entry per level; each level halves H and W
  int64_t z_channels = 4;
  int64_t blocks_per_level = 1;
  double kl_weight = 1e-6;
  double scaling_factor = 1.0;  // set from data after training
  int64_t downsampling() const { return int64_t(1) << channel_mult.size(); }
  void validate() const;
};
Json to_json(const VaeConfig& c);
VaeConfig vae_config_from_json(const Json& j);

class ResBlockImpl : public torch::nn::Module {
 public:
  ResBlockImpl(int64_t in, int64_t out);
  torch::Tensor forward(const torch::Tensor& x);
 private:
  torch::nn::GroupNorm norm1_{nullptr}, norm2_{nullptr};
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr}, skip_{nullptr};
};
TORCH_MODULE(ResBlock);

class VaeImpl : public torch::nn::Module {
 public:
  explicit VaeImpl(const VaeConfig& c);
  // x (N, C, H, W) in [0, 1] -> posterior mean and log-variance (N, z, H/f, W/f), unscaled.
  std::pair<torch::Tensor, torch::Tensor> encode_moments(const torch::Tensor& x);
  // Scaled latents for diffusion: mean (or a posterior sample when gen is given) * scaling_factor.
  torch::Tensor encode(const torch::Tensor& x);
  // Scaled latents -> images in [0, 1] (clamped).
  torch::Tensor decode(const torch::Tensor& z_scaled);
  torch::Tensor decode_raw(const torch::Tensor& z);  // unscaled latents -> [-1, 1]-ish
  // The same, with `after_stage(h, k)` applied to the features after the decoder's input
  // convolution (k = 0) and after each of its blocks (k = 1, 2, ...), before the output layers.
  torch::Tensor decode_raw(const torch::Tensor& z, const std::function<torch::Tensor(const torch::Tensor&, size_t)>& after_stage);
  // Reconstruction + KL loss of a batch (N,) per item, using noise for the posterior sample.
  torch::Tensor loss(const torch::Tensor& x, const torch::Tensor& noise);
  VaeConfig& config() { return config_; }

 private:
  VaeConfig config_;
  torch::nn::Conv2d enc_in_{nullptr}, enc_out_{nullptr}, dec_in_{nullptr}, dec_out_{nullptr};
  torch::nn::ModuleList enc_blocks_{nullptr}, dec_blocks_{nullptr};
  torch::nn::GroupNorm enc_norm_{nullptr}, dec_norm_{nullptr};
  std::vector<int> enc_kind_, dec_kind_;  // 0 = ResBlock, 1 = down/up sampling conv
};
TORCH_MODULE(Vae);

// The VAE of a checkpoint (recipe.model.type "vae") with its EMA weights, in eval mode. Errors
// name the file.
Vae load_vae(const std::string& path);

// PSNR in dB of reconstructions against images in [0, 1], per image then averaged.
double psnr(const torch::Tensor& reconstruction, const torch::Tensor& reference);

}  // namespace diffuse::image
