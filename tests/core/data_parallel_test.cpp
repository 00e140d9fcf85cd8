// Data-parallel training through the trainer's gradient-sync hook: W ranks with their shares of
// each global batch end with the weights of one process training on that batch (reduction order
// aside), over an in-process all-reduce and over c10d's Gloo; a rendezvous that never completes
// ends with one line (a lost rank: tests/apps/cli_dp_test.cpp, with real processes); the launcher's environment is read as torchrun and Slurm set it.
#include <torch/torch.h>

#include <unistd.h>

#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>

#include "core/modality.h"
#include "core/toy.h"
#include "core/train/distributed.h"
#include "core/train/trainer.h"
#include "tests/apps/cli_util.h"
#include "tests/core/test_util.h"

namespace diffuse {
namespace {

using test::expect_throw_containing;
using test::free_port;

// An all-reduce between threads: each deposits its tensor, all sum them in rank order.
class ThreadGroup {
 public:
  explicit ThreadGroup(int world) : world_(world), slots_(size_t(world)) {}
  void all_reduce(int rank, torch::Tensor& t) {
    slots_[size_t(rank)] = t.clone();
    wait();
    auto total = slots_[0].clone();
    for (int r = 1; r < world_; ++r) total += slots_[size_t(r)];
    wait();
    t.copy_(total);
  }
  void broadcast(int rank, torch::Tensor& t) {
    if (rank == 0) slots_[0] = t.clone();
    wait();
    if (rank != 0) t.copy_(slots_[0]);
    wait();
  }
  void wait() {
    std::unique_lock<std::mutex> lock(m_);
    const int64_t gen = generation_;
    if (++arrived_ == world_) {
      arrived_ = 0;
      ++generation_;
      cv_.notify_all();
    } else {
      cv_.wait(lock, [&] { return generation_ != gen; });
    }
  }

 private:
  int world_;
  std::vector<torch::Tensor> slots_;
  std::mutex m_;
  std::condition_variable cv_;
  int arrived_ = 0;
  int64_t generation_ = 0;
};

class ThreadSync : public GradSync {
 public:
  ThreadSync(std::shared_ptr<ThreadGroup> g, int rank, int world) : g_(std::move(g)), rank_(rank), world_(world) {}
  int64_t rank() const override { return rank_; }
  int64_t world() const override { return world_; }
  void average(std::vector<torch::Tensor>& grads, int64_t) override {
    average_in_buckets(grads, world_, [&](torch::Tensor& b) { g_->all_reduce(rank_, b); }, 4096);  // small buckets: several
  }
  void sum(torch::Tensor& values, int64_t) override { g_->all_reduce(rank_, values); }
  void broadcast(std::vector<torch::Tensor>& ts) override {
    for (auto& t : ts) g_->broadcast(rank_, t);
  }
  void barrier(int64_t) override { g_->wait(); }

 private:
  std::shared_ptr<ThreadGroup> g_;
  int rank_, world_;
};

TrainOptions options() {
  TrainOptions o;
  o.steps = 40;
  o.batch = 64;  // the global batch
  o.warmup = 5;
  o.lr = 2e-3;
  o.ema_decay = 0.9;
  o.null_label = 4;
  o.log_every = 10;
  return o;
}

struct RankRun {
  ToyModel model;
  std::unique_ptr<Trainer> trainer;
};

// Models are built here, on the calling thread: the initial weights come from libtorch's default
// generator, which threads would race on. Rank 1 starts from other weights on purpose: the
// trainer's broadcast must replace them with rank 0's.
RankRun make_rank_run(const TrainOptions& o, uint64_t init_seed) {
  torch::manual_seed(init_seed);
  RankRun r;
  r.model = make_toy_model(default_toy_recipe());
  r.trainer = std::make_unique<Trainer>(r.model.net.ptr(), toy_forward(r.model), r.model.recipe, o, r.model.objective);
  return r;
}

double max_weight_difference(const Trainer& a, const Trainer& b) {
  const auto ca = a.checkpoint(), cb = b.checkpoint();
  double worst = 0;
  for (const auto& [name, t] : ca.model) worst = std::max(worst, (t - cb.model.at(name)).abs().max().item<double>());
  for (const auto& [name, t] : ca.ema) worst = std::max(worst, (t - cb.ema.at(name)).abs().max().item<double>());
  return worst;
}

// Runs each rank's trainer on a thread of its own; rethrows the first error.
void run_ranks(std::vector<RankRun>& ranks, const TrainData& data) {
  std::vector<std::thread> threads;
  std::vector<std::string> errors(ranks.size());
  for (size_t r = 0; r < ranks.size(); ++r) {
    threads.emplace_back([&, r] {
      try {
        ranks[r].trainer->run(data);
      } catch (const std::exception& e) {
        errors[r] = e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& e : errors) if (!e.empty()) throw std::runtime_error(e);
}

TEST(DataParallel, TwoRanksMatchOneProcessWithTheSameGlobalBatch) {
  const int threads = torch::get_num_threads();
  torch::set_num_threads(1);
  const auto data = find_modality("toy").dataset({{"n", 700}, {"seed", 3}});
  auto one = make_rank_run(options(), 7);
  one.trainer->run(data);
  for (const int world : {2, 4}) {
    auto group = std::make_shared<ThreadGroup>(world);
    std::vector<RankRun> ranks;
    for (int r = 0; r < world; ++r) {
      ranks.push_back(make_rank_run(options(), 7 + uint64_t(r) * 100));
      ranks.back().trainer->set_grad_sync(std::make_shared<ThreadSync>(group, r, world));
    }
    run_ranks(ranks, data);
    for (int r = 0; r < world; ++r) {
      EXPECT_LE(max_weight_difference(*one.trainer, *ranks[size_t(r)].trainer), 1e-4) << "world " << world << " rank " << r;
      EXPECT_EQ(ranks[size_t(r)].trainer->step(), 40);
    }
    // The ranks agree exactly with each other (same all-reduced gradients, same updates).
    EXPECT_EQ(max_weight_difference(*ranks[0].trainer, *ranks[size_t(world - 1)].trainer), 0.0);
    // Each rank's loss is over its own items, and their mean is the one process's loss.
    double mean_last = 0;
    for (auto& r : ranks) mean_last += r.trainer->losses().back() / world;
    EXPECT_NEAR(mean_last, one.trainer->losses().back(), 1e-4);
    EXPECT_NE(ranks[0].trainer->losses().back(), ranks[1].trainer->losses().back());
  }
  torch::set_num_threads(threads);
}

std::vector<RankRun> thread_ranks(int world, const TrainOptions& o) {
  auto group = std::make_shared<ThreadGroup>(world);
  std::vector<RankRun> ranks;
  for (int r = 0; r < world; ++r) {
    ranks.push_back(make_rank_run(o, 7));
    ranks.back().trainer->set_grad_sync(std::make_shared<ThreadSync>(group, r, world));
  }
  return ranks;
}

// A 2-rank checkpoint resumes bit-identically on 2 ranks, and on 1 process to the same weights
// within the reduction-order tolerance.
TEST(DataParallel, ResumeWithTheSameOrAnotherWorldSize) {
  const int threads = torch::get_num_threads();
  torch::set_num_threads(1);
  const auto data = find_modality("toy").dataset({{"n", 700}, {"seed", 3}});
  auto straight = thread_ranks(2, options());
  run_ranks(straight, data);

  auto o = options();
  o.steps = 40;
  auto first = thread_ranks(2, o);
  std::vector<std::thread> ts;
  for (auto& r : first) ts.emplace_back([&r, &data] { r.trainer->run(data, 20); });
  for (auto& t : ts) t.join();
  const auto dir = std::filesystem::temp_directory_path() / ("diffuse_dp_resume_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string ck = (dir / "checkpoint.safetensors").string();
  first[1].trainer->save(ck, true);
  EXPECT_FALSE(std::filesystem::exists(ck)) << "rank 1 does not write";
  first[0].trainer->save(ck, true);
  ASSERT_TRUE(std::filesystem::exists(ck));

  auto again = thread_ranks(2, o);
  for (auto& r : again) r.trainer->resume(ck);
  run_ranks(again, data);
  EXPECT_EQ(max_weight_difference(*straight[0].trainer, *again[0].trainer), 0.0);
  EXPECT_EQ(straight[1].trainer->losses().back(), again[1].trainer->losses().back());

  auto alone = make_rank_run(o, 7);
  alone.trainer->resume(ck);
  alone.trainer->run(data);
  EXPECT_LE(max_weight_difference(*straight[0].trainer, *alone.trainer), 1e-4);
  std::filesystem::remove_all(dir);
  torch::set_num_threads(threads);
}

TEST(DataParallel, GlobalBatchMustSplitEvenly) {
  auto o = options();
  o.batch = 63;
  auto group = std::make_shared<ThreadGroup>(2);
  auto run = make_rank_run(o, 7);
  run.trainer->set_grad_sync(std::make_shared<ThreadSync>(group, 0, 2));
  const auto data = find_modality("toy").dataset({{"n", 100}, {"seed", 3}});
  expect_throw_containing([&] { run.trainer->run(data); }, "--batch 63: the global batch must split evenly over the 2 ranks");
}

TEST(DataParallel, BucketsAverageEveryGradient) {
  std::vector<torch::Tensor> grads = {torch::arange(6, torch::kFloat32).reshape({2, 3}), torch::Tensor(), torch::ones({5}),
                                      torch::full({3}, 2.0, torch::kFloat64)};
  int calls = 0;
  average_in_buckets(grads, 2, [&](torch::Tensor& b) { ++calls; b.mul_(2.0).add_(1.0); }, 16);  // "the other rank" adds 1
  EXPECT_EQ(calls, 3);  // 24 bytes, then 20 bytes, then the float64 one
  EXPECT_TRUE(torch::allclose(grads[0], (torch::arange(6, torch::kFloat32).reshape({2, 3}) * 2 + 1) / 2));
  EXPECT_FALSE(grads[1].defined());
  EXPECT_TRUE(torch::allclose(grads[2], torch::full({5}, 1.5)));
  EXPECT_TRUE(torch::allclose(grads[3], torch::full({3}, 2.5, torch::kFloat64)));
}

TEST(DataParallel, LaunchEnvironment) {
  EXPECT_EQ(launch_env_from({}).world, 1);
  EXPECT_EQ(launch_env_from({}).launcher, "");
  const auto t = launch_env_from({{"RANK", "1"}, {"WORLD_SIZE", "4"}, {"LOCAL_RANK", "1"}, {"MASTER_ADDR", "10.0.0.2"}, {"MASTER_PORT", "29511"},
                                  {"TORCHELASTIC_RUN_ID", "x"}});
  EXPECT_EQ(t.launcher, "torchrun");
  EXPECT_EQ(launch_env_from({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}}).launcher, "RANK/WORLD_SIZE");
  EXPECT_EQ(t.rank, 1);
  EXPECT_EQ(t.world, 4);
  EXPECT_EQ(t.local_rank, 1);
  EXPECT_EQ(t.addr, "10.0.0.2");
  EXPECT_EQ(t.port, 29511);
  const auto s = launch_env_from({{"SLURM_PROCID", "5"}, {"SLURM_NTASKS", "8"}, {"SLURM_LOCALID", "1"}, {"SLURM_JOB_NODELIST", "gpu[07-08]"}});
  EXPECT_EQ(s.launcher, "slurm");
  EXPECT_EQ(s.rank, 5);
  EXPECT_EQ(s.world, 8);
  EXPECT_EQ(s.local_rank, 1);
  EXPECT_EQ(s.addr, "gpu07");
  EXPECT_EQ(s.port, 29500);
  EXPECT_EQ(first_slurm_host("node[3,5-9]"), "node3");
  EXPECT_EQ(first_slurm_host("a1,b2"), "a1");
  EXPECT_EQ(first_slurm_host("single"), "single");
  expect_throw_containing([] { launch_env_from({{"RANK", "2"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "x"}}); }, "RANK=2: expected an integer in [0, 1]");
  expect_throw_containing([] { launch_env_from({{"RANK", "0"}, {"WORLD_SIZE", "two"}}); }, "WORLD_SIZE=two: expected an integer");
  expect_throw_containing([] { launch_env_from({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "70000"}}); },
                          "MASTER_PORT=70000: expected an integer in [1, 65535]");
  expect_throw_containing([] { launch_env_from({{"WORLD_SIZE", "2"}}); }, "WORLD_SIZE=2 without RANK");
  expect_throw_containing([] { launch_env_from({{"RANK", "0"}, {"WORLD_SIZE", "2"}}); }, "without MASTER_ADDR");
}

LaunchEnv local_env(int rank, int world, int port) {
  LaunchEnv e;
  e.rank = rank;
  e.world = world;
  e.port = port;
  e.launcher = "test";
  return e;
}

// Both ranks join a Gloo process group on 127.0.0.1 (threads of this process, as c10d's own
// tests do); returns their syncs, or the errors.
std::vector<std::shared_ptr<GradSync>> join_gloo(int world, std::chrono::milliseconds timeout) {
  const int port = free_port();
  std::vector<std::shared_ptr<GradSync>> syncs{size_t(world)};
  std::vector<std::string> errors{size_t(world)};
  std::vector<std::thread> threads;
  for (int r = 0; r < world; ++r) {
    threads.emplace_back([&, r] {
      try {
        syncs[size_t(r)] = join_process_group(local_env(r, world, port), "gloo", timeout);
      } catch (const std::exception& e) {
        errors[size_t(r)] = e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& e : errors) if (!e.empty()) throw std::runtime_error(e);
  return syncs;
}

TEST(DataParallel, GlooRanksMatchOneProcess) {
  if (!have_dist_backend("gloo")) GTEST_SKIP() << "built without libgloo-dev";
  const int threads = torch::get_num_threads();
  torch::set_num_threads(1);
  const auto data = find_modality("toy").dataset({{"n", 700}, {"seed", 3}});
  auto one = make_rank_run(options(), 7);
  one.trainer->run(data);
  const auto syncs = join_gloo(2, std::chrono::seconds(30));
  EXPECT_EQ(syncs[1]->rank(), 1);
  EXPECT_EQ(syncs[1]->world(), 2);
  std::vector<RankRun> ranks;
  for (int r = 0; r < 2; ++r) {
    ranks.push_back(make_rank_run(options(), 7 + uint64_t(r) * 100));
    ranks.back().trainer->set_grad_sync(syncs[size_t(r)]);
  }
  run_ranks(ranks, data);
  EXPECT_LE(max_weight_difference(*one.trainer, *ranks[0].trainer), 1e-4);
  EXPECT_EQ(max_weight_difference(*ranks[0].trainer, *ranks[1].trainer), 0.0);
  torch::set_num_threads(threads);
}

TEST(DataParallel, GlooRendezvousThatNeverCompletesIsOneLine) {
  if (!have_dist_backend("gloo")) GTEST_SKIP() << "built without libgloo-dev";
  const int port = free_port();
  // Rank 0 waits for a world of 2 that never comes.
  expect_throw_containing([&] { join_process_group(local_env(0, 2, port), "gloo", std::chrono::seconds(2)); },
                          "rank 0 of WORLD_SIZE 2: only 1 of 2 ranks joined within 2 s (is WORLD_SIZE right?");
  // Rank 1 finds nobody at the port.
  expect_throw_containing([&] { join_process_group(local_env(1, 2, free_port()), "gloo", std::chrono::seconds(2)); },
                          "rank 1 of WORLD_SIZE 2 found no rank 0 there within 2 s (is MASTER_PORT right?)");
  expect_throw_containing([&] { join_process_group(local_env(1, 2, port), "nccl", std::chrono::seconds(2)); }, "--dist-backend nccl: this build has");
}

}  // namespace
}  // namespace diffuse
