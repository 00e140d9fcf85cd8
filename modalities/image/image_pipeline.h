// `diffuse train image` and `diffuse sample image`: a class-conditional DiT on the VAE's latents
// (latent diffusion, Rombach et al. 2022, with EDM preconditioning), sampled to PNG grids or files.
#pragma once
#include <torch/types.h>

#include <string>
#include <vector>

#include "core/modality.h"

namespace diffuse::image {

PipelineCommands image_pipeline();

// `diffuse report`: every PNG/JPEG directly in `dir`, embedded.
std::string image_report_section(const std::string& dir);

// Decoded conditional samples (n, C, H, W) in [0, 1] from a latent DiT checkpoint. Options as the
// CLI's: checkpoint, seed, batch, sampler, steps, schedule, cfg, cfg_rescale, eta, label (class
// name or index; empty or "all" cycles through the classes; "rows" gives one class per grid row
// of `columns`), raw_weights.
struct SampleInfo {
  std::vector<std::string> labels;  // class name of each sample
  int64_t forwards = 0;             // network calls (CFG batches cond and uncond into one call)
  int64_t forward_items = 0;        // items through the network, summed over calls
  double sample_seconds = 0, decode_seconds = 0;
  double cfg = 0;  // the guidance scale the samples were drawn with
};
torch::Tensor sample_images(const SampleArgs& a, int64_t n, SampleInfo* info = nullptr);

}  // namespace diffuse::image
