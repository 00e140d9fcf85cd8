// Shared DiT pipeline steps.
#include "core/dit_pipeline.h"

#include <torch/torch.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>

#include <filesystem>
#include <set>
#include <iostream>

#include "core/denoiser.h"
#include "core/device.h"
#include "core/objectives.h"
#include "core/train/trainer.h"

namespace diffuse {

DiT load_dit(const Checkpoint& ck, const std::string& path, const std::string& modality, bool raw_weights) {
  require_model(ck.recipe, path, modality, "dit");
  DiT net(dit_config_from_json(json_at(json_at(ck.recipe, "model", path), "config", path)));
  load_for_inference(*net, ck, path, raw_weights);
  return net;
}

ConditionalDenoiser dit_denoiser(DiT net, double sigma_data, double temporal_guidance, Precision precision) {
  if (temporal_guidance != 0.0 && net->config().attention == "full") {  // validate(): non-full attention is 3-D
    throw std::invalid_argument("--temporal-guidance " + std::to_string(temporal_guidance) +
                                ": needs a video DiT with factorised or hybrid attention (this one has full attention)");
  }
  return [net, sigma_data, temporal_guidance, precision](const torch::Tensor& x, const torch::Tensor& sigma, const Condition& c) mutable {
    const auto labels = c.labels, vectors = c.vectors, context = c.context, context_noise = c.context_noise;
    Network f = [&](const torch::Tensor& x_in, const torch::Tensor& c_noise) {
      const int64_t n = x_in.size(0);
      AutocastGuard autocast(precision, x_in.device());
      if (temporal_guidance == 0.0) {
        return net->forward(x_in, c_noise.to(torch::kFloat32).expand({n}), labels, vectors, {}, context, context_noise).to(x_in.scalar_type());
      }
      const auto twice = [](const torch::Tensor& t) { return t.defined() ? torch::cat({t, t}) : t; };
      const auto apart = torch::cat({torch::zeros({n}, torch::kBool), torch::ones({n}, torch::kBool)});
      const auto out = net->forward(twice(x_in), c_noise.to(torch::kFloat32).expand({2 * n}), twice(labels), twice(vectors), apart,
                                    twice(context), twice(context_noise)).chunk(2);
      return (out[0] + temporal_guidance * (out[0] - out[1])).to(x_in.scalar_type());
    };
    return edm_denoiser(f, sigma_data)(x, sigma);
  };
}

ConditionalDenoiser with_known_values(ConditionalDenoiser model) {
  return [model = std::move(model)](const torch::Tensor& x, const torch::Tensor& sigma, const Condition& c) {
    const auto d = model(x, sigma, c);
    return c.frames.defined() ? torch::where(torch::isnan(c.frames), d, c.frames.to(d.dtype())) : d;
  };
}

std::optional<double> recipe_guidance_scale(const Json& recipe) {
  const auto sampling = recipe.find("sampling");
  if (sampling == recipe.end() || !sampling->is_object() || !sampling->contains("cfg")) return std::nullopt;
  const Json& v = sampling->at("cfg");
  if (!v.is_number() || !(v.get<double>() >= 0.0 && v.get<double>() <= 100.0)) {
    throw std::invalid_argument("the model's sampling.cfg: expected a guidance scale in [0, 100], got " + v.dump());
  }
  return v.get<double>();
}

SampleRequest sample_request(const SampleArgs& a, const Json& recipe, double default_cfg) {
  SampleRequest r;
  r.seed = a.seed;
  r.batch = a.batch;
  r.sampler = a.sampler;
  r.steps = a.steps.value_or(kDefaultSampleSteps);
  r.schedule = a.schedule;
  const Json sampling = recipe.value("sampling", Json::object());
  r.schedule_options.sigma_min = sampling.value("sigma_min", 0.002);
  r.schedule_options.sigma_max = sampling.value("sigma_max", 80.0);
  // The command line's scale, else the model's own (`model export --cfg`), else the pipeline's.
  try {
    r.guidance.scale = a.cfg ? *a.cfg : recipe_guidance_scale(recipe).value_or(default_cfg);
  } catch (const std::invalid_argument& e) {  // a hand-edited recipe: name the model's file
    if (a.checkpoint.empty()) throw;
    throw std::invalid_argument(a.checkpoint + ": " + e.what());
  }
  r.guidance.rescale = a.cfg_rescale;
  if (a.eta) r.sampler_options.eta = *a.eta;
  r.options = r.options.device(parse_device(a.device));
  r.precision = resolve_precision(a.precision, r.options.device());
  // A bar with the fraction done and the time left, on a terminal only.
  const auto t0 = std::chrono::steady_clock::now();
  r.progress = [t0, last = -1](int64_t done, int64_t total) mutable {
    if (!::isatty(2) || total <= 0) return;
    const int width = 30, filled = int(double(width) * double(done) / double(total));
    if (filled == last && done != total) return;  // redraw only when the bar moves
    last = filled;
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const long left = done > 0 ? std::lround(s * double(total - done) / double(done)) : 0;
    std::fprintf(stderr, "\rsampling [%s%s] %3d%% ETA %02ld:%02ld%s", std::string(size_t(filled), '#').c_str(),
                 std::string(size_t(width - filled), '.').c_str(), int(100 * done / total), left / 60, left % 60,
                 done == total ? "\n" : "");
  };
  return r;
}

DitSampling prepare_dit_sampling(const SampleArgs& a, const std::string& modality, int64_t n, const std::function<void(Json&)>& edit) {
  const std::string& path = a.checkpoint;
  DitSampling s;
  s.checkpoint = load_checkpoint(path);
  if (edit) edit(s.checkpoint.recipe);
  const Json& recipe = s.checkpoint.recipe;
  s.net = load_dit(s.checkpoint, path, modality, a.raw_weights);
  s.classes = json_at(recipe, "classes", path).get<std::vector<std::string>>();
  s.sigma_data = objective_from_json(recipe.at("objective")).sigma_data;
  auto& r = s.request;
  r = sample_request(a, recipe);
  s.net->to(r.options.device());
  const auto& c = s.net->config();
  r.item_shape = {c.in_channels};
  r.item_shape.insert(r.item_shape.end(), c.input_size.begin(), c.input_size.end());
  r.n = n;
  r.null_label = c.num_classes;
  s.labels = resolve_labels(a.label, n, s.classes);
  r.condition.labels = torch::tensor(s.labels, torch::kLong);
  return s;
}

std::vector<int64_t> resolve_labels(const std::string& label, int64_t n, const std::vector<std::string>& classes, int64_t columns) {
  const int64_t c = int64_t(classes.size());
  std::vector<int64_t> labels;
  if (label.empty() || label == "all") {
    for (int64_t i = 0; i < n; ++i) labels.push_back(i % c);
    return labels;
  }
  if (label == "rows") {
    for (int64_t i = 0; i < n; ++i) labels.push_back((i / std::max<int64_t>(columns, 1)) % c);
    return labels;
  }
  int64_t k = -1;
  for (int64_t i = 0; i < c; ++i) if (classes[size_t(i)] == label) k = i;
  if (k < 0) {
    try {
      size_t used = 0;
      k = std::stoll(label, &used);
      if (used != label.size() || k < 0 || k >= c) k = -1;
    } catch (const std::exception&) {
      k = -1;
    }
  }
  if (k < 0) {
    std::string list;
    for (int64_t i = 0; i < c; ++i) list += (i ? ", " : "") + std::to_string(i) + "=" + classes[size_t(i)];
    throw std::invalid_argument("unknown class '" + label + "'; one of: " + list);
  }
  labels.assign(size_t(n), k);
  return labels;
}

void check_init_or_resume(const TrainArgs& a) {
  if (!a.init.empty() && !a.resume.empty()) {
    throw std::invalid_argument("--init " + a.init + ": a run either resumes (--resume) or starts from a model, not both");
  }
}

void check_run_folder(const TrainArgs& a) {
  check_init_or_resume(a);
  if (a.resume.empty() && !a.force && std::filesystem::exists(a.out + "/checkpoint.safetensors")) {
    throw std::runtime_error(a.out + "/checkpoint.safetensors exists; pass --resume it, or --force to start over");
  }
}

void train_dit(const TrainArgs& a, const Json& recipe, const TrainData& data, Json defaults) {
  check_init_or_resume(a);
  const std::string &out = a.out, &resume = a.resume, &init = a.init;
  const TrainOptions o = train_options(a, std::move(defaults));
  DiT net(dit_config_from_json(recipe.at("model").at("config")));
  if (!init.empty()) {
    const auto ck = load_checkpoint(init);
    auto w = ck.model;
    for (const auto& [k, v] : ck.ema) w[k] = v;
    // A deeper model than the one it starts from (train video --init M --depth D): its new blocks
    // start as closed copies, so the fine-tune starts from the trained model's outputs here too.
    const int64_t was = dit_config_from_json(ck.recipe.at("model").at("config")).depth;
    if (net->config().depth > was) {
      w = deepen_dit(w, net->config(), was);
      std::cerr << "--init " << init << ": " << was << " blocks grown to " << net->config().depth << " (new blocks start closed)\n";
    }
    // A condition the model did not have (a condition vector, a context) enters through layers
    // whose last one starts at zero, and a context's new input columns of the patch embedding
    // start at zero too, so the fine-tune starts from exactly the trained model's outputs.
    const std::set<std::string> zero = {"v_proj.weight", "v_proj.bias", "v_null", "v_embed.fc2.weight", "v_embed.fc2.bias",
                                        "context_noise_embed.fc2.weight", "context_noise_embed.fc2.bias"};
    for (const auto& [name, t] : state_of(*net)) {
      if (!w.count(name)) {
        if (zero.count(name)) w[name] = torch::zeros_like(t);
        else if (name.rfind("v_embed.", 0) == 0 || name.rfind("context_noise_embed.", 0) == 0) w[name] = t.detach().clone();
      } else if (name == "x_embed.weight" && w[name].dim() == 2 && w[name].size(0) == t.size(0) && w[name].size(1) < t.size(1)) {
        w[name] = torch::cat({w[name], torch::zeros({t.size(0), t.size(1) - w[name].size(1)}, w[name].options())}, 1);
      }
    }
    load_into(*net, w, init);
  }
  const auto objective = objective_from_json(recipe.at("objective"));
  TrainForward forward = [net](const torch::Tensor& x_in, const torch::Tensor& t, const Condition& c) mutable {
    return net->forward(x_in, t.to(torch::kFloat32), c.labels, c.vectors, c.independent, c.context, c.context_noise);
  };
  Trainer trainer(net.ptr(), forward, recipe, o, objective);
  if (!resume.empty()) trainer.resume(resume);
  trainer.run(data);
  std::cout << "checkpoint: " << out << "/checkpoint.safetensors\n";
}

}  // namespace diffuse
