// `diffuse train|sample|eval NAME`: one subcommand per registered pipeline, each with the options
// every pipeline shares (here) and the plugin's own (registered by the plugin, see
// core/modality.h). The CLI knows no modality by name.
#include <torch/torch.h>

#include <chrono>
#include <iostream>

#include "apps/cli.h"
#include "core/device.h"
#include "core/files.h"
#include "core/modality.h"
#include "core/precision.h"
#include "core/train/distributed.h"
#include "core/train/trainer.h"
#include "modalities/registry.h"

namespace diffuse::cli {
namespace {

bool given(const CLI::App& c, const char* flag) { return c.get_option(flag)->count() > 0; }

// ---- train: the options of every trainer, bound to TrainArgs (core/args.h) and to the trainer's
// TrainOptions, of which only those given override the modality's
struct TrainCommand {
  TrainArgs args;
  TrainOptions train;
  std::string precision, dist_backend;
  double dist_timeout = 300;
};

void add_train_common(CLI::App& c, TrainCommand& t, const std::string&) {
  c.add_option("--out", t.args.out, "run folder: log.jsonl and checkpoint.safetensors")->capture_default_str();
  c.add_option("--steps", t.train.steps, "optimizer steps")->check(positive_number());
  c.add_option("--batch", t.train.batch, "items per micro-batch (over all ranks of a data-parallel run)")->check(positive_number());
  c.add_option("--grad-accum", t.train.grad_accum, "micro-batches per step")->capture_default_str()->check(positive_number());
  c.add_option("--lr", t.train.lr, "peak learning rate (AdamW)")->check(positive_number());
  c.add_option("--warmup", t.train.warmup, "linear warm-up steps");
  c.add_option("--ema", t.train.ema_decay, "EMA decay");
  c.add_option("--seed", t.train.seed, "seed")->capture_default_str()->check(seed_number());
  c.add_option("--device", t.train.device, "cpu, cuda or cuda:N (refused when this libtorch cannot use it)")->capture_default_str();
  c.add_option("--autocast", t.train.autocast, "off or bf16 (mixed-precision forward)")->capture_default_str();
  c.add_option("--precision", t.precision, "fp32, bf16 or auto: the forward's compute type (bf16 autocast with fp32 master\n"
                                           "weights, optimizer state and loss); --precision bf16 is --autocast bf16");
  c.add_option("--log-every", t.train.log_every, "steps between log.jsonl lines")->check(positive_number());
  c.add_option("--preview-every", t.train.preview_every, "steps between preview samples scored in log.jsonl (0: off)");
  c.add_option("--checkpoint-every", t.train.checkpoint_every, "steps between checkpoints (0: at the end)");
  c.add_option("--resume", t.args.resume, "continue from this checkpoint (give the options its run was started with; the\n"
                                           "learning rate follows the cosine over --steps, so a larger --steps raises it again)")->check(CLI::ExistingFile);
  c.add_flag("--extend", t.args.extend, "with --resume and a larger --steps: decay the learning rate on from the rate the\n"
                                        "checkpoint had reached (cosine to the same floor) instead");
  c.add_flag("--force", t.args.force, "reuse an existing run folder");
  c.add_option("--dist-backend", t.dist_backend, "data-parallel runs (launched by torchrun or srun): gloo (default on CPU) or\n"
                                                  "nccl (default on CUDA when built with -DDIFFUSE_WITH_NCCL=ON)")->check(CLI::IsMember({"gloo", "nccl"}));
  c.add_option("--dist-timeout", t.dist_timeout, "data-parallel runs: seconds to wait for the other ranks (rendezvous, each\n"
                                                  "collective) before ending with the rank that did not arrive")
      ->capture_default_str()->check(number_in(1, 86400, false, "seconds in [1, 86400]"));
}

// The trainer's arguments; joins the process group of a data-parallel launch first.
TrainArgs train_args(const CLI::App& c, TrainCommand& t, const std::string&) {
  parse_device(t.train.device);  // before any data is read or rendered
  bool device_changed = false;
  // Under torchrun or srun: join the process group; each Trainer then averages its gradients
  // over the ranks, and only rank 0 writes.
  const auto launch = launch_env();
  if (launch.world > 1) {
    const bool cuda = parse_device(t.train.device).is_cuda();
    if (cuda && t.train.device.find(':') == std::string::npos) {
      t.train.device = "cuda:" + std::to_string(launch.local_rank);
      device_changed = true;
    }
    // NCCL for CUDA tensors where this build has it; Gloo handles CUDA tensors too, more slowly.
    const std::string backend = !t.dist_backend.empty() ? t.dist_backend : cuda && have_dist_backend("nccl") ? "nccl" : "gloo";
    auto sync = join_process_group(launch, backend, std::chrono::milliseconds(int64_t(t.dist_timeout * 1000)));
    if (launch.rank == 0) std::cerr << "data-parallel training: " << sync->describe() << "\n";
    set_process_grad_sync(sync);
    if (launch.rank != 0) std::cout.setstate(std::ios::failbit);  // rank 0 reports what was written; errors still reach stderr
  } else if (!t.dist_backend.empty()) {
    throw std::invalid_argument("--dist-backend " + t.dist_backend + ": this is one process (no WORLD_SIZE/RANK or SLURM_NTASKS set by a launcher)");
  }
  if (!t.precision.empty()) {
    if (given(c, "--autocast")) throw std::invalid_argument("--precision and --autocast: give one of them");
    t.train.autocast = resolve_precision(t.precision, parse_device(t.train.device)) == Precision::kBf16 ? "bf16" : "off";
  }
  // Module constructors draw their initial weights from libtorch's default generator, which
  // each process seeds at random: seed it, so a run is a function of --seed.
  torch::manual_seed(t.train.seed);
  // Only the options given on the command line override the pipeline's own defaults.
  TrainArgs a = t.args;
  const auto& o = t.train;
  if (given(c, "--steps")) a.steps = o.steps;
  if (given(c, "--batch")) a.batch = o.batch;
  if (given(c, "--grad-accum")) a.grad_accum = o.grad_accum;
  if (given(c, "--lr")) a.lr = o.lr;
  if (given(c, "--warmup")) a.warmup = o.warmup;
  if (given(c, "--ema")) a.ema_decay = o.ema_decay;
  if (given(c, "--seed")) a.seed = o.seed;
  if (given(c, "--device") || device_changed) a.device = o.device;
  if (given(c, "--autocast") || given(c, "--precision")) a.autocast = o.autocast;
  if (given(c, "--checkpoint-every")) a.checkpoint_every = o.checkpoint_every;
  if (given(c, "--preview-every")) a.preview_every = o.preview_every;
  if (given(c, "--log-every")) a.log_every = o.log_every;
  return a;
}

// ---- sample: the options of every sampler, bound to SampleArgs (core/args.h); the optional ones
// (steps, cfg, eta) are set only when given
struct SampleCommand {
  SampleArgs args;
  int64_t steps = kDefaultSampleSteps;
  double cfg = 1.0, eta = -1.0;
};

void add_sample_common(CLI::App& c, SampleCommand& s, const std::string& shipped) {
  auto& a = s.args;
  c.add_option("--checkpoint", a.checkpoint, shipped.empty() ? "trained checkpoint" : "trained checkpoint (default: models/" + shipped + ")")
      ->check(CLI::ExistingFile);
  c.add_option("--out", a.out, "output file")->required();
  c.add_option("--n", a.n, "samples")->capture_default_str()->check(number_in(0, double(kMaxSamples), true, "a sample count from 1 to 10000000"));
  c.add_option("--seed", a.seed, "seed of sample 0 (sample i uses seed + i)")->capture_default_str()->check(seed_number());
  c.add_option("--batch", a.batch, "samples per forward batch")->capture_default_str()->check(positive_number());
  c.add_option("--sampler", a.sampler, "any of `diffuse info`'s samplers")->capture_default_str();
  c.add_option("--steps", s.steps, "sampler steps (a discrete molecule model: its recipe's, 100)")->capture_default_str()->check(positive_number());
  c.add_option("--schedule", a.schedule, "sigma schedule")->capture_default_str();
  c.add_option("--label,--class", a.label, "class name or index (default: unconditional)");
  c.add_option("--cfg", s.cfg, "classifier-free guidance scale (default: the model's, e.g. 3)")->check(guidance_scale());
  c.add_option("--cfg-rescale", a.cfg_rescale, "guidance rescale in [0, 1]")->capture_default_str()->check(number_in(0, 1, false, "a number in [0, 1]"));
  c.add_option("--eta", s.eta, "noise of ancestral/SDE samplers (default per sampler)")->check(number_in(0, 100, false, "a number in [0, 100]"));
  c.add_flag("--raw-weights", a.raw_weights, "use the raw weights instead of the EMA");
  c.add_option("--device", a.device, "cpu, cuda or cuda:N: where the denoiser runs (refused when this libtorch cannot use it)")->capture_default_str();
  c.add_option("--precision", a.precision, "fp32, bf16 (autocast: bf16 matrix products, fp32 statistics and sampler state) or\n"
                                           "auto (bf16 where the CPU has AVX512_BF16/AMX or on CUDA, else fp32)")->capture_default_str();
  c.add_flag("--force", a.force, "overwrite --out");
}

SampleArgs sample_args(const CLI::App& c, SampleCommand& s, const std::string& shipped) {
  SampleArgs a = s.args;
  resolve_precision(a.precision, parse_device(a.device));
  if (a.checkpoint.empty() && !shipped.empty()) a.checkpoint = shipped_model_path(shipped);
  if (given(c, "--eta")) a.eta = s.eta;
  if (given(c, "--cfg")) a.cfg = s.cfg;        // else the model's own, or the pipeline's default
  if (given(c, "--steps")) a.steps = s.steps;  // else 20, or the model's own
  return a;
}

// ---- eval: the options of every evaluation, bound to EvalArgs (core/args.h)
struct EvalCommand {
  EvalArgs args;
  int64_t steps = kDefaultSampleSteps;
  double cfg = 3.0;
};

void add_eval_common(CLI::App& c, EvalCommand& e, const std::string& shipped) {
  auto& a = e.args;
  c.add_option("file", a.checkpoint, shipped.empty() ? "samples written by diffuse sample, or a checkpoint"
                                                     : "the checkpoint whose samples are scored (none: --calibrate alone)")->check(CLI::ExistingFile);
  c.add_flag("--json", a.json, "print JSON");
  c.add_option("--sampler", a.sampler, "sampler")->capture_default_str();
  c.add_option("--steps", e.steps, "sampler steps")->capture_default_str()->check(positive_number());
  c.add_option("--cfg", e.cfg, "guidance scale (default: the model's, e.g. 3)")->check(guidance_scale());
  c.add_option("--seed", a.seed, "seed")->capture_default_str()->check(seed_number());
  c.add_option("--n-per-class", a.n_per_class, "samples per class (molecule: per tenth of the samples)")->capture_default_str()
      ->check(number_in(0, 100000, true, "a count from 1 to 100000"));
  c.add_flag("--calibrate", a.calibrate, "also score real data, round trips and trivial baselines");
  c.add_option("--device", a.device, "cpu, cuda or cuda:N, where the samples' denoiser runs")->capture_default_str();
  c.add_option("--precision", a.precision, "fp32, bf16 or auto (see sample)")->capture_default_str();
}

EvalArgs eval_args(const CLI::App& c, EvalCommand& e, const std::string&) {
  EvalArgs a = e.args;
  resolve_precision(a.precision, parse_device(a.device));
  if (given(c, "--steps")) a.steps = e.steps;  // else 20, or the model's own
  if (given(c, "--cfg")) a.cfg = e.cfg;        // else as sample: the model's own, or the pipeline's default
  return a;
}

// An option the pipeline does not have is refused, naming the pipelines that have it (CLI11
// alone would list the leftover words in reverse).
void refuse_extras(CLI::App& verb, const CLI::App& sub) {
  const auto rest = sub.remaining();
  if (rest.empty()) return;
  std::string word = rest.front();
  for (const auto& r : rest) if (!r.empty() && r[0] == '-') { word = r; break; }
  const std::string flag = word.substr(0, word.find('='));
  const std::string here = verb.get_name() + " " + sub.get_name();
  if (flag.empty() || flag[0] != '-') throw std::invalid_argument("'" + word + "': unexpected argument of " + here + " (see 'diffuse " + here + " --help')");
  std::string others;
  for (const auto* o : verb.get_subcommands([](CLI::App* s) { return !s->get_group().empty(); })) {
    if (o != &sub && o->get_option_no_throw(flag)) others += (others.empty() ? "" : ", ") + verb.get_name() + " " + o->get_name();
  }
  throw std::invalid_argument(flag + ": not an option of " + here + (others.empty() ? "" : " (" + others + " " + (others.find(',') == std::string::npos ? "has" : "have") + " it)") +
                              "; see 'diffuse " + here + " --help'");
}

// A modality that was compiled out still answers `diffuse VERB NAME`, with the option to rebuild.
void add_compiled_out(CLI::App& verb) {
  for (const auto& m : modalities()) {
    if (m.available || find_pipeline(m.name)) continue;
    auto* sub = verb.add_subcommand(m.name, "")->allow_extras()->group("");
    sub->callback([name = m.name] { require_modality(name); });
  }
}

// `diffuse VERB` without a name, or with one no pipeline has: say which ones exist.
void require_pipeline(CLI::App& verb) {
  verb.require_subcommand(0, 1);
  verb.callback([&verb] {
    if (!verb.get_subcommands().empty()) return;
    std::string names;
    for (const auto* sub : verb.get_subcommands([](CLI::App* s) { return !s->get_group().empty(); })) names += (names.empty() ? "" : ", ") + sub->get_name();
    throw std::invalid_argument("diffuse " + verb.get_name() + " needs a modality or model: one of " + names);
  });
}

// `diffuse VERB NAME`: the options every pipeline shares (Command, added by `add`), the plugin's
// own, and the command with the arguments of both.
template <class Command, class Args>
void add_command(CLI::App& verb, const std::string& name, const PipelineCommands& p, const std::function<void(const Args&)>& command,
                 const AddOptions<Args>& options, void (*add)(CLI::App&, Command&, const std::string&),
                 Args (*args)(const CLI::App&, Command&, const std::string&)) {
  auto* sub = verb.add_subcommand(name, p.summary)->group("Modalities and models")->allow_extras();
  auto common = std::make_shared<Command>();
  add(*sub, *common, p.shipped);
  const auto own = options ? options(*sub) : std::function<void(Args&)>();
  sub->callback([&verb, sub, common, own, command, args, shipped = p.shipped] {
    refuse_extras(verb, *sub);
    Args a = args(*sub, *common, shipped);
    if (own) own(a);  // the plugin's options struct, and what it sets of the shared ones
    command(a);
  });
}

}  // namespace

void add_pipeline(CLI::App& app) {
  register_pipelines();
  auto* train = app.add_subcommand("train", "train a model for a modality (checkpoints and log.jsonl in --out; --resume continues)\n"
                                            "Examples: diffuse train toy --steps 3000 --out runs/toy\n"
                                            "          diffuse train image --vae models/fashion-mnist/vae.safetensors --out runs/dit\n"
                                            "          diffuse train audio --steps 2000 --out runs/audio");
  auto* sample_cmd = app.add_subcommand("sample", "sample from a trained model (the shipped one when --checkpoint is not given)\n"
                                                  "Examples: diffuse sample image --class \"Ankle boot\" --n 16 --steps 20 --cfg 3 --seed 1 --grid --out boots.png\n"
                                                  "          diffuse sample audio --label seven --n 8 --out seven.wav\n"
                                                  "          diffuse sample video --class Sneaker --fps 8 --out clip.mp4\n"
                                                  "          diffuse sample molecule --checkpoint runs/molecule/checkpoint.safetensors --n 100 --out mols.sdf\n"
                                                  "          diffuse sample toy --checkpoint runs/toy/checkpoint.safetensors --n 1000 --label c2 --out points.csv");
  auto* eval = app.add_subcommand("eval", "score samples with the modality's metrics\n"
                                          "Examples: diffuse eval toy points.csv --json\n"
                                          "          diffuse eval vae runs/vae/checkpoint.safetensors\n"
                                          "          diffuse eval image models/fashion-mnist/dit.safetensors --steps 20 --cfg 3\n"
                                          "          diffuse eval image --calibrate\n"
                                          "          diffuse eval audio models/spoken-digits/dit.safetensors --calibrate --json");
  for (const auto& [name, p] : registered_pipelines()) {
    if (p.train) add_command<TrainCommand, TrainArgs>(*train, name, p, p.train, p.train_options, add_train_common, train_args);
    if (p.sample) add_command<SampleCommand, SampleArgs>(*sample_cmd, name, p, p.sample, p.sample_options, add_sample_common, sample_args);
    if (p.eval) add_command<EvalCommand, EvalArgs>(*eval, name, p, p.eval, p.eval_options, add_eval_common, eval_args);
  }
  for (auto* verb : {train, sample_cmd, eval}) {
    add_compiled_out(*verb);
    require_pipeline(*verb);
  }
}

}  // namespace diffuse::cli
