// Video modality (FFmpeg's libraries). Space-time latent diffusion to MP4 lands with the video issue.
#pragma once
#include <string>
namespace diffuse::video {
std::string library_version();  // FFmpeg's run-time version, with libavcodec's
}
