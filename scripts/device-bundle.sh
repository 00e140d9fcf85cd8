#!/usr/bin/env bash
# Packs what a GPU machine without Debian's packages needs to build diffuse against its own (CUDA)
# libtorch, for one of two device scripts:
# - molecule (the default): the core, molecule modality and CLI: the RDKit, Boost, CLI11 and
#   nlohmann/json headers the sources include, RDKit's shared libraries and their dependencies,
#   and rdkit-data's molecule files. Writes .gpu/deps.tar.xz for scripts/device-molecule-train.sh.
# - video: a headless build (-DDIFFUSE_HEADLESS=ON: core, image and video modalities, CLI; no
#   OpenImageIO or FFmpeg): the CLI11, nlohmann/json and zlib headers, zlib, and Fashion-MNIST's
#   train split. Writes .gpu/video-deps.tar.xz for scripts/device-video-train.sh.
# .gpu is ignored by git, so the device run names .gpu in its carry.
# Usage: scripts/device-bundle.sh [molecule|video] [build-dir-with-compile_commands.json]
set -euo pipefail
what=${1:-molecule}
build=${2:-build}
case $what in molecule) sources="/modalities/molecule/" ;; video) sources="/modalities/image/ /modalities/video/" ;;
  *) echo "device-bundle: '$what': molecule or video" >&2; exit 2 ;; esac
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lib" "$work/root" .gpu
# Headers: what the compiler reads for the core, molecule and CLI sources (outside the PCH).
python3 - "$build/compile_commands.json" $sources > "$work/headers" <<'PY'
import json, shlex, subprocess, sys
keep = ("/usr/include/boost/", "/usr/include/rdkit/", "/usr/include/CLI/", "/usr/include/nlohmann/", "/usr/include/zlib.h", "/usr/include/zconf.h")
seen = set()
for e in json.load(open(sys.argv[1])):
    if not any(k in e["file"] for k in ("/core/", "/modalities/registry", "/apps/", *sys.argv[2:])):
        continue
    args, out, skip = shlex.split(e["command"]), [], False
    if "ccache" in args[0]:
        args = args[1:]
    for a in args:
        if skip:
            skip = False
        elif a in ("-o", "-MF", "-MT", "-MQ", "-include"):
            skip = True
        elif a not in ("-c", "-MD", "-MMD", "-Winvalid-pch"):
            out.append(a)
    deps = subprocess.run(out + ["-M", "-MG"], capture_output=True, text=True, cwd=e["directory"]).stdout
    seen.update(t for t in deps.replace("\\\n", " ").split() if t.startswith(keep))
print("\n".join(sorted(seen)))
PY
if [ "$what" = video ]; then
  (cd / && tar cf - -T "$work/headers" /usr/include/zlib.h /usr/include/zconf.h /usr/share/cmake/nlohmann_json 2>/dev/null) | tar xf - -C "$work/root"
  cp -L "$(ldconfig -p | awk '/libz\.so\.1 .*x86-64/ {print $NF; exit}')" "$work/lib/"
  mkdir -p "$work/root/usr/share/datasets/fashion-mnist"
  cp /usr/share/datasets/fashion-mnist/train-*-ubyte.gz "$work/root/usr/share/datasets/fashion-mnist/"
  tar cJf .gpu/video-deps.tar.xz -C "$work" lib root
  ls -l .gpu/video-deps.tar.xz
  bundle=.gpu/video-deps.tar.xz
else
  (cd / && tar cf - -T "$work/headers" /usr/include/rdkit /usr/share/cmake/nlohmann_json 2>/dev/null) | tar xf - -C "$work/root"
  # RDKit's libraries (the ones FindRDKit links) and everything they load, except the C/C++ runtime.
  for c in GraphMol SmilesParse FileParsers Descriptors DistGeomHelpers ForceFieldHelpers ForceField DistGeometry \
           Fingerprints DataStructs Depictor MolDraw2D ChemTransforms SubstructMatch RDGeometryLib RDGeneral; do
    echo "/usr/lib/libRDKit$c.so.1"
    ldd "/usr/lib/libRDKit$c.so.1" | awk '$3 ~ /^\// {print $3}'
  done | sort -u | grep -v -e '/libc\.so' -e '/libm\.so' -e 'libstdc++' -e 'libgcc_s' | xargs -I{} cp -L {} "$work/lib/"
  (cd "$work/lib" && for f in libRDKit*.so.1; do ln -sf "$f" "${f%.1}"; done)
  # rdkit-data's molecule files, at the paths the default dataset reads (both versions' lists, each
  # path written relative to /usr/share/RDKit/ in dataset.cpp).
  grep -o '"\(Data\|Contrib\|Projects\)/[^"]*"' modalities/molecule/dataset.cpp | tr -d '"' | sort -u | while read -r f; do
    f=/usr/share/RDKit/$f
    mkdir -p "$work/root$(dirname "$f")" && cp "$f" "$work/root$f"
  done
  [ "$(find "$work/root/usr/share/RDKit" -type f | wc -l)" -ge 10 ] || { echo "device-bundle: rdkit-data's molecule files not found in dataset.cpp" >&2; exit 1; }
  tar cJf .gpu/deps.tar.xz -C "$work" lib root
  ls -l .gpu/deps.tar.xz
  bundle=.gpu/deps.tar.xz
fi
# The device tool sends the tracked files that are present, plus carried paths, up to 64 MiB.
# The shipped models alone come near that, so name what to move aside for the run.
tree=$(git ls-files -z | xargs -0 stat -c %s 2>/dev/null | awk "{s += \$1} END {print s}")
total=$(( tree + $(stat -c %s "$bundle") ))
echo "device-bundle: the run would send $(( total / 1048576 )) MiB (the tracked files present, and .gpu, to be carried)"
if [ "$total" -gt $(( 63 * 1048576 )) ]; then
  aside=models/spoken-digits
  [ "$what" = video ] && aside="models/spoken-digits models/rdkit-data models/moving-fashion-mnist"
  echo "device-bundle: over the device tool's 64 MiB: move what the run does not need aside," \
       "e.g. mkdir -p /tmp/aside && mv $aside /tmp/aside/, and back after it"
fi
