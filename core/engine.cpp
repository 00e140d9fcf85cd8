// The sampling engine.
#include "core/engine.h"

#include <tuple>

#include <torch/torch.h>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <stdexcept>

namespace diffuse {

void validate(const SampleRequest& r) {
  if (r.n < 1) throw std::invalid_argument("--n must be >= 1, got " + std::to_string(r.n));
  if (r.steps < 1) throw std::invalid_argument("--steps must be >= 1, got " + std::to_string(r.steps));
  if (r.batch < 1) throw std::invalid_argument("--batch must be >= 1, got " + std::to_string(r.batch));
  // The samples are held in memory together: refuse before any work what this machine cannot hold.
  double item = 4.0;  // float32
  for (const auto d : r.item_shape) item *= double(std::max<int64_t>(d, 1));
  const double need = item * double(r.n), have = double(::sysconf(_SC_PHYS_PAGES)) * double(::sysconf(_SC_PAGE_SIZE));
  if (have > 0 && need > 0.5 * have) {
    char msg[256];
    std::snprintf(msg, sizeof msg, "--n %lld: the samples alone need %.1f GB, more than half of this machine's %.1f GB of memory",
                  static_cast<long long>(r.n), need / 1e9, have / 1e9);
    throw std::invalid_argument(msg);
  }
  find_sampler(r.sampler);
  make_sigmas(r.schedule, 1, r.schedule_options);
  validate(r.guidance);
  const auto& c = r.condition;
  for (const auto* t : c.fields()) {
    if (t->defined() && t->size(0) != r.n) throw std::invalid_argument("need one condition row per sample");
  }
  if (r.null_context.defined() && (!c.context.defined() || r.null_context.sizes() != c.context.sizes())) {
    throw std::invalid_argument("a null context needs a context of its shape");
  }
  if (r.guidance.context_scale && (!r.null_context.defined() || !c.labels.defined())) {
    throw std::invalid_argument("a context guidance scale needs labels and a null context");
  }
}

torch::Tensor sample_batches(const SampleRequest& r, const std::function<torch::Tensor(const SampleBatch& b)>& run) {
  validate(r);
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> out;
  for (int64_t start = 0; start < r.n; start += r.batch) {
    const int64_t b = std::min(r.batch, r.n - start);
    SeededNoise noise = SeededNoise::consecutive(r.seed + uint64_t(start), b);
    SampleBatch batch{start, b, &noise, {}, {}};
    if (!r.condition.empty()) batch.cond = batch.uncond = r.condition.slice(start, start + b).to(r.options.device());
    if (batch.cond.labels.defined()) batch.uncond.labels = torch::full_like(batch.cond.labels, r.null_label);
    if (r.null_context.defined()) batch.uncond.context = r.null_context.slice(0, start, start + b).to(r.options.device());
    out.push_back(run(batch));
    if (r.progress) r.progress((start + b) * r.steps, r.n * r.steps);
  }
  return torch::cat(out);
}

torch::Tensor sample(const ConditionalDenoiser& model, const SampleRequest& r) {
  validate(r);  // before the schedule, for the request's own messages
  ScheduleOptions so = r.schedule_options;
  so.round_timesteps = so.round_timesteps || find_sampler(r.sampler).whole_timesteps;
  const auto sigmas = make_sigmas(r.schedule, r.steps, so);
  const auto step_targets = discrete_step_targets(r.schedule, r.steps, so);
  return sample_batches(r, [&](const SampleBatch& batch) {
    const int64_t start = batch.start, b = batch.size;
    std::vector<int64_t> shape = {b};
    shape.insert(shape.end(), r.item_shape.begin(), r.item_shape.end());
    const auto x = batch.noise->draw(torch::zeros(shape, r.options)) * sigmas[0].item<double>();
    const auto& cond = batch.cond;
    Condition context_only;  // the two-scale guidance's middle pass: the context kept, the labels dropped
    if (r.guidance.context_scale) {
      context_only = cond;
      context_only.labels = batch.uncond.labels;
    }
    const Denoiser d = cond.labels.defined() ? cfg(model, cond, batch.uncond, r.guidance, context_only)
                                             : Denoiser([&model, cond](const torch::Tensor& x, const torch::Tensor& s) { return model(x, s, cond); });
    // Progress in item-steps (n x steps in all), reported after every sampler step.
    SamplerOptions o = r.sampler_options;
    if (o.step_targets.empty()) o.step_targets = step_targets;
    if (r.progress) {
      const auto user = o.callback;
      o.callback = [&r, user, start, b](int64_t step, const torch::Tensor& xs, double sigma) {
        if (user) user(step, xs, sigma);
        r.progress(start * r.steps + b * std::min(step + 1, r.steps), r.n * r.steps);
      };
    }
    return run_sampler(r.sampler, d, x, sigmas, *batch.noise, o);
  });
}

}  // namespace diffuse
