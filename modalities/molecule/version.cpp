// RDKit's version, read at run time from the linked library.
#include "modalities/molecule/version.h"

#include <RDGeneral/versions.h>

namespace diffuse::molecule {
std::string library_version() { return RDKit::rdkitVersion; }
}  // namespace diffuse::molecule
