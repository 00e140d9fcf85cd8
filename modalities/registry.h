// Which modality plugins were compiled in, and the versions of the media libraries behind them.
#pragma once
#include <string>
#include <vector>

namespace diffuse {

struct ModalityInfo {
  std::string name;          // "image", "video", "audio", "molecule"
  std::string library;       // "OpenImageIO", "FFmpeg", "libsndfile", "RDKit"
  std::string cmake_option;  // the option that turns it on
  bool available = false;    // compiled in
  std::string version;       // the library's run-time version when available
};

// All four modalities, compiled in or not, in a fixed order.
std::vector<ModalityInfo> modalities();

// The named modality; throws when the name is unknown (listing the names) or when the modality
// was compiled out (naming the CMake option that turns it on).
const ModalityInfo& require_modality(const std::string& name);

// Registers the compiled-in modalities' pipelines (train/sample/eval commands) with the core.
void register_pipelines();

}  // namespace diffuse
