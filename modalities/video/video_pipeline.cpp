// The Moving Fashion-MNIST video pipeline.
#include "modalities/video/video_pipeline.h"

#include <torch/torch.h>

#include <chrono>
#include <algorithm>
#include <filesystem>
#include <sstream>
#include <iomanip>
#include <iostream>
#include <limits>
#include <random>

#include "core/device.h"
#include "core/dit_pipeline.h"
#include "core/files.h"
#include "core/pipeline.h"
#include "core/report.h"
#include "core/safetensors.h"
#include "core/metrics.h"
#include "core/objectives.h"
#include "core/train/trainer.h"
#include "modalities/image/classifier.h"
#include "modalities/image/dataset.h"
#include "modalities/image/idx.h"
#include "modalities/image/image_pipeline.h"
#include "modalities/image/io.h"
#include "modalities/image/vae.h"
#include "modalities/video/clips.h"
#include "modalities/video/first_frame.h"
#include "modalities/video/io.h"
#include "modalities/video/moving.h"
#include "modalities/video/options.h"
#include "modalities/video/recipe.h"
#include "modalities/video/temporal_decoder.h"

namespace diffuse::video {
namespace {

class VideoModality : public DiffusionModality {
 public:
  std::string name() const override { return "video"; }

  Json new_recipe(const TrainArgs& a) const override {
    const auto& o = a.options<VideoTrainOptions>();
    const std::string vae_path = o.clips.vae_file();
    Json data = {{"frames", 16}, {"size", 64}, {"items", 1}};
    const Json given = o.data_spec();  // items() of a temporary would dangle
    for (const auto& [k, v] : given.items()) data[k] = v;
    Json recipe = default_recipe(vae_path, image::load_vae(vae_path), moving_options(data, 0), o.model_spec());
    if (data.value("dataset", std::string()) == "folder") recipe["data"] = data;
    return recipe;
  }

  void adapt_recipe(Json& recipe, const TrainArgs& a, const std::string& from) const override {
    adapt_backbone(recipe, a.options<VideoTrainOptions>(), from, a.resume);
    adapt_data(recipe, a.options<VideoTrainOptions>(), from, a.resume);
  }

  TrainData training_set(Json& recipe, const TrainArgs& a, bool fresh) const override {
    const std::string& resume = a.resume;
    const std::string& from = resume.empty() ? a.init : resume;
    auto vae = image::load_vae(recipe.at("vae"));
    vae->to(parse_device(a.device.value_or("cpu")));  // encodes on --device: a cache miss on a GPU takes seconds, not minutes
    const Json& data = recipe.at("data");
    torch::Tensor labels, fps, velocities;
    ClipsFingerprint print;  // of the frames, for the latents' cache key
    std::function<torch::Tensor()> encode;
    if (data.value("dataset", std::string()) == "folder") {  // DIR/<class>/<videos>, gray, at the model's size
      const auto f = load_video_folder(data.at("dir"), data.value("frames", int64_t(16)), data.value("size", int64_t(64)),
                                       data.value("size", int64_t(64)), data.value("on_bad", std::string("skip")) == "skip");
      for (const auto& [file, why] : f.bad) std::cerr << "skipped " << why << "\n";
      const auto clips = f.clips.mean(2, true);
      print.add(clips);
      encode = [&vae, clips] { return encode_clips(vae, clips); };
      labels = f.labels;
      if (resume.empty()) {
        recipe["classes"] = f.class_names;
        recipe["model"]["config"]["num_classes"] = int64_t(f.class_names.size());
      }
    } else {
      const auto fm = image::load_fashion_mnist("train");
      // The clip count is part of the data: a resume keeps its run's, and the recipe records it.
      const int64_t data_n = a.options<VideoTrainOptions>().clips.data_n;
      const int64_t n = data_n > 0 ? data_n : data.value("clips", int64_t(6000));
      if (!resume.empty() && data_n > 0 && data.contains("clips") && data_n != data.at("clips").get<int64_t>()) {
        throw std::invalid_argument("--data-n " + std::to_string(data_n) + ": " + resume + " trains on " +
                                    std::to_string(data.at("clips").get<int64_t>()) + " clips; start a fine-tune with --init instead");
      }
      recipe["data"]["clips"] = n;
      const auto set = moving_training_set(fm.images, fm.labels, n, moving_options(data, 1));
      print = set.frames;
      labels = set.labels;
      fps = set.fps;
      velocities = set.velocities;
      encode = [&vae, e = set.encode] { return e(vae); };
    }
    auto z = cached_latents(a.out, from, latents_key(data, print, read_file(recipe.at("vae"))), encode);
    std::cerr << "latents of " << z.size(0) << " clips: " << z.sizes().slice(1) << " (std " << z.std().item<double>() << ")\n";
    const bool folder = data.value("dataset", std::string()) == "folder";
    torch::Tensor vectors;
    if (fps_conditioned(recipe)) {
      vectors = fps_vector(fps, recipe.value("fps", 8.0));
      std::cerr << "frame rates:";
      for (const double f : data.at("fps").get<std::vector<double>>()) std::cerr << " " << f << " (" << (fps == f).sum().item<int64_t>() << " clips)";
      std::cerr << "\n";
    }
    // The rows: the clips, then the frame sets if any, then the clips played backwards (a bouncing
    // clip played backwards is another valid clip), which the trainer reverses batch by batch
    // (TrainData::mirrored) rather than holding a second copy of the latents.
    const bool reverse = data.value("time_reverse", !folder);
    const bool first_frame = recipe.at("model").at("config").value("context_channels", int64_t(0)) > 0;
    Condition clips{labels}, backwards{labels};
    clips.vectors = backwards.vectors = vectors;
    if (motion_conditioned(recipe)) {  // played backwards, a clip's first step is its last step reversed
      const auto with_rate = [&vectors](const torch::Tensor& step) { return vectors.defined() ? torch::cat({vectors, step}, 1) : step; };
      clips.vectors = with_rate(motion_vector(velocities.select(1, 0)));
      backwards.vectors = with_rate(motion_vector(-velocities.select(1, 1)));
      std::cerr << "motion: the item's first step, mean speed " << velocities.select(1, 0).norm(2, 1).mean().item<double>() << " px/frame\n";
    }
    if (first_frame) {  // (N, C, 1, s, s): the first frame, seen by every frame
      clips.context = z.slice(2, 0, 1);
      backwards.context = z.slice(2, z.size(2) - 1);
    }
    TrainData out{z, clips};
    if (const double share = data.value("frame_sets", 0.0); share > 0) {
      if (first_frame) throw std::invalid_argument("--frame-sets: a first-frame-conditioned model trains on whole clips");
      const int64_t played = z.size(0) * (reverse ? 2 : 1);
      const auto count = int64_t(std::llround(share / (1 - share) * double(played)));
      auto [sets, set_labels] = frame_sets(z, labels, count);
      std::cerr << sets.size(0) << " frame sets (" << z.size(2) << " frames of one class from different clips, "
                << "temporal attention off) beside " << played << " clips\n";
      Condition stacks{set_labels};
      // A stack of unrelated frames has no frame rate: the null vector.
      if (clips.vectors.defined()) stacks.vectors = torch::full({sets.size(0), clips.vectors.size(1)}, std::numeric_limits<float>::quiet_NaN());
      clips.independent = backwards.independent = torch::zeros({z.size(0)}, torch::kBool);
      stacks.independent = torch::ones({sets.size(0)}, torch::kBool);
      out = {torch::cat({z, sets}), Condition::cat(clips, stacks)};
    }
    if (reverse) {
      out.cond = Condition::cat(out.cond, backwards);
      out.mirrored = z.size(0);
      out.mirror_dim = 2;  // (N, C, T, s, s)
    }
    return out;
  }

  Json train_defaults() const override {
    return {{"steps", 3500}, {"batch", 8}, {"lr", 6e-4}, {"warmup", 200}, {"ema_decay", 0.999}, {"log_every", 100},
            {"checkpoint_every", 250}, {"cond_dropout", 0.1},
            // A first-frame model (no effect on others): 10% of clips without it, so the same
            // weights can also start from nothing (--first-frame none); the first frame's noise
            // level drawn as SVD's (log-normal, median 0.05).
            {"context_dropout", 0.1}, {"context_noise_mean", -3.0}, {"context_noise_std", 0.5}};
  }

  void edit_recipe(Json& recipe, const SampleArgs& a) const override {
    if (const auto anchor = a.options<VideoSampleOptions>().anchor_frame) recipe["model"]["config"]["anchor_frame"] = *anchor;  // no extra weights
  }

  void prepare(DitSampling& s, const SampleArgs& a, Generated& out) const override {
    const auto& o = a.options<VideoSampleOptions>();
    const auto& recipe = s.checkpoint.recipe;
    const auto& c = s.net->config();
    SampleRequest& r = s.request;
    const int64_t n = r.n;
    if (o.frames > 0 && o.frames != c.input_size[0]) {
      throw std::invalid_argument("--frames " + std::to_string(o.frames) + ": this model generates " +
                                  std::to_string(c.input_size[0]) + "-frame clips");
    }
    const double fps = o.fps > 0 ? o.fps : recipe.value("fps", 8.0);
    out.info = {{"fps", fps}, {"anchor_frame", c.anchor_frame}, {"fps_conditioned", fps_conditioned(recipe)}};
    if (fps_conditioned(recipe)) {  // the frame rate sets how far items move per frame
      const auto trained = recipe.at("data").at("fps").get<std::vector<double>>();
      const auto [lo, hi] = std::minmax_element(trained.begin(), trained.end());
      if (fps < *lo - 1e-9 || fps > *hi + 1e-9) {
        throw std::invalid_argument("--fps " + format_number(fps) + ": this model was trained at " + format_number(*lo) + " to " +
                                    format_number(*hi) + " fps");
      }
      r.condition.vectors = fps_vector(torch::full({n}, fps, torch::kFloat64), recipe.value("fps", 8.0));
    }
    if (!o.motion.empty() && !motion_conditioned(recipe)) {
      throw std::invalid_argument("--motion: " + a.checkpoint + " is not conditioned on motion (train video --motion-condition)");
    }
    if (motion_conditioned(recipe)) {  // the item's first step: given, or drawn per clip as the data draws it
      const auto step = o.motion.empty() ? draw_motion(n, a.seed, fps, moving_options(recipe.at("data"), 0))
                                         : torch::tensor(o.motion, torch::kFloat64).unsqueeze(0).expand({n, 2});
      const auto m = motion_vector(step);
      r.condition.vectors = r.condition.vectors.defined() ? torch::cat({r.condition.vectors, m}, 1) : m;
      out.info["motion"] = o.motion.empty() ? Json("drawn") : Json(o.motion);
    }
    r.batch = std::min<int64_t>(r.batch, 16);
    if (o.video_cfg) r.guidance.scale = *o.video_cfg;
    const int64_t side = recipe.at("data").value("size", int64_t(64));
    // (m, 1, side, side) -> (m, C, s, s), one frame at a time: a clip's latent must not depend on
    // how many clips are drawn with it (a convolution's kernel may differ with the batch).
    const auto encode = [&](const torch::Tensor& frames) {
      torch::NoGradGuard g;
      auto vae = image::load_vae(resolve_beside(recipe.at("vae"), a.checkpoint));
      std::vector<torch::Tensor> z;
      for (int64_t i = 0; i < frames.size(0); ++i) z.push_back(vae->encode(frames.slice(0, i, i + 1)));
      return torch::cat(z);
    };
    // The image stage's options where no image stage runs are refused, not ignored.
    const char* stage_option = !o.image_model.empty() ? "--image-model" : o.image_steps ? "--image-steps" : o.image_cfg ? "--image-cfg"
                               : o.image_sampler != VideoSampleOptions().image_sampler ? "--image-sampler" : nullptr;
    if (stage_option && (c.context_channels == 0 || !o.first_frame.empty())) {
      throw std::invalid_argument(std::string(stage_option) + ": no image stage runs here (it makes frame 0 only for a model trained with " +
                                  "--condition first-frame and no --first-frame; " + a.checkpoint +
                                  (c.context_channels == 0 ? " has no first-frame condition)" : " is given --first-frame " + o.first_frame + ")"));
    }
    if (o.first_frame_cfg && c.context_channels == 0) {
      throw std::invalid_argument("--first-frame-cfg: " + a.checkpoint + " has no first-frame condition to guide toward");
    }
    if (o.first_frame_cfg && (!o.first_frame_guidance.value_or(true) || o.first_frame == "none")) {
      throw std::invalid_argument("--first-frame-cfg: needs a first frame and first-frame guidance on");
    }
    if (o.first_frame_guidance.value_or(false) && c.context_channels == 0) {
      throw std::invalid_argument("--first-frame-guidance on: " + a.checkpoint + " has no first-frame condition to guide toward");
    }
    if (c.context_channels > 0) {
      // A first-frame model: frame 0 from the image model (or the user's image, or a held-out
      // item) as its latent, seen noise-augmented by every frame and kept as the clip's frame 0.
      torch::Tensor z0;  // (n, C, s, s), or undefined for none
      if (o.first_frame == "" || o.first_frame == "held-out") {
        z0 = encode(chain_first_frames(s, a, o, side, out.info));
      } else if (o.first_frame != "none") {
        z0 = encode(first_frame_canvas(o.first_frame, side)).expand({n, -1, -1, -1}).contiguous();
        out.info["first_frame"] = o.first_frame;
      } else {
        out.info["first_frame"] = "none";
      }
      std::vector<int64_t> shape = r.item_shape;
      shape.insert(shape.begin(), n);
      shape[2] = 1;
      auto context = z0.defined() ? z0.unsqueeze(2) : torch::zeros(shape);
      std::vector<torch::Tensor> noise;  // clip i's from its own seed: independent of the batch
      for (int64_t i = 0; i < n; ++i) {
        auto gen = at::detail::createCPUGenerator((a.seed + uint64_t(i)) ^ 0xC0A6A0C0A6ULL);
        noise.push_back(torch::randn(context.sizes().slice(1), gen));
      }
      const auto augmentation = o.first_frame_noise * torch::stack(noise);
      r.condition.context = context + augmentation;
      r.condition.context_noise = torch::full({n}, o.first_frame_noise);
      const bool guide = o.first_frame_guidance.value_or(true);
      if (guide) r.null_context = augmentation;  // a dropped frame: zeros, as in training
      out.info["first_frame_guidance"] = guide;
      if (guide) r.guidance.context_scale = o.first_frame_cfg;
      if (guide) out.info["first_frame_cfg"] = o.first_frame_cfg.value_or(r.guidance.scale);
      if (z0.defined()) {
        auto known = torch::full({n, shape[1], c.input_size[0], shape[3], shape[4]}, std::numeric_limits<float>::quiet_NaN());
        known.select(2, 0).copy_(z0);
        r.condition.frames = known;
      }
      out.info["first_frame_noise"] = o.first_frame_noise;
      return;
    }
    if (const std::string& first = o.first_frame; !first.empty() && first != "none") {
      // Image-to-video without training for it: the frame's latent is known at t = 0 and every
      // sampler inpaints the rest of the clip around it.
      const auto z0 = first == "held-out" ? encode(chain_first_frames(s, a, o, side, out.info))
                                          : encode(first_frame_canvas(first, side)).expand({n, -1, -1, -1});  // (n, C, s, s)
      auto known = torch::full(r.item_shape, std::numeric_limits<float>::quiet_NaN()).unsqueeze(0).repeat({n, 1, 1, 1, 1});
      known.select(2, 0).copy_(z0);
      r.condition.frames = known;
      if (first != "held-out") out.info["first_frame"] = first;
    }
  }

  ConditionalDenoiser denoiser(const DitSampling& s, const SampleArgs& a) const override {
    return with_known_values(dit_denoiser(s.net, s.sigma_data, a.options<VideoSampleOptions>().temporal_guidance, s.request.precision));
  }

  // The temporal decoder beside the checkpoint (or --decoder's), else the image VAE frame by frame.
  Decoder decoder(const DitSampling& s, const SampleArgs& a) const override {
    const std::string &path = a.checkpoint, &choice = a.options<VideoSampleOptions>().decoder;
    const auto d = clip_decoder(choice, path, resolve_beside(s.checkpoint.recipe.at("vae"), path));
    return [d](const torch::Tensor& z, Generated& out) {
      out.data = d.decode(z);
      out.info["decoder"] = d.name;
    };
  }

  std::unique_ptr<Evaluator> evaluator(const EvalArgs& a, const Json& recipe, int64_t per_class) const override {
    return video_evaluator(a, recipe, per_class);
  }

  std::vector<std::string> formats() const override { return kVideoFormats; }

  void save(const Generated& g, const SampleFiles& files, const SampleArgs& a) const override {
    const auto& own = a.options<VideoSampleOptions>();
    VideoWriteOptions o;
    o.fps = g.info.at("fps").get<double>();
    o.crf = int(own.crf);
    o.preset = own.preset;
    o.force = a.force;
    const int64_t n = g.data.size(0);
    for (int64_t i = 0; i < n; ++i) write_video(files[i], g.data[i], o);
    std::cout << "wrote " << n << (n == 1 ? " clip to " : " clips as ") << files.written() << " (" << g.data.size(1)
              << " frames at " << o.fps << " fps; " << std::fixed << std::setprecision(2) << g.sample_seconds + g.decode_seconds << " s)\n";
  }
};

const VideoModality kVideo;

}  // namespace

Generated sample_clips(const SampleArgs& a, int64_t n) { return generate(kVideo, a, n); }

PipelineCommands video_pipeline() {
  return {[](const TrainArgs& a) { train_pipeline(kVideo, a); }, [](const SampleArgs& a) { sample_pipeline(kVideo, a); },
          [](const EvalArgs& a) { eval_pipeline(kVideo, a); }, nullptr};
}

}  // namespace diffuse::video
