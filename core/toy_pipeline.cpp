// The toy modality's train, sample and eval: the same pipeline commands and option hooks as every
// other modality, registered by the core itself.
#include <torch/torch.h>

#include <filesystem>
#include <iostream>

#include "core/cli_options.h"
#include "core/device.h"
#include "core/dit_pipeline.h"
#include "core/engine.h"
#include "core/files.h"
#include "core/toy.h"
#include "core/train/checkpoint.h"

namespace diffuse {
namespace {

void train(const Json& a) {
  const auto& m = find_modality("toy");
  const std::string out = a.at("out"), resume = a.value("resume", std::string());
  check_run_folder(a);
  const TrainOptions o = train_options_from_args(a, {{"steps", 3000}, {"batch", 256}, {"lr", 2e-3}, {"warmup", 200}, {"null_label", 4},
                                                     {"log_every", 250}, {"preview_every", 1000}});
  Json recipe = resume.empty() ? default_toy_recipe() : load_model_checkpoint(resume, "toy", "mlp").recipe;
  recipe.erase("train");
  auto model = make_toy_model(recipe);
  Trainer trainer(model.net.ptr(), toy_forward(model), recipe, o, model.objective);
  if (!resume.empty()) trainer.resume(resume);
  // Preview: 2000 samples from the EMA weights (10 Heun steps), scored by the modality's metrics.
  auto preview_model = make_toy_model(recipe);
  preview_model.net->to(parse_device(o.device));
  trainer.preview = [&](int64_t) {
    trainer.load_ema_into(*preview_model.net);
    SampleRequest r;
    r.item_shape = {2};
    r.n = 2000;
    r.batch = 2000;
    r.sampler = "heun";
    r.steps = 10;
    r.schedule_options.sigma_min = recipe["sampling"].value("sigma_min", 0.002);
    r.schedule_options.sigma_max = recipe["sampling"].value("sigma_max", 80.0);
    r.options = r.options.device(parse_device(o.device));
    return m.metrics({sample(toy_denoiser(preview_model), r).cpu(), {}});
  };
  const auto data = m.dataset({{"n", a.value("data_n", int64_t(20000))}, {"seed", o.seed}});
  trainer.run(data);
  std::cout << "checkpoint: " << out << "/checkpoint.safetensors\nlog: " << out << "/log.jsonl\n";
}

void sample_cmd(const Json& a) {
  const auto& m = find_modality("toy");
  const std::string out = a.at("out"), checkpoint = a.value("checkpoint", std::string());
  const bool force = a.value("force", false);
  if (checkpoint.empty()) throw std::invalid_argument("--checkpoint is required for modality toy");
  if (std::filesystem::path(out).extension() != ".csv") {
    throw std::invalid_argument("--out " + out + ": toy samples are written as CSV; expected a .csv file");
  }
  check_writable(out, force);
  const auto ck = load_model_checkpoint(checkpoint, "toy", "mlp");
  auto model = make_toy_model(ck.recipe);
  load_for_inference(*model.net, ck, checkpoint, a.value("raw_weights", false));
  SampleRequest r = sample_request(a, ck.recipe, 1.0);
  model.net->to(r.options.device());
  r.item_shape = {2};
  r.n = a.value("n", r.n);
  r.null_label = int64_t(m.class_names().size());
  const std::string label = a.value("label", std::string());
  if (!label.empty()) r.condition.labels = torch::full({r.n}, resolve_class(m, label), torch::kLong);
  const auto x = sample(toy_denoiser(model), r).cpu();
  m.save(m.decode(x), r.condition.labels, out, force);
  std::cout << "wrote " << r.n << " samples to " << out << "\n";
}

void eval(const Json& a) {
  const auto& m = find_modality("toy");
  const std::string file = a.value("checkpoint", std::string());
  if (file.empty()) throw std::invalid_argument("eval toy needs a samples file");
  const auto j = m.metrics(m.load(file));
  if (a.value("json", false)) {
    std::cout << j.dump(2) << "\n";
    return;
  }
  for (const auto& [k, v] : j.items()) std::cout << k << ": " << v.dump() << "\n";
}

}  // namespace

PipelineCommands toy_pipeline() {
  PipelineCommands p{train, sample_cmd, eval, nullptr};
  p.summary = "2-D Gaussian mixture with 4 labelled components (no data files; samples as CSV)";
  p.train_options = [](CLI::App& c) -> std::function<Json()> {
    auto n = std::make_shared<int64_t>(20000);
    c.add_option("--data-n", *n, "number of training points")->capture_default_str()->check(positive_number());
    return [n] { return Json{{"data_n", *n}}; };
  };
  return p;
}

}  // namespace diffuse
