// Atomic writes never overwrite without force and leave no temporary files.
#include "core/files.h"

#include <filesystem>
#include <fstream>

#include "tests/core/test_util.h"

namespace diffuse {
namespace {

std::string slurp(const std::string& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(WriteFileAtomic, RefusesToOverwriteWithoutForce) {
  const auto dir = std::filesystem::temp_directory_path() / "diffuse_files_test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const auto path = (dir / "out.json").string();
  write_file_atomic(path, "first", false);
  try {
    write_file_atomic(path, "second", false);
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), path + ": exists; pass --force to overwrite");
  }
  EXPECT_EQ(slurp(path), "first");
  write_file_atomic(path, "third", true);
  EXPECT_EQ(slurp(path), "third");
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir), {}), 1);  // no temporaries left
}

TEST(WriteFileAtomic, NamesTheFileWhenTheDirectoryIsMissing) {
  try {
    write_file_atomic("/nonexistent-dir/x.json", "x", false);
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent-dir/x.json: no folder /nonexistent-dir to write into"), std::string::npos) << e.what();
  }
}

TEST(ReadJsonFile, NamesTheFileAndTheProblem) {
  const auto path = (std::filesystem::temp_directory_path() / "diffuse_bad.json").string();
  { std::ofstream(path) << "{ not json"; }
  try {
    read_json_file(path);
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(path + ": not valid JSON"), std::string::npos) << e.what();
  }
  EXPECT_THROW(read_json_file("/nonexistent.json"), std::runtime_error);
}

}  // namespace
}  // namespace diffuse
