// The video recipe: a new run's, and what a resume or fine-tune may change of its model's.
#pragma once

#include <string>

#include "core/json.h"
#include "modalities/image/vae.h"
#include "modalities/video/moving.h"
#include "modalities/video/options.h"

namespace diffuse::video {

// A new run's recipe: a space-time DiT over `vae`'s latents of Moving Fashion-MNIST clips `m`.
// `model` may override the backbone's spatial patch, width, depth and attention (train video
// --patch, --width, --depth, --attention).
Json default_recipe(const std::string& vae_path, image::Vae vae, const MovingOptions& m, const Json& model);

// A resume or fine-tune (`from`; `resume` when it continues a run) keeps its backbone's size and
// weights' layout: what it may switch (attention, anchor frame), add (blocks, the first-frame
// condition) and never change. Throws naming the option and the checkpoint.
void adapt_backbone(Json& recipe, const VideoTrainOptions& o, const std::string& from, const std::string& resume);

// The data's options: frame sets (also on a resume), and the frame-rate and motion conditions,
// which add condition vectors and so start a run or a fine-tune, never a resume.
void adapt_data(Json& recipe, const VideoTrainOptions& o, const std::string& from, const std::string& resume);

}  // namespace diffuse::video
