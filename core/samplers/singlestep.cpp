// Two more multistep-family solvers as diffusers steps them:
//   dpmpp_singlestep: singlestep DPM-Solver++ (Lu et al. 2022b), DPMSolverSinglestepScheduler.
//     Steps are grouped by an order list ([1, 2] or [1, 2, 3] repeated, lower orders at the
//     end); within a group every step restarts from the group's first state, using the model
//     outputs gathered along it. Midpoint form.
//   deis: DEIS (Zhang & Chen 2023), DEISMultistepScheduler "logrho": Adams-Bashforth on eps in
//     rho = sigma with the polynomial integrated exactly in log(rho).
// Both in VE form (x = x_vp / alpha), lambda = -log(sigma).
#include <torch/torch.h>

#include <cmath>
#include <deque>
#include <stdexcept>

#include "core/samplers/common.h"

namespace diffuse {
using namespace detail;

namespace {

// diffusers DPMSolverSinglestepScheduler.get_order_list.
std::vector<int> singlestep_orders(int64_t steps, int order, bool lower_order_final, bool final_zero) {
  std::vector<int> o;
  auto repeat = [&o](std::vector<int> pattern, int64_t times) {
    for (int64_t i = 0; i < times; ++i) o.insert(o.end(), pattern.begin(), pattern.end());
  };
  if (lower_order_final) {
    if (order == 3) {
      if (steps % 3 == 0) { repeat({1, 2, 3}, steps / 3 - 1); repeat({1, 2}, 1); repeat({1}, 1); }
      else if (steps % 3 == 1) { repeat({1, 2, 3}, steps / 3); repeat({1}, 1); }
      else { repeat({1, 2, 3}, steps / 3); repeat({1, 2}, 1); }
    } else if (order == 2) {
      if (steps % 2 == 0) { repeat({1, 2}, steps / 2 - 1); repeat({1, 1}, 1); }
      else { repeat({1, 2}, steps / 2); repeat({1}, 1); }
    } else {
      repeat({1}, steps);
    }
  } else {
    if (order == 3) repeat({1, 2, 3}, steps / 3);
    else if (order == 2) repeat({1, 2}, steps / 2);
    else repeat({1}, steps);
    while (int64_t(o.size()) < steps) o.push_back(1);  // diffusers requires divisibility; finish with first order
  }
  if (final_zero && !o.empty()) o.back() = 1;
  return o;
}

}  // namespace

torch::Tensor sample_dpmpp_singlestep(const Denoiser& denoise, torch::Tensor x, const torch::Tensor& sigmas_t,
                                      NoiseSource& /*noise*/, const SamplerOptions& o) {
  const auto s = to_vector(sigmas_t);
  const int64_t n = int64_t(s.size()) - 1;
  const int max_order = o.order.value_or(2);
  if (max_order < 1 || max_order > 3) throw std::invalid_argument("dpmpp_singlestep order must be 1, 2 or 3, got " + std::to_string(max_order));
  const auto orders = singlestep_orders(n, max_order, o.lower_order_final, s.back() == 0);
  std::deque<torch::Tensor> m;  // x0 estimates, newest first
  torch::Tensor start;          // the state at the start of the current group
  for (int64_t i = 0; i < n; ++i) {
    m.push_front(denoise_at(denoise, x, s[i], o));
    if (int(m.size()) > max_order) m.pop_back();
    int order = std::min<int>(orders[size_t(i)], int(m.size()));
    if (order == 1) start = x;
    const double s_next = s[i + 1];
    if (s_next == 0) {
      x = m[0];
    } else {
      const double s_from = s[i - order + 1];  // the group's first sigma
      const double h = std::log(s_from / s_next), em1 = std::expm1(-h);
      if (order == 1) {
        x = (s_next / s_from) * start - em1 * m[0];
      } else if (order == 2) {
        const double r0 = std::log(s_from / s[i]) / h;
        x = (s_next / s_from) * start - em1 * m[1] - 0.5 * em1 * (m[0] - m[1]) / r0;
      } else {
        const double r0 = std::log(s_from / s[i]) / h;  // (lambda_s0 - lambda_s2) / h
        x = (s_next / s_from) * start - em1 * m[2] + (em1 / h + 1.0) * (m[0] - m[2]) / r0;
      }
    }
    step_done(x, i, s_next, o);
  }
  return x;
}

namespace {
// Integral of the Lagrange basis in log(rho) (diffusers' ind_fn for DEIS "logrho").
double ind2(double t, double b, double c) { return t * (-std::log(c) + std::log(t) - 1) / (std::log(b) - std::log(c)); }
double ind3(double t, double b, double c, double d) {
  const double lt = std::log(t), lc = std::log(c), ld = std::log(d), lb = std::log(b);
  return t * (lc * (ld - lt + 1) - ld * lt + ld + lt * lt - 2 * lt + 2) / ((lb - lc) * (lb - ld));
}
}  // namespace

torch::Tensor sample_deis(const Denoiser& denoise, torch::Tensor x, const torch::Tensor& sigmas_t,
                          NoiseSource& /*noise*/, const SamplerOptions& o) {
  const auto s = to_vector(sigmas_t);
  const int64_t n = int64_t(s.size()) - 1;
  const int max_order = o.order.value_or(2);
  if (max_order < 1 || max_order > 3) throw std::invalid_argument("deis order must be 1, 2 or 3, got " + std::to_string(max_order));
  std::deque<torch::Tensor> eps;  // noise estimates, newest first
  int lower_order_nums = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double st = s[i + 1];
    const auto x0 = denoise_at(denoise, x, s[i], o);
    eps.push_front((x - x0) / s[i]);
    if (int(eps.size()) > max_order) eps.pop_back();
    const bool lower_final = i == n - 1 && o.lower_order_final && n < 15;
    const bool lower_second = i == n - 2 && o.lower_order_final && n < 15;
    int order = 3;
    if (max_order == 1 || lower_order_nums < 1 || lower_final || st == 0) order = 1;
    else if (max_order == 2 || lower_order_nums < 2 || lower_second) order = 2;
    if (st == 0) {
      x = x0;
    } else if (order == 1) {
      x = x - (s[i] - st) * eps[0];
    } else if (order == 2) {
      const double r0 = s[i], r1 = s[i - 1];
      x = x + (ind2(st, r0, r1) - ind2(r0, r0, r1)) * eps[0] + (ind2(st, r1, r0) - ind2(r0, r1, r0)) * eps[1];
    } else {
      const double r0 = s[i], r1 = s[i - 1], r2 = s[i - 2];
      x = x + (ind3(st, r0, r1, r2) - ind3(r0, r0, r1, r2)) * eps[0] +
          (ind3(st, r1, r2, r0) - ind3(r0, r1, r2, r0)) * eps[1] + (ind3(st, r2, r0, r1) - ind3(r0, r2, r0, r1)) * eps[2];
    }
    if (lower_order_nums < max_order) ++lower_order_nums;
    step_done(x, i, st, o);
  }
  return x;
}

}  // namespace diffuse
