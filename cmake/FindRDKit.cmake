# FindRDKit: Debian's librdkit-dev ships no CMake config. Defines RDKit_FOUND
# and the imported target RDKit::RDKit (the libraries diffuse uses).
find_path(RDKit_INCLUDE_DIR GraphMol/RDKitBase.h PATH_SUFFIXES rdkit)
set(_rdkit_components GraphMol SmilesParse FileParsers Descriptors DistGeomHelpers ForceFieldHelpers
    ForceField DistGeometry Fingerprints DataStructs Depictor MolDraw2D ChemTransforms SubstructMatch
    RDGeometryLib RDGeneral)
set(RDKit_LIBRARIES "")
set(_rdkit_missing "")
foreach(c IN LISTS _rdkit_components)
  find_library(RDKit_${c}_LIBRARY NAMES RDKit${c})
  if(RDKit_${c}_LIBRARY)
    list(APPEND RDKit_LIBRARIES ${RDKit_${c}_LIBRARY})
  else()
    list(APPEND _rdkit_missing ${c})
  endif()
endforeach()
# The version string is only available at run time (RDKit::rdkitVersion); `diffuse info` prints it.
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(RDKit REQUIRED_VARS RDKit_INCLUDE_DIR RDKit_GraphMol_LIBRARY
)
if(RDKit_FOUND AND NOT TARGET RDKit::RDKit)
  if(_rdkit_missing)
    message(STATUS "RDKit: libraries not found (not needed yet): ${_rdkit_missing}")
  endif()
  add_library(RDKit::RDKit INTERFACE IMPORTED)
  target_include_directories(RDKit::RDKit SYSTEM INTERFACE "${RDKit_INCLUDE_DIR}")
  target_link_libraries(RDKit::RDKit INTERFACE ${RDKit_LIBRARIES})
endif()
