// What a sample is conditioned on: one struct for training and for sampling. Every field is
// optional (undefined = the modality does not use it) and has the batch as its first dimension.
// Each field that is a condition has a named null value, which condition dropout gives in
// training and the unconditional pass of CFG gives in sampling:
//   labels   (N,) int64 class indices          null: the model's null label (kNullLabel = "the recipe's")
//   vectors  (N, K) continuous conditions      null: a NaN row (the model's learned null vector)
//   frames   (N, ...) known values, NaN = free null: all NaN (nothing known)
//   context  (N, C, ...) values given to the network beside its input (channel concatenation,
//            e.g. a video's first-frame latent; axes of size 1 are broadcast)   null: zeros
// and fields that describe the item or a condition rather than condition it, never dropped:
//   mask        (N, ...) bool which parts exist (a graph's atoms)
//   independent (N,) bool the item's frames are unrelated images (frame sets: temporal attention off)
//   context_noise (N,) float the standard deviation of the Gaussian noise on `context` (noise
//               augmentation of the conditioning frame, Stable Video Diffusion's cond_aug: itself
//               a condition, so a model learns how far to trust the context); undefined = clean
// (Implemented in objectives.cpp, beside the objectives' other draws.)
#pragma once
#include <torch/types.h>

#include <array>

namespace diffuse {

struct Condition {
  torch::Tensor labels;
  torch::Tensor vectors;
  torch::Tensor mask;
  torch::Tensor frames;
  torch::Tensor independent;
  torch::Tensor context;
  torch::Tensor context_noise;

  // Every field, for checks that treat them alike.
  std::array<const torch::Tensor*, 7> fields() const {
    return {&labels, &vectors, &mask, &frames, &independent, &context, &context_noise};
  }
  int64_t batch() const;  // the first defined field's size(0), or -1 when none is
  bool empty() const { return batch() < 0; }
  Condition select(const torch::Tensor& index) const;  // rows `index` of every field
  Condition slice(int64_t begin, int64_t end) const;   // rows [begin, end) of every field
  Condition to(const torch::Device& device) const;
  static Condition cat(const Condition& a, const Condition& b);  // along the batch
};

// Condition dropout for CFG training: each item's field is replaced by its null value with that
// field's probability (0 = never). One uniform draw per item per field, in the order labels,
// vectors, frames, context; a field that is undefined or never dropped draws nothing, so adding a
// field leaves the other fields' draws as they were. Then the context's noise augmentation, when
// context_noise_std > 0: per item sigma = exp(mean + std * N(0, 1)) (log-normal, as SVD's), the
// context plus sigma times Gaussian noise, and context_noise = sigma.
struct ConditionDropout {
  double labels = 0.0;
  int64_t null_label = -1;  // labels are dropped only when the model has one (>= 0)
  double vectors = 0.0;
  double frames = 0.0;
  double context = 0.0;
  double context_noise_mean = 0.0, context_noise_std = 0.0;
};
Condition drop_conditions(Condition c, const ConditionDropout& p, at::Generator& gen);

}  // namespace diffuse
