#!/usr/bin/env bash
# Builds diffuse's parser fuzz targets with clang's libFuzzer and AddressSanitizer, then runs each
# for SECONDS (default 600) on a copy of its seed corpus, printing executions and coverage. New
# inputs that raise coverage are kept in tests/fuzz/corpus/<target>/ only with KEEP=1.
#   scripts/fuzz.sh                       # all six targets, 10 minutes each, one after another
#   SECONDS_PER_TARGET=60 JOBS=2 scripts/fuzz.sh safetensors idx
# Needs clang and libclang-rt-14-dev (scripts/install-deps.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
per_target=${SECONDS_PER_TARGET:-600}
jobs=${JOBS:-1}
build=build-fuzz
targets=("$@")
((${#targets[@]})) || targets=(safetensors config reference idx wav molecules)
if [[ ! -f $build/build.ninja ]]; then
  CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDIFFUSE_BUILD_TESTS=OFF \
    -DDIFFUSE_BUILD_FUZZERS=ON -DDIFFUSE_WITH_FFMPEG=OFF \
    -DCMAKE_CXX_FLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined" \
    -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" > /dev/null
fi
cmake --build "$build" -j "${BUILD_JOBS:-$(nproc)}" --target "${targets[@]/#/fuzz_}"
mkdir -p "$build/findings"
run_one() {
  local t=$1 work="$build/corpus-$1"
  rm -rf "$work" && mkdir -p "$work" && cp tests/fuzz/corpus/"$t"/* "$work"/
  # A parser's own limits refuse huge inputs; rss and malloc limits catch what gets past them.
  ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1 "$build/tests/fuzz/fuzz_$t" -max_total_time="$per_target" -max_len=16384 \
    -rss_limit_mb=4096 -malloc_limit_mb=2048 -timeout=20 -print_final_stats=1 -artifact_prefix="$build/findings/$t-" \
    "$work" > "$build/fuzz-$t.log" 2>&1 || { echo "fuzz_$t: FINDING (see $build/fuzz-$t.log and $build/findings/)"; return 1; }
  local execs cov
  execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$build/fuzz-$t.log" | grep -o '[0-9]*$' || echo '?')
  cov=$(grep -o 'cov: [0-9]*' "$build/fuzz-$t.log" | tail -1 | grep -o '[0-9]*$' || echo '?')
  echo "fuzz_$t: no finding in ${per_target} s; $execs executions, coverage $cov edges, corpus $(ls "$work" | wc -l) inputs"
  if [[ ${KEEP:-0} == 1 ]]; then cp -n "$work"/* tests/fuzz/corpus/"$t"/ 2>/dev/null || true; fi
}
status=0
export -f run_one; export build per_target
printf '%s\n' "${targets[@]}" | xargs -P "$jobs" -I{} bash -c 'run_one {}' || status=1
exit $status
