// UniPC (Zhao et al. 2023): multistep predictor UniP with the corrector UniC, data prediction,
// B(h) = h ("bh1") or e^h - 1 ("bh2"), order 1..3, as diffusers' UniPCMultistepScheduler steps
// (lower_order_final always on there: the last steps use the orders that remain). Written in
// the VE form: x' = (sigma'/sigma) x - (e^{-h} - 1) m0 - B(h) * sum_k rho_k D_k.
#include <torch/torch.h>

#include <cmath>
#include <deque>
#include <stdexcept>

#include "core/samplers/common.h"

namespace diffuse {
using namespace detail;

namespace {

// Solves the K x K system A y = b (K <= 3) by Gaussian elimination with partial pivoting.
std::vector<double> solve(std::vector<std::vector<double>> A, std::vector<double> b) {
  const size_t K = b.size();
  for (size_t c = 0; c < K; ++c) {
    size_t p = c;
    for (size_t r = c + 1; r < K; ++r) if (std::abs(A[r][c]) > std::abs(A[p][c])) p = r;
    std::swap(A[c], A[p]);
    std::swap(b[c], b[p]);
    for (size_t r = c + 1; r < K; ++r) {
      const double f = A[r][c] / A[c][c];
      for (size_t k = c; k < K; ++k) A[r][k] -= f * A[c][k];
      b[r] -= f * b[c];
    }
  }
  std::vector<double> y(K);
  for (size_t r = K; r-- > 0;) {
    double s = b[r];
    for (size_t k = r + 1; k < K; ++k) s -= A[r][k] * y[k];
    y[r] = s / A[r][r];
  }
  return y;
}

struct UniCoefficients {
  double h_phi_1, B_h;
  std::vector<double> rks;               // r_1..r_{K-1}, then 1
  std::vector<std::vector<double>> R;    // R[i][k] = rks[k]^i
  std::vector<double> b;
};

// The shared coefficient computation of UniP and UniC (diffusers multistep_uni_{p,c}_bh_update).
UniCoefficients uni_coefficients(double h, const std::vector<double>& lambdas_prev, double lambda_s0,
                                 int order, bool bh2) {
  UniCoefficients c;
  for (double l : lambdas_prev) c.rks.push_back((l - lambda_s0) / h);
  c.rks.push_back(1.0);
  const double hh = -h;  // data prediction
  c.h_phi_1 = std::expm1(hh);
  double h_phi_k = c.h_phi_1 / hh - 1.0;
  double factorial_i = 1.0;
  c.B_h = bh2 ? std::expm1(hh) : hh;
  for (int i = 1; i <= order; ++i) {
    std::vector<double> row;
    for (double r : c.rks) row.push_back(std::pow(r, i - 1));
    c.R.push_back(row);
    c.b.push_back(h_phi_k * factorial_i / c.B_h);
    factorial_i *= i + 1;
    h_phi_k = h_phi_k / hh - 1.0 / factorial_i;
  }
  return c;
}

}  // namespace

torch::Tensor sample_unipc(const Denoiser& denoise, torch::Tensor x, const torch::Tensor& sigmas_t,
                           NoiseSource& /*noise*/, const SamplerOptions& o) {
  const auto sigmas = to_vector(sigmas_t);
  const int64_t n = int64_t(sigmas.size()) - 1;
  const int solver_order = o.order.value_or(2);
  if (solver_order < 1 || solver_order > 3) throw std::invalid_argument("unipc order must be 1, 2 or 3, got " + std::to_string(solver_order));
  const std::string type = o.solver_type.empty() ? "bh2" : o.solver_type;
  if (type != "bh1" && type != "bh2") throw std::invalid_argument("unknown solver_type '" + type + "' for unipc; one of: bh1, bh2");
  const bool bh2 = type == "bh2";
  auto lambda = [](double s) { return -std::log(s); };

  std::deque<torch::Tensor> m;  // model outputs (x0), newest first
  std::deque<double> lam;       // their lambdas
  torch::Tensor last_sample;
  int this_order = 1, lower_order_nums = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double s = sigmas[i], s_next = sigmas[i + 1];
    const auto model_t = denoise_at(denoise, x, s, o);
    if (i > 0) {  // UniC: correct x (predicted from last_sample) with the model output at it
      const double h = lambda(s) - lam[0];
      std::vector<double> lp;
      for (int k = 1; k < this_order; ++k) lp.push_back(lam[size_t(k)]);
      const auto c = uni_coefficients(h, lp, lam[0], this_order, bh2);
      const auto rhos = this_order == 1 ? std::vector<double>{0.5} : solve(c.R, c.b);
      auto corr = torch::zeros_like(x);
      for (int k = 1; k < this_order; ++k) corr = corr + rhos[size_t(k - 1)] * (m[size_t(k)] - m[0]) / c.rks[size_t(k - 1)];
      corr = corr + rhos.back() * (model_t - m[0]);
      x = (s / sigmas[i - 1]) * last_sample - c.h_phi_1 * m[0] - c.B_h * corr;
    }
    m.push_front(model_t);
    lam.push_front(lambda(s));
    if (int(m.size()) > solver_order) { m.pop_back(); lam.pop_back(); }
    this_order = o.lower_order_final ? int(std::min<int64_t>(solver_order, n - i)) : solver_order;
    this_order = std::min(this_order, lower_order_nums + 1);
    last_sample = x;
    // UniP: predict x at s_next.
    if (s_next == 0) {
      x = m[0];  // h = inf: e^{-h} - 1 = -1, B(h) terms vanish at order 1
    } else {
      const double h = lambda(s_next) - lam[0];
      std::vector<double> lp;
      for (int k = 1; k < this_order; ++k) lp.push_back(lam[size_t(k)]);
      const auto c = uni_coefficients(h, lp, lam[0], this_order, bh2);
      auto xt = (s_next / s) * x - c.h_phi_1 * m[0];
      if (this_order >= 2) {
        std::vector<double> rhos;
        if (this_order == 2) {
          rhos = {0.5};
        } else {
          std::vector<std::vector<double>> R(size_t(this_order - 1));
          for (int r = 0; r < this_order - 1; ++r) R[size_t(r)] = std::vector<double>(c.R[size_t(r)].begin(), c.R[size_t(r)].end() - 1);
          rhos = solve(R, std::vector<double>(c.b.begin(), c.b.end() - 1));
        }
        auto pred = torch::zeros_like(x);
        for (int k = 1; k < this_order; ++k) pred = pred + rhos[size_t(k - 1)] * (m[size_t(k)] - m[0]) / c.rks[size_t(k - 1)];
        xt = xt - c.B_h * pred;
      }
      x = xt;
    }
    if (lower_order_nums < solver_order) ++lower_order_nums;
    step_done(x, i, s_next, o);
  }
  return x;
}

}  // namespace diffuse
