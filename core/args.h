// The arguments of `diffuse train|sample|eval NAME`, typed: the options every pipeline shares, with
// their defaults (the one place they are written; the CLI binds its options to these fields), and
// the plugin's own options struct, which the plugin registers with CLI11 itself and reads back as
// its own type (options<T>()). Code that calls a pipeline directly (tests, one pipeline calling
// another) fills the same structs.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <typeinfo>
#include <vector>

#include "core/precision.h"

namespace diffuse {

// A plugin's own options for one command: derive the plugin's struct from this.
struct PluginOptions {
  virtual ~PluginOptions() = default;
};

// `own` as the plugin's type T: T's defaults when the caller gave none; a logic error when they
// are of another type (a pipeline reading another pipeline's options).
template <class T>
const T& plugin_options(const std::shared_ptr<const PluginOptions>& own) {
  static const T defaults{};
  if (!own) return defaults;
  if (const auto* o = dynamic_cast<const T*>(own.get())) return *o;
  throw std::logic_error(std::string("the command's own options are not of type ") + typeid(T).name());
}

// Steps of a sampler when neither the command line nor the model says otherwise.
inline constexpr int64_t kDefaultSampleSteps = 20;

// `diffuse sample NAME`.
struct SampleArgs {
  std::string checkpoint;  // the model ("" for a modality without checkpoints)
  std::string out;         // where sample_pipeline writes
  int64_t n = 1;
  uint64_t seed = 0;       // item i's noise comes from seed + i
  int64_t batch = 64;      // items per network call
  std::string sampler = "dpmpp_2m";
  std::optional<int64_t> steps;  // default: the model's own sampler's, else kDefaultSampleSteps
  std::string schedule = "karras";
  std::string label;             // a class name or index; "" or "all" cycles through the classes
  std::optional<double> cfg;     // default: the model's (its recipe's sampling.cfg), else the pipeline's (3)
  double cfg_rescale = 0.0;
  std::optional<double> eta;     // default: the sampler's
  std::string device = "cpu";
  std::string precision = kDefaultSamplePrecision;
  bool force = false;            // overwrite the output files
  bool raw_weights = false;      // the raw weights instead of the EMA
  std::shared_ptr<const PluginOptions> own;
  template <class T> const T& options() const { return plugin_options<T>(own); }
};

// `diffuse bench NAME`: the sampling it times, in each of `precisions` (each against the GEMM rate
// of its own type, in the same run).
struct BenchArgs {
  SampleArgs sampling;
  std::vector<std::string> precisions = {"fp32", "bf16"};
  bool json = false;
};

// `diffuse eval NAME`: sampling settings of the samples it scores, the judge's switches.
struct EvalArgs {
  std::string checkpoint;  // "" = the judge's calibration alone
  std::string sampler = "dpmpp_2m";
  std::optional<int64_t> steps;
  std::optional<double> cfg;  // default: as sample's (the model's, else the pipeline's)
  uint64_t seed = 0;
  int64_t n_per_class = 100;  // samples per class (molecules: per tenth of the samples)
  bool calibrate = false, json = false;
  std::string device = "cpu";
  std::string precision = kDefaultSamplePrecision;
  std::shared_ptr<const PluginOptions> own;  // a plugin's eval options derive from its sample options
  template <class T> const T& options() const { return plugin_options<T>(own); }
  // The request of the samples it scores: these settings, every class in turn.
  SampleArgs sampling() const;
};

// `diffuse train NAME`. The trainer's options (TrainOptions) given on the command line override
// the modality's; unset ones keep them.
struct TrainArgs {
  std::string out = "runs/toy";  // the run folder
  std::string resume;            // a checkpoint this run continues
  std::string init;              // a model a new run starts from (a fine-tune)
  bool force = false;            // reuse an existing run folder
  bool extend = false;           // with resume: decay the learning rate on from the checkpoint's
  std::optional<int64_t> steps, batch, grad_accum, warmup, log_every, preview_every, checkpoint_every;
  std::optional<double> lr, ema_decay;
  std::optional<uint64_t> seed;
  std::optional<std::string> device, autocast;
  std::shared_ptr<const PluginOptions> own;
  template <class T> const T& options() const { return plugin_options<T>(own); }
};

}  // namespace diffuse
