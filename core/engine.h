// The sampling engine: batches, per-item seeds, schedule, any registry sampler, CFG. Item i of
// a request uses seed (seed + i) for its initial and sampler noise, so results do not depend on
// the batch size, the thread count or which other items were requested with it.
#pragma once
#include <torch/types.h>

#include <functional>
#include <string>
#include <vector>

#include "core/guidance.h"
#include "core/noise.h"
#include "core/precision.h"
#include "core/samplers/samplers.h"
#include "core/schedules.h"

namespace diffuse {

struct SampleRequest {
  std::vector<int64_t> item_shape;  // shape of one sample in the diffusion space
  int64_t n = 1;
  uint64_t seed = 0;
  int64_t batch = 64;
  std::string sampler = "dpmpp_2m";
  int64_t steps = 20;
  std::string schedule = "karras";
  ScheduleOptions schedule_options;
  SamplerOptions sampler_options;
  GuidanceOptions guidance;
  // Each item's condition, (n, ...) per field. CFG's unconditional pass has the same fields with
  // the labels replaced by null_label; guidance applies when there are labels.
  Condition condition;
  int64_t null_label = -1;
  // CFG's unconditional pass's context (n, ...), or undefined (it keeps the condition's). With it,
  // guidance also pushes toward the context: Stable Video Diffusion's unconditional pass drops its
  // conditioning frame.
  torch::Tensor null_context;
  torch::TensorOptions options = torch::TensorOptions().dtype(torch::kFloat32);
  // The compute type the pipeline's denoiser runs its network in (--precision); the engine's and
  // the sampler's arithmetic stay in options' dtype.
  Precision precision = Precision::kFp32;
  std::function<void(int64_t done, int64_t total)> progress;
};
void validate(const SampleRequest& r);  // steps >= 1, n >= 1, known sampler and schedule, ...

// Runs the request through `model` (a conditional denoiser) and returns (n, *item_shape).
torch::Tensor sample(const ConditionalDenoiser& model, const SampleRequest& r);

// One batch of a request as the engine hands it to a sampler: items [start, start + size), item
// i with its own generator seeded r.seed + i (noise.generator(i - start)), the batch's condition
// on the request's device and its unconditional twin.
struct SampleBatch {
  int64_t start = 0, size = 0;
  SeededNoise* noise = nullptr;
  Condition cond, uncond;
};
// The engine's batching, seeding and conditions around a sampler of any state: `run` returns the
// batch's samples (size, ...), which are concatenated. sample() is this with the continuous
// samplers; the discrete graph sampler of the molecule modality is another.
torch::Tensor sample_batches(const SampleRequest& r, const std::function<torch::Tensor(const SampleBatch& b)>& run);

}  // namespace diffuse
