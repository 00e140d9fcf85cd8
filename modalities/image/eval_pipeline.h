// `diffuse train classifier` and `diffuse eval image`: the evaluation classifier, and the metrics
// of a latent-diffusion model's conditional samples (accuracy, Frechet distance, precision/recall,
// seconds) with calibration points (real test vs train, and trivial baselines).
#pragma once
#include <memory>
#include <string>

#include "core/modality.h"
#include "core/pipeline.h"

namespace diffuse::image {

PipelineCommands classifier_pipeline();
// The judge of `eval image` (args.classifier): accuracy, Frechet distance and precision/recall of
// the classifier's features against the Fashion-MNIST test set.
// The judge of `eval image`: the evaluation classifier `classifier` ("" = the shipped one).
std::unique_ptr<Evaluator> image_evaluator(const std::string& classifier);

}  // namespace diffuse::image
