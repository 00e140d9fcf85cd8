#include "core/train/distributed.h"

#include <torch/torch.h>

#include <cstdlib>
#include <stdexcept>
#include <thread>

extern char** environ;

#ifdef DIFFUSE_HAVE_GLOO
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif
#ifdef DIFFUSE_HAVE_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace diffuse {
namespace {

int64_t env_int(const std::map<std::string, std::string>& env, const std::string& name, int64_t lo, int64_t hi, int64_t fallback) {
  const auto it = env.find(name);
  if (it == env.end() || it->second.empty()) return fallback;
  size_t used = 0;
  int64_t v = 0;
  try {
    v = std::stoll(it->second, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != it->second.size() || v < lo || v > hi) {
    throw std::invalid_argument(name + "=" + it->second + ": expected an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
  return v;
}

std::string first_line(const std::string& s) {
  const auto end = s.find('\n');
  return end == std::string::npos ? s : s.substr(0, end);
}

std::string error_text(const std::exception& e) {
  if (const auto* c = dynamic_cast<const c10::Error*>(&e)) return first_line(c->what_without_backtrace());
  return first_line(e.what());
}

}  // namespace

std::string first_slurm_host(const std::string& nodelist) {
  const auto comma = nodelist.find(',');
  const auto bracket = nodelist.find('[');
  if (bracket == std::string::npos || (comma != std::string::npos && comma < bracket)) return nodelist.substr(0, comma);
  const auto end = nodelist.find_first_of(",-]", bracket + 1);
  return nodelist.substr(0, bracket) + nodelist.substr(bracket + 1, end == std::string::npos ? std::string::npos : end - bracket - 1);
}

LaunchEnv launch_env_from(const std::map<std::string, std::string>& env) {
  LaunchEnv l;
  const auto has = [&](const char* k) { return env.count(k) && !env.at(k).empty(); };
  std::string rank_var = "RANK", world_var = "WORLD_SIZE";
  if (has("WORLD_SIZE")) {
    l.launcher = has("TORCHELASTIC_RUN_ID") ? "torchrun" : "RANK/WORLD_SIZE";
    l.world = env_int(env, "WORLD_SIZE", 1, 1 << 20, 1);
    l.rank = env_int(env, "RANK", 0, l.world - 1, 0);
    l.local_rank = env_int(env, "LOCAL_RANK", 0, l.world - 1, 0);
    if (!has("RANK")) throw std::invalid_argument("WORLD_SIZE=" + env.at("WORLD_SIZE") + " without RANK: set both (torchrun does)");
  } else if (has("SLURM_NTASKS") && has("SLURM_PROCID")) {
    l.launcher = "slurm";
    rank_var = "SLURM_PROCID";
    world_var = "SLURM_NTASKS";
    l.world = env_int(env, "SLURM_NTASKS", 1, 1 << 20, 1);
    l.rank = env_int(env, "SLURM_PROCID", 0, l.world - 1, 0);
    l.local_rank = env_int(env, "SLURM_LOCALID", 0, l.world - 1, 0);
    if (!has("MASTER_ADDR")) {
      const std::string list = has("SLURM_STEP_NODELIST") ? env.at("SLURM_STEP_NODELIST") : has("SLURM_JOB_NODELIST") ? env.at("SLURM_JOB_NODELIST")
                                                                                                                        : std::string();
      if (!list.empty()) l.addr = first_slurm_host(list);
    }
  } else {
    return l;  // one process
  }
  if (has("MASTER_ADDR")) l.addr = env.at("MASTER_ADDR");
  l.port = int(env_int(env, "MASTER_PORT", 1, 65535, 29500));
  if (l.world > 1 && !has("MASTER_ADDR") && l.launcher != "slurm") {
    throw std::invalid_argument(world_var + "=" + std::to_string(l.world) + " without MASTER_ADDR: set the address of rank 0 (torchrun does)");
  }
  return l;
}

LaunchEnv launch_env() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    const std::string kv = *e;
    const auto eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return launch_env_from(env);
}

bool have_dist_backend(const std::string& backend) {
#ifdef DIFFUSE_HAVE_GLOO
  if (backend == "gloo") return true;
#endif
#ifdef DIFFUSE_HAVE_NCCL
  if (backend == "nccl") return true;
#endif
  return false;
}

std::string dist_backends() {
  std::string s;
  for (const char* b : {"gloo", "nccl"}) if (have_dist_backend(b)) s += std::string(s.empty() ? "" : ", ") + b;
  return s.empty() ? "none" : s;
}

#ifdef DIFFUSE_HAVE_GLOO
namespace {

class ProcessGroupSync : public GradSync {
 public:
  ProcessGroupSync(c10::intrusive_ptr<c10d::Store> store, c10::intrusive_ptr<c10d::ProcessGroup> pg, const LaunchEnv& env,
                   std::string backend, std::chrono::milliseconds timeout)
      : store_(std::move(store)), pg_(std::move(pg)), env_(env), backend_(std::move(backend)), timeout_(timeout) {}
  int64_t rank() const override { return env_.rank; }
  int64_t world() const override { return env_.world; }
  std::string describe() const override {
    return std::to_string(env_.world) + " ranks (" + backend_ + ", " + env_.launcher + ", rendezvous " + env_.addr + ":" + std::to_string(env_.port) + ")";
  }

  void average(std::vector<torch::Tensor>& grads, int64_t step) override {
    heartbeat(step);
    average_in_buckets(grads, env_.world, [&](torch::Tensor& bucket) {
      std::vector<at::Tensor> v{bucket};
      wait(pg_->allreduce(v), "the gradient all-reduce", step);
    });
  }
  void sum(torch::Tensor& values, int64_t step) override {
    std::vector<at::Tensor> v{values};
    wait(pg_->allreduce(v), "the log's loss sum", step);
  }
  void broadcast(std::vector<torch::Tensor>& tensors) override {
    for (auto& t : tensors) {
      std::vector<at::Tensor> v{t};
      wait(pg_->broadcast(v), "the initial weights' broadcast", -1);
    }
  }
  void barrier(int64_t step) override { wait(pg_->barrier(), "the checkpoint barrier", step); }

 private:
  // Each rank records the step it reached in the store, so that a rank whose collective fails
  // can say which rank never arrived.
  void heartbeat(int64_t step) {
    const auto s = std::to_string(step);
    try {
      store_->set("step/" + std::to_string(env_.rank), std::vector<uint8_t>(s.begin(), s.end()));
    } catch (const std::exception& e) {
      throw std::runtime_error(lost_message(step, "the rendezvous store on rank 0 at " + env_.addr + ":" + std::to_string(env_.port) + " is gone (" +
                                                      error_text(e) + "): lost rank 0"));
    }
  }

  std::string lost_message(int64_t step, const std::string& what) const {
    return "data-parallel training (rank " + std::to_string(env_.rank) + " of " + std::to_string(env_.world) + ")" +
           (step >= 0 ? " at step " + std::to_string(step) : std::string()) + ": " + what;
  }

  // Which ranks are gone at `step`: those whose heartbeat never reached it, else (a rank that
  // died inside the collective) those that do not answer a roll call: every rank whose collective
  // failed writes "alive/RANK" = step and waits up to 3 s for the others.
  std::string missing_ranks(int64_t step) const {
    const auto read_step = [&](const std::string& key) -> int64_t {
      if (!store_->check({key})) return -1;
      const auto v = store_->get(key);
      return std::stoll(std::string(v.begin(), v.end()));
    };
    const auto list = [&](const std::string& prefix) {
      std::string names;
      int count = 0;
      for (int64_t r = 0; r < env_.world; ++r) {
        if (r != env_.rank && read_step(prefix + std::to_string(r)) < step) names += (count++ ? ", " : "") + std::to_string(r);
      }
      return count == 0 ? std::string() : (count == 1 ? "rank " : "ranks ") + names;
    };
    try {
      if (auto behind = list("step/"); !behind.empty()) return behind;
      const auto s = std::to_string(step);
      store_->set("alive/" + std::to_string(env_.rank), std::vector<uint8_t>(s.begin(), s.end()));
      const auto deadline = std::chrono::steady_clock::now() + std::min<std::chrono::milliseconds>(timeout_, std::chrono::seconds(3));
      std::string silent = list("alive/");
      while (!silent.empty() && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        silent = list("alive/");
      }
      return silent.empty() ? "a rank" : silent;
    } catch (const std::exception&) {
      return "rank 0 (the rendezvous store does not answer)";
    }
  }

  void wait(const c10::intrusive_ptr<c10d::Work>& work, const char* what, int64_t step) {
    try {
      work->wait(timeout_);
    } catch (const std::exception& e) {
      const std::string who = step >= 0 ? missing_ranks(step) : "a rank";
      throw std::runtime_error(lost_message(step, "lost " + who + " during " + what + " (" + error_text(e) + "; --dist-timeout " +
                                                      std::to_string(timeout_.count() / 1000) + " s)"));
    }
  }

  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<c10d::ProcessGroup> pg_;
  LaunchEnv env_;
  std::string backend_;
  std::chrono::milliseconds timeout_;
};

}  // namespace

std::shared_ptr<GradSync> join_process_group(const LaunchEnv& env, const std::string& backend, std::chrono::milliseconds timeout) {
  if (!have_dist_backend(backend)) {
    throw std::invalid_argument("--dist-backend " + backend + ": this build has " + dist_backends() +
                                (backend == "nccl" ? " (NCCL needs a CUDA libtorch and -DDIFFUSE_WITH_NCCL=ON)" : ""));
  }
#ifdef C10_USE_GLOG
  // c10d logs every connection retry and timeout to stderr; the errors below say it in one line.
  if (!std::getenv("GLOG_minloglevel") && !std::getenv("TORCH_CPP_LOG_LEVEL")) FLAGS_minloglevel = 3;
#endif
  const std::string where = env.addr + ":" + std::to_string(env.port);
  const std::string who = "rank " + std::to_string(env.rank) + " of WORLD_SIZE " + std::to_string(env.world);
  c10::intrusive_ptr<c10d::Store> store;
  try {
    c10d::TCPStoreOptions o;
    o.port = uint16_t(env.port);
    o.isServer = env.rank == 0;
    o.numWorkers = size_t(env.world);
    o.waitWorkers = false;  // counted below, to say how many came
    o.timeout = timeout;
    store = c10::make_intrusive<c10d::TCPStore>(env.addr, o);
  } catch (const std::exception& e) {
    throw std::runtime_error(
        env.rank == 0 ? "MASTER_ADDR:MASTER_PORT " + where + ": rank 0 cannot host the rendezvous there: " + error_text(e)
                      : "MASTER_ADDR:MASTER_PORT " + where + ": " + who + " found no rank 0 there within " +
                            std::to_string(timeout.count() / 1000) + " s (is MASTER_PORT right?): " + error_text(e));
  }
  // Every rank counts itself in and waits for all: a wrong WORLD_SIZE or a rank that never starts
  // ends here, with how many came. Every rank must agree on the world size: rank 0's is the truth.
  const auto mine = std::to_string(env.world);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  try {
    store->set("diffuse/world/" + std::to_string(env.rank), std::vector<uint8_t>(mine.begin(), mine.end()));
    int64_t joined = store->add("diffuse/joined", 1);
    while (joined < env.world && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      joined = store->add("diffuse/joined", 0);
    }
    if (joined < env.world) {
      throw std::runtime_error("MASTER_ADDR:MASTER_PORT " + where + ": " + who + ": only " + std::to_string(joined) + " of " + mine +
                               " ranks joined within " + std::to_string(timeout.count() / 1000) + " s (is WORLD_SIZE right? did a rank fail to start?)");
    }
    if (env.rank != 0) {
      const auto v = store->get("diffuse/world/0");
      const std::string theirs(v.begin(), v.end());
      if (theirs != mine) throw std::runtime_error("WORLD_SIZE=" + mine + " on rank " + std::to_string(env.rank) + ", but " + theirs + " on rank 0");
    }
  } catch (const std::runtime_error&) {
    throw;
  } catch (const std::exception& e) {
    throw std::runtime_error(who + ": the rendezvous at " + where + " failed: " + error_text(e));
  }
  auto prefixed = c10::make_intrusive<c10d::PrefixStore>("diffuse", store);
  c10::intrusive_ptr<c10d::ProcessGroup> pg;
  try {
    if (backend == "gloo") {
      auto options = c10d::ProcessGroupGloo::Options::create(timeout);
      if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME")) {
        options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
      } else if (env.addr == "127.0.0.1" || env.addr == "localhost") {
        options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
      } else {
        options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
      }
      pg = c10::make_intrusive<c10d::ProcessGroupGloo>(prefixed, int(env.rank), int(env.world), options);
    }
#ifdef DIFFUSE_HAVE_NCCL
    if (backend == "nccl") {
      auto options = c10d::ProcessGroupNCCL::Options::create();
      options->timeout = timeout;
      pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(prefixed, int(env.rank), int(env.world), options);
    }
#endif
  } catch (const std::exception& e) {
    throw std::runtime_error(who + ": the " + backend + " process group at " + where + " did not form within " +
                             std::to_string(timeout.count() / 1000) + " s: " + error_text(e));
  }
  return std::make_shared<ProcessGroupSync>(prefixed, pg, env, backend, timeout);
}
#else
std::shared_ptr<GradSync> join_process_group(const LaunchEnv& env, const std::string& backend, std::chrono::milliseconds) {
  throw std::invalid_argument("WORLD_SIZE=" + std::to_string(env.world) + ": this build of diffuse has no c10d backend (" + backend +
                              "); install libgloo-dev and rebuild for data-parallel training");
}
#endif

}  // namespace diffuse
