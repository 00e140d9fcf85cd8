#include "core/train/optimizer.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "core/train/trainer.h"

namespace diffuse {

double learning_rate_at(const TrainOptions& o, int64_t step) {
  const double min_lr = o.lr * o.min_lr_ratio;
  const auto cosine = [min_lr](double from, double progress) {
    return min_lr + (from - min_lr) * 0.5 * (1.0 + std::cos(M_PI * std::min(progress, 1.0)));
  };
  if (o.decay_from > 0 && step >= o.decay_from) {
    return cosine(o.decay_from_lr, o.steps > o.decay_from ? double(step - o.decay_from) / double(o.steps - o.decay_from) : 1.0);
  }
  if (step < o.warmup) return o.lr * double(step + 1) / double(o.warmup);
  return cosine(o.lr, o.steps > o.warmup ? double(step - o.warmup) / double(o.steps - o.warmup) : 1.0);
}

AdamW::AdamW(std::vector<torch::Tensor> params, double beta1, double beta2, double eps, double weight_decay)
    : params_(std::move(params)), beta1_(beta1), beta2_(beta2), eps_(eps), weight_decay_(weight_decay) {
  for (const auto& p : params_) {
    m_.push_back(torch::zeros_like(p));
    v_.push_back(torch::zeros_like(p));
  }
}

void AdamW::step(int64_t step, double lr, double grad_scale) {
  torch::NoGradGuard no_grad;
  const double bc1 = 1 - std::pow(beta1_, double(step + 1)), bc2 = 1 - std::pow(beta2_, double(step + 1));
  for (size_t i = 0; i < params_.size(); ++i) {
    auto& p = params_[i];
    if (!p.grad().defined()) continue;
    const auto g = p.grad() * grad_scale;
    m_[i].mul_(beta1_).add_(g, 1 - beta1_);
    v_[i].mul_(beta2_).addcmul_(g, g, 1 - beta2_);
    if (weight_decay_ > 0) p.mul_(1 - lr * weight_decay_);
    p.addcdiv_(m_[i] / bc1, (v_[i] / bc2).sqrt_().add_(eps_), -lr);
  }
}

Ema::Ema(std::vector<torch::Tensor> params, double decay) : params_(std::move(params)), decay_(decay) {
  for (const auto& p : params_) ema_.push_back(p.detach().clone());
}

void Ema::update(int64_t step) {
  torch::NoGradGuard no_grad;
  const double decay = std::min(decay_, (1.0 + double(step)) / (10.0 + double(step)));
  for (size_t i = 0; i < params_.size(); ++i) {
    if (params_[i].grad().defined()) ema_[i].mul_(decay).add_(params_[i], 1 - decay);
  }
}

double global_grad_norm(const std::vector<torch::Tensor>& params) {
  torch::NoGradGuard no_grad;
  torch::Tensor sq;
  for (const auto& p : params) {
    if (!p.grad().defined()) continue;
    const auto s = p.grad().pow(2).sum().to(torch::kFloat64);
    sq = sq.defined() ? sq + s : s;
  }
  return sq.defined() ? std::sqrt(sq.item<double>()) : 0.0;
}

}  // namespace diffuse
