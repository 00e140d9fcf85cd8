// The image modality's command-line options: `train vae|image|classifier`, `sample image`,
// `eval vae|image`. Each pipeline's typed options struct, registered with CLI11 here and turned
// into its command's arguments.
#include "modalities/image/plugin.h"

#include "core/cli_options.h"
#include "core/files.h"
#include "modalities/image/eval_pipeline.h"
#include "modalities/image/image_pipeline.h"
#include "modalities/image/options.h"
#include "modalities/image/vae_pipeline.h"

namespace diffuse::image {
namespace {

void add_data_options(CLI::App& c, DataOptions& o, bool crops) {
  c.add_option("--data", o.data, "fashion-mnist (default) or an image folder DIR/<class>/<files>");
  c.add_option("--data-n", o.data_n, "use only the first N images")->check(positive_number());
  c.add_option("--image-size", o.size, "resize and centre-crop folder images to H W")->expected(2);
  c.add_option("--channels", o.channels, "1 (gray) or 3 (RGB); default: the first image's")->check(CLI::IsMember({1, 3}));
  c.add_option("--on-bad", o.on_bad, "skip unreadable files (reported) or fail on the first")->capture_default_str()->check(CLI::IsMember({"skip", "fail"}));
  c.add_flag("--flip", o.flip, crops ? "random horizontal flips" : "mirrored copies of the data");
  if (crops) c.add_option("--crop-pad", o.crop_pad, "random crops after zero padding by N pixels")->capture_default_str();
}

}  // namespace

Json DataOptions::spec() const {
  Json spec = Json::object();
  if (!data.empty() && data != "fashion-mnist") spec = {{"dataset", "folder"}, {"dir", data}, {"on_bad", on_bad}};
  if (!size.empty()) spec["size"] = size;
  if (channels) spec["channels"] = channels;
  if (flip) spec["flip"] = true;
  if (crop_pad) spec["crop_pad"] = crop_pad;
  return spec;
}

void add_classifier_option(CLI::App& c, std::string& file) {
  c.add_option("--classifier", file, "evaluation classifier (default: the shipped one)")->check(CLI::ExistingFile);
}

PipelineCommands vae_plugin() {
  auto p = vae_pipeline();
  p.summary = "the image VAE (Fashion-MNIST or an image folder); eval: its reconstruction PSNR";
  p.train_options = [](CLI::App& c) -> std::function<void(TrainArgs&)> {
    auto o = std::make_shared<VaeTrainOptions>();
    add_data_options(c, o->data, true);
    return [o](TrainArgs& a) { a.own = o; };
  };
  return p;
}

PipelineCommands image_plugin() {
  auto p = image_pipeline();
  p.summary = "a class-conditional DiT on the VAE's latents (latent diffusion), PNG/JPEG/EXR/TIFF files or grids";
  p.shipped = "fashion-mnist/dit.safetensors";
  p.train_options = [](CLI::App& c) -> std::function<void(TrainArgs&)> {
    auto o = std::make_shared<ImageTrainOptions>();
    auto init = std::make_shared<std::string>();
    c.add_option("--vae", o->vae, "the VAE checkpoint whose latents the DiT learns")->check(CLI::ExistingFile);
    c.add_flag("--pixel", o->pixel, "diffuse in pixel space (no VAE), for comparison");
    add_data_options(c, o->data, false);
    add_init_option(c, *init);
    return [o, init](TrainArgs& a) {
      a.own = o;
      a.init = *init;
    };
  };
  p.sample_options = [](CLI::App& c) -> std::function<void(SampleArgs&)> {
    auto o = std::make_shared<ImageSampleOptions>();
    c.add_flag("--grid", o->grid, "one PNG grid instead of one file per sample");
    c.add_option("--columns", o->columns, "grid columns")->capture_default_str()->check(positive_number());
    c.add_flag("--labelled", o->labelled, "write class names on the grid (per row with --class rows)");
    c.add_option("--scale", o->scale, "enlarge grid cells N times")->capture_default_str()->check(CLI::Range(1, 16));
    return [o](SampleArgs& a) { a.own = o; };
  };
  p.eval_options = [](CLI::App& c) -> std::function<void(EvalArgs&)> {
    auto o = std::make_shared<ImageEvalOptions>();
    add_classifier_option(c, o->classifier);
    return [o](EvalArgs& a) { a.own = o; };
  };
  return p;
}

PipelineCommands classifier_plugin() {
  auto p = classifier_pipeline();
  p.summary = "the evaluation classifier of images (Fashion-MNIST)";
  p.train_options = [](CLI::App& c) -> std::function<void(TrainArgs&)> {
    auto o = std::make_shared<ClassifierTrainOptions>();
    c.add_option("--data-n", o->data_n, "use only the first N images")->check(positive_number());
    return [o](TrainArgs& a) { a.own = o; };
  };
  return p;
}

}  // namespace diffuse::image
