# Finds libtorch, the CLI/JSON libraries and, per option, the media libraries.
# A requested dependency that is missing stops configuration and names the package to install.

function(diffuse_require found what package option)
  if(NOT ${found})
    set(msg "diffuse: ${what} not found. Install it with `apt-get install ${package}` "
            "(or run scripts/install-deps.sh)")
    if(option)
      list(APPEND msg ", or configure with -D${option}=OFF")
    endif()
    string(JOIN "" msg ${msg})
    message(FATAL_ERROR "${msg}.")
  endif()
endfunction()

find_package(Torch QUIET)
diffuse_require(Torch_FOUND "libtorch" "libtorch-dev" "")
# TorchConfig adds its flags to TORCH_CXX_FLAGS (e.g. the old/new ABI switch); keep them.
if(TORCH_CXX_FLAGS)
  set(CMAKE_CXX_FLAGS "${CMAKE_CXX_FLAGS} ${TORCH_CXX_FLAGS}")
endif()
if(NOT TARGET diffuse::torch)
  add_library(diffuse_torch INTERFACE)
  target_link_libraries(diffuse_torch INTERFACE ${TORCH_LIBRARIES})
  target_include_directories(diffuse_torch SYSTEM INTERFACE ${TORCH_INCLUDE_DIRS})
  add_library(diffuse::torch ALIAS diffuse_torch)
endif()

# Data-parallel training: c10d's Gloo process group is inside libtorch, its headers come with
# libgloo-dev. Without them train runs on one process only (and `diffuse info` says so).
option(DIFFUSE_WITH_GLOO "Data-parallel training over c10d's Gloo backend (needs libgloo-dev)" ON)
set(DIFFUSE_HAVE_GLOO OFF)
if(DIFFUSE_WITH_GLOO)
  find_path(GLOO_INCLUDE_DIR gloo/algorithm.h)
  if(GLOO_INCLUDE_DIR AND EXISTS "${TORCH_INCLUDE_DIRS}/torch/csrc/distributed/c10d/ProcessGroupGloo.hpp" OR
     GLOO_INCLUDE_DIR AND EXISTS "/usr/include/torch/csrc/distributed/c10d/ProcessGroupGloo.hpp")
    set(DIFFUSE_HAVE_GLOO ON)
  endif()
endif()
message(STATUS "diffuse: data-parallel training over Gloo: ${DIFFUSE_HAVE_GLOO}")
# NCCL (GPUs): only on request, with a CUDA libtorch whose c10d headers include it.
option(DIFFUSE_WITH_NCCL "Data-parallel training over c10d's NCCL backend (a CUDA libtorch)" OFF)

find_package(nlohmann_json 3 QUIET)
diffuse_require(nlohmann_json_FOUND "nlohmann/json" "nlohmann-json3-dev" "")
find_package(CLI11 QUIET CONFIG)
if(NOT CLI11_FOUND)
  find_path(CLI11_INCLUDE_DIR CLI/CLI.hpp)
  diffuse_require(CLI11_INCLUDE_DIR "CLI11" "libcli11-dev" "")
  add_library(CLI11::CLI11 INTERFACE IMPORTED)
  target_include_directories(CLI11::CLI11 INTERFACE ${CLI11_INCLUDE_DIR})
endif()

find_package(PkgConfig QUIET)

if(DIFFUSE_WITH_FFMPEG)
  diffuse_require(PKG_CONFIG_FOUND "pkg-config (needed to find FFmpeg)" "pkg-config" "DIFFUSE_WITH_FFMPEG")
  pkg_check_modules(FFMPEG IMPORTED_TARGET libavformat libavcodec libavutil libswscale libswresample)
  diffuse_require(FFMPEG_FOUND "FFmpeg's libraries"
    "libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libswresample-dev" "DIFFUSE_WITH_FFMPEG")
endif()

if(DIFFUSE_WITH_SNDFILE)
  diffuse_require(PKG_CONFIG_FOUND "pkg-config (needed to find libsndfile)" "pkg-config" "DIFFUSE_WITH_SNDFILE")
  pkg_check_modules(SNDFILE IMPORTED_TARGET sndfile)
  diffuse_require(SNDFILE_FOUND "libsndfile" "libsndfile1-dev" "DIFFUSE_WITH_SNDFILE")
  find_package(ZLIB QUIET)  # the PNG contact sheet of eval audio
  diffuse_require(ZLIB_FOUND "zlib" "zlib1g-dev" "DIFFUSE_WITH_SNDFILE")
endif()

if(DIFFUSE_WITH_RDKIT)
  find_package(RDKit MODULE)
  diffuse_require(RDKit_FOUND "RDKit" "librdkit-dev" "DIFFUSE_WITH_RDKIT")
endif()

if(DIFFUSE_WITH_OIIO)
  # Debian's OpenImageIO CMake config references tools and Python bindings that the -dev
  # package does not pull in; its pkg-config file is complete.
  diffuse_require(PKG_CONFIG_FOUND "pkg-config (needed to find OpenImageIO)" "pkg-config" "DIFFUSE_WITH_OIIO")
  pkg_check_modules(OIIO IMPORTED_TARGET OpenImageIO)
  diffuse_require(OIIO_FOUND "OpenImageIO" "libopenimageio-dev" "DIFFUSE_WITH_OIIO")
  find_package(ZLIB QUIET)  # IDX datasets (MNIST format, gzipped)
  diffuse_require(ZLIB_FOUND "zlib" "zlib1g-dev" "DIFFUSE_WITH_OIIO")
elseif(DIFFUSE_HEADLESS)
  find_package(ZLIB QUIET)  # IDX datasets
  diffuse_require(ZLIB_FOUND "zlib" "zlib1g-dev" "DIFFUSE_HEADLESS")
endif()
