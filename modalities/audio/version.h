// Audio modality (libsndfile). Spectrogram diffusion to WAV lands with the audio issue.
#pragma once
#include <string>
namespace diffuse::audio {
std::string library_version();  // libsndfile's run-time version string
}
