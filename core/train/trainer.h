// The training loop: a train step (gradient accumulation, condition dropout, the objective's
// sigmas and noise), the gradient-sync hook, clipping, the optimizer and EMA (optimizer.h), and
// callbacks (callbacks.h: preview, log.jsonl with the loss per sigma bucket, progress, atomic
// checkpoints), with bit-identical resume. It sees tensors and a backbone, never a file format.
//
// Randomness is counter-based: step k draws noise, sigmas and dropout from a generator seeded by
// (seed, k), and epoch e's data order from (seed, e), so a resumed run needs only the step and
// the data position to continue exactly. `batch` is the global batch: on a data-parallel run
// (grad_sync.h) rank r of W takes rows [r B/W, (r+1) B/W) of every micro-batch and of its draws,
// so W ranks compute the mean gradient of the same items with the same noise as one process.
#pragma once
#include <torch/nn/module.h>
#include <torch/types.h>

#include <functional>
#include <memory>
#include <string>

#include "core/args.h"
#include "core/condition.h"
#include "core/json.h"
#include "core/objectives.h"
#include "core/train/callbacks.h"
#include "core/train/checkpoint.h"
#include "core/train/grad_sync.h"
#include "core/train/optimizer.h"

namespace diffuse {

struct TrainOptions {
  int64_t steps = 1000;        // optimizer steps in total (the cosine schedule's length)
  int64_t batch = 64;          // items per micro-batch, over all ranks
  int64_t grad_accum = 1;      // micro-batches per optimizer step
  double lr = 1e-3, min_lr_ratio = 0.1;
  int64_t warmup = 100;        // linear warm-up steps
  // An extended run (--extend): from step decay_from on, the rate decays from decay_from_lr (the
  // rate its checkpoint's run had reached) instead of following the cosine over all `steps`.
  int64_t decay_from = 0;
  double decay_from_lr = 0.0;
  bool extend = false;  // set decay_from when resuming (not recorded: the two fields above are)
  double beta1 = 0.9, beta2 = 0.999, adam_eps = 1e-8, weight_decay = 0.0;
  double grad_clip = 1.0;      // max global gradient norm (0 = off)
  double ema_decay = 0.999;    // EMA decay, warmed up as min(decay, (1 + k) / (10 + k))
  double cond_dropout = 0.1;   // labels replaced by the null label, for CFG
  int64_t null_label = -1;     // the model's null label (>= 0 when it is class-conditional)
  double vector_dropout = 0.0;  // condition vectors replaced by the null (NaN) vector
  double frame_dropout = 0.0;   // known frames replaced by "nothing known" (NaN)
  double context_dropout = 0.0; // a context (a video's first frame) replaced by zeros
  // The context's noise augmentation: sigma ~ exp(N(mean, std^2)) per item (std 0 = off).
  double context_noise_mean = -3.0, context_noise_std = 0.0;
  uint64_t seed = 0;
  int64_t log_every = 100;
  int64_t checkpoint_every = 0;  // 0 = only at the end
  int64_t preview_every = 0;
  std::string out_dir;         // log.jsonl and checkpoint.safetensors go here ("" = none)
  std::string device = "cpu";
  std::string autocast = "off";  // "bf16": mixed precision forward (CPU or CUDA autocast)
};
Json to_json(const TrainOptions& o);
TrainOptions train_options_from_json(const Json& j);
void validate(const TrainOptions& o);  // throws naming the bad value
// A pipeline's options: its `defaults`, overridden by the options given on the command line,
// writing to args.out.
TrainOptions train_options(const TrainArgs& args, Json defaults);

struct TrainData {
  torch::Tensor x;  // (N, ...) training examples in the diffusion space
  Condition cond;   // each example's condition (labels, vectors, mask, ...), one row per example, or empty
  // Examples N .. N + mirrored - 1 are examples 0 .. mirrored - 1 reversed along dimension
  // mirror_dim of an example (a clip played backwards), made per batch rather than stored twice.
  int64_t mirrored = 0;
  int64_t mirror_dim = 0;

  int64_t size() const { return x.size(0) + mirrored; }
  torch::Tensor rows(const torch::Tensor& index) const;  // examples `index` (N + mirrored of them in all)
};

// net(x_in, time, condition) -> the objective's target. The condition holds the batch's rows,
// after condition dropout (core/condition.h), on the training device.
using TrainForward = std::function<torch::Tensor(const torch::Tensor& x_in, const torch::Tensor& time, const Condition& c)>;

// A non-diffusion objective (e.g. a VAE or a classifier): per-item losses (N,) of a batch.
using TrainLoss = std::function<torch::Tensor(const torch::Tensor& x, const Condition& c, at::Generator& gen)>;

class Trainer {
 public:
  // Diffusion training: the objective draws sigmas and noise, `forward` predicts the target.
  Trainer(std::shared_ptr<torch::nn::Module> model, TrainForward forward, Json recipe, TrainOptions options,
          ObjectiveOptions objective);
  // Any other objective, with the same optimizer, EMA, logging, checkpoints and resume.
  Trainer(std::shared_ptr<torch::nn::Module> model, TrainLoss loss, Json recipe, TrainOptions options);

  // Restores weights, EMA, optimizer moments, step and data position; refuses a checkpoint
  // whose tensors do not fit the model (naming the tensor).
  void resume(const std::string& checkpoint_path);
  // Runs optimizer steps until `until_step` (default: options.steps).
  void run(const TrainData& data, int64_t until_step = -1);
  Checkpoint checkpoint() const;
  void save(const std::string& path, bool force) const;  // on rank 0 only: one writer per run
  // Copies the EMA weights into `module` (same architecture).
  void load_ema_into(torch::nn::Module& module) const;
  // Runs after each step, after the built-in preview and before the log writer (rank 0 only).
  void add_callback(std::unique_ptr<TrainCallback> callback) { callbacks_.push_back(std::move(callback)); }
  // The data-parallel hook (default: the process's, see grad_sync.h).
  void set_grad_sync(std::shared_ptr<GradSync> sync) { sync_ = std::move(sync); }

  int64_t step() const { return step_; }
  Json& recipe() { return recipe_; }  // saved into every checkpoint
  const std::vector<double>& losses() const { return losses_; }  // one per optimizer step (this rank's items)
  std::function<Json(int64_t step)> preview;                      // called every preview_every steps

 private:
  torch::Tensor next_indices(int64_t n, int64_t dataset_size);
  // One step's forward and backward over its micro-batches; returns the step's mean loss and
  // adds each item's weighted loss to its sigma bucket.
  double accumulate_gradients(const TrainData& data, double bucket_sum[4], int64_t bucket_n[4]);

  std::shared_ptr<torch::nn::Module> model_;
  TrainForward forward_;
  TrainLoss loss_;
  Json recipe_;
  TrainOptions o_;
  ObjectiveOptions objective_;
  std::vector<std::string> names_;
  std::vector<torch::Tensor> params_;
  std::unique_ptr<AdamW> optimizer_;
  std::unique_ptr<Ema> ema_;
  std::shared_ptr<GradSync> sync_;
  int64_t step_ = 0, epoch_ = 0, data_index_ = 0;
  torch::Tensor permutation_;
  std::vector<double> losses_;
  std::vector<std::unique_ptr<TrainCallback>> callbacks_;
};

}  // namespace diffuse
