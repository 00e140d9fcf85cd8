// Reference replay: maps each recorded diffusers scheduler or k-diffusion function onto a
// diffuse sampler with the same grid, model time input, start, noise and state space.
#include "core/reference.h"

#include "core/errors.h"
#include "core/reference_checks.h"

#include <torch/torch.h>

#include <cmath>
#include <deque>

#include "core/analytic.h"
#include "core/denoiser.h"
#include "core/guidance.h"
#include "core/schedules.h"
#include "core/samplers/samplers.h"

namespace diffuse {
namespace {

const auto kF64 = torch::TensorOptions().dtype(torch::kFloat64);

std::string shape_of(const torch::Tensor& t) {
  std::string s = "(";
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
  return s + ")";
}

// A number or a (nested, rectangular) array of numbers as a float64 tensor; anything else, a
// ragged array or one nested deeper than a tensor can be, throws naming `what`.
torch::Tensor to_tensor(const Json& j, const std::string& what, int depth = 0) {
  if (j.is_number()) return torch::scalar_tensor(j.get<double>(), kF64);
  if (!j.is_array() || j.empty() || depth > 16) {
    throw std::invalid_argument(what + ": expected a number or a non-empty array of numbers, got " +
                                (j.is_array() ? (j.empty() ? std::string("an empty array") : "arrays nested too deep") : std::string(j.type_name())));
  }
  std::vector<torch::Tensor> rows;
  for (const auto& e : j) {
    rows.push_back(to_tensor(e, what, depth + 1));
    if (rows.back().sizes() != rows.front().sizes()) throw std::invalid_argument(what + ": a ragged array (rows of different shapes)");
  }
  return torch::stack(rows);
}


// The state space a run records: VE (x0 + sigma eps), VP (a x0 + s eps) or flow.
enum class Space { kVe, kVp, kFlow };

double to_space_factor(Space sp, double sigma) {  // x_space = factor * x_ve
  switch (sp) {
    case Space::kVe: return 1.0;
    case Space::kVp: return 1.0 / std::sqrt(1.0 + sigma * sigma);
    case Space::kFlow: return 1.0 / (1.0 + sigma);
  }
  return 1.0;
}

// How a diffusers run maps onto a diffuse sampler.
struct Plan {
  std::string sampler;
  SamplerOptions opts;
  Space space = Space::kVe;
  std::vector<double> sigmas;                      // n + 1 VE sigmas
  std::vector<std::pair<double, double>> sigma_t;  // model time for each grid sigma
  std::string skip;                                // non-empty: cannot replay
};

double lookup_t(const std::vector<std::pair<double, double>>& table, double sigma, const torch::Tensor& fallback) {
  for (const auto& [s, t] : table) {
    if (std::abs(s - sigma) <= 1e-12 * std::max(1.0, s)) return t;
  }
  return sigma_to_t(fallback, sigma);
}


Plan plan_diffusers(const Json& run, const torch::Tensor& table) {
  Plan p;
  const std::string sched = run.at("scheduler");
  const Json& cfg = run.at("resolved_config");
  const auto timesteps = to_doubles(run.at("timesteps"));
  const int64_t n = int64_t(timesteps.size());
  const int64_t T = cfg.value("num_train_timesteps", 1000);
  const auto sigma_of_t = [&](double t) { return t_to_sigma(table, t); };
  const auto add_grid_sigma = [&](double s) {
    if (p.sigmas.empty() || s != p.sigmas.back()) p.sigmas.push_back(s);  // Heun repeats sigmas
  };
  auto from_scheduler_sigmas = [&]() {
    const auto s = to_doubles(run.at("scheduler_sigmas"));
    for (const double v : s) add_grid_sigma(v);
    const auto calls = to_doubles(run.at("model_call_timesteps"));
    for (size_t i = 0; i < calls.size() && i < s.size(); ++i) p.sigma_t.push_back({s[i], calls[i]});
  };
  if (sched == "DDIMScheduler" || sched == "DDPMScheduler") {
    const bool ddim = sched == "DDIMScheduler";
    p.sampler = ddim ? "ddim" : "ddpm";
    p.space = Space::kVp;
    const double final_sigma = ddim && !cfg.value("set_alpha_to_one", true)
                                   ? std::min(table[0].item<double>(), kSigmaInfinity) : 0.0;
    for (int64_t i = 0; i < n; ++i) {
      p.sigmas.push_back(sigma_of_t(timesteps[size_t(i)]));
      p.sigma_t.push_back({p.sigmas.back(), timesteps[size_t(i)]});
    }
    // DDPM steps to the next timestep and from the last to alpha 1 (previous_timestep); DDIM
    // steps from t to t - T // n, which is not the next timestep when n does not divide T with
    // trailing or linspace spacing, and from there below 0 to its final alpha. At linspace
    // spacing that final alpha can be the last timestep's own (a step of length zero), so the
    // grid ends at 0 and the targets say where the steps land.
    const double prev = timesteps.back() - double(T / n);
    p.sigmas.push_back(ddim && prev >= 0 ? sigma_of_t(prev) : 0.0);
    bool differs = false;
    for (int64_t i = 0; ddim && i < n; ++i) {
      const double to = timesteps[size_t(i)] - double(T / n);
      p.opts.step_targets.push_back(to >= 0 ? sigma_of_t(to) : final_sigma);
      differs = differs || p.opts.step_targets.back() != p.sigmas[size_t(i + 1)];
    }
    if (!differs) p.opts.step_targets.clear();
    if (run.contains("step_kwargs") && run.at("step_kwargs").contains("eta")) p.opts.eta = run.at("step_kwargs").at("eta").get<double>();
  } else if (sched == "EulerDiscreteScheduler" || sched == "EulerAncestralDiscreteScheduler" ||
             sched == "HeunDiscreteScheduler" || sched == "LMSDiscreteScheduler") {
    p.sampler = sched == "EulerDiscreteScheduler" ? "euler"
                : sched == "EulerAncestralDiscreteScheduler" ? "euler_a"
                : sched == "HeunDiscreteScheduler" ? "heun" : "lms";
    from_scheduler_sigmas();
  } else if (sched == "DEISMultistepScheduler" || sched == "DPMSolverSinglestepScheduler") {
    p.space = Space::kVp;
    p.sampler = sched == "DEISMultistepScheduler" ? "deis" : "dpmpp_singlestep";
    p.opts.order = cfg.value("solver_order", 2);
    p.opts.lower_order_final = cfg.value("lower_order_final", true);
    const std::string algo = cfg.value("algorithm_type", std::string(sched == "DEISMultistepScheduler" ? "deis" : "dpmsolver++"));
    const std::string solver = cfg.value("solver_type", std::string(sched == "DEISMultistepScheduler" ? "logrho" : "midpoint"));
    if (algo != "deis" && algo != "dpmsolver++") p.skip = "algorithm_type " + algo;
    if (solver != "logrho" && solver != "midpoint") p.skip = "solver_type " + solver;
    from_scheduler_sigmas();
  } else if (sched == "DPMSolverMultistepScheduler" || sched == "UniPCMultistepScheduler") {
    const int order = cfg.value("solver_order", 2);
    p.space = Space::kVp;
    if (sched == "UniPCMultistepScheduler") {
      p.sampler = "unipc";
      p.opts.order = order;
      p.opts.solver_type = cfg.value("solver_type", std::string("bh2"));
    } else {
      if (order > 3) p.skip = "solver_order " + std::to_string(order) + " not supported";
      p.sampler = order == 3 ? "dpmpp_3m" : "dpmpp_2m";
      p.opts.solver_type = cfg.value("solver_type", std::string("midpoint"));
      p.opts.algorithm = cfg.value("algorithm_type", std::string("dpmsolver++"));
      if (p.opts.algorithm != "dpmsolver++" && p.opts.algorithm != "dpmsolver") p.skip = "algorithm_type " + p.opts.algorithm;
      if (cfg.value("euler_at_final", false)) p.skip = "euler_at_final";
    }
    p.opts.lower_order_final = cfg.value("lower_order_final", true);
    from_scheduler_sigmas();
  } else if (sched == "FlowMatchEulerDiscreteScheduler" || sched == "FlowMatchHeunDiscreteScheduler") {
    p.sampler = sched == "FlowMatchEulerDiscreteScheduler" ? "flow_euler" : "flow_heun";
    p.space = Space::kFlow;
    for (double t : to_doubles(run.at("scheduler_sigmas"))) add_grid_sigma(t < 1.0 ? std::min(t / (1.0 - t), kSigmaInfinity) : kSigmaInfinity);
  } else {
    p.skip = "no diffuse sampler replays " + sched;
  }
  return p;
}

Plan plan_kdiffusion(const Json& run) {
  Plan p;
  const std::string fn = run.at("function");
  const std::string base = fn.substr(fn.rfind('.') + 1);
  static const std::vector<std::pair<std::string, std::string>> names = {
      {"sample_euler", "euler"}, {"sample_euler_ancestral", "euler_a"}, {"sample_heun", "heun"},
      {"sample_dpm_2", "dpm2"}, {"sample_lms", "lms"}, {"sample_dpmpp_2m", "dpmpp_2m"},
      {"sample_dpmpp_2m_sde", "dpmpp_2m_sde"}, {"sample_dpmpp_3m_sde", "dpmpp_3m_sde"},
      {"sample_dpmpp_2s_ancestral", "dpmpp_2s_a"}};
  for (const auto& [k, v] : names) if (k == base) p.sampler = v;
  if (p.sampler.empty()) p.skip = "no diffuse sampler replays " + fn;
  p.opts.lower_order_final = false;  // k-diffusion has no lower_order_final
  const Json& kw = run.value("kwargs", Json::object());
  if (kw.contains("eta")) p.opts.eta = kw.at("eta").get<double>();
  if (kw.contains("solver_type")) p.opts.solver_type = kw.at("solver_type").get<std::string>();
  if (kw.contains("s_churn") || kw.contains("order")) p.skip = "kwargs not mapped: " + kw.dump();
  p.sigmas = to_doubles(run.at("sigmas"));
  return p;
}

// Network output of the recorded VP model at timestep t (README: integral t reads the table,
// fractional t interpolates log-sigma).
torch::Tensor vp_model_output(const GaussianMixture& g, const torch::Tensor& table_ac, const torch::Tensor& x_in,
                              double t, Prediction pred, const torch::Tensor& weights) {
  double a, s;
  if (std::floor(t) == t) {
    const double ac = table_ac[int64_t(t)].item<double>();
    a = std::sqrt(ac);
    s = std::sqrt(1.0 - ac);
  } else {
    const double sigma = t_to_sigma(sigmas_from_alphas_cumprod(table_ac), t);
    a = 1.0 / std::sqrt(1.0 + sigma * sigma);
    s = sigma * a;
  }
  const auto x0 = g.posterior_mean(x_in, a, s, weights);
  return prediction_from_x0(pred, x0, x_in, {a, s});
}

}  // namespace

std::vector<ReplayResult> replay_reference(const Json& file, const std::string& name, double tol) {
  const auto gmm = GaussianMixture::from_json(json_at(json_at(file, "denoiser", name), "gmm", name));
  const bool is_cfg = file.contains("labels");
  torch::Tensor labels, uncond_w;
  if (is_cfg) {
    labels = torch::tensor(file.at("labels").get<std::vector<int64_t>>(), torch::kLong);
    uncond_w = torch::tensor(file.at("uncond_weights").get<std::vector<double>>(), kF64);
  }
  std::vector<ReplayResult> out;
  const Json& runs = json_at(file, "runs", name);
  if (!runs.is_object() || runs.empty()) throw std::invalid_argument(name + ": 'runs' holds no runs (expected an object of named runs)");
  for (const auto& [run_name, run] : runs.items()) {
   try {  // a malformed run names the file and the run
    ReplayResult r;
    r.file = name;
    r.run = run_name;
    const bool diffusers = run.contains("scheduler");
    torch::Tensor table;
    Plan plan;
    // A run diffuse cannot replay says so in plan.skip; a malformed one throws (named below).
    if (diffusers) {
      if (run.at("resolved_config").contains("beta_schedule")) table = alphas_cumprod_for(run.at("resolved_config"));
      plan = plan_diffusers(run, table.defined() ? sigmas_from_alphas_cumprod(table) : torch::Tensor());
    } else {
      plan = plan_kdiffusion(run);
    }
    r.sampler = plan.sampler;
    if (!plan.skip.empty()) {
      r.status = "skip";
      r.note = plan.skip;
      out.push_back(r);
      continue;
    }
    // The denoiser the run used, as a conditional denoiser over labels (label -1 = uncond).
    const Json& model = run.at("model");
    const std::string kind = model.at("kind");
    const auto table_sigmas = table.defined() ? sigmas_from_alphas_cumprod(table) : torch::Tensor();
    const Prediction pred = kind == "flow" ? Prediction::kFlow
                            : kind == "ve_denoiser" ? Prediction::kSample
                            : prediction_from_name(model.at("prediction_type").get<std::string>());
    auto weights_for = [&](const Condition& c) -> torch::Tensor {
      if (!c.labels.defined()) return gmm.weights;
      auto rows = std::vector<torch::Tensor>();
      for (int64_t i = 0; i < c.labels.size(0); ++i) {
        const int64_t l = c.labels[i].item<int64_t>();
        rows.push_back(l < 0 ? uncond_w : gmm.class_weights[l]);
      }
      return torch::stack(rows);
    };
    ConditionalDenoiser cond_model;
    if (kind == "ve_denoiser") {
      cond_model = [&](const torch::Tensor& x, const torch::Tensor& sigma, const Condition& c) {
        return gmm.posterior_mean(x, 1.0, sigma.item<double>(), weights_for(c));
      };
    } else if (kind == "flow") {
      cond_model = [&](const torch::Tensor& x, const torch::Tensor& sigma, const Condition& c) {
        Network net = [&](const torch::Tensor& x_in, const torch::Tensor& t) {
          const double s = t.item<double>() / 1000.0;
          const auto x0 = gmm.posterior_mean(x_in, 1.0 - s, s, weights_for(c));
          return prediction_from_x0(Prediction::kFlow, x0, x_in, {1.0 - s, s});
        };
        return flow_denoiser(net)(x, sigma);
      };
    } else {
      cond_model = [&](const torch::Tensor& x, const torch::Tensor& sigma, const Condition& c) {
        Network net = [&](const torch::Tensor& x_in, const torch::Tensor& t) {
          return vp_model_output(gmm, table, x_in, t.item<double>(), pred, weights_for(c));
        };
        auto map = [&](double s) { return lookup_t(plan.sigma_t, s, table_sigmas); };
        return vp_denoiser(net, pred, map)(x, sigma);
      };
    }
    Denoiser denoise;
    if (is_cfg) {
      GuidanceOptions g;
      g.scale = run.at("guidance").at("guidance_scale").get<double>();
      g.rescale = run.at("guidance").at("guidance_rescale").get<double>();
      g.rescale_space = pred;
      denoise = cfg(cond_model, Condition{labels}, Condition{torch::full_like(labels, -1)}, g);
    } else {
      denoise = [cond_model](const torch::Tensor& x, const torch::Tensor& s) { return cond_model(x, s, Condition{}); };
    }

    // Noise in recorded order.
    std::deque<torch::Tensor> draws;
    if (run.contains("injected_noise")) {
      for (const auto& step : run.at("injected_noise")) {
        if (step.is_null()) continue;
        if (step.is_object()) { draws.push_back(to_tensor(step.at("noise"), "injected_noise")); continue; }
        for (const auto& d : step) draws.push_back(to_tensor(d, "injected_noise"));
      }
    }
    ReplayNoise noise(draws);

    const auto sigmas = torch::tensor(plan.sigmas, kF64);
    const auto x_init = to_tensor(run.at("x_init"), "x_init");
    const auto traj = to_tensor(run.at("trajectory"), "trajectory");
    if (x_init.dim() < 1 || traj.dim() != x_init.dim() + 1 || traj.sizes().slice(1) != x_init.sizes()) {
      throw std::invalid_argument("trajectory: expected states of x_init's shape " + shape_of(x_init) + ", got " + shape_of(traj));
    }
    if (const auto why = check_recorded_schedule(run, file); !why.empty()) {  // the record disagrees with itself
      r.status = "fail";
      r.note = why;
      out.push_back(r);
      continue;
    }
    const auto x = x_init / to_space_factor(plan.space, plan.sigmas.front());
    double err = 0.0;
    int64_t steps = 0;
    plan.opts.callback = [&](int64_t i, const torch::Tensor& xi, double sigma) {
      if (i < traj.size(0)) {
        const double e = (xi * to_space_factor(plan.space, sigma) - traj[i]).abs().max().item<double>();
        err = std::max(err, e);
      }
      steps = i + 1;
    };
    int64_t calls = 0;
    plan.opts.on_model_call = [&](double) { ++calls; };
    try {
      run_sampler(plan.sampler, denoise, x, sigmas, noise, plan.opts);
      r.max_abs_error = err;
      r.steps = steps;
      r.model_calls = calls;
      const int64_t expected_calls = diffusers ? int64_t(run.at("model_call_timesteps").size()) : int64_t(run.at("model_call_sigmas").size());
      if (steps != traj.size(0)) {
        r.status = "fail";
        r.note = "ran " + std::to_string(steps) + " steps, recorded " + std::to_string(traj.size(0));
      } else if (calls != expected_calls) {
        r.status = "fail";
        r.note = std::to_string(calls) + " model calls, recorded " + std::to_string(expected_calls);
      } else {
        r.status = err <= tol ? "pass" : "fail";
      }
    } catch (const std::exception& e) {
      r.status = "fail";
      r.note = e.what();
    }
    out.push_back(r);
   } catch (const std::exception& e) {
    throw std::invalid_argument(name + ": run '" + run_name + "': " + without_json_prefix(e.what()));
   }
  }
  return out;
}

std::vector<ReplayResult> replay_reference_file(const std::string& path, double tol) {
  const auto j = read_json_file(path);
  if (!j.contains("runs") || !j.contains("denoiser")) {
    throw std::runtime_error(path + ": not a reference trajectory file (expected keys 'runs' and 'denoiser')");
  }
  const auto name = path.substr(path.rfind('/') == std::string::npos ? 0 : path.rfind('/') + 1);
  return replay_reference(j, name, tol);
}

}  // namespace diffuse
