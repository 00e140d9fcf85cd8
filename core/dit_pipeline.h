// What every modality's DiT pipeline shares: loading a DiT checkpoint (EMA weights by default),
// the EDM-preconditioned conditional denoiser, a SampleRequest from the CLI's options, class
// labels from a name/index/"all"/"rows", and class-conditional training with resume.
#pragma once
#include <torch/types.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/args.h"
#include "core/dit.h"
#include "core/engine.h"
#include "core/json.h"
#include "core/train/checkpoint.h"
#include "core/train/trainer.h"

namespace diffuse {

// The DiT of a `modality` checkpoint (recipe.model.config), with its EMA weights unless
// raw_weights; a checkpoint of another modality or model type is refused naming both.
DiT load_dit(const Checkpoint& ck, const std::string& path, const std::string& modality, bool raw_weights = false);

// net(x_in, c_noise, labels) under EDM preconditioning (Karras et al. 2022) with `sigma_data`.
// temporal_guidance s != 0 (video DiTs with factorised or hybrid attention): each pass also runs
// with the frames kept apart (temporal attention off, as for joint image-video training) and
// returns F + s (F - F_apart), pushing the clip away from unrelated frames toward frames that agree
// over time. Like CFG, with "no temporal attention" as the weak model (after spatiotemporal skip
// guidance, Hyung et al. 2024); it needs a model trained with frame sets to mean anything.
// precision bf16: the network runs under bf16 autocast and its output is cast back to x's dtype.
ConditionalDenoiser dit_denoiser(DiT net, double sigma_data, double temporal_guidance = 0.0, Precision precision = Precision::kFp32);

// Inpainting by replacement: where the condition's `frames` hold a number (not NaN), the clean
// estimate is replaced by it, so every sampler pulls those entries to the known values while the
// model fills in the rest (a scaffold's atoms, a video's first frame). Without frames: unchanged.
ConditionalDenoiser with_known_values(ConditionalDenoiser model);

// A model's own guidance scale, its recipe's sampling.cfg (written by `model export --cfg`), if it
// has one; refused unless a number in [0, 100].
std::optional<double> recipe_guidance_scale(const Json& recipe);

// seed, batch, sampler, steps, schedule, cfg (when not given: the model's own, else default_cfg), cfg_rescale, eta,
// device, precision from the sampling options; the sigma range from recipe.sampling; a progress
// bar on stderr when it is a terminal. item_shape, n and the conditions are the caller's. Every
// pipeline's request starts here (the toy's and the molecules' too).
SampleRequest sample_request(const SampleArgs& args, const Json& recipe, double default_cfg = 3.0);

// A DiT checkpoint made ready to sample n items of `modality`: its DiT (EMA weights unless
// args.raw_weights) on the request's device, and the request from the CLI's options with the
// item shape (the DiT's channels and input size), n, the null label and the class labels of
// args.label (resolve_labels, 10 per row); the caller adds the modality's other
// conditions. `edit` may change the recipe before the DiT is built (a switch that needs no
// weights of its own, such as video's --anchor-frame).
struct DitSampling {
  Checkpoint checkpoint;
  DiT net{nullptr};
  SampleRequest request;
  std::vector<std::string> classes;
  std::vector<int64_t> labels;
  double sigma_data = 1.0;  // the objective's
  ConditionalDenoiser denoiser;  // the model's, as the generic pipeline's loader made it (core/pipeline.h)
  // A sampler of the model's own (a discrete molecule model's), run instead of the engine's.
  std::function<torch::Tensor(const SampleRequest&)> sampler;
  std::string sampler_name;  // that sampler's name in reports ("discrete")
};
DitSampling prepare_dit_sampling(const SampleArgs& args, const std::string& modality, int64_t n,
                                 const std::function<void(Json& recipe)>& edit = {});

// Labels for n samples: "" or "all" cycles through the classes, "rows" gives one class per row
// of `columns`, otherwise a class name or index (throws listing the classes).
std::vector<int64_t> resolve_labels(const std::string& spec, int64_t n, const std::vector<std::string>& classes,
                                    int64_t columns = 10);

// Trains recipe.model (a DiT) on data.x with its conditions data.cond (labels; vectors, a NaN row
// being the null vector; independent: items whose frames are unrelated images, DiTImpl::forward) with
// the recipe's objective: `defaults` are the TrainOptions the plugin picks, overridden by the ones
// given on the command line; args.resume continues a run; args.init starts a new run (fresh
// optimizer and schedule) from a trained model's EMA weights, where a condition-vector projection
// the model lacked starts at zero. Writes args.out/checkpoint.safetensors.
void train_dit(const TrainArgs& args, const Json& recipe, const TrainData& data, Json defaults);

// Refuses a run given both --init and --resume (it either continues or starts from a model).
void check_init_or_resume(const TrainArgs& args);
// Refuses to start over an existing run folder without --force (or --resume), and what
// check_init_or_resume refuses.
void check_run_folder(const TrainArgs& args);

}  // namespace diffuse
