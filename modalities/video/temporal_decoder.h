// A temporal decoder for per-frame latents (after Blattmann et al. 2023, "Align your Latents",
// and Stable Video Diffusion's decoder): the image modality's VAE decoder, frozen, with a
// temporal layer after each of its stages that mixes every pixel's features with the same pixel
// in the neighbouring frames (GroupNorm, SiLU, a convolution over time), added as a residual
// whose convolution starts at zero. An untrained one decodes exactly as the per-frame decoder;
// trained on clips whose latents carry independent noise per frame, it learns to decode frames
// that agree over time (less flicker).
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/types.h>

#include <string>

#include "modalities/image/vae.h"

namespace diffuse::video {

class TemporalDecoderImpl : public torch::nn::Module {
 public:
  // `kernel` frames per temporal convolution (odd); the clip's ends repeat their edge frames.
  TemporalDecoderImpl(image::Vae vae, int64_t kernel = 3);
  // (N, C, T, s, s) scaled latents -> (N, T, channels, H, W) in [0, 1], in chunks of clips.
  torch::Tensor decode(const torch::Tensor& z_scaled);
  // (N, C, T, s, s) unscaled latents -> (N, T, channels, H, W) in [-1, 1]-ish, with gradients.
  torch::Tensor decode_raw(const torch::Tensor& z);
  image::Vae& vae() { return vae_; }
  int64_t kernel() const { return kernel_; }
  int64_t layers() const { return int64_t(convs_->size()); }  // temporal layers, one per decoder stage

 private:
  image::Vae vae_;  // not registered: its weights stay the image VAE's and are not trained
  int64_t kernel_;
  torch::nn::ModuleList norms_{nullptr}, convs_{nullptr};
};
TORCH_MODULE(TemporalDecoder);

// A `train video-decoder` checkpoint with its EMA weights (recipe.model.type "temporal-decoder"),
// its VAE from recipe.vae (resolved beside the file), in eval mode. Errors name the file.
TemporalDecoder load_temporal_decoder(const std::string& path);

}  // namespace diffuse::video
