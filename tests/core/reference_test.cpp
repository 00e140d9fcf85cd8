// Replays every golden trajectory file in shared/reference through diffuse's samplers and
// requires each implemented run to match every recorded state to 1e-8 (float64). The shared files
// use 10 and 25 steps, which divide the 1,000 training timesteps; tests/reference holds the same
// runs at 6, 13 and 30 steps (and 13 in 16 dimensions), made from diffusers' and k-diffusion's own
// files by scripts/make-reference.py, so spacing that rounds differently there is caught too.
#include "core/reference.h"

#include <filesystem>
#include <fstream>
#include <set>

#include "tests/core/test_util.h"

namespace diffuse {
namespace {

std::vector<std::string> trajectory_files(const std::string& dir) {
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const auto name = e.path().filename().string();
    if (name.rfind("traj_", 0) == 0 || name.rfind("cfg_", 0) == 0) files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// Every run of the files passes; returns how many were replayed.
int expect_all_pass(const std::vector<std::string>& files) {
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
  EXPECT_TRUE(skipped.empty()) << skipped.size() << " runs not replayed, e.g. " << skipped.front();
  return passed;
}

TEST(ReferenceReplay, EveryImplementedRunMatchesTo1e8) {
  DIFFUSE_REQUIRE_REFERENCE();
  const auto files = trajectory_files(DIFFUSE_REFERENCE_DIR);
  ASSERT_GE(files.size(), 9u);
  EXPECT_GE(expect_all_pass(files), 123);
}

// 6, 13 and 30 steps do not divide 1,000: every sampler, each diffusers scheduler at every
// timestep spacing, in 2 and 16 dimensions.
TEST(ReferenceReplay, StepCountsThatDoNotDivideTheTrainingStepsMatchTo1e8) {
  const auto files = trajectory_files(DIFFUSE_SOURCE_DIR "/tests/reference");
  ASSERT_EQ(files.size(), 8u);
  EXPECT_EQ(expect_all_pass(files), 194);
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
