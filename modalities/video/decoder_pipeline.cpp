// `diffuse train video-decoder` and the choice of decoder for a video model's samples.
#include "modalities/video/clips.h"

#include <torch/torch.h>
#include <unistd.h>

#include <chrono>
#include <algorithm>
#include <filesystem>
#include <sstream>
#include <iomanip>
#include <iostream>
#include <limits>

#include "core/dit_pipeline.h"
#include "core/report.h"
#include "core/safetensors.h"
#include "core/files.h"
#include "core/metrics.h"
#include "core/objectives.h"
#include "core/train/trainer.h"
#include "modalities/image/classifier.h"
#include "modalities/image/dataset.h"
#include "modalities/image/idx.h"
#include "modalities/image/io.h"
#include "modalities/image/vae.h"
#include "modalities/video/io.h"
#include "modalities/video/moving.h"
#include "modalities/video/options.h"
#include "modalities/video/temporal_decoder.h"
#include "modalities/video/video_pipeline.h"

namespace diffuse::video {

std::string beside_decoder(const std::string& model) {
  return (std::filesystem::path(model).parent_path() / "decoder.safetensors").string();
}

TemporalDecoder temporal_decoder_for(const std::string& spec, const std::string& model, const std::string& model_vae) {
  if (spec == "per-frame") return nullptr;
  const std::string path = spec == "auto" ? beside_decoder(model) : spec;
  if (spec == "auto" && !std::filesystem::exists(path)) return nullptr;
  if (!std::filesystem::exists(path)) throw std::invalid_argument("--decoder " + spec + ": no such file (auto, per-frame or a temporal decoder checkpoint)");
  auto decoder = load_temporal_decoder(path);  // checks that it is one
  const auto vae_of = resolve_beside(load_checkpoint(path).recipe.at("vae").get<std::string>(), path);
  if (read_file(vae_of) != read_file(model_vae)) {
    throw std::invalid_argument("--decoder " + path + ": decodes the latents of " + vae_of + ", but " + model + " generates those of " + model_vae);
  }
  return decoder;
}

ClipDecoder clip_decoder(const std::string& spec, const std::string& model, const std::string& model_vae) {
  if (auto temporal = temporal_decoder_for(spec, model, model_vae)) {
    return {spec == "auto" ? beside_decoder(model) : spec, [temporal](const torch::Tensor& z) mutable { return temporal->decode(z); }};
  }
  auto vae = image::load_vae(model_vae);
  return {"per-frame", [vae](const torch::Tensor& z) mutable { return decode_clips(vae, z); }};
}

// `diffuse train video-decoder`: the temporal layers of a TemporalDecoder on Moving Fashion-MNIST
// clips, the VAE frozen. Each clip's latents get Gaussian noise of a standard deviation drawn from
// [0, latent_noise] (in the scaled latent space), independently per frame, and the target is the
// clean clip, so the layers learn to decode frames that agree where the latents do not.
void train_decoder(const TrainArgs& a) {
  check_run_folder(a);
  const std::string &out = a.out, &resume = a.resume;
  const auto& own = a.options<DecoderTrainOptions>().clips;
  Json recipe;
  if (!resume.empty()) {
    recipe = load_model_checkpoint(resume, "video", "temporal-decoder").recipe;
    recipe["vae"] = resolve_beside(recipe.at("vae"), resume);
  } else {
    recipe = {{"modality", "video"}, {"model", {{"type", "temporal-decoder"}, {"kernel", 3}}}, {"vae", own.vae_file()}, {"latent_noise", 0.2},
              {"data", {{"dataset", "moving-fashion-mnist"}, {"frames", own.frames}, {"size", 64}, {"items", own.items}}}};
  }
  const TrainOptions o = train_options(a, {{"steps", 1000}, {"batch", 4}, {"lr", 1e-3}, {"warmup", 50}, {"ema_decay", 0.995},
                                                     {"log_every", 50}, {"checkpoint_every", 250}, {"cond_dropout", 0.0}});
  const std::string vae_path = recipe.at("vae");
  const int64_t kernel = recipe.at("model").value("kernel", int64_t(3));
  TemporalDecoder net(image::load_vae(vae_path), kernel);
  const double noise = recipe.value("latent_noise", 0.2);
  const auto fm = image::load_fashion_mnist("train");
  const int64_t n = own.data_n > 0 ? own.data_n : 2000;
  const auto mv = moving_fashion_mnist(fm.images, fm.labels, n, moving_options(recipe.at("data"), 1));
  // The latents are computed per batch: the encoder is frozen, and 32,000 frames' latents would
  // cost more memory than encoding 64 frames a step costs time.
  auto latents_of = [net](const torch::Tensor& clips) mutable {  // (B, T, 1, S, S) -> (B, C, T, s, s) scaled
    torch::NoGradGuard g;
    const auto z = net->vae()->encode(clips.flatten(0, 1));
    return z.view({clips.size(0), clips.size(1), z.size(1), z.size(2), z.size(3)}).permute({0, 2, 1, 3, 4});
  };
  TrainLoss loss = [net, noise, latents_of](const torch::Tensor& clips, const Condition&, at::Generator& gen) mutable {
    const auto z = latents_of(clips);
    const auto std = torch::rand(std::vector<int64_t>{z.size(0), 1, 1, 1, 1}, gen) * noise;
    const auto noisy = z + std * torch::randn(z.sizes(), gen);
    const auto rec = net->decode_raw(noisy / net->vae()->config().scaling_factor);
    const auto target = clips * 2 - 1;
    return (rec - target).abs().flatten(1).mean(1) + (rec - target).pow(2).flatten(1).mean(1);
  };
  Trainer trainer(net.ptr(), loss, recipe, o);
  if (!resume.empty()) trainer.resume(resume);
  trainer.run({mv.clips, {mv.labels.select(1, 0)}});
  // Held-out clips: PSNR of the per-frame and the temporal decoder, from clean and noisy latents.
  TemporalDecoder ema(net->vae(), kernel);
  trainer.load_ema_into(*ema);
  ema->eval();
  const auto test = image::load_fashion_mnist("test");
  const auto held = moving_fashion_mnist(test.images, test.labels, 64, moving_options(recipe.at("data"), 2)).clips;
  const auto z = latents_of(held).contiguous();
  auto gen = at::detail::createCPUGenerator(7);
  Json report = Json::object();
  for (const double s : {0.0, 0.1, 0.2}) {
    const auto noisy = z + s * torch::randn(z.sizes(), gen);
    auto vae = ema->vae();
    const auto psnr_of = [&](const torch::Tensor& frames) { return image::psnr(frames.flatten(0, 1), held.flatten(0, 1)); };
    report["latent_noise_" + format_number(s)] = Json{{"per_frame_psnr_db", psnr_of(decode_clips(vae, noisy))},
                                                      {"temporal_psnr_db", psnr_of(ema->decode(noisy))}};
  }
  std::cout << "held-out PSNR of 64 clips: " << report.dump() << "\ncheckpoint: " << out << "/checkpoint.safetensors\n";
}

PipelineCommands video_decoder_pipeline() { return {train_decoder, nullptr, nullptr, nullptr}; }

}  // namespace diffuse::video
