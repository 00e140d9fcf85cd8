// The image modality's pipelines with their command-line options, as the registry registers them.
#pragma once
#include "core/modality.h"

namespace diffuse::image {

PipelineCommands vae_plugin();         // train vae, eval vae
PipelineCommands image_plugin();       // train, sample and eval image
PipelineCommands classifier_plugin();  // train classifier
// --classifier of an evaluation scored by the image classifier (default: the shipped one).
AddOptions image_classifier_option();

}  // namespace diffuse::image
