// The VAE pipeline commands.
#include "modalities/image/vae_pipeline.h"

#include <torch/torch.h>

#include <filesystem>
#include <iomanip>
#include <iostream>

#include "core/dit_pipeline.h"
#include "core/train/checkpoint.h"
#include "core/train/trainer.h"
#include "modalities/image/dataset.h"
#include "modalities/image/options.h"
#include "modalities/image/vae.h"

namespace diffuse::image {
namespace {

Json default_vae_recipe() {
  VaeConfig c;
  return {{"modality", "image"}, {"model", {{"type", "vae"}, {"config", to_json(c)}}},
          {"data", {{"dataset", "fashion-mnist"}, {"dir", kFashionMnistDir}}}};
}

Vae vae_from_recipe(const Json& recipe) {
  const auto& m = json_at(recipe, "model", "recipe");
  if (m.value("type", std::string()) != "vae") throw std::invalid_argument("recipe: model.type is not 'vae'");
  return Vae(vae_config_from_json(json_at(m, "config", "recipe.model")));
}

// LDM's scaling factor: 1 / std of the posterior means over a data sample.
double latent_scaling(Vae& vae, const torch::Tensor& images) {
  torch::NoGradGuard g;
  std::vector<torch::Tensor> zs;
  for (int64_t s = 0; s < images.size(0); s += 500) zs.push_back(vae->encode_moments(images.slice(0, s, s + 500)).first);
  return 1.0 / torch::cat(zs).std().item<double>();
}

void train(const TrainArgs& a) {
  check_run_folder(a);
  const std::string &out = a.out, &resume = a.resume;
  const auto& own = a.options<VaeTrainOptions>();
  Json recipe = resume.empty() ? default_vae_recipe() : load_model_checkpoint(resume, "image", "vae").recipe;
  recipe.erase("train");
  const Json given_data = own.data.spec();
  if (resume.empty()) for (const auto& [k, v] : given_data.items()) recipe["data"][k] = v;
  auto data = load_image_data(recipe["data"], "train");
  if (resume.empty()) recipe["model"]["config"]["in_channels"] = data.images.size(1);
  if (const int64_t n = own.data.data_n; n > 0) {
    data.images = data.images.slice(0, 0, n);
    data.labels = data.labels.slice(0, 0, n);
  }
  TrainOptions o = train_options(a, {{"steps", 6000}, {"batch", 64}, {"lr", 1e-3}, {"warmup", 200}, {"ema_decay", 0.999},
                                               {"log_every", 200}, {"checkpoint_every", 1000}});
  o.cond_dropout = 0;
  auto vae = vae_from_recipe(recipe);
  const auto f = vae->config().downsampling();
  // Pad 28 x 28 to a multiple of the downsampling factor (28 is already one for f = 4).
  auto images = data.images;
  const int64_t H = (images.size(2) + f - 1) / f * f, W = (images.size(3) + f - 1) / f * f;
  if (H != images.size(2) || W != images.size(3)) {
    images = torch::constant_pad_nd(images, {0, W - images.size(3), 0, H - images.size(2)}, 0.0);
  }
  const bool flip = recipe["data"].value("flip", false);
  const int64_t crop_pad = recipe["data"].value("crop_pad", int64_t(0));
  TrainLoss loss = [vae, flip, crop_pad](const torch::Tensor& batch, const Condition&, at::Generator& gen) mutable {
    auto x = random_crop(batch, crop_pad, gen);
    if (flip) x = random_hflip(x, gen);
    const int64_t f = vae->config().downsampling();
    const auto noise = torch::randn({x.size(0), vae->config().z_channels, x.size(2) / f, x.size(3) / f}, gen, torch::kFloat32);
    return vae->loss(x, noise);
  };
  Trainer trainer(vae.ptr(), loss, recipe, o);
  if (!resume.empty()) trainer.resume(resume);
  trainer.run({images, {data.labels}});
  // The scaling factor from the EMA weights, stored in the checkpoint's recipe.
  auto ema = vae_from_recipe(recipe);
  trainer.load_ema_into(*ema);
  ema->eval();
  const double scale = latent_scaling(ema, images.slice(0, 0, std::min<int64_t>(5000, images.size(0))));
  trainer.recipe()["model"]["config"]["scaling_factor"] = scale;
  trainer.save(out + "/checkpoint.safetensors", true);
  std::cout << "latent scaling factor: " << scale << "\ncheckpoint: " << out << "/checkpoint.safetensors\n";
}

// The reconstruction PSNR of the Fashion-MNIST test images.
void eval(const EvalArgs& a) {
  const std::string& path = a.checkpoint;
  if (path.empty()) throw std::invalid_argument("eval vae needs a VAE checkpoint");
  auto vae = load_vae(path);
  const auto test = load_image_data(Json::object(), "test");
  const int64_t n = test.images.size(0);
  const std::string what = "Fashion-MNIST test images";
  torch::NoGradGuard g;
  double sum = 0;
  int64_t count = 0;
  for (int64_t s = 0; s < n; s += 500) {
    const auto x = test.images.slice(0, s, std::min(n, s + 500));
    const auto rec = vae->decode(vae->encode(x));
    sum += psnr(rec, x) * double(x.size(0));
    count += x.size(0);
  }
  const auto& c = vae->config();
  const int64_t lh = test.images.size(2) / c.downsampling(), lw = test.images.size(3) / c.downsampling();
  const Json j = {{"checkpoint", path}, {"images", count}, {"data", what}, {"psnr_db", sum / double(count)},
                  {"latent_shape", {c.z_channels, lh, lw}},
                  {"scaling_factor", c.scaling_factor}};
  if (a.json) {
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << "VAE reconstruction PSNR on " << count << " " << what << ": " << std::fixed << std::setprecision(2)
              << j["psnr_db"].get<double>() << " dB (latent " << c.z_channels << "x" << lh << "x" << lw << ")\n";
  }
}

}  // namespace

PipelineCommands vae_pipeline() { return {train, nullptr, eval}; }

}  // namespace diffuse::image
