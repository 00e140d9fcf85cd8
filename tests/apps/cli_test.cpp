// The diffuse program end to end: exit codes and one-line errors for bad input, JSON output.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/json.h"
#include "test_paths.h"
#include "tests/apps/cli_util.h"

namespace {

using diffuse::test::run;
using diffuse::test::lines;

TEST(Cli, UnknownSubcommandIsOneLineAndNonZero) {
  const auto r = run("frobnicate");
  EXPECT_NE(r.code, 0);
  EXPECT_EQ(lines(r.out), 1) << r.out;
  EXPECT_NE(r.out.find("frobnicate"), std::string::npos) << r.out;
}

TEST(Cli, BadOptionValueIsOneLineAndNonZero) {
  for (const char* args : {"--threads -3 info", "info --gemm-size abc", "bench samplers --nfe 0"}) {
    const auto r = run(args);
    EXPECT_NE(r.code, 0) << args;
    EXPECT_EQ(lines(r.out), 1) << args << ": " << r.out;
  }
}

TEST(Cli, InfoJsonHasTheFiguresItPrints) {
  const auto r = run("info --json --gemm-size 256");
  ASSERT_EQ(r.code, 0) << r.out;
  const auto j = diffuse::Json::parse(r.out);
  EXPECT_GT(j.at("gemm").at("gflops").get<double>(), 0.0);
  EXPECT_GE(j.at("threads").get<int>(), 1);
  EXPECT_FALSE(j.at("blas").get<std::string>().empty());
  EXPECT_EQ(j.at("samplers").size(), 17u);
  EXPECT_TRUE(j.at("modalities").contains("molecule"));
}

TEST(Cli, ThreadsOptionSetsTheThreadCount) {
  const auto r = run("--threads 1 info --json --gemm-size 64");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(diffuse::Json::parse(r.out).at("threads").get<int>(), 1);
}

TEST(Cli, CheckReferenceNamesACorruptFile) {
  const std::string path = "/tmp/diffuse_cli_corrupt.json";
  { std::ofstream(path) << "{\"runs\": [1, 2"; }
  const auto r = run("check-reference " + path);
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(lines(r.out), 2) << r.out;  // the table header, then the error
  EXPECT_NE(r.out.find(path + ": not valid JSON"), std::string::npos) << r.out;
}

TEST(Cli, UnknownModalitiesAndMissingFoldersAreNamed) {
  auto r = run("train sculpture --steps 1 --out /tmp/diffuse_cli_sculpture");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("sculpture"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("toy"), std::string::npos) << r.out;  // the known names are listed
  r = run("report /tmp/diffuse_no_such_folder");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("/tmp/diffuse_no_such_folder"), std::string::npos) << r.out;
}

TEST(Cli, ToyTrainSampleEvalRoundTrip) {
  const std::string dir = "/tmp/diffuse_cli_toy";
  std::system(("rm -rf " + dir).c_str());
  auto r = run("--threads 1 train toy --steps 30 --batch 64 --out " + dir);
  ASSERT_EQ(r.code, 0) << r.out;
  r = run("train toy --steps 30 --out " + dir);  // the run folder is not silently reused
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("checkpoint.safetensors exists; pass --resume"), std::string::npos) << r.out;
  r = run("sample toy --checkpoint " + dir + "/checkpoint.safetensors --n 50 --label c1 --cfg 2 --steps 5 --out " + dir + "/p.csv");
  ASSERT_EQ(r.code, 0) << r.out;
  r = run("eval toy " + dir + "/p.csv --json");
  ASSERT_EQ(r.code, 0) << r.out;
  const auto j = diffuse::Json::parse(r.out);
  EXPECT_EQ(j.at("n").get<int>(), 50);
  EXPECT_TRUE(j.contains("class_accuracy"));
  r = run("sample toy --checkpoint " + dir + "/checkpoint.safetensors --n 5 --label nope --out " + dir + "/q.csv");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("unknown class 'nope' for modality toy; one of: 0=c0"), std::string::npos) << r.out;
  r = run("sample toy --checkpoint " + dir + "/checkpoint.safetensors --n 5 --sampler eulr --out " + dir + "/q.csv");
  EXPECT_NE(r.out.find("unknown sampler 'eulr'; one of:"), std::string::npos) << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
  // A video option given to another modality is refused, not ignored.
  r = run("sample toy --checkpoint " + dir + "/checkpoint.safetensors --n 5 --fps 12 --out " + dir + "/q.csv");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("--fps: sample video only, not toy"), std::string::npos) << r.out;
  EXPECT_FALSE(std::filesystem::exists(dir + "/q.csv"));
}

TEST(Cli, BenchRefusesToOverwriteWithoutForce) {
  const std::string path = "/tmp/diffuse_cli_bench.json";
  { std::ofstream(path) << "keep"; }
  const auto r = run("bench samplers --nfe 5 --sampler euler --points 200 --out " + path);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find(path + ": exists; pass --force to overwrite"), std::string::npos) << r.out;
  std::ifstream in(path);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "keep");
}

}  // namespace

