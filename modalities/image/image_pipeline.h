// `diffuse train image` and `diffuse sample image`: a class-conditional DiT on the VAE's latents
// (latent diffusion, Rombach et al. 2022, with EDM preconditioning), sampled to PNG grids or files.
#pragma once
#include <torch/types.h>

#include "core/modality.h"

namespace diffuse::image {

PipelineCommands image_pipeline();

// Decoded conditional samples (n, C, H, W) in [0, 1] from a latent DiT checkpoint. Options as the
// CLI's: checkpoint, seed, batch, sampler, steps, schedule, cfg, cfg_rescale, eta, label (class
// name or index; empty or "all" cycles through the classes; "rows" gives one class per grid row
// of `columns`), raw_weights.
torch::Tensor sample_images(const Json& a, int64_t n);

}  // namespace diffuse::image
