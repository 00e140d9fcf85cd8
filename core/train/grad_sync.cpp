#include "core/train/grad_sync.h"

#include <torch/torch.h>

#include <mutex>

namespace diffuse {
namespace {
std::mutex mutex;
std::shared_ptr<GradSync>& slot() {
  static std::shared_ptr<GradSync> sync = std::make_shared<GradSync>();
  return sync;
}
}  // namespace

std::shared_ptr<GradSync> process_grad_sync() {
  std::lock_guard<std::mutex> lock(mutex);
  return slot();
}

void set_process_grad_sync(std::shared_ptr<GradSync> sync) {
  std::lock_guard<std::mutex> lock(mutex);
  slot() = sync ? std::move(sync) : std::make_shared<GradSync>();
}

void average_in_buckets(std::vector<torch::Tensor>& grads, int64_t world, const std::function<void(torch::Tensor&)>& all_reduce_sum,
                        int64_t bucket_bytes) {
  torch::NoGradGuard no_grad;
  size_t i = 0;
  while (i < grads.size()) {
    if (!grads[i].defined()) { ++i; continue; }
    std::vector<size_t> members;
    int64_t bytes = 0;
    const auto dtype = grads[i].scalar_type();
    for (; i < grads.size() && (members.empty() || bytes < bucket_bytes); ++i) {
      if (!grads[i].defined()) continue;
      if (grads[i].scalar_type() != dtype) break;
      members.push_back(i);
      bytes += grads[i].numel() * int64_t(grads[i].element_size());
    }
    std::vector<torch::Tensor> flat;
    for (const auto m : members) flat.push_back(grads[m].reshape({-1}));
    auto bucket = torch::cat(flat);
    all_reduce_sum(bucket);
    bucket.div_(double(world));
    int64_t offset = 0;
    for (const auto m : members) {
      const int64_t n = grads[m].numel();
      grads[m].copy_(bucket.slice(0, offset, offset + n).view_as(grads[m]));
      offset += n;
    }
  }
}

}  // namespace diffuse
