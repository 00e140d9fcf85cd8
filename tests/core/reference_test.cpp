// Replays every golden trajectory file in shared/reference through diffuse's samplers and
// requires each implemented run to match every recorded state to 1e-8 (float64).
#include "core/reference.h"

#include <filesystem>
#include <fstream>
#include <set>

#include "tests/core/test_util.h"

namespace diffuse {
namespace {

std::vector<std::string> trajectory_files() {
  std::vector<std::string> files;
  if (!test::have_reference()) return files;
  for (const auto& e : std::filesystem::directory_iterator(DIFFUSE_REFERENCE_DIR)) {
    const auto name = e.path().filename().string();
    if (name.rfind("traj_", 0) == 0 || name.rfind("cfg_", 0) == 0) files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

TEST(ReferenceReplay, EveryImplementedRunMatchesTo1e8) {
  DIFFUSE_REQUIRE_REFERENCE();
  const auto files = trajectory_files();
  ASSERT_GE(files.size(), 9u);
  int passed = 0;
  std::vector<std::string> skipped;
  for (const auto& f : files) {
    for (const auto& r : replay_reference_file(f, 1e-8)) {
      if (r.status == "skip") {
        skipped.push_back(r.file + " " + r.run + ": " + r.note);
        continue;
      }
      EXPECT_EQ(r.status, "pass") << r.file << " " << r.run << ": max abs error " << r.max_abs_error << " " << r.note;
      ++passed;
    }
  }
  EXPECT_GE(passed, 123);
  EXPECT_TRUE(skipped.empty()) << skipped.size() << " runs not replayed, e.g. " << skipped.front();
}

TEST(ReferenceReplay, DetectsAWrongTrajectory) {
  DIFFUSE_REQUIRE_REFERENCE();
  auto j = read_json_file(test::reference_path("traj_kdiffusion_d2_n10.json"));
  auto& traj = j["runs"]["euler_karras"]["trajectory"];
  traj[3][0][0] = traj[3][0][0].get<double>() + 1e-6;
  bool found = false;
  for (const auto& r : replay_reference(j, "perturbed", 1e-8)) {
    if (r.run != "euler_karras") continue;
    found = true;
    EXPECT_EQ(r.status, "fail");
    EXPECT_NEAR(r.max_abs_error, 1e-6, 1e-9);
  }
  EXPECT_TRUE(found);
}

TEST(ReferenceReplay, RefusesAFileOfAnotherSchema) {
  const auto path = std::filesystem::temp_directory_path() / "diffuse_not_reference.json";
  { std::ofstream(path) << R"({"hello": 1})"; }
  try {
    replay_reference_file(path.string());
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("expected keys 'runs' and 'denoiser'"), std::string::npos);
  }
}

}  // namespace
}  // namespace diffuse
