// Shared by the video pipeline's parts: clips to and from the image VAE's latents, the training
// latents' cache and frame sets, the Moving Fashion-MNIST options a recipe names, frame-rate
// conditioning, and the decoder a model uses.
#pragma once
#include <torch/types.h>

#include <functional>
#include <string>
#include <utility>

#include "core/json.h"
#include "core/pipeline.h"
#include "modalities/image/vae.h"
#include "modalities/video/moving.h"
#include "modalities/video/temporal_decoder.h"

namespace diffuse::video {

std::string format_number(double v);  // 8, 0.5, 12.5: as a person writes a frame rate

// (N, T, 1, S, S) frames -> (N, C, T, s, s) scaled latents, and back, in chunks of frames.
// encode_clips runs on the VAE's device and returns latents on the CPU.
torch::Tensor encode_clips(image::Vae& vae, const torch::Tensor& clips);
torch::Tensor decode_clips(image::Vae& vae, const torch::Tensor& z);

// The Moving Fashion-MNIST options of a recipe's data spec, drawn with `seed`.
MovingOptions moving_options(const Json& data, uint64_t seed);
// fps conditioning: the model's condition vector is log2(fps / native fps), one column.
bool fps_conditioned(const Json& recipe);
torch::Tensor fps_vector(const torch::Tensor& fps, double native);
// Motion conditioning (Moving Fashion-MNIST, one item; a new run's choice): the condition vector
// also holds the item's first step (dy, dx), pixels per frame, over 4, after the frame rate's
// column if there is one. Stable Video Diffusion conditions on a motion bucket; here it is the
// velocity itself, so the model need not guess where the item goes.
bool motion_conditioned(const Json& recipe);
torch::Tensor motion_vector(const torch::Tensor& step);  // (N, 2) px/frame -> (N, 2) float32
// n first steps (dy, dx) drawn as the data draws them: speed uniform in [min, max] px/frame at the
// native rate, times native / fps, in a uniform direction; clip i's from seed + i.
torch::Tensor draw_motion(int64_t n, uint64_t seed, double fps, const MovingOptions& m);

// What a training latents' cache key knows of the frames: their count, sum and sum of squares
// (float64), added up over chunks of clips (N, T, 1, S, S) in order.
struct ClipsFingerprint {
  int64_t n = 0;
  double sum = 0, sum_sq = 0;
  void add(const torch::Tensor& clips);
};
constexpr int64_t kClipChunk = 2000;  // Moving Fashion-MNIST clips made (and encoded) at a time
// A Moving Fashion-MNIST training set of n clips of `images` (M, 1, 28, 28) with their `labels`,
// clip i drawn from (m.seed, i), made kClipChunk clips at a time: 60,000 clips' frames would take
// 16 GB, their latents 4 GB. Only what training needs besides the latents is kept; encode() makes
// the clips again, a chunk at a time, and encodes them (on a cache miss).
struct MovingTrainingSet {
  torch::Tensor labels, fps, velocities;  // (n,) the item's class, (n,) frame rates, (n, 2, 2) its first and last step
  ClipsFingerprint frames;
  std::function<torch::Tensor(image::Vae&)> encode;
};
MovingTrainingSet moving_training_set(const torch::Tensor& images, const torch::Tensor& labels, int64_t n, const MovingOptions& m);
// Training latents: the key a cache is written for (the recipe's data spec, the frames, the VAE
// file's bytes); the latents from OUT/latents.safetensors when written for that key, else from
// beside `from` (the resumed checkpoint or the fine-tune's start), else encode() saved to OUT.
std::string latents_key(const Json& data, const ClipsFingerprint& frames, const std::string& vae_bytes);
torch::Tensor cached_latents(const std::string& out, const std::string& from, const std::string& key,
                             const std::function<torch::Tensor()>& encode);
// Joint image-video training (after Ho et al. 2022): `count` stacks of frames, each of one class
// but from different clips (temporal attention off), from z (N, C, T, s, s) and labels (N,).
std::pair<torch::Tensor, torch::Tensor> frame_sets(const torch::Tensor& z, const torch::Tensor& labels, int64_t count);

// `auto`: the temporal decoder shipped beside the model (decoder.safetensors), else none (the
// image VAE per frame); `per-frame`: none; else a `train video-decoder` checkpoint, which must
// decode the model's VAE's latents.
std::string beside_decoder(const std::string& model);
TemporalDecoder temporal_decoder_for(const std::string& spec, const std::string& model, const std::string& model_vae);
// The decoder that spec chooses for the model's latents, as a function (N, C, T, s, s) -> frames,
// with the name sample and eval report: the temporal decoder's file, or "per-frame".
struct ClipDecoder {
  std::string name;
  std::function<torch::Tensor(const torch::Tensor&)> decode;
};
ClipDecoder clip_decoder(const std::string& spec, const std::string& model, const std::string& model_vae);

// The judge of `eval video` (args.classifier, args.fps; the checkpoint's recipe, null without
// one): generated and real clips scored with the image classifier on tracked crops (see
// video_pipeline.h), against `per_class` x 10 real clips (at least 200).
std::unique_ptr<Evaluator> video_evaluator(const EvalArgs& args, const Json& recipe, int64_t per_class);

}  // namespace diffuse::video
