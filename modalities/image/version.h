// Image modality (OpenImageIO). Latent diffusion on images lands with the image issue.
#pragma once
#include <string>
namespace diffuse::image {
std::string library_version();  // OpenImageIO's run-time version
}
