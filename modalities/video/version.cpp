// FFmpeg's version, read at run time from the linked libraries.
#include "modalities/video/version.h"

#if DIFFUSE_VIDEO_FILES
extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/avutil.h>
}
#endif

namespace diffuse::video {
std::string library_version() {
#if DIFFUSE_VIDEO_FILES
  const unsigned v = avcodec_version();
  return std::string(av_version_info()) + " (libavcodec " + std::to_string(v >> 16) + "." +
         std::to_string((v >> 8) & 0xff) + "." + std::to_string(v & 0xff) + ")";
#else
  return "none: a headless build (-DDIFFUSE_HEADLESS=ON), no video files";
#endif
}
}  // namespace diffuse::video
