// Video metrics (tracked items' class, identity, motion and background flicker), `diffuse eval
// video` with its calibration rows, and the report's video section.
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
#include "core/train/checkpoint.h"
#include "core/train/trainer.h"
#include "modalities/image/classifier.h"
#include "modalities/image/dataset.h"
#include "modalities/image/idx.h"
#include "modalities/image/io.h"
#include "modalities/image/options.h"
#include "modalities/image/vae.h"
#include "modalities/video/io.h"
#include "modalities/video/moving.h"
#include "modalities/video/options.h"
#include "modalities/video/temporal_decoder.h"
#include "modalities/video/video_pipeline.h"

namespace diffuse::video {

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

torch::Tensor as_written(const torch::Tensor& frames) { return (frames.clamp(0, 1) * 255.0).round() / 255.0; }

double feature_consistency(const torch::Tensor& features) {
  const int64_t T = features.size(1);
  if (T < 2) throw std::invalid_argument("feature_consistency: needs 2 or more frames per clip, got " + std::to_string(T));
  const auto u = torch::nn::functional::normalize(features.to(torch::kFloat64), torch::nn::functional::NormalizeFuncOptions().dim(2));
  // Sum over ordered pairs t != t' of <u_t, u_t'> = |sum_t u_t|^2 - T.
  const auto pairs = (u.sum(1).pow(2).sum(1) - double(T)) / double(T * (T - 1));
  return pairs.mean().item<double>();
}

namespace {
torch::Tensor cosine_to_first(const torch::Tensor& features, const char* what) {  // (N, T - 1)
  const int64_t T = features.size(1);
  if (T < 2) throw std::invalid_argument(std::string(what) + ": needs 2 or more frames per clip, got " + std::to_string(T));
  const auto u = torch::nn::functional::normalize(features.to(torch::kFloat64), torch::nn::functional::NormalizeFuncOptions().dim(2));
  return (u.slice(1, 1) * u.slice(1, 0, 1)).sum(2);
}
}  // namespace

std::pair<double, double> identity_to_first(const torch::Tensor& features) {
  const auto to_first = cosine_to_first(features, "identity_to_first");
  return {to_first.mean().item<double>(), to_first.select(1, to_first.size(1) - 1).mean().item<double>()};
}

std::vector<double> identity_by_frame(const torch::Tensor& features) {
  const auto per_frame = cosine_to_first(features, "identity_by_frame").mean(0).contiguous();
  return {per_frame.data_ptr<double>(), per_frame.data_ptr<double>() + per_frame.numel()};
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
  const auto identity = T >= 2 ? identity_to_first(features.view({N, T, -1})) : std::pair<double, double>{1.0, 1.0};
  return {{"clips", N}, {"frames", T}, {"fd", frechet_distance(features, real_features)},
          {"identity_to_first", identity.first}, {"identity_last_frame", identity.second},
          {"identity_by_frame", T >= 2 ? Json(identity_by_frame(features.view({N, T, -1}))) : Json(nullptr)},
          {"frame_accuracy", (pred == labels.unsqueeze(1)).to(torch::kFloat64).mean().item<double>()},
          {"class_consistency", consistency}, {"feature_consistency", T >= 2 ? Json(feature_consistency(features.view({N, T, -1}))) : Json(nullptr)},
          {"smoothness_px", smooth}, {"speed_px", speed},
          {"background_flicker", background_flicker(frames, centroids)},
          // What a viewer of the written file sees: changes below half an 8-bit level vanish.
          {"background_flicker_8bit", background_flicker(as_written(frames), centroids)}};
}

}  // namespace

namespace {

// The judge of `eval video`: the image classifier on tracked crops of real Moving Fashion-MNIST
// clips made from the test set at the frame rate asked for (--fps), so that speeds compare.
class VideoEvaluator : public Evaluator {
 public:
  VideoEvaluator(const EvalArgs& a, const Json& recipe, int64_t per_class)
      : file_(classifier_file(a.options<VideoEvalOptions>().classifier)), clf_(image::load_classifier(file_)) {
    test_ = image::load_fashion_mnist("test");
    const double fps = a.options<VideoEvalOptions>().fps;
    if (!recipe.is_null()) {
      m_ = moving_options(recipe.at("data"), 2);
      if (fps > 0 && !fps_conditioned(recipe) && fps != recipe.value("fps", 8.0)) {
        throw std::invalid_argument("--fps " + format_number(fps) + ": " + a.checkpoint +
                                    " is not conditioned on the frame rate (its items move as at " + format_number(recipe.value("fps", 8.0)) + " fps)");
      }
    }
    if (!recipe.is_null() && recipe.contains("vae")) vae_ = resolve_beside(recipe.at("vae").get<std::string>(), a.checkpoint);
    m_.seed = 2;
    m_.fps.clear();
    if (fps > 0) m_.fps = {fps};
    const auto real = moving_fashion_mnist(test_.images, test_.labels, std::max<int64_t>(200, per_class * 10), m_);
    real_clips_ = real.clips.size(0);
    const auto [rc, rcrops] = track_objects(real.clips);
    torch::NoGradGuard g;
    std::vector<torch::Tensor> f;
    const auto flat = rcrops.flatten(0, 1);
    for (int64_t s = 0; s < flat.size(0); s += 1000) f.push_back(clf_->features(flat.slice(0, s, s + 1000)));
    real_f_ = torch::cat(f);
  }

  Json describe() const override {
    return {{"classifier", file_}, {"real_clips", real_clips_}, {"real_fps", m_.fps.empty() ? m_.native_fps : m_.fps[0]}};
  }

  // Fresh real clips (other seed), and the same clips: encoded by the model's VAE and decoded by
  // its decoder (the ceiling of any model on those latents), with frames shuffled, static, and
  // with the item swapped for another of its class every frame.
  Json calibration(const EvalArgs& a) const override {
    Json j;
    MovingOptions m = m_;
    m.seed = 3;
    const auto other = moving_fashion_mnist(test_.images, test_.labels, 200, m);
    const auto lab = other.labels.select(1, 0);
    j["real"] = video::score(clf_, real_f_, other.clips, lab);
    if (!vae_.empty()) {
      auto vae = image::load_vae(vae_);
      const auto decoded = clip_decoder(a.options<VideoEvalOptions>().decoder, a.checkpoint, vae_).decode(encode_clips(vae, other.clips));
      j["round_trip"] = video::score(clf_, real_f_, decoded, lab);
    }
    at::Generator gen = at::detail::createCPUGenerator(0);
    std::vector<torch::Tensor> shuffled;
    for (int64_t i = 0; i < other.clips.size(0); ++i) shuffled.push_back(other.clips[i].index_select(0, torch::randperm(m.frames, gen)));
    j["frame_shuffled"] = video::score(clf_, real_f_, torch::stack(shuffled), lab);
    j["static"] = video::score(clf_, real_f_, other.clips.slice(1, 0, 1).expand_as(other.clips).contiguous(), lab);
    j["items_swapped"] = video::score(clf_, real_f_, swap_items(other.clips, lab, gen), lab);
    return j;
  }

  Json score(const Generated& g, const EvalArgs& a) const override {
    auto s = video::score(clf_, real_f_, g.data, torch::tensor(g.labels, torch::kLong));
    s["temporal_guidance"] = a.options<VideoEvalOptions>().temporal_guidance;
    for (const auto* key : {"anchor_frame", "fps", "fps_conditioned", "decoder"}) s[key] = g.info.at(key);
    for (const auto* key : {"first_frame", "first_frame_noise", "first_frame_guidance", "first_frame_cfg", "image_stage", "motion"}) {
      if (g.info.contains(key)) s[key] = g.info.at(key);
    }
    s["seconds_per_clip"] = (g.sample_seconds + g.decode_seconds) / double(g.data.size(0));
    return s;
  }

 private:
  static std::string classifier_file(const std::string& given) { return given.empty() ? shipped_model_path(image::kShippedClassifier) : given; }

  std::string file_;
  mutable image::Classifier clf_;
  image::ImageDataset test_;
  MovingOptions m_;
  int64_t real_clips_ = 0;
  torch::Tensor real_f_;
  std::string vae_;  // the model's VAE ("" without a recipe that names one)
};

}  // namespace

std::unique_ptr<Evaluator> video_evaluator(const EvalArgs& args, const Json& recipe, int64_t per_class) {
  return std::make_unique<VideoEvaluator>(args, recipe, per_class);
}

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

}  // namespace diffuse::video
