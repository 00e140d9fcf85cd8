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

Json to_json(const TrainOptions& o) {
  return {{"steps", o.steps}, {"batch", o.batch}, {"grad_accum", o.grad_accum}, {"lr", o.lr},
          {"min_lr_ratio", o.min_lr_ratio}, {"warmup", o.warmup}, {"beta1", o.beta1}, {"beta2", o.beta2},
          {"adam_eps", o.adam_eps}, {"weight_decay", o.weight_decay}, {"grad_clip", o.grad_clip},
          {"ema_decay", o.ema_decay}, {"cond_dropout", o.cond_dropout}, {"null_label", o.null_label},
          {"seed", o.seed}, {"log_every", o.log_every}, {"checkpoint_every", o.checkpoint_every},
          {"preview_every", o.preview_every}, {"out_dir", o.out_dir}, {"device", o.device}, {"autocast", o.autocast}};
}

TrainOptions train_options_from_json(const Json& j) {
  TrainOptions o;
  check_known_keys(j, to_json(o), "training options");
  o.steps = j.value("steps", o.steps);
  o.batch = j.value("batch", o.batch);
  o.grad_accum = j.value("grad_accum", o.grad_accum);
  o.lr = j.value("lr", o.lr);
  o.min_lr_ratio = j.value("min_lr_ratio", o.min_lr_ratio);
  o.warmup = j.value("warmup", o.warmup);
  o.beta1 = j.value("beta1", o.beta1);
  o.beta2 = j.value("beta2", o.beta2);
  o.adam_eps = j.value("adam_eps", o.adam_eps);
  o.weight_decay = j.value("weight_decay", o.weight_decay);
  o.grad_clip = j.value("grad_clip", o.grad_clip);
  o.ema_decay = j.value("ema_decay", o.ema_decay);
  o.cond_dropout = j.value("cond_dropout", o.cond_dropout);
  o.null_label = j.value("null_label", o.null_label);
  o.seed = j.value("seed", o.seed);
  o.log_every = j.value("log_every", o.log_every);
  o.checkpoint_every = j.value("checkpoint_every", o.checkpoint_every);
  o.preview_every = j.value("preview_every", o.preview_every);
  o.out_dir = j.value("out_dir", o.out_dir);
  o.device = j.value("device", o.device);
  o.autocast = j.value("autocast", o.autocast);
  validate(o);
  return o;
}

TrainOptions train_options_from_args(const Json& args, Json defaults) {
  const Json given = args.value("train", Json::object());
  for (const auto& [k, v] : given.items()) defaults[k] = v;
  TrainOptions o = train_options_from_json(defaults);
  o.out_dir = args.value("out", std::string());
  return o;
}

void validate(const TrainOptions& o) {
  auto fail = [](const std::string& m) { throw std::invalid_argument(m); };
  if (o.steps < 1) fail("steps must be >= 1, got " + std::to_string(o.steps));
  if (o.batch < 1) fail("batch must be >= 1, got " + std::to_string(o.batch));
  if (o.grad_accum < 1) fail("grad_accum must be >= 1, got " + std::to_string(o.grad_accum));
  if (!(o.lr > 0)) fail("lr must be > 0, got " + std::to_string(o.lr));
  if (o.warmup < 0) fail("warmup must be >= 0");
  if (!(o.ema_decay >= 0 && o.ema_decay < 1)) fail("ema_decay must be in [0, 1), got " + std::to_string(o.ema_decay));
  if (!(o.cond_dropout >= 0 && o.cond_dropout <= 1)) fail("cond_dropout must be in [0, 1]");
  if (o.grad_clip < 0) fail("grad_clip must be >= 0");
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

std::string format_eta(double seconds) {
  const int64_t s = int64_t(seconds);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02ld:%02ld:%02ld", long(s / 3600), long(s / 60 % 60), long(s % 60));
  return buf;
}

}  // namespace

Trainer::Trainer(std::shared_ptr<torch::nn::Module> model, TrainForward forward, Json recipe, TrainOptions options,
                 ObjectiveOptions objective)
    : model_(std::move(model)), forward_(std::move(forward)), recipe_(std::move(recipe)), o_(std::move(options)),
      objective_(std::move(objective)) {
  validate(o_);
  model_->to(parse_device(o_.device));
  for (const auto& p : model_->named_parameters()) {
    if (!p.value().requires_grad()) continue;
    names_.push_back(p.key());
    params_.push_back(p.value());
    ema_.push_back(p.value().detach().clone());
    m_.push_back(torch::zeros_like(p.value()));
    v_.push_back(torch::zeros_like(p.value()));
  }
}

Trainer::Trainer(std::shared_ptr<torch::nn::Module> model, TrainLoss loss, Json recipe, TrainOptions options)
    : Trainer(std::move(model), TrainForward(), std::move(recipe), std::move(options), ObjectiveOptions()) {
  loss_ = std::move(loss);
}

double Trainer::lr_at(int64_t step) const {
  if (step < o_.warmup) return o_.lr * double(step + 1) / double(o_.warmup);
  const double progress = o_.steps > o_.warmup ? double(step - o_.warmup) / double(o_.steps - o_.warmup) : 1.0;
  const double min_lr = o_.lr * o_.min_lr_ratio;
  return min_lr + (o_.lr - min_lr) * 0.5 * (1.0 + std::cos(M_PI * std::min(progress, 1.0)));
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

void Trainer::run(const TrainData& data, int64_t until) {
  if (until < 0) until = o_.steps;
  const int64_t size = data.x.size(0);
  if (size < 1) throw std::invalid_argument("training data is empty");
  if (!permutation_.defined() && data_index_ > 0) {  // resumed mid-epoch: rebuild this epoch's order
    auto g = stream(o_.seed, 1, uint64_t(epoch_));
    permutation_ = torch::randperm(size, g, torch::kLong);
  }
  const torch::Device device = parse_device(o_.device);
  const bool tty = ::isatty(2);
  std::ofstream log;
  if (!o_.out_dir.empty()) {
    std::filesystem::create_directories(o_.out_dir);
    log.open(o_.out_dir + "/log.jsonl", std::ios::app);
  }
  double bucket_sum[4] = {0, 0, 0, 0};
  int64_t bucket_n[4] = {0, 0, 0, 0};
  double interval_loss = 0, grad_norm = 0;
  int64_t interval_steps = 0;
  const auto t_start = std::chrono::steady_clock::now();
  auto last_draw = t_start;
  const int64_t first_step = step_;
  model_->train();
  while (step_ < until) {
    auto gen = stream(o_.seed, 2, uint64_t(step_));
    for (auto& p : params_) p.mutable_grad() = torch::Tensor();
    double step_loss = 0;
    for (int64_t micro = 0; micro < o_.grad_accum; ++micro) {
      const auto idx = next_indices(o_.batch, size);
      const auto x0 = data.x.index_select(0, idx).to(device);
      if (data.extra.defined()) batch_extra_ = data.extra.index_select(0, idx).to(device);
      torch::Tensor labels;
      if (data.labels.defined()) {
        labels = data.labels.index_select(0, idx);
        if (o_.null_label >= 0 && o_.cond_dropout > 0) labels = drop_labels(labels, o_.null_label, o_.cond_dropout, gen);
        labels = labels.to(device);
      }
      torch::Tensor weighted, sigmas;  // (N,) per-item loss; the items' sigmas (diffusion only)
      if (loss_) {
        AutocastGuard autocast(o_.autocast == "bf16" ? Precision::kBf16 : Precision::kFp32, device);
        weighted = loss_(x0, labels, gen).to(torch::kFloat32);
      } else {
        const auto draw = sample_sigmas(x0.size(0), objective_, gen);
        const auto noise = torch::randn(x0.sizes(), gen, torch::kFloat64).to(x0.options());
        const auto ex = make_example(x0, noise, draw, objective_);
        torch::Tensor out;
        {
          AutocastGuard autocast(o_.autocast == "bf16" ? Precision::kBf16 : Precision::kFp32, device);
          out = forward_(ex.input, ex.time.to(device), labels);
        }
        out = out.to(ex.target.scalar_type());
        weighted = ex.weight * (out - ex.target).pow(2).flatten(1).mean(1);
        sigmas = draw.sigma.cpu();
      }
      const auto loss = weighted.mean();
      if (!std::isfinite(loss.item<double>())) {
        throw std::runtime_error("training diverged: loss is " + std::to_string(loss.item<double>()) + " at step " +
                                 std::to_string(step_) + " (lr " + std::to_string(lr_at(step_)) +
                                 "); lower --lr or resume from the last checkpoint");
      }
      (loss / double(o_.grad_accum)).backward();
      step_loss += loss.item<double>() / double(o_.grad_accum);
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
    torch::NoGradGuard no_grad;
    // Global gradient norm and clipping.
    double sq = 0;
    for (auto& p : params_) if (p.grad().defined()) sq += p.grad().pow(2).sum().item<double>();
    grad_norm = std::sqrt(sq);
    const double clip = (o_.grad_clip > 0 && grad_norm > o_.grad_clip) ? o_.grad_clip / (grad_norm + 1e-6) : 1.0;
    // AdamW (Loshchilov & Hutter 2019), decoupled weight decay, bias-corrected moments.
    const double lr = lr_at(step_);
    const double bc1 = 1 - std::pow(o_.beta1, double(step_ + 1)), bc2 = 1 - std::pow(o_.beta2, double(step_ + 1));
    const double decay = std::min(o_.ema_decay, (1.0 + double(step_)) / (10.0 + double(step_)));
    for (size_t i = 0; i < params_.size(); ++i) {
      auto& p = params_[i];
      if (!p.grad().defined()) continue;
      const auto g = p.grad() * clip;
      m_[i].mul_(o_.beta1).add_(g, 1 - o_.beta1);
      v_[i].mul_(o_.beta2).addcmul_(g, g, 1 - o_.beta2);
      if (o_.weight_decay > 0) p.mul_(1 - lr * o_.weight_decay);
      p.addcdiv_(m_[i] / bc1, (v_[i] / bc2).sqrt_().add_(o_.adam_eps), -lr);
      ema_[i].mul_(decay).add_(p, 1 - decay);
    }
    losses_.push_back(step_loss);
    interval_loss += step_loss;
    ++interval_steps;
    ++step_;

    const auto now = std::chrono::steady_clock::now();
    const double elapsed = std::chrono::duration<double>(now - t_start).count();
    const double its = double(step_ - first_step) / std::max(elapsed, 1e-9);
    const double eta = double(until - step_) / std::max(its, 1e-9);
    Json line;
    const bool log_now = step_ % o_.log_every == 0 || step_ == until;
    if (log_now) {
      line = {{"step", step_}, {"loss", interval_loss / double(interval_steps)}, {"lr", lr}, {"grad_norm", grad_norm},
              {"it_per_s", its}, {"epoch", epoch_}};
      if (!loss_) {
        for (int b = 0; b < 4; ++b) line["loss_by_sigma"][kBuckets[b]] = bucket_n[b] ? Json(bucket_sum[b] / double(bucket_n[b])) : Json(nullptr);
      }
      if (preview && o_.preview_every > 0 && step_ % o_.preview_every == 0) line["preview"] = preview(step_);
      if (log.is_open()) log << line.dump() << "\n" << std::flush;
    }
    if (tty && (std::chrono::duration<double>(now - last_draw).count() > 0.1 || step_ == until)) {
      const int width = 30, filled = int(double(width) * double(step_) / double(until));
      std::fprintf(stderr, "\r[%s%s] %ld/%ld loss %.4f %.1f it/s ETA %s ", std::string(size_t(filled), '#').c_str(),
                   std::string(size_t(width - filled), '.').c_str(), long(step_), long(until), step_loss, its,
                   format_eta(eta).c_str());
      if (step_ == until) std::fprintf(stderr, "\n");
      last_draw = now;
    } else if (!tty && log_now) {
      std::fprintf(stderr, "step %ld/%ld loss %.4f lr %.2e %.1f it/s ETA %s\n", long(step_), long(until),
                   line["loss"].get<double>(), lr, its, format_eta(eta).c_str());
    }
    if (log_now) {
      interval_loss = 0;
      interval_steps = 0;
      for (int b = 0; b < 4; ++b) { bucket_sum[b] = 0; bucket_n[b] = 0; }
    }
    if (!o_.out_dir.empty() && ((o_.checkpoint_every > 0 && step_ % o_.checkpoint_every == 0) || step_ == until)) {
      save(o_.out_dir + "/checkpoint.safetensors", true);
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
    c.ema[names_[i]] = ema_[i];
    c.exp_avg[names_[i]] = m_[i];
    c.exp_avg_sq[names_[i]] = v_[i];
  }
  return c;
}

void Trainer::save(const std::string& path, bool force) const { save_checkpoint(path, checkpoint(), force); }

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
    ema_[i].copy_(c.ema.at(names_[i]));
    m_[i].copy_(c.exp_avg.at(names_[i]));
    v_[i].copy_(c.exp_avg_sq.at(names_[i]));
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
    it->second.copy_(ema_[i]);
  }
}

}  // namespace diffuse
