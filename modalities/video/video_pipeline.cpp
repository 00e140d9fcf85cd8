// The Moving Fashion-MNIST video pipeline.
#include "modalities/video/video_pipeline.h"

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
#include "modalities/video/temporal_decoder.h"

namespace diffuse::video {
namespace {

std::string format_number(double v) {  // 8, 0.5, 12.5: as a person writes a frame rate
  std::ostringstream s;
  s << v;
  return s.str();
}

// `model` may override the backbone's spatial patch, width, depth and attention (train video
// --patch, --width, --depth, --attention).
Json default_recipe(const std::string& vae_path, image::Vae vae, const MovingOptions& m, const Json& model) {
  const int64_t f = vae->config().downsampling(), side = m.size / f;
  DiTConfig d;
  d.input_size = {m.frames, side, side};  // 16 x 16 x 16 latents for 16 frames of 64 x 64
  const int64_t p = model.value("patch", int64_t(2));
  if (p < 1 || side % p != 0) {
    throw std::invalid_argument("--patch " + std::to_string(p) + ": must divide the latent side " + std::to_string(side));
  }
  d.patch = {1, p, p};  // patch 2: 64 tokens per frame, 1024 per clip (patch 4: 16 and 256, much worse items)
  d.in_channels = vae->config().z_channels;
  d.learn_sigma = false;
  d.hidden = model.value("hidden", int64_t(144));
  if (d.hidden % 6 != 0) {
    throw std::invalid_argument("--width " + std::to_string(d.hidden) + ": must be divisible by 6 (3-axis sin-cos positions)");
  }
  d.depth = model.value("depth", int64_t(6));  // alternating spatial and temporal blocks
  d.heads = 4;
  d.attention = model.value("attention", std::string("factorized"));
  d.anchor_frame = model.value("anchor_frame", false);
  d.num_classes = 10;
  ObjectiveOptions o;
  o.kind = ModelKind::kEdm;
  o.sampling = SigmaSampling::kLogNormal;
  o.weighting = LossWeighting::kEdm;
  o.sigma_data = 1.0;
  return {{"modality", "video"}, {"vae", vae_path}, {"model", {{"type", "dit"}, {"config", to_json(d)}}},
          {"objective", to_json(o)}, {"classes", image::fashion_mnist_classes()},
          {"data", {{"dataset", "moving-fashion-mnist"}, {"frames", m.frames}, {"size", m.size}, {"items", m.items}}},
          {"fps", 8.0}, {"sampling", {{"sigma_min", 0.002}, {"sigma_max", 80.0}}}};
}

// (N, T, 1, S, S) frames -> (N, C, T, s, s) scaled latents, in chunks of frames.
torch::Tensor encode_clips(image::Vae& vae, const torch::Tensor& clips) {
  torch::NoGradGuard g;
  const int64_t N = clips.size(0), T = clips.size(1);
  const auto flat = clips.flatten(0, 1);
  std::vector<torch::Tensor> zs;
  for (int64_t s = 0; s < flat.size(0); s += 512) zs.push_back(vae->encode(flat.slice(0, s, s + 512)));
  const auto z = torch::cat(zs);
  return z.view({N, T, z.size(1), z.size(2), z.size(3)}).permute({0, 2, 1, 3, 4}).contiguous();
}

torch::Tensor decode_clips(image::Vae& vae, const torch::Tensor& z) {
  torch::NoGradGuard g;
  const int64_t N = z.size(0), T = z.size(2);
  const auto flat = z.permute({0, 2, 1, 3, 4}).flatten(0, 1);
  std::vector<torch::Tensor> xs;
  for (int64_t s = 0; s < flat.size(0); s += 512) xs.push_back(vae->decode(flat.slice(0, s, s + 512)));
  const auto x = torch::cat(xs);
  return x.view({N, T, x.size(1), x.size(2), x.size(3)});
}

// The clips' latents from RUN/latents.safetensors when it was written for the same data and VAE
// (`key`), else from the resumed run's folder, else encoded now and saved there: encoding 96,000
// frames takes most of a quarter hour on two cores, so resuming or re-running should not repeat it.
torch::Tensor cached_latents(const std::string& out, const std::string& resume, const std::string& key,
                             const std::function<torch::Tensor()>& encode) {
  std::vector<std::string> places = {out + "/latents.safetensors"};
  if (!resume.empty()) places.push_back((std::filesystem::path(resume).parent_path() / "latents.safetensors").string());
  for (const auto& f : places) {
    if (!std::filesystem::exists(f)) continue;
    auto st = load_safetensors(f);
    if (st.metadata["key"] == key && st.tensors.count("latents")) {
      std::cerr << "latents from " << f << "\n";
      return st.tensors.at("latents");
    }
    std::cerr << f << ": written for other data or another VAE; encoding again\n";
  }
  auto z = encode();
  std::filesystem::create_directories(out);
  save_safetensors(places[0], {{{"latents", z}}, {{"key", key}}}, true);
  return z;
}

// Joint image-video training (after Ho et al. 2022): `count` stacks of frames, each of one class
// but from different clips, to be trained with temporal attention off, so the spatial blocks see
// many more distinct items per step than whole clips give them. z (N, C, T, s, s), labels (N,).
// The sets are spread evenly over the classes present.
std::pair<torch::Tensor, torch::Tensor> frame_sets(const torch::Tensor& z, const torch::Tensor& labels, int64_t count) {
  const int64_t T = z.size(2);
  const auto frames = z.permute({0, 2, 1, 3, 4}).reshape({-1, z.size(1), z.size(3), z.size(4)});  // (N*T, C, s, s)
  auto gen = at::detail::createCPUGenerator(0x5EED5E75);
  const auto present = torch::bincount(labels).nonzero().flatten();
  const int64_t P = present.numel();
  std::vector<torch::Tensor> sets, set_labels;
  for (int64_t i = 0; i < P; ++i) {
    const int64_t c = present[i].item<int64_t>(), n = count / P + (i < count % P ? 1 : 0);
    const auto clips = (labels == c).nonzero().flatten();
    if (n == 0) continue;
    const auto pick = clips.index_select(0, torch::randint(clips.numel(), {n * T}, gen, torch::kLong));
    const auto at_frame = torch::randint(T, {n * T}, gen, torch::kLong);
    sets.push_back(frames.index_select(0, pick * T + at_frame).view({n, T, z.size(1), z.size(3), z.size(4)}).permute({0, 2, 1, 3, 4}));
    set_labels.push_back(torch::full({n}, c, torch::kLong));
  }
  if (sets.empty()) throw std::invalid_argument("--frame-sets: no labelled clips to draw frames from");
  return {torch::cat(sets).contiguous(), torch::cat(set_labels)};
}

MovingOptions moving_options(const Json& data, uint64_t seed) {
  MovingOptions m;
  m.frames = data.value("frames", m.frames);
  m.size = data.value("size", m.size);
  m.items = data.value("items", m.items);
  m.fps = data.value("fps", std::vector<double>());
  m.seed = seed;
  return m;
}

// fps conditioning: the model's condition vector is log2(fps / native fps), one column.
bool fps_conditioned(const Json& recipe) { return recipe.at("data").contains("fps"); }
torch::Tensor fps_vector(const torch::Tensor& fps, double native) { return torch::log2(fps.to(torch::kFloat64) / native).to(torch::kFloat32).unsqueeze(1); }

void train(const Json& a) {
  check_run_folder(a);
  const std::string resume = a.value("resume", std::string()), init = a.value("init", std::string());
  const std::string from = resume.empty() ? init : resume;
  Json recipe;
  if (!from.empty()) {
    recipe = load_model_checkpoint(from, "video", "dit").recipe;
    recipe["vae"] = resolve_beside(recipe.at("vae"), from);  // a shipped model names its VAE beside itself
    // Factorised and hybrid models, with or without the anchor frame, have the same weights: a
    // resume may switch between them.
    const Json model = a.value("model", Json::object());
    const std::pair<const char*, const char*> switches[] = {{"attention", "--attention"}, {"anchor_frame", "--anchor-frame"}};
    for (const auto& [key, flag] : switches) {
      if (!model.contains(key)) continue;
      auto& config = recipe.at("model").at("config");
      const std::string was = config.value("attention", std::string("full"));
      if (was != "factorized" && was != "hybrid") {
        throw std::invalid_argument(std::string(flag) + ": " + from + " has " + was + " attention, which cannot switch to " +
                                    model.at(key).dump());
      }
      config[key] = model.at(key);
    }
  } else {
    const std::string vae_path = a.value("vae", std::string());
    if (vae_path.empty()) throw std::invalid_argument("train video needs --vae CHECKPOINT (the image modality's VAE)");
    Json data = {{"frames", 16}, {"size", 64}, {"items", 1}};
    const Json given = a.value("data", Json::object());
    for (const auto& [k, v] : given.items()) data[k] = v;
    recipe = default_recipe(vae_path, image::load_vae(vae_path), moving_options(data, 0), a.value("model", Json::object()));
    if (data.value("dataset", std::string()) == "folder") recipe["data"] = data;
  }
  if (const Json given = a.value("data", Json::object()); given.contains("frame_sets")) {  // also on a resume
    const double share = given.at("frame_sets").get<double>();
    if (!(share >= 0 && share < 1)) {
      throw std::invalid_argument("--frame-sets " + std::to_string(share) + ": must be in [0, 1) (the share of training items)");
    }
    recipe["data"]["frame_sets"] = share;
  }
  if (const Json given = a.value("data", Json::object()); given.contains("fps")) {
    // Frame-rate conditioning adds a condition vector, so it starts a run or a fine-tune (--init),
    // never a resume.
    const auto fps = given.at("fps").get<std::vector<double>>();
    std::string list;
    for (const double f : fps) {
      list += (list.empty() ? "" : " ") + format_number(f);
      if (!(f >= 0.5 && f <= 120)) throw std::invalid_argument("--fps-choices: " + format_number(f) + " is not a frame rate in [0.5, 120]");
    }
    if (fps.size() < 2) throw std::invalid_argument("--fps-choices " + list + ": give two or more frame rates to condition on");
    if (!resume.empty() && recipe.at("data").value("fps", std::vector<double>()) != fps) {
      throw std::invalid_argument("--fps-choices " + list + ": a resume keeps the run's frame rates; start a fine-tune with --init instead");
    }
    if (recipe.at("data").value("dataset", std::string()) == "folder") {
      throw std::invalid_argument("--fps-choices: Moving Fashion-MNIST only (a video folder's clips are decoded at one rate)");
    }
    auto& config = recipe.at("model").at("config");
    if (config.value("cond_dim", int64_t(0)) != 0 && !fps_conditioned(recipe)) {
      throw std::invalid_argument("--fps-choices: " + from + " already has a condition vector of another kind");
    }
    config["cond_dim"] = 1;
    recipe["data"]["fps"] = fps;
  }
  recipe.erase("train");
  auto vae = image::load_vae(recipe.at("vae"));
  const Json& data = recipe.at("data");
  torch::Tensor clips, labels, fps;
  if (data.value("dataset", std::string()) == "folder") {  // DIR/<class>/<videos>, gray, at the model's size
    const auto f = load_video_folder(data.at("dir"), data.value("frames", int64_t(16)), data.value("size", int64_t(64)),
                                     data.value("size", int64_t(64)), data.value("on_bad", std::string("skip")) == "skip");
    for (const auto& [file, why] : f.bad) std::cerr << "skipped " << why << "\n";
    clips = f.clips.mean(2, true);
    labels = f.labels;
    if (resume.empty()) {
      recipe["classes"] = f.class_names;
      recipe["model"]["config"]["num_classes"] = int64_t(f.class_names.size());
    }
  } else {
    const auto fm = image::load_fashion_mnist("train");
    const int64_t n = a.value("data_n", int64_t(0)) > 0 ? a.value("data_n", int64_t(0)) : 6000;
    const auto mv = moving_fashion_mnist(fm.images, fm.labels, n, moving_options(data, 1));
    clips = mv.clips;
    labels = mv.labels.select(1, 0);
    fps = mv.fps;
  }
  // The key: data spec, clip count, a fingerprint of the frames (a folder's files may change) and the VAE file.
  Json spec = data;
  spec.erase("frame_sets");  // drawn from the cached latents, so not part of the key
  const std::string key = spec.dump() + " n=" + std::to_string(clips.size(0)) + " frames=" +
                          std::to_string(clips.sum().item<double>()) + "/" + std::to_string(clips.norm().item<double>()) +
                          " vae=" + recipe.at("vae").get<std::string>() + " " +
                          std::to_string(std::hash<std::string>{}(read_file(recipe.at("vae"))));
  auto z = cached_latents(a.at("out"), from, key, [&] { return encode_clips(vae, clips); });
  std::cerr << "latents of " << clips.size(0) << " clips: " << z.sizes().slice(1) << " (std " << z.std().item<double>() << ")\n";
  const bool folder = data.value("dataset", std::string()) == "folder";
  torch::Tensor vectors;
  if (fps_conditioned(recipe)) {
    vectors = fps_vector(fps, recipe.value("fps", 8.0));
    std::cerr << "frame rates:";
    for (const double f : data.at("fps").get<std::vector<double>>()) std::cerr << " " << f << " (" << (fps == f).sum().item<int64_t>() << " clips)";
    std::cerr << "\n";
  }
  if (data.value("time_reverse", !folder)) {  // a bouncing clip played backwards is another valid clip
    z = torch::cat({z, z.flip(2)});
    labels = torch::cat({labels, labels});
    if (vectors.defined()) vectors = torch::cat({vectors, vectors});
  }
  const int64_t classes = recipe.at("model").at("config").at("num_classes").get<int64_t>();
  torch::Tensor independent;
  if (const double share = data.value("frame_sets", 0.0); share > 0) {
    const auto count = int64_t(std::llround(share / (1 - share) * double(z.size(0))));
    auto [sets, set_labels] = frame_sets(z, labels, count);
    std::cerr << sets.size(0) << " frame sets (" << z.size(2) << " frames of one class from different clips, "
              << "temporal attention off) beside " << z.size(0) << " clips\n";
    independent = torch::cat({torch::zeros({z.size(0)}, torch::kBool), torch::ones({sets.size(0)}, torch::kBool)});
    z = torch::cat({z, sets});
    labels = torch::cat({labels, set_labels});
    // A stack of unrelated frames has no frame rate: the null vector.
    if (vectors.defined()) vectors = torch::cat({vectors, torch::full({sets.size(0), 1}, std::numeric_limits<float>::quiet_NaN())});
  }
  train_dit(a, recipe, z, labels,
            {{"steps", 3500}, {"batch", 8}, {"lr", 6e-4}, {"warmup", 200}, {"ema_decay", 0.999}, {"log_every", 100},
             {"checkpoint_every", 250}, {"cond_dropout", 0.1}, {"null_label", classes}},
            independent, vectors);
}

// `auto`: the temporal decoder shipped beside the model (decoder.safetensors), else none (the
// image VAE per frame); `per-frame`: none; else a `train video-decoder` checkpoint, which must
// decode the model's VAE's latents.
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

// `diffuse train video-decoder`: the temporal layers of a TemporalDecoder on Moving Fashion-MNIST
// clips, the VAE frozen. Each clip's latents get Gaussian noise of a standard deviation drawn from
// [0, latent_noise] (in the scaled latent space), independently per frame, and the target is the
// clean clip, so the layers learn to decode frames that agree where the latents do not.
void train_decoder(const Json& a) {
  check_run_folder(a);
  const std::string out = a.at("out"), resume = a.value("resume", std::string());
  Json recipe;
  if (!resume.empty()) {
    recipe = load_model_checkpoint(resume, "video", "temporal-decoder").recipe;
    recipe["vae"] = resolve_beside(recipe.at("vae"), resume);
  } else {
    const std::string vae_path = a.value("vae", std::string());
    if (vae_path.empty()) throw std::invalid_argument("train video-decoder needs --vae CHECKPOINT (the image modality's VAE)");
    const Json given = a.value("data", Json::object());
    recipe = {{"modality", "video"}, {"model", {{"type", "temporal-decoder"}, {"kernel", 3}}}, {"vae", vae_path}, {"latent_noise", 0.2},
              {"data", {{"dataset", "moving-fashion-mnist"}, {"frames", given.value("frames", int64_t(16))}, {"size", 64}, {"items", given.value("items", int64_t(1))}}}};
  }
  const TrainOptions o = train_options_from_args(a, {{"steps", 1000}, {"batch", 4}, {"lr", 1e-3}, {"warmup", 50}, {"ema_decay", 0.995},
                                                     {"log_every", 50}, {"checkpoint_every", 250}, {"cond_dropout", 0.0}});
  const std::string vae_path = recipe.at("vae");
  const int64_t kernel = recipe.at("model").value("kernel", int64_t(3));
  TemporalDecoder net(image::load_vae(vae_path), kernel);
  const double noise = recipe.value("latent_noise", 0.2);
  const auto fm = image::load_fashion_mnist("train");
  const int64_t n = a.value("data_n", int64_t(0)) > 0 ? a.value("data_n", int64_t(0)) : 2000;
  const auto mv = moving_fashion_mnist(fm.images, fm.labels, n, moving_options(recipe.at("data"), 1));
  // The latents are computed per batch: the encoder is frozen, and 32,000 frames' latents would
  // cost more memory than encoding 64 frames a step costs time.
  auto latents_of = [net](const torch::Tensor& clips) mutable {  // (B, T, 1, S, S) -> (B, C, T, s, s) scaled
    torch::NoGradGuard g;
    const auto z = net->vae()->encode(clips.flatten(0, 1));
    return z.view({clips.size(0), clips.size(1), z.size(1), z.size(2), z.size(3)}).permute({0, 2, 1, 3, 4});
  };
  TrainLoss loss = [net, noise, latents_of](const torch::Tensor& clips, const torch::Tensor&, at::Generator& gen) mutable {
    const auto z = latents_of(clips);
    const auto std = torch::rand(std::vector<int64_t>{z.size(0), 1, 1, 1, 1}, gen) * noise;
    const auto noisy = z + std * torch::randn(z.sizes(), gen);
    const auto rec = net->decode_raw(noisy / net->vae()->config().scaling_factor);
    const auto target = clips * 2 - 1;
    return (rec - target).abs().flatten(1).mean(1) + (rec - target).pow(2).flatten(1).mean(1);
  };
  Trainer trainer(net.ptr(), loss, recipe, o);
  if (!resume.empty()) trainer.resume(resume);
  trainer.run({mv.clips, mv.labels.select(1, 0)});
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

}  // namespace

GeneratedClips sample_clips(const Json& a, int64_t n) {
  const std::string path = a.at("checkpoint");
  auto ck = load_checkpoint(path);
  const auto& recipe = ck.recipe;
  if (a.contains("anchor_frame")) ck.recipe["model"]["config"]["anchor_frame"] = a.at("anchor_frame");  // no extra weights
  auto net = load_dit(ck, path, "video", a.value("raw_weights", false));
  auto vae = image::load_vae(resolve_beside(recipe.at("vae"), path));
  const auto& c = net->config();
  if (a.contains("frames") && a.at("frames").get<int64_t>() > 0 && a.at("frames").get<int64_t>() != c.input_size[0]) {
    throw std::invalid_argument("--frames " + std::to_string(a.at("frames").get<int64_t>()) + ": this model generates " +
                                std::to_string(c.input_size[0]) + "-frame clips");
  }
  GeneratedClips out;
  out.anchor_frame = c.anchor_frame;
  out.fps_conditioned = fps_conditioned(recipe);
  out.class_names = recipe.at("classes").get<std::vector<std::string>>();
  out.fps = a.value("fps", 0.0) > 0 ? a.value("fps", 0.0) : recipe.value("fps", 8.0);
  SampleRequest r = sample_request(a, recipe);
  net->to(r.options.device());
  if (fps_conditioned(recipe)) {  // the frame rate sets how far items move per frame
    const auto trained = recipe.at("data").at("fps").get<std::vector<double>>();
    const auto [lo, hi] = std::minmax_element(trained.begin(), trained.end());
    if (out.fps < *lo - 1e-9 || out.fps > *hi + 1e-9) {
      throw std::invalid_argument("--fps " + format_number(out.fps) + ": this model was trained at " + format_number(*lo) + " to " +
                                  format_number(*hi) + " fps");
    }
    r.shared.vectors = fps_vector(torch::full({n}, out.fps, torch::kFloat64), recipe.value("fps", 8.0));
  }
  r.item_shape = {c.in_channels, c.input_size[0], c.input_size[1], c.input_size[2]};
  r.n = n;
  r.batch = std::min<int64_t>(r.batch, 16);
  r.null_label = c.num_classes;
  out.labels = resolve_labels(a.value("label", std::string()), n, out.class_names);
  r.labels = torch::tensor(out.labels, torch::kLong);
  if (const std::string first = a.value("first_frame", std::string()); !first.empty()) {
    // Image-to-video without training for it: the frame's latent is known at t = 0 and every
    // sampler inpaints the rest of the clip around it.
    const int64_t side = recipe.at("data").value("size", int64_t(64));
    // An image no larger than the canvas (a 28 x 28 item) is centred on black, a larger one resized.
    auto img = image::to_channels(image::read_image(first), 1).unsqueeze(0);
    if (img.size(2) <= side && img.size(3) <= side) {
      const int64_t top = (side - img.size(2)) / 2, left = (side - img.size(3)) / 2;
      img = torch::constant_pad_nd(img, {left, side - img.size(3) - left, top, side - img.size(2) - top}, 0);
    } else {
      img = image::resize(img, side, side);
    }
    torch::Tensor z0;
    {
      torch::NoGradGuard g;
      z0 = vae->encode(img)[0];  // (C, s, s)
    }
    auto known = torch::full(r.item_shape, std::numeric_limits<float>::quiet_NaN());
    known.select(1, 0).copy_(z0);
    r.shared.frames = known.unsqueeze(0).expand({n, -1, -1, -1, -1}).contiguous();
  }
  const auto t0 = std::chrono::steady_clock::now();
  const double sigma_data = objective_from_json(recipe.at("objective")).sigma_data;
  auto temporal = temporal_decoder_for(a.value("decoder", std::string("auto")), path, resolve_beside(recipe.at("vae"), path));
  const auto z = sample(with_known_values(dit_denoiser(net, sigma_data, a.value("temporal_guidance", 0.0))), r).cpu();
  out.frames = temporal ? temporal->decode(z) : decode_clips(vae, z);
  out.decoder = temporal ? a.value("decoder", std::string("auto")) == "auto" ? beside_decoder(path) : a.at("decoder").get<std::string>()
                         : "per-frame";
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

std::pair<torch::Tensor, torch::Tensor> track_objects(const torch::Tensor& frames, int64_t crop) {
  const int64_t N = frames.size(0), T = frames.size(1), H = frames.size(3), W = frames.size(4);
  const auto x = frames.select(2, 0).to(torch::kFloat32);                 // (N, T, H, W)
  const auto w = (x - 0.1).clamp_min(0);                                   // ignore faint background
  const auto mass = w.sum({2, 3}).clamp_min(1e-6);
  const auto ys = torch::arange(H, torch::kFloat32).view({1, 1, H, 1}), xs = torch::arange(W, torch::kFloat32).view({1, 1, 1, W});
  auto cy = (w * ys).sum({2, 3}) / mass, cx = (w * xs).sum({2, 3}) / mass;
  const auto empty = mass <= 1e-6;  // nothing visible: the canvas centre
  cy = torch::where(empty, torch::full_like(cy, H / 2.0), cy);
  cx = torch::where(empty, torch::full_like(cx, W / 2.0), cx);
  const auto centroids = torch::stack({cy, cx}, 2);
  auto crops = torch::zeros({N, T, 1, crop, crop});
  for (int64_t i = 0; i < N; ++i) {
    for (int64_t t = 0; t < T; ++t) {
      const int64_t top = std::clamp<int64_t>(std::llround(cy[i][t].item<double>() - crop / 2.0), 0, H - crop);
      const int64_t left = std::clamp<int64_t>(std::llround(cx[i][t].item<double>() - crop / 2.0), 0, W - crop);
      crops[i][t][0].copy_(x[i][t].slice(0, top, top + crop).slice(1, left, left + crop));
    }
  }
  return {centroids, crops};
}

std::pair<double, double> motion_smoothness(const torch::Tensor& c) {
  if (c.size(1) < 3) return {0.0, 0.0};
  const auto v = c.slice(1, 1) - c.slice(1, 0, -1);
  const auto acc = v.slice(1, 1) - v.slice(1, 0, -1);
  return {acc.norm(2, 2).mean().item<double>(), v.norm(2, 2).mean().item<double>()};
}

double background_flicker(const torch::Tensor& frames, const torch::Tensor& c, int64_t margin) {
  const int64_t H = frames.size(3), W = frames.size(4);
  const auto x = frames.select(2, 0);
  const auto ys = torch::arange(H, torch::kFloat32).view({1, 1, H, 1}), xs = torch::arange(W, torch::kFloat32).view({1, 1, 1, W});
  const auto far = ((ys - c.select(2, 0).unsqueeze(2).unsqueeze(3)).abs() > margin) |
                   ((xs - c.select(2, 1).unsqueeze(2).unsqueeze(3)).abs() > margin);  // (N, T, H, W)
  const auto both = far.slice(1, 1) & far.slice(1, 0, -1);
  const auto diff = (x.slice(1, 1) - x.slice(1, 0, -1)).abs();
  return (diff * both).sum().item<double>() / std::max(1.0, both.sum().item<double>());
}

double feature_consistency(const torch::Tensor& features) {
  const int64_t T = features.size(1);
  if (T < 2) throw std::invalid_argument("feature_consistency: needs 2 or more frames per clip, got " + std::to_string(T));
  const auto u = torch::nn::functional::normalize(features.to(torch::kFloat64), torch::nn::functional::NormalizeFuncOptions().dim(2));
  // Sum over ordered pairs t != t' of <u_t, u_t'> = |sum_t u_t|^2 - T.
  const auto pairs = (u.sum(1).pow(2).sum(1) - double(T)) / double(T * (T - 1));
  return pairs.mean().item<double>();
}

torch::Tensor swap_items(const torch::Tensor& clips, const torch::Tensor& labels, at::Generator& gen) {
  const int64_t T = clips.size(1);
  auto out = torch::empty_like(clips);
  const auto lab = labels.to(torch::kLong).contiguous();
  const int64_t classes = lab.max().item<int64_t>() + 1;
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t c = 0; c < classes; ++c) {
      const auto members = (lab == c).nonzero().flatten();
      if (members.numel() == 0) continue;
      const auto drawn = members.index_select(0, torch::randint(members.numel(), {members.numel()}, gen, torch::kLong));
      out.select(1, t).index_copy_(0, members, clips.select(1, t).index_select(0, drawn));
    }
  }
  return out;
}

namespace {

Json score(image::Classifier& clf, const torch::Tensor& real_features, const torch::Tensor& frames, const torch::Tensor& labels) {
  const auto [centroids, crops] = track_objects(frames);
  torch::NoGradGuard g;
  const int64_t N = frames.size(0), T = frames.size(1);
  std::vector<torch::Tensor> logits, feats;
  const auto flat = crops.flatten(0, 1);
  for (int64_t s = 0; s < flat.size(0); s += 1000) {
    feats.push_back(clf->features(flat.slice(0, s, s + 1000)));
    logits.push_back(clf->forward(flat.slice(0, s, s + 1000)));
  }
  const auto pred = torch::cat(logits).argmax(1).view({N, T});
  const auto features = torch::cat(feats);
  // Class consistency: the share of frames that agree with the clip's most frequent class.
  const auto mode = std::get<0>(torch::mode(pred, 1));
  const double consistency = (pred == mode.unsqueeze(1)).to(torch::kFloat64).mean().item<double>();
  const auto [smooth, speed] = motion_smoothness(centroids);
  return {{"clips", N}, {"frames", T}, {"fd", frechet_distance(features, real_features)},
          {"frame_accuracy", (pred == labels.unsqueeze(1)).to(torch::kFloat64).mean().item<double>()},
          {"class_consistency", consistency}, {"feature_consistency", T >= 2 ? Json(feature_consistency(features.view({N, T, -1}))) : Json(nullptr)},
          {"smoothness_px", smooth}, {"speed_px", speed},
          {"background_flicker", background_flicker(frames, centroids)}};
}

void eval(const Json& a) {
  // A wrong checkpoint is refused before the real data is loaded and scored.
  if (const std::string ck = a.value("checkpoint", std::string()); !ck.empty()) load_model_checkpoint(ck, "video", "dit");
  auto clf = image::load_classifier(a.at("classifier"));
  const auto test = image::load_fashion_mnist("test");
  MovingOptions m;
  const double fps = a.value("fps", 0.0);
  if (!a.value("checkpoint", std::string()).empty()) {
    const auto recipe = load_checkpoint(a.at("checkpoint")).recipe;
    m = moving_options(recipe.at("data"), 2);
    if (fps > 0 && !fps_conditioned(recipe) && fps != recipe.value("fps", 8.0)) {
      throw std::invalid_argument("--fps " + format_number(fps) + ": " + a.at("checkpoint").get<std::string>() +
                                  " is not conditioned on the frame rate (its items move as at " + format_number(recipe.value("fps", 8.0)) + " fps)");
    }
  }
  m.seed = 2;
  // The real clips are filmed at the frame rate asked for (--fps), so that speeds compare.
  m.fps.clear();
  if (fps > 0) m.fps = {fps};
  const int64_t per_class = a.value("n_per_class", int64_t(20));
  const auto real = moving_fashion_mnist(test.images, test.labels, std::max<int64_t>(200, per_class * 10), m);
  const auto [rc, rcrops] = track_objects(real.clips);
  torch::Tensor real_f;
  {
    torch::NoGradGuard g;
    std::vector<torch::Tensor> f;
    const auto flat = rcrops.flatten(0, 1);
    for (int64_t s = 0; s < flat.size(0); s += 1000) f.push_back(clf->features(flat.slice(0, s, s + 1000)));
    real_f = torch::cat(f);
  }
  Json j = {{"classifier", a.at("classifier")}, {"real_clips", real.clips.size(0)}, {"real_fps", m.fps.empty() ? m.native_fps : m.fps[0]}};
  if (a.value("calibrate", false)) {
    // Fresh real clips (other seed), the same clips with frames shuffled, and static clips.
    m.seed = 3;
    const auto other = moving_fashion_mnist(test.images, test.labels, 200, m);
    const auto lab = other.labels.select(1, 0);
    j["real"] = score(clf, real_f, other.clips, lab);
    at::Generator gen = at::detail::createCPUGenerator(0);
    std::vector<torch::Tensor> shuffled;
    for (int64_t i = 0; i < other.clips.size(0); ++i) shuffled.push_back(other.clips[i].index_select(0, torch::randperm(m.frames, gen)));
    j["frame_shuffled"] = score(clf, real_f, torch::stack(shuffled), lab);
    j["static"] = score(clf, real_f, other.clips.slice(1, 0, 1).expand_as(other.clips).contiguous(), lab);
    j["items_swapped"] = score(clf, real_f, swap_items(other.clips, lab, gen), lab);
  }
  if (!a.value("checkpoint", std::string()).empty()) {
    Json sa = a;
    sa.erase("label");
    const auto g = sample_clips(sa, per_class * 10);
    auto s = score(clf, real_f, g.frames, torch::tensor(g.labels, torch::kLong));
    s["checkpoint"] = a.at("checkpoint");
    s["sampler"] = a.value("sampler", std::string("dpmpp_2m"));
    s["steps"] = a.value("steps", int64_t(20));
    s["cfg"] = a.value("cfg", 3.0);
    s["temporal_guidance"] = a.value("temporal_guidance", 0.0);
    s["anchor_frame"] = g.anchor_frame;
    s["fps"] = g.fps;
    s["fps_conditioned"] = g.fps_conditioned;
    s["decoder"] = g.decoder;
    s["seconds"] = g.seconds;
    s["seconds_per_clip"] = g.seconds / double(g.frames.size(0));
    j["samples"] = s;
  }
  std::cout << j.dump(2) << "\n";
}

void sample_cmd(const Json& a) {
  const std::string out = a.at("out");
  const bool force = a.value("force", false);
  const int64_t n = a.value("n", int64_t(1));
  const auto stem = std::filesystem::path(out).replace_extension("").string();
  const auto ext = std::filesystem::path(out).extension().string();
  if (ext != ".mp4" && ext != ".webm" && ext != ".gif") {
    throw std::invalid_argument(out + ": unsupported video format '" + ext + "'; one of: .mp4, .webm, .gif");
  }
  auto name = [&](int64_t i) { return n == 1 ? out : stem + "_" + std::to_string(i) + ext; };
  for (int64_t i = 0; i < n; ++i) check_writable(name(i), force);
  const auto g = sample_clips(a, n);
  VideoWriteOptions o;
  o.fps = g.fps;
  o.crf = int(a.value("crf", int64_t(18)));
  o.preset = a.value("preset", std::string("medium"));
  o.force = force;
  for (int64_t i = 0; i < n; ++i) write_video(name(i), g.frames[i], o);
  std::cout << "wrote " << n << (n == 1 ? " clip to " + out : " clips as " + stem + "_N" + ext) << " (" << g.frames.size(1)
            << " frames at " << g.fps << " fps; " << std::fixed << std::setprecision(2) << g.seconds << " s)\n";
}

}  // namespace

std::string video_report_section(const std::string& dir) {
  const auto files = files_with_extension(dir, {".mp4", ".webm"});
  std::string html;
  for (const auto& f : files) {
    const auto v = read_video(f.string());
    const auto sheet_path = (std::filesystem::temp_directory_path() / ("diffuse-sheet-" + std::to_string(::getpid()) + ".png")).string();
    image::write_image(sheet_path, image::make_grid(v.frames, 8, 2, 1.0), {8, 95, true});
    const auto sheet = read_file(sheet_path);
    std::filesystem::remove(sheet_path);
    const std::string mime = f.extension() == ".mp4" ? "video/mp4" : "video/webm";
    std::ostringstream caption;
    caption << f.filename().string() << ": " << v.frames.size(0) << " frames, " << v.frames.size(3) << "x" << v.frames.size(2) << ", "
            << v.fps << " fps";
    html += "<figure><video controls loop muted width=\"256\" src=\"data:" + mime + ";base64," + base64(read_file(f.string())) +
            "\"></video><img alt=\"frames of " + f.filename().string() + "\" src=\"data:image/png;base64," + base64(sheet) +
            "\"><figcaption>" + caption.str() + " (contact sheet: every frame, row by row)</figcaption></figure>\n";
  }
  return html.empty() ? "" : "<h2>Video</h2>\n" + html;
}

PipelineCommands video_pipeline() { return {train, sample_cmd, eval, nullptr}; }
PipelineCommands video_decoder_pipeline() { return {train_decoder, nullptr, nullptr, nullptr}; }

}  // namespace diffuse::video
