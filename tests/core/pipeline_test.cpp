// The generic pipeline (core/pipeline.h) through a modality defined here: "blobs", 1-D items of
// 2 channels x 8 positions whose sign is their class. It checks what the pipeline promises every
// modality: the run folder, resume, the recipe fitted once, per-item seeds whatever the batch,
// the decoder built before sampling, output files checked before any work, and eval's JSON.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <optional>

#include <unistd.h>

#include "core/objectives.h"
#include "core/pipeline.h"
#include "core/train/checkpoint.h"
#include "test_util.h"

namespace diffuse {
namespace {

// The blobs' own sample option, as a plugin's struct.
struct BlobsOptions : PluginOptions {
  std::string decoder;
};

struct Calls {
  int training_sets = 0, fresh_sets = 0, decoders = 0, decodes = 0, saves = 0;
};

class Blobs : public DiffusionModality {
 public:
  explicit Blobs(Calls& calls, std::string name = "blobs") : calls_(calls), name_(std::move(name)) {}
  std::string name() const override { return name_; }

  Json new_recipe(const TrainArgs& a) const override {
    DiTConfig d;
    d.input_size = {8};
    d.patch = {2};
    d.in_channels = 2;
    d.learn_sigma = false;
    d.hidden = 24;
    d.depth = 1;
    d.heads = 2;
    d.num_classes = 0;  // fitted to the data
    ObjectiveOptions o;
    o.kind = ModelKind::kEdm;
    o.sampling = SigmaSampling::kLogNormal;
    o.weighting = LossWeighting::kEdm;
    o.sigma_data = 1.0;
    return {{"modality", name_}, {"model", {{"type", "dit"}, {"config", to_json(d)}}}, {"objective", to_json(o)},
            {"sampling", {{"sigma_min", 0.002}, {"sigma_max", 80.0}}}};
  }

  TrainData training_set(Json& recipe, const TrainArgs& a, bool fresh) const override {
    ++calls_.training_sets;
    const auto labels = torch::arange(64, torch::kLong) % 2;
    const auto x = (1.0 - 2.0 * labels.to(torch::kFloat32)).view({64, 1, 1}).expand({64, 2, 8}).contiguous();
    if (fresh) {
      ++calls_.fresh_sets;
      recipe["model"]["config"]["num_classes"] = 2;
      recipe["classes"] = {"plus", "minus"};
    }
    return {x, {labels}};
  }

  Json train_defaults() const override {
    return {{"steps", 3}, {"batch", 16}, {"lr", 1e-3}, {"warmup", 0}, {"log_every", 1}, {"cond_dropout", 0.1}};
  }

  Decoder decoder(const DitSampling& s, const SampleArgs& a) const override {
    ++calls_.decoders;
    if (a.options<BlobsOptions>().decoder == "missing") throw std::invalid_argument("--decoder missing: no such decoder");
    return [this](const torch::Tensor& z, Generated& out) {
      ++calls_.decodes;
      EXPECT_FALSE(torch::GradMode::is_enabled());
      out.data = z.mean({1, 2});  // one number per item: its sign is its class
    };
  }

  std::unique_ptr<Evaluator> evaluator(const EvalArgs& a, const Json& recipe, int64_t per_class) const override;

  std::vector<std::string> formats() const override { return {".txt"}; }

  void save(const Generated& g, const SampleFiles& files, const SampleArgs& a) const override {
    ++calls_.saves;
    for (int64_t i = 0; i < g.data.size(0); ++i) std::ofstream(files[i]) << g.data[i].item<double>() << "\n";
  }

 private:
  Calls& calls_;
  std::string name_;
};

class SignJudge : public Evaluator {
 public:
  Json describe() const override { return {{"judge", "sign"}}; }
  Json calibration(const EvalArgs& a) const override { return {{"real", {{"accuracy", 1.0}}}}; }
  Json score(const Generated& g, const EvalArgs& a) const override {
    const auto predicted = (g.data < 0).to(torch::kLong);
    return {{"n", g.data.size(0)},
            {"accuracy", (predicted == torch::tensor(g.labels, torch::kLong)).to(torch::kFloat64).mean().item<double>()},
            {"labels", g.labels}};
  }
};

std::unique_ptr<Evaluator> Blobs::evaluator(const EvalArgs& a, const Json&, int64_t) const { return std::make_unique<SignJudge>(); }

struct PipelineTest : ::testing::Test {
  void SetUp() override {
    dir = (std::filesystem::temp_directory_path() / ("diffuse_pipeline_" + std::to_string(::getpid()))).string();
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
  }
  void TearDown() override { std::filesystem::remove_all(dir); }
  // A trained blobs model (steps and seed as given), its checkpoint's path.
  std::string trained(Blobs& m, const std::string& name, int64_t steps = 3) {
    train_pipeline(m, train_args(dir + "/" + name, steps));
    return dir + "/" + name + "/checkpoint.safetensors";
  }
  static TrainArgs train_args(const std::string& out, std::optional<int64_t> steps, const std::string& resume = "") {
    TrainArgs a;
    a.out = out;
    a.steps = steps;
    a.resume = resume;
    return a;
  }
  std::string dir;
  Calls calls;
};

TEST_F(PipelineTest, TrainFitsANewRecipeOnceRefusesAnOldRunAndResumes) {
  Blobs m(calls);
  const auto path = trained(m, "run");
  auto ck = load_checkpoint(path);
  EXPECT_EQ(ck.recipe.at("modality"), "blobs");
  EXPECT_EQ(ck.recipe.at("model").at("config").at("num_classes"), 2);
  EXPECT_EQ(ck.step, 3);
  EXPECT_EQ(calls.fresh_sets, 1);
  // The null label comes from the fitted model's classes.
  EXPECT_EQ(ck.recipe.at("train").at("null_label"), 2);
  test::expect_throw_containing<std::runtime_error>([&] { trained(m, "run"); }, "checkpoint.safetensors exists; pass --resume it, or --force");
  train_pipeline(m, train_args(dir + "/run", 5, path));
  EXPECT_EQ(calls.training_sets, 2);
  EXPECT_EQ(calls.fresh_sets, 1);  // a resume keeps the recipe it was fitted with
  EXPECT_EQ(load_checkpoint(path).step, 5);
  // A checkpoint of another modality is refused naming both.
  Calls other_calls;
  Blobs other(other_calls, "other");
  test::expect_throw_containing([&] { train_pipeline(other, train_args(dir + "/x", std::nullopt, path)); }, "a blobs 'dit' model, expected an other 'dit' model");
}

TEST_F(PipelineTest, GenerateIsAFunctionOfTheSeedAndBuildsTheDecoderBeforeSampling) {
  Blobs m(calls);
  const auto path = trained(m, "run");
  SampleArgs a;
  a.checkpoint = path;
  a.seed = 7;
  a.steps = 4;
  a.sampler = "euler";
  const auto g = generate(m, a, 5);
  EXPECT_EQ(g.labels, (std::vector<int64_t>{0, 1, 0, 1, 0}));  // cycling through the classes
  EXPECT_EQ(g.classes, (std::vector<std::string>{"plus", "minus"}));
  EXPECT_EQ(g.latents.sizes(), (torch::IntArrayRef{5, 2, 8}));
  EXPECT_EQ(g.data.sizes(), (torch::IntArrayRef{5}));
  EXPECT_EQ(g.forwards, 4);             // one call per Euler step: CFG batches cond and uncond together
  EXPECT_EQ(g.forward_items, 4 * 2 * 5);
  EXPECT_EQ(calls.decodes, 1);
  SampleArgs small = a;
  small.batch = 2;
  EXPECT_LE(test::max_abs(generate(m, small, 5).latents, g.latents), 1e-5);  // batch shapes round differently
  SampleArgs minus = a;
  minus.label = "minus";
  const auto m7 = generate(m, minus, 3);
  EXPECT_EQ(m7.labels, (std::vector<int64_t>{1, 1, 1}));
  minus.seed = 8;
  EXPECT_LE(test::max_abs(generate(m, minus, 2).latents, m7.latents.slice(0, 1, 3)), 1e-5) << "item i has seed + i";
  // A decoder that cannot be built stops the command before the network runs.
  SampleArgs missing = a;
  auto own = std::make_shared<BlobsOptions>();
  own->decoder = "missing";
  missing.own = own;
  const int decodes = calls.decodes;
  test::expect_throw_containing<std::invalid_argument>([&] { generate(m, missing, 2); }, "--decoder missing");
  EXPECT_EQ(calls.decodes, decodes);
}

TEST_F(PipelineTest, SampleChecksItsFilesBeforeAnyWorkAndEvalPrintsTheJudgesFigures) {
  Blobs m(calls);
  const auto path = trained(m, "run");
  SampleArgs a;
  a.checkpoint = path;
  a.out = dir + "/s.txt";
  a.n = 3;
  a.steps = 3;
  a.sampler = "euler";
  sample_pipeline(m, a);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(std::filesystem::exists(dir + "/s_" + std::to_string(i) + ".txt"));
  const int decoders = calls.decoders;
  test::expect_throw_containing<std::runtime_error>([&] { sample_pipeline(m, a); }, "s_0.txt: exists; pass --force");
  SampleArgs bad = a;
  bad.out = dir + "/s.png";
  test::expect_throw_containing<std::invalid_argument>([&] { sample_pipeline(m, bad); }, "unsupported blobs format '.png'; one of: .txt");
  EXPECT_EQ(calls.decoders, decoders) << "no work before the files were checked";
  EXPECT_EQ(calls.saves, 1);

  testing::internal::CaptureStdout();
  EvalArgs e;
  e.checkpoint = path;
  e.calibrate = true;
  e.steps = 3;
  e.sampler = "euler";
  e.cfg = 2.0;
  e.n_per_class = 3;
  eval_pipeline(m, e);
  const auto j = Json::parse(testing::internal::GetCapturedStdout());
  EXPECT_EQ(j.at("judge"), "sign");
  EXPECT_EQ(j.at("real").at("accuracy"), 1.0);
  const auto& s = j.at("samples");
  EXPECT_EQ(s.at("n"), 6);  // n_per_class 3 x 2 classes
  EXPECT_EQ(s.at("labels"), Json({0, 1, 0, 1, 0, 1}));
  EXPECT_EQ(s.at("checkpoint"), path);
  EXPECT_EQ(s.at("sampler"), "euler");
  EXPECT_EQ(s.at("steps"), 3);
  EXPECT_EQ(s.at("cfg"), 2.0);
  EXPECT_GE(s.at("seconds").get<double>(), 0.0);
  // Another modality's checkpoint is refused before the judge loads anything.
  Calls other_calls;
  Blobs other(other_calls, "other");
  EvalArgs o;
  o.checkpoint = path;
  test::expect_throw_containing([&] { eval_pipeline(other, o); }, "expected an other 'dit' model");
}

// A plugin reads its own options as its own type: their defaults when a caller gave none, and a
// logic error (not a silent default) when they are another pipeline's.
TEST(PluginOptions, AreReadAsTheirOwnTypeOrRefused) {
  struct Other : PluginOptions {};
  SampleArgs a;
  EXPECT_EQ(a.options<BlobsOptions>().decoder, "");
  auto own = std::make_shared<BlobsOptions>();
  own->decoder = "mine";
  a.own = own;
  EXPECT_EQ(a.options<BlobsOptions>().decoder, "mine");
  EXPECT_THROW(a.options<Other>(), std::logic_error);
  // Eval hands its samples its sampling settings and its own options.
  EvalArgs e;
  e.checkpoint = "m.safetensors";
  e.steps = 7;
  e.cfg = 1.5;
  e.seed = 9;
  e.precision = "fp32";
  e.own = own;
  const auto s = e.sampling();
  EXPECT_EQ(s.checkpoint, "m.safetensors");
  EXPECT_EQ(s.steps.value_or(0), 7);
  EXPECT_EQ(s.cfg.value_or(0), 1.5);
  EXPECT_EQ(s.seed, 9u);
  EXPECT_EQ(s.precision, "fp32");
  EXPECT_EQ(s.label, "");  // every class in turn
  EXPECT_EQ(s.options<BlobsOptions>().decoder, "mine");
}

// The trainer's options: the modality's, overridden only by those given.
TEST(TrainArgs, OverrideOnlyTheGivenTrainOptions) {
  TrainArgs a;
  a.out = "runs/x";
  a.lr = 5e-4;
  a.seed = 3;
  const auto o = train_options(a, {{"steps", 40}, {"lr", 1e-3}, {"batch", 8}});
  EXPECT_EQ(o.steps, 40);
  EXPECT_EQ(o.batch, 8);
  EXPECT_DOUBLE_EQ(o.lr, 5e-4);
  EXPECT_EQ(o.seed, 3u);
  EXPECT_EQ(o.out_dir, "runs/x");
  a.batch = 0;
  test::expect_throw_containing<std::invalid_argument>([&] { train_options(a, Json::object()); }, "batch must be >= 1, got 0");
  a.batch.reset();
  a.extend = true;  // a new run has no rate to decay on from
  test::expect_throw_containing<std::invalid_argument>([&] { train_options(a, Json::object()); }, "--extend: only with --resume CHECKPOINT");
  a.resume = "runs/x/checkpoint.safetensors";
  EXPECT_TRUE(train_options(a, Json::object()).extend);
}

// The guidance scale of a request: the command line's, else the model's own (its recipe's
// sampling.cfg, written by `model export --cfg`), else the pipeline's; a bad recipe value is refused.
TEST(SampleRequest, TakesTheGuidanceScaleFromTheCommandLineThenTheModelThenThePipeline) {
  SampleArgs a;
  Json recipe = {{"sampling", {{"sigma_min", 0.002}, {"sigma_max", 80.0}}}};
  EXPECT_EQ(sample_request(a, recipe, 1.0).guidance.scale, 1.0);
  EXPECT_EQ(sample_request(a, recipe).guidance.scale, 3.0);
  recipe["sampling"]["cfg"] = 2.0;
  EXPECT_EQ(recipe_guidance_scale(recipe).value_or(-1), 2.0);
  EXPECT_EQ(sample_request(a, recipe, 1.0).guidance.scale, 2.0);
  a.cfg = 4.5;
  EXPECT_EQ(sample_request(a, recipe, 1.0).guidance.scale, 4.5);
  EXPECT_FALSE(recipe_guidance_scale(Json::object()).has_value());
  recipe["sampling"]["cfg"] = "lots";
  test::expect_throw_containing<std::invalid_argument>([&] { recipe_guidance_scale(recipe); },
                                                       "the model's sampling.cfg: expected a guidance scale in [0, 100], got \"lots\"");
  recipe["sampling"]["cfg"] = 1e308;
  test::expect_throw_containing<std::invalid_argument>([&] { sample_request(SampleArgs{}, recipe); }, "sampling.cfg");
  a.cfg.reset();
  a.checkpoint = "models/edited.safetensors";  // the error names the model's file
  test::expect_throw_containing<std::invalid_argument>(
      [&] { sample_request(a, recipe); }, "models/edited.safetensors: the model's sampling.cfg: expected a guidance scale in [0, 100], got 1e+308");
}

}  // namespace
}  // namespace diffuse
