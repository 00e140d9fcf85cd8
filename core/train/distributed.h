// Data-parallel training on PyTorch's c10d: the launcher's environment (torchrun's RANK,
// WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT, or Slurm's SLURM_PROCID, SLURM_NTASKS,
// SLURM_LOCALID), a rendezvous through c10d's TCPStore on rank 0, and a process group (Gloo on
// CPUs, NCCL on CUDA) behind the trainer's gradient-sync hook.
#pragma once
#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "core/train/grad_sync.h"

namespace diffuse {

struct LaunchEnv {
  int64_t rank = 0, world = 1, local_rank = 0;
  std::string addr = "127.0.0.1";
  int port = 29500;
  std::string launcher;  // "torchrun", "RANK/WORLD_SIZE" (another launcher, or by hand), "slurm", or "" (one process)
};

// Reads the launcher's variables from `env` (the process environment when empty); throws one
// line naming the variable for a value that is not a number or out of range.
LaunchEnv launch_env_from(const std::map<std::string, std::string>& env);
LaunchEnv launch_env();

// The first host of a Slurm node list ("node[03-05,9]" -> "node03", "a,b" -> "a").
std::string first_slurm_host(const std::string& nodelist);

// Whether this build has a c10d backend ("gloo", "nccl").
bool have_dist_backend(const std::string& backend);
std::string dist_backends();  // e.g. "gloo", or "none"

// Joins the process group: rank 0 hosts the TCPStore at addr:port, every rank connects within
// `timeout`, and collectives that wait longer than `timeout` (a lost rank) throw one line naming
// the rank that did not arrive. backend: gloo or nccl.
std::shared_ptr<GradSync> join_process_group(const LaunchEnv& env, const std::string& backend, std::chrono::milliseconds timeout);

}  // namespace diffuse
