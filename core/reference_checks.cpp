// What a reference run records about itself, checked against diffuse's schedules.
#include "core/reference_checks.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <sstream>
#include <stdexcept>

#include "core/schedules.h"

namespace diffuse {

// An array of numbers, where the strings "inf" and "-inf" stand for the infinities JSON lacks.
std::vector<double> to_doubles(const Json& j) {
  if (!j.is_array()) throw std::invalid_argument(std::string("expected an array of numbers, got ") + j.type_name());
  std::vector<double> v;
  for (const auto& e : j) {
    if (e.is_number()) {
      v.push_back(e.get<double>());
    } else if (e.is_string() && (e.get<std::string>() == "inf" || e.get<std::string>() == "-inf")) {
      v.push_back(e.get<std::string>() == "inf" ? INFINITY : -INFINITY);
    } else {
      throw std::invalid_argument("expected numbers (or \"inf\", \"-inf\") in an array, got " + e.dump());
    }
  }
  return v;
}

torch::Tensor alphas_cumprod_for(const Json& cfg) {
  const auto T = cfg.value("num_train_timesteps", 1000);
  auto betas = make_betas(beta_schedule_from_name(cfg.value("beta_schedule", std::string("linear"))), T,
                          cfg.value("beta_start", 0.0001), cfg.value("beta_end", 0.02));
  if (cfg.value("rescale_betas_zero_snr", false)) betas = rescale_zero_terminal_snr(betas);
  return alphas_cumprod_from_betas(betas);
}

namespace {

// The numbers of a nested array, in order.
std::vector<double> numbers_in(const Json& j) {
  std::vector<double> out;
  const std::function<void(const Json&)> walk = [&](const Json& v) {
    if (v.is_array()) {
      for (const auto& e : v) walk(e);
    } else {
      out.push_back(v.is_number() ? v.get<double>() : std::nan(""));
    }
  };
  walk(j);
  return out;
}

// The first index where two sequences differ by more than tol (relative above 1), or -1.
int64_t first_difference(const std::vector<double>& a, const std::vector<double>& b, double tol) {
  if (a.size() != b.size()) return int64_t(std::min(a.size(), b.size()));
  for (size_t i = 0; i < a.size(); ++i) {
    if (!(std::abs(a[i] - b[i]) <= tol * std::max(1.0, std::abs(b[i])))) return int64_t(i);
  }
  return -1;
}

std::string differs(const char* what, const std::vector<double>& recorded, const std::vector<double>& expected, int64_t i) {
  std::ostringstream s;
  s << what << " differ from diffuse's for this config at index " << i << ": recorded "
    << (size_t(i) < recorded.size() ? std::to_string(recorded[size_t(i)]) : "none") << ", expected "
    << (size_t(i) < expected.size() ? std::to_string(expected[size_t(i)]) : "none");
  return s.str();
}

}  // namespace

std::string check_recorded_schedule(const Json& run, const Json& file) {
  const bool diffusers = run.contains("scheduler");
  // The initial state is the file's noise times the run's initial scale.
  if (file.contains("noise") && run.contains("x_init")) {
    const double scale = diffusers ? run.value("init_noise_sigma", 1.0) : to_doubles(run.at("sigmas")).at(0);
    const auto noise = torch::tensor(numbers_in(file.at("noise")), torch::kFloat64);
    const auto x = torch::tensor(numbers_in(run.at("x_init")), torch::kFloat64);
    if (noise.numel() != x.numel() || !((x - noise * scale).abs().max().item<double>() <= 1e-9 * std::max(1.0, scale))) {
      return "x_init is not the file's noise times " + std::to_string(scale);
    }
  }
  if (!diffusers) return "";
  const std::string sched = run.at("scheduler");
  const Json& cfg = run.at("resolved_config");
  const int64_t n = run.at("set_timesteps").at("num_inference_steps").get<int64_t>();
  const int64_t T = cfg.value("num_train_timesteps", 1000);
  const auto t = to_doubles(run.at("timesteps"));
  const bool heun = sched == "HeunDiscreteScheduler" || sched == "FlowMatchHeunDiscreteScheduler";
  if (int64_t(t.size()) != (heun ? 2 * n - 1 : n)) {
    return "set_timesteps asks for " + std::to_string(n) + " steps, the run records " + std::to_string(t.size()) + " timesteps";
  }
  const bool karras = cfg.value("use_karras_sigmas", false), linspace = cfg.value("timestep_spacing", std::string("linspace")) == "linspace";
  std::vector<double> expected;
  if (sched == "DDIMScheduler" || sched == "DDPMScheduler") {
    const auto spacing = spacing_from_name(cfg.value("timestep_spacing", std::string("leading")));
    const auto e = spaced_timesteps(T, n, spacing, cfg.value("steps_offset", 0), true).contiguous();
    expected.assign(e.data_ptr<double>(), e.data_ptr<double>() + n);
  } else if (!karras && linspace && (sched == "EulerDiscreteScheduler" || sched == "EulerAncestralDiscreteScheduler" || sched == "LMSDiscreteScheduler")) {
    const auto e = spaced_timesteps(T, n, Spacing::kLinspace, 0, false).contiguous();
    expected.assign(e.data_ptr<double>(), e.data_ptr<double>() + n);
  } else if (!karras && linspace && (sched == "DPMSolverMultistepScheduler" || sched == "UniPCMultistepScheduler" || sched == "DEISMultistepScheduler")) {
    const auto e = multistep_timesteps(T, n).contiguous();
    expected.assign(e.data_ptr<double>(), e.data_ptr<double>() + n);
  }
  if (!expected.empty()) {
    if (const auto i = first_difference(t, expected, 1e-9); i >= 0) return differs("timesteps", t, expected, i);
  }
  // The Euler family records its sigmas: without Karras spacing they are the config's table at
  // the timesteps (which catches an edited beta schedule).
  if (!karras && cfg.contains("beta_schedule") && run.contains("scheduler_sigmas") && !heun &&
      (sched == "EulerDiscreteScheduler" || sched == "EulerAncestralDiscreteScheduler" || sched == "LMSDiscreteScheduler")) {
    const auto table = sigmas_from_alphas_cumprod(alphas_cumprod_for(cfg));
    auto s = to_doubles(run.at("scheduler_sigmas"));
    s.resize(std::min(s.size(), t.size()));
    // diffusers interpolates the table linearly in sigma at fractional timesteps (np.interp).
    const auto at_t = timesteps_to_sigmas(table, torch::tensor(std::vector<double>(t.begin(), t.begin() + int64_t(s.size())), torch::kFloat64)).contiguous();
    const std::vector<double> from_table(at_t.data_ptr<double>(), at_t.data_ptr<double>() + at_t.numel());
    if (const auto i = first_difference(s, from_table, 1e-9); i >= 0) return differs("scheduler_sigmas", s, from_table, i);
  }
  return "";
}

}  // namespace diffuse
