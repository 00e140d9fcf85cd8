// The libFuzzer entry point of one target, named by DIFFUSE_FUZZ_TARGET at compile time.
#include "tests/fuzz/fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  diffuse::fuzz::fuzz_one(DIFFUSE_FUZZ_TARGET, data, size);
  return 0;
}
