// The video modality's own options, one struct per command (core/args.h): registered with CLI11 by
// plugin.cpp and read by the pipelines as options<T>() of their arguments.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/args.h"
#include "core/json.h"

namespace diffuse::video {

// Moving Fashion-MNIST clips and the image VAE of their latents.
struct ClipOptions {
  int64_t frames = 16, items = 1;
  int64_t data_n = 0;  // clips (0: the pipeline's count)
  std::string vae;     // "" = the shipped image VAE
  std::string vae_file() const;
};

// `train video`.
struct VideoTrainOptions : PluginOptions {
  ClipOptions clips;
  std::string data;  // "" or moving-fashion-mnist, else a video folder DIR/<class>/<files>
  std::string on_bad = "skip";
  std::vector<double> fps_choices;
  std::optional<double> frame_sets;
  bool motion = false;                 // --motion-condition: a new run conditioned on the item's first step
  std::string condition;               // "" = the recipe's; "first-frame" (a new run or --init) or "none"

  std::string attention;               // "" = the recipe's
  std::string position;                // "" = sincos (a new run only)
  std::optional<bool> anchor_frame;    // unset = the recipe's
  std::optional<bool> first_frame_tokens;  // a new first-frame run: the frame also as a clean frame of tokens (DiTConfig::context_frame)
  int64_t patch = 0, width = 0, depth = 0;  // 0 = the recipe's
  // The recipe's data spec, and the model keys they set (for a new run; a resume may switch
  // attention and anchor_frame).
  Json data_spec() const;
  Json model_spec() const;
};

// `train video-decoder`.
struct DecoderTrainOptions : PluginOptions {
  ClipOptions clips;
};

// `sample video`.
struct VideoSampleOptions : PluginOptions {
  // Where frame 0 comes from. An image file every clip starts from; "none" (no first frame);
  // "held-out" (a Fashion-MNIST test image of each clip's class, placed as in the data); "" = the
  // model's way: the image model for a first-frame model, none for another.
  std::string first_frame;
  // The first stage of a first-frame model's chain: the image model that makes frame 0 ("" = the
  // shipped one) and its sampling settings (unset = the image pipeline's defaults).
  std::string image_model, image_sampler = "dpmpp_2m";
  std::optional<int64_t> image_steps;
  std::optional<double> image_cfg, video_cfg;  // video_cfg: the video stage's (overrides --cfg)
  double first_frame_noise = 0.02;  // noise augmentation of the first frame given to the model
  std::optional<bool> first_frame_guidance;  // CFG's unconditional pass also drops the first frame (unset = on)
  std::optional<double> first_frame_cfg;     // the first frame's own guidance scale (unset = the video stage's)
  std::vector<double> motion;                // motion-conditioned models: the item's first step (dy, dx) px/frame; empty = drawn
  std::optional<bool> anchor_frame;  // unset = as trained
  std::string decoder = "auto";      // auto, per-frame or a temporal decoder checkpoint
  std::string preset = "medium";
  double temporal_guidance = 0;
  double fps = 0;      // 0 = the model's
  int64_t frames = 0;  // 0 = the model's
  int64_t crf = 18;
};

// `eval video`: its samples' settings (as sample's) and the judge.
struct VideoEvalOptions : VideoSampleOptions {
  std::string classifier;  // "" = the shipped image classifier
};

}  // namespace diffuse::video
