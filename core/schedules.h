// Noise schedules: the discrete VP tables (betas, alphas_cumprod) and the sigma sequences that
// samplers walk. All computed in float64. A sigma sequence has n + 1 entries, decreasing, and
// ends at 0 (or at sigma_min when a schedule's final_sigma says so).
//
// Sigmas are VE noise levels (x = x0 + sigma * eps, Karras et al. 2022). A VP level with
// alphas_cumprod ac has sigma = sqrt((1 - ac) / ac); a flow-matching time t has sigma = t / (1 - t).
// Infinite levels (zero terminal SNR, flow t = 1) are represented by kSigmaInfinity.
#pragma once
#include <torch/types.h>

#include <string>
#include <vector>

namespace diffuse {

// Stands in for sigma = inf (alphas_cumprod = 0, flow t = 1). At this level a = 1e-30, far below
// float64 resolution of O(1) values, so results equal the exact limit to rounding; samplers
// only use x through (x - x0) / sigma there, which stays finite.
constexpr double kSigmaInfinity = 1e30;

// ---- discrete VP tables (DDPM; diffusers' beta_schedule) -------------------------------------
enum class BetaSchedule { kLinear, kScaledLinear, kSquaredCosCapV2, kSigmoid };
BetaSchedule beta_schedule_from_name(const std::string& name);  // diffusers' names

// (T,) float64 betas. beta_start/beta_end are ignored by squaredcos_cap_v2.
torch::Tensor make_betas(BetaSchedule schedule, int64_t num_train_timesteps = 1000,
                         double beta_start = 0.00085, double beta_end = 0.012);
// Lin et al. 2023, Algorithm 1: rescales betas so that the last alphas_cumprod is exactly 0.
torch::Tensor rescale_zero_terminal_snr(const torch::Tensor& betas);
torch::Tensor alphas_cumprod_from_betas(const torch::Tensor& betas);
// sqrt((1 - ac) / ac) per entry; ac = 0 gives kSigmaInfinity.
torch::Tensor sigmas_from_alphas_cumprod(const torch::Tensor& alphas_cumprod);

// ---- timesteps of a discrete model ------------------------------------------------------------
enum class Spacing { kLeading, kTrailing, kLinspace };
Spacing spacing_from_name(const std::string& name);  // "leading", "trailing", "linspace"

// n descending timesteps in [0, T) as diffusers' DDIM/DDPM/Euler set_timesteps compute them
// (float64). `round` rounds linspace spacing to integers (DDIM does; Euler does not).
torch::Tensor spaced_timesteps(int64_t num_train_timesteps, int64_t n, Spacing spacing,
                               int64_t steps_offset = 0, bool round = true);
// diffusers' DPMSolverMultistep/UniPC/DEIS "linspace": linspace(0, T-1, n+1).round()[::-1][:-1].
torch::Tensor multistep_timesteps(int64_t num_train_timesteps, int64_t n);

// The sigma of fractional timesteps, linearly interpolated in sigma (diffusers' Euler).
torch::Tensor timesteps_to_sigmas(const torch::Tensor& table_sigmas, const torch::Tensor& timesteps);
// The (fractional) timestep of a sigma: linear interpolation of log(sigma) (diffusers'
// _sigma_to_t). Clamped to [0, T-1].
double sigma_to_t(const torch::Tensor& table_sigmas, double sigma);
// Its inverse: sigma = exp(interp(t, [0..T-1], log table_sigmas)).
double t_to_sigma(const torch::Tensor& table_sigmas, double t);

// ---- sigma sequences (n + 1 values ending at 0) -----------------------------------------------
// Karras et al. 2022, eq. 5.
torch::Tensor karras_sigmas(int64_t n, double sigma_min, double sigma_max, double rho = 7.0);
// Geometric from sigma_max to sigma_min (k-diffusion get_sigmas_exponential).
torch::Tensor exponential_sigmas(int64_t n, double sigma_min, double sigma_max);
// k-diffusion get_sigmas_polyexponential: log sigma follows ramp^rho.
torch::Tensor polyexponential_sigmas(int64_t n, double sigma_min, double sigma_max, double rho = 1.0);
// Beta-distributed timesteps (Lee et al. 2024, diffusers use_beta_sigmas): sigma_max..sigma_min
// through the Beta(alpha, beta) quantiles of 1 - linspace(0, 1, n).
torch::Tensor beta_sigmas(int64_t n, double sigma_min, double sigma_max, double alpha = 0.6,
                          double beta = 0.6);
// Continuous VP (Song et al. 2021), k-diffusion get_sigmas_vp.
torch::Tensor vp_sigmas(int64_t n, double beta_d = 19.9, double beta_min = 0.1, double eps_s = 1e-3);
// Flow matching (rectified flow): flow times t in (0, 1], shifted t' = shift t / (1 + (shift-1) t)
// as SD3 does, as diffusers' FlowMatchEulerDiscreteScheduler computes them (n + 1 values
// ending at 0). These are flow times, not sigmas; flow_to_sigmas converts.
torch::Tensor flow_times(int64_t n, double shift = 1.0, int64_t num_train_timesteps = 1000);
torch::Tensor flow_to_sigmas(const torch::Tensor& flow_t);    // t / (1 - t)
torch::Tensor sigmas_to_flow(const torch::Tensor& sigmas);    // sigma / (1 + sigma)

// Appends the final level to n sigmas: 0, or the last of them kept as is (final "sigma_min").
torch::Tensor append_zero(const torch::Tensor& sigmas);

// ---- named schedules (the CLI's --schedule choices read this table) ---------------------------
struct ScheduleOptions {
  double sigma_min = 0.0291675;  // SD's table range (scaled_linear 0.00085..0.012)
  double sigma_max = 14.6146;
  double rho = 7.0;              // karras, polyexponential
  double shift = 1.0;            // flow
  double beta_alpha = 0.6, beta_beta = 0.6;
  // Discrete models: the training table; when set, discrete-* schedules use it.
  torch::Tensor alphas_cumprod;
  int64_t steps_offset = 0;
  bool final_sigma_min = false;  // end at sigma_min instead of 0 (diffusers final_sigmas_type)
  // discrete-linspace at whole timesteps, as diffusers' DDIM and DDPM round them (its Euler
  // family keeps them fractional); the engine sets it for samplers with SamplerInfo::whole_timesteps.
  bool round_timesteps = false;
};

struct ScheduleInfo {
  std::string name;
  std::string description;
};
const std::vector<ScheduleInfo>& schedules();
// n + 1 VE sigmas for the named schedule; throws listing the names on an unknown one, and on
// n < 1, sigma_min >= sigma_max, rho <= 0 or shift <= 0.
torch::Tensor make_sigmas(const std::string& name, int64_t n, const ScheduleOptions& o = {});

// Where diffusers' DDIM steps land on the grid make_sigmas(name, n, o) gives: for the discrete-*
// schedules, step i goes from timestep t_i to t_i - T // n (the grid's final sigma once that is
// below 0), which is not the next timestep when the spacing is trailing or linspace and n does not
// divide T. (Its DDPM steps to the next timestep.) Empty for other schedules, or when every target
// is the next grid sigma.
std::vector<double> discrete_step_targets(const std::string& name, int64_t n, const ScheduleOptions& o = {});

}  // namespace diffuse
