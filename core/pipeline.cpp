// The generic diffusion pipeline (see pipeline.h).
#include "core/pipeline.h"

#include <torch/torch.h>

#include <chrono>
#include <iostream>
#include <stdexcept>

#include "core/engine.h"
#include "core/train/checkpoint.h"

namespace diffuse {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

void DiffusionModality::fit(const TrainArgs& args, const Json& recipe, const TrainData& data, const Json& defaults) const {
  train_dit(args, recipe, data, defaults);
}

DitSampling DiffusionModality::load(const SampleArgs& args, int64_t n) const {
  auto s = prepare_dit_sampling(args, name(), n, [&](Json& recipe) { edit_recipe(recipe, args); });
  s.denoiser = dit_denoiser(s.net, s.sigma_data, 0.0, s.request.precision);
  return s;
}

SampleFiles DiffusionModality::output_files(const SampleArgs& args, int64_t n) const {
  return SampleFiles(args.out, n, args.force, formats(), name());
}

void DiffusionModality::save(const Generated&, const SampleFiles&, const SampleArgs&) const {
  throw std::logic_error("sample " + name() + " writes its files through a command of its own");
}

SampleArgs EvalArgs::sampling() const {
  SampleArgs s;
  s.checkpoint = checkpoint;
  s.sampler = sampler;
  s.steps = steps;
  s.cfg = cfg;
  s.seed = seed;
  s.device = device;
  s.precision = precision;
  s.own = own;
  return s;
}

void train_pipeline(const DiffusionModality& m, const TrainArgs& args) {
  check_run_folder(args);
  const std::string from = args.resume.empty() ? args.init : args.resume;
  Json recipe = from.empty() ? m.new_recipe(args) : load_model_checkpoint(from, m.name(), m.model_type()).recipe;
  m.adapt_recipe(recipe, args, from);
  if (args.resume.empty() && !args.init.empty()) recipe["init"] = args.init;  // a fine-tune names its start (a resume keeps it)
  recipe.erase("train");  // the run's options are its own, recorded again by the trainer
  const auto data = m.training_set(recipe, args, from.empty());
  Json defaults = m.train_defaults();
  if (!defaults.contains("null_label")) defaults["null_label"] = recipe.at("model").at("config").at("num_classes").get<int64_t>();
  m.fit(args, recipe, data, defaults);
}

Generated generate(const DiffusionModality& m, const SampleArgs& args, int64_t n) {
  auto s = m.load(args, n);
  Generated out;
  out.labels = s.labels;
  out.classes = s.classes;
  m.prepare(s, args, out);
  out.sampler = s.sampler ? s.sampler_name : s.request.sampler;
  out.steps = s.request.steps;
  out.cfg = s.request.guidance.scale;
  const auto decode = m.decoder(s, args);
  const auto model = m.denoiser(s, args);
  const ConditionalDenoiser counted = [&](const torch::Tensor& x, const torch::Tensor& sigma, const Condition& c) {
    ++out.forwards;
    out.forward_items += x.size(0);
    return model(x, sigma, c);
  };
  const auto t0 = std::chrono::steady_clock::now();
  out.latents = (s.sampler ? s.sampler(s.request) : sample(counted, s.request)).cpu();
  out.sample_seconds = seconds_since(t0);
  const auto t1 = std::chrono::steady_clock::now();
  {
    torch::NoGradGuard no_grad;
    decode(out.latents, out);
  }
  out.decode_seconds = seconds_since(t1);
  return out;
}

void eval_pipeline(const DiffusionModality& m, const EvalArgs& args) {
  const std::string& checkpoint = args.checkpoint;
  Json recipe;  // null without a checkpoint
  int64_t classes = 0;
  if (!checkpoint.empty()) {  // a wrong checkpoint is refused before the real data is loaded and scored
    recipe = load_model_checkpoint(checkpoint, m.name(), m.model_type()).recipe;
    classes = int64_t(json_at(recipe, "classes", checkpoint).size());
  }
  const int64_t per_class = args.n_per_class;
  const auto judge = m.evaluator(args, recipe, per_class);
  if (!judge) throw std::invalid_argument("eval " + m.name() + ": this modality has no evaluator");
  Json j = judge->describe();
  if (args.calibrate) j.update(judge->calibration(args));
  if (!checkpoint.empty()) {
    const auto g = generate(m, args.sampling(), m.eval_samples(per_class, classes));  // item i has class i % classes
    Json s = judge->score(g, args);
    s["checkpoint"] = checkpoint;
    s["sampler"] = g.sampler;
    s["steps"] = g.steps;
    s["cfg"] = g.cfg;
    s["seconds"] = g.sample_seconds + g.decode_seconds;
    j["samples"] = s;
  }
  std::cout << j.dump(2) << "\n";
}

void sample_pipeline(const DiffusionModality& m, const SampleArgs& args) {
  const auto files = m.output_files(args, args.n);  // refused before any work
  m.save(generate(m, args, args.n), files, args);
}

}  // namespace diffuse
