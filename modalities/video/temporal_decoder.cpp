// The temporal decoder.
#include "modalities/video/temporal_decoder.h"

#include <torch/torch.h>

#include <stdexcept>

#include "core/train/checkpoint.h"

namespace diffuse::video {

TemporalDecoderImpl::TemporalDecoderImpl(image::Vae vae, int64_t kernel) : vae_(std::move(vae)), kernel_(kernel) {
  if (kernel < 1 || kernel % 2 == 0) throw std::invalid_argument("temporal decoder kernel " + std::to_string(kernel) + ": must be odd");
  for (auto& p : vae_->parameters()) p.set_requires_grad(false);  // frozen
  // One temporal layer per decoder stage, sized by the stage's channels.
  std::vector<int64_t> channels;
  {
    torch::NoGradGuard g;
    vae_->decode_raw(torch::zeros({1, vae_->config().z_channels, 2, 2}), [&](const torch::Tensor& h, size_t) {
      channels.push_back(h.size(1));
      return h;
    });
  }
  norms_ = register_module("norms", torch::nn::ModuleList());
  convs_ = register_module("convs", torch::nn::ModuleList());
  for (const int64_t c : channels) {
    norms_->push_back(torch::nn::GroupNorm(torch::nn::GroupNormOptions(c % 8 == 0 ? 8 : 1, c)));
    torch::nn::Conv3d conv(torch::nn::Conv3dOptions(c, c, {kernel, 1, 1}));
    torch::nn::init::zeros_(conv->weight);
    torch::nn::init::zeros_(conv->bias);
    convs_->push_back(conv);
  }
}

torch::Tensor TemporalDecoderImpl::decode_raw(const torch::Tensor& z) {
  TORCH_CHECK(z.dim() == 5, "temporal decoder expects (N, C, T, h, w) latents, got ", z.sizes());
  const int64_t N = z.size(0), T = z.size(2), pad = kernel_ / 2;
  const auto frames = z.permute({0, 2, 1, 3, 4}).flatten(0, 1);  // (N*T, C, h, w)
  const auto x = vae_->decode_raw(frames, [&](const torch::Tensor& h, size_t k) {
    const auto mixed = torch::silu(norms_[k]->as<torch::nn::GroupNormImpl>()->forward(h));
    // (N*T, C, H, W) -> (N, C, T, H, W), the ends padded with their edge frames.
    auto clip = mixed.view({N, T, h.size(1), h.size(2), h.size(3)}).permute({0, 2, 1, 3, 4});
    if (pad > 0) {
      clip = torch::cat({clip.narrow(2, 0, 1).expand({-1, -1, pad, -1, -1}), clip,
                         clip.narrow(2, T - 1, 1).expand({-1, -1, pad, -1, -1})}, 2);
    }
    const auto d = convs_[k]->as<torch::nn::Conv3dImpl>()->forward(clip);  // (N, C, T, H, W)
    return h + d.permute({0, 2, 1, 3, 4}).reshape_as(h);
  });
  return x.view({N, T, x.size(1), x.size(2), x.size(3)});
}

torch::Tensor TemporalDecoderImpl::decode(const torch::Tensor& z_scaled) {
  torch::NoGradGuard g;
  const int64_t per_chunk = std::max<int64_t>(1, 512 / std::max<int64_t>(1, z_scaled.size(2)));
  std::vector<torch::Tensor> out;
  for (int64_t s = 0; s < z_scaled.size(0); s += per_chunk) {
    out.push_back(((decode_raw(z_scaled.slice(0, s, s + per_chunk) / vae_->config().scaling_factor) + 1) / 2).clamp(0.0, 1.0));
  }
  return torch::cat(out);
}

TemporalDecoder load_temporal_decoder(const std::string& path) {
  const auto ck = load_checkpoint(path);
  const auto& m = json_at(ck.recipe, "model", path);
  if (m.value("type", std::string()) != "temporal-decoder") {
    throw std::runtime_error(path + ": not a temporal decoder (model.type is not 'temporal-decoder'; train one with `diffuse train video-decoder`)");
  }
  TemporalDecoder d(image::load_vae(resolve_beside(json_at(ck.recipe, "vae", path).get<std::string>(), path)), m.value("kernel", int64_t(3)));
  load_for_inference(*d, ck, path);
  return d;
}

}  // namespace diffuse::video
