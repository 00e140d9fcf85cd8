// Diffusion Transformer (Peebles & Xie 2023) over 1-D sequences, 2-D grids and 3-D space-time
// grids: patchify, fixed sin-cos positions, adaLN-Zero blocks conditioned on the timestep plus a
// class label (with a learned null label for CFG) and/or a condition vector, final adaLN layer,
// unpatchify. Video variants: full space-time attention, factorised attention alternating
// spatial and temporal blocks (Latte, Ma et al. 2024, variant 1), or hybrid: spatial blocks
// alternating with full space-time blocks (same weights as factorised, so a factorised model can
// be fine-tuned into a hybrid one).
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/types.h>

#include <map>
#include <string>
#include <vector>

#include "core/json.h"
#include "core/layers.h"

namespace diffuse {

struct DiTConfig {
  std::vector<int64_t> input_size = {32, 32};  // grid: {L}, {H, W} or {T, H, W}
  std::vector<int64_t> patch = {2, 2};         // per axis
  int64_t in_channels = 4;
  bool learn_sigma = true;                     // DiT predicts a variance too: out = 2 * in
  int64_t hidden = 384, depth = 12, heads = 6;
  double mlp_ratio = 4.0;
  int64_t num_classes = 1000;                  // 0: no labels; else labels 0..C-1, null = C
  int64_t cond_dim = 0;                        // continuous condition vector (NaN row = null)
  // How the vector enters: "linear" (a projection) or "sinusoidal" (each component through
  // sinusoidal features and an MLP, as SVD embeds fps: strong enough to be learned quickly).
  std::string vector_embedding = "linear";
  // Channels of a context concatenated to the input (Condition::context: a video's first-frame
  // latent on every frame, as Stable Video Diffusion conditions on it), with its noise level
  // (Condition::context_noise) embedded and added to the timestep's. 0: none.
  int64_t context_channels = 0;
  // With a context: it also enters as a clean frame of its own before the clip (its own patch
  // embedding, frame 0's positions) that goes through every block with the clip's frames and is
  // dropped at the output. Temporal blocks attend to it at each position and, with anchor_frame,
  // it is the first frame the spatial blocks attend to (instead of the noisy frame 0): the given
  // frame's clean tokens are keys and values in every block, as a reference image's are in
  // ReferenceNet (Hu et al. 2023). Factorised or hybrid attention only.
  bool context_frame = false;
  std::string attention = "full";              // "full", "factorized" or "hybrid" (the last two 3-D input only)
  // Factorised and hybrid: each frame's spatial blocks also attend to the first frame's tokens
  // (cross-frame attention, Khachatryan et al. 2023; Tune-A-Video's sparse attention without the
  // previous frame), so an item keeps its appearance wherever it has moved. No extra weights.
  bool anchor_frame = false;
  std::string position = "sincos";             // "sincos" (added to tokens), "rope" (rotary, in attention) or both
                                               // ("sincos+rope": absolute positions and relative attention)
  int64_t attention_chunk = 1024;              // queries per chunk on libtorch < 2.0

  int64_t out_channels() const { return learn_sigma ? 2 * in_channels : in_channels; }
  int64_t tokens() const;
  int64_t patch_dim() const;  // values per patch: prod(patch)
  void validate() const;      // throws on inconsistent sizes, naming the field
};

Json to_json(const DiTConfig& c);
DiTConfig dit_config_from_json(const Json& j);  // unknown keys are an error

// Named presets: dit-s/2 ... dit-xl/8 (the DiT paper's Table 1, 32x32x4 latents, 1000 classes)
// and dit-tiny/1,2,4, dit-mini/2,4 (CPU-trainable in minutes).
struct DiTPreset {
  std::string name;
  DiTConfig config;
  std::string description;
};
const std::vector<DiTPreset>& dit_presets();
DiTConfig dit_preset(const std::string& name);  // throws listing the names
// A preset name or a path to a JSON file (a bare config, or an object with a "model" key).
DiTConfig dit_config_from_spec(const std::string& spec);

// Parameters (trainable; position embeddings are fixed buffers) and multiply-accumulates of one
// forward pass of one sample, counted analytically. DiT's paper reports MACs as "Gflops".
int64_t dit_parameter_count(const DiTConfig& c);
double dit_forward_macs(const DiTConfig& c);

// The weights of a deeper DiT (config c, c.depth blocks) from those of a trained one with
// `from_depth` blocks and otherwise the same config (names as state_of gives them): the trained
// blocks are spread evenly over the new depth, in spatial-temporal pairs for a factorised or hybrid
// model, and each new block is a copy of the trained block before it of its kind with its adaLN
// gates at zero. So the deeper model computes exactly what the trained one did, and its new blocks
// open as it trains (depth up-scaling, Kim et al. 2023, with adaLN-Zero's closed gates).
std::map<std::string, torch::Tensor> deepen_dit(const std::map<std::string, torch::Tensor>& weights, const DiTConfig& c,
                                                int64_t from_depth);

// Which tokens a block's attention mixes: all of them, those of one frame, those at one position
// across frames, or all of a video's tokens (a space-time block of a hybrid model); or a frame's
// own tokens as queries with its own and the first frame's tokens as keys and values.
enum class TokenMix { kAll, kWithinFrames, kAcrossFrames, kSpaceTime, kWithinFramesAndFirst };

class DiTBlockImpl : public torch::nn::Module {
 public:
  DiTBlockImpl(int64_t hidden, int64_t heads, double mlp_ratio, int64_t attention_chunk);
  // x (N, T, D) with T = frames x positions, c (N, D). rope: rotary tables for the token grid
  // (frames x spatial), or undefined. `independent` (N,) bool, or undefined: in a block that mixes
  // frames those items' frames stay apart (each token attends to itself across frames, or to its
  // own frame in a space-time block), so each frame is an image of its own (joint image-video
  // training, Ho et al. 2022).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& c, int64_t frames = 1, TokenMix mix = TokenMix::kAll,
                        const Rope& rope = {}, const torch::Tensor& independent = {});
  torch::nn::Linear& modulation() { return ada_; }

 private:
  // (B, T, D) -> (B, T, D); cos/sin (B or 1, 1, T, d) rotary tables or undefined
  torch::Tensor attend(const torch::Tensor& h, const torch::Tensor& cos = {}, const torch::Tensor& sin = {}, const Rope& rope = {});
  int64_t heads_, chunk_;
  torch::nn::LayerNorm norm1_{nullptr}, norm2_{nullptr};
  torch::nn::Linear qkv_{nullptr}, proj_{nullptr}, fc1_{nullptr}, fc2_{nullptr}, ada_{nullptr};
};
TORCH_MODULE(DiTBlock);

class DiTImpl : public torch::nn::Module {
 public:
  explicit DiTImpl(const DiTConfig& c);
  // x (N, C, *grid), t (N,) network time, labels (N,) int64 or undefined (null label),
  // vectors (N, cond_dim) or undefined -> (N, out_channels, *grid). independent_frames (N,) bool,
  // factorised and hybrid models only: those items are stacks of unrelated frames (see DiTBlock).
  // context (N, context_channels, *grid, axes of size 1 broadcast) or undefined (zeros), and its
  // noise level context_noise (N,) (undefined: 0), for a model with context_channels.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& labels = {},
                        const torch::Tensor& vectors = {}, const torch::Tensor& independent_frames = {},
                        const torch::Tensor& context = {}, const torch::Tensor& context_noise = {});
  const DiTConfig& config() const { return config_; }
  // (N, C, *grid) -> (N, T, C*prod(p)); C is in_channels, or in_channels + context_channels
  torch::Tensor patchify(const torch::Tensor& x) const;
  torch::Tensor unpatchify(const torch::Tensor& x) const;  // (N, T, prod(p)*C) -> (N, C, *grid)
  const std::vector<DiTBlock>& blocks() const { return blocks_; }

 private:
  DiTConfig config_;
  torch::nn::Linear x_embed_{nullptr}, y_proj_{nullptr}, final_ada_{nullptr}, final_linear_{nullptr}, context_frame_embed_{nullptr};
  torch::nn::Embedding y_embed_{nullptr};
  torch::Tensor null_vector_, pos_;
  Rope rope_;
  TimestepEmbedder t_embed_{nullptr};
  ScalarEmbedder v_embed_{nullptr}, noise_embed_{nullptr};
  torch::nn::LayerNorm final_norm_{nullptr};
  std::vector<DiTBlock> blocks_;
};
TORCH_MODULE(DiT);

}  // namespace diffuse
