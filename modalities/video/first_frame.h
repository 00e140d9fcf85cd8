// Where a clip's first frame comes from: the user's image, or the chain's first stage (the image
// model's samples, or held-out Fashion-MNIST test items), placed on the canvas as the data places items.
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <string>

#include "core/args.h"
#include "core/dit_pipeline.h"
#include "core/json.h"
#include "modalities/video/options.h"

namespace diffuse::video {

// The user's first frame (1, 1, side, side): an image no larger than the canvas centred on black,
// a larger one resized.
torch::Tensor first_frame_canvas(const std::string& file, int64_t side);

// Items (n, 1, h, w) on black side x side canvases, each at a uniform position drawn from (seed, i).
torch::Tensor place_items(torch::Tensor items, int64_t side, uint64_t seed);

// The first frames (n, 1, side, side) of the clips of `s`: the image model's samples (the chain's
// first stage; its settings from `o`) or held-out test items of each clip's class (o.first_frame
// == "held-out"); `info` records which.
torch::Tensor chain_first_frames(const DitSampling& s, const SampleArgs& a, const VideoSampleOptions& o, int64_t side, Json& info);

}  // namespace diffuse::video
