// Noise schedules, written to match diffusers' and k-diffusion's float64 arithmetic.
#include "core/schedules.h"

#include <torch/torch.h>

#include <cmath>
#include <stdexcept>

namespace diffuse {
namespace {

const auto kF64 = torch::TensorOptions().dtype(torch::kFloat64);

std::vector<double> to_vector(const torch::Tensor& t) {
  auto c = t.to(torch::kFloat64).contiguous();
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

torch::Tensor from_vector(const std::vector<double>& v) {
  return torch::tensor(v, kF64);
}

void check_steps(int64_t n) {
  if (n < 1) throw std::invalid_argument("steps must be >= 1, got " + std::to_string(n));
}

void check_range(double sigma_min, double sigma_max) {
  if (!(sigma_min > 0.0) || !(sigma_max > sigma_min)) {
    throw std::invalid_argument("sigma range must satisfy 0 < sigma_min < sigma_max, got sigma_min=" +
                                std::to_string(sigma_min) + " sigma_max=" + std::to_string(sigma_max));
  }
}

// Regularized incomplete beta I_x(a, b) by Lentz's continued fraction (Numerical Recipes 6.4).
double incomplete_beta(double x, double a, double b) {
  if (x <= 0.0) return 0.0;
  if (x >= 1.0) return 1.0;
  const double front = std::exp(std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) +
                                a * std::log(x) + b * std::log1p(-x));
  auto cf = [](double x, double a, double b) {
    const double tiny = 1e-300;
    double c = 1.0, d = 1.0 - (a + b) * x / (a + 1.0);
    if (std::abs(d) < tiny) d = tiny;
    d = 1.0 / d;
    double h = d;
    for (int m = 1; m <= 10000; ++m) {
      const double m2 = 2.0 * m;
      double aa = m * (b - m) * x / ((a + m2 - 1.0) * (a + m2));
      d = 1.0 + aa * d; if (std::abs(d) < tiny) d = tiny;
      c = 1.0 + aa / c; if (std::abs(c) < tiny) c = tiny;
      d = 1.0 / d; h *= d * c;
      aa = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0));
      d = 1.0 + aa * d; if (std::abs(d) < tiny) d = tiny;
      c = 1.0 + aa / c; if (std::abs(c) < tiny) c = tiny;
      d = 1.0 / d;
      const double del = d * c;
      h *= del;
      if (std::abs(del - 1.0) < 1e-16) break;
    }
    return h;
  };
  if (x < (a + 1.0) / (a + b + 2.0)) return front * cf(x, a, b) / a;
  return 1.0 - front * cf(1.0 - x, b, a) / b;
}

// Quantile of Beta(a, b) by bisection on I_x (monotone), to double precision.
double beta_ppf(double q, double a, double b) {
  if (q <= 0.0) return 0.0;
  if (q >= 1.0) return 1.0;
  double lo = 0.0, hi = 1.0;
  for (int i = 0; i < 200 && hi - lo > 1e-17; ++i) {
    const double mid = 0.5 * (lo + hi);
    (incomplete_beta(mid, a, b) < q ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

// np.interp on an increasing grid xp.
double interp(double x, const std::vector<double>& xp, const std::vector<double>& fp) {
  if (x <= xp.front()) return fp.front();
  if (x >= xp.back()) return fp.back();
  const auto it = std::upper_bound(xp.begin(), xp.end(), x);
  const size_t hi = size_t(it - xp.begin()), lo = hi - 1;
  const double w = (x - xp[lo]) / (xp[hi] - xp[lo]);
  return fp[lo] + w * (fp[hi] - fp[lo]);
}

}  // namespace

BetaSchedule beta_schedule_from_name(const std::string& name) {
  if (name == "linear") return BetaSchedule::kLinear;
  if (name == "scaled_linear") return BetaSchedule::kScaledLinear;
  if (name == "squaredcos_cap_v2" || name == "cosine") return BetaSchedule::kSquaredCosCapV2;
  if (name == "sigmoid") return BetaSchedule::kSigmoid;
  throw std::invalid_argument("unknown beta schedule '" + name +
                              "'; one of: linear, scaled_linear, squaredcos_cap_v2, sigmoid");
}

torch::Tensor make_betas(BetaSchedule schedule, int64_t T, double beta_start, double beta_end) {
  if (T < 2) throw std::invalid_argument("num_train_timesteps must be >= 2, got " + std::to_string(T));
  switch (schedule) {
    case BetaSchedule::kLinear:
      return torch::linspace(beta_start, beta_end, T, kF64);
    case BetaSchedule::kScaledLinear:
      return torch::linspace(std::sqrt(beta_start), std::sqrt(beta_end), T, kF64).pow(2);
    case BetaSchedule::kSquaredCosCapV2: {  // Nichol & Dhariwal 2021, eq. 17, betas capped at 0.999
      auto alpha_bar = [](double t) {
        const double c = std::cos((t + 0.008) / 1.008 * M_PI / 2.0);
        return c * c;
      };
      std::vector<double> betas(static_cast<size_t>(T));
      for (int64_t i = 0; i < T; ++i) {
        const double t1 = double(i) / double(T), t2 = double(i + 1) / double(T);
        betas[size_t(i)] = std::min(1.0 - alpha_bar(t2) / alpha_bar(t1), 0.999);
      }
      return from_vector(betas);
    }
    case BetaSchedule::kSigmoid:
      return torch::sigmoid(torch::linspace(-6.0, 6.0, T, kF64)) * (beta_end - beta_start) + beta_start;
  }
  throw std::logic_error("unreachable");
}

torch::Tensor rescale_zero_terminal_snr(const torch::Tensor& betas) {
  auto alphas_bar_sqrt = (1.0 - betas.to(torch::kFloat64)).cumprod(0).sqrt();
  const auto a0 = alphas_bar_sqrt[0].clone();
  const auto aT = alphas_bar_sqrt[-1].clone();
  alphas_bar_sqrt = (alphas_bar_sqrt - aT) * (a0 / (a0 - aT));
  const auto alphas_bar = alphas_bar_sqrt.pow(2);
  auto alphas = alphas_bar.slice(0, 1) / alphas_bar.slice(0, 0, -1);
  alphas = torch::cat({alphas_bar.slice(0, 0, 1), alphas});
  return 1.0 - alphas;
}

torch::Tensor alphas_cumprod_from_betas(const torch::Tensor& betas) {
  return (1.0 - betas.to(torch::kFloat64)).cumprod(0);
}

torch::Tensor sigmas_from_alphas_cumprod(const torch::Tensor& ac) {
  auto s = ((1.0 - ac) / ac).sqrt();
  return torch::where(ac > 0, s, torch::full_like(s, kSigmaInfinity)).clamp_max(kSigmaInfinity);
}

Spacing spacing_from_name(const std::string& name) {
  if (name == "leading") return Spacing::kLeading;
  if (name == "trailing") return Spacing::kTrailing;
  if (name == "linspace") return Spacing::kLinspace;
  throw std::invalid_argument("unknown timestep spacing '" + name + "'; one of: leading, trailing, linspace");
}

torch::Tensor spaced_timesteps(int64_t T, int64_t n, Spacing spacing, int64_t steps_offset, bool round) {
  check_steps(n);
  if (n > T) {
    throw std::invalid_argument("steps (" + std::to_string(n) + ") must not exceed the " +
                                std::to_string(T) + " training timesteps");
  }
  std::vector<double> t(static_cast<size_t>(n));
  switch (spacing) {
    case Spacing::kLeading: {  // (arange(n) * (T // n)).round()[::-1] + offset
      const int64_t ratio = T / n;
      for (int64_t i = 0; i < n; ++i) t[size_t(i)] = double((n - 1 - i) * ratio + steps_offset);
      break;
    }
    case Spacing::kTrailing: {  // round(arange(T, 0, -T / n)) - 1
      const double ratio = double(T) / double(n);
      for (int64_t i = 0; i < n; ++i) t[size_t(i)] = std::nearbyint(double(T) - double(i) * ratio) - 1.0;
      break;
    }
    case Spacing::kLinspace: {  // linspace(0, T - 1, n)[::-1], rounded for DDIM
      const auto ls = to_vector(torch::linspace(0.0, double(T - 1), n, kF64));
      for (int64_t i = 0; i < n; ++i) {
        const double v = ls[size_t(n - 1 - i)];
        t[size_t(i)] = round ? std::nearbyint(v) : v;
      }
      break;
    }
  }
  return from_vector(t);
}

torch::Tensor multistep_timesteps(int64_t T, int64_t n) {
  check_steps(n);
  const auto ls = to_vector(torch::linspace(0.0, double(T - 1), n + 1, kF64));
  std::vector<double> t(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) t[size_t(i)] = std::nearbyint(ls[size_t(n - i)]);
  return from_vector(t);
}

torch::Tensor timesteps_to_sigmas(const torch::Tensor& table_sigmas, const torch::Tensor& timesteps) {
  const auto fp = to_vector(table_sigmas);
  std::vector<double> xp(fp.size());
  for (size_t i = 0; i < xp.size(); ++i) xp[i] = double(i);
  std::vector<double> out;
  for (double t : to_vector(timesteps)) out.push_back(interp(t, xp, fp));
  return from_vector(out);
}

double sigma_to_t(const torch::Tensor& table_sigmas, double sigma) {
  // diffusers _sigma_to_t: find the bracketing pair of log-sigmas and interpolate linearly.
  const auto s = to_vector(table_sigmas);
  const double log_sigma = std::log(std::max(sigma, 1e-10));
  const int64_t T = int64_t(s.size());
  int64_t low = 0;
  for (int64_t i = 0; i < T; ++i) {
    if (log_sigma - std::log(s[size_t(i)]) >= 0) low = i;
  }
  low = std::min(low, T - 2);
  const double lo = std::log(s[size_t(low)]), hi = std::log(s[size_t(low + 1)]);
  double w = (lo - log_sigma) / (lo - hi);
  w = std::clamp(w, 0.0, 1.0);
  return (1.0 - w) * double(low) + w * double(low + 1);
}

double t_to_sigma(const torch::Tensor& table_sigmas, double t) {
  const auto s = to_vector(table_sigmas);
  const double tc = std::clamp(t, 0.0, double(s.size() - 1));
  const size_t lo = std::min(size_t(tc), s.size() - 2);
  const double w = tc - double(lo);
  if (w == 0.0) return s[lo];
  return std::exp((1.0 - w) * std::log(s[lo]) + w * std::log(s[lo + 1]));
}

torch::Tensor append_zero(const torch::Tensor& sigmas) {
  return torch::cat({sigmas.to(torch::kFloat64), torch::zeros({1}, kF64)});
}

torch::Tensor karras_sigmas(int64_t n, double sigma_min, double sigma_max, double rho) {
  check_steps(n);
  check_range(sigma_min, sigma_max);
  if (!(rho > 0)) throw std::invalid_argument("rho must be > 0, got " + std::to_string(rho));
  const auto ramp = torch::linspace(0.0, 1.0, n, kF64);
  const double min_inv_rho = std::pow(sigma_min, 1.0 / rho), max_inv_rho = std::pow(sigma_max, 1.0 / rho);
  return append_zero((max_inv_rho + ramp * (min_inv_rho - max_inv_rho)).pow(rho));
}

torch::Tensor exponential_sigmas(int64_t n, double sigma_min, double sigma_max) {
  check_steps(n);
  check_range(sigma_min, sigma_max);
  return append_zero(torch::linspace(std::log(sigma_max), std::log(sigma_min), n, kF64).exp());
}

torch::Tensor polyexponential_sigmas(int64_t n, double sigma_min, double sigma_max, double rho) {
  check_steps(n);
  check_range(sigma_min, sigma_max);
  if (!(rho > 0)) throw std::invalid_argument("rho must be > 0, got " + std::to_string(rho));
  const auto ramp = torch::linspace(1.0, 0.0, n, kF64).pow(rho);
  return append_zero((ramp * (std::log(sigma_max) - std::log(sigma_min)) + std::log(sigma_min)).exp());
}

torch::Tensor beta_sigmas(int64_t n, double sigma_min, double sigma_max, double alpha, double beta) {
  check_steps(n);
  check_range(sigma_min, sigma_max);
  if (!(alpha > 0) || !(beta > 0)) throw std::invalid_argument("beta schedule needs alpha > 0 and beta > 0");
  const auto ts = to_vector(torch::linspace(0.0, 1.0, n, kF64));
  std::vector<double> s;
  for (double t : ts) s.push_back(sigma_min + beta_ppf(1.0 - t, alpha, beta) * (sigma_max - sigma_min));
  return append_zero(from_vector(s));
}

torch::Tensor vp_sigmas(int64_t n, double beta_d, double beta_min, double eps_s) {
  check_steps(n);
  const auto t = torch::linspace(1.0, eps_s, n, kF64);
  return append_zero(torch::sqrt(torch::exp(beta_d * t.pow(2) / 2 + beta_min * t) - 1));
}

torch::Tensor flow_times(int64_t n, double shift, int64_t T) {
  check_steps(n);
  if (!(shift > 0)) throw std::invalid_argument("shift must be > 0, got " + std::to_string(shift));
  auto shifted = [shift](double t) { return shift * t / (1.0 + (shift - 1.0) * t); };
  // Training levels t = linspace(1, T, T)[::-1] / T, shifted; inference spans their range.
  const double t_max = shifted(1.0), t_min = shifted(1.0 / double(T));
  const auto ts = to_vector(torch::linspace(t_max * double(T), t_min * double(T), n, kF64));
  std::vector<double> out;
  for (double t : ts) out.push_back(shifted(t / double(T)));
  return append_zero(from_vector(out));
}

torch::Tensor flow_to_sigmas(const torch::Tensor& t) {
  auto s = t / (1.0 - t);
  return torch::where(t < 1.0, s, torch::full_like(s, kSigmaInfinity)).clamp_max(kSigmaInfinity);
}

torch::Tensor sigmas_to_flow(const torch::Tensor& sigmas) { return sigmas / (1.0 + sigmas); }

// ---- the named-schedule table ----------------------------------------------------------------

const std::vector<ScheduleInfo>& schedules() {
  static const std::vector<ScheduleInfo> table = {
      {"karras", "Karras et al. 2022, eq. 5 (rho)"},
      {"exponential", "geometric in sigma (k-diffusion)"},
      {"polyexponential", "log-sigma along ramp^rho (k-diffusion)"},
      {"beta", "Beta(0.6, 0.6) quantiles (Lee et al. 2024)"},
      {"vp", "continuous VP (Song et al. 2021)"},
      {"discrete-leading", "model table, leading spacing (DDIM/SD)"},
      {"discrete-trailing", "model table, trailing spacing (Lin et al. 2023)"},
      {"discrete-linspace", "model table, linspace spacing"},
      {"flow", "flow matching, SD3 shift"},
  };
  return table;
}

torch::Tensor make_sigmas(const std::string& name, int64_t n, const ScheduleOptions& o) {
  check_steps(n);
  check_range(o.sigma_min, o.sigma_max);
  torch::Tensor sigmas;
  if (name == "karras") {
    sigmas = karras_sigmas(n, o.sigma_min, o.sigma_max, o.rho);
  } else if (name == "exponential") {
    sigmas = exponential_sigmas(n, o.sigma_min, o.sigma_max);
  } else if (name == "polyexponential") {
    sigmas = polyexponential_sigmas(n, o.sigma_min, o.sigma_max, o.rho);
  } else if (name == "beta") {
    sigmas = beta_sigmas(n, o.sigma_min, o.sigma_max, o.beta_alpha, o.beta_beta);
  } else if (name == "vp") {
    sigmas = vp_sigmas(n);
  } else if (name.rfind("discrete-", 0) == 0) {
    const auto spacing = spacing_from_name(name.substr(9));
    auto ac = o.alphas_cumprod.defined()
                  ? o.alphas_cumprod
                  : alphas_cumprod_from_betas(make_betas(BetaSchedule::kScaledLinear));
    const auto table = sigmas_from_alphas_cumprod(ac);
    const auto t = spaced_timesteps(table.size(0), n, spacing, o.steps_offset, o.round_timesteps);
    sigmas = append_zero(timesteps_to_sigmas(table, t));
  } else if (name == "flow") {
    sigmas = flow_to_sigmas(flow_times(n, o.shift));
  } else {
    std::string names;
    for (const auto& s : schedules()) names += (names.empty() ? "" : ", ") + s.name;
    throw std::invalid_argument("unknown schedule '" + name + "'; one of: " + names);
  }
  if (o.final_sigma_min) sigmas[-1] = o.sigma_min;
  return sigmas;
}

std::vector<double> discrete_step_targets(const std::string& name, int64_t n, const ScheduleOptions& o) {
  if (name.rfind("discrete-", 0) != 0) return {};
  const auto grid = to_vector(make_sigmas(name, n, o));
  const auto ac = o.alphas_cumprod.defined() ? o.alphas_cumprod : alphas_cumprod_from_betas(make_betas(BetaSchedule::kScaledLinear));
  const auto table = sigmas_from_alphas_cumprod(ac);
  const int64_t T = table.size(0);
  const auto t = to_vector(spaced_timesteps(T, n, spacing_from_name(name.substr(9)), o.steps_offset, o.round_timesteps));
  std::vector<double> targets;
  bool differs = false;
  for (int64_t i = 0; i < n; ++i) {
    const double prev = t[size_t(i)] - double(T / n);
    targets.push_back(prev >= 0 ? to_vector(timesteps_to_sigmas(table, from_vector({prev})))[0] : grid.back());
    differs = differs || targets.back() != grid[size_t(i + 1)];
  }
  return differs ? targets : std::vector<double>{};
}

}  // namespace diffuse
