// The fuzz targets' seed corpus, replayed: every stored input of every target runs through its
// parser and ends in a result or a named error (a crash fails the whole binary). The corpus holds
// the seeds and what the fuzzers kept (scripts/fuzz.sh).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "test_paths.h"
#include "tests/fuzz/fuzz_targets.h"

namespace {

TEST(FuzzCorpus, EveryStoredInputOfEveryTargetEndsInAResultOrANamedError) {
  const std::filesystem::path root = std::filesystem::path(DIFFUSE_SOURCE_DIR) / "tests/fuzz/corpus";
  for (const auto& target : diffuse::fuzz::targets()) {
    int64_t inputs = 0;
    for (const auto& e : std::filesystem::directory_iterator(root / target)) {
      if (!e.is_regular_file()) continue;
      std::ifstream in(e.path(), std::ios::binary);
      const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      diffuse::fuzz::fuzz_one(target, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
      ++inputs;
    }
    EXPECT_GE(inputs, 3) << target << ": the seed corpus is missing";
  }
}

}  // namespace
