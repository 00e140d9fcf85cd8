// The video modality's pipelines with their command-line options, as the registry registers them.
#pragma once
#include "core/modality.h"

namespace diffuse::video {

PipelineCommands video_plugin();          // train, sample and eval video
PipelineCommands video_decoder_plugin();  // train video-decoder

}  // namespace diffuse::video
