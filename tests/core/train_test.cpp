// Trainer and checkpoints: bit-identical resume, refusal of corrupt or mismatched checkpoints,
// safetensors checked by an independent parser, divergence reported.
#include "core/train/trainer.h"

#include <torch/torch.h>

#include <filesystem>
#include <cstring>
#include <fstream>
#include <thread>

#include <sys/stat.h>

#include "core/files.h"
#include "core/safetensors.h"
#include "core/train/checkpoint.h"
#include "core/train/optimizer.h"
#include "core/toy.h"
#include "tests/core/test_util.h"

namespace diffuse {
namespace {

namespace fs = std::filesystem;

std::string temp_dir(const std::string& name) {
  const auto d = fs::temp_directory_path() / ("diffuse_" + name);
  fs::remove_all(d);
  fs::create_directories(d);
  return d.string();
}

TrainOptions small_options() {
  TrainOptions o;
  o.steps = 40;
  o.batch = 32;
  o.warmup = 5;
  o.lr = 2e-3;
  o.ema_decay = 0.9;
  o.null_label = 4;
  o.log_every = 1000;
  return o;
}

struct Run {
  ToyModel model;
  std::unique_ptr<Trainer> trainer;
};

Run make_run(const TrainOptions& o, uint64_t init_seed = 7) {
  torch::manual_seed(init_seed);
  Run r;
  r.model = make_toy_model(default_toy_recipe());
  r.trainer = std::make_unique<Trainer>(r.model.net.ptr(), toy_forward(r.model), r.model.recipe, o, r.model.objective);
  return r;
}

TEST(Trainer, ResumeIsBitIdentical) {
  const int threads = torch::get_num_threads();
  torch::set_num_threads(1);
  const auto data = find_modality("toy").dataset({{"n", 500}, {"seed", 3}});  // 40 x 32 items: several epochs
  auto straight = make_run(small_options());
  straight.trainer->run(data);

  const auto dir = temp_dir("resume");
  auto first = make_run(small_options());
  first.trainer->run(data, 20);
  first.trainer->save(dir + "/half.safetensors", false);
  auto second = make_run(small_options(), /*init_seed=*/99);  // different init: resume must overwrite it
  second.trainer->resume(dir + "/half.safetensors");
  second.trainer->run(data);
  torch::set_num_threads(threads);

  auto losses = first.trainer->losses();
  losses.insert(losses.end(), second.trainer->losses().begin(), second.trainer->losses().end());
  ASSERT_EQ(losses.size(), straight.trainer->losses().size());
  for (size_t i = 0; i < losses.size(); ++i) EXPECT_EQ(losses[i], straight.trainer->losses()[i]) << "step " << i;
  const auto a = straight.trainer->checkpoint(), b = second.trainer->checkpoint();
  using Part = std::map<std::string, torch::Tensor> Checkpoint::*;
  for (Part part : {&Checkpoint::model, &Checkpoint::ema, &Checkpoint::exp_avg, &Checkpoint::exp_avg_sq}) {
    for (const auto& [name, t] : a.*part) EXPECT_TRUE(torch::equal(t, (b.*part).at(name))) << name;
  }
  EXPECT_EQ(a.step, 40);
  EXPECT_EQ(a.epoch, b.epoch);
  EXPECT_EQ(a.data_index, b.data_index);
}

// Mirrored examples (a clip played backwards), made batch by batch, train exactly as stored copies.
TEST(Trainer, MirroredExamplesTrainAsTheirStoredCopies) {
  const int threads = torch::get_num_threads();
  torch::set_num_threads(1);
  const auto data = find_modality("toy").dataset({{"n", 250}, {"seed", 3}});
  const int64_t n = data.x.size(0);
  const auto both = Condition::cat(data.cond, data.cond);
  const TrainData stored{torch::cat({data.x, data.x.flip(1)}), both}, mirrored{data.x, both, n, 1};
  ASSERT_EQ(mirrored.size(), 2 * n);
  const auto idx = torch::tensor({n + 10, int64_t(3), 2 * n - 1, n}, torch::kLong);
  EXPECT_TRUE(torch::equal(mirrored.rows(idx), stored.rows(idx)));
  EXPECT_FALSE(torch::equal(mirrored.rows(idx), data.x.index_select(0, idx % n)));
  auto a = make_run(small_options()), b = make_run(small_options());
  a.trainer->run(stored);
  b.trainer->run(mirrored);
  torch::set_num_threads(threads);
  EXPECT_EQ(a.trainer->losses(), b.trainer->losses());
  for (const auto& [name, t] : a.trainer->checkpoint().ema) EXPECT_TRUE(torch::equal(t, b.trainer->checkpoint().ema.at(name))) << name;
  test::expect_throw_containing<std::invalid_argument>([&] { make_run(small_options()).trainer->run({data.x, both, n + 1, 1}); },
                                                       "251 mirrored examples of 250");
}

// small_options() logging every `log_every` steps into `dir`, with one checkpoint at the end.
TrainOptions logged_options(const std::string& dir, int64_t log_every) {
  auto o = small_options();
  o.log_every = log_every;
  o.out_dir = dir;
  o.checkpoint_every = 1000;
  return o;
}

std::vector<int64_t> logged_steps(const std::string& path) {
  std::vector<int64_t> steps;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) steps.push_back(Json::parse(line).at("step").get<int64_t>());
  return steps;
}

// A run from step 0 (--force over an old run) starts a new log.jsonl; a resumed run keeps the
// lines up to its checkpoint's step, drops those a stopped run wrote after it, and appends.
TEST(Trainer, LogStartsAnewAtStepZeroAndResumesAtTheCheckpointStep) {
  const auto data = find_modality("toy").dataset({{"n", 200}, {"seed", 3}});
  const auto dir = temp_dir("log");
  const auto o = logged_options(dir, 10);
  auto first = make_run(o);
  first.trainer->run(data, 20);
  first.trainer->save(dir + "/half.safetensors", false);
  first.trainer->run(data, 40);
  EXPECT_EQ(logged_steps(dir + "/log.jsonl"), (std::vector<int64_t>{10, 20, 30, 40}));
  auto resumed = make_run(o);
  resumed.trainer->resume(dir + "/half.safetensors");
  resumed.trainer->run(data);
  EXPECT_EQ(logged_steps(dir + "/log.jsonl"), (std::vector<int64_t>{10, 20, 30, 40}));
  auto again = make_run(o);  // from step 0 into the same folder
  again.trainer->run(data, 20);
  EXPECT_EQ(logged_steps(dir + "/log.jsonl"), (std::vector<int64_t>{10, 20}));
}

std::map<int64_t, double> logged_rates(const std::string& path) {
  std::map<int64_t, double> rates;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    const auto j = Json::parse(line);
    rates[j.at("step").get<int64_t>()] = j.at("lr").get<double>();
  }
  return rates;
}

// --extend: a resumed run with a larger --steps decays the learning rate on from the rate its
// checkpoint had reached (the cosine over the new length would raise it again); the run records
// it, so a plain resume of the extended run keeps the same rates.
TEST(Trainer, ExtendDecaysOnFromTheRateTheCheckpointReached) {
  const auto data = find_modality("toy").dataset({{"n", 200}, {"seed", 3}});
  const auto dir = temp_dir("extend");
  const auto o = logged_options(dir, 1);  // 40 steps, 5 of warm-up
  auto first = make_run(o);
  first.trainer->run(data, 30);
  first.trainer->save(dir + "/at30.safetensors", false);
  const double reached = learning_rate_at(o, 30);  // the original run's next rate
  auto longer = o;
  longer.steps = 80;
  longer.extend = true;
  auto extended = make_run(longer);
  extended.trainer->resume(dir + "/at30.safetensors");
  extended.trainer->run(data, 60);
  extended.trainer->save(dir + "/at60.safetensors", false);
  extended.trainer->run(data);
  const auto rates = logged_rates(dir + "/log.jsonl");  // a line's rate is its step's (index step - 1)
  ASSERT_EQ(rates.size(), 80u);
  EXPECT_DOUBLE_EQ(rates.at(31), reached);
  for (int64_t s = 32; s <= 80; ++s) EXPECT_LT(rates.at(s), rates.at(s - 1)) << "step " << s;
  EXPECT_NEAR(rates.at(80), o.lr * o.min_lr_ratio, 1e-3 * o.lr);
  const Json train = load_checkpoint(dir + "/at60.safetensors").recipe.at("train");
  EXPECT_EQ(train.at("decay_from").get<int64_t>(), 30);
  EXPECT_DOUBLE_EQ(train.at("decay_from_lr").get<double>(), reached);
  auto plain = longer;
  plain.extend = false;
  EXPECT_GT(learning_rate_at(plain, 30), 1.5 * reached);  // what a resume without --extend would use
  auto again = make_run(plain);
  again.trainer->resume(dir + "/at60.safetensors");
  again.trainer->run(data);
  EXPECT_EQ(logged_rates(dir + "/log.jsonl"), rates);
  auto no_longer = o;
  no_longer.steps = 30;
  no_longer.extend = true;
  auto refused = make_run(no_longer);
  test::expect_throw_containing<std::invalid_argument>([&] { refused.trainer->resume(dir + "/at30.safetensors"); },
                                                       "--extend: " + dir + "/at30.safetensors is at step 30; --steps 30 must be larger");
}

TEST(Trainer, EveryConditionFieldReachesTheLossWithItsItems) {
  // Each item's condition rows carry its own index, so the loss sees which rows it was given.
  const int64_t n = 50;
  const auto id = torch::arange(n, torch::kFloat32);
  Condition cond{torch::arange(n)};
  cond.vectors = id.unsqueeze(1);
  cond.mask = id.view({n, 1}).expand({n, 3}).contiguous();
  cond.frames = id.view({n, 1, 1});
  cond.independent = torch::arange(n) % 2 == 0;
  torch::nn::Linear net(1, 1);
  int64_t checked = 0;
  TrainLoss loss = [&](const torch::Tensor& x, const Condition& c, at::Generator&) {
    const auto own = x.select(1, 0);
    EXPECT_TRUE(torch::equal(c.labels.to(torch::kFloat32), own));
    EXPECT_TRUE(torch::equal(c.mask.select(1, 2), own));
    EXPECT_TRUE(torch::equal(c.independent, c.labels % 2 == 0));
    // Vectors and frames are dropped to NaN rows at their rates; what stays is the item's own.
    const auto kept = ~torch::isnan(c.vectors.select(1, 0));
    EXPECT_TRUE(torch::equal(c.vectors.select(1, 0).masked_select(kept), own.masked_select(kept)));
    checked += kept.logical_not().sum().item<int64_t>();
    return net->forward(x).pow(2).squeeze(1);
  };
  TrainOptions o = small_options();
  o.steps = 20;
  o.batch = 16;
  o.null_label = -1;
  o.vector_dropout = 0.5;
  Trainer trainer(net.ptr(), loss, Json::object(), o);
  trainer.run({id.unsqueeze(1), cond});
  EXPECT_GT(checked, 0);  // some vectors were dropped
  // A condition with other rows than the data is refused.
  cond.mask = cond.mask.slice(0, 0, 10);
  test::expect_throw_containing([&] { trainer.run({id.unsqueeze(1), cond}, 30); }, "10 condition rows for 50 examples");
}

TEST(Checkpoint, TruncatedOrCorruptFilesAreRefusedNamingTheFile) {
  const auto dir = temp_dir("corrupt");
  auto run = make_run(small_options());
  const auto path = dir + "/ok.safetensors";
  run.trainer->save(path, false);
  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), {});

  const auto truncated = dir + "/truncated.safetensors";
  std::ofstream(truncated, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  try {
    load_checkpoint(truncated);
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(truncated + ": "), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos) << e.what();
  }
  auto garbled = bytes;
  garbled[8] = '#';  // the header's opening brace
  const auto corrupt = dir + "/corrupt.safetensors";
  std::ofstream(corrupt, std::ios::binary) << garbled;
  try {
    load_checkpoint(corrupt);
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(corrupt + ": header is not valid JSON"), std::string::npos) << "message: " << e.what();
  }
  const auto tiny = dir + "/tiny.safetensors";
  std::ofstream(tiny, std::ios::binary) << "abc";
  EXPECT_THROW(load_checkpoint(tiny), std::runtime_error);
}

TEST(Checkpoint, MismatchedConfigIsRefusedNamingTheTensor) {
  const auto dir = temp_dir("mismatch");
  auto run = make_run(small_options());
  run.trainer->save(dir + "/ck.safetensors", false);
  auto recipe = default_toy_recipe();
  recipe["model"]["config"]["hidden"] = 64;
  auto other = make_toy_model(recipe);
  try {
    load_into(*other.net, load_checkpoint(dir + "/ck.safetensors").model, dir + "/ck.safetensors");
    FAIL();
  } catch (const std::runtime_error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("tensor 'hidden0.bias' has shape [128] in the checkpoint but [64] in the model"), std::string::npos) << m;
  }
}

// An independent reading of the safetensors rules: 8-byte little-endian header length, JSON
// header, dtype/shape/data_offsets that tile the data exactly, little-endian values.
TEST(SafeTensors, FileFollowsTheFormatAsAnIndependentParserReadsIt) {
  const auto dir = temp_dir("st");
  SafeTensors st;
  st.tensors["a/weight"] = torch::arange(6, torch::kFloat32).view({2, 3});
  st.tensors["b"] = torch::tensor({1.5, -2.0}, torch::kFloat64);
  st.tensors["c"] = torch::tensor({7, 8, 9}, torch::kInt64);
  st.tensors["d"] = torch::arange(12, torch::kFloat32).view({3, 4}).t();  // not contiguous: written in its logical order
  st.tensors["e"] = torch::zeros({0, 2});
  st.metadata["format"] = "test";
  save_safetensors(dir + "/x.safetensors", st, false);
  std::ifstream in(dir + "/x.safetensors", std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(bytes, safetensors_bytes(st));  // written part by part, the same bytes as made in memory
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t(uint8_t(bytes[size_t(i)])) << (8 * i);
  ASSERT_LE(8 + n, bytes.size());
  const auto header = Json::parse(bytes.substr(8, n));
  EXPECT_EQ(header.at("__metadata__").at("format"), "test");
  const std::map<std::string, size_t> sizes = {{"F32", 4}, {"F64", 8}, {"I64", 8}};
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const auto& [name, e] : header.items()) {
    if (name == "__metadata__") continue;
    uint64_t count = 1;
    for (auto d : e.at("shape")) count *= d.get<uint64_t>();
    const auto off = e.at("data_offsets");
    EXPECT_EQ(off[1].get<uint64_t>() - off[0].get<uint64_t>(), count * sizes.at(e.at("dtype"))) << name;
    ranges.push_back({off[0], off[1]});
  }
  std::sort(ranges.begin(), ranges.end());
  EXPECT_EQ(ranges.front().first, 0u);
  for (size_t i = 1; i < ranges.size(); ++i) EXPECT_EQ(ranges[i].first, ranges[i - 1].second);
  EXPECT_EQ(ranges.back().second, bytes.size() - 8 - n);
  // The float64 values of "b", read byte by byte.
  const auto off = header.at("b").at("data_offsets")[0].get<uint64_t>();
  double v0;
  std::memcpy(&v0, bytes.data() + 8 + n + off, 8);
  EXPECT_EQ(v0, 1.5);
  EXPECT_EQ(header.at("a/weight").at("shape"), Json({2, 3}));
  // And back through diffuse's reader.
  const auto back = load_safetensors(dir + "/x.safetensors");
  for (const auto& [k, t] : st.tensors) EXPECT_TRUE(torch::equal(back.tensors.at(k), t)) << k;
}

// A file is read at its size in one go; a pipe, which has none, as it comes.
TEST(SafeTensors, LoadsFromAPipeAsFromAFile) {
  const auto dir = temp_dir("pipe");
  SafeTensors st;
  st.tensors["a"] = torch::arange(6, torch::kFloat32).view({2, 3});
  st.metadata["k"] = "v";
  const auto bytes = safetensors_bytes(st);
  const auto fifo = dir + "/pipe.safetensors";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  std::thread writer([&] { std::ofstream(fifo, std::ios::binary) << bytes; });
  const auto piped = load_safetensors(fifo);
  writer.join();
  save_safetensors(dir + "/file.safetensors", st, false);
  for (const auto& back : {piped, load_safetensors(dir + "/file.safetensors")}) {
    EXPECT_TRUE(torch::equal(back.tensors.at("a"), st.tensors.at("a")));
    EXPECT_EQ(back.metadata.at("k"), "v");
  }
}

TEST(Trainer, DivergenceStopsWithTheStep) {
  auto run = make_run(small_options());
  TrainData bad = find_modality("toy").dataset({{"n", 64}});
  bad.x[3][0] = NAN;
  TrainOptions o = small_options();
  o.batch = 64;
  auto r = make_run(o);
  try {
    r.trainer->run(bad);
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("training diverged: loss is nan at step 0"), std::string::npos) << e.what();
  }
}

TEST(TrainOptions, BadValuesAreRejected) {
  TrainOptions o;
  o.lr = -1;
  EXPECT_THROW(validate(o), std::invalid_argument);
  o = {};
  o.device = "tpu";
  EXPECT_THROW(validate(o), std::invalid_argument);
  EXPECT_THROW(train_options_from_json(Json{{"stepz", 3}}), std::invalid_argument);
}

}  // namespace
}  // namespace diffuse

namespace diffuse {
namespace {

// models/<name>/recipes.json is the plain-JSON copy of the recipes the shipped files carry
// (scripts/export-recipes.sh): every file is listed, with exactly its recipe.
TEST(ShippedModels, RecipesJsonMatchesTheRecipeInEveryFile) {
  const fs::path models = fs::path(DIFFUSE_SOURCE_DIR) / "models";
  int64_t files = 0;
  for (const auto& dir : fs::directory_iterator(models)) {
    if (!dir.is_directory()) continue;
    const auto listed = Json::parse(read_file((dir.path() / "recipes.json").string()));
    int64_t here = 0;
    for (const auto& f : fs::directory_iterator(dir.path())) {
      if (f.path().extension() != ".safetensors") continue;
      const auto name = f.path().filename().string();
      ASSERT_TRUE(listed.contains(name)) << dir.path() << "/recipes.json lacks " << name << "; run scripts/export-recipes.sh";
      EXPECT_EQ(listed.at(name), load_checkpoint(f.path().string()).recipe) << name << ": run scripts/export-recipes.sh";
      ++here;
    }
    EXPECT_EQ(int64_t(listed.size()), here) << dir.path() << "/recipes.json lists files that are not there";
    files += here;
  }
  EXPECT_GE(files, 9);
}

TEST(Checkpoint, RequireModelNamesWhatTheFileHoldsAndWhatWasExpected) {
  const Json audio = {{"modality", "audio"}, {"model", {{"type", "dit"}}}};
  EXPECT_NO_THROW(require_model(audio, "a.safetensors", "audio", "dit"));
  EXPECT_NO_THROW(require_model({{"model", {{"type", "dit"}}}}, "old.safetensors", "image", "dit"));  // no modality: type alone
  const auto message = [](const Json& recipe, const std::string& modality, const std::string& type) {
    try {
      require_model(recipe, "f.safetensors", modality, type);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(message(audio, "image", "dit"), "f.safetensors: an audio 'dit' model, expected an image 'dit' model");
  EXPECT_EQ(message(audio, "audio", "vocoder"), "f.safetensors: an audio 'dit' model, expected an audio 'vocoder' model");
  EXPECT_EQ(message(Json::object(), "molecule", "graph-dit"),
            "f.safetensors: no model type in its recipe (recipe.model.type), expected a molecule 'graph-dit' model");
  EXPECT_EQ(message(Json::array(), "video", "dit"), "f.safetensors: no model type in its recipe (recipe.model.type), expected a video 'dit' model");
}

}  // namespace
}  // namespace diffuse
