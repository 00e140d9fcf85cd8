// The trainer's hook between backward and clipping: on one process a no-op, on many an
// all-reduce that leaves every rank with the mean gradient over the ranks (core/train/distributed.h
// builds one on c10d). The trainer also asks it who it is (rank, world) to take its share of each
// global batch, to sum its log statistics and to keep rank 0 the only writer.
#pragma once
#include <torch/types.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace diffuse {

class GradSync {
 public:
  virtual ~GradSync() = default;
  virtual int64_t rank() const { return 0; }
  virtual int64_t world() const { return 1; }
  // Replaces each defined gradient by its mean over the ranks; `step` is for error messages.
  virtual void average(std::vector<torch::Tensor>& grads, int64_t step) {}
  // Sum over the ranks of a small vector (the log's loss statistics), in place.
  virtual void sum(torch::Tensor& values, int64_t step) {}
  // Rank 0's values of the tensors, on every rank (the initial weights).
  virtual void broadcast(std::vector<torch::Tensor>& tensors) {}
  virtual void barrier(int64_t step) {}
  virtual std::string describe() const { return "one process"; }
};

// The process's hook: a no-op until train joins a process group (set_process_grad_sync), which
// every Trainer constructed afterwards uses, so that each modality's trainer runs distributed
// without knowing it.
std::shared_ptr<GradSync> process_grad_sync();
void set_process_grad_sync(std::shared_ptr<GradSync> sync);

// The gradients of one step flattened into buckets of about `bucket_bytes` (one dtype per bucket),
// each summed through `all_reduce_sum` and divided by `world`, and copied back.
void average_in_buckets(std::vector<torch::Tensor>& grads, int64_t world, const std::function<void(torch::Tensor&)>& all_reduce_sum,
                        int64_t bucket_bytes = int64_t(25) << 20);

}  // namespace diffuse
