// The video modality's command-line options: `train video|video-decoder`, `sample video`,
// `eval video`.
#include "modalities/video/plugin.h"

#include "core/cli_options.h"
#include "core/files.h"
#include "modalities/image/plugin.h"
#include "modalities/video/options.h"
#include "modalities/video/video_pipeline.h"

namespace diffuse::video {
namespace {

void add_clip_options(CLI::App& c, ClipOptions& o) {
  c.add_option("--vae", o.vae, "the image VAE whose per-frame latents the model learns (default: the shipped one)")->check(CLI::ExistingFile);
  c.add_option("--frames", o.frames, "frames per Moving Fashion-MNIST clip")->capture_default_str()->check(positive_number());
  c.add_option("--items", o.items, "items per clip (1 or 2)")->capture_default_str()->check(CLI::Range(1, 2));
  c.add_option("--data-n", o.data_n, "Moving Fashion-MNIST clips (train video: the run's or model's that --resume or\n--init names, else 6,000; train video-decoder: 2,000)")->check(positive_number());
}

void add_anchor_option(CLI::App& c, std::optional<bool>& v, const std::string& help) {
  c.add_option_function<std::string>("--anchor-frame", [&v](const std::string& s) { v = s == "on"; }, help)->check(CLI::IsMember({"on", "off"}));
}

// Frame 0 and, for a first-frame model, the image stage of the chain (sample and eval).
void add_first_frame_options(CLI::App& c, VideoSampleOptions& o) {
  c.add_option("--first-frame", o.first_frame,
               "where frame 0 comes from: an image file (every clip starts from it), none, or held-out (a test-split\n"
               "Fashion-MNIST item of each clip's class); default: the image model for a model trained with\n"
               "--condition first-frame, none for another (which inpaints around a given frame 0)")
      ->check(CLI::IsMember({"none", "held-out"}) | CLI::ExistingFile);
  c.add_option("--image-model", o.image_model, "first-frame models: the image model that makes frame 0 (default: the shipped one)")
      ->check(CLI::ExistingFile);
  c.add_option("--image-sampler", o.image_sampler, "first-frame models: the image stage's sampler")->capture_default_str();
  c.add_option_function<int64_t>("--image-steps", [&o](int64_t v) { o.image_steps = v; }, "first-frame models: the image stage's steps")
      ->check(positive_number());
  c.add_option_function<double>("--image-cfg", [&o](double v) { o.image_cfg = v; }, "first-frame models: the image stage's CFG scale (default 3)");
  c.add_option_function<double>("--video-cfg", [&o](double v) { o.video_cfg = v; }, "the video stage's CFG scale (overrides --cfg)");
  c.add_option("--first-frame-noise", o.first_frame_noise, "first-frame models: noise level of the first frame as the model sees it")
      ->capture_default_str()->check(CLI::Range(0.0, 10.0));
  c.add_option_function<std::string>("--first-frame-guidance", [&o](const std::string& s) { o.first_frame_guidance = s == "on"; },
                                     "first-frame models: on: CFG's unconditional pass also drops the first frame, so guidance\n"
                                     "pushes toward it as well as toward the class (Stable Video Diffusion's; default); off: the class only")
      ->check(CLI::IsMember({"on", "off"}));
  c.add_option_function<double>("--first-frame-cfg", [&o](double v) { o.first_frame_cfg = v; },
                                "first-frame models with first-frame guidance: the frame's own scale F beside the class's C\n"
                                "(InstructPix2Pix's two scales: u + F (f - u) + C (c - f), f without the class; a third\n"
                                "pass per step); default: the video CFG for both")
      ->check(CLI::Range(0.0, 100.0));
}

}  // namespace

std::string ClipOptions::vae_file() const { return vae.empty() ? shipped_model_path("fashion-mnist/vae.safetensors") : vae; }

Json VideoTrainOptions::data_spec() const {
  Json spec = Json::object();
  if (!data.empty() && data != "moving-fashion-mnist") spec = {{"dataset", "folder"}, {"dir", data}, {"on_bad", on_bad}};
  spec["frames"] = clips.frames;
  spec["items"] = clips.items;
  if (frame_sets) spec["frame_sets"] = *frame_sets;
  if (!fps_choices.empty()) spec["fps"] = fps_choices;
  if (motion) spec["motion"] = true;
  return spec;
}

Json VideoTrainOptions::model_spec() const {
  Json model = Json::object();
  if (patch) model["patch"] = patch;
  if (width) model["hidden"] = width;
  if (depth) model["depth"] = depth;
  if (!attention.empty()) model["attention"] = attention;
  if (!position.empty()) model["position"] = position;
  if (anchor_frame) model["anchor_frame"] = *anchor_frame;
  if (!condition.empty()) model["condition"] = condition;
  if (first_frame_tokens) model["context_frame"] = *first_frame_tokens;
  return model;
}

PipelineCommands video_plugin() {
  auto p = video_pipeline();
  p.summary = "a space-time DiT on per-frame VAE latents (Moving Fashion-MNIST or a video folder), MP4/WebM/GIF clips";
  p.shipped = "moving-fashion-mnist/dit.safetensors";
  p.train_options = [](CLI::App& c) -> std::function<void(TrainArgs&)> {
    auto o = std::make_shared<VideoTrainOptions>();
    auto init = std::make_shared<std::string>();
    add_clip_options(c, o->clips);
    c.add_option("--data", o->data, "moving-fashion-mnist (default) or a video folder DIR/<class>/<files>");
    c.add_option("--on-bad", o->on_bad, "skip unreadable files (reported) or fail on the first")->capture_default_str()->check(CLI::IsMember({"skip", "fail"}));
    add_init_option(c, *init);
    c.add_option("--fps-choices", o->fps_choices, "condition on the frame rate: each clip is filmed at one of these rates\n"
                                                   "(e.g. 4 8 16; items move 8/fps times as far per frame), and sample --fps picks one")
        ->expected(1, 16);
    c.add_flag("--motion-condition", o->motion, "condition on the item's velocity (its first step, dy and dx), a new run on Moving\n"
                                                "Fashion-MNIST: sample draws it as the data does, or takes --motion DY DX");
    c.add_option_function<double>("--frame-sets", [o](double share) { o->frame_sets = share; }, "share of training items that are stacks of same-class frames from different clips,\n"
                                                             "trained with temporal attention off (joint image-video training; default 0)");
    c.add_option("--patch", o->patch, "the DiT's spatial patch on the latents (default 2)")->check(positive_number());
    c.add_option("--width", o->width, "the DiT's width (default 144; divisible by 6)")->check(positive_number());
    c.add_option("--depth", o->depth, "the DiT's blocks (default 6, alternating spatial and temporal); a fine-tune\n(--init) may add blocks, which start closed")->check(positive_number());
    c.add_option("--position", o->position, "sincos (positions added to the tokens; default), rope (rotary, relative positions\n"
                                            "in every attention) or sincos+rope (both); a new run")
        ->check(CLI::IsMember({"sincos", "rope", "sincos+rope"}));
    c.add_option("--attention", o->attention, "factorized (spatial blocks alternate with temporal ones; default) or hybrid\n"
                                              "(with full space-time ones: the same weights, so a resume may switch)")
        ->check(CLI::IsMember({"factorized", "hybrid"}));
    add_anchor_option(c, o->anchor_frame, "on: spatial blocks also attend to the first frame's tokens (cross-frame attention;\n"
                                          "default off; a resume may switch it)");
    c.add_option("--condition", o->condition, "first-frame: every frame also sees the clip's first frame (its latent,\n"
                                              "noise-augmented; image-to-video, chained after the image model by sample);\n"
                                              "a new run or a fine-tune (--init). none: unconditional on frames (default)")
        ->check(CLI::IsMember({"first-frame", "none"}));
    c.add_option_function<std::string>("--first-frame-tokens", [o](const std::string& s) { o->first_frame_tokens = s == "on"; },
                                       "first-frame models, a new run: on: the first frame also enters as a clean frame of tokens\n"
                                       "of its own, which every block attends to (keys and values; default off: channels only)")
        ->check(CLI::IsMember({"on", "off"}));
    return [o, init](TrainArgs& a) {
      a.own = o;
      a.init = *init;
    };
  };
  p.sample_options = [](CLI::App& c) -> std::function<void(SampleArgs&)> {
    auto o = std::make_shared<VideoSampleOptions>();
    add_first_frame_options(c, *o);
    c.add_option("--temporal-guidance", o->temporal_guidance, "push each clip's frames to agree over time: F + S (F - F without temporal attention)")
        ->capture_default_str();
    add_anchor_option(c, o->anchor_frame, "on/off: cross-frame attention to the first frame (default: as trained)");
    c.add_option("--frames", o->frames, "frames per clip (the model's own by default)")->check(positive_number());
    c.add_option("--motion", o->motion, "motion-conditioned models: the item's first step DY DX in pixels per frame\n"
                                        "(default: drawn per clip from its seed, as the data draws it)")->expected(2)->check(CLI::Range(-64.0, 64.0));
    c.add_option("--fps", o->fps, "frames per second of the MP4 (default: the model's, 8); an fps-conditioned\n"
                                  "model (train --fps-choices) also moves its items to match")->check(CLI::Range(0.1, 240.0));
    c.add_option("--crf", o->crf, "H.264/VP9 constant quality, lower is better")->capture_default_str()->check(CLI::Range(0, 51));
    c.add_option("--preset", o->preset, "libx264 preset")->capture_default_str()
        ->check(CLI::IsMember({"ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"}));
    c.add_option("--decoder", o->decoder, "auto (the decoder.safetensors beside the model, else per-frame), per-frame (the image VAE),\n"
                                          "or a temporal decoder checkpoint (train video-decoder)")->capture_default_str();
    return [o](SampleArgs& a) { a.own = o; };
  };
  p.eval_options = [](CLI::App& c) -> std::function<void(EvalArgs&)> {
    auto o = std::make_shared<VideoEvalOptions>();
    image::add_classifier_option(c, o->classifier);
    add_first_frame_options(c, *o);
    c.add_option("--temporal-guidance", o->temporal_guidance, "temporal guidance scale (see sample)")->capture_default_str();
    add_anchor_option(c, o->anchor_frame, "on/off: cross-frame attention (see sample)");
    c.add_option("--fps", o->fps, "frame rate of the samples (an fps-conditioned model) and of the real clips they are scored against")
        ->check(CLI::Range(0.1, 240.0));
    c.add_option("--decoder", o->decoder, "auto, per-frame or a temporal decoder checkpoint (see sample)")->capture_default_str();
    return [o](EvalArgs& a) { a.own = o; };
  };
  return p;
}

PipelineCommands video_decoder_plugin() {
  auto p = video_decoder_pipeline();
  p.summary = "the temporal decoder (latents of a clip to its frames, smoother than per-frame decoding)";
  p.train_options = [](CLI::App& c) -> std::function<void(TrainArgs&)> {
    auto o = std::make_shared<DecoderTrainOptions>();
    add_clip_options(c, o->clips);
    return [o](TrainArgs& a) { a.own = o; };
  };
  return p;
}

}  // namespace diffuse::video
