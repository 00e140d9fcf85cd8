// The latent-diffusion image pipeline.
#include "modalities/image/image_pipeline.h"

#include <torch/torch.h>

#include <chrono>
#include <algorithm>
#include <filesystem>
#include <iomanip>
#include <iostream>

#include "core/device.h"
#include "core/dit.h"
#include "core/dit_pipeline.h"
#include "core/pipeline.h"
#include "core/engine.h"
#include "core/files.h"
#include "core/objectives.h"
#include "core/system.h"
#include "core/train/checkpoint.h"
#include "core/train/trainer.h"
#include "modalities/image/dataset.h"
#include "modalities/image/eval_pipeline.h"
#include "modalities/image/io.h"
#include "modalities/image/options.h"
#include "modalities/image/vae.h"

namespace diffuse::image {
namespace {

// The defaults for Fashion-MNIST; train() fits input size, channels and classes to the data.
// Pixel space (no VAE) patches the 28 x 28 image by 4, so both variants see 7 x 7 tokens.
Json default_image_recipe(const std::string& vae_path, bool pixel) {
  DiTConfig d;
  d.input_size = pixel ? std::vector<int64_t>{28, 28} : std::vector<int64_t>{7, 7};
  d.patch = pixel ? std::vector<int64_t>{4, 4} : std::vector<int64_t>{1, 1};
  d.in_channels = pixel ? 1 : 4;
  d.learn_sigma = false;
  d.hidden = 128;  // 1.3M parameters: trainable on 2 CPU cores in under half an hour
  d.depth = 6;
  d.heads = 4;
  d.num_classes = 10;
  ObjectiveOptions o;
  o.kind = ModelKind::kEdm;
  o.sampling = SigmaSampling::kLogNormal;
  o.weighting = LossWeighting::kEdm;
  o.sigma_data = pixel ? 0.5 : 1.0;  // latents are scaled to unit std; pixels live in [-1, 1]
  return {{"modality", "image"}, {"vae", pixel ? "" : vae_path}, {"pixel", pixel},
          {"model", {{"type", "dit"}, {"config", to_json(d)}}}, {"data", {{"dataset", "fashion-mnist"}}},
          {"objective", to_json(o)}, {"classes", fashion_mnist_classes()},
          {"sampling", {{"sigma_min", 0.002}, {"sigma_max", 80.0}}}};
}

class ImageModality : public DiffusionModality {
 public:
  std::string name() const override { return "image"; }

  Json new_recipe(const TrainArgs& a) const override {
    const auto& o = a.options<ImageTrainOptions>();
    Json recipe = default_image_recipe(o.vae, o.pixel);
    const Json given = o.data.spec();  // items() of a temporary would dangle
    for (const auto& [k, v] : given.items()) recipe["data"][k] = v;
    return recipe;
  }

  // A resumed or fine-tuned model names its VAE beside itself when the path is relative (a shipped one).
  void adapt_recipe(Json& recipe, const TrainArgs&, const std::string& from) const override {
    if (!from.empty() && !recipe.value("pixel", false)) recipe["vae"] = resolve_beside(recipe.at("vae"), from);
  }

  TrainData training_set(Json& recipe, const TrainArgs& a, bool fresh) const override {
    const bool pixel = recipe.value("pixel", false);
    const std::string vae_path = recipe.at("vae");
    if (!pixel && vae_path.empty()) {
      throw std::invalid_argument("train image needs --vae CHECKPOINT (a VAE from `diffuse train vae`) or --pixel");
    }
    auto data = load_image_data(recipe["data"], "train");
    if (const int64_t n = a.options<ImageTrainOptions>().data.data_n; n > 0) {
      data.images = data.images.slice(0, 0, n);
      data.labels = data.labels.slice(0, 0, n);
    }
    if (recipe["data"].value("flip", false)) {  // mirrored copies, encoded like the originals
      data.images = torch::cat({data.images, data.images.flip({3})});
      data.labels = torch::cat({data.labels, data.labels});
    }
    torch::Tensor x;
    if (pixel) {
      x = data.images * 2.0 - 1.0;
    } else {  // encode the training set once (posterior means, scaled)
      auto vae = load_vae(vae_path);
      std::vector<torch::Tensor> zs;
      torch::NoGradGuard g;
      for (int64_t s = 0; s < data.images.size(0); s += 1000) zs.push_back(vae->encode(data.images.slice(0, s, s + 1000)));
      x = torch::cat(zs);
      std::cerr << "encoded " << x.size(0) << " images to latents " << x.sizes().slice(1) << " (std " << x.std().item<double>() << ")\n";
    }
    if (fresh) {  // fit the model to the data
      auto& c = recipe["model"]["config"];
      c["in_channels"] = x.size(1);
      c["input_size"] = {x.size(2), x.size(3)};
      c["num_classes"] = int64_t(data.class_names.size());
      recipe["classes"] = data.class_names;
    }
    return {x, {data.labels}};
  }

  Json train_defaults() const override {
    return {{"steps", 2500}, {"batch", 128}, {"lr", 1e-3}, {"warmup", 200}, {"ema_decay", 0.999}, {"log_every", 200},
            {"checkpoint_every", 500}, {"cond_dropout", 0.1}};
  }

  // --class rows: one class per row of the grid's columns.
  void prepare(DitSampling& s, const SampleArgs& a, Generated& out) const override {
    if (a.label != "rows") return;
    s.labels = out.labels = resolve_labels(a.label, s.request.n, s.classes, a.options<ImageSampleOptions>().columns);
    s.request.condition.labels = torch::tensor(s.labels, torch::kLong);
  }

  Decoder decoder(const DitSampling& s, const SampleArgs& a) const override {
    const auto& recipe = s.checkpoint.recipe;
    if (recipe.value("pixel", false)) return [](const torch::Tensor& z, Generated& out) { out.data = ((z + 1.0) * 0.5).clamp(0.0, 1.0); };
    auto vae = load_vae(resolve_beside(recipe.at("vae"), a.checkpoint));
    const auto* own = dynamic_cast<const ImageSampleOptions*>(a.own.get());  // eval's own options are another type
    const int64_t chunk = own ? own->decode_batch : ImageSampleOptions().decode_batch;
    return [vae, chunk](const torch::Tensor& z, Generated& out) mutable {
      std::vector<torch::Tensor> parts;
      for (int64_t s = 0; s < z.size(0); s += chunk) parts.push_back(vae->decode(z.slice(0, s, s + chunk)));
      out.data = torch::cat(parts);
    };
  }

  std::unique_ptr<Evaluator> evaluator(const EvalArgs& a, const Json&, int64_t) const override {
    return image_evaluator(a.options<ImageEvalOptions>().classifier);
  }

  std::vector<std::string> formats() const override { return kImageFormats; }

  SampleFiles output_files(const SampleArgs& a, int64_t n) const override {
    return SampleFiles(a.out, n, a.force, kImageFormats, "image",
                       a.options<ImageSampleOptions>().grid ? SampleFiles::Numbering::kOne : SampleFiles::Numbering::kAlways);
  }

  void save(const Generated& g, const SampleFiles& files, const SampleArgs& a) const override {
    const bool force = a.force;
    const auto& o = a.options<ImageSampleOptions>();
    const int64_t n = g.data.size(0);
    if (o.grid) {
      std::vector<std::string> names;
      for (const auto k : g.labels) names.push_back(g.classes[size_t(k)]);
      const auto grid = o.labelled ? make_labelled_grid(g.data, o.columns, names, o.scale) : make_grid(g.data, o.columns, 2, 0.0);
      write_image(files[0], grid, {8, 95, force});
      std::cout << "wrote a grid of " << n << " images to " << files.written() << "\n";
    } else {
      for (int64_t i = 0; i < n; ++i) write_image(files[i], g.data[i], {8, 95, force});
      std::cout << "wrote " << n << " images as " << files.written() << "\n";
    }
  }
};

const ImageModality kImage;

}  // namespace

torch::Tensor sample_images(const SampleArgs& a, int64_t n, SampleInfo* info) {
  const auto g = generate(kImage, a, n);
  if (info) {
    for (const auto k : g.labels) info->labels.push_back(g.classes[size_t(k)]);
    info->forwards += g.forwards;
    info->forward_items += g.forward_items;
    info->sample_seconds += g.sample_seconds;
    info->decode_seconds += g.decode_seconds;
    info->cfg = g.cfg;
  }
  return g.data;
}

namespace {

// Wall time of sampling n images (after a warm-up run of a few) in each of args.precisions, with
// the network's calls and achieved GFLOP/s against the GEMM rate of that precision, measured in
// the same run.
void bench(const BenchArgs& b) {
  const SampleArgs& a = b.sampling;
  const int64_t n = a.n;
  const auto ck = load_checkpoint(a.checkpoint);
  const auto cfg = dit_config_from_json(ck.recipe["model"]["config"]);
  Json rows = Json::array();
  double cfg_used = 0;  // the scale sampling actually used (--cfg, else the model's own, else the default)
  for (const std::string& name : b.precisions) {
    const auto precision = resolve_precision(name, parse_device(a.device));
    SampleArgs run = a;
    run.precision = precision_name(precision);
    sample_images(run, std::min<int64_t>(n, 4));
    const auto gemm = measure_gemm(1024, 0.5, a.device, precision == Precision::kBf16);
    SampleInfo info;
    const auto t0 = std::chrono::steady_clock::now();
    sample_images(run, n, &info);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    cfg_used = info.cfg;
    const double gflops = 2.0 * dit_forward_macs(cfg) * double(info.forward_items) / info.sample_seconds * 1e-9;
    rows.push_back({{"precision", precision_name(precision)}, {"seconds", secs}, {"images_per_second", double(n) / secs},
                    {"sample_seconds", info.sample_seconds}, {"decode_seconds", info.decode_seconds}, {"network_calls", info.forwards},
                    {"network_items", info.forward_items}, {"dit_gflops", gflops}, {"gemm_gflops", gemm.gflops},
                    {"fraction_of_gemm", gflops / gemm.gflops}});
  }
  const Json j = {{"benchmark", "image"}, {"checkpoint", a.checkpoint}, {"n", n},
                  {"sampler", a.sampler}, {"steps", a.steps.value_or(kDefaultSampleSteps)},
                  {"cfg", cfg_used}, {"batch", a.batch}, {"threads", torch::get_num_threads()}, {"rows", rows}};
  if (b.json) {
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::cout << std::fixed << std::setprecision(2) << n << " images, " << j["steps"] << " steps of " << j["sampler"].get<std::string>()
            << ", CFG " << j["cfg"] << ", " << torch::get_num_threads() << " threads\n";
  for (const auto& r : rows) {
    std::cout << r["precision"].get<std::string>() << ": " << r["seconds"].get<double>() << " s (" << r["images_per_second"].get<double>()
              << " images/s; sampling " << r["sample_seconds"].get<double>() << " s, VAE decode " << r["decode_seconds"].get<double>()
              << " s); network calls: " << r["network_calls"] << " (" << r["network_items"] << " items; CFG batches cond + uncond)\n"
              << "  DiT: " << std::setprecision(1) << r["dit_gflops"].get<double>() << " GFLOP/s = " << 100.0 * r["fraction_of_gemm"].get<double>()
              << "% of the " << r["gemm_gflops"].get<double>() << " GFLOP/s " << r["precision"].get<std::string>() << " GEMM rate\n"
              << std::setprecision(2);
  }
}

}  // namespace

std::string image_report_section(const std::string& dir) {
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const auto ext = e.path().extension().string();
    if (e.is_regular_file() && (ext == ".png" || ext == ".jpg" || ext == ".jpeg")) files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  std::string html;
  for (const auto& f : files) {
    const auto img = read_image(f.string());  // also checks that it decodes
    const std::string mime = f.extension() == ".png" ? "image/png" : "image/jpeg";
    html += "<figure><img alt=\"" + f.filename().string() + "\" src=\"data:" + mime + ";base64," + base64(read_file(f.string())) +
            "\"><figcaption>" + f.filename().string() + " (" + std::to_string(img.size(2)) + "x" + std::to_string(img.size(1)) +
            ")</figcaption></figure>\n";
  }
  return html.empty() ? "" : "<h2>Images</h2>\n" + html;
}

PipelineCommands image_pipeline() {
  return {[](const TrainArgs& a) { train_pipeline(kImage, a); }, [](const SampleArgs& a) { sample_pipeline(kImage, a); },
          [](const EvalArgs& a) { eval_pipeline(kImage, a); }, bench};
}

}  // namespace diffuse::image
