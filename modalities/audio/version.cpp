// libsndfile's version, read at run time from the linked library.
#include "modalities/audio/version.h"

#include <sndfile.h>

namespace diffuse::audio {
std::string library_version() { return sf_version_string(); }
}  // namespace diffuse::audio
