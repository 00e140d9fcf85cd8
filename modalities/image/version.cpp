// OpenImageIO's version, read at run time from the linked library.
#include "modalities/image/version.h"

#include <OpenImageIO/imageio.h>

namespace diffuse::image {
std::string library_version() {
  const int v = OIIO::openimageio_version();  // e.g. 20407 for 2.4.7
  return std::to_string(v / 10000) + "." + std::to_string(v / 100 % 100) + "." + std::to_string(v % 100);
}
}  // namespace diffuse::image
