// `diffuse train vae` and `diffuse eval vae`: the image VAE trained on Fashion-MNIST (or an IDX
// pair), its latent scaling factor computed from data, and its reconstruction PSNR.
#pragma once
#include "core/modality.h"

namespace diffuse::image {

PipelineCommands vae_pipeline();

}  // namespace diffuse::image
