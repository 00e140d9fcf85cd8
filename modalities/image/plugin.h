// The image modality's pipelines with their command-line options, as the registry registers them.
#pragma once
#include <string>

#include "core/modality.h"

namespace diffuse::image {

PipelineCommands vae_plugin();         // train vae, eval vae
PipelineCommands image_plugin();       // train, sample and eval image
PipelineCommands classifier_plugin();  // train classifier
// --classifier of an evaluation scored by the image classifier (default: the shipped one).
// --classifier FILE, the evaluation classifier of `eval image` and `eval video` ("" = the shipped one).
void add_classifier_option(CLI::App& command, std::string& file);

}  // namespace diffuse::image
