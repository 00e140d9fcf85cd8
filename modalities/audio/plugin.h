// The audio modality's pipelines with their command-line options, as the registry registers them.
#pragma once
#include "core/modality.h"

namespace diffuse::audio {

PipelineCommands audio_plugin();             // train, sample and eval audio
PipelineCommands audio_classifier_plugin();  // train audio-classifier
PipelineCommands audio_vocoder_plugin();     // train audio-vocoder

}  // namespace diffuse::audio
