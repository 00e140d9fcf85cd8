// The molecule modality's pipeline with its command-line options, as the registry registers it.
#pragma once
#include "core/modality.h"

namespace diffuse::molecule {

PipelineCommands molecule_plugin();  // train, sample and eval molecule

}  // namespace diffuse::molecule
