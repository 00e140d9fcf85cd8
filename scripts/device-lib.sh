# Shared by the device scripts (sourced, not run): the machine's summary and a build of diffuse's
# CLI against the machine's CUDA libtorch, with the headers of a bundle from device-bundle.sh.

# device_build OUT DEPS [-DOPTION=VALUE ...]: writes the summary and logs to OUT, configures
# /tmp/diffuse-gpu with DEPS/root/usr/include before the system's headers and the options given,
# builds the `diffuse` target and sets $diffuse to it. Stops the script on a failure, with the log's end.
device_build() {
  local out=$1 d=$2
  shift 2
  [ -d /usr/local/cuda/bin ] && export PATH=/usr/local/cuda/bin:$PATH
  local torch_prefix inc=$d/root/usr/include tb
  torch_prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
  {
    python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "cxx11 abi", torch._C._GLIBCXX_USE_CXX11_ABI)'
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
    g++ --version | head -1; cmake --version | head -1; nproc
  } | tee "$out/summary.txt"
  cmake -S . -B /tmp/diffuse-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$torch_prefix" \
    -Dnlohmann_json_DIR="$d/root/usr/share/cmake/nlohmann_json" -DCMAKE_INCLUDE_PATH="$inc" \
    -DCMAKE_CXX_FLAGS="-include cstdint -isystem $inc" -DDIFFUSE_WITH_SNDFILE=OFF -DDIFFUSE_BUILD_TESTS=OFF \
    -DDIFFUSE_USE_CCACHE=OFF "$@" > "$out/configure.log" 2>&1 || { tail -40 "$out/configure.log"; exit 1; }
  tb=$(date +%s)
  ninja -C /tmp/diffuse-gpu diffuse > "$out/build.log" 2>&1 || { grep -m5 -B2 -A8 "error" "$out/build.log"; exit 1; }
  echo "build: $(( $(date +%s) - tb )) s on $(nproc) cores" | tee -a "$out/summary.txt"
  diffuse=/tmp/diffuse-gpu/apps/diffuse
}

# device_steps RUN_DIR T0 BUDGET MIN: the steps (a multiple of 100, at least MIN) that fit what is
# left of BUDGET seconds from T0, at 90% of the step rate in RUN_DIR/log.jsonl's last line.
# Sets $rate, $left and $steps.
device_steps() {
  rate=$(tail -1 "$1/log.jsonl" | python3 -c 'import json, sys; print(json.load(sys.stdin)["it_per_s"])')
  left=$(( $2 + $3 - $(date +%s) - 30 ))
  steps=$(python3 -c "print(max($4, int($rate * $left * 0.9) // 100 * 100))")
}
