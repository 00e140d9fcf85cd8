// The video recipe: a new run's, and what a resume or fine-tune may change of its model's.
#include "modalities/video/recipe.h"

#include <iostream>
#include <stdexcept>
#include <utility>
#include <vector>

#include "core/dit.h"
#include "core/objectives.h"
#include "core/train/checkpoint.h"
#include "modalities/image/idx.h"
#include "modalities/video/clips.h"

namespace diffuse::video {

Json default_recipe(const std::string& vae_path, image::Vae vae, const MovingOptions& m, const Json& model) {
  const int64_t f = vae->config().downsampling(), side = m.size / f;
  DiTConfig d;
  d.input_size = {m.frames, side, side};  // 16 x 16 x 16 latents for 16 frames of 64 x 64
  const int64_t p = model.value("patch", int64_t(2));
  if (p < 1 || side % p != 0) {
    throw std::invalid_argument("--patch " + std::to_string(p) + ": must divide the latent side " + std::to_string(side));
  }
  d.patch = {1, p, p};  // patch 2: 64 tokens per frame, 1024 per clip (patch 4: 16 and 256, much worse items)
  d.in_channels = vae->config().z_channels;
  d.learn_sigma = false;
  d.hidden = model.value("hidden", int64_t(144));
  if (d.hidden % 6 != 0) {
    throw std::invalid_argument("--width " + std::to_string(d.hidden) + ": must be divisible by 6 (3-axis sin-cos positions)");
  }
  d.depth = model.value("depth", int64_t(6));  // alternating spatial and temporal blocks
  d.heads = 4;
  d.attention = model.value("attention", std::string("factorized"));
  d.anchor_frame = model.value("anchor_frame", false);
  d.position = model.value("position", std::string("sincos"));
  if (model.value("condition", std::string("none")) == "first-frame") d.context_channels = d.in_channels;
  d.context_frame = model.value("context_frame", false);
  if (d.context_frame && d.context_channels == 0) throw std::invalid_argument("--first-frame-tokens on: needs --condition first-frame");
  d.num_classes = 10;
  ObjectiveOptions o;
  o.kind = ModelKind::kEdm;
  o.sampling = SigmaSampling::kLogNormal;
  o.weighting = LossWeighting::kEdm;
  o.sigma_data = 1.0;
  return {{"modality", "video"}, {"vae", vae_path}, {"model", {{"type", "dit"}, {"config", to_json(d)}}},
          {"objective", to_json(o)}, {"classes", image::fashion_mnist_classes()},
          {"data", {{"dataset", "moving-fashion-mnist"}, {"frames", m.frames}, {"size", m.size}, {"items", m.items}}},
          {"fps", 8.0}, {"sampling", {{"sigma_min", 0.002}, {"sigma_max", 80.0}}}};
}

void adapt_backbone(Json& recipe, const VideoTrainOptions& o, const std::string& from, const std::string& resume) {
  if (!from.empty()) {
    recipe["vae"] = resolve_beside(recipe.at("vae"), from);  // a shipped model names its VAE beside itself
    // Factorised and hybrid models, with or without the anchor frame, have the same weights: a
    // resume may switch between them.
    const Json model = o.model_spec();
    auto& config = recipe.at("model").at("config");
    const std::pair<const char*, const char*> switches[] = {{"attention", "--attention"}, {"anchor_frame", "--anchor-frame"}};
    for (const auto& [key, flag] : switches) {
      if (!model.contains(key)) continue;
      const std::string was = config.value("attention", std::string("full"));
      if (was != "factorized" && was != "hybrid") {
        throw std::invalid_argument(std::string(flag) + ": " + from + " has " + was + " attention, which cannot switch to " +
                                    model.at(key).dump());
      }
      config[key] = model.at(key);
    }
    // The backbone's size is a new run's choice, but a fine-tune may deepen it (core/dit.h, deepen_dit).
    for (const auto& [key, flag] : {std::pair<const char*, const char*>{"patch", "--patch"}, {"hidden", "--width"}}) {
      if (model.contains(key)) throw std::invalid_argument(std::string(flag) + ": " + from + " has its size; only a new run chooses");
    }
    if (model.contains("depth")) {
      const int64_t want = model.at("depth"), was = config.at("depth");
      if (want != was && (!resume.empty() || want < was)) {
        throw std::invalid_argument("--depth " + std::to_string(want) + ": " + from + " has " + std::to_string(was) + " blocks; " +
                                    (resume.empty() ? "a fine-tune may add blocks, not remove them" : "start a fine-tune with --init to add blocks"));
      }
      config["depth"] = want;
    }
  }
  if (!o.position.empty() && !from.empty() && o.position != recipe.at("model").at("config").value("position", std::string("sincos"))) {
    throw std::invalid_argument("--position " + o.position + ": " + from + " was trained with other positions; only a new run chooses");
  }
  if (o.first_frame_tokens && !from.empty() &&
      *o.first_frame_tokens != recipe.at("model").at("config").value("context_frame", false)) {  // it adds weights
    throw std::invalid_argument(std::string("--first-frame-tokens ") + (*o.first_frame_tokens ? "on" : "off") + ": " + from +
                                " was trained " + (*o.first_frame_tokens ? "without" : "with") + " them; only a new run chooses");
  }
  if (!o.condition.empty()) {  // a new run's is in its recipe already; a fine-tune may add it
    auto& config = recipe.at("model").at("config");
    const bool has = config.value("context_channels", int64_t(0)) > 0, want = o.condition == "first-frame";
    if (has != want && (!resume.empty() || has)) {
      throw std::invalid_argument("--condition " + o.condition + ": " + from + " is " + (has ? "" : "not ") +
                                  "first-frame-conditioned; " + (has ? "it cannot drop its condition" : "start a fine-tune with --init instead"));
    }
    if (want && !has) {
      config["context_channels"] = config.at("in_channels");
      if (recipe.at("data").value("frame_sets", 0.0) > 0 && !o.frame_sets) {
        std::cerr << "--condition first-frame: frame sets off (a first-frame model trains on whole clips)\n";
        recipe["data"].erase("frame_sets");
      }
    }
  }
}

void adapt_data(Json& recipe, const VideoTrainOptions& o, const std::string& from, const std::string& resume) {
  if (o.frame_sets) {
    const double share = *o.frame_sets;
    if (!(share >= 0 && share < 1)) {
      throw std::invalid_argument("--frame-sets " + std::to_string(share) + ": must be in [0, 1) (the share of training items)");
    }
    recipe["data"]["frame_sets"] = share;
  }
  if (!o.fps_choices.empty()) {
    const auto& fps = o.fps_choices;
    std::string list;
    for (const double f : fps) {
      list += (list.empty() ? "" : " ") + format_number(f);
      if (!(f >= 0.5 && f <= 120)) throw std::invalid_argument("--fps-choices: " + format_number(f) + " is not a frame rate in [0.5, 120]");
    }
    if (fps.size() < 2) throw std::invalid_argument("--fps-choices " + list + ": give two or more frame rates to condition on");
    if (!resume.empty() && recipe.at("data").value("fps", std::vector<double>()) != fps) {
      throw std::invalid_argument("--fps-choices " + list + ": a resume keeps the run's frame rates; start a fine-tune with --init instead");
    }
    if (recipe.at("data").value("dataset", std::string()) == "folder") {
      throw std::invalid_argument("--fps-choices: Moving Fashion-MNIST only (a video folder's clips are decoded at one rate)");
    }
    auto& config = recipe.at("model").at("config");
    if (config.value("cond_dim", int64_t(0)) != 0 && !fps_conditioned(recipe)) {
      throw std::invalid_argument("--fps-choices: " + from + " already has a condition vector of another kind");
    }
    // A new rate condition goes through sinusoidal features and an MLP (as SVD's fps), which
    // a model learns far sooner than a linear projection of log2(fps / 8).
    if (config.value("cond_dim", int64_t(0)) == 0) config["vector_embedding"] = "sinusoidal";
    config["cond_dim"] = 1;
    recipe["data"]["fps"] = fps;
  }
  if (o.motion && !motion_conditioned(recipe)) {  // it adds two columns to the condition vector
    if (!from.empty()) throw std::invalid_argument("--motion-condition: " + from + " is not motion-conditioned; only a new run chooses");
    if (recipe.at("data").value("dataset", std::string()) == "folder") {
      throw std::invalid_argument("--motion-condition: Moving Fashion-MNIST only (a video folder's motion is not known)");
    }
    if (recipe.at("data").value("items", int64_t(1)) != 1) throw std::invalid_argument("--motion-condition: one item per clip only");
    recipe["data"]["motion"] = true;
  }
  if (motion_conditioned(recipe)) {
    auto& config = recipe.at("model").at("config");
    config["cond_dim"] = (fps_conditioned(recipe) ? 1 : 0) + 2;
    config["vector_embedding"] = "sinusoidal";
  }
}

}  // namespace diffuse::video
