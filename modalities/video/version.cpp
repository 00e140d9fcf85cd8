// FFmpeg's version, read at run time from the linked libraries.
#include "modalities/video/version.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/avutil.h>
}

namespace diffuse::video {
std::string library_version() {
  const unsigned v = avcodec_version();
  return std::string(av_version_info()) + " (libavcodec " + std::to_string(v >> 16) + "." +
         std::to_string((v >> 8) & 0xff) + "." + std::to_string(v & 0xff) + ")";
}
}  // namespace diffuse::video
