// The training loop.
#include "core/train/trainer.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/autocast_mode.h>
#include <torch/torch.h>
#include <torch/version.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "core/device.h"
#include "core/precision.h"

namespace diffuse {

namespace {
const auto kTrainFields = [](auto& o, auto&& f) {
  f("steps", o.steps); f("batch", o.batch); f("grad_accum", o.grad_accum); f("lr", o.lr);
  f("min_lr_ratio", o.min_lr_ratio); f("warmup", o.warmup); f("decay_from", o.decay_from); f("decay_from_lr", o.decay_from_lr); f("beta1", o.beta1); f("beta2", o.beta2);
  f("adam_eps", o.adam_eps); f("weight_decay", o.weight_decay); f("grad_clip", o.grad_clip);
  f("ema_decay", o.ema_decay); f("cond_dropout", o.cond_dropout); f("null_label", o.null_label);
  f("vector_dropout", o.vector_dropout); f("frame_dropout", o.frame_dropout);
  f("context_dropout", o.context_dropout); f("context_noise_mean", o.context_noise_mean); f("context_noise_std", o.context_noise_std);
  f("seed", o.seed);
  f("log_every", o.log_every); f("checkpoint_every", o.checkpoint_every); f("preview_every", o.preview_every);
  f("out_dir", o.out_dir); f("device", o.device); f("autocast", o.autocast);
};
}  // namespace

Json to_json(const TrainOptions& o) {
  return fields_to_json(o, kTrainFields);
}

TrainOptions train_options_from_json(const Json& j) {
  TrainOptions o = fields_from_json<TrainOptions>(j, kTrainFields, "training options");
  validate(o);
  return o;
}

TrainOptions train_options(const TrainArgs& a, Json defaults) {
  const auto given = [&](const char* key, const auto& v) {
    if (v) defaults[key] = *v;
  };
  given("steps", a.steps); given("batch", a.batch); given("grad_accum", a.grad_accum); given("lr", a.lr);
  given("warmup", a.warmup); given("ema_decay", a.ema_decay); given("seed", a.seed); given("device", a.device);
  given("autocast", a.autocast); given("checkpoint_every", a.checkpoint_every); given("preview_every", a.preview_every);
  given("log_every", a.log_every);
  TrainOptions o = train_options_from_json(defaults);
  o.out_dir = a.out;
  if (a.extend && a.resume.empty()) throw std::invalid_argument("--extend: only with --resume CHECKPOINT (the run it extends)");
  o.extend = a.extend;
  return o;
}

void validate(const TrainOptions& o) {
  auto fail = [](const std::string& m) { throw std::invalid_argument(m); };
  if (o.steps < 1) fail("steps must be >= 1, got " + std::to_string(o.steps));
  if (o.batch < 1) fail("batch must be >= 1, got " + std::to_string(o.batch));
  if (o.grad_accum < 1) fail("grad_accum must be >= 1, got " + std::to_string(o.grad_accum));
  if (!(o.lr > 0)) fail("lr must be > 0, got " + std::to_string(o.lr));
  if (o.warmup < 0) fail("warmup must be >= 0");
  if (o.decay_from < 0 || (o.decay_from > 0 && !(o.decay_from_lr > 0))) {
    fail("decay_from must be >= 0, with decay_from_lr > 0 where it is set; got " + std::to_string(o.decay_from) + " and " +
         std::to_string(o.decay_from_lr));
  }
  if (!(o.ema_decay >= 0 && o.ema_decay < 1)) fail("ema_decay must be in [0, 1), got " + std::to_string(o.ema_decay));
  for (const auto& [name, p] : {std::pair{"cond_dropout", o.cond_dropout}, std::pair{"vector_dropout", o.vector_dropout},
                                std::pair{"frame_dropout", o.frame_dropout}, std::pair{"context_dropout", o.context_dropout}}) {
    if (!(p >= 0 && p <= 1)) fail(std::string(name) + " must be in [0, 1], got " + std::to_string(p));
  }
  if (o.grad_clip < 0) fail("grad_clip must be >= 0");
  if (!(o.context_noise_std >= 0 && o.context_noise_std <= 4) || !(std::abs(o.context_noise_mean) <= 20)) {
    fail("context noise: std must be in [0, 4] and |mean| <= 20 (log-normal of sigma), got mean " +
         std::to_string(o.context_noise_mean) + ", std " + std::to_string(o.context_noise_std));
  }
  parse_device(o.device);  // throws for a name this build cannot use
  if (o.autocast != "off" && o.autocast != "bf16") fail("autocast must be off or bf16, got '" + o.autocast + "'");
}

namespace {

at::Generator stream(uint64_t seed, uint64_t stream_id, uint64_t counter) {
  // SplitMix64 of (seed, stream, counter): independent, reproducible generators.
  uint64_t z = seed * 0x9E3779B97F4A7C15ull + stream_id * 0xBF58476D1CE4E5B9ull + counter * 0x94D049BB133111EBull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return at::detail::createCPUGenerator(z ^ (z >> 31));
}

// Loss buckets by noise level, log10(sigma) < -1, [-1, 0), [0, 1), >= 1.
const char* kBuckets[] = {"sigma<0.1", "0.1<=sigma<1", "1<=sigma<10", "sigma>=10"};
int bucket_of(double sigma) { return sigma < 0.1 ? 0 : sigma < 1 ? 1 : sigma < 10 ? 2 : 3; }

// This rank's rows of a tensor drawn for the whole global batch.
torch::Tensor rows(const torch::Tensor& t, int64_t rank, int64_t local) {
  return t.defined() && local != t.size(0) ? t.slice(0, rank * local, (rank + 1) * local) : t;
}

}  // namespace

torch::Tensor TrainData::rows(const torch::Tensor& index) const {
  if (mirrored == 0) return x.index_select(0, index);
  const int64_t n = x.size(0);
  const auto flipped = index >= n;
  auto out = x.index_select(0, torch::where(flipped, index - n, index));
  const auto which = flipped.nonzero().flatten();
  if (which.numel() > 0) out.index_copy_(0, which, out.index_select(0, which).flip(mirror_dim));
  return out;
}

Trainer::Trainer(std::shared_ptr<torch::nn::Module> model, TrainForward forward, Json recipe, TrainOptions options,
                 ObjectiveOptions objective)
    : model_(std::move(model)), forward_(std::move(forward)), recipe_(std::move(recipe)), o_(std::move(options)),
      objective_(std::move(objective)), sync_(process_grad_sync()) {
  validate(o_);
  model_->to(parse_device(o_.device));
  for (const auto& p : model_->named_parameters()) {
    if (!p.value().requires_grad()) continue;
    names_.push_back(p.key());
    params_.push_back(p.value());
  }
  optimizer_ = std::make_unique<AdamW>(params_, o_.beta1, o_.beta2, o_.adam_eps, o_.weight_decay);
  ema_ = std::make_unique<Ema>(params_, o_.ema_decay);
}

Trainer::Trainer(std::shared_ptr<torch::nn::Module> model, TrainLoss loss, Json recipe, TrainOptions options)
    : Trainer(std::move(model), TrainForward(), std::move(recipe), std::move(options), ObjectiveOptions()) {
  loss_ = std::move(loss);
}

torch::Tensor Trainer::next_indices(int64_t n, int64_t size) {
  std::vector<torch::Tensor> parts;
  while (n > 0) {
    if (!permutation_.defined() || data_index_ >= size) {
      if (permutation_.defined()) { ++epoch_; data_index_ = 0; }
      auto g = stream(o_.seed, 1, uint64_t(epoch_));
      permutation_ = torch::randperm(size, g, torch::kLong);
    }
    const int64_t take = std::min(n, size - data_index_);
    parts.push_back(permutation_.slice(0, data_index_, data_index_ + take));
    data_index_ += take;
    n -= take;
  }
  return torch::cat(parts);
}

double Trainer::accumulate_gradients(const TrainData& data, double bucket_sum[4], int64_t bucket_n[4]) {
  const int64_t world = sync_->world(), rank = sync_->rank(), local = o_.batch / world;
  const torch::Device device = parse_device(o_.device);
  // Every draw of the step comes from (seed, step) for the global batch; a non-diffusion
  // objective draws inside its loss from its rank's own stream (rank 0's is the one-process one).
  auto gen = stream(o_.seed, 2, uint64_t(step_));
  auto loss_gen = rank == 0 ? gen : stream(o_.seed ^ (0x5851F42D4C957F2Dull * uint64_t(rank)), 2, uint64_t(step_));
  for (auto& p : params_) p.mutable_grad() = torch::Tensor();
  double step_loss = 0;
  for (int64_t micro = 0; micro < o_.grad_accum; ++micro) {
    const auto all = next_indices(o_.batch, data.size());
    const auto idx = rows(all, rank, local);
    const auto x0 = data.rows(idx).to(device);
    // The global batch's conditions, dropped with the step's draws; this rank's rows of them.
    Condition cond;
    if (!data.cond.empty()) {
      cond = drop_conditions(data.cond.select(all),
                             {o_.cond_dropout, o_.null_label, o_.vector_dropout, o_.frame_dropout, o_.context_dropout,
                              o_.context_noise_mean, o_.context_noise_std},
                             gen);
      if (local != o_.batch) cond = cond.slice(rank * local, (rank + 1) * local);
      cond = cond.to(device);
    }
    torch::Tensor weighted, sigmas;  // (N,) per-item loss; the items' sigmas (diffusion only)
    if (loss_) {
      AutocastGuard autocast(o_.autocast == "bf16" ? Precision::kBf16 : Precision::kFp32, device);
      weighted = loss_(x0, cond, loss_gen).to(torch::kFloat32);
    } else {
      auto draw = sample_sigmas(o_.batch, objective_, gen);
      auto shape = x0.sizes().vec();
      shape[0] = o_.batch;
      const auto noise = rows(torch::randn(shape, gen, torch::kFloat64), rank, local).to(x0.options());
      draw.sigma = rows(draw.sigma, rank, local);
      draw.timestep = rows(draw.timestep, rank, local);
      const auto ex = make_example(x0, noise, draw, objective_);
      torch::Tensor out;
      {
        AutocastGuard autocast(o_.autocast == "bf16" ? Precision::kBf16 : Precision::kFp32, device);
        out = forward_(ex.input, ex.time.to(device), cond);
      }
      out = out.to(ex.target.scalar_type());
      weighted = ex.weight * (out - ex.target).pow(2).flatten(1).mean(1);
      sigmas = draw.sigma.cpu();
    }
    const auto loss = weighted.mean();
    const double value = loss.item<double>();
    // On several ranks a non-finite loss reaches every rank through the gradients (see run).
    if (!std::isfinite(value) && world == 1) {
      throw std::runtime_error("training diverged: loss is " + std::to_string(value) + " at step " + std::to_string(step_) +
                               " (lr " + std::to_string(learning_rate_at(o_, step_)) + "); lower --lr or resume from the last checkpoint");
    }
    (loss / double(o_.grad_accum)).backward();
    step_loss += value / double(o_.grad_accum);
    if (sigmas.defined()) {
      const auto w = weighted.detach().cpu().to(torch::kFloat64);
      const auto* wp = w.data_ptr<double>();
      const auto s64 = sigmas.to(torch::kFloat64).contiguous();
      const auto* sp = s64.data_ptr<double>();
      for (int64_t i = 0; i < sigmas.size(0); ++i) {
        const int b = bucket_of(sp[i]);
        bucket_sum[b] += wp[i];
        ++bucket_n[b];
      }
    }
  }
  return step_loss;
}

void Trainer::run(const TrainData& data, int64_t until) {
  if (until < 0) until = o_.steps;
  const int64_t size = data.size(), world = sync_->world();
  const bool writer = sync_->rank() == 0;
  if (size < 1) throw std::invalid_argument("training data is empty");
  if (data.mirrored < 0 || data.mirrored > data.x.size(0)) {
    throw std::invalid_argument("training data: " + std::to_string(data.mirrored) + " mirrored examples of " + std::to_string(data.x.size(0)));
  }
  for (const auto* t : data.cond.fields()) {
    if (t->defined() && t->size(0) != size) {
      throw std::invalid_argument("training data: " + std::to_string(t->size(0)) + " condition rows for " + std::to_string(size) + " examples");
    }
  }
  if (o_.batch % world != 0) {
    throw std::invalid_argument("--batch " + std::to_string(o_.batch) + ": the global batch must split evenly over the " +
                                std::to_string(world) + " ranks");
  }
  if (!permutation_.defined() && data_index_ > 0) {  // resumed mid-epoch: rebuild this epoch's order
    auto g = stream(o_.seed, 1, uint64_t(epoch_));
    permutation_ = torch::randperm(size, g, torch::kLong);
  }
  if (world > 1) {  // every rank starts from rank 0's weights and averages
    torch::NoGradGuard no_grad;
    std::vector<torch::Tensor> state = params_;
    for (const auto& e : ema_->weights()) state.push_back(e);
    sync_->broadcast(state);
  }
  // Rank 0's callbacks: the preview adds to the line, the user's run next, then the log writer,
  // the progress bar and the checkpoints.
  std::unique_ptr<TrainCallback> preview_first;
  std::vector<std::unique_ptr<TrainCallback>> builtin;
  if (writer) {
    if (preview && o_.preview_every > 0) preview_first = preview_callback(preview, o_.preview_every);
    if (!o_.out_dir.empty()) {
      std::filesystem::create_directories(o_.out_dir);
      builtin.push_back(log_file_callback(o_.out_dir + "/log.jsonl", step_));
    }
    builtin.push_back(progress_callback(::isatty(2)));
    if (!o_.out_dir.empty()) {
      builtin.push_back(checkpoint_callback([this] { save(o_.out_dir + "/checkpoint.safetensors", true); }, o_.checkpoint_every));
    }
  }
  double bucket_sum[4] = {0, 0, 0, 0};
  int64_t bucket_n[4] = {0, 0, 0, 0};
  double interval_loss = 0;
  int64_t interval_steps = 0;
  const auto t_start = std::chrono::steady_clock::now();
  const int64_t first_step = step_;
  model_->train();
  while (step_ < until) {
    const double step_loss = accumulate_gradients(data, bucket_sum, bucket_n);
    torch::NoGradGuard no_grad;
    if (world > 1) {  // the gradient-sync hook: every rank gets the mean gradient
      std::vector<torch::Tensor> grads;
      for (auto& p : params_) grads.push_back(p.grad());
      sync_->average(grads, step_);
    }
    const double grad_norm = global_grad_norm(params_);
    const double lr = learning_rate_at(o_, step_);
    if (!std::isfinite(grad_norm)) {
      throw std::runtime_error("training diverged: the gradient norm is " + std::to_string(grad_norm) + " at step " + std::to_string(step_) +
                               " (lr " + std::to_string(lr) + "); lower --lr or resume from the last checkpoint");
    }
    const double clip = (o_.grad_clip > 0 && grad_norm > o_.grad_clip) ? o_.grad_clip / (grad_norm + 1e-6) : 1.0;
    optimizer_->step(step_, lr, clip);
    ema_->update(step_);
    losses_.push_back(step_loss);
    interval_loss += step_loss;
    ++interval_steps;
    ++step_;

    StepEnd e;
    e.step = step_;
    e.until = until;
    e.step_loss = step_loss;
    e.lr = lr;
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
    e.it_per_s = double(step_ - first_step) / std::max(elapsed, 1e-9);
    e.eta_seconds = double(until - step_) / std::max(e.it_per_s, 1e-9);
    e.log_now = step_ % o_.log_every == 0 || step_ == until;
    if (e.log_now) {
      if (world > 1) {  // the interval's figures over all ranks' items
        auto stats = torch::zeros({9}, torch::kFloat64);
        auto* s = stats.data_ptr<double>();
        s[0] = interval_loss;
        for (int b = 0; b < 4; ++b) { s[1 + b] = bucket_sum[b]; s[5 + b] = double(bucket_n[b]); }
        sync_->sum(stats, step_);
        s = stats.data_ptr<double>();
        interval_loss = s[0] / double(world);
        for (int b = 0; b < 4; ++b) { bucket_sum[b] = s[1 + b]; bucket_n[b] = int64_t(s[5 + b]); }
      }
      e.line = {{"step", step_}, {"loss", interval_loss / double(interval_steps)}, {"lr", lr}, {"grad_norm", grad_norm},
                {"it_per_s", e.it_per_s}, {"epoch", epoch_}};
      if (!loss_) {
        for (int b = 0; b < 4; ++b) e.line["loss_by_sigma"][kBuckets[b]] = bucket_n[b] ? Json(bucket_sum[b] / double(bucket_n[b])) : Json(nullptr);
      }
      interval_loss = 0;
      interval_steps = 0;
      for (int b = 0; b < 4; ++b) { bucket_sum[b] = 0; bucket_n[b] = 0; }
    }
    if (writer) {
      if (preview_first) preview_first->on_step(e);
      for (auto& c : callbacks_) c->on_step(e);
      for (auto& c : builtin) c->on_step(e);
    }
    if (world > 1 && !o_.out_dir.empty() && checkpoint_due(step_, until, o_.checkpoint_every)) {
      sync_->barrier(step_);  // the others wait for rank 0's checkpoint
    }
  }
}

Checkpoint Trainer::checkpoint() const {
  Checkpoint c;
  c.recipe = recipe_;
  c.recipe["train"] = to_json(o_);
  c.step = step_;
  c.epoch = epoch_;
  c.data_index = data_index_;
  c.seed = o_.seed;
  c.model = state_of(*model_);
  for (size_t i = 0; i < names_.size(); ++i) {
    c.ema[names_[i]] = ema_->weights()[i];
    c.exp_avg[names_[i]] = optimizer_->exp_avg()[i];
    c.exp_avg_sq[names_[i]] = optimizer_->exp_avg_sq()[i];
  }
  return c;
}

void Trainer::save(const std::string& path, bool force) const {
  if (sync_->rank() == 0) save_checkpoint(path, checkpoint(), force);
}

void Trainer::resume(const std::string& path) {
  const auto c = load_checkpoint(path);
  load_into(*model_, c.model, path);
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < names_.size(); ++i) {
    for (const auto* part : {&c.ema, &c.exp_avg, &c.exp_avg_sq}) {
      const auto it = part->find(names_[i]);
      if (it == part->end() || it->second.sizes() != params_[i].sizes()) {
        throw std::runtime_error(path + ": EMA or optimizer state for '" + names_[i] + "' is missing or misshapen");
      }
    }
    ema_->weights()[i].copy_(c.ema.at(names_[i]));
    optimizer_->exp_avg()[i].copy_(c.exp_avg.at(names_[i]));
    optimizer_->exp_avg_sq()[i].copy_(c.exp_avg_sq.at(names_[i]));
  }
  // The learning rate: --extend decays on from the rate the checkpoint's own schedule gives at its
  // step; a plain resume of an extended run keeps that decay (the same rates as without a stop).
  const Json before = c.recipe.value("train", Json::object());
  if (o_.extend) {
    if (o_.steps <= c.step) {
      throw std::invalid_argument("--extend: " + path + " is at step " + std::to_string(c.step) + "; --steps " +
                                  std::to_string(o_.steps) + " must be larger");
    }
    if (!before.contains("steps") || !before.contains("lr")) throw std::invalid_argument("--extend: " + path + " records no learning-rate schedule");
    // Its own schedule, not validated: a run from another machine may name a device this one lacks.
    o_.decay_from = c.step;
    o_.decay_from_lr = learning_rate_at(fields_from_json<TrainOptions>(before, kTrainFields, path + ": training options"), c.step);
  } else if (o_.decay_from == 0 && before.value("decay_from", int64_t(0)) > 0) {
    o_.decay_from = before.at("decay_from").get<int64_t>();
    o_.decay_from_lr = before.at("decay_from_lr").get<double>();
  }
  step_ = c.step;
  epoch_ = c.epoch;
  data_index_ = c.data_index;
  permutation_ = torch::Tensor();
  if (c.seed != o_.seed) throw std::runtime_error(path + ": checkpoint was trained with seed " + std::to_string(c.seed) + ", not " + std::to_string(o_.seed));
}

void Trainer::load_ema_into(torch::nn::Module& module) const {
  torch::NoGradGuard no_grad;
  auto state = state_of(module);
  for (size_t i = 0; i < names_.size(); ++i) {
    const auto it = state.find(names_[i]);
    if (it == state.end()) throw std::runtime_error("EMA weight '" + names_[i] + "' has no place in the module");
    it->second.copy_(ema_->weights()[i]);
  }
}

}  // namespace diffuse
