// OpenImageIO's version, read at run time from the linked library.
#include "modalities/image/version.h"

#if DIFFUSE_IMAGE_FILES
#include <OpenImageIO/imageio.h>
#endif

namespace diffuse::image {
std::string library_version() {
#if DIFFUSE_IMAGE_FILES
  const int v = OIIO::openimageio_version();  // e.g. 20407 for 2.4.7
  return std::to_string(v / 10000) + "." + std::to_string(v / 100 % 100) + "." + std::to_string(v % 100);
#else
  return "none: a headless build (-DDIFFUSE_HEADLESS=ON), no image files";
#endif
}
}  // namespace diffuse::image
