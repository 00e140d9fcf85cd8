// Molecule modality (RDKit). Graph diffusion to SDF lands with the molecule issue.
#pragma once
#include <string>
namespace diffuse::molecule {
std::string library_version();  // RDKit's run-time version
}
