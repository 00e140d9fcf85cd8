// Training checkpoints as safetensors: weights, their EMA and the optimizer moments as tensors;
// the recipe (model config, objective, training options), step, data position and RNG seed as
// metadata. Written atomically; read back with checks that name the file and the tensor.
#pragma once
#include <torch/nn/module.h>
#include <torch/types.h>

#include <map>
#include <string>

#include "core/json.h"
#include "core/safetensors.h"

namespace diffuse {

constexpr const char* kCheckpointFormat = "diffuse.checkpoint.v1";

struct Checkpoint {
  Json recipe;                                   // what built the model and how it was trained
  int64_t step = 0, epoch = 0, data_index = 0;   // next step; position in the epoch's permutation
  uint64_t seed = 0;                             // step k draws from generator(seed, k)
  std::map<std::string, torch::Tensor> model;    // parameters and buffers by name
  std::map<std::string, torch::Tensor> ema;      // EMA of the parameters
  std::map<std::string, torch::Tensor> exp_avg, exp_avg_sq;  // AdamW moments
};

void save_checkpoint(const std::string& path, const Checkpoint& c, bool force);
Checkpoint load_checkpoint(const std::string& path);  // validates format and structure

// Copies `weights` into `module`'s parameters and buffers. Every tensor must be present with
// the same shape and no extra ones: errors name the file, the tensor and both shapes.
void load_into(torch::nn::Module& module, const std::map<std::string, torch::Tensor>& weights, const std::string& file);
std::map<std::string, torch::Tensor> state_of(const torch::nn::Module& module);  // params + buffers
// A trained model ready to run: the checkpoint's EMA weights over its raw ones (raw: the raw
// weights only) loaded with load_into, then eval mode.
void load_for_inference(torch::nn::Module& module, const Checkpoint& ck, const std::string& file, bool raw = false);

// Throws unless `recipe` (read from `file`) describes a `modality` model of `type` (recipe.modality
// and recipe.model.type), naming both what the file holds and what was expected, e.g.
// "a.safetensors: an audio 'dit' model, expected an image 'dit' model". Older files without a
// modality pass on the type alone.
void require_model(const Json& recipe, const std::string& file, const std::string& modality, const std::string& type);
// load_checkpoint(file) after require_model on its recipe.
Checkpoint load_model_checkpoint(const std::string& file, const std::string& modality, const std::string& type);

// A path named in a checkpoint's recipe (e.g. its VAE): absolute or existing paths as they are,
// relative ones resolved against the checkpoint's folder.
std::string resolve_beside(const std::string& path, const std::string& checkpoint);

}  // namespace diffuse
