// Training objectives: how noise levels are drawn, what the network is asked to predict, and
// how each level's loss is weighted. Mirrors the adapters in denoiser.h, so a network trained
// with an objective here is sampled through the matching denoiser.
#pragma once
#include <torch/types.h>

#include <string>

#include "core/denoiser.h"
#include "core/json.h"

namespace diffuse {

enum class ModelKind { kVpDiscrete, kFlow, kEdm };
enum class SigmaSampling { kUniformTimestep, kUniformFlow, kLogitNormal, kLogNormal };
// Loss weights, stated in x0 terms and converted to the target's space (see loss_weight).
enum class LossWeighting { kUniform, kMinSnr, kEdm, kSnrPlusOne };

ModelKind model_kind_from_name(const std::string& name);           // vp, flow, edm
SigmaSampling sigma_sampling_from_name(const std::string& name);   // uniform, uniform_flow, logit_normal, log_normal
LossWeighting loss_weighting_from_name(const std::string& name);   // uniform, min_snr, edm, snr+1

struct ObjectiveOptions {
  ModelKind kind = ModelKind::kVpDiscrete;
  Prediction prediction = Prediction::kEpsilon;  // ignored for flow (velocity) and edm (F)
  SigmaSampling sampling = SigmaSampling::kUniformTimestep;
  LossWeighting weighting = LossWeighting::kUniform;
  torch::Tensor alphas_cumprod;     // vp: the training table
  double min_snr_gamma = 5.0;       // Hang et al. 2023
  double logit_mean = 0.0, logit_std = 1.0;  // SD3 (Esser et al. 2024)
  double p_mean = -1.2, p_std = 1.2;          // EDM (Karras et al. 2022)
  double sigma_data = 0.5;
  double num_train_timesteps = 1000.0;        // flow time scale
};

// Per-item VE sigmas (N,) float64, and for vp the integer timesteps they came from.
struct SigmaDraw {
  torch::Tensor sigma;     // (N,)
  torch::Tensor timestep;  // (N,) network time input
};
SigmaDraw sample_sigmas(int64_t n, const ObjectiveOptions& o, at::Generator& gen);

// What one training step feeds the network and compares against.
struct TrainingExample {
  torch::Tensor input;   // network input in its own coordinates, shaped like x0
  torch::Tensor time;    // (N,) network time input
  torch::Tensor target;  // the network's target, shaped like x0
  torch::Tensor weight;  // (N,) loss weight per item
};
TrainingExample make_example(const torch::Tensor& x0, const torch::Tensor& noise, const SigmaDraw& draw,
                             const ObjectiveOptions& o);

// The weight of an item's mean-squared error in the target's space, at VE level sigma.
torch::Tensor loss_weight(const torch::Tensor& sigma, const ObjectiveOptions& o);

// Weighted MSE: mean over items of weight * mean((out - target)^2).
torch::Tensor diffusion_loss(const torch::Tensor& out, const TrainingExample& ex);

// Replaces each label by `null_label` with probability p (one uniform draw per label); the labels'
// part of drop_conditions (core/condition.h).
torch::Tensor drop_labels(const torch::Tensor& labels, int64_t null_label, double p, at::Generator& gen);

}  // namespace diffuse

namespace diffuse {
// Recipe JSON: {"kind": "vp"|"flow"|"edm", "prediction", "sampling", "weighting", "sigma_data",
// "p_mean", "p_std", "logit_mean", "logit_std", "min_snr_gamma", "beta_schedule" (vp)}.
Json to_json(const ObjectiveOptions& o);
ObjectiveOptions objective_from_json(const Json& j);  // unknown keys are an error
}  // namespace diffuse
