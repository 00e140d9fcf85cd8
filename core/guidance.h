// Classifier-free guidance (Ho & Salimans 2022): takes a conditional model and returns a
// denoiser. The conditional and unconditional passes run as one batched forward.
#pragma once
#include <torch/types.h>

#include <functional>
#include <limits>
#include <optional>

#include "core/condition.h"
#include "core/denoiser.h"

namespace diffuse {

// A denoiser that also takes a condition.
using ConditionalDenoiser =
    std::function<torch::Tensor(const torch::Tensor& x, const torch::Tensor& sigma, const Condition& c)>;

struct GuidanceOptions {
  double scale = 1.0;    // 1 = conditional only; 0 = unconditional only
  double rescale = 0.0;  // guidance_rescale (Lin et al. 2023, eq. 15-16), in [0, 1]
  // A context's own scale (InstructPix2Pix's two scales, Brooks et al. 2023), where the
  // unconditional pass drops the context as well as the labels: out = u + context_scale (f - u)
  // + scale (c - f), f the pass that keeps the context and drops the labels. Unset, or equal to
  // scale: one-scale CFG, u + scale (c - u), without the third pass.
  std::optional<double> context_scale;
  // Guidance interval (Kynkäänniemi et al. 2024): guide only for sigma in [sigma_lo, sigma_hi].
  double sigma_lo = 0.0, sigma_hi = std::numeric_limits<double>::infinity();
  // The space in which rescale measures standard deviations (diffusers: the model's
  // prediction, eps or v), and the model's coordinate scaling.
  Prediction rescale_space = Prediction::kEpsilon;
  Scaling (*scaling)(double sigma) = vp_scaling;
};
void validate(const GuidanceOptions& o);  // throws on scale < 0, rescale outside [0, 1], lo > hi

// out = uncond + scale (cond - uncond), then rescaled; `uncond` is the null or negative condition.
// With o.context_scale, `context_only` is the f pass's condition (cond's context, uncond's labels).
Denoiser cfg(ConditionalDenoiser model, Condition cond, Condition uncond, GuidanceOptions o, Condition context_only = {});

// diffusers rescale_noise_cfg: std over all non-batch dims (unbiased, as torch.std).
torch::Tensor rescale_guidance(const torch::Tensor& guided, const torch::Tensor& cond, double rescale);

}  // namespace diffuse
