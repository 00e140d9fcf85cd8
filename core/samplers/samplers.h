// Samplers: one function each, one signature, one registry row each. A sampler walks the VE
// sigmas (n + 1 values, decreasing) from x at sigmas[0] and returns x at sigmas[n].
#pragma once
#include <torch/types.h>

#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "core/denoiser.h"
#include "core/noise.h"

namespace diffuse {

struct SamplerOptions {
  // Amount of fresh noise for ancestral/SDE samplers (default per sampler: 1 for ancestral and
  // SDE samplers, 0 for DDIM).
  std::optional<double> eta;
  double s_noise = 1.0;
  // EDM churn (Karras et al. 2022, Algorithm 2) for heun, euler and dpm2.
  double s_churn = 0.0, s_tmin = 0.0, s_tmax = std::numeric_limits<double>::infinity();
  // Multistep order (lms: 4; unipc: 2, up to 3).
  std::optional<int> order;
  // "midpoint" or "heun" (dpmpp_2m, dpmpp_2m_sde); "bh1" or "bh2" (unipc).
  std::string solver_type;
  // "dpmsolver++" (data prediction, default) or "dpmsolver" (noise prediction), dpmpp_2m only.
  std::string algorithm = "dpmsolver++";
  // diffusers' lower_order_final: below 15 steps, the last steps drop to lower order.
  bool lower_order_final = true;
  // ddim: the sigma step i lands on when it is not sigmas[i + 1]. diffusers' DDIM steps from
  // timestep t to t - T // n whatever the next timestep of the grid is, then evaluates the model at
  // that next timestep with the state unchanged in VP terms; with trailing or linspace spacing and
  // n not dividing T the two differ (discrete_step_targets in schedules.h). Empty: the next grid
  // sigma. (diffusers' DDPM steps to the next timestep: ddpm ignores them.)
  std::vector<double> step_targets;
  // Called after every step with the step index, the new state and the sigma it sits at.
  std::function<void(int64_t step, const torch::Tensor& x, double sigma)> callback;
  // Called with every sigma at which the denoiser is evaluated (NFE accounting, replay).
  std::function<void(double sigma)> on_model_call;
};

using SamplerFn = torch::Tensor (*)(const Denoiser& denoise, torch::Tensor x, const torch::Tensor& sigmas,
                                    NoiseSource& noise, const SamplerOptions& opts);

struct SamplerInfo {
  std::string name;
  SamplerFn fn;
  std::string description;
  bool stochastic;  // draws noise at its default options
  int order;        // convergence order of the deterministic solver (0 for SDE samplers)
  // Runs the discrete-linspace schedule at whole timesteps, as diffusers' DDIM and DDPM round
  // them (ScheduleOptions::round_timesteps; its Euler family keeps them fractional).
  bool whole_timesteps = false;
};

const std::vector<SamplerInfo>& samplers();
// Throws "unknown sampler 'x'; one of: ..." for an unknown name.
const SamplerInfo& find_sampler(const std::string& name);

// Runs a sampler after checking its inputs (steps >= 1, decreasing non-negative sigmas).
torch::Tensor run_sampler(const std::string& name, const Denoiser& denoise, torch::Tensor x,
                          const torch::Tensor& sigmas, NoiseSource& noise, const SamplerOptions& opts = {});

// ---- the samplers ----------------------------------------------------------------------------
torch::Tensor sample_euler(const Denoiser&, torch::Tensor, const torch::Tensor&, NoiseSource&, const SamplerOptions&);
torch::Tensor sample_euler_ancestral(const Denoiser&, torch::Tensor, const torch::Tensor&, NoiseSource&, const SamplerOptions&);
torch::Tensor sample_heun(const Denoiser&, torch::Tensor, const torch::Tensor&, NoiseSource&, const SamplerOptions&);
torch::Tensor sample_dpm_2(const Denoiser&, torch::Tensor, const torch::Tensor&, NoiseSource&, const SamplerOptions&);
torch::Tensor sample_lms(const Denoiser&, torch::Tensor, const torch::Tensor&, NoiseSource&, const SamplerOptions&);
torch::Tensor sample_ddim(const Denoiser&, torch::Tensor, const torch::Tensor&, NoiseSource&, const SamplerOptions&);
torch::Tensor sample_ddpm(const Denoiser&, torch::Tensor, const torch::Tensor&, NoiseSource&, const SamplerOptions&);
torch::Tensor sample_dpmpp_2m(const Denoiser&, torch::Tensor, const torch::Tensor&, NoiseSource&, const SamplerOptions&);
torch::Tensor sample_dpmpp_3m(const Denoiser&, torch::Tensor, const torch::Tensor&, NoiseSource&, const SamplerOptions&);
torch::Tensor sample_dpmpp_2m_sde(const Denoiser&, torch::Tensor, const torch::Tensor&, NoiseSource&, const SamplerOptions&);
torch::Tensor sample_dpmpp_3m_sde(const Denoiser&, torch::Tensor, const torch::Tensor&, NoiseSource&, const SamplerOptions&);
torch::Tensor sample_dpmpp_2s_ancestral(const Denoiser&, torch::Tensor, const torch::Tensor&, NoiseSource&, const SamplerOptions&);
torch::Tensor sample_dpmpp_singlestep(const Denoiser&, torch::Tensor, const torch::Tensor&, NoiseSource&, const SamplerOptions&);
torch::Tensor sample_deis(const Denoiser&, torch::Tensor, const torch::Tensor&, NoiseSource&, const SamplerOptions&);
torch::Tensor sample_unipc(const Denoiser&, torch::Tensor, const torch::Tensor&, NoiseSource&, const SamplerOptions&);
torch::Tensor sample_flow_euler(const Denoiser&, torch::Tensor, const torch::Tensor&, NoiseSource&, const SamplerOptions&);
torch::Tensor sample_flow_heun(const Denoiser&, torch::Tensor, const torch::Tensor&, NoiseSource&, const SamplerOptions&);

}  // namespace diffuse
