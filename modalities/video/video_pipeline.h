// `diffuse train|sample|eval video`: a class-conditional space-time DiT (factorised spatial and
// temporal attention, Latte variant 1) on per-frame latents of the image modality's VAE, trained on
// Moving Fashion-MNIST and written as H.264 MP4; metrics from the image classifier on object crops.
#pragma once
#include <torch/types.h>

#include <string>
#include <vector>

#include "core/modality.h"
#include "core/pipeline.h"

namespace diffuse::video {

PipelineCommands video_pipeline();
PipelineCommands video_decoder_pipeline();  // `diffuse train video-decoder` (see temporal_decoder.h)

// `diffuse report`: every MP4/WebM directly in `dir`, embedded, with a contact sheet of its frames.
std::string video_report_section(const std::string& dir);

// n clips through the generic pipeline. data: (n, T, 1, H, W) in [0, 1]; info: fps, anchor_frame
// (cross-frame attention to the first frame), decoder ("per-frame" or the temporal decoder's
// file), fps_conditioned (whether fps conditioned the model or only sets the file's rate).
Generated sample_clips(const SampleArgs& args, int64_t n);

// Per-clip object tracks: the intensity-weighted centroid of each frame (y, x), and a 28 x 28 crop
// around it. frames (n, T, 1, H, W) -> centroids (n, T, 2), crops (n, T, 1, 28, 28).
std::pair<torch::Tensor, torch::Tensor> track_objects(const torch::Tensor& frames, int64_t crop = 28);
// Mean |c[t+1] - 2 c[t] + c[t-1]| of the centroids in pixels (lower is smoother), and mean speed.
std::pair<double, double> motion_smoothness(const torch::Tensor& centroids);
// Whether an item keeps its identity, without going through class labels: the mean cosine
// similarity of the classifier features of a clip's crops over all pairs of its frames, averaged
// over clips. features (n, T, F); T >= 2.
double feature_consistency(const torch::Tensor& features);
// Whether each frame still shows the first frame's item: the mean cosine similarity of the
// classifier features of frames 1..T-1 to frame 0's (identity to the first frame), and of the last
// frame's alone. features (n, T, F); T >= 2.
std::pair<double, double> identity_to_first(const torch::Tensor& features);
// The same per frame: entry t-1 is frame t's mean cosine to frame 0 over the clips (t = 1..T-1),
// to see whether an item fades with time.
std::vector<double> identity_by_frame(const torch::Tensor& features);
// A baseline for both consistencies: frame t of clip i becomes frame t of another clip with the
// same label (a fresh draw per frame), so the class stays and the item changes every frame.
// clips (n, T, ...), labels (n,).
torch::Tensor swap_items(const torch::Tensor& clips, const torch::Tensor& labels, at::Generator& gen);
// Mean absolute frame-to-frame change of pixels farther than `margin` from either frame's object.
double background_flicker(const torch::Tensor& frames, const torch::Tensor& centroids, int64_t margin = 20);
// Frames as an 8-bit file (MP4, GIF, PNG) holds them: clamped to [0, 1] and rounded to 1/255.
torch::Tensor as_written(const torch::Tensor& frames);

}  // namespace diffuse::video
