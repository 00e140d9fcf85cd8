// DPM-Solver family (Lu et al. 2022a, 2022b) in the VE form k-diffusion uses, with
// lambda = -log(sigma) and h = lambda_next - lambda:
//   dpmpp_2m / dpmpp_3m: multistep DPM-Solver++ as diffusers' DPMSolverMultistepScheduler
//     (warm-up orders, lower_order_final below 15 steps, midpoint or heun second order,
//     "dpmsolver" noise-prediction variant);
//   dpmpp_2m_sde, dpmpp_3m_sde, dpmpp_2s_ancestral: k-diffusion's stochastic variants.
#include <torch/torch.h>

#include <cmath>
#include <deque>
#include <stdexcept>

#include "core/samplers/common.h"

namespace diffuse {
using namespace detail;

namespace {

// Multistep DPM-Solver++ of the given maximum order; diffusers' order schedule.
torch::Tensor dpm_multistep(const Denoiser& denoise, torch::Tensor x, const std::vector<double>& sigmas,
                            int max_order, const SamplerOptions& o) {
  const int64_t n = int64_t(sigmas.size()) - 1;
  const bool heun = o.solver_type == "heun";
  if (!o.solver_type.empty() && o.solver_type != "midpoint" && !heun) {
    throw std::invalid_argument("unknown solver_type '" + o.solver_type + "' for dpmpp; one of: midpoint, heun");
  }
  const bool noise_pred = o.algorithm == "dpmsolver";
  if (!noise_pred && o.algorithm != "dpmsolver++") {
    throw std::invalid_argument("unknown algorithm '" + o.algorithm + "'; one of: dpmsolver++, dpmsolver");
  }
  std::deque<torch::Tensor> m;  // model outputs (x0, or eps for dpmsolver), newest first
  std::deque<double> lam;       // their lambdas
  int lower_order_nums = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double s = sigmas[i], s_next = sigmas[i + 1];
    auto out = denoise_at(denoise, x, s, o);
    if (noise_pred) out = (x - out) / s;
    m.push_front(out);
    lam.push_front(-std::log(s));
    if (int(m.size()) > max_order) { m.pop_back(); lam.pop_back(); }

    const bool lower_final = i == n - 1 && ((o.lower_order_final && n < 15) || s_next == 0);
    const bool lower_second = i == n - 2 && o.lower_order_final && n < 15;
    int order = 3;
    if (max_order == 1 || lower_order_nums < 1 || lower_final) order = 1;
    else if (max_order == 2 || lower_order_nums < 2 || lower_second) order = 2;

    if (s_next == 0 && !noise_pred) {
      x = m[0];  // h = inf: the first-order step lands on the data estimate
    } else if (noise_pred) {
      // VE form of DPM-Solver (noise prediction): x' = x - (sigma - sigma') * (eps + correction)
      const double h = std::log(s / s_next);
      auto upd = m[0];
      if (order >= 2) {
        const double r0 = (lam[0] - lam[1]) / h;
        const auto D1 = (m[0] - m[1]) / r0;
        upd = heun ? upd + (std::expm1(h) / h - 1.0) / std::expm1(h) * D1 : upd + 0.5 * D1;
      }
      x = x - (s - s_next) * upd;
    } else {
      const double h = std::log(s / s_next);
      const double em1 = std::expm1(-h);  // e^{-h} - 1
      x = (s_next / s) * x - em1 * m[0];
      if (order == 2) {
        const double r0 = (lam[0] - lam[1]) / h;
        const auto D1 = (m[0] - m[1]) / r0;
        x = heun ? x + (em1 / h + 1.0) * D1 : x - 0.5 * em1 * D1;
      } else if (order == 3) {
        const double r0 = (lam[0] - lam[1]) / h, r1 = (lam[1] - lam[2]) / h;
        const auto D1_0 = (m[0] - m[1]) / r0, D1_1 = (m[1] - m[2]) / r1;
        const auto D1 = D1_0 + (r0 / (r0 + r1)) * (D1_0 - D1_1);
        const auto D2 = (D1_0 - D1_1) / (r0 + r1);
        x = x + (em1 / h + 1.0) * D1 - ((em1 + h) / (h * h) - 0.5) * D2;
      }
    }
    if (lower_order_nums < max_order) ++lower_order_nums;
    step_done(x, i, s_next, o);
  }
  return x;
}

}  // namespace

torch::Tensor sample_dpmpp_2m(const Denoiser& denoise, torch::Tensor x, const torch::Tensor& sigmas,
                              NoiseSource& /*noise*/, const SamplerOptions& o) {
  return dpm_multistep(denoise, std::move(x), to_vector(sigmas), 2, o);
}

torch::Tensor sample_dpmpp_3m(const Denoiser& denoise, torch::Tensor x, const torch::Tensor& sigmas,
                              NoiseSource& /*noise*/, const SamplerOptions& o) {
  return dpm_multistep(denoise, std::move(x), to_vector(sigmas), 3, o);
}

// k-diffusion sample_dpmpp_2m_sde (Lu et al. 2022b, SDE form; eta = 0 gives the ODE solver).
torch::Tensor sample_dpmpp_2m_sde(const Denoiser& denoise, torch::Tensor x, const torch::Tensor& sigmas_t,
                                  NoiseSource& noise, const SamplerOptions& o) {
  const auto sigmas = to_vector(sigmas_t);
  const double eta = o.eta.value_or(1.0);
  const bool heun = o.solver_type == "heun";
  if (!o.solver_type.empty() && o.solver_type != "midpoint" && !heun) {
    throw std::invalid_argument("unknown solver_type '" + o.solver_type + "' for dpmpp_2m_sde; one of: midpoint, heun");
  }
  torch::Tensor old_denoised;
  double h_last = 0.0;
  for (int64_t i = 0; i + 1 < int64_t(sigmas.size()); ++i) {
    const double s = sigmas[i], s_next = sigmas[i + 1];
    const auto denoised = denoise_at(denoise, x, s, o);
    double h = 0.0;
    if (s_next == 0) {
      x = denoised;
    } else {
      h = std::log(s / s_next);
      const double eta_h = eta * h;
      const double c = -std::expm1(-h - eta_h);
      x = s_next / s * std::exp(-eta_h) * x + c * denoised;
      if (old_denoised.defined()) {
        const double r = h_last / h;
        x = heun ? x + (c / (-h - eta_h) + 1.0) * (1.0 / r) * (denoised - old_denoised)
                 : x + 0.5 * c * (1.0 / r) * (denoised - old_denoised);
      }
      if (eta > 0) x = x + noise.draw(x) * s_next * std::sqrt(-std::expm1(-2.0 * eta_h)) * o.s_noise;
    }
    old_denoised = denoised;
    h_last = h;
    step_done(x, i, s_next, o);
  }
  return x;
}

// k-diffusion sample_dpmpp_3m_sde (eta = 0: deterministic DPM-Solver++(3M)).
torch::Tensor sample_dpmpp_3m_sde(const Denoiser& denoise, torch::Tensor x, const torch::Tensor& sigmas_t,
                                  NoiseSource& noise, const SamplerOptions& o) {
  const auto sigmas = to_vector(sigmas_t);
  const double eta = o.eta.value_or(1.0);
  torch::Tensor d_1, d_2;  // previous two denoised
  double h_1 = 0.0, h_2 = 0.0;
  for (int64_t i = 0; i + 1 < int64_t(sigmas.size()); ++i) {
    const double s = sigmas[i], s_next = sigmas[i + 1];
    const auto denoised = denoise_at(denoise, x, s, o);
    double h = 0.0;
    if (s_next == 0) {
      x = denoised;
    } else {
      h = std::log(s / s_next);
      const double h_eta = h * (eta + 1.0);
      x = std::exp(-h_eta) * x - std::expm1(-h_eta) * denoised;
      const double phi_2 = std::expm1(-h_eta) / h_eta + 1.0;
      if (d_2.defined()) {
        const double r0 = h_1 / h, r1 = h_2 / h;
        const auto d1_0 = (denoised - d_1) / r0, d1_1 = (d_1 - d_2) / r1;
        const auto d1 = d1_0 + (d1_0 - d1_1) * r0 / (r0 + r1);
        const auto d2 = (d1_0 - d1_1) / (r0 + r1);
        const double phi_3 = phi_2 / h_eta - 0.5;
        x = x + phi_2 * d1 - phi_3 * d2;
      } else if (d_1.defined()) {
        x = x + phi_2 * ((denoised - d_1) / (h_1 / h));
      }
      if (eta > 0) x = x + noise.draw(x) * s_next * std::sqrt(-std::expm1(-2.0 * h * eta)) * o.s_noise;
    }
    d_2 = d_1;
    d_1 = denoised;
    h_2 = h_1;
    h_1 = h;
    step_done(x, i, s_next, o);
  }
  return x;
}

// k-diffusion sample_dpmpp_2s_ancestral: DPM-Solver++(2S) to sigma_down, then fresh noise.
torch::Tensor sample_dpmpp_2s_ancestral(const Denoiser& denoise, torch::Tensor x, const torch::Tensor& sigmas_t,
                                        NoiseSource& noise, const SamplerOptions& o) {
  const auto sigmas = to_vector(sigmas_t);
  const double eta = o.eta.value_or(1.0);
  for (int64_t i = 0; i + 1 < int64_t(sigmas.size()); ++i) {
    const double s = sigmas[i];
    const auto denoised = denoise_at(denoise, x, s, o);
    const auto step = ancestral_step(s, sigmas[i + 1], eta);
    if (step.down == 0) {
      x = x + to_d(x, s, denoised) * (step.down - s);
    } else {
      const double t = -std::log(s), t_next = -std::log(step.down);
      const double h = t_next - t, s_mid = t + 0.5 * h;
      const auto x_2 = (std::exp(-s_mid) / std::exp(-t)) * x - std::expm1(-h * 0.5) * denoised;
      const auto denoised_2 = denoise_at(denoise, x_2, std::exp(-s_mid), o);
      x = (std::exp(-t_next) / std::exp(-t)) * x - std::expm1(-h) * denoised_2;
    }
    if (sigmas[i + 1] > 0) x = x + noise.draw(x) * o.s_noise * step.up;
    step_done(x, i, sigmas[i + 1], o);
  }
  return x;
}

}  // namespace diffuse
