// The sampler registry: the CLI's --sampler choices, `diffuse info`, the benchmarks and the
// common test suite all read this table.
#include <torch/torch.h>

#include <sstream>
#include <stdexcept>

#include "core/samplers/common.h"

namespace diffuse {

const std::vector<SamplerInfo>& samplers() {
  static const std::vector<SamplerInfo> table = {
      {"euler", sample_euler, "Euler, first order (Karras et al. 2022, Alg. 2)", false, 1},
      {"euler_a", sample_euler_ancestral, "Euler ancestral (k-diffusion)", true, 0},
      {"heun", sample_heun, "Heun, second order, EDM churn (Karras et al. 2022, Alg. 2)", false, 2},
      {"dpm2", sample_dpm_2, "DPM-2, log-sigma midpoint (k-diffusion)", false, 2},
      {"lms", sample_lms, "linear multistep, order 4 (k-diffusion)", false, 4},
      {"ddim", sample_ddim, "DDIM with eta (Song et al. 2021, eq. 12)", false, 1, true},
      {"ddpm", sample_ddpm, "DDPM ancestral, fixed_small variance (Ho et al. 2020)", true, 0, true},
      {"dpmpp_2m", sample_dpmpp_2m, "DPM-Solver++(2M) (Lu et al. 2022b)", false, 2},
      {"dpmpp_3m", sample_dpmpp_3m, "DPM-Solver++(3M), diffusers multistep order 3", false, 3},
      {"dpmpp_2m_sde", sample_dpmpp_2m_sde, "DPM-Solver++(2M) SDE (k-diffusion)", true, 0},
      {"dpmpp_3m_sde", sample_dpmpp_3m_sde, "DPM-Solver++(3M) SDE (k-diffusion)", true, 0},
      {"dpmpp_2s_a", sample_dpmpp_2s_ancestral, "DPM-Solver++(2S) ancestral (k-diffusion)", true, 0},
      {"dpmpp_singlestep", sample_dpmpp_singlestep, "DPM-Solver++ singlestep, order 2 or 3 (diffusers)", false, 2},
      {"deis", sample_deis, "DEIS logrho multistep, order 1-3 (Zhang & Chen 2023)", false, 2},
      {"unipc", sample_unipc, "UniPC bh1/bh2, order 1-3 (Zhao et al. 2023)", false, 2},
      {"flow_euler", sample_flow_euler, "flow-matching Euler (rectified flow)", false, 1},
      {"flow_heun", sample_flow_heun, "flow-matching Heun", false, 2},
  };
  return table;
}

const SamplerInfo& find_sampler(const std::string& name) {
  std::string names;
  for (const auto& s : samplers()) {
    if (s.name == name) return s;
    names += (names.empty() ? "" : ", ") + s.name;
  }
  throw std::invalid_argument("unknown sampler '" + name + "'; one of: " + names);
}

torch::Tensor run_sampler(const std::string& name, const Denoiser& denoise, torch::Tensor x,
                          const torch::Tensor& sigmas, NoiseSource& noise, const SamplerOptions& opts) {
  const auto& info = find_sampler(name);
  if (sigmas.dim() != 1 || sigmas.size(0) < 2) {
    throw std::invalid_argument("need at least one step (2 sigmas), got " + std::to_string(sigmas.numel()) + " sigmas");
  }
  const auto s = detail::to_vector(sigmas);
  for (size_t i = 0; i + 1 < s.size(); ++i) {
    if (!(s[i] > s[i + 1]) || s[i + 1] < 0) {
      std::ostringstream m;
      m << "sigmas must decrease and stay >= 0; got sigma[" << i << "]=" << s[i] << " then " << s[i + 1];
      throw std::invalid_argument(m.str());
    }
  }
  if (opts.eta && *opts.eta < 0) throw std::invalid_argument("eta must be >= 0, got " + std::to_string(*opts.eta));
  return info.fn(denoise, std::move(x), sigmas, noise, opts);
}

}  // namespace diffuse
