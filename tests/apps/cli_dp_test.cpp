// Data-parallel training through the diffuse program (label: slow): 2 Gloo ranks on 127.0.0.1
// launched by torchrun and by plain environment variables train the toy model and the image DiT
// to the weights of one process with the same global batch; one checkpoint and one log are
// written; a killed rank, a wrong MASTER_PORT and a wrong WORLD_SIZE end with one line.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/train/checkpoint.h"
#include "tests/apps/cli_util.h"

namespace {

using diffuse::test::run;
using diffuse::test::run_shell;
using diffuse::test::TempDir;

const std::string kDiffuse = std::string(DIFFUSE_BINARY_DIR) + "/apps/diffuse";

bool have_gloo() {
  static const bool yes = run("info --json --gemm-size 64").out.find("\"data_parallel\": \"gloo") != std::string::npos;
  return yes;
}
bool have_torchrun() { return run_shell("command -v torchrun").code == 0; }

double max_difference(const std::string& a, const std::string& b) {
  const auto ca = diffuse::load_checkpoint(a), cb = diffuse::load_checkpoint(b);
  double worst = 0;
  for (const auto& [name, t] : ca.model) worst = std::max(worst, (t - cb.model.at(name)).abs().max().item<double>());
  for (const auto& [name, t] : ca.ema) worst = std::max(worst, (t - cb.ema.at(name)).abs().max().item<double>());
  return worst;
}

// The files of a run folder: exactly the checkpoint and the log.
std::vector<std::string> files_in(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

int log_lines(const std::string& path) {
  std::ifstream in(path);
  int n = 0;
  for (std::string line; std::getline(in, line);) ++n;
  return n;
}

// Two ranks started by hand, as a launcher would, each with its own environment.
std::string env_ranks(int port, const std::string& args, int world_on_rank1 = 2) {
  const std::string common = "MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(port) + " ";
  return "(" + common + "RANK=0 WORLD_SIZE=2 LOCAL_RANK=0 " + kDiffuse + " " + args + " > $D/rank0.txt 2>&1; echo $? > $D/rank0.rc) & " +
         "(" + common + "RANK=1 WORLD_SIZE=" + std::to_string(world_on_rank1) + " LOCAL_RANK=1 " + kDiffuse + " " + args +
         " > $D/rank1.txt 2>&1; echo $? > $D/rank1.rc) & wait";
}

std::string read(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(CliDataParallel, TorchrunToyMatchesOneProcess) {
  if (!have_gloo() || !have_torchrun()) GTEST_SKIP() << "needs libgloo-dev at build time and torchrun (python3-torch)";
  const TempDir tmp("cli_dp_toy");
  const std::string args = "train toy --steps 40 --batch 64 --data-n 700 --seed 3 --log-every 10";
  auto r = run(args + " --out " + tmp.path + "/one");
  ASSERT_EQ(r.code, 0) << r.out;
  // Debian's torchrun 1.13 on Python 3.11 cannot parse its own default --redirects 0; 1 works.
  r = run_shell("torchrun --redirects 1 --tee 1 --log_dir " + tmp.path + "/torchrun --no_python --standalone --nproc_per_node 2 " + kDiffuse +
                " " + args + " --out " + tmp.path + "/two");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("data-parallel training: 2 ranks (gloo, torchrun"), std::string::npos) << r.out;
  EXPECT_LE(max_difference(tmp.path + "/one/checkpoint.safetensors", tmp.path + "/two/checkpoint.safetensors"), 1e-4);
  EXPECT_EQ(files_in(tmp.path + "/two"), (std::vector<std::string>{"checkpoint.safetensors", "log.jsonl"}));
  EXPECT_EQ(log_lines(tmp.path + "/two/log.jsonl"), 4);  // steps 10, 20, 30, 40, from rank 0 alone
}

TEST(CliDataParallel, TorchrunAndEnvironmentLaunchedImageDiTMatchOneProcess) {
  if (!have_gloo() || !diffuse::test::has_modality("image")) GTEST_SKIP() << "needs libgloo-dev at build time and the image modality";
  const std::string vae = std::string(DIFFUSE_SOURCE_DIR) + "/models/fashion-mnist/vae.safetensors";
  if (!std::ifstream("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz") || !std::ifstream(vae)) {
    GTEST_SKIP() << "needs dataset-fashion-mnist and the shipped VAE";
  }
  const TempDir tmp("cli_dp_image");
  const std::string args = "--threads 1 train image --vae " + vae + " --data-n 256 --steps 40 --batch 32 --checkpoint-every 20 --seed 5";
  auto r = run(args + " --out " + tmp.path + "/one");
  ASSERT_EQ(r.code, 0) << r.out;
  // Two ranks started by hand, as a launcher would.
  r = run_shell("D=" + tmp.path + "; " + env_ranks(diffuse::test::free_port(), args + " --out " + tmp.path + "/two"));
  EXPECT_EQ(read(tmp.path + "/rank0.rc"), "0\n") << read(tmp.path + "/rank0.txt");
  EXPECT_EQ(read(tmp.path + "/rank1.rc"), "0\n") << read(tmp.path + "/rank1.txt");
  EXPECT_NE(read(tmp.path + "/rank0.txt").find("checkpoint: " + tmp.path + "/two/checkpoint.safetensors"), std::string::npos);
  EXPECT_EQ(read(tmp.path + "/rank1.txt").find("checkpoint: "), std::string::npos) << "only rank 0 reports the checkpoint";
  EXPECT_LE(max_difference(tmp.path + "/one/checkpoint.safetensors", tmp.path + "/two/checkpoint.safetensors"), 1e-4);
  EXPECT_EQ(files_in(tmp.path + "/two"), (std::vector<std::string>{"checkpoint.safetensors", "log.jsonl"}));
  // The same through torchrun.
  if (!have_torchrun()) GTEST_SKIP() << "torchrun (python3-torch) not installed";
  r = run_shell("torchrun --redirects 1 --tee 1 --log_dir " + tmp.path + "/torchrun --no_python --standalone --nproc_per_node 2 " + kDiffuse +
                " " + args + " --out " + tmp.path + "/three");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_LE(max_difference(tmp.path + "/one/checkpoint.safetensors", tmp.path + "/three/checkpoint.safetensors"), 1e-4);
  EXPECT_EQ(files_in(tmp.path + "/three"), (std::vector<std::string>{"checkpoint.safetensors", "log.jsonl"}));
}

TEST(CliDataParallel, KilledRankEndsTheOtherWithOneLine) {
  if (!have_gloo()) GTEST_SKIP() << "needs libgloo-dev at build time";
  const TempDir tmp("cli_dp_kill");
  const std::string d = tmp.path, port = std::to_string(diffuse::test::free_port());
  const std::string env = "MASTER_ADDR=127.0.0.1 MASTER_PORT=" + port + " WORLD_SIZE=2 ";
  const std::string args = " --threads 1 train toy --steps 1000000 --dist-timeout 10 --out " + d + "/run";
  const auto t0 = std::chrono::steady_clock::now();
  // Rank 1 is killed once training runs (rank 0 has written its first log line at step 250).
  const auto r = run_shell("D=" + d + "; (" + env + "RANK=0 " + kDiffuse + args + " 2> $D/rank0.txt; echo $? > $D/rank0.rc) & " + env + "RANK=1 " +
                           kDiffuse + args + " 2>/dev/null & p1=$!; for i in $(seq 200); do [ -s $D/run/log.jsonl ] && break; sleep 0.1; done; " +
                           "kill -9 $p1; wait");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_NE(read(d + "/rank0.rc"), "0\n");
  const std::string err = read(d + "/rank0.txt");
  EXPECT_NE(err.find("diffuse: error: data-parallel training (rank 0 of 2) at step"), std::string::npos) << err;
  EXPECT_NE(err.find(": lost rank 1 during "), std::string::npos) << err;
  EXPECT_EQ(diffuse::test::lines(err.substr(err.find("diffuse: error"))), 1) << err;
  EXPECT_LT(seconds, 40.0);
}

TEST(CliDataParallel, WrongPortOrWorldSizeIsOneLine) {
  if (!have_gloo()) GTEST_SKIP() << "needs libgloo-dev at build time";
  const TempDir tmp("cli_dp_wrong");
  const std::string port = std::to_string(diffuse::test::free_port());
  auto r = run_shell("MASTER_ADDR=127.0.0.1 MASTER_PORT=" + port + " RANK=1 WORLD_SIZE=2 " + kDiffuse + " train toy --dist-timeout 2 --out " + tmp.path + "/a");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("diffuse: error: MASTER_ADDR:MASTER_PORT 127.0.0.1:" + port + ": rank 1 of WORLD_SIZE 2 found no rank 0 there within 2 s"),
            std::string::npos) << r.out;
  EXPECT_EQ(diffuse::test::lines(r.out), 1) << r.out;
  r = run_shell("MASTER_ADDR=127.0.0.1 MASTER_PORT=" + port + " RANK=0 WORLD_SIZE=3 " + kDiffuse + " train toy --dist-timeout 2 --out " + tmp.path + "/b");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("rank 0 of WORLD_SIZE 3: only 1 of 3 ranks joined within 2 s (is WORLD_SIZE right?"), std::string::npos) << r.out;
  EXPECT_EQ(diffuse::test::lines(r.out), 1) << r.out;
  EXPECT_FALSE(std::filesystem::exists(tmp.path + "/b"));
  r = run("train toy --dist-backend gloo --out " + tmp.path + "/c");
  EXPECT_NE(r.out.find("--dist-backend gloo: this is one process"), std::string::npos) << r.out;
}

}  // namespace
