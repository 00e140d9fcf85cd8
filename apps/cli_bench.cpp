// `diffuse bench ...`: measured speed and accuracy, printed as a table or JSON.
#include <iomanip>
#include <iostream>
#include <sstream>

#include <torch/torch.h>

#include <chrono>

#include "apps/bench_samplers.h"
#include "core/device.h"
#include "core/precision.h"
#include "core/profile.h"
#include "core/dit.h"
#include "core/system.h"
#include "apps/cli.h"
#include "core/files.h"
#include "core/modality.h"
#include "modalities/registry.h"

namespace diffuse::cli {

namespace {

// Best-of timing of `fn` after one warm-up call: at least `repeats` runs and `min_seconds`.
double best_seconds(const std::function<void()>& fn, int repeats = 3, double min_seconds = 1.0) {
  fn();
  double best = 1e30, total = 0;
  for (int i = 0; i < repeats || total < min_seconds; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::min(best, dt);
    total += dt;
    if (i >= 50) break;
  }
  return best;
}

void add_bench_model(CLI::App& bench) {
  auto* m = bench.add_subcommand("model", "DiT forward and forward+backward throughput as achieved GFLOP/s and as a\n"
                                          "fraction of the fp32 GEMM rate measured in the same run\n"
                                          "Example: diffuse bench model --preset dit-s/2 --batch 1,16 --json");
  auto presets = std::make_shared<std::vector<std::string>>(std::vector<std::string>{"dit-s/2"});
  auto batches = std::make_shared<std::vector<int64_t>>(std::vector<int64_t>{1, 4, 16});
  auto passes = std::make_shared<std::vector<std::string>>(std::vector<std::string>{"forward", "forward+backward"});
  auto json = std::make_shared<bool>(false), profile = std::make_shared<bool>(false);
  auto device = std::make_shared<std::string>("cpu");
  auto precisions = std::make_shared<std::vector<std::string>>(std::vector<std::string>{"fp32", "bf16"});
  m->add_option("--device", *device, "cpu, cuda or cuda:N")->capture_default_str();
  m->add_option("--precision", *precisions, "fp32, bf16, auto (a list: each is measured against the GEMM rate of its own type)")
      ->delimiter(',')->capture_default_str();
  m->add_option("--preset", *presets, "DiT presets or JSON configs")->delimiter(',')->capture_default_str();
  m->add_option("--batch", *batches, "batch sizes")->delimiter(',')->capture_default_str()->check(positive_number());
  m->add_option("--pass", *passes, "forward, forward+backward")->delimiter(',')->capture_default_str()
      ->check(CLI::IsMember({"forward", "forward+backward"}));
  m->add_flag("--json", *json, "print JSON");
  m->add_flag("--profile", *profile, "after each row's timing, one more pass under libtorch's profiler: the operators\n"
                                     "that took the most self CPU time (JSON: every operator; on CUDA the launches)");
  m->callback([presets, batches, passes, json, device, precisions, profile] {
    const auto dev = parse_device(*device);
    std::vector<Precision> kinds;
    for (const auto& p : *precisions) kinds.push_back(resolve_precision(p, dev));
    const auto gemm = measure_gemm(1024, 0.5, *device);
    const auto gemm_bf16 = measure_gemm(1024, 0.5, *device, true);
    Json rows = Json::array();
    if (!*json) {
      std::cout << "fp32 GEMM (1024^3" << (dev.is_cpu() ? std::string() : ", " + *device) << "): " << std::fixed << std::setprecision(1) << gemm.gflops << " GFLOP/s, "
                << torch::get_num_threads() << " threads\n";
      std::cout << "bf16 GEMM (1024^3): " << gemm_bf16.gflops << " GFLOP/s\n";
      std::cout << std::left << std::setw(12) << "preset" << std::right << std::setw(7) << "batch" << std::setw(18) << "pass" << std::setw(10) << "precision"
                << std::setw(12) << "seconds" << std::setw(12) << "GFLOP/s" << std::setw(12) << "of GEMM" << "\n";
    }
    for (const auto& p : *presets) {
      const auto c = dit_config_from_spec(p);
      torch::manual_seed(0);
      DiT model(c);
      model->to(dev);
      for (auto b : *batches) {
        std::vector<int64_t> shape = {b, c.in_channels};
        shape.insert(shape.end(), c.input_size.begin(), c.input_size.end());
        const auto x = torch::randn(shape).to(dev);
        const auto t = (torch::rand({b}) * 999).to(dev);
        const auto y = c.num_classes > 0 ? torch::randint(c.num_classes, {b}, torch::kLong).to(dev) : torch::Tensor();
        for (const auto kind : kinds) {
          for (const auto& pass : *passes) {
            const bool backward = pass == "forward+backward";
            const auto pass_once = [&] {
              if (backward) {
                model->zero_grad();
                torch::Tensor out;
                {
                  AutocastGuard autocast(kind, dev);
                  out = model->forward(x, t, y);
                }
                out.to(torch::kFloat32).pow(2).mean().backward();
              } else {
                torch::NoGradGuard g;
                AutocastGuard autocast(kind, dev);
                model->forward(x, t, y);
              }
              synchronize(*device);
            };
            const double secs = best_seconds(pass_once);
            // Forward: 2 FLOPs per multiply-accumulate; backward costs two forwards (the usual 3x).
            const double flops = 2.0 * dit_forward_macs(c) * double(b) * (backward ? 3.0 : 1.0);
            const double gflops = flops / secs * 1e-9;
            const double peak = kind == Precision::kBf16 ? gemm_bf16.gflops : gemm.gflops;  // the GEMM rate of the same type
            Json row = {{"preset", p}, {"batch", b}, {"pass", pass}, {"precision", precision_name(kind)}, {"seconds", secs},
                        {"gflops", gflops}, {"gemm_gflops", peak}, {"fraction_of_gemm", gflops / peak}, {"threads", torch::get_num_threads()}};
            if (!*json) {
              std::cout << std::left << std::setw(12) << p << std::right << std::setw(7) << b << std::setw(18) << pass << std::setw(10)
                        << precision_name(kind) << std::setw(12) << std::setprecision(4) << secs << std::setw(12) << std::setprecision(1)
                        << gflops << std::setw(11) << std::setprecision(1) << 100.0 * gflops / peak << "%\n";
            }
            if (*profile) {
              profile_ops(pass_once);  // the profiler's own records settle in memory first
              const auto ops = profile_ops(pass_once);
              double total = 0;
              for (const auto& o : ops) total += o.self_ms;
              row["profile"] = Json::array();
              for (size_t i = 0; i < ops.size(); ++i) {
                row["profile"].push_back({{"op", ops[i].name}, {"self_ms", ops[i].self_ms}, {"calls", ops[i].calls}, {"share", ops[i].self_ms / total}});
                if (!*json && i < 12) {
                  std::cout << "    " << std::left << std::setw(34) << ops[i].name << std::right << std::setw(10) << std::setprecision(1)
                            << ops[i].self_ms << " ms" << std::setw(7) << 100.0 * ops[i].self_ms / total << "%" << std::setw(7) << ops[i].calls << " calls\n";
                }
              }
            }
            rows.push_back(row);
          }
        }
      }
    }
    if (*json) {
      std::cout << Json{{"benchmark", "model"}, {"gemm_gflops", gemm.gflops}, {"gemm_bf16_gflops", gemm_bf16.gflops}, {"rows", rows}}.dump(2) << "\n";
    }
  });
}

// `bench NAME` for each pipeline that measures its own sampling speed (today: image): wall time,
// samples/s, network calls and GFLOP/s against the GEMM rate.
void add_bench_pipelines(CLI::App& bench) {
  register_pipelines();
  for (const auto& [name, p] : registered_pipelines()) {
    if (!p.bench) continue;
    auto* m = bench.add_subcommand(name, "sampling speed of " + name + " (" + p.summary + "): wall time and samples/s for n samples,\n"
                                         "network calls (CFG is one batched call per step), GFLOP/s against GEMM\n"
                                         "Example: diffuse bench " + name + " --n 64 --steps 20 --sampler dpmpp_2m --cfg 3");
    auto a = std::make_shared<BenchArgs>();
    auto& r = a->sampling;
    r.n = 64;
    r.steps = kDefaultSampleSteps;
    r.cfg = 3.0;
    m->add_option("--checkpoint", r.checkpoint, "checkpoint (default: models/" + p.shipped + ")")->check(CLI::ExistingFile);
    m->add_option("--n", r.n, "samples")->capture_default_str()->check(number_in(0, double(kMaxSamples), true, "a sample count from 1 to 10000000"));
    m->add_option("--steps", *r.steps, "sampler steps")->capture_default_str()->check(positive_number());
    m->add_option("--sampler", r.sampler, "sampler")->capture_default_str();
    m->add_option("--cfg", *r.cfg, "guidance scale")->capture_default_str()->check(guidance_scale());
    m->add_option("--batch", r.batch, "samples per forward batch")->capture_default_str()->check(positive_number());
    m->add_option("--seed", r.seed, "seed")->capture_default_str()->check(seed_number());
    m->add_option("--device", r.device, "cpu, cuda or cuda:N: where the network runs")->capture_default_str();
    m->add_option("--precision", a->precisions, "fp32, bf16 or auto: the network's compute type (a list: each is measured against\n"
                                                "the GEMM rate of its own type, in the same run)")->capture_default_str()->delimiter(',');
    m->add_flag("--json", a->json, "print JSON");
    const PipelineCommands* pipeline = &p;
    m->callback([a, pipeline] {
      for (const auto& p : a->precisions) resolve_precision(p, parse_device(a->sampling.device));
      BenchArgs b = *a;
      if (b.sampling.checkpoint.empty()) b.sampling.checkpoint = shipped_model_path(pipeline->shipped);
      pipeline->bench(b);
    });
  }
}

}  // namespace

void add_bench(CLI::App& app) {
  auto* bench = app.add_subcommand("bench", "benchmarks: samplers, model, image");
  bench->require_subcommand(1);
  add_bench_model(*bench);
  add_bench_pipelines(*bench);
  auto* s = bench->add_subcommand("samplers",
                                  "every sampler x NFE on the analytic 2-D mixture: endpoint error vs a reference\n"
                                  "ODE solution, sliced Wasserstein to exact samples, overhead per step\n"
                                  "Example: diffuse bench samplers --nfe 10,50 --sampler euler,dpmpp_2m --json");
  auto o = std::make_shared<SamplerBenchOptions>();
  auto json = std::make_shared<bool>(false);
  auto out = std::make_shared<std::string>();
  auto force = std::make_shared<bool>(false);
  s->add_option("--nfe", o->nfe, "network evaluations per sample")->delimiter(',')->capture_default_str()->check(positive_number());
  s->add_option("--sampler", o->samplers, "samplers to run (default: all)")->delimiter(',');
  s->add_option("--points", o->n_sw, "points for the sliced Wasserstein distance")->capture_default_str()->check(CLI::Range(100, 1000000));
  s->add_option("--seed", o->seed, "seed")->capture_default_str()->check(seed_number());
  s->add_option("--schedule", o->schedule, "sigma schedule (any of `diffuse info`'s schedules)")->capture_default_str();
  s->add_option("--sigma-min", o->sigma_min, "smallest nonzero sigma")->capture_default_str()->check(positive_number());
  s->add_option("--sigma-max", o->sigma_max, "largest sigma")->capture_default_str()->check(positive_number());
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
