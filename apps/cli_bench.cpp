// `diffuse bench ...`: measured speed and accuracy, printed as a table or JSON.
#include <iomanip>
#include <iostream>
#include <sstream>

#include "apps/bench_samplers.h"
#include "apps/cli.h"
#include "core/files.h"

namespace diffuse::cli {

void add_bench(CLI::App& app) {
  auto* bench = app.add_subcommand("bench", "benchmarks: samplers (model lands with the DiT issue)");
  bench->require_subcommand(1);
  auto* s = bench->add_subcommand("samplers",
                                  "every sampler x NFE on the analytic 2-D mixture: endpoint error vs a reference\n"
                                  "ODE solution, sliced Wasserstein to exact samples, overhead per step\n"
                                  "Example: diffuse bench samplers --nfe 10,50 --sampler euler,dpmpp_2m --json");
  auto o = std::make_shared<SamplerBenchOptions>();
  auto json = std::make_shared<bool>(false);
  auto out = std::make_shared<std::string>();
  auto force = std::make_shared<bool>(false);
  s->add_option("--nfe", o->nfe, "network evaluations per sample")->delimiter(',')->capture_default_str()->check(CLI::PositiveNumber);
  s->add_option("--sampler", o->samplers, "samplers to run (default: all)")->delimiter(',');
  s->add_option("--points", o->n_sw, "points for the sliced Wasserstein distance")->capture_default_str()->check(CLI::Range(100, 1000000));
  s->add_option("--seed", o->seed, "seed")->capture_default_str();
  s->add_option("--schedule", o->schedule, "sigma schedule (any of `diffuse info`'s schedules)")->capture_default_str();
  s->add_option("--sigma-min", o->sigma_min, "smallest nonzero sigma")->capture_default_str()->check(CLI::PositiveNumber);
  s->add_option("--sigma-max", o->sigma_max, "largest sigma")->capture_default_str()->check(CLI::PositiveNumber);
  s->add_flag("--json", *json, "print JSON instead of a table");
  s->add_option("--out", *out, "also write the JSON to this file");
  s->add_flag("--force", *force, "overwrite --out if it exists");
  s->callback([o, json, out, force] {
    if (!out->empty()) check_writable(*out, *force);
    const auto b = bench_samplers(*o);
    const auto j = to_json(b);
    if (!out->empty()) write_file_atomic(*out, j.dump(2) + "\n", *force);
    if (*json) {
      std::cout << j.dump(2) << "\n";
      return;
    }
    std::cout << std::left << std::setw(14) << "sampler" << std::right << std::setw(5) << "NFE" << std::setw(7) << "steps"
              << std::setw(14) << "endpoint_max" << std::setw(14) << "endpoint_rms" << std::setw(12) << "sliced_W2" << std::setw(14) << "us/step\n";
    for (const auto& r : b.rows) {
      std::ostringstream e, rms;
      if (r.deterministic) {
        e << std::scientific << std::setprecision(2) << r.endpoint_error;
        rms << std::scientific << std::setprecision(2) << r.endpoint_rmse;
      } else {
        e << "-";
        rms << "-";
      }
      std::cout << std::left << std::setw(14) << r.sampler << std::right << std::setw(5) << r.nfe << std::setw(7)
                << r.steps << std::setw(14) << e.str() << std::setw(14) << rms.str() << std::setw(12) << std::fixed << std::setprecision(4)
                << r.sliced_wasserstein << std::setw(13) << std::setprecision(1) << r.overhead_us_per_step << "\n";
    }
    std::cout << "exact-sample floor of sliced_W2 at " << o->n_sw << " points: " << std::fixed << std::setprecision(4)
              << b.sw_floor << "\n";
  });
}

}  // namespace diffuse::cli
