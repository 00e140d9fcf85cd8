// Replays golden trajectories (the schema of shared/reference/README.md: diffusers and
// k-diffusion runs on the analytic Gaussian-mixture denoiser) through diffuse's samplers and
// reports, per run, the largest deviation from the recorded states.
#pragma once
#include <string>
#include <vector>

#include "core/json.h"

namespace diffuse {

struct ReplayResult {
  std::string file;
  std::string run;
  std::string sampler;     // diffuse's sampler that replayed it ("" when none)
  std::string status;      // "pass", "fail" or "skip"
  double max_abs_error = 0.0;
  int64_t steps = 0;
  int64_t model_calls = 0;
  std::string note;        // why it was skipped or failed
};

// Replays every run of one file. Throws when the file is unreadable or not of the schema.
std::vector<ReplayResult> replay_reference_file(const std::string& path, double tolerance = 1e-8);
std::vector<ReplayResult> replay_reference(const Json& file, const std::string& name, double tolerance = 1e-8);

}  // namespace diffuse
