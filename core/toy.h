// The data-free sanity modality: 2-D points from a known Gaussian mixture (labels = component),
// so a trained model's samples can be scored against the exact distribution.
#pragma once
#include <memory>

#include "core/guidance.h"
#include "core/mlp.h"
#include "core/modality.h"
#include "core/objectives.h"

namespace diffuse {

std::shared_ptr<Modality> make_toy_modality();

// The toy recipe: an MLP denoiser with EDM preconditioning.
Json default_toy_recipe();
struct ToyModel {
  MlpDenoiser net{nullptr};
  ObjectiveOptions objective;
  Json recipe;
};
ToyModel make_toy_model(const Json& recipe);
// The conditional denoiser of a toy model (labels; the null label is num_classes).
ConditionalDenoiser toy_denoiser(const ToyModel& m);
TrainForward toy_forward(const ToyModel& m);
// The toy modality's train, sample and eval commands with its options (core/toy_pipeline.cpp).
PipelineCommands toy_pipeline();

}  // namespace diffuse
