// The trainer's parameter updates: AdamW with linear warm-up and cosine decay of the learning
// rate, and the EMA of the weights. Both keep fp32 state beside the parameters they update.
#pragma once
#include <torch/types.h>

#include <vector>

namespace diffuse {

struct TrainOptions;

// The learning rate of optimizer step `step` (0-based): linear warm-up to lr over `warmup` steps,
// then cosine decay to lr * min_lr_ratio at `steps`. An extended run (decay_from > 0) follows that
// up to decay_from, then decays from decay_from_lr to the same floor at `steps`.
double learning_rate_at(const TrainOptions& o, int64_t step);

// AdamW (Loshchilov & Hutter 2019): decoupled weight decay, bias-corrected moments.
class AdamW {
 public:
  AdamW(std::vector<torch::Tensor> params, double beta1, double beta2, double eps, double weight_decay);
  // One update of the parameters that have a gradient, scaled by `grad_scale` (clipping), at
  // learning rate `lr`; `step` (0-based) is the bias correction's.
  void step(int64_t step, double lr, double grad_scale);
  std::vector<torch::Tensor>& exp_avg() { return m_; }
  std::vector<torch::Tensor>& exp_avg_sq() { return v_; }
  const std::vector<torch::Tensor>& exp_avg() const { return m_; }
  const std::vector<torch::Tensor>& exp_avg_sq() const { return v_; }

 private:
  std::vector<torch::Tensor> params_, m_, v_;
  double beta1_, beta2_, eps_, weight_decay_;
};

// Exponential moving average of the weights, its decay warmed up as min(decay, (1 + k) / (10 + k)).
// Parameters without a gradient this step (unused by the forward) keep their average.
class Ema {
 public:
  Ema(std::vector<torch::Tensor> params, double decay);
  void update(int64_t step);
  std::vector<torch::Tensor>& weights() { return ema_; }
  const std::vector<torch::Tensor>& weights() const { return ema_; }

 private:
  std::vector<torch::Tensor> params_, ema_;
  double decay_;
};

// The global L2 norm of the defined gradients, with one device-to-host copy.
double global_grad_norm(const std::vector<torch::Tensor>& params);

}  // namespace diffuse
