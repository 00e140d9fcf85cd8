// The image modality's own options, one struct per command (core/args.h): registered with CLI11 by
// plugin.cpp and read by the pipelines as options<T>() of their arguments.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/args.h"
#include "core/json.h"

namespace diffuse::image {

// The training data of the VAE and the DiT: Fashion-MNIST or the user's image folder.
struct DataOptions {
  std::string data;  // "" or fashion-mnist, else an image folder DIR/<class>/<files>
  std::string on_bad = "skip";
  int64_t data_n = 0;  // the first N images (0: all)
  int64_t channels = 0, crop_pad = 0;
  std::vector<int64_t> size;
  bool flip = false;
  // The recipe's data spec they give ({} for Fashion-MNIST as it is).
  Json spec() const;
};

// `train vae`.
struct VaeTrainOptions : PluginOptions {
  DataOptions data;
};

// `train image`.
struct ImageTrainOptions : PluginOptions {
  DataOptions data;
  std::string vae;     // the VAE checkpoint whose latents the DiT learns
  bool pixel = false;  // pixel space instead
};

// `sample image`.
struct ImageSampleOptions : PluginOptions {
  bool grid = false, labelled = false;
  int64_t columns = 10, scale = 1;
  // Images per VAE decode call. A convolution's result may differ slightly with the batch: 1 makes
  // each image independent of how many were drawn with it (the video chain's first frames, which
  // the video stage carries on), at about 5x the decode time.
  int64_t decode_batch = 500;
};

// `eval image`: the evaluation classifier ("" = the shipped one).
struct ImageEvalOptions : PluginOptions {
  std::string classifier;
};

// `train classifier`.
struct ClassifierTrainOptions : PluginOptions {
  int64_t data_n = 0;
};

// The shipped evaluation classifier, judge of `eval image` and of video frames.
inline constexpr const char* kShippedClassifier = "fashion-mnist/classifier.safetensors";

}  // namespace diffuse::image
