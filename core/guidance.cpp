// Classifier-free guidance in one batched forward, with rescale and an interval.
#include "core/guidance.h"

#include <torch/torch.h>

#include <stdexcept>

namespace diffuse {

void validate(const GuidanceOptions& o) {
  if (!(o.scale >= 0)) throw std::invalid_argument("guidance scale must be >= 0, got " + std::to_string(o.scale));
  if (!(o.rescale >= 0 && o.rescale <= 1)) {
    throw std::invalid_argument("guidance rescale must be in [0, 1], got " + std::to_string(o.rescale));
  }
  if (o.context_scale && !(*o.context_scale >= 0)) {
    throw std::invalid_argument("context guidance scale must be >= 0, got " + std::to_string(*o.context_scale));
  }
  if (!(o.sigma_lo <= o.sigma_hi)) {
    throw std::invalid_argument("guidance interval inverted: sigma_lo " + std::to_string(o.sigma_lo) +
                                " > sigma_hi " + std::to_string(o.sigma_hi));
  }
}

torch::Tensor rescale_guidance(const torch::Tensor& guided, const torch::Tensor& cond, double rescale) {
  std::vector<int64_t> dims;
  for (int64_t d = 1; d < guided.dim(); ++d) dims.push_back(d);
  const auto std_cond = cond.std(dims, /*unbiased=*/true, /*keepdim=*/true);
  const auto std_cfg = guided.std(dims, /*unbiased=*/true, /*keepdim=*/true);
  const auto rescaled = guided * (std_cond / std_cfg);
  return rescale * rescaled + (1.0 - rescale) * guided;
}

Denoiser cfg(ConditionalDenoiser model, Condition cond, Condition uncond, GuidanceOptions o, Condition context_only) {
  validate(o);
  const bool two_scales = o.context_scale && *o.context_scale != o.scale;
  if (two_scales && context_only.empty()) throw std::invalid_argument("a context guidance scale needs the context-only condition");
  return [model = std::move(model), cond = std::move(cond), uncond = std::move(uncond), context_only = std::move(context_only), o,
          two_scales](const torch::Tensor& x, const torch::Tensor& sigma) {
    const double sg = sigma.item<double>();
    const bool guide = (o.scale != 1.0 || (two_scales && *o.context_scale != 1.0)) && sg >= o.sigma_lo && sg <= o.sigma_hi;
    if (!guide) return model(x, sigma, cond);
    const int64_t n = x.size(0);
    torch::Tensor x0_c, x0;
    if (two_scales) {
      const auto all = model(torch::cat({x, x, x}), sigma, Condition::cat(Condition::cat(cond, context_only), uncond));  // one forward
      x0_c = all.slice(0, 0, n);
      const auto x0_f = all.slice(0, n, 2 * n), x0_u = all.slice(0, 2 * n);
      x0 = x0_u + *o.context_scale * (x0_f - x0_u) + o.scale * (x0_c - x0_f);
    } else {
      const auto both = model(torch::cat({x, x}), sigma, Condition::cat(cond, uncond));  // one forward
      x0_c = both.slice(0, 0, n);
      const auto x0_u = both.slice(0, n);
      x0 = x0_u + o.scale * (x0_c - x0_u);
    }
    if (o.rescale > 0) {
      // Measure in the model's prediction space, as diffusers does, then map back to x0.
      const Scaling k = o.scaling(sg);
      const auto x_m = x * k.a;
      const auto p = prediction_from_x0(o.rescale_space, x0, x_m, k);
      const auto p_c = prediction_from_x0(o.rescale_space, x0_c, x_m, k);
      x0 = x0_from_prediction(o.rescale_space, rescale_guidance(p, p_c, o.rescale), x_m, k);
    }
    return x0;
  };
}

}  // namespace diffuse
