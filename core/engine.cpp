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
  if (r.labels.defined() && r.labels.size(0) != r.n) throw std::invalid_argument("need one label per sample");
  for (const auto* t : {&r.shared.vectors, &r.shared.mask, &r.shared.frames}) {
    if (t->defined() && t->size(0) != r.n) throw std::invalid_argument("need one shared condition row per sample");
  }
}

torch::Tensor sample(const ConditionalDenoiser& model, const SampleRequest& r) {
  validate(r);
  torch::NoGradGuard no_grad;
  const auto sigmas = make_sigmas(r.schedule, r.steps, r.schedule_options);
  const auto step_targets = discrete_step_targets(r.schedule, r.steps, r.schedule_options);
  std::vector<torch::Tensor> out;
  for (int64_t start = 0; start < r.n; start += r.batch) {
    const int64_t b = std::min(r.batch, r.n - start);
    std::vector<uint64_t> seeds;
    for (int64_t i = 0; i < b; ++i) seeds.push_back(r.seed + uint64_t(start + i));
    SeededNoise noise(seeds);
    std::vector<int64_t> shape = {b};
    shape.insert(shape.end(), r.item_shape.begin(), r.item_shape.end());
    const auto x = noise.draw(torch::zeros(shape, r.options)) * sigmas[0].item<double>();
    Condition cond, uncond;
    for (auto [from, to_c, to_u] : {std::tuple{&r.shared.vectors, &cond.vectors, &uncond.vectors},
                                    std::tuple{&r.shared.mask, &cond.mask, &uncond.mask},
                                    std::tuple{&r.shared.frames, &cond.frames, &uncond.frames}}) {
      if (from->defined()) *to_c = *to_u = from->slice(0, start, start + b).to(r.options.device());
    }
    if (r.labels.defined()) {
      cond.labels = r.labels.slice(0, start, start + b).to(r.options.device());
      uncond.labels = torch::full_like(cond.labels, r.null_label);
    }
    const Denoiser d = r.labels.defined() ? cfg(model, cond, uncond, r.guidance)
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
    out.push_back(run_sampler(r.sampler, d, x, sigmas, noise, o));
    if (r.progress) r.progress((start + b) * r.steps, r.n * r.steps);
  }
  return torch::cat(out);
}

}  // namespace diffuse
