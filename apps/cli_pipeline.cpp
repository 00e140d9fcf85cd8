// `diffuse train|sample|eval <modality>`: the pipeline commands. Today the toy modality runs end
// to end; the media modalities land with their issues.
#include <torch/torch.h>

#include <filesystem>
#include <iostream>
#include <set>

#include "apps/cli.h"
#include "core/device.h"
#include "core/engine.h"
#include "core/precision.h"
#include "core/files.h"
#include "core/modality.h"
#include "core/toy.h"
#include "core/train/checkpoint.h"
#include "core/train/distributed.h"
#include "modalities/registry.h"

namespace diffuse::cli {
namespace {

const std::map<std::string, std::string> kPlanned = {};
// Guidance beyond this only diverges (and 1e308 overflows): refused naming the option.
const CLI::Validator kGuidanceScale = number_in(0, 100, false, "a guidance scale in [0, 100]");
// The train commands whose --data names a dataset (built-in or the user's files); the others refuse it.
const std::set<std::string> kTakesData = {"vae", "image", "audio", "audio-classifier", "audio-vocoder", "video", "molecule"};

const Modality& modality_or_plan(const std::string& name) {
  const auto it = kPlanned.find(name);
  if (it != kPlanned.end()) throw std::runtime_error("modality '" + name + "' has no pipeline in this build yet (" + it->second + ")");
  return find_modality(name);
}

struct TrainArgs {
  std::string modality, out = "runs/toy", resume, init, recipe, vae, data, on_bad = "skip", precision;
  std::vector<double> fps_choices;
  TrainOptions train;
  int64_t data_n = 20000, crop_pad = 0, channels = 0, espeak_variants = 0, frames = 16, items = 1;
  int64_t patch = 0, width = 0, depth = 0;
  std::string attention, anchor_frame;
  std::vector<int64_t> size;
  double seconds = 1.0, frame_sets = 0.0;
  bool force = false, flip = false, pixel = false;
  std::string objective = "discrete";
  std::string dist_backend;
  double dist_timeout = 300;
};

struct SampleArgs {
  std::string modality, checkpoint, out, label;
  SampleRequest req;
  double cfg = 1.0, rescale = 0.0, eta = -1.0, temporal_guidance = 0.0;
  bool force = false, raw_weights = false, grid = false, labelled = false, normalize = false;
  int64_t columns = 10, scale = 1;
  double seconds = 0, fps = 0;
  int64_t frames = 0, crf = 18, atoms = 0, n_valid = 0;
  bool repair = false;
  std::string format = "pcm16", preset = "medium", scaffold, decoder = "auto", first_frame, anchor_frame;
  std::string device = "cpu", precision = "fp32";
};

}  // namespace

std::string default_model_path(const std::string& modality) {
  static const std::map<std::string, std::string> files = {{"image", "fashion-mnist/dit.safetensors"},
                                                            {"classifier", "fashion-mnist/classifier.safetensors"},
                                                            {"audio", "spoken-digits/dit.safetensors"},
                                                            {"audio-classifier", "spoken-digits/classifier.safetensors"},
                                                            {"audio-vocoder", "spoken-digits/vocoder.safetensors"},
                                                            {"video", "moving-fashion-mnist/dit.safetensors"},
                                                            {"molecule", "rdkit-data/graph-dit.safetensors"}};
  const auto it = files.find(modality);
  if (it == files.end()) throw std::invalid_argument("modality " + modality + " has no shipped model; pass --checkpoint");
  std::vector<std::filesystem::path> roots;
  if (const char* env = std::getenv("DIFFUSE_MODELS")) roots.push_back(env);
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) roots.push_back(exe.parent_path().parent_path().parent_path() / "models");
  roots.push_back("models");
  for (const auto& r : roots) {
    if (std::filesystem::exists(r / it->second)) return (r / it->second).string();
  }
  throw std::runtime_error("no shipped model " + it->second + " under " + roots.front().string() +
                           " (see models/README.md for the command that trains it); pass --checkpoint");
}

void add_pipeline(CLI::App& app) {
  register_pipelines();
  // ---- train
  auto* train = app.add_subcommand("train", "train a model for a modality (checkpoints and log.jsonl in --out; --resume continues)\n"
                                            "Examples: diffuse train toy --steps 3000 --out runs/toy\n"
                                            "          diffuse train image --vae models/fashion-mnist/vae.safetensors --out runs/dit\n"
                                            "          diffuse train audio --steps 2000 --out runs/audio");
  auto ta = std::make_shared<TrainArgs>();
  ta->train.steps = 3000;
  ta->train.batch = 256;
  ta->train.lr = 2e-3;
  ta->train.warmup = 200;
  ta->train.null_label = 4;
  ta->train.log_every = 250;
  ta->train.preview_every = 1000;
  train->add_option("modality", ta->modality, "toy, vae, image, classifier, audio, audio-classifier, audio-vocoder, video, video-decoder, molecule")->required();
  train->add_option("--out", ta->out, "run folder: log.jsonl and checkpoint.safetensors")->capture_default_str();
  train->add_option("--steps", ta->train.steps, "optimizer steps")->capture_default_str()->check(positive_number());
  train->add_option("--batch", ta->train.batch, "items per micro-batch")->capture_default_str()->check(positive_number());
  train->add_option("--grad-accum", ta->train.grad_accum, "micro-batches per step")->capture_default_str()->check(positive_number());
  train->add_option("--lr", ta->train.lr, "peak learning rate (AdamW)")->capture_default_str()->check(positive_number());
  train->add_option("--warmup", ta->train.warmup, "linear warm-up steps")->capture_default_str();
  train->add_option("--ema", ta->train.ema_decay, "EMA decay")->capture_default_str();
  train->add_option("--seed", ta->train.seed, "seed")->capture_default_str()->check(seed_number());
  train->add_option("--device", ta->train.device, "cpu, cuda or cuda:N (refused when this libtorch cannot use it)")->capture_default_str();
  train->add_option("--autocast", ta->train.autocast, "off or bf16 (mixed-precision forward)")->capture_default_str();
  train->add_option("--precision", ta->precision, "fp32, bf16 or auto: the forward's compute type (bf16 autocast with fp32 master\n"
                                                  "weights, optimizer state and loss); --precision bf16 is --autocast bf16");
  train->add_option("--log-every", ta->train.log_every, "steps between log.jsonl lines")->capture_default_str()->check(positive_number());
  train->add_option("--preview-every", ta->train.preview_every, "steps between preview samples scored in log.jsonl (0: off)")->capture_default_str();
  train->add_option("--checkpoint-every", ta->train.checkpoint_every, "steps between checkpoints (0: at the end)")->capture_default_str();
  train->add_option("--resume", ta->resume, "continue from this checkpoint")->check(CLI::ExistingFile);
  train->add_option("--init", ta->init, "video: start a new run (fresh optimizer and schedule) from this model's weights (a fine-tune)")
      ->check(CLI::ExistingFile);
  train->add_option("--fps-choices", ta->fps_choices, "video: condition on the frame rate: each clip is filmed at one of these rates\n"
                                                      "(e.g. 4 8 16; items move 8/fps times as far per frame), and sample --fps picks one")
      ->expected(1, 16);
  train->add_option("--data-n", ta->data_n, "toy: number of training points; vae, image, classifier: use only the first N images; video: N clips")->capture_default_str();
  train->add_flag("--force", ta->force, "reuse an existing run folder");
  train->add_option("--vae", ta->vae, "image: the VAE checkpoint whose latents the DiT learns")->check(CLI::ExistingFile);
  train->add_flag("--pixel", ta->pixel, "image: diffuse in pixel space (no VAE), for comparison");
  train->add_option("--data", ta->data, "vae, image: fashion-mnist (default) or an image folder DIR/<class>/<files>;\n"
                                        "audio: spoken-digits (default), instrument-notes or an audio folder DIR/<class>/<files>;\n"
                                        "video: moving-fashion-mnist (default) or a video folder DIR/<class>/<files>;\n"
                                        "molecule: rdkit-data (default), or an SDF, SMILES (.smi) or CSV (smiles column) file, or a folder of them");
  train->add_option("--frames", ta->frames, "video: frames per Moving Fashion-MNIST clip")->capture_default_str()->check(positive_number());
  train->add_option("--items", ta->items, "video: items per clip (1 or 2)")->capture_default_str()->check(CLI::Range(1, 2));
  train->add_option("--frame-sets", ta->frame_sets, "video: share of training items that are stacks of same-class frames from different clips,\n"
                                                    "trained with temporal attention off (joint image-video training; default 0)");
  train->add_option("--objective", ta->objective, "molecule: discrete (DiGress marginal transitions, its own sampler), categorical (logits\n"
                                                  "and cross-entropy under continuous noise) or regression (EDM on the one-hot values)")
      ->capture_default_str()->check(CLI::IsMember({"discrete", "categorical", "regression"}));
  train->add_option("--patch", ta->patch, "video: the DiT's spatial patch on the latents (default 2)")->check(positive_number());
  train->add_option("--width", ta->width, "video: the DiT's width (default 144; divisible by 6)")->check(positive_number());
  train->add_option("--depth", ta->depth, "video: the DiT's blocks (default 6, alternating spatial and temporal)")->check(positive_number());
  train->add_option("--attention", ta->attention, "video: factorized (spatial blocks alternate with temporal ones; default) or hybrid\n"
                                                  "(with full space-time ones: the same weights, so a resume may switch)")
      ->check(CLI::IsMember({"factorized", "hybrid"}));
  train->add_option("--anchor-frame", ta->anchor_frame, "video: on: spatial blocks also attend to the first frame's tokens (cross-frame\n"
                                                        "attention; default off; a resume may switch it)")
      ->check(CLI::IsMember({"on", "off"}));
  train->add_option("--image-size", ta->size, "vae, image: resize and centre-crop folder images to H W")->expected(2);
  train->add_option("--channels", ta->channels, "vae, image: 1 (gray) or 3 (RGB); default: the first image's")->check(CLI::IsMember({1, 3}));
  train->add_option("--on-bad", ta->on_bad, "vae, image: skip unreadable files (reported) or fail on the first")
      ->capture_default_str()->check(CLI::IsMember({"skip", "fail"}));
  train->add_flag("--flip", ta->flip, "vae, image: random horizontal flips (image: mirrored copies of the data)");
  train->add_option("--espeak-variants", ta->espeak_variants, "audio, audio-classifier: spoken digits from the first N espeak-ng voice variants (0: all)")->capture_default_str();
  train->add_option("--seconds", ta->seconds, "audio: clip length the model learns")->capture_default_str()->check(positive_number());
  train->add_option("--crop-pad", ta->crop_pad, "vae: random crops after zero padding by N pixels")->capture_default_str();
  train->add_option("--dist-backend", ta->dist_backend, "data-parallel runs (launched by torchrun or srun): gloo (default on CPU) or\n"
                                                       "nccl (default on CUDA)")->check(CLI::IsMember({"gloo", "nccl"}));
  train->add_option("--dist-timeout", ta->dist_timeout, "data-parallel runs: seconds to wait for the other ranks (rendezvous, each\n"
                                                       "collective) before ending with the rank that did not arrive")
      ->capture_default_str()->check(number_in(1, 86400, false, "seconds in [1, 86400]"));
  train->callback([ta, train] {
    parse_device(ta->train.device);  // before any data is read or rendered
    // Under torchrun or srun: join the process group; each Trainer then averages its gradients
    // over the ranks, and only rank 0 writes.
    const auto launch = launch_env();
    bool writer = true;
    if (launch.world > 1) {
      const bool cuda = parse_device(ta->train.device).is_cuda();
      if (cuda && ta->train.device.find(':') == std::string::npos) ta->train.device = "cuda:" + std::to_string(launch.local_rank);
      const std::string backend = ta->dist_backend.empty() ? (cuda ? "nccl" : "gloo") : ta->dist_backend;
      auto sync = join_process_group(launch, backend, std::chrono::milliseconds(int64_t(ta->dist_timeout * 1000)));
      if (launch.rank == 0) std::cerr << "data-parallel training: " << sync->describe() << "\n";
      set_process_grad_sync(sync);
      writer = launch.rank == 0;
      if (!writer) std::cout.setstate(std::ios::failbit);  // rank 0 reports what was written; errors still reach stderr
    } else if (!ta->dist_backend.empty()) {
      throw std::invalid_argument("--dist-backend " + ta->dist_backend + ": this is one process (no WORLD_SIZE/RANK or SLURM_NTASKS set by a launcher)");
    }
    if (!ta->precision.empty()) {
      if (train->get_option("--autocast")->count() > 0) throw std::invalid_argument("--precision and --autocast: give one of them");
      ta->train.autocast = resolve_precision(ta->precision, parse_device(ta->train.device)) == Precision::kBf16 ? "bf16" : "off";
    }
    // Module constructors draw their initial weights from libtorch's default generator, which
    // each process seeds at random: seed it, so a run is a function of --seed.
    torch::manual_seed(ta->train.seed);
    if (!ta->data.empty() && !kTakesData.count(ta->modality)) {
      throw std::invalid_argument("--data " + ta->data + ": train " + ta->modality + " has no dataset option (it trains on " +
                                  (ta->modality == "toy" ? "its analytic 2-D mixture" : "its built-in data") + ")");
    }
    if (const auto* p = find_pipeline(ta->modality); p && p->train) {
      // Only the options given on the command line override the plugin's own defaults.
      static const std::vector<std::pair<const char*, const char*>> keys = {
          {"--steps", "steps"}, {"--batch", "batch"}, {"--grad-accum", "grad_accum"}, {"--lr", "lr"},
          {"--warmup", "warmup"}, {"--ema", "ema_decay"}, {"--seed", "seed"}, {"--device", "device"},
          {"--autocast", "autocast"}, {"--precision", "autocast"}, {"--checkpoint-every", "checkpoint_every"}, {"--preview-every", "preview_every"},
          {"--log-every", "log_every"}};
      const Json all = to_json(ta->train);
      Json given = Json::object();
      for (const auto& [flag, key] : keys) if (train->get_option(flag)->count() > 0) given[key] = all.at(key);
      Json data = Json::object();
      if (ta->data == "instrument-notes") data = {{"dataset", "instrument-notes"}};
      if (!ta->data.empty() && ta->data != "fashion-mnist" && ta->data != "spoken-digits" && ta->data != "instrument-notes") data = {{"dataset", "folder"}, {"dir", ta->data}, {"on_bad", ta->on_bad}};
      if (!ta->size.empty()) data["size"] = ta->size;
      if (ta->channels) data["channels"] = ta->channels;
      if (ta->flip) data["flip"] = true;
      if (ta->crop_pad) data["crop_pad"] = ta->crop_pad;
      if (ta->espeak_variants) data["variants"] = ta->espeak_variants;
      if (ta->modality == "video") {
        if (!ta->data.empty() && ta->data != "moving-fashion-mnist") data = {{"dataset", "folder"}, {"dir", ta->data}, {"on_bad", ta->on_bad}};
        else data = Json::object();
        data["frames"] = ta->frames;
        data["items"] = ta->items;
        if (train->get_option("--frame-sets")->count() > 0) data["frame_sets"] = ta->frame_sets;
        if (!ta->fps_choices.empty()) data["fps"] = ta->fps_choices;
      } else if (ta->modality == "molecule") {
        data = ta->data.empty() ? Json::object() : Json{{"files", {ta->data}}};
      } else if (ta->modality == "video-decoder") {
        data = {{"frames", ta->frames}, {"items", ta->items}};
      }
      if (ta->modality != "video" && (!ta->init.empty() || !ta->fps_choices.empty())) {
        throw std::invalid_argument(std::string(ta->init.empty() ? "--fps-choices" : "--init") + ": train video only");
      }
      Json model = Json::object();
      if (ta->patch) model["patch"] = ta->patch;
      if (ta->width) model["hidden"] = ta->width;
      if (ta->depth) model["depth"] = ta->depth;
      if (!ta->attention.empty()) model["attention"] = ta->attention;
      if (!ta->anchor_frame.empty()) model["anchor_frame"] = ta->anchor_frame == "on";
      p->train({{"model", model}, {"objective", ta->objective}, {"out", ta->out}, {"resume", ta->resume}, {"init", ta->init}, {"force", ta->force}, {"train", given}, {"vae", ta->vae},
                {"pixel", ta->pixel}, {"data", data}, {"seconds", ta->seconds}, {"data_n", train->get_option("--data-n")->count() ? ta->data_n : int64_t(0)}});
      return;
    }
    const auto& m = modality_or_plan(ta->modality);
    if (ta->resume.empty() && !ta->force && std::filesystem::exists(ta->out + "/checkpoint.safetensors")) {
      throw std::runtime_error(ta->out + "/checkpoint.safetensors exists; pass --resume it, or --force to start over");
    }
    if (writer && ta->force && ta->resume.empty()) std::filesystem::remove(ta->out + "/log.jsonl");
    ta->train.out_dir = ta->out;
    Json recipe = ta->resume.empty() ? default_toy_recipe() : load_model_checkpoint(ta->resume, "toy", "mlp").recipe;
    recipe.erase("train");
    auto model = make_toy_model(recipe);
    Trainer trainer(model.net.ptr(), toy_forward(model), recipe, ta->train, model.objective);
    if (!ta->resume.empty()) trainer.resume(ta->resume);
    // Preview: 2000 samples from the EMA weights (20 Heun steps), scored by the modality's metrics.
    auto preview_model = make_toy_model(recipe);
    preview_model.net->to(torch::Device(ta->train.device));
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
      r.options = r.options.device(torch::Device(ta->train.device));
      return m.metrics({sample(toy_denoiser(preview_model), r).cpu(), {}});
    };
    const auto data = m.dataset({{"n", ta->data_n}, {"seed", ta->train.seed}});
    trainer.run(data);
    std::cout << "checkpoint: " << ta->out << "/checkpoint.safetensors\nlog: " << ta->out << "/log.jsonl\n";
  });

  // ---- sample
  auto* sample_cmd = app.add_subcommand("sample", "sample from a trained model (the shipped one when --checkpoint is not given)\n"
                                                  "Examples: diffuse sample image --class \"Ankle boot\" --n 16 --steps 20 --cfg 3 --seed 1 --grid --out boots.png\n"
                                                  "          diffuse sample audio --label seven --n 8 --out seven.wav\n"
                                                  "          diffuse sample video --class Sneaker --fps 8 --out clip.mp4\n"
                                                  "          diffuse sample molecule --checkpoint runs/molecule/checkpoint.safetensors --n 100 --out mols.sdf\n"
                                                  "          diffuse sample toy --checkpoint runs/toy/checkpoint.safetensors --n 1000 --label c2 --out points.csv");
  auto sa = std::make_shared<SampleArgs>();
  sa->req.item_shape = {2};
  sample_cmd->add_option("modality", sa->modality, "toy, image, audio, video, molecule")->required();
  sample_cmd->add_option("--checkpoint", sa->checkpoint, "trained checkpoint (image: default models/fashion-mnist/dit.safetensors)")
      ->check(CLI::ExistingFile);
  sample_cmd->add_flag("--grid", sa->grid, "image: one PNG grid instead of one file per sample");
  sample_cmd->add_option("--columns", sa->columns, "image: grid columns")->capture_default_str()->check(positive_number());
  sample_cmd->add_flag("--labelled", sa->labelled, "image: write class names on the grid (per row with --class rows)");
  sample_cmd->add_option("--seconds", sa->seconds, "audio: clip length (the model's own by default)")->check(positive_number());
  sample_cmd->add_option("--format", sa->format, "audio: WAV/FLAC samples")->capture_default_str()
      ->check(CLI::IsMember({"pcm16", "pcm24", "float"}));
  sample_cmd->add_flag("--normalize", sa->normalize, "audio: scale each clip's peak to -1 dBFS");
  sample_cmd->add_option("--decoder", sa->decoder, "audio: auto (the vocoder.safetensors beside the model, else Griffin-Lim), griffin-lim, or a vocoder checkpoint;\n"
                         "video: auto (the decoder.safetensors beside the model, else per-frame), per-frame (the image VAE), or a\n"
                         "temporal decoder checkpoint (train video-decoder)")
      ->capture_default_str();
  sample_cmd->add_option("--atoms", sa->atoms, "molecule: heavy atoms per molecule (default: drawn from the training set)")->check(positive_number());
  sample_cmd->add_flag("--repair", sa->repair, "molecule: valence-aware decoding (drops the weakest bonds of over-valent atoms)");
  sample_cmd->add_option("--n-valid", sa->n_valid, "molecule: sample until this many are valid and write exactly those (instead of --n)")
      ->check(positive_number());
  sample_cmd->add_option("--scaffold", sa->scaffold, "molecule: SMILES kept fixed while the rest of each molecule is generated (inpainting)");
  sample_cmd->add_option("--first-frame", sa->first_frame, "video: an image every clip starts from (image-to-video by inpainting its latent)")
      ->check(CLI::ExistingFile);
  sample_cmd->add_option("--temporal-guidance", sa->temporal_guidance,
                         "video: push each clip's frames to agree over time: F + S (F - F without temporal attention)")
      ->capture_default_str();
  sample_cmd->add_option("--anchor-frame", sa->anchor_frame, "video: on/off: cross-frame attention to the first frame (default: as trained)")
      ->check(CLI::IsMember({"on", "off"}));
  sample_cmd->add_option("--frames", sa->frames, "video: frames per clip (the model's own by default)")->check(positive_number());
  sample_cmd->add_option("--fps", sa->fps, "video: frames per second of the MP4 (default: the model's, 8); an fps-conditioned\n"
                                          "model (train --fps-choices) also moves its items to match")->check(CLI::Range(0.1, 240.0));
  sample_cmd->add_option("--crf", sa->crf, "video: H.264/VP9 constant quality, lower is better")->capture_default_str()->check(CLI::Range(0, 51));
  sample_cmd->add_option("--preset", sa->preset, "video: libx264 preset")->capture_default_str()
      ->check(CLI::IsMember({"ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"}));
  sample_cmd->add_option("--scale", sa->scale, "image: enlarge grid cells N times")->capture_default_str()->check(CLI::Range(1, 16));
  sample_cmd->add_option("--out", sa->out, "output file")->required();
  sample_cmd->add_option("--n", sa->req.n, "samples")->capture_default_str()->check(number_in(0, double(kMaxSamples), true, "a sample count from 1 to 10000000"));
  sample_cmd->add_option("--seed", sa->req.seed, "seed of sample 0 (sample i uses seed + i)")->capture_default_str()->check(seed_number());
  sample_cmd->add_option("--batch", sa->req.batch, "samples per forward batch")->capture_default_str()->check(positive_number());
  sample_cmd->add_option("--sampler", sa->req.sampler, "any of `diffuse info`'s samplers")->capture_default_str();
  sample_cmd->add_option("--steps", sa->req.steps, "sampler steps (a discrete molecule model: its recipe's, 100)")->capture_default_str()->check(positive_number());
  sample_cmd->add_option("--schedule", sa->req.schedule, "sigma schedule")->capture_default_str();
  sample_cmd->add_option("--label,--class", sa->label, "class name or index (default: unconditional)");
  sample_cmd->add_option("--cfg", sa->cfg, "classifier-free guidance scale (default 3; molecule 1)")->check(kGuidanceScale);
  sample_cmd->add_option("--cfg-rescale", sa->rescale, "guidance rescale in [0, 1]")->capture_default_str()->check(number_in(0, 1, false, "a number in [0, 1]"));
  sample_cmd->add_option("--eta", sa->eta, "noise of ancestral/SDE samplers (default per sampler)")->check(number_in(0, 100, false, "a number in [0, 100]"));
  sample_cmd->add_flag("--raw-weights", sa->raw_weights, "use the raw weights instead of the EMA");
  sample_cmd->add_option("--device", sa->device, "cpu, cuda or cuda:N: where the denoiser runs (refused when this libtorch cannot use it)")->capture_default_str();
  sample_cmd->add_option("--precision", sa->precision, "fp32, bf16 (autocast: bf16 matrix products, fp32 statistics and sampler state) or\n"
                                                      "auto (bf16 where the CPU has AVX512_BF16/AMX or on CUDA)")->capture_default_str();
  sample_cmd->add_flag("--force", sa->force, "overwrite --out");
  sample_cmd->callback([sa, sample_cmd] {
    resolve_precision(sa->precision, parse_device(sa->device));
    if (sa->modality != "video") {  // options of the video pipeline that another would silently ignore
      for (const char* flag : {"--first-frame", "--temporal-guidance", "--anchor-frame", "--frames", "--fps", "--crf", "--preset"}) {
        if (sample_cmd->get_option(flag)->count() > 0) throw std::invalid_argument(std::string(flag) + ": sample video only, not " + sa->modality);
      }
    }
    if (const auto* p = find_pipeline(sa->modality); p && p->sample) {
      std::string ck = sa->checkpoint;
      if (ck.empty()) ck = default_model_path(sa->modality);
      Json args = {{"checkpoint", ck}, {"out", sa->out}, {"n", sa->req.n}, {"seed", sa->req.seed},
                   {"batch", sa->req.batch}, {"sampler", sa->req.sampler},
                   {"schedule", sa->req.schedule}, {"label", sa->label},
                   {"cfg_rescale", sa->rescale}, {"force", sa->force}, {"grid", sa->grid}, {"columns", sa->columns},
                   {"labelled", sa->labelled}, {"scale", sa->scale}, {"seconds", sa->seconds},
                   {"format", sa->format}, {"normalize", sa->normalize}, {"frames", sa->frames}, {"fps", sa->fps},
                   {"crf", sa->crf}, {"preset", sa->preset}, {"temporal_guidance", sa->temporal_guidance},
                   {"raw_weights", sa->raw_weights}, {"device", sa->device}, {"precision", sa->precision}};
      if (sample_cmd->get_option("--eta")->count()) args["eta"] = sa->eta;
      if (sample_cmd->get_option("--cfg")->count()) args["cfg"] = sa->cfg;  // else the modality's default
      if (sample_cmd->get_option("--steps")->count()) args["steps"] = sa->req.steps;  // else 20, or the model's own
      if (sa->atoms) args["atoms"] = sa->atoms;
      args["repair"] = sa->repair;
      if (sample_cmd->get_option("--scaffold")->count()) {
        if (sa->scaffold.find_first_not_of(" \t") == std::string::npos) throw std::invalid_argument("--scaffold '" + sa->scaffold + "': expected a SMILES substructure");
        args["scaffold"] = sa->scaffold;
      }
      if (!sa->first_frame.empty()) args["first_frame"] = sa->first_frame;
      if (!sa->anchor_frame.empty()) args["anchor_frame"] = sa->anchor_frame == "on";
      args["decoder"] = sa->decoder;
      if (sa->n_valid) args["n_valid"] = sa->n_valid;
      p->sample(args);
      return;
    }
    if (sa->checkpoint.empty()) throw std::invalid_argument("--checkpoint is required for modality " + sa->modality);
    const auto& m = modality_or_plan(sa->modality);
    if (sa->modality == "toy" && std::filesystem::path(sa->out).extension() != ".csv") {
      throw std::invalid_argument("--out " + sa->out + ": toy samples are written as CSV; expected a .csv file");
    }
    check_writable(sa->out, sa->force);
    const auto ck = load_model_checkpoint(sa->checkpoint, "toy", "mlp");
    auto model = make_toy_model(ck.recipe);
    load_for_inference(*model.net, ck, sa->checkpoint, sa->raw_weights);
    model.net->to(torch::Device(sa->device));
    auto& r = sa->req;
    r.options = r.options.device(torch::Device(sa->device));
    r.schedule_options.sigma_min = ck.recipe["sampling"].value("sigma_min", 0.002);
    r.schedule_options.sigma_max = ck.recipe["sampling"].value("sigma_max", 80.0);
    r.guidance.scale = sa->cfg;
    r.guidance.rescale = sa->rescale;
    if (sample_cmd->get_option("--eta")->count()) r.sampler_options.eta = sa->eta;
    r.null_label = int64_t(m.class_names().size());
    if (!sa->label.empty()) r.labels = torch::full({r.n}, resolve_class(m, sa->label), torch::kLong);
    const auto x = sample(toy_denoiser(model), r).cpu();
    m.save(m.decode(x), r.labels, sa->out, sa->force);
    std::cout << "wrote " << r.n << " samples to " << sa->out << "\n";
  });

  // ---- eval
  auto* eval = app.add_subcommand("eval", "score samples with the modality's metrics\n"
                                          "Examples: diffuse eval toy points.csv --json\n"
                                          "          diffuse eval vae runs/vae/checkpoint.safetensors\n"
                                          "          diffuse eval image models/fashion-mnist/dit.safetensors --steps 20 --cfg 3\n"
                                          "          diffuse eval image --calibrate\n"
                                          "          diffuse eval audio models/spoken-digits/dit.safetensors --calibrate --json");
  struct EvalArgs {
    std::string modality, file, classifier, sampler = "dpmpp_2m", vocoder, decoder = "auto", anchor_frame, device = "cpu", precision = "fp32";
    int64_t steps = 20, n_per_class = 100;
    uint64_t seed = 0;
    double cfg = 3.0, temporal_guidance = 0.0, fps = 0.0;
    bool json = false, calibrate = false, repair = false;
  };
  auto ea = std::make_shared<EvalArgs>();
  eval->add_option("modality", ea->modality, "toy (a samples file), vae (a checkpoint: PSNR), image, audio, video or molecule (a checkpoint)")->required();
  eval->add_option("file", ea->file, "samples written by diffuse sample, or a checkpoint")->check(CLI::ExistingFile);
  eval->add_flag("--json", ea->json, "print JSON");
  eval->add_option("--classifier", ea->classifier, "image, audio, video: evaluation classifier (default: the shipped one)")
      ->check(CLI::ExistingFile);
  eval->add_option("--sampler", ea->sampler, "image, audio, video, molecule: sampler")->capture_default_str();
  eval->add_option("--steps", ea->steps, "image, audio, video, molecule: sampler steps")->capture_default_str()->check(positive_number());
  eval->add_option("--cfg", ea->cfg, "image, audio, video, molecule: guidance scale")->capture_default_str()->check(kGuidanceScale);
  eval->add_option("--temporal-guidance", ea->temporal_guidance, "video: temporal guidance scale (see sample)")->capture_default_str();
  eval->add_option("--anchor-frame", ea->anchor_frame, "video: on/off: cross-frame attention (see sample)")->check(CLI::IsMember({"on", "off"}));
  eval->add_option("--fps", ea->fps, "video: frame rate of the samples (an fps-conditioned model) and of the real clips they are scored against")
      ->check(CLI::Range(0.1, 240.0));
  eval->add_option("--seed", ea->seed, "image, audio, video, molecule: seed")->capture_default_str()->check(seed_number());
  eval->add_option("--n-per-class", ea->n_per_class, "image, audio, video: samples per class (molecule: per tenth of the samples)")->capture_default_str()
      ->check(number_in(0, 100000, true, "a count from 1 to 100000"));
  eval->add_flag("--calibrate", ea->calibrate, "image, audio, video, molecule: also score real data, round trips and trivial baselines");
  eval->add_flag("--repair", ea->repair, "molecule: score samples decoded with valence repair and fragment joining");
  eval->add_option("--vocoder", ea->vocoder, "audio: the vocoder whose round trip --calibrate scores (default: the shipped one)")->check(CLI::ExistingFile);
  eval->add_option("--decoder", ea->decoder, "audio: decoder of the samples: auto, griffin-lim or a vocoder checkpoint; video: auto, per-frame or a\n"
                                               "temporal decoder checkpoint (see sample)")->capture_default_str();
  eval->add_option("--device", ea->device, "image, audio, video, molecule: cpu, cuda or cuda:N, where the samples' denoiser runs")
      ->capture_default_str();
  eval->add_option("--precision", ea->precision, "image, audio, video, molecule: fp32, bf16 or auto (see sample)")->capture_default_str();
  eval->callback([ea, eval] {
    resolve_precision(ea->precision, parse_device(ea->device));
    if (const auto* p = find_pipeline(ea->modality); p && p->eval) {
      Json args = {{"checkpoint", ea->file}, {"json", ea->json}, {"sampler", ea->sampler},
                   {"cfg", ea->cfg}, {"seed", ea->seed}, {"n_per_class", ea->n_per_class}, {"calibrate", ea->calibrate},
                   {"repair", ea->repair}, {"temporal_guidance", ea->temporal_guidance}, {"device", ea->device}, {"precision", ea->precision}};
      if (eval->get_option("--steps")->count()) args["steps"] = ea->steps;  // else 20, or the model's own
      if (!ea->anchor_frame.empty()) args["anchor_frame"] = ea->anchor_frame == "on";
      if (ea->fps > 0) args["fps"] = ea->fps;
      if (ea->modality == "image" || ea->modality == "audio" || ea->modality == "video") {
        const std::string key = ea->modality == "audio" ? "audio-classifier" : "classifier";
        args["classifier"] = ea->classifier.empty() ? default_model_path(key) : ea->classifier;
      }
      if (ea->modality == "video") args["decoder"] = ea->decoder;
      if (ea->modality == "audio") {  // the vocoder round trip joins --calibrate when one is shipped (or given)
        if (!ea->vocoder.empty()) args["vocoder"] = ea->vocoder;
        else try {
          args["vocoder"] = default_model_path("audio-vocoder");
        } catch (const std::runtime_error&) {
        }
        args["decoder"] = ea->decoder;
      }
      p->eval(args);
      return;
    }
    if (ea->file.empty()) throw std::invalid_argument("eval " + ea->modality + " needs a samples file");
    const auto& m = modality_or_plan(ea->modality);
    const auto j = m.metrics(m.load(ea->file));
    if (ea->json) {
      std::cout << j.dump(2) << "\n";
      return;
    }
    for (const auto& [k, v] : j.items()) std::cout << k << ": " << v.dump() << "\n";
  });
}

}  // namespace diffuse::cli
