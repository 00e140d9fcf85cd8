// The toy modality's train, sample and eval: the generic pipeline (core/pipeline.h) with the toy's
// own backbone, and the same option hooks as every other modality, registered by the core itself.
#include <torch/torch.h>

#include <filesystem>
#include <iostream>

#include "core/cli_options.h"
#include "core/device.h"
#include "core/dit_pipeline.h"
#include "core/engine.h"
#include "core/files.h"
#include "core/pipeline.h"
#include "core/toy.h"
#include "core/train/checkpoint.h"

namespace diffuse {
namespace {

// `train toy`'s own option.
struct ToyTrainOptions : PluginOptions {
  int64_t data_n = 20000;
};

// The toy through the generic pipeline: its own backbone (an MLP), data, CSV files and preview.
class ToyPipeline : public DiffusionModality {
 public:
  std::string name() const override { return "toy"; }
  std::string model_type() const override { return "mlp"; }

  Json new_recipe(const TrainArgs&) const override { return default_toy_recipe(); }

  TrainData training_set(Json&, const TrainArgs& a, bool) const override {
    const auto seed = train_options(a, train_defaults()).seed;
    return toy().dataset({{"n", a.options<ToyTrainOptions>().data_n}, {"seed", seed}});
  }

  Json train_defaults() const override {
    return {{"steps", 3000}, {"batch", 256}, {"lr", 2e-3}, {"warmup", 200}, {"null_label", 4}, {"log_every", 250}, {"preview_every", 1000}};
  }

  // The MLP, previewed by 2000 samples from the EMA weights (10 Heun steps) scored by the toy's metrics.
  void fit(const TrainArgs& a, const Json& recipe, const TrainData& data, const Json& defaults) const override {
    const TrainOptions o = train_options(a, defaults);
    auto model = make_toy_model(recipe);
    Trainer trainer(model.net.ptr(), toy_forward(model), recipe, o, model.objective);
    if (!a.resume.empty()) trainer.resume(a.resume);
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
      return toy().metrics({sample(toy_denoiser(preview_model), r).cpu(), {}});
    };
    trainer.run(data);
    const std::string& out = a.out;
    std::cout << "checkpoint: " << out << "/checkpoint.safetensors\nlog: " << out << "/log.jsonl\n";
  }

  // Unconditional unless args.label names a component; CFG 1 unless args.cfg.
  DitSampling load(const SampleArgs& a, int64_t n) const override {
    const std::string& checkpoint = a.checkpoint;
    if (checkpoint.empty()) throw std::invalid_argument("--checkpoint is required for modality toy");
    DitSampling s;
    s.checkpoint = load_model_checkpoint(checkpoint, "toy", "mlp");
    auto model = make_toy_model(s.checkpoint.recipe);
    load_for_inference(*model.net, s.checkpoint, checkpoint, a.raw_weights);
    SampleRequest& r = s.request;
    r = sample_request(a, s.checkpoint.recipe, 1.0);
    model.net->to(r.options.device());
    r.item_shape = {2};
    r.n = n;
    s.classes = toy().class_names();
    r.null_label = int64_t(s.classes.size());
    if (!a.label.empty()) {
      s.labels.assign(size_t(n), resolve_class(toy(), a.label));
      r.condition.labels = torch::tensor(s.labels, torch::kLong);
    }
    s.denoiser = toy_denoiser(model);
    return s;
  }

  Decoder decoder(const DitSampling&, const SampleArgs&) const override {
    return [](const torch::Tensor& z, Generated& out) { out.data = toy().decode(z); };
  }

  std::vector<std::string> formats() const override { return {".csv"}; }

  SampleFiles output_files(const SampleArgs& a, int64_t n) const override {
    const std::string& out = a.out;
    if (std::filesystem::path(out).extension() != ".csv") {
      throw std::invalid_argument("--out " + out + ": toy samples are written as CSV; expected a .csv file");
    }
    return SampleFiles(out, n, a.force, formats(), name(), SampleFiles::Numbering::kOne);
  }

  void save(const Generated& g, const SampleFiles& files, const SampleArgs& a) const override {
    const auto labels = g.labels.empty() ? torch::Tensor() : torch::tensor(g.labels, torch::kLong);
    toy().save(g.data, labels, files[0], a.force);
    std::cout << "wrote " << g.data.size(0) << " samples to " << files[0] << "\n";
  }

 private:
  static const Modality& toy() { return find_modality("toy"); }
};

const ToyPipeline kToy;

void eval(const EvalArgs& a) {
  const auto& m = find_modality("toy");
  const std::string& file = a.checkpoint;
  if (file.empty()) throw std::invalid_argument("eval toy needs a samples file");
  const auto j = m.metrics(m.load(file));
  if (a.json) {
    std::cout << j.dump(2) << "\n";
    return;
  }
  for (const auto& [k, v] : j.items()) std::cout << k << ": " << v.dump() << "\n";
}

}  // namespace

PipelineCommands toy_pipeline() {
  PipelineCommands p{[](const TrainArgs& a) { train_pipeline(kToy, a); }, [](const SampleArgs& a) { sample_pipeline(kToy, a); }, eval, nullptr};
  p.summary = "2-D Gaussian mixture with 4 labelled components (no data files; samples as CSV)";
  p.train_options = [](CLI::App& c) -> std::function<void(TrainArgs&)> {
    auto o = std::make_shared<ToyTrainOptions>();
    c.add_option("--data-n", o->data_n, "number of training points")->capture_default_str()->check(positive_number());
    return [o](TrainArgs& a) { a.own = o; };
  };
  return p;
}

}  // namespace diffuse
