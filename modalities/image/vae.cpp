// The LDM-style VAE.
#include "modalities/image/vae.h"

#include <torch/torch.h>

#include "core/train/checkpoint.h"

#include <cmath>
#include <stdexcept>

namespace diffuse::image {

void VaeConfig::validate() const {
  auto fail = [](const std::string& m) { throw std::invalid_argument("VAE config: " + m); };
  if (in_channels < 1 || base_channels < 8 || z_channels < 1 || blocks_per_level < 1) fail("sizes must be positive (base_channels >= 8)");
  if (channel_mult.empty() || channel_mult.size() > 4) fail("channel_mult needs 1 to 4 levels");
  for (auto m : channel_mult) if (m < 1 || (base_channels * m) % 8 != 0) fail("channels per level must be multiples of 8 (GroupNorm)");
  if (!(kl_weight >= 0) || !(scaling_factor > 0)) fail("kl_weight >= 0 and scaling_factor > 0");
}

namespace {
const auto kVaeFields = [](auto& c, auto&& f) {
  f("in_channels", c.in_channels); f("base_channels", c.base_channels); f("channel_mult", c.channel_mult);
  f("z_channels", c.z_channels); f("blocks_per_level", c.blocks_per_level); f("kl_weight", c.kl_weight);
  f("scaling_factor", c.scaling_factor);
};
}  // namespace

Json to_json(const VaeConfig& c) { return fields_to_json(c, kVaeFields); }
VaeConfig vae_config_from_json(const Json& j) { return validated(fields_from_json<VaeConfig>(j, kVaeFields, "VAE config")); }

namespace {
torch::nn::Conv2d conv(int64_t in, int64_t out, int64_t k, int64_t stride = 1) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, k).stride(stride).padding(k / 2));
}
torch::nn::GroupNorm gnorm(int64_t ch) { return torch::nn::GroupNorm(torch::nn::GroupNormOptions(8, ch).eps(1e-6)); }
}  // namespace

ResBlockImpl::ResBlockImpl(int64_t in, int64_t out) {
  norm1_ = register_module("norm1", gnorm(in));
  conv1_ = register_module("conv1", conv(in, out, 3));
  norm2_ = register_module("norm2", gnorm(out));
  conv2_ = register_module("conv2", conv(out, out, 3));
  if (in != out) skip_ = register_module("skip", conv(in, out, 1));
}

torch::Tensor ResBlockImpl::forward(const torch::Tensor& x) {
  auto h = conv1_(torch::silu(norm1_(x)));
  h = conv2_(torch::silu(norm2_(h)));
  return (skip_ ? skip_(x) : x) + h;
}

VaeImpl::VaeImpl(const VaeConfig& c) : config_(c) {
  c.validate();
  const int64_t B = c.base_channels;
  enc_in_ = register_module("enc_in", conv(c.in_channels, B, 3));
  enc_blocks_ = register_module("enc_blocks", torch::nn::ModuleList());
  int64_t ch = B;
  for (size_t level = 0; level < c.channel_mult.size(); ++level) {
    const int64_t out = B * c.channel_mult[level];
    for (int64_t i = 0; i < c.blocks_per_level; ++i) {
      enc_blocks_->push_back(ResBlock(ch, out));
      enc_kind_.push_back(0);
      ch = out;
    }
    enc_blocks_->push_back(conv(ch, ch, 3, 2));  // downsample
    enc_kind_.push_back(1);
  }
  enc_blocks_->push_back(ResBlock(ch, ch));  // middle
  enc_kind_.push_back(0);
  enc_norm_ = register_module("enc_norm", gnorm(ch));
  enc_out_ = register_module("enc_out", conv(ch, 2 * c.z_channels, 3));

  dec_in_ = register_module("dec_in", conv(c.z_channels, ch, 3));
  dec_blocks_ = register_module("dec_blocks", torch::nn::ModuleList());
  dec_blocks_->push_back(ResBlock(ch, ch));
  dec_kind_.push_back(0);
  for (size_t level = c.channel_mult.size(); level-- > 0;) {
    dec_blocks_->push_back(conv(ch, ch, 3));  // after nearest-neighbour upsampling
    dec_kind_.push_back(1);
    const int64_t out = B * c.channel_mult[level];
    for (int64_t i = 0; i < c.blocks_per_level; ++i) {
      dec_blocks_->push_back(ResBlock(ch, out));
      dec_kind_.push_back(0);
      ch = out;
    }
  }
  dec_norm_ = register_module("dec_norm", gnorm(ch));
  dec_out_ = register_module("dec_out", conv(ch, c.in_channels, 3));
}

std::pair<torch::Tensor, torch::Tensor> VaeImpl::encode_moments(const torch::Tensor& x) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == config_.in_channels, "VAE expects (N, ", config_.in_channels, ", H, W), got ", x.sizes());
  const int64_t f = config_.downsampling();
  TORCH_CHECK(x.size(2) % f == 0 && x.size(3) % f == 0, "VAE needs H and W divisible by ", f, ", got ", x.sizes());
  auto h = enc_in_(x * 2 - 1);
  for (size_t i = 0; i < enc_kind_.size(); ++i) {
    h = enc_kind_[i] == 0 ? enc_blocks_[i]->as<ResBlockImpl>()->forward(h) : enc_blocks_[i]->as<torch::nn::Conv2dImpl>()->forward(h);
  }
  const auto moments = enc_out_(torch::silu(enc_norm_(h))).chunk(2, 1);
  return {moments[0], moments[1].clamp(-30.0, 20.0)};
}

torch::Tensor VaeImpl::decode_raw(const torch::Tensor& z) { return decode_raw(z, {}); }

torch::Tensor VaeImpl::decode_raw(const torch::Tensor& z, const std::function<torch::Tensor(const torch::Tensor&, size_t)>& after_stage) {
  auto h = dec_in_(z);
  if (after_stage) h = after_stage(h, 0);
  for (size_t i = 0; i < dec_kind_.size(); ++i) {
    if (dec_kind_[i] == 0) {
      h = dec_blocks_[i]->as<ResBlockImpl>()->forward(h);
    } else {
      h = torch::nn::functional::interpolate(h, torch::nn::functional::InterpolateFuncOptions()
                                                    .scale_factor(std::vector<double>{2.0, 2.0})
                                                    .mode(torch::kNearest));
      h = dec_blocks_[i]->as<torch::nn::Conv2dImpl>()->forward(h);
    }
    if (after_stage) h = after_stage(h, i + 1);
  }
  return dec_out_(torch::silu(dec_norm_(h)));
}

torch::Tensor VaeImpl::encode(const torch::Tensor& x) { return encode_moments(x).first * config_.scaling_factor; }

torch::Tensor VaeImpl::decode(const torch::Tensor& z_scaled) {
  return ((decode_raw(z_scaled / config_.scaling_factor) + 1) / 2).clamp(0.0, 1.0);
}

torch::Tensor VaeImpl::loss(const torch::Tensor& x, const torch::Tensor& noise) {
  const auto [mean, logvar] = encode_moments(x);
  const auto z = mean + (0.5 * logvar).exp() * noise.to(mean.options());
  const auto rec = decode_raw(z);
  const auto target = x * 2 - 1;
  const auto rec_loss = (rec - target).abs().flatten(1).mean(1) + (rec - target).pow(2).flatten(1).mean(1);
  const auto kl = 0.5 * (mean.pow(2) + logvar.exp() - 1 - logvar).flatten(1).sum(1);
  return rec_loss + config_.kl_weight * kl;
}

double psnr(const torch::Tensor& rec, const torch::Tensor& ref) {
  const auto mse = (rec.to(torch::kFloat64) - ref.to(torch::kFloat64)).pow(2).flatten(1).mean(1).clamp_min(1e-12);
  return (10.0 * torch::log10(1.0 / mse)).mean().item<double>();
}

Vae load_vae(const std::string& path) {
  const auto ck = load_checkpoint(path);
  const auto& m = json_at(ck.recipe, "model", path);
  if (m.value("type", std::string()) != "vae") throw std::runtime_error(path + ": not a VAE checkpoint (model.type is not 'vae')");
  Vae vae(vae_config_from_json(json_at(m, "config", path)));
  load_for_inference(*vae, ck, path);
  return vae;
}

}  // namespace diffuse::image
