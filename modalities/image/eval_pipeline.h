// `diffuse train classifier` and `diffuse eval image`: the evaluation classifier, and the metrics
// of a latent-diffusion model's conditional samples (accuracy, Frechet distance, precision/recall,
// seconds) with calibration points (real test vs train, and trivial baselines).
#pragma once
#include "core/modality.h"

namespace diffuse::image {

PipelineCommands classifier_pipeline();
// eval only: sampling goes through the image pipeline's sampler.
PipelineCommands image_eval_pipeline();

}  // namespace diffuse::image
