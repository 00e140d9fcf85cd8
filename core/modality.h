// The modality plugin interface. A modality owns the two ends of the pipeline: its files, its
// encoder to the diffusion space and decoder back, its conditions and its metrics. Everything in
// between (objective, backbone, trainer, samplers, guidance) is the shared core.
#pragma once
#include <torch/types.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/args.h"
#include "core/json.h"
#include "core/train/trainer.h"

namespace diffuse {

class Modality {
 public:
  virtual ~Modality() = default;
  virtual std::string name() const = 0;
  virtual std::string description() const = 0;
  virtual std::vector<std::string> class_names() const { return {}; }
  // Training examples in the diffusion space (already encoded) with their labels.
  virtual TrainData dataset(const Json& spec) const = 0;
  virtual torch::Tensor encode(const torch::Tensor& samples) const { return samples; }
  virtual torch::Tensor decode(const torch::Tensor& z) const { return z; }
  // Native files: save refuses an existing path without force; load names the file on errors.
  virtual void save(const torch::Tensor& samples, const torch::Tensor& labels, const std::string& path, bool force) const = 0;
  virtual TrainData load(const std::string& path) const = 0;
  // Quality figures of decoded samples (JSON object of numbers).
  virtual Json metrics(const TrainData& samples) const = 0;
};

}  // namespace diffuse

namespace CLI {
class App;
}

namespace diffuse {

// A plugin's own options for one verb: it registers its typed options struct (derived from
// PluginOptions, core/args.h) with CLI11 on `command` (`diffuse VERB NAME`) and returns what, after
// parsing, hands that struct to the command's arguments (`args.own`; it may also check it, or set
// a shared field such as TrainArgs::init). The CLI adds the options every pipeline shares
// (core/args.h) and loops over the registered pipelines; it knows no modality by name.
template <class Args>
using AddOptions = std::function<std::function<void(Args& args)>(CLI::App& command)>;

// Commands a plugin runs for `diffuse train|sample|eval|bench NAME` (e.g. "vae"), given the parsed
// command-line options. Unset entries mean the plugin does not offer that command.
struct PipelineCommands {
  std::function<void(const TrainArgs&)> train;
  std::function<void(const SampleArgs&)> sample;
  std::function<void(const EvalArgs&)> eval;
  std::function<void(const BenchArgs&)> bench;
  AddOptions<TrainArgs> train_options;
  AddOptions<SampleArgs> sample_options;
  AddOptions<EvalArgs> eval_options;
  std::string summary;  // one line for `diffuse VERB --help`
  std::string shipped;  // the shipped model under models/ that sample and eval use by default ("" = none)
};
void register_pipeline(const std::string& name, PipelineCommands commands);

// A modality's part of `diffuse report`: given a run's output folder, the HTML fragment that
// shows what it finds there (media embedded as data: URIs), or "" when nothing applies.
using ReportSection = std::function<std::string(const std::string& dir)>;
void register_report_section(const std::string& name, ReportSection section);
const std::vector<std::pair<std::string, ReportSection>>& report_sections();
const PipelineCommands* find_pipeline(const std::string& name);  // nullptr when none
// Every registered pipeline by name (the toy modality's too).
const std::map<std::string, PipelineCommands>& registered_pipelines();

// Builds the module a checkpoint's recipe describes (recipe.model.type; `file` names the
// checkpoint, for paths its recipe holds and for errors), so a command that handles any model
// (model export) can check the tensors against the architecture. Registered per model type by
// the core (dit, graph-dit, mlp) and by each modality for its own models.
using ModelBuilder = std::function<std::shared_ptr<torch::nn::Module>(const Json& recipe, const std::string& file)>;
void register_model_builder(const std::string& type, ModelBuilder build);
// Throws naming the file when the type is missing or no builder is registered for it.
std::shared_ptr<torch::nn::Module> build_model(const Json& recipe, const std::string& file);

// Registered modalities by name; `find_modality` throws listing the names.
void register_modality(std::shared_ptr<Modality> m);
const Modality& find_modality(const std::string& name);
std::vector<std::string> modality_names();

// Resolves a class given by name or index ("Ankle boot", "9") against the class names.
int64_t resolve_class(const Modality& m, const std::string& name_or_index);

}  // namespace diffuse
