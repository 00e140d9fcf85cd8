#!/usr/bin/env bash
# Installs exactly the Debian 12 packages diffuse needs. Idempotent and non-interactive:
# when everything is present it checks with dpkg and returns in about a second.
set -euo pipefail

packages=(
  # toolchain and build
  g++ cmake ninja-build pkg-config ccache
  # libtorch (CPU, 1.13 on Debian 12) and the BLAS it must use: without libopenblas0-pthread
  # libtorch falls back to reference BLAS, ~40x slower.
  libtorch-dev libopenblas0-pthread
  # data-parallel training: the headers of the Gloo inside libtorch's c10d, and torchrun (the
  # launcher the tests use) from Debian's PyTorch, which also runs the eager peer benchmark
  libgloo-dev python3-torch
  # media libraries, one per modality
  libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libswresample-dev
  libsndfile1-dev
  librdkit-dev libboost-dev
  libopenimageio-dev fonts-dejavu-core
  # independent checks of written files: ffprobe (MP4) and headless Chromium (the HTML report)
  ffmpeg chromium
  # sanitizers and fuzzing of the parsers (scripts/fuzz.sh): clang with libFuzzer
  clang libclang-rt-14-dev
  # CLI, JSON, compression, tests, benchmarks
  libcli11-dev nlohmann-json3-dev zlib1g-dev libgtest-dev libgmock-dev libbenchmark-dev
  # data sources (no downloads at run time): images/video, audio, molecules
  dataset-fashion-mnist espeak-ng fluid-soundfont-gm fluidsynth rdkit-data
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ $status == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${#missing[@]} package(s): ${missing[*]}"
sudo=""
if ((EUID != 0)); then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
# Update the package lists only when they are missing or older than a day.
stamp=/var/lib/apt/periodic/update-success-stamp
lists_fresh=0
if compgen -G "/var/lib/apt/lists/*_Packages*" >/dev/null; then
  newest=$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -mmin -1440 | head -n 1)
  [[ -n $newest ]] && lists_fresh=1
fi
if ((lists_fresh == 0)) || ! $sudo apt-get install -y --no-install-recommends --simulate "${missing[@]}" >/dev/null 2>&1; then
  $sudo apt-get update -q
fi
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
: "$stamp"
echo "install-deps: done"
