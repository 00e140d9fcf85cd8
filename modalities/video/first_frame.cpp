// First frames of video clips: the user's image or the chain's first stage.
#include "modalities/video/first_frame.h"

#include <torch/torch.h>

#include <random>
#include <stdexcept>

#include "core/files.h"
#include "core/train/checkpoint.h"
#include "modalities/image/dataset.h"
#include "modalities/image/idx.h"
#include "modalities/image/image_pipeline.h"
#include "modalities/image/io.h"
#include "modalities/image/options.h"

namespace diffuse::video {

// The user's first frame (1, 1, side, side): an image no larger than the canvas (a 28 x 28 item)
// centred on black, a larger one resized.
torch::Tensor first_frame_canvas(const std::string& file, int64_t side) {
  auto img = image::to_channels(image::read_image(file), 1).unsqueeze(0);
  if (img.size(2) <= side && img.size(3) <= side) {
    const int64_t top = (side - img.size(2)) / 2, left = (side - img.size(3)) / 2;
    return torch::constant_pad_nd(img, {left, side - img.size(3) - left, top, side - img.size(2) - top}, 0);
  }
  return image::resize(img, side, side);
}

// Items (n, 1, h, w) on black side x side canvases, each at a uniform position drawn from (seed, i)
// as Moving Fashion-MNIST places a clip's item in its first frame; larger items are resized.
torch::Tensor place_items(torch::Tensor items, int64_t side, uint64_t seed) {
  if (items.size(2) > side || items.size(3) > side) items = image::resize(items, side, side);
  const int64_t n = items.size(0), h = items.size(2), w = items.size(3);
  auto out = torch::zeros({n, 1, side, side});
  for (int64_t i = 0; i < n; ++i) {
    std::mt19937_64 rng((seed * 0x9E3779B97F4A7C15ULL + uint64_t(i)) ^ 0xF1257F4A3E5EED11ULL);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    const int64_t y = std::llround(u(rng) * double(side - h)), x = std::llround(u(rng) * double(side - w));
    out[i][0].slice(0, y, y + h).slice(1, x, x + w).copy_(items[i][0]);
  }
  return out;
}

// The first frames (n, 1, side, side) of a first-frame model's clips: the image model's samples
// (the chain's first stage), or held-out Fashion-MNIST test items of each clip's class; placed as
// in the data.
torch::Tensor chain_first_frames(const DitSampling& s, const SampleArgs& a, const VideoSampleOptions& o, int64_t side, Json& info) {
  const int64_t n = s.request.n;
  torch::Tensor items;
  if (o.first_frame == "held-out") {
    const auto test = image::load_fashion_mnist("test");
    std::vector<int64_t> pick;
    for (int64_t i = 0; i < n; ++i) {
      const auto of_class = (test.labels == s.labels[size_t(i)]).nonzero().flatten();
      if (of_class.numel() == 0) throw std::invalid_argument("--first-frame held-out: no test item of class " + s.classes[size_t(s.labels[size_t(i)])]);
      std::mt19937_64 rng((a.seed * 0x9E3779B97F4A7C15ULL + uint64_t(i)) ^ 0x7E57C1A55E5EEDULL);
      pick.push_back(of_class[int64_t(rng() % uint64_t(of_class.numel()))].item<int64_t>());
    }
    items = test.images.index_select(0, torch::tensor(pick, torch::kLong));
    info["first_frame"] = "held-out Fashion-MNIST test items";
  } else {
    SampleArgs img;
    img.checkpoint = o.image_model.empty() ? shipped_model_path("fashion-mnist/dit.safetensors") : o.image_model;
    const auto image_classes = json_at(load_checkpoint(img.checkpoint).recipe, "classes", img.checkpoint).get<std::vector<std::string>>();
    if (image_classes != s.classes) {
      throw std::invalid_argument("--image-model " + img.checkpoint + ": its classes differ from the video model's");
    }
    img.seed = a.seed;
    img.batch = a.batch;
    img.sampler = o.image_sampler;
    img.steps = o.image_steps;
    img.cfg = o.image_cfg;
    img.label = a.label;
    img.device = a.device;
    img.precision = a.precision;
    auto own = std::make_shared<image::ImageSampleOptions>();
    own->decode_batch = 1;  // a clip must not depend on how many were drawn with it
    img.own = own;
    image::SampleInfo stage;
    items = image::sample_images(img, n, &stage);
    for (int64_t i = 0; i < n; ++i) {  // the same label spec gives the same classes in both stages
      if (stage.labels[size_t(i)] != s.classes[size_t(s.labels[size_t(i)])]) {
        throw std::logic_error("the image stage drew class " + stage.labels[size_t(i)] + " for clip " + std::to_string(i));
      }
    }
    if (items.size(1) != 1) items = items.mean(1, true);  // gray frames, as the video VAE's
    info["first_frame"] = "image model " + img.checkpoint;
    info["image_stage"] = {{"sampler", img.sampler}, {"steps", img.steps.value_or(kDefaultSampleSteps)}, {"cfg", stage.cfg},
                           {"seconds", stage.sample_seconds + stage.decode_seconds}};
  }
  return place_items(items, side, a.seed);
}

}  // namespace diffuse::video
