// DiT: sizes against the paper, adaLN-Zero identity, patchify round trip, config JSON, overfitting.
#include "core/dit.h"

#include <torch/torch.h>

#include <filesystem>

#include "core/dit_pipeline.h"
#include "core/objectives.h"
#include "core/train/checkpoint.h"

#include "tests/core/test_util.h"

namespace diffuse {
namespace {

int64_t numel(torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}

// Adds Gaussian noise of standard deviation `scale` to every parameter, so that zero-initialised
// layers (adaLN-Zero, the final layer) let the input through.
void perturb(torch::nn::Module& m, double scale) {
  torch::NoGradGuard g;
  for (auto& p : m.parameters()) p.add_(torch::randn_like(p) * scale);
}

// A tiny space-time DiT: 4 frames of 8 x 8 latents, patch 1x2x2, 96 wide with 4 heads (head size
// 24 = 2 x 3 axes x 4, so rotary positions fit too).
DiTConfig tiny_clip_config() {
  DiTConfig c = dit_preset("dit-tiny/2");
  c.input_size = {4, 8, 8};
  c.patch = {1, 2, 2};
  c.hidden = 96;
  c.heads = 4;
  return c;
}

// The same with 3 classes and factorised attention (spatial and temporal blocks alternating).
DiTConfig tiny_factorized_config() {
  DiTConfig c = tiny_clip_config();
  c.num_classes = 3;
  c.attention = "factorized";
  return c;
}

TEST(DiTPresets, ParameterCountsMatchThePaper) {
  // Peebles & Xie 2023, Table 4 (millions; position embeddings are fixed buffers here).
  EXPECT_NEAR(dit_parameter_count(dit_preset("dit-s/2")) / 1e6, 33.0, 0.5);
  EXPECT_NEAR(dit_parameter_count(dit_preset("dit-b/2")) / 1e6, 130.0, 1.0);
  EXPECT_NEAR(dit_parameter_count(dit_preset("dit-l/2")) / 1e6, 458.0, 1.5);
  EXPECT_NEAR(dit_parameter_count(dit_preset("dit-xl/2")) / 1e6, 675.0, 1.0);
}

TEST(DiTPresets, ForwardGmacsMatchThePaper) {
  // Table 4 "Gflops" (fvcore MACs): S/2 6.06, B/2 23.01, L/2 80.71, XL/2 118.64, XL/4 29.05, XL/8 7.39.
  EXPECT_NEAR(dit_forward_macs(dit_preset("dit-s/2")) / 1e9, 6.06, 0.06);
  EXPECT_NEAR(dit_forward_macs(dit_preset("dit-b/2")) / 1e9, 23.01, 0.23);
  EXPECT_NEAR(dit_forward_macs(dit_preset("dit-l/2")) / 1e9, 80.71, 0.8);
  EXPECT_NEAR(dit_forward_macs(dit_preset("dit-xl/2")) / 1e9, 118.64, 1.2);
  EXPECT_NEAR(dit_forward_macs(dit_preset("dit-xl/4")) / 1e9, 29.05, 0.3);
  EXPECT_NEAR(dit_forward_macs(dit_preset("dit-xl/8")) / 1e9, 7.39, 0.1);
}

TEST(DiTPresets, AnalyticCountEqualsTheBuiltModule) {
  for (const char* name : {"dit-s/2", "dit-s/8", "dit-tiny/2", "dit-mini/4"}) {
    DiT m(dit_preset(name));
    EXPECT_EQ(numel(*m), dit_parameter_count(dit_preset(name))) << name;
  }
  DiTConfig c = tiny_clip_config();
  c.cond_dim = 3;
  c.attention = "factorized";
  DiT m(c);
  EXPECT_EQ(numel(*m), dit_parameter_count(c));
}

TEST(DiTBlock, AdaLnZeroBlockIsIdentityAtInit) {
  DiTBlock b(64, 4, 4.0, 1024);
  const auto x = torch::randn({2, 10, 64}), c = torch::randn({2, 64});
  EXPECT_EQ(test::max_abs(b->forward(x, c), x), 0.0);
  EXPECT_EQ(test::max_abs(b->forward(x, c, 2, TokenMix::kAcrossFrames), x), 0.0);
  EXPECT_EQ(test::max_abs(b->forward(x, c, 2, TokenMix::kSpaceTime), x), 0.0);
}

// Which tokens reach which: 2 frames x 5 positions. A change at (frame 1, position 3) reaches
// (frame 0, position 0) only through a space-time block; across-frame attention reaches
// (frame 0, position 3) and within-frame attention (frame 1, *) only.
TEST(DiTBlock, TokenMixesReachTheTokensTheyName) {
  torch::manual_seed(4);
  DiTBlock b(32, 4, 4.0, 1024);
  perturb(*b, 0.1);
  const auto x = torch::randn({1, 10, 32}), c = torch::randn({1, 32});
  auto x2 = x.clone();
  x2[0][5 + 3].add_(torch::randn({32}));  // not a constant: layer norm would remove that
  const auto changed = [&](TokenMix mix, int64_t frame, int64_t pos) {
    return test::max_abs(b->forward(x2, c, 2, mix)[0][frame * 5 + pos], b->forward(x, c, 2, mix)[0][frame * 5 + pos]) > 1e-4;
  };
  EXPECT_TRUE(changed(TokenMix::kSpaceTime, 0, 0));
  EXPECT_TRUE(changed(TokenMix::kAll, 0, 0));
  EXPECT_FALSE(changed(TokenMix::kAcrossFrames, 0, 0));
  EXPECT_TRUE(changed(TokenMix::kAcrossFrames, 0, 3));
  EXPECT_FALSE(changed(TokenMix::kWithinFrames, 0, 3));
  EXPECT_TRUE(changed(TokenMix::kWithinFrames, 1, 0));
  // Without rotary tables a space-time block is a full-attention block.
  EXPECT_LE(test::max_abs(b->forward(x, c, 2, TokenMix::kSpaceTime), b->forward(x, c, 1, TokenMix::kAll)), 1e-6);
}

// Cross-frame attention to the first frame, 3 frames x 4 positions: frame 0 is computed as with
// within-frame attention (its extra keys are its own); frame 2 sees its own and frame 0's tokens,
// never frame 1's; and it is attention over exactly those 8 keys, checked against a hand-written one.
TEST(DiTBlock, AnchorFrameAttendsToItsFrameAndTheFirst) {
  torch::manual_seed(5);
  DiTBlock b(32, 4, 4.0, 1024);
  perturb(*b, 0.1);
  const auto x = torch::randn({2, 12, 32}), c = torch::randn({2, 32});
  const auto anchored = b->forward(x, c, 3, TokenMix::kWithinFramesAndFirst);
  const auto plain = b->forward(x, c, 3, TokenMix::kWithinFrames);
  EXPECT_LE(test::max_abs(anchored.slice(1, 0, 4), plain.slice(1, 0, 4)), 1e-5);
  EXPECT_GT(test::max_abs(anchored.slice(1, 4), plain.slice(1, 4)), 1e-3);
  const auto reaches = [&](int64_t from_frame, int64_t to_frame) {
    auto x2 = x.clone();
    x2.slice(1, from_frame * 4, from_frame * 4 + 4).add_(torch::randn({2, 4, 32}));
    const auto out = b->forward(x2, c, 3, TokenMix::kWithinFramesAndFirst);
    return test::max_abs(out.slice(1, to_frame * 4, to_frame * 4 + 4), anchored.slice(1, to_frame * 4, to_frame * 4 + 4)) > 1e-4;
  };
  EXPECT_TRUE(reaches(0, 2));
  EXPECT_FALSE(reaches(1, 2));
  EXPECT_FALSE(reaches(2, 0));
  // With rotary positions (frames x positions) frame 0 is still its within-frame self, and the
  // other frames differ from theirs.
  const auto rope = rope_table(8, {3, 4}, 10000.0);
  const auto anchored_rope = b->forward(x, c, 3, TokenMix::kWithinFramesAndFirst, rope);
  const auto plain_rope = b->forward(x, c, 3, TokenMix::kWithinFrames, rope);
  EXPECT_LE(test::max_abs(anchored_rope.slice(1, 0, 4), plain_rope.slice(1, 0, 4)), 1e-5);
  EXPECT_GT(test::max_abs(anchored_rope.slice(1, 4), plain_rope.slice(1, 4)), 1e-3);
  EXPECT_GT(test::max_abs(plain_rope, plain), 1e-3);  // the positions are in use
  // Frame 2 of item 1 as a one-frame sequence of its 4 tokens followed by frame 0's 4 tokens,
  // with queries only from its own: the adaLN-modulated attention written out, each token rotated
  // at its own (frame, position) under rotary positions.
  torch::NoGradGuard g;
  const auto& p = b->named_parameters();
  const auto m = torch::linear(torch::silu(c), p["adaLN.weight"], p["adaLN.bias"]).chunk(6, 1);
  const auto h = torch::layer_norm(x[1], {32}, {}, {}, 1e-6) * (1 + m[1][1]) + m[0][1];  // (12, 32)
  const auto qkv = torch::linear(h, p["qkv.weight"], p["qkv.bias"]).view({12, 3, 4, 8});
  const auto queries = torch::arange(8, 12), keys = torch::cat({torch::arange(8, 12), torch::arange(0, 4)});
  for (const Rope& r : {Rope{}, rope}) {
    auto q = qkv.select(1, 0).index_select(0, queries).transpose(0, 1);  // (4 heads, 4, 8)
    auto k = qkv.select(1, 1).index_select(0, keys).transpose(0, 1);
    const auto v = qkv.select(1, 2).index_select(0, keys).transpose(0, 1);
    if (r.defined()) {
      q = apply_rope(q, r.cos.index_select(0, queries), r.sin.index_select(0, queries), r);
      k = apply_rope(k, r.cos.index_select(0, keys), r.sin.index_select(0, keys), r);
    }
    const auto o = torch::softmax(q.matmul(k.transpose(1, 2)) / std::sqrt(8.0), -1).matmul(v).transpose(0, 1).reshape({4, 32});
    const auto y = x[1].slice(0, 8, 12) + m[2][1] * torch::linear(o, p["proj.weight"], p["proj.bias"]);
    const auto n2 = torch::layer_norm(y, {32}, {}, {}, 1e-6) * (1 + m[4][1]) + m[3][1];
    const auto mlp = torch::linear(torch::gelu(torch::linear(n2, p["fc1.weight"], p["fc1.bias"]), "tanh"), p["fc2.weight"], p["fc2.bias"]);
    EXPECT_LE(test::max_abs(y + m[5][1] * mlp, (r.defined() ? anchored_rope : anchored)[1].slice(0, 8, 12)), 1e-4) << r.defined();
  }
}

TEST(DiT, OutputIsZeroAtInitAndShapedLikeTheInput) {
  for (auto grid : std::vector<std::vector<int64_t>>{{16}, {8, 8}, {4, 8, 8}}) {
    DiTConfig c = dit_preset("dit-tiny/2");
    c.input_size = grid;
    c.patch = std::vector<int64_t>(grid.size(), 2);
    c.hidden = 96;
    c.heads = 4;
    c.learn_sigma = true;
    DiT m(c);
    std::vector<int64_t> shape = {3, 4};
    shape.insert(shape.end(), grid.begin(), grid.end());
    const auto x = torch::randn(shape);
    const auto out = m->forward(x, torch::tensor({1.0, 500.0, 999.0}), torch::tensor({0, 3, 10}));
    shape[1] = 8;
    EXPECT_EQ(out.sizes().vec(), shape);
    EXPECT_EQ(out.abs().max().item<float>(), 0.0f);  // zero-initialised final layer
  }
}

TEST(DiT, PatchifyRoundTrips) {
  DiTConfig c = dit_preset("dit-tiny/2");
  c.learn_sigma = false;
  c.input_size = {4, 8, 6};
  c.patch = {2, 4, 3};
  c.hidden = 96;
  c.heads = 4;
  DiT m(c);
  const auto x = torch::randn({2, 4, 4, 8, 6});
  // unpatchify reads patches in (p..., C) order, patchify writes (C, p...): compare via a permute.
  const auto p = m->patchify(x);  // (N, T, C * P)
  const auto P = c.patch_dim();
  const auto reordered = p.view({2, c.tokens(), 4, P}).transpose(2, 3).reshape({2, c.tokens(), P * 4});
  EXPECT_EQ(test::max_abs(m->unpatchify(reordered), x), 0.0);
}

TEST(DiTConfig, JsonRoundTripsAndRejectsUnknownKeys) {
  DiTConfig c = dit_preset("dit-b/4");
  c.cond_dim = 5;
  const auto back = dit_config_from_json(to_json(c));
  EXPECT_EQ(to_json(back), to_json(c));
  // anchor_frame: off when absent (older checkpoints), and only with frames to anchor to.
  EXPECT_FALSE(back.anchor_frame);
  DiTConfig clip = tiny_clip_config();
  clip.attention = "factorized";
  clip.anchor_frame = true;
  EXPECT_TRUE(dit_config_from_json(to_json(clip)).anchor_frame);
  clip.attention = "full";
  try {
    clip.validate();
    ADD_FAILURE() << "anchor_frame with full attention";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("anchor_frame needs factorized or hybrid attention"), std::string::npos) << e.what();
  }
  try {
    dit_config_from_json(Json{{"hiden", 3}});
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("unknown key 'hiden'"), std::string::npos);
  }
  EXPECT_THROW(dit_config_from_json(Json{{"hidden", 100}, {"heads", 3}}), std::invalid_argument);
  EXPECT_THROW(dit_preset("dit-xxl/2"), std::invalid_argument);
}

TEST(DiT, TinyModelOverfitsABatchOfEightImages) {
  torch::manual_seed(0);
  DiTConfig c = dit_preset("dit-tiny/2");
  DiT m(c);
  const auto x = torch::randn({8, 4, 8, 8});
  const auto t = torch::full({8}, 300.0);
  const auto labels = torch::arange(8) % 10;
  const auto target = torch::randn({8, 4, 8, 8});
  torch::optim::AdamW opt(m->parameters(), torch::optim::AdamWOptions(1e-3).weight_decay(0.0));
  double first = 0, last = 0;
  for (int step = 0; step < 150; ++step) {
    opt.zero_grad();
    const auto loss = (m->forward(x, t, labels) - target).pow(2).mean();
    loss.backward();
    opt.step();
    if (step == 0) first = loss.item<double>();
    last = loss.item<double>();
  }
  EXPECT_LT(last, 0.2 * first) << "first " << first << " last " << last;
}

TEST(Attention, ChunkedEqualsUnchunked) {
  const auto q = torch::randn({2, 3, 50, 8}), k = torch::randn({2, 3, 50, 8}), v = torch::randn({2, 3, 50, 8});
  EXPECT_LE(test::max_abs(attention(q, k, v, 7), attention(q, k, v, 0)), 1e-5);
}

}  // namespace
}  // namespace diffuse

namespace diffuse {
namespace {

TEST(Rope, RotationPreservesNormsAndDependsOnlyOnRelativePosition) {
  const auto r = rope_table(12, {10});
  const auto q = torch::randn({1, 1, 1, 12}).expand({1, 1, 10, 12}).contiguous();
  const auto k = torch::randn({1, 1, 1, 12}).expand({1, 1, 10, 12}).contiguous();
  const auto qr = apply_rope(q, r.cos, r.sin, r), kr = apply_rope(k, r.cos, r.sin, r);
  EXPECT_LE(test::max_abs(qr.norm(2, -1), q.norm(2, -1)), 1e-5);
  const auto s = torch::matmul(qr, kr.transpose(-2, -1))[0][0];  // (10, 10): depends on i - j only
  EXPECT_NEAR(s[2][5].item<float>(), s[4][7].item<float>(), 1e-4);
  EXPECT_NEAR(s[7][1].item<float>(), s[9][3].item<float>(), 1e-4);
}

TEST(DiT, RopeVariantsBuildRunAndValidate) {
  for (const char* attention : {"full", "factorized", "hybrid"}) {
    DiTConfig c = tiny_clip_config();
    c.position = "rope";
    c.attention = attention;
    DiT m(c);
    EXPECT_EQ(numel(*m), dit_parameter_count(c)) << attention;
    const auto x = torch::randn({2, 4, 4, 8, 8});
    const auto out = m->forward(x, torch::tensor({5.0, 50.0}));
    EXPECT_EQ(out.sizes(), x.sizes());
    EXPECT_FALSE(m->named_buffers().contains("pos_embed"));  // positions enter through attention only
    c.position = "sincos+rope";  // both: the same parameters, absolute positions on the tokens as well
    DiT both(c);
    EXPECT_EQ(numel(*both), dit_parameter_count(c)) << attention;
    EXPECT_TRUE(both->named_buffers().contains("pos_embed"));
    torch::manual_seed(1);
    perturb(*both, 0.05);
    const auto with_sincos = both->forward(x, torch::tensor({5.0, 50.0}));
    both->named_buffers()["pos_embed"].zero_();  // the absolute positions do reach the output
    EXPECT_GT(test::max_abs(with_sincos, both->forward(x, torch::tensor({5.0, 50.0}))), 1e-4) << attention;
  }
  DiTConfig bad = dit_preset("dit-tiny/2");
  bad.position = "alibi";
  EXPECT_THROW(bad.validate(), std::invalid_argument);
}

// Joint image-video training: an item flagged independent is a stack of unrelated frames, so
// each output frame depends on its own input frame only; unflagged items in the same batch are
// computed exactly as without flags. Factorised and hybrid models alike.
TEST(DiT, IndependentFramesAttendOnlyToThemselves) {
  for (const std::string position : {"sincos", "rope"})
  for (const std::string attention : {"factorized", "hybrid", "factorized+anchor"}) {
    SCOPED_TRACE(position + " " + attention);
    torch::manual_seed(3);
    DiTConfig c = tiny_clip_config();
    c.num_classes = 3;
    c.position = position;
    c.attention = attention.substr(0, attention.find('+'));
    c.anchor_frame = attention.find("anchor") != std::string::npos;
    DiT m(c);
    perturb(*m, 0.05);  // the final layer starts at zero
    auto x = torch::randn({3, 4, 4, 8, 8});
    const auto t = torch::tensor({5.0, 50.0, 500.0}), y = torch::tensor({0, 1, 2});
    const auto flags = torch::tensor({false, true, false});
    const auto mixed = m->forward(x, t, y, {}, flags), plain = m->forward(x, t, y);
    EXPECT_LE(test::max_abs(mixed.select(0, 0), plain.select(0, 0)), 1e-5) << position;
    EXPECT_LE(test::max_abs(mixed.select(0, 2), plain.select(0, 2)), 1e-5) << position;
    EXPECT_GT(test::max_abs(mixed.select(0, 1), plain.select(0, 1)), 1e-3) << position;  // item 1 did change
    // Changing frame 3 leaves frames 0-2 of the flagged item alone, but not of an unflagged one.
    auto x2 = x.clone();
    x2.select(2, 3).add_(1.0);
    const auto mixed2 = m->forward(x2, t, y, {}, flags);
    EXPECT_LE(test::max_abs(mixed2[1].slice(1, 0, 3), mixed[1].slice(1, 0, 3)), 1e-5) << position;
    EXPECT_GT(test::max_abs(mixed2[0].slice(1, 0, 3), mixed[0].slice(1, 0, 3)), 1e-3) << position;
    EXPECT_GT(test::max_abs(mixed2[1].select(1, 3), mixed[1].select(1, 3)), 1e-3) << position;
    // All flagged, one item: the same as every item flagged in a batch.
    const auto alone = m->forward(x.slice(0, 1, 2), t.slice(0, 1, 2), y.slice(0, 1, 2), {}, torch::tensor({true}));
    EXPECT_LE(test::max_abs(alone[0], mixed[1]), 1e-5) << position;
  }
  DiTConfig full = dit_preset("dit-tiny/2");
  DiT m(full);
  EXPECT_THROW(m->forward(torch::randn({1, 4, 8, 8}), torch::tensor({1.0}), {}, {}, torch::tensor({true})), c10::Error);
}

// Temporal guidance: D + s (D - D_apart), where D_apart is the same EDM denoiser with every item's
// frames kept apart; s = 0 is the plain denoiser, and a model without temporal blocks refuses it.
TEST(DiT, TemporalGuidanceExtrapolatesAwayFromFramesKeptApart) {
  torch::manual_seed(4);
  const DiTConfig c = tiny_factorized_config();
  DiT m(c);
  perturb(*m, 0.05);
  torch::NoGradGuard g;
  const auto x = torch::randn({2, 4, 4, 8, 8}) * 1.5;
  const double sigma = 1.5, sigma_data = 0.5;
  Condition cond;
  cond.labels = torch::tensor({0, 2});
  const auto s = torch::tensor(sigma, torch::kFloat64);
  const auto plain = dit_denoiser(m, sigma_data)(x, s, cond);
  EXPECT_LE(test::max_abs(dit_denoiser(m, sigma_data, 0.0)(x, s, cond), plain), 1e-6);
  const auto k = edm_coefficients(sigma, sigma_data);
  const auto f_apart = m->forward(x * k.c_in, torch::full({2}, k.c_noise), cond.labels, {}, torch::ones({2}, torch::kBool));
  const auto apart = x * k.c_skip + f_apart * k.c_out;
  ASSERT_GT(test::max_abs(plain, apart), 1e-3);  // the temporal blocks matter in this model
  const auto guided = dit_denoiser(m, sigma_data, 2.0)(x, s, cond);
  EXPECT_LE(test::max_abs(guided, plain + 2.0 * (plain - apart)), 1e-4);
  // Each item's result does not depend on the rest of the batch.
  Condition first;
  first.labels = cond.labels.slice(0, 0, 1);
  EXPECT_LE(test::max_abs(dit_denoiser(m, sigma_data, 2.0)(x.slice(0, 0, 1), s, first)[0], guided[0]), 1e-5);
  try {
    dit_denoiser(DiT(dit_preset("dit-tiny/2")), sigma_data, 1.0);
    ADD_FAILURE() << "an image DiT accepted temporal guidance";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("--temporal-guidance 1"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("factorised or hybrid"), std::string::npos) << e.what();
  }
}

// base's weights saved as d/base.safetensors (d made anew) with an EDM recipe, which it returns:
// the model an --init fine-tune starts from.
// A one-step fine-tune of DIR/base.safetensors into DIR/ft at a learning rate of 1e-12: it
// changes no weight measurably, so the result computes what its start does.
TrainArgs one_step_fine_tune(const std::string& dir, int64_t batch) {
  TrainArgs a;
  a.out = dir + "/ft";
  a.init = dir + "/base.safetensors";
  a.steps = 1;
  a.batch = batch;
  a.lr = 1e-12;
  a.warmup = 0;
  return a;
}

Json save_base_model(DiT& base, const std::string& d) {
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  ObjectiveOptions o;
  o.kind = ModelKind::kEdm;
  o.sampling = SigmaSampling::kLogNormal;
  o.weighting = LossWeighting::kEdm;
  Checkpoint ck;
  ck.recipe = {{"model", {{"type", "dit"}, {"config", to_json(base->config())}}}, {"objective", to_json(o)}};
  ck.model = state_of(*base);
  save_checkpoint(d + "/base.safetensors", ck, true);
  return ck.recipe;
}

// A first-frame context (channel-concatenated, broadcast over the frames) and a sinusoidal rate
// embedding added by --init: the fine-tune starts from exactly the trained model's outputs, and
// once trained the context reaches every frame and only its own item.
TEST(DiT, InitAddsAContextAndASinusoidalVectorStartingFromTheModelsOutputs) {
  torch::manual_seed(6);
  const DiTConfig c = tiny_factorized_config();
  DiT base(c);
  perturb(*base, 0.05);
  const std::string d = "/tmp/diffuse_dit_init_context";
  Json recipe = save_base_model(base, d);
  recipe["model"]["config"]["cond_dim"] = 1;
  recipe["model"]["config"]["vector_embedding"] = "sinusoidal";
  recipe["model"]["config"]["context_channels"] = 4;
  const auto x = torch::randn({4, 4, 4, 8, 8});
  Condition cond{torch::tensor({0, 1, 2, 0}), torch::randn({4, 1})};
  cond.context = x.slice(2, 0, 1).clone();
  train_dit(one_step_fine_tune(d, 4), recipe, {x, cond}, Json{{"context_noise_std", 0.5}});
  const auto ft = load_checkpoint(d + "/ft/checkpoint.safetensors");
  EXPECT_EQ(ft.model.at("x_embed.weight").size(1), 8 * 4);  // (4 + 4 context channels) x patch 1x2x2
  DiTConfig c1 = dit_config_from_json(recipe["model"]["config"]);
  DiT tuned(c1);
  load_for_inference(*tuned, ft, "ft");
  base->eval();
  torch::NoGradGuard g;
  const auto t = torch::tensor({1.0, 10.0, 100.0, 500.0});
  const auto ctx = torch::randn({4, 4, 1, 8, 8});
  const auto level = torch::tensor({0.02f, 0.1f, 0.5f, 1.0f});
  EXPECT_LE(test::max_abs(tuned->forward(x, t, cond.labels, cond.vectors * 3, {}, ctx, level), base->forward(x, t, cond.labels)), 1e-5);
  // Trained (here: perturbed), the context changes every frame's output, a broadcast context is
  // the same as its copy on every frame, and item i's context changes only item i.
  perturb(*tuned, 0.05);
  const auto out = tuned->forward(x, t, cond.labels, cond.vectors, {}, ctx, level);
  EXPECT_LE(test::max_abs(out, tuned->forward(x, t, cond.labels, cond.vectors, {}, ctx.expand({4, 4, 4, 8, 8}).contiguous(), level)), 1e-5);
  auto other = ctx.clone();
  other[1].normal_();
  const auto moved = (tuned->forward(x, t, cond.labels, cond.vectors, {}, other, level) - out).abs().flatten(3).amax(3);  // (N, C, T)
  EXPECT_GT(moved[1].amin().item<double>(), 1e-4);  // every frame and channel of item 1
  EXPECT_LE(moved.index_select(0, torch::tensor({0, 2, 3})).max().item<double>(), 1e-5);
  // The level and the rate are conditions too; a null (NaN) rate is the learned null vector.
  EXPECT_GT(test::max_abs(out, tuned->forward(x, t, cond.labels, cond.vectors, {}, ctx, level * 4)), 1e-4);
  EXPECT_GT(test::max_abs(out, tuned->forward(x, t, cond.labels, cond.vectors + 1, {}, ctx, level)), 1e-4);
  EXPECT_LE(test::max_abs(tuned->forward(x, t, cond.labels, {}, {}, ctx, level),
                          tuned->forward(x, t, cond.labels, torch::full({4, 1}, NAN), {}, ctx, level)), 1e-6);
  EXPECT_EQ(numel(*tuned), dit_parameter_count(c1));
}

// The context as a clean frame of its own (the first frame's tokens as keys and values in every
// block): counted, shaped like the input, and a path of its own: with the context's columns of the
// patch embedding at zero, item i's context still changes every frame of item i and nothing else,
// where without the frame it changes nothing. Refused without a context or with full attention.
TEST(DiT, ContextFrameReachesEveryFrameThroughItsOwnTokens) {
  torch::manual_seed(7);
  DiTConfig c = tiny_factorized_config();
  c.context_channels = 4;
  c.anchor_frame = true;
  const auto x = torch::randn({3, 4, 4, 8, 8}), t = torch::tensor({1.0, 10.0, 100.0});
  const auto labels = torch::tensor({0, 1, 2}), level = torch::tensor({0.02f, 0.02f, 0.5f});
  const auto ctx = torch::randn({3, 4, 1, 8, 8});
  auto other = ctx.clone();
  other[1].normal_();
  for (const char* position : {"sincos", "rope"}) {
    for (const bool frame : {false, true}) {
      c.position = position;
      c.context_frame = frame;
      DiT m(c);
      EXPECT_EQ(numel(*m), dit_parameter_count(c)) << position << frame;
      perturb(*m, 0.05);
      torch::NoGradGuard g;
      m->named_parameters()["x_embed.weight"].slice(1, 4 * 4).zero_();
      const auto out = m->forward(x, t, labels, {}, {}, ctx, level);
      EXPECT_EQ(out.sizes(), x.sizes());
      const auto moved = (m->forward(x, t, labels, {}, {}, other, level) - out).abs().flatten(3).amax(3);  // (N, C, T)
      if (frame) {
        EXPECT_GT(moved[1].amin().item<double>(), 1e-4) << position;  // every frame and channel of item 1
      } else {
        EXPECT_LE(moved[1].amax().item<double>(), 1e-6) << position;
      }
      EXPECT_LE(moved.index_select(0, torch::tensor({0, 2})).max().item<double>(), 1e-5) << position << frame;
    }
  }
  // It costs about one more frame (of 4) in every block, and its own embedding.
  DiTConfig without = c;
  without.context_frame = false;
  EXPECT_GT(dit_forward_macs(c) / dit_forward_macs(without), 1.15);
  EXPECT_LT(dit_forward_macs(c) / dit_forward_macs(without), 1.3);
  EXPECT_EQ(dit_config_from_json(to_json(c)).context_frame, true);
  c.context_channels = 0;
  EXPECT_THROW(c.validate(), std::invalid_argument);
  c.context_channels = 4;
  c.attention = "full";
  c.anchor_frame = false;
  EXPECT_THROW(c.validate(), std::invalid_argument);
}

// train_dit with args.init: a new run from a trained model's weights, where a condition vector
// the model lacked (here a frame rate) starts at zero, so the fine-tune starts from exactly the
// trained model's outputs, and its projection is trained from there.
TEST(DiT, InitStartsAFineTuneWhereANewConditionVectorStartsAtZero) {
  torch::manual_seed(5);
  const DiTConfig c = tiny_factorized_config();
  DiT base(c);
  perturb(*base, 0.05);
  const std::string d = "/tmp/diffuse_dit_init";
  const Json base_recipe = save_base_model(base, d);
  Json recipe = base_recipe;
  recipe["model"]["config"]["cond_dim"] = 1;
  const auto x = torch::randn({4, 4, 4, 8, 8});
  const auto y = torch::tensor({0, 1, 2, 0}), v = torch::randn({4, 1});
  const auto run = [&](const std::string& out, const std::string& resume = "") {
    TrainArgs a = one_step_fine_tune(d, 4);
    a.out = d + "/" + out;
    a.resume = resume;
    return a;
  };
  train_dit(run("ft"), recipe, {x, Condition{y, v}}, Json::object());
  const auto ft = load_checkpoint(d + "/ft/checkpoint.safetensors");
  EXPECT_EQ(ft.step, 1);  // a new run, not the base model's step
  EXPECT_GT(ft.model.at("v_proj.weight").abs().max().item<double>(), 0.0);  // the new projection is trained
  DiTConfig c1 = c;
  c1.cond_dim = 1;
  DiT tuned(c1);
  load_for_inference(*tuned, ft, "ft");
  base->eval();
  torch::NoGradGuard g;
  const auto t = torch::tensor({1.0, 10.0, 100.0, 500.0});
  EXPECT_LE(test::max_abs(tuned->forward(x, t, y, v * 3), base->forward(x, t, y)), 1e-5);
  // The denoiser hands the condition's vectors to the network, with and without temporal guidance.
  tuned->named_parameters()["v_proj.weight"].fill_(0.5);
  for (const double guidance : {0.0, 1.0}) {
    Condition slow, fast;
    slow.labels = fast.labels = y;
    slow.vectors = torch::full({4, 1}, -1.0);
    fast.vectors = torch::full({4, 1}, 1.0);
    const auto s = torch::tensor(2.0, torch::kFloat64);
    const auto den = dit_denoiser(tuned, 1.0, guidance);
    EXPECT_GT(test::max_abs(den(x, s, slow), den(x, s, fast)), 1e-3) << guidance;
  }
  // Any other missing tensor still refuses, naming it (first-frame tokens need their own patch
  // embedding); and a run cannot both resume and start from a model.
  DiTConfig tokens = c;
  tokens.context_channels = c.in_channels;
  tokens.context_frame = true;
  recipe["model"]["config"] = to_json(tokens);
  try {
    train_dit(run("tokens"), recipe, {x, {y}}, Json::object());
    ADD_FAILURE() << "a model with first-frame tokens started from one without";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("lacks tensor 'context_frame_embed."), std::string::npos) << e.what();
  }
  EXPECT_THROW(train_dit(run("both", d + "/ft/checkpoint.safetensors"), base_recipe, {x, {y}}, Json::object()), std::invalid_argument);
}

// Depth up-scaling (train video --init M --depth D): the trained blocks spread over the new depth in
// spatial-temporal pairs, the new ones copies with closed gates, so the deeper model computes what
// the trained one did; a fine-tune through train_dit starts there and trains the new blocks.
TEST(DiT, DeepenedModelStartsFromTheTrainedOnesOutputs) {
  torch::manual_seed(7);
  DiTConfig c = tiny_factorized_config();
  c.depth = 4;
  c.anchor_frame = true;
  DiT base(c);
  perturb(*base, 0.05);  // open gates everywhere
  base->eval();
  const auto x = torch::randn({2, 4, 4, 8, 8});
  const auto t = torch::tensor({3.0, 300.0});
  const auto y = torch::tensor({0, 2});
  torch::Tensor want;
  {
    torch::NoGradGuard g;
    want = base->forward(x, t, y);
  }
  for (const int64_t depth : {6, 8, 10}) {
    torch::NoGradGuard g;
    DiTConfig d = c;
    d.depth = depth;
    const auto w = deepen_dit(state_of(*base), d, c.depth);
    DiT deep(d);
    load_into(*deep, w, "deepened");
    deep->eval();
    EXPECT_LE(test::max_abs(deep->forward(x, t, y), want), 1e-5) << depth;
    // 4 -> 10: trained pairs 0 and 1 at new pairs 0 and 4; pairs 1-3 copy pair 0 with closed gates.
    if (depth == 10) {
      const int64_t D = c.hidden;
      EXPECT_TRUE(torch::equal(w.at("blocks.8.qkv.weight"), state_of(*base).at("blocks.2.qkv.weight")));  // temporal pair member
      EXPECT_TRUE(torch::equal(w.at("blocks.9.fc2.weight"), state_of(*base).at("blocks.3.fc2.weight")));
      for (const int64_t b : {2, 3, 4, 5, 6, 7}) {
        const auto& ada = w.at("blocks." + std::to_string(b) + ".adaLN.weight");
        EXPECT_EQ(ada.slice(0, 2 * D, 3 * D).abs().max().item<double>(), 0.0) << b;
        EXPECT_EQ(ada.slice(0, 5 * D, 6 * D).abs().max().item<double>(), 0.0) << b;
        EXPECT_TRUE(torch::equal(ada.slice(0, 0, 2 * D), state_of(*base).at("blocks." + std::to_string(b % 2) + ".adaLN.weight").slice(0, 0, 2 * D)));
      }
    }
  }
  DiTConfig odd = c;
  odd.depth = 7;  // would split a pair
  EXPECT_THROW(deepen_dit(state_of(*base), odd, c.depth), std::invalid_argument);
  EXPECT_THROW(deepen_dit(state_of(*base), c, c.depth), std::invalid_argument);  // not deeper
  // Through train_dit's --init: a 4-block model fine-tuned as 6 blocks starts from its outputs
  // (learning rate 1e-12) and names the growth.
  const std::string dir = "/tmp/diffuse_dit_deepen";
  Json recipe = save_base_model(base, dir);
  DiTConfig d = c;
  d.depth = 6;
  recipe["model"]["config"] = to_json(d);
  train_dit(one_step_fine_tune(dir, 2), recipe, {x, {y}}, Json::object());
  torch::NoGradGuard g;
  DiT tuned(d);
  load_for_inference(*tuned, load_checkpoint(dir + "/ft/checkpoint.safetensors"), "ft");
  EXPECT_LE(test::max_abs(tuned->forward(x, t, y), want), 1e-4);
}

}  // namespace
}  // namespace diffuse
