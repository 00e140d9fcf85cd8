// The sampler benchmark behind `diffuse bench samplers`: every registered sampler at several NFE
// on the analytic 2-D mixture, scored by endpoint error against a reference ODE solution,
// sliced Wasserstein distance to exact samples, and sampler overhead per step.
#pragma once
#include <string>
#include <vector>

#include "core/json.h"

namespace diffuse {

struct SamplerBenchOptions {
  std::vector<int64_t> nfe = {5, 8, 10, 15, 20, 50};
  std::vector<std::string> samplers;  // empty: all
  int64_t n_error = 256;     // points for the endpoint error
  int64_t n_sw = 10000;      // points for the sliced Wasserstein distance
  std::string schedule = "karras";               // any registered schedule
  double sigma_min = 0.0292, sigma_max = 14.6;  // the SD range (shared/reference)
  uint64_t seed = 0;
};

struct SamplerBenchRow {
  std::string sampler;
  int64_t nfe_target = 0, nfe = 0, steps = 0;
  bool deterministic = true;
  double endpoint_error = -1;  // max abs vs reference; -1 for stochastic samplers
  double endpoint_rmse = -1;   // root mean square over the points
  double sliced_wasserstein = 0;
  double overhead_us_per_step = 0;
};

struct SamplerBench {
  std::vector<SamplerBenchRow> rows;
  double sw_floor = 0;  // between two independent exact sample sets of the same size
  SamplerBenchOptions options;
};

SamplerBench bench_samplers(const SamplerBenchOptions& o);
Json to_json(const SamplerBench& b);

}  // namespace diffuse
