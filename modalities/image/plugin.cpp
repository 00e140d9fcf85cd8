// The image modality's command-line options: `train vae|image|classifier`, `sample image`,
// `eval vae|image`. Each pipeline's typed options struct, registered with CLI11 here and turned
// into its command's arguments.
#include "modalities/image/plugin.h"

#include "core/cli_options.h"
#include "core/files.h"
#include "modalities/image/eval_pipeline.h"
#include "modalities/image/image_pipeline.h"
#include "modalities/image/vae_pipeline.h"

namespace diffuse::image {
namespace {

// The training data of the VAE and the DiT: Fashion-MNIST or the user's image folder.
struct DataOptions {
  std::string data, on_bad = "skip";
  int64_t data_n = 0, channels = 0, crop_pad = 0;
  std::vector<int64_t> size;
  bool flip = false;
};

void add_data_options(CLI::App& c, DataOptions& o, bool crops) {
  c.add_option("--data", o.data, "fashion-mnist (default) or an image folder DIR/<class>/<files>");
  c.add_option("--data-n", o.data_n, "use only the first N images")->check(positive_number());
  c.add_option("--image-size", o.size, "resize and centre-crop folder images to H W")->expected(2);
  c.add_option("--channels", o.channels, "1 (gray) or 3 (RGB); default: the first image's")->check(CLI::IsMember({1, 3}));
  c.add_option("--on-bad", o.on_bad, "skip unreadable files (reported) or fail on the first")->capture_default_str()->check(CLI::IsMember({"skip", "fail"}));
  c.add_flag("--flip", o.flip, crops ? "random horizontal flips" : "mirrored copies of the data");
  if (crops) c.add_option("--crop-pad", o.crop_pad, "random crops after zero padding by N pixels")->capture_default_str();
}

Json data_args(const DataOptions& o) {
  Json data = Json::object();
  if (!o.data.empty() && o.data != "fashion-mnist") data = {{"dataset", "folder"}, {"dir", o.data}, {"on_bad", o.on_bad}};
  if (!o.size.empty()) data["size"] = o.size;
  if (o.channels) data["channels"] = o.channels;
  if (o.flip) data["flip"] = true;
  if (o.crop_pad) data["crop_pad"] = o.crop_pad;
  return {{"data", data}, {"data_n", o.data_n}};
}

struct ImageTrainOptions {
  DataOptions data;
  std::string vae;
  bool pixel = false;
};

struct ImageSampleOptions {
  bool grid = false, labelled = false;
  int64_t columns = 10, scale = 1;
};

// The evaluation classifier of `eval image` (and of video's frames).
AddOptions classifier_option(const std::string& shipped) {
  return [shipped](CLI::App& c) -> std::function<Json()> {
    auto file = std::make_shared<std::string>();
    c.add_option("--classifier", *file, "evaluation classifier (default: the shipped one)")->check(CLI::ExistingFile);
    return [file, shipped] { return Json{{"classifier", file->empty() ? shipped_model_path(shipped) : *file}}; };
  };
}

}  // namespace

PipelineCommands vae_plugin() {
  auto p = vae_pipeline();
  p.summary = "the image VAE (Fashion-MNIST or an image folder); eval: its reconstruction PSNR";
  p.train_options = [](CLI::App& c) -> std::function<Json()> {
    auto o = std::make_shared<DataOptions>();
    add_data_options(c, *o, true);
    return [o] { return data_args(*o); };
  };
  return p;
}

PipelineCommands image_plugin() {
  auto p = image_pipeline();
  p.summary = "a class-conditional DiT on the VAE's latents (latent diffusion), PNG/JPEG/EXR/TIFF files or grids";
  p.shipped = "fashion-mnist/dit.safetensors";
  p.train_options = [](CLI::App& c) -> std::function<Json()> {
    auto o = std::make_shared<ImageTrainOptions>();
    c.add_option("--vae", o->vae, "the VAE checkpoint whose latents the DiT learns")->check(CLI::ExistingFile);
    c.add_flag("--pixel", o->pixel, "diffuse in pixel space (no VAE), for comparison");
    add_data_options(c, o->data, false);
    return [o] {
      Json a = data_args(o->data);
      a["vae"] = o->vae;
      a["pixel"] = o->pixel;
      return a;
    };
  };
  p.sample_options = [](CLI::App& c) -> std::function<Json()> {
    auto o = std::make_shared<ImageSampleOptions>();
    c.add_flag("--grid", o->grid, "one PNG grid instead of one file per sample");
    c.add_option("--columns", o->columns, "grid columns")->capture_default_str()->check(positive_number());
    c.add_flag("--labelled", o->labelled, "write class names on the grid (per row with --class rows)");
    c.add_option("--scale", o->scale, "enlarge grid cells N times")->capture_default_str()->check(CLI::Range(1, 16));
    return [o] { return Json{{"grid", o->grid}, {"columns", o->columns}, {"labelled", o->labelled}, {"scale", o->scale}}; };
  };
  p.eval_options = classifier_option("fashion-mnist/classifier.safetensors");
  return p;
}

PipelineCommands classifier_plugin() {
  auto p = classifier_pipeline();
  p.summary = "the evaluation classifier of images (Fashion-MNIST)";
  p.train_options = [](CLI::App& c) -> std::function<Json()> {
    auto n = std::make_shared<int64_t>(0);
    c.add_option("--data-n", *n, "use only the first N images")->check(positive_number());
    return [n] { return Json{{"data_n", *n}}; };
  };
  return p;
}

AddOptions image_classifier_option() { return classifier_option("fashion-mnist/classifier.safetensors"); }

}  // namespace diffuse::image
