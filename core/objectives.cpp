// Training objectives: sigma sampling, targets per parameterisation, loss weights.
#include "core/objectives.h"

#include <torch/torch.h>

#include <cmath>
#include <stdexcept>

#include "core/condition.h"
#include "core/schedules.h"

namespace diffuse {

ModelKind model_kind_from_name(const std::string& name) {
  if (name == "vp") return ModelKind::kVpDiscrete;
  if (name == "flow") return ModelKind::kFlow;
  if (name == "edm") return ModelKind::kEdm;
  throw std::invalid_argument("unknown model kind '" + name + "'; one of: vp, flow, edm");
}

SigmaSampling sigma_sampling_from_name(const std::string& name) {
  if (name == "uniform") return SigmaSampling::kUniformTimestep;
  if (name == "uniform_flow") return SigmaSampling::kUniformFlow;
  if (name == "logit_normal") return SigmaSampling::kLogitNormal;
  if (name == "log_normal") return SigmaSampling::kLogNormal;
  throw std::invalid_argument("unknown sigma sampling '" + name + "'; one of: uniform, uniform_flow, logit_normal, log_normal");
}

LossWeighting loss_weighting_from_name(const std::string& name) {
  if (name == "uniform") return LossWeighting::kUniform;
  if (name == "min_snr") return LossWeighting::kMinSnr;
  if (name == "edm") return LossWeighting::kEdm;
  if (name == "snr+1" || name == "v") return LossWeighting::kSnrPlusOne;
  throw std::invalid_argument("unknown loss weighting '" + name + "'; one of: uniform, min_snr, edm, snr+1");
}

SigmaDraw sample_sigmas(int64_t n, const ObjectiveOptions& o, at::Generator& gen) {
  const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
  SigmaDraw d;
  switch (o.sampling) {
    case SigmaSampling::kUniformTimestep: {
      TORCH_CHECK(o.alphas_cumprod.defined(), "uniform timestep sampling needs the model's alphas_cumprod");
      const auto table = sigmas_from_alphas_cumprod(o.alphas_cumprod);
      const auto t = torch::randint(table.size(0), {n}, gen, torch::kLong);
      d.sigma = table.index_select(0, t);
      d.timestep = t.to(torch::kFloat64);
      return d;
    }
    case SigmaSampling::kUniformFlow:
    case SigmaSampling::kLogitNormal: {
      const auto t = o.sampling == SigmaSampling::kUniformFlow
                         ? torch::rand({n}, gen, f64).clamp(1e-5, 1 - 1e-5)
                         : torch::sigmoid(torch::randn({n}, gen, f64) * o.logit_std + o.logit_mean).clamp(1e-5, 1 - 1e-5);
      d.sigma = t / (1 - t);
      break;
    }
    case SigmaSampling::kLogNormal:
      d.sigma = (torch::randn({n}, gen, f64) * o.p_std + o.p_mean).exp();
      break;
  }
  // The network's time input for continuous draws.
  switch (o.kind) {
    case ModelKind::kVpDiscrete: {
      TORCH_CHECK(o.alphas_cumprod.defined(), "a vp model needs its alphas_cumprod");
      const auto table = sigmas_from_alphas_cumprod(o.alphas_cumprod);
      std::vector<double> t;
      for (int64_t i = 0; i < n; ++i) t.push_back(sigma_to_t(table, d.sigma[i].item<double>()));
      d.timestep = torch::tensor(t, f64);
      break;
    }
    case ModelKind::kFlow: d.timestep = d.sigma / (1 + d.sigma) * o.num_train_timesteps; break;
    case ModelKind::kEdm: d.timestep = d.sigma.log() / 4; break;
  }
  return d;
}

torch::Tensor loss_weight(const torch::Tensor& sigma, const ObjectiveOptions& o) {
  const auto s2 = sigma.pow(2);
  const auto snr = 1.0 / s2;
  torch::Tensor w_x0;  // weight of the x0-space error
  switch (o.weighting) {
    case LossWeighting::kUniform: return torch::ones_like(sigma);
    case LossWeighting::kMinSnr: w_x0 = snr.clamp_max(o.min_snr_gamma); break;
    case LossWeighting::kEdm: w_x0 = (s2 + o.sigma_data * o.sigma_data) / (s2 * o.sigma_data * o.sigma_data); break;
    case LossWeighting::kSnrPlusOne: w_x0 = snr + 1; break;
  }
  // |x0 error|^2 = factor^2 |target error|^2 for each target.
  switch (o.kind) {
    case ModelKind::kEdm: {  // D = c_skip x + c_out F: x0 error = c_out F error
      const double sd = o.sigma_data;
      return w_x0 * s2 * sd * sd / (s2 + sd * sd);
    }
    case ModelKind::kFlow: return w_x0 * (sigma / (1 + sigma)).pow(2);  // x0 = x - t u
    case ModelKind::kVpDiscrete:
      switch (o.prediction) {
        case Prediction::kEpsilon: return w_x0 * s2;             // x0 = x_ve - sigma eps
        case Prediction::kSample: return w_x0;
        case Prediction::kVelocity: return w_x0 * s2 / (1 + s2);  // x0 = a x - s v
        case Prediction::kFlow: break;
      }
  }
  throw std::invalid_argument("prediction " + to_string(o.prediction) + " does not fit a vp model");
}

TrainingExample make_example(const torch::Tensor& x0, const torch::Tensor& noise, const SigmaDraw& draw,
                             const ObjectiveOptions& o) {
  TORCH_CHECK(x0.sizes() == noise.sizes(), "x0 ", x0.sizes(), " and noise ", noise.sizes(), " differ");
  std::vector<int64_t> bshape(size_t(x0.dim()), 1);
  bshape[0] = x0.size(0);
  const auto sigma = draw.sigma.to(x0.options()).view(bshape);
  TrainingExample ex;
  ex.time = draw.timestep;
  ex.weight = loss_weight(draw.sigma, o).to(x0.options());
  switch (o.kind) {
    case ModelKind::kVpDiscrete: {
      const auto a = 1 / (1 + sigma.pow(2)).sqrt(), s = sigma * a;
      ex.input = a * x0 + s * noise;
      switch (o.prediction) {
        case Prediction::kEpsilon: ex.target = noise; break;
        case Prediction::kSample: ex.target = x0; break;
        case Prediction::kVelocity: ex.target = a * noise - s * x0; break;
        case Prediction::kFlow: throw std::invalid_argument("a vp model cannot predict flow velocity");
      }
      break;
    }
    case ModelKind::kFlow: {
      const auto t = sigma / (1 + sigma);
      ex.input = (1 - t) * x0 + t * noise;
      ex.target = noise - x0;
      break;
    }
    case ModelKind::kEdm: {
      const double sd = o.sigma_data;
      const auto r = (sigma.pow(2) + sd * sd).sqrt();
      const auto c_skip = sd * sd / r.pow(2), c_out = sigma * sd / r, c_in = 1 / r;
      const auto x = x0 + sigma * noise;
      ex.input = c_in * x;
      ex.target = (x0 - c_skip * x) / c_out;
      break;
    }
  }
  return ex;
}

torch::Tensor diffusion_loss(const torch::Tensor& out, const TrainingExample& ex) {
  const auto per_item = (out - ex.target).pow(2).flatten(1).mean(1);
  return (ex.weight * per_item).mean();
}

int64_t Condition::batch() const {
  for (const auto* t : fields()) {
    if (t->defined()) return t->size(0);
  }
  return -1;
}

namespace {
template <class F>
Condition each_field(const Condition& c, F f) {
  auto g = [&f](const torch::Tensor& t) { return t.defined() ? f(t) : torch::Tensor(); };
  return {g(c.labels), g(c.vectors), g(c.mask), g(c.frames), g(c.independent), g(c.context), g(c.context_noise)};
}
}  // namespace

Condition Condition::select(const torch::Tensor& index) const {
  return each_field(*this, [&](const torch::Tensor& t) { return t.index_select(0, index.to(t.device())); });
}

Condition Condition::slice(int64_t begin, int64_t end) const {
  return each_field(*this, [&](const torch::Tensor& t) { return t.slice(0, begin, end); });
}

Condition Condition::to(const torch::Device& device) const {
  return each_field(*this, [&](const torch::Tensor& t) { return t.to(device); });
}

Condition Condition::cat(const Condition& a, const Condition& b) {
  auto join = [](const torch::Tensor& x, const torch::Tensor& y) {
    TORCH_CHECK(x.defined() == y.defined(), "cannot batch a condition with a field the other lacks");
    return x.defined() ? torch::cat({x, y}) : torch::Tensor();
  };
  return {join(a.labels, b.labels),      join(a.vectors, b.vectors), join(a.mask, b.mask),
          join(a.frames, b.frames),      join(a.independent, b.independent), join(a.context, b.context),
          join(a.context_noise, b.context_noise)};
}

torch::Tensor drop_labels(const torch::Tensor& labels, int64_t null_label, double p, at::Generator& gen) {
  if (p < 0 || p > 1) throw std::invalid_argument("condition dropout must be in [0, 1], got " + std::to_string(p));
  const auto drop = torch::rand({labels.size(0)}, gen, torch::kFloat64) < p;
  return torch::where(drop.to(labels.device()), torch::full_like(labels, null_label), labels);
}

Condition drop_conditions(Condition c, const ConditionDropout& p, at::Generator& gen) {
  for (const double q : {p.labels, p.vectors, p.frames, p.context}) {
    if (q < 0 || q > 1) throw std::invalid_argument("condition dropout must be in [0, 1], got " + std::to_string(q));
  }
  if (c.labels.defined() && p.null_label >= 0 && p.labels > 0) c.labels = drop_labels(c.labels, p.null_label, p.labels, gen);
  // A dropped row of a float field becomes NaN: the null vector, or nothing known.
  auto to_null = [&gen](const torch::Tensor& t, double q) {
    if (!t.defined() || q <= 0) return t;
    auto drop = (torch::rand({t.size(0)}, gen, torch::kFloat64) < q).to(t.device());
    std::vector<int64_t> shape(size_t(t.dim()), 1);
    shape[0] = t.size(0);
    return torch::where(drop.view(shape), torch::full({}, NAN, t.options()), t);
  };
  c.vectors = to_null(c.vectors, p.vectors);
  c.frames = to_null(c.frames, p.frames);
  if (c.context.defined() && p.context > 0) {  // a dropped context is zeros
    const auto keep = (torch::rand({c.context.size(0)}, gen, torch::kFloat64) >= p.context).to(c.context.options());
    std::vector<int64_t> shape(size_t(c.context.dim()), 1);
    shape[0] = c.context.size(0);
    c.context = c.context * keep.view(shape);
  }
  if (c.context.defined() && p.context_noise_std > 0) {
    const int64_t n = c.context.size(0);
    const auto sigma = torch::exp(p.context_noise_mean + p.context_noise_std * torch::randn({n}, gen, torch::kFloat64));
    const auto noise = torch::randn(c.context.sizes(), gen, torch::kFloat64);
    std::vector<int64_t> shape(size_t(c.context.dim()), 1);
    shape[0] = n;
    c.context = (c.context + (sigma.view(shape) * noise).to(c.context.options()));
    c.context_noise = sigma.to(torch::kFloat32).to(c.context.device());
  }
  return c;
}

}  // namespace diffuse

namespace diffuse {

namespace {
std::string kind_name(ModelKind k) { return k == ModelKind::kVpDiscrete ? "vp" : k == ModelKind::kFlow ? "flow" : "edm"; }
std::string sampling_name(SigmaSampling s) {
  switch (s) {
    case SigmaSampling::kUniformTimestep: return "uniform";
    case SigmaSampling::kUniformFlow: return "uniform_flow";
    case SigmaSampling::kLogitNormal: return "logit_normal";
    case SigmaSampling::kLogNormal: return "log_normal";
  }
  return "?";
}
std::string weighting_name(LossWeighting w) {
  switch (w) {
    case LossWeighting::kUniform: return "uniform";
    case LossWeighting::kMinSnr: return "min_snr";
    case LossWeighting::kEdm: return "edm";
    case LossWeighting::kSnrPlusOne: return "snr+1";
  }
  return "?";
}
}  // namespace

Json to_json(const ObjectiveOptions& o) {
  return {{"kind", kind_name(o.kind)}, {"prediction", to_string(o.prediction)}, {"sampling", sampling_name(o.sampling)},
          {"weighting", weighting_name(o.weighting)}, {"sigma_data", o.sigma_data}, {"p_mean", o.p_mean},
          {"p_std", o.p_std}, {"logit_mean", o.logit_mean}, {"logit_std", o.logit_std},
          {"min_snr_gamma", o.min_snr_gamma}, {"beta_schedule", "scaled_linear"}};
}

ObjectiveOptions objective_from_json(const Json& j) {
  ObjectiveOptions o;
  check_known_keys(j, to_json(o), "objective");
  o.kind = model_kind_from_name(j.value("kind", std::string("vp")));
  o.prediction = prediction_from_name(j.value("prediction", std::string("epsilon")));
  o.sampling = sigma_sampling_from_name(j.value("sampling", std::string("uniform")));
  o.weighting = loss_weighting_from_name(j.value("weighting", std::string("uniform")));
  o.sigma_data = j.value("sigma_data", o.sigma_data);
  o.p_mean = j.value("p_mean", o.p_mean);
  o.p_std = j.value("p_std", o.p_std);
  o.logit_mean = j.value("logit_mean", o.logit_mean);
  o.logit_std = j.value("logit_std", o.logit_std);
  o.min_snr_gamma = j.value("min_snr_gamma", o.min_snr_gamma);
  if (o.kind == ModelKind::kVpDiscrete) {
    o.alphas_cumprod = alphas_cumprod_from_betas(make_betas(beta_schedule_from_name(j.value("beta_schedule", std::string("scaled_linear")))));
  }
  return o;
}

}  // namespace diffuse
