// The diffuse program end to end: exit codes and one-line errors for bad input, JSON output.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <array>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/files.h"
#include "core/json.h"
#include "core/modality.h"
#include "core/train/checkpoint.h"
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
  EXPECT_GT(j.at("gemm_bf16").at("gflops").get<double>(), 0.0);
  EXPECT_TRUE(j.at("cpu_isa").contains("avx512_bf16"));
  EXPECT_TRUE(j.at("precision_auto") == "bf16" || j.at("precision_auto") == "fp32") << j.at("precision_auto");
}

TEST(Cli, ThreadsOptionSetsTheThreadCount) {
  const auto r = run("--threads 1 info --json --gemm-size 64");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(diffuse::Json::parse(r.out).at("threads").get<int>(), 1);
}

TEST(Cli, CheckReferenceNamesACorruptFile) {
  const diffuse::test::TempDir tmp("cli_corrupt");
  const std::string path = tmp.path + "/corrupt.json";
  { std::ofstream(path) << "{\"runs\": [1, 2"; }
  const auto r = run("check-reference " + path);
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(lines(r.out), 2) << r.out;  // the table header, then the error
  EXPECT_NE(r.out.find(path + ": not valid JSON"), std::string::npos) << r.out;
}

TEST(Cli, UnknownModalitiesAndMissingFoldersAreNamed) {
  const diffuse::test::TempDir tmp("cli_names");
  auto r = run("train sculpture --steps 1 --out " + tmp.path + "/sculpture");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("sculpture"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("toy"), std::string::npos) << r.out;  // the known names are listed
  r = run("report " + tmp.path + "/no_such_folder");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find(tmp.path + "/no_such_folder"), std::string::npos) << r.out;
}

TEST(Cli, ToyTrainSampleEvalRoundTrip) {
  const diffuse::test::TempDir tmp("cli_toy");
  const std::string dir = tmp.path + "/run";
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
  EXPECT_NE(r.out.find("--fps: not an option of sample toy"), std::string::npos) << r.out;
  if (diffuse::test::has_modality("video")) EXPECT_NE(r.out.find("(sample video has it)"), std::string::npos) << r.out;
  EXPECT_EQ(lines(r.out), 1) << r.out;
  EXPECT_FALSE(std::filesystem::exists(dir + "/q.csv"));
}

TEST(Cli, BenchRefusesToOverwriteWithoutForce) {
  const diffuse::test::TempDir tmp("cli_bench");
  const std::string path = tmp.path + "/bench.json";
  { std::ofstream(path) << "keep"; }
  const auto r = run("bench samplers --nfe 5 --sampler euler --points 200 --out " + path);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find(path + ": exists; pass --force to overwrite"), std::string::npos) << r.out;
  std::ifstream in(path);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "keep");
}

}  // namespace


namespace {

TEST(Cli, DeviceIsCheckedByEveryCommandThatTakesIt) {
  const std::string models = std::string(DIFFUSE_SOURCE_DIR) + "/models";
  const diffuse::test::TempDir tmp("cli_device");
  for (const std::string& args : std::vector<std::string>{"train toy --steps 1 --device tpu --out " + tmp.path + "/t",
                                  "sample toy --checkpoint " + models + "/fashion-mnist/dit.safetensors --device tpu --out " + tmp.path + "/p.csv",
                                  "sample image --device tpu --out " + tmp.path + "/x.png",
                                  "eval image --device tpu",
                                  "bench model --batch 1 --device tpu",
                                  "bench image --n 1 --device tpu"}) {
    if (args.find(" image ") != std::string::npos && !diffuse::test::has_modality("image")) continue;  // a core-only build
    const auto r = run(args);
    EXPECT_EQ(r.code, 1) << args;
    EXPECT_EQ(lines(r.out), 1) << args << ": " << r.out;
    EXPECT_NE(r.out.find("--device tpu: unknown device; one of: cpu, cuda, cuda:N"), std::string::npos) << args << ": " << r.out;
  }
  for (const std::string& args : std::vector<std::string>{"sample image --precision fp8 --out " + tmp.path + "/x.png", "eval image --precision fp8",
                                                          "train toy --precision fp8 --steps 1 --out " + tmp.path + "/t", "bench model --precision fp8"}) {
    const auto r = run(args);
    EXPECT_EQ(r.code, 1) << args;
    EXPECT_NE(r.out.find("--precision fp8: expected fp32, bf16 or auto"), std::string::npos) << args << ": " << r.out;
  }
  auto r = run("sample image --device cuda:x --out " + tmp.path + "/x.png");
  EXPECT_NE(r.out.find("--device cuda:x: expected cuda:N with a GPU index N"), std::string::npos) << r.out;
  // This machine's libtorch is the CPU build: CUDA is refused in one line instead of running on the CPU.
  r = run("info --json --gemm-size 64");
  ASSERT_EQ(r.code, 0) << r.out;
  if (!diffuse::Json::parse(r.out).at("cuda_available").get<bool>()) {
    for (const std::string& args : std::vector<std::string>{"train toy --steps 1 --device cuda --out " + tmp.path + "/t",
                                                            "sample image --device cuda --out " + tmp.path + "/x.png"}) {
      r = run(args);
      EXPECT_EQ(r.code, 1) << args;
      EXPECT_EQ(lines(r.out), 1) << args << ": " << r.out;
      EXPECT_NE(r.out.find("--device cuda: this libtorch"), std::string::npos) << args << ": " << r.out;
      EXPECT_NE(r.out.find("use --device cpu"), std::string::npos) << args << ": " << r.out;
    }
  }
  EXPECT_FALSE(std::filesystem::exists(tmp.path + "/t"));
  EXPECT_FALSE(std::filesystem::exists(tmp.path + "/x.png"));
}

TEST(Cli, ACheckpointOfAnotherModalityIsNamedWithWhatItHolds) {
  for (const char* m : {"image", "audio", "video", "molecule"}) {
    if (!diffuse::test::has_modality(m)) GTEST_SKIP() << m << " is compiled out";
  }
  const std::string models = std::string(DIFFUSE_SOURCE_DIR) + "/models";
  const diffuse::test::TempDir tmp("cli_wrong_modality");
  const std::string audio = models + "/spoken-digits/dit.safetensors";
  struct Case {
    std::string args, expected;
  };
  for (const Case& c : std::vector<Case>{
           {"sample image --checkpoint " + audio + " --out " + tmp.path + "/x.png", audio + ": an audio 'dit' model, expected an image 'dit' model"},
           {"sample video --checkpoint " + audio + " --out " + tmp.path + "/x.mp4", audio + ": an audio 'dit' model, expected a video 'dit' model"},
           {"sample toy --checkpoint " + audio + " --out " + tmp.path + "/x.csv", audio + ": an audio 'dit' model, expected a toy 'mlp' model"},
           {"sample audio --checkpoint " + models + "/fashion-mnist/vae.safetensors --out " + tmp.path + "/x.wav",
            "vae.safetensors: an image 'vae' model, expected an audio 'dit' model"},
           {"sample molecule --checkpoint " + audio + " --out " + tmp.path + "/x.sdf", audio + ": an audio 'dit' model, expected a molecule 'graph-dit' model"},
           {"eval audio " + models + "/fashion-mnist/dit.safetensors", "dit.safetensors: an image 'dit' model, expected an audio 'dit' model"},
           {"train image --resume " + audio + " --steps 1 --out " + tmp.path + "/r", audio + ": an audio 'dit' model, expected an image 'dit' model"},
       }) {
    const auto r = run(c.args);
    EXPECT_EQ(r.code, 1) << c.args;
    EXPECT_EQ(lines(r.out), 1) << c.args << ": " << r.out;
    EXPECT_NE(r.out.find(c.expected), std::string::npos) << c.args << ": " << r.out;
  }
}

TEST(Cli, TrainDataIsHonouredOrRefusedNeverIgnored) {
  const diffuse::test::TempDir tmp("cli_train_data");
  for (const std::string m : {"toy", "classifier", "video-decoder"}) {
    const auto r = run("train " + m + " --data " + tmp.path + " --steps 1 --out " + tmp.path + "/run");
    EXPECT_EQ(r.code, 1) << m;
    EXPECT_EQ(lines(r.out), 1) << m << ": " << r.out;
    EXPECT_NE(r.out.find("--data: not an option of train " + m), std::string::npos) << r.out;
  }
  if (!diffuse::test::has_modality("molecule")) return;
  const auto r = run("train molecule --data " + tmp.path + "/none.sdf --steps 1 --out " + tmp.path + "/run");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("--data " + tmp.path + "/none.sdf: no such file or folder"), std::string::npos) << r.out;
  EXPECT_FALSE(std::filesystem::exists(tmp.path + "/run"));
}

}  // namespace

namespace {

// A reference file with one run edited by `edit`, written under `dir`.
std::string edited_reference(const std::string& dir, const std::function<void(diffuse::Json& run)>& edit) {
  auto j = diffuse::read_json_file(std::string(DIFFUSE_REFERENCE_DIR) + "/traj_kdiffusion_d2_n10.json");
  auto& runs = j.at("runs");
  for (auto it = runs.begin(); it != runs.end();) it = std::next(it) == runs.end() ? std::next(it) : runs.erase(it);  // keep the last run
  edit(runs.begin().value());
  const std::string path = dir + "/edited.json";
  std::ofstream(path) << j.dump();
  return path;
}

TEST(Cli, CheckReferenceNamesTheRunAndFieldOfAMalformedFile) {
  if (!std::filesystem::exists(std::string(DIFFUSE_REFERENCE_DIR) + "/traj_kdiffusion_d2_n10.json")) GTEST_SKIP() << "no shared/reference";
  const diffuse::test::TempDir tmp("cli_reference");
  struct Case {
    std::function<void(diffuse::Json&)> edit;
    std::string expected;
  };
  for (const Case& c : std::vector<Case>{
           {[](diffuse::Json& r) { r["x_init"][0][1] = "1.5"; }, "x_init: expected a number or a non-empty array of numbers, got string"},
           {[](diffuse::Json& r) { r["x_init"] = 3.0; }, "trajectory: expected states of x_init's shape ()"},
           {[](diffuse::Json& r) { r["x_init"] = diffuse::Json::object(); }, "x_init: expected a number or a non-empty array of numbers, got object"},
           {[](diffuse::Json& r) { r["x_init"][0] = {1.0}; }, "x_init: a ragged array"},
           {[](diffuse::Json& r) { r["trajectory"].erase(r["trajectory"].size() - 1); }, "ran 10 steps, recorded 9"},
           {[](diffuse::Json& r) { r["sigmas"][2] = "abc"; }, "expected numbers (or \"inf\", \"-inf\") in an array, got \"abc\""},
           {[](diffuse::Json& r) { r.erase("x_init"); }, "key 'x_init' not found"},
       }) {
    const auto path = edited_reference(tmp.path, c.edit);
    const auto r = run("check-reference " + path);
    EXPECT_EQ(r.code, 1) << c.expected << ": " << r.out;
    EXPECT_LE(lines(r.out), 4) << r.out;  // the table's header, at most the failed row and the summary, the error
    EXPECT_NE(r.out.find(c.expected), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("Exception raised"), std::string::npos) << r.out;  // no libtorch stack trace
  }
  auto j = diffuse::read_json_file(std::string(DIFFUSE_REFERENCE_DIR) + "/traj_kdiffusion_d2_n10.json");
  j["runs"] = diffuse::Json::object();
  std::ofstream(tmp.path + "/empty.json") << j.dump();
  const auto r = run("check-reference " + tmp.path + "/empty.json");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("empty.json: 'runs' holds no runs"), std::string::npos) << r.out;
}

TEST(Cli, AbsurdOptionValuesAreRefusedNamingTheOptionAndTheLimit) {
  const diffuse::test::TempDir tmp("cli_absurd");
  const std::string toy = tmp.path + "/toy";
  ASSERT_EQ(run("--threads 1 train toy --steps 5 --batch 16 --out " + toy).code, 0);
  const std::string ck = toy + "/checkpoint.safetensors", out = " --out " + tmp.path + "/p.csv";
  struct Case {
    std::string args, expected;
  };
  for (const Case& c : std::vector<Case>{
           {"--threads 10000 info", "--threads 10000: at most "},
           {"sample toy --checkpoint " + ck + " --n 0" + out, "--n: expected a sample count from 1 to 10000000, got '0'"},
           {"sample toy --checkpoint " + ck + " --n 2000000000" + out, "--n: expected a sample count from 1 to 10000000, got '2000000000'"},
           {"sample toy --checkpoint " + ck + " --eta nan" + out, "--eta: expected a number in [0, 100], got 'nan'"},
           {"sample toy --checkpoint " + ck + " --eta -3" + out, "--eta: expected a number in [0, 100], got '-3'"},
           {"sample toy --checkpoint " + ck + " --seed -1" + out, "--seed: expected an integer from 0 to 18446744073709551615, got '-1'"},
           {"sample toy --checkpoint " + ck + " --cfg 1e308" + out, "--cfg: expected a guidance scale in [0, 100], got '1e308'"},
           {"sample toy --checkpoint " + ck + " --out " + tmp.path + "/t.png", "toy samples are written as CSV; expected a .csv file"},
           {"sample toy --checkpoint " + ck + " --out " + tmp.path + "/no/such/p.csv", "p.csv: no folder " + tmp.path + "/no/such to write into"},
           {"sample image --n 2 --out " + tmp.path + "/x.bmp", "x.bmp: unsupported image format '.bmp'"},
           {"sample molecule --scaffold '' --out " + tmp.path + "/m.sdf", "--scaffold '': expected a SMILES substructure"},
       }) {
    if ((c.args.rfind("sample image", 0) == 0 && !diffuse::test::has_modality("image")) ||
        (c.args.rfind("sample molecule", 0) == 0 && !diffuse::test::has_modality("molecule"))) {
      continue;
    }
    const auto r = run(c.args);
    EXPECT_NE(r.code, 0) << c.args;
    EXPECT_EQ(lines(r.out), 1) << c.args << ": " << r.out;
    EXPECT_NE(r.out.find(c.expected), std::string::npos) << c.args << ": " << r.out;
  }
  EXPECT_FALSE(std::filesystem::exists(tmp.path + "/p.csv"));
  EXPECT_FALSE(std::filesystem::exists(tmp.path + "/t.png"));
  // A DiT config far past any real one is refused before anything is counted or built.
  std::ofstream(tmp.path + "/huge.json") << R"({"input_size": [32, 32], "patch": [2, 2], "in_channels": 4, "hidden": 384, "depth": 1000000000000, "heads": 6})";
  auto r = run("model info " + tmp.path + "/huge.json");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("depth 1000000000000 is above the limit of 65536"), std::string::npos) << r.out;
}

TEST(Cli, EvalToyRefusesLabelsThatAreNotClasses) {
  const diffuse::test::TempDir tmp("cli_toy_labels");
  for (const std::string label : {"99", "0.5", "-2", "x"}) {
    std::ofstream(tmp.path + "/p.csv") << "x,y,label\n0.1,0.2,1\n0.3,0.4," << label << "\n";
    const auto r = run("eval toy " + tmp.path + "/p.csv");
    EXPECT_EQ(r.code, 1) << label;
    EXPECT_EQ(lines(r.out), 1) << label << ": " << r.out;
    EXPECT_NE(r.out.find("p.csv: line 3: "), std::string::npos) << label << ": " << r.out;
  }
}

TEST(Cli, NanWeightsAreNamedWithTheFileAndTensor) {
  const diffuse::test::TempDir tmp("cli_nan");
  ASSERT_EQ(run("--threads 1 train toy --steps 2 --batch 16 --out " + tmp.path + "/toy").code, 0);
  auto ck = diffuse::load_checkpoint(tmp.path + "/toy/checkpoint.safetensors");
  auto& w = ck.ema.begin()->second;
  w.view(-1)[0] = std::nan("");
  diffuse::save_checkpoint(tmp.path + "/nan.safetensors", ck, false);
  const auto r = run("sample toy --checkpoint " + tmp.path + "/nan.safetensors --n 5 --out " + tmp.path + "/p.csv");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_EQ(lines(r.out), 1) << r.out;
  EXPECT_NE(r.out.find("nan.safetensors: tensor '" + ck.ema.begin()->first + "' holds NaN or Inf values"), std::string::npos) << r.out;
}

// A file-size limit stands in for a full disk: the write fails, the old file is kept byte for
// byte, no temporary file is left, and the exit code is non-zero.
TEST(Cli, AFullDiskLosesNothingAndLeavesNoTemporaryFile) {
  const diffuse::test::TempDir tmp("cli_full_disk");
  ASSERT_EQ(run("--threads 1 train toy --steps 2 --batch 16 --out " + tmp.path + "/toy").code, 0);
  const std::string models = std::string(DIFFUSE_SOURCE_DIR) + "/models";
  struct Case {
    std::string file, args;
  };
  for (const Case& c : std::vector<Case>{
           {"p.csv", "sample toy --checkpoint " + tmp.path + "/toy/checkpoint.safetensors --n 5000"},
           {"g.png", "sample image --n 4 --steps 1 --grid --columns 2 --scale 4"},
           {"a.wav", "sample audio --n 1 --steps 1 --label 3"},
       }) {
    if ((c.file == "g.png" && !diffuse::test::has_modality("image")) || (c.file == "a.wav" && !diffuse::test::has_modality("audio"))) continue;
    const std::string path = tmp.path + "/" + c.file;
    { std::ofstream(path) << "the old file"; }
    // dash's and bash's ulimit -f count 512- and 1024-byte blocks: 2 blocks hold at most 2 KB.
    const auto r = diffuse::test::run_shell("ulimit -f 2; " + std::string(DIFFUSE_BINARY_DIR) + "/apps/diffuse " + c.args + " --force --out " + path);
    EXPECT_NE(r.code, 0) << c.args << ": " << r.out;
    EXPECT_NE(r.out.find(path + ": "), std::string::npos) << c.args << ": " << r.out;
    EXPECT_EQ(diffuse::read_file(path), "the old file") << c.args;
    int64_t files = 0;
    for (const auto& e : std::filesystem::directory_iterator(tmp.path)) files += e.path().filename().string().find(".tmp-") != std::string::npos;
    EXPECT_EQ(files, 0) << c.args << ": a temporary file was left";
  }
  // A temporary file that an interrupted run left (its process is gone) is removed by the next
  // write of the same file; one of a live process is left alone.
  { std::ofstream(tmp.path + "/.p.tmp-999999999.csv") << "partial"; }
  { std::ofstream(tmp.path + "/.p.tmp-1.csv") << "init's"; }
  const auto r = run("sample toy --checkpoint " + tmp.path + "/toy/checkpoint.safetensors --n 5 --force --out " + tmp.path + "/p.csv");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_FALSE(std::filesystem::exists(tmp.path + "/.p.tmp-999999999.csv"));
  EXPECT_TRUE(std::filesystem::exists(tmp.path + "/.p.tmp-1.csv"));
}

}  // namespace

namespace {

TEST(Cli, TrainingIsAFunctionOfItsSeedAcrossProcesses) {
  const diffuse::test::TempDir tmp("cli_train_seed");
  for (const char* run_dir : {"/a", "/b", "/c"}) {
    const std::string seed = std::string(run_dir) == "/c" ? "1" : "0";
    ASSERT_EQ(run("--threads 1 train toy --steps 3 --batch 16 --seed " + seed + " --out " + tmp.path + run_dir).code, 0);
  }
  const auto a = diffuse::load_checkpoint(tmp.path + "/a/checkpoint.safetensors");
  const auto b = diffuse::load_checkpoint(tmp.path + "/b/checkpoint.safetensors");
  const auto c = diffuse::load_checkpoint(tmp.path + "/c/checkpoint.safetensors");
  bool all_equal = true, any_other = false;
  for (const auto& [name, t] : a.model) {
    all_equal = all_equal && torch::equal(t, b.model.at(name));
    any_other = any_other || !torch::equal(t, c.model.at(name));
  }
  EXPECT_TRUE(all_equal) << "the same seed in two processes gave different weights";
  EXPECT_TRUE(any_other) << "another seed gave the same weights";
}

}  // namespace

namespace {

TEST(Cli, ModelExportRefusesTensorsThatDoNotFitTheRecipesModel) {
  const diffuse::test::TempDir tmp("cli_export");
  ASSERT_EQ(run("--threads 1 train toy --steps 2 --batch 16 --out " + tmp.path + "/toy").code, 0);
  auto ck = diffuse::load_checkpoint(tmp.path + "/toy/checkpoint.safetensors");
  ASSERT_EQ(run("model export " + tmp.path + "/toy/checkpoint.safetensors " + tmp.path + "/good.safetensors").code, 0);
  // --dtype bf16: the parameters rounded to bf16, loaded back as fp32 by every command.
  ASSERT_EQ(run("model export " + tmp.path + "/toy/checkpoint.safetensors " + tmp.path + "/half.safetensors --dtype bf16").code, 0);
  {
    const auto full = diffuse::load_checkpoint(tmp.path + "/good.safetensors");
    const auto half = diffuse::load_checkpoint(tmp.path + "/half.safetensors");
    EXPECT_EQ(half.recipe.at("exported").at("dtype"), "bf16");
    ASSERT_EQ(half.model.size(), full.model.size());
    for (const auto& [k, v] : half.model) {
      EXPECT_EQ(v.scalar_type(), torch::kBFloat16) << k;
      EXPECT_TRUE(torch::equal(v, full.model.at(k).to(torch::kBFloat16))) << k;
    }
    EXPECT_LT(std::filesystem::file_size(tmp.path + "/half.safetensors"), std::filesystem::file_size(tmp.path + "/good.safetensors"));
  }
  for (const char* f : {"good", "half"}) {
    const std::string ckf = tmp.path + "/" + f + ".safetensors";
    ASSERT_EQ(run("sample toy --checkpoint " + ckf + " --n 64 --steps 5 --out " + tmp.path + "/" + f + ".csv").code, 0) << f;
  }
  {
    const auto& toy = diffuse::find_modality("toy");  // its own CSV reader, as `eval toy` reads them
    const auto a = toy.load(tmp.path + "/good.csv").x, b = toy.load(tmp.path + "/half.csv").x;
    ASSERT_EQ(a.sizes(), b.sizes());
    ASSERT_GT(a.numel(), 0);
    const double worst = (a - b).abs().max().item<double>();
    EXPECT_GT(worst, 0.0);   // the weights did change
    EXPECT_LT(worst, 0.05);  // and the samples from the same seed barely did
  }
  const std::string name = ck.model.begin()->first;
  ck.model.begin()->second = torch::zeros({3, 5});
  diffuse::save_checkpoint(tmp.path + "/bad.safetensors", ck, false);
  auto r = run("model export " + tmp.path + "/bad.safetensors " + tmp.path + "/out.safetensors");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_EQ(lines(r.out), 1) << r.out;
  EXPECT_NE(r.out.find("bad.safetensors: tensor '" + name + "' has shape [3, 5] in the checkpoint"), std::string::npos) << r.out;
  EXPECT_FALSE(std::filesystem::exists(tmp.path + "/out.safetensors"));
  ck.recipe["model"]["type"] = "sculpture";
  diffuse::save_checkpoint(tmp.path + "/odd.safetensors", ck, false);
  r = run("model export " + tmp.path + "/odd.safetensors " + tmp.path + "/out.safetensors");
  EXPECT_NE(r.out.find("odd.safetensors: model type 'sculpture' is not one this build knows"), std::string::npos) << r.out;
}

// `model export --cfg` gives a model its own guidance scale: sample (and eval) use it unless told
// --cfg, which still wins. Refused for a model that does not sample, and out of range.
TEST(Cli, ModelExportCfgBecomesTheModelsDefaultGuidanceScale) {
  const diffuse::test::TempDir tmp("cli_export_cfg");
  ASSERT_EQ(run("--threads 1 train toy --steps 2 --batch 16 --out " + tmp.path + "/toy").code, 0);
  const std::string ck = tmp.path + "/toy/checkpoint.safetensors";
  ASSERT_EQ(run("model export " + ck + " " + tmp.path + "/plain.safetensors").code, 0);
  ASSERT_EQ(run("model export " + ck + " " + tmp.path + "/cfg2.safetensors --cfg 2").code, 0);
  EXPECT_EQ(diffuse::load_checkpoint(tmp.path + "/cfg2.safetensors").recipe.at("sampling").at("cfg"), 2.0);
  const auto& toy = diffuse::find_modality("toy");
  auto draw = [&](const std::string& model, const std::string& cfg, const std::string& name) {
    const std::string out = tmp.path + "/" + name + ".csv";
    const auto r = run("sample toy --checkpoint " + tmp.path + "/" + model + ".safetensors --label c1 --n 64 --steps 5 " + cfg + " --out " + out);
    EXPECT_EQ(r.code, 0) << r.out;
    return toy.load(out).x;
  };
  const auto told = draw("plain", "--cfg 2", "told"), own = draw("cfg2", "", "own"), pipeline = draw("plain", "", "pipeline");
  const auto overridden = draw("cfg2", "--cfg 1", "overridden");
  EXPECT_TRUE(torch::equal(told, own)) << "the model's own scale was not used";
  EXPECT_FALSE(torch::equal(own, pipeline)) << "the scale made no difference";
  EXPECT_TRUE(torch::equal(overridden, pipeline)) << "--cfg did not override the model's scale (toy's default is 1)";
  auto r = run("model export " + ck + " " + tmp.path + "/x.safetensors --cfg 200");
  EXPECT_NE(r.out.find("--cfg: expected a guidance scale in [0, 100], got '200'"), std::string::npos) << r.out;
  auto c = diffuse::load_checkpoint(ck);
  c.recipe.erase("sampling");
  diffuse::save_checkpoint(tmp.path + "/plain-recipe.safetensors", c, false);
  r = run("model export " + tmp.path + "/plain-recipe.safetensors " + tmp.path + "/x.safetensors --cfg 2");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_EQ(lines(r.out), 1) << r.out;
  EXPECT_NE(r.out.find("--cfg: " + tmp.path + "/plain-recipe.safetensors is not a diffusion model (its recipe has no sampling settings)"), std::string::npos) << r.out;
  EXPECT_FALSE(std::filesystem::exists(tmp.path + "/x.safetensors"));
}

}  // namespace

namespace {

// An edited schedule, step count or initial noise no longer passes: the record is checked
// against itself and against diffuse's schedules before the states are compared.
TEST(Cli, CheckReferenceFailsARunWhoseScheduleOrNoiseWasEdited) {
  const std::string source = std::string(DIFFUSE_REFERENCE_DIR) + "/traj_diffusers_d2_n10.json";
  if (!std::filesystem::exists(source)) GTEST_SKIP() << "no shared/reference";
  const diffuse::test::TempDir tmp("cli_reference_edits");
  struct Case {
    std::string run;
    std::function<void(diffuse::Json&)> edit;
    std::string expected;
  };
  for (const Case& c : std::vector<Case>{
           {"ddim_eta0", [](diffuse::Json& r) { r["timesteps"][3] = 650.0; }, "timesteps differ from diffuse's for this config at index 3"},
           {"ddim_eta0_trailing", [](diffuse::Json& r) { r["set_timesteps"]["num_inference_steps"] = 12; }, "set_timesteps asks for 12 steps, the run records 10"},
           {"euler", [](diffuse::Json& r) { r["resolved_config"]["beta_schedule"] = "linear"; }, "scheduler_sigmas differ from diffuse's for this config"},
           {"dpmpp_2m", [](diffuse::Json& r) { r["x_init"][0][0] = r["x_init"][0][0].get<double>() + 0.5; }, "x_init is not the file's noise"},
       }) {
    auto j = diffuse::read_json_file(source);
    auto kept = j["runs"][c.run];
    c.edit(kept);
    j["runs"] = {{c.run, kept}};
    const std::string path = tmp.path + "/edited.json";
    std::ofstream(path) << j.dump();
    const auto r = run("check-reference " + path);
    EXPECT_EQ(r.code, 1) << c.run << ": " << r.out;
    EXPECT_NE(r.out.find("fail  (" + c.expected), std::string::npos) << c.run << ": " << r.out;
  }
}

}  // namespace
