// The generic diffusion pipeline, written once for every DiT modality:
//   train:  recipe -> dataset -> codec (encode) -> backbone -> objective -> trainer
//   sample: checkpoint -> denoiser -> guidance -> sampler -> decode -> save
// A modality plugs in only what is its own (its recipe defaults, its data and encoder, its extra
// conditions, its decoder and its files) by implementing DiffusionModality; everything in between
// (run folders, resume and fine-tune, the DiT, CFG, the engine's batching and per-item seeds, the
// device and precision, output-path checks before any work, timing) lives here.
#pragma once
#include <torch/types.h>

#include <memory>
#include <string>
#include <vector>

#include "core/args.h"
#include "core/dit_pipeline.h"
#include "core/files.h"
#include "core/json.h"
#include "core/train/trainer.h"

namespace diffuse {

// n generated items, decoded: what `generate` returns and a modality's `save` writes.
struct Generated {
  torch::Tensor latents;  // the sampler's output in the diffusion space, on the CPU
  torch::Tensor data;     // decoded items (images, waveforms, clips), on the CPU
  std::vector<int64_t> labels;       // each item's class
  std::vector<std::string> classes;  // the model's class names
  Json info = Json::object();        // what the modality's writer and evaluator need (rate, fps, decoder, ...)
  std::string sampler;               // the request's sampler, steps and guidance scale
  int64_t steps = 0;
  double cfg = 1.0;
  int64_t forwards = 0;              // network calls (CFG batches cond and uncond into one call)
  int64_t forward_items = 0;         // items through the network, summed over calls
  double sample_seconds = 0, decode_seconds = 0;
};

// Turns sampled latents into the modality's items; built before sampling starts, so a missing or
// wrong decoder file is refused before the expensive part.
using Decoder = std::function<void(const torch::Tensor& latents, Generated& out)>;

// A modality's judge: metrics of generated items against held-out real data, and calibration rows
// that show what those metrics read for real data, degraded data and garbage.
class Evaluator {
 public:
  virtual ~Evaluator() = default;
  // The judge itself: its classifier, the size of the reference set, its own accuracy.
  virtual Json describe() const = 0;
  // Named rows of figures (`eval --calibrate`).
  virtual Json calibration(const EvalArgs& args) const = 0;
  // The figures of generated items (each with its class label).
  virtual Json score(const Generated& g, const EvalArgs& args) const = 0;
};

class DiffusionModality {
 public:
  virtual ~DiffusionModality() = default;
  // recipe.modality of the checkpoints it trains and samples ("image").
  virtual std::string name() const = 0;

  // The model type of its checkpoints (recipe.model.type): a DiT unless the modality brings its
  // own backbone (then it also overrides fit and load).
  virtual std::string model_type() const { return "dit"; }

  // ---- train
  // A new run's recipe from the command's arguments (model, objective, data spec, codec).
  virtual Json new_recipe(const TrainArgs& args) const = 0;
  // Applies the run's switches to its recipe: `from` is the checkpoint a resume or fine-tune
  // (--init) continues, "" for a new run. Default: none.
  virtual void adapt_recipe(Json& recipe, const TrainArgs& args, const std::string& from) const {}
  // The training set in the diffusion space (encoded) with its conditions. A new run (`fresh`)
  // also fits its recipe to the data here (input size, channels, classes, normalisation).
  virtual TrainData training_set(Json& recipe, const TrainArgs& args, bool fresh) const = 0;
  // The TrainOptions the modality picks (steps, batch, lr, ...); the null label is added from the
  // model's classes, and the command line's options override both.
  virtual Json train_defaults() const = 0;
  // Trains recipe.model on the encoded data with the TrainOptions `defaults` (the command line's
  // overriding them), writing args.out. Default: train_dit (args.resume, args.init).
  virtual void fit(const TrainArgs& args, const Json& recipe, const TrainData& data, const Json& defaults) const;

  // ---- sample
  // The checkpoint's model made ready to sample n items: the request from the CLI's options with
  // the item shape, n, the class labels and the model's denoiser. Default: prepare_dit_sampling
  // (after edit_recipe) and the EDM-preconditioned DiT in the request's precision.
  virtual DitSampling load(const SampleArgs& args, int64_t n) const;
  // Edits the checkpoint's recipe before the DiT is built (a switch that needs no weights).
  virtual void edit_recipe(Json& recipe, const SampleArgs& args) const {}
  // Checks the request against the model and adds the modality's own conditions (vectors, known
  // frames); may change the batch. Called after the DiT and the class labels are ready.
  virtual void prepare(DitSampling& s, const SampleArgs& args, Generated& out) const {}
  // The denoiser of the request. Default: the one `load` made.
  virtual ConditionalDenoiser denoiser(const DitSampling& s, const SampleArgs& args) const { return s.denoiser; }
  virtual Decoder decoder(const DitSampling& s, const SampleArgs& args) const = 0;

  // ---- eval
  // The judge, with its reference data loaded; `per_class` samples per class will be scored.
  // `recipe`: the recipe of args.checkpoint as eval checked it, null without a checkpoint.
  // Default: none (the modality has no `eval`).
  virtual std::unique_ptr<Evaluator> evaluator(const EvalArgs& args, const Json& recipe, int64_t per_class) const { return nullptr; }
  // The samples eval scores for `per_class` samples per class of a model with `classes` classes.
  virtual int64_t eval_samples(int64_t per_class, int64_t classes) const { return per_class * classes; }

  // ---- files (for sample_pipeline; a modality whose sample command is its own, such as the
  // molecules' rounds of draws until enough are valid, may leave them)
  virtual std::vector<std::string> formats() const { return {}; }
  // Where `sample` writes n items, checked before any work. Default: one file, or numbered files
  // when n > 1.
  virtual SampleFiles output_files(const SampleArgs& args, int64_t n) const;
  // Writes the generated items and prints the one-line summary.
  virtual void save(const Generated& g, const SampleFiles& files, const SampleArgs& args) const;
};

// `diffuse train NAME`: refuses to start over an existing run, builds or continues the recipe,
// encodes the data, and trains the recipe's DiT on it (args.resume, args.init as in train_dit).
void train_pipeline(const DiffusionModality& m, const TrainArgs& args);

// n items from args.checkpoint with the sampling options (seed, batch, sampler, steps, schedule,
// cfg, label, device, precision, raw_weights and the plugin's own), decoded.
Generated generate(const DiffusionModality& m, const SampleArgs& args, int64_t n);

// `diffuse eval NAME [CHECKPOINT]`: refuses a checkpoint of another modality before any data is
// loaded; the judge's description, its calibration rows (args.calibrate), and the figures of
// args.n_per_class samples per class (cycling through the classes) with the sampling settings.
// Prints JSON (the nested figures are also the text form).
void eval_pipeline(const DiffusionModality& m, const EvalArgs& args);

// `diffuse sample NAME`: checks the output files, generates args.n items and saves them.
void sample_pipeline(const DiffusionModality& m, const SampleArgs& args);

}  // namespace diffuse
