// The DiT backbone, its presets and its analytic cost.
#include "core/dit.h"

#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <numeric>
#include <stdexcept>

namespace diffuse {

// The context enters the patch embedding with a gain. A fine-tune's context columns start at zero
// (it starts from the model's outputs), and with Adam each weight moves about as far per step
// whatever its input's scale, so the gain is that many times the learning rate of this new path.
// At 1, a video fine-tune's context columns reached a norm of 0.06 in 2,500 steps (the input's:
// 1.5). A new model's context columns start at 1/gain of the Xavier draw, so the context and the
// input enter at the same scale.
constexpr double kContextGain = 8.0;

// ---- config ------------------------------------------------------------------------------------

int64_t DiTConfig::patch_dim() const {
  return std::accumulate(patch.begin(), patch.end(), int64_t(1), std::multiplies<int64_t>());
}

int64_t DiTConfig::tokens() const {
  int64_t t = 1;
  for (size_t i = 0; i < input_size.size(); ++i) t *= input_size[i] / patch[i];
  return t;
}

namespace {
constexpr int64_t kMaxDiTSize = 65536;
}  // namespace

void DiTConfig::validate() const {
  auto fail = [](const std::string& m) { throw std::invalid_argument("DiT config: " + m); };
  if (input_size.empty() || input_size.size() > 3) fail("input_size must have 1, 2 or 3 axes");
  if (patch.size() != input_size.size()) fail("patch must have one entry per input_size axis");
  for (size_t i = 0; i < patch.size(); ++i) {
    if (patch[i] < 1 || input_size[i] < 1 || input_size[i] % patch[i] != 0) {
      fail("input_size[" + std::to_string(i) + "]=" + std::to_string(input_size[i]) + " is not a multiple of patch " +
           std::to_string(patch[i]));
    }
  }
  if (in_channels < 1 || depth < 1 || heads < 1 || hidden < 1) fail("in_channels, depth, heads and hidden must be >= 1");
  // Bounds far past any real DiT (XL: hidden 1152, depth 28) that keep every count in 64 bits.
  const std::pair<const char*, int64_t> limits[] = {{"hidden", hidden}, {"depth", depth}, {"heads", heads}, {"in_channels", in_channels}};
  for (const auto& [name, v] : limits) {
    if (v > kMaxDiTSize) fail(std::string(name) + " " + std::to_string(v) + " is above the limit of " + std::to_string(kMaxDiTSize));
  }
  for (size_t i = 0; i < input_size.size(); ++i) {
    if (input_size[i] > kMaxDiTSize) fail("input_size[" + std::to_string(i) + "]=" + std::to_string(input_size[i]) + " is above the limit of " + std::to_string(kMaxDiTSize));
  }
  if (!(mlp_ratio <= 64)) fail("mlp_ratio must be at most 64");
  if (hidden % heads != 0) fail("hidden " + std::to_string(hidden) + " is not divisible by heads " + std::to_string(heads));
  if (hidden % (2 * int64_t(input_size.size())) != 0) fail("hidden must be divisible by 2 x the number of axes");
  if (attention != "full" && attention != "factorized" && attention != "hybrid") {
    fail("attention must be 'full', 'factorized' or 'hybrid', got '" + attention + "'");
  }
  if (attention != "full" && input_size.size() != 3) fail(attention + " attention needs a 3-D (T, H, W) input");
  if (anchor_frame && attention == "full") fail("anchor_frame needs factorized or hybrid attention");
  if (position != "sincos" && position != "rope" && position != "sincos+rope") {
    fail("position must be 'sincos', 'rope' or 'sincos+rope', got '" + position + "'");
  }
  if (position != "sincos" && (hidden / heads) % (2 * int64_t(input_size.size())) != 0) {
    fail("rope needs the head size (hidden / heads) divisible by 2 x the number of axes");
  }
  if (num_classes < 0 || cond_dim < 0 || !(mlp_ratio > 0)) fail("num_classes, cond_dim must be >= 0 and mlp_ratio > 0");
  if (vector_embedding != "linear" && vector_embedding != "sinusoidal") {
    fail("vector_embedding must be 'linear' or 'sinusoidal', got '" + vector_embedding + "'");
  }
  if (context_channels < 0 || context_channels > kMaxDiTSize) fail("context_channels must be in [0, " + std::to_string(kMaxDiTSize) + "]");
  if (context_frame && (context_channels == 0 || attention == "full")) fail("context_frame needs context_channels and factorized or hybrid attention");
}

namespace {
const auto kDiTFields = [](auto& c, auto&& f) {
  f("input_size", c.input_size); f("patch", c.patch); f("in_channels", c.in_channels); f("learn_sigma", c.learn_sigma);
  f("hidden", c.hidden); f("depth", c.depth); f("heads", c.heads); f("mlp_ratio", c.mlp_ratio);
  f("num_classes", c.num_classes); f("cond_dim", c.cond_dim); f("attention", c.attention);
  f("anchor_frame", c.anchor_frame); f("position", c.position); f("attention_chunk", c.attention_chunk);
  f("vector_embedding", c.vector_embedding); f("context_channels", c.context_channels);
  f("context_frame", c.context_frame);
};
}  // namespace

Json to_json(const DiTConfig& c) { return fields_to_json(c, kDiTFields); }
DiTConfig dit_config_from_json(const Json& j) { return validated(fields_from_json<DiTConfig>(j, kDiTFields, "DiT config")); }

const std::vector<DiTPreset>& dit_presets() {
  static const std::vector<DiTPreset> table = [] {
    std::vector<DiTPreset> t;
    struct Size { const char* name; int64_t hidden, depth, heads; };
    for (const Size s : {Size{"s", 384, 12, 6}, Size{"b", 768, 12, 12}, Size{"l", 1024, 24, 16}, Size{"xl", 1152, 28, 16}}) {
      for (int64_t p : {2, 4, 8}) {
        DiTConfig c;
        c.hidden = s.hidden;
        c.depth = s.depth;
        c.heads = s.heads;
        c.patch = {p, p};
        t.push_back({std::string("dit-") + s.name + "/" + std::to_string(p), c, "DiT paper Table 1, 32x32x4 latents, 1000 classes"});
      }
    }
    for (int64_t p : {1, 2, 4}) {
      DiTConfig c;
      c.input_size = {8, 8};
      c.patch = {p, p};
      c.hidden = 128; c.depth = 4; c.heads = 4; c.num_classes = 10; c.learn_sigma = false;
      t.push_back({"dit-tiny/" + std::to_string(p), c, "CPU-trainable in minutes: 128 wide, 4 blocks, 8x8x4, 10 classes"});
    }
    for (int64_t p : {2, 4}) {
      DiTConfig c;
      c.input_size = {8, 8};
      c.patch = {p, p};
      c.hidden = 256; c.depth = 6; c.heads = 4; c.num_classes = 10; c.learn_sigma = false;
      t.push_back({"dit-mini/" + std::to_string(p), c, "256 wide, 6 blocks, 8x8x4, 10 classes"});
    }
    return t;
  }();
  return table;
}

DiTConfig dit_preset(const std::string& name) {
  std::string names;
  for (const auto& p : dit_presets()) {
    if (p.name == name) return p.config;
    names += (names.empty() ? "" : ", ") + p.name;
  }
  throw std::invalid_argument("unknown DiT preset '" + name + "'; one of: " + names);
}

DiTConfig dit_config_from_spec(const std::string& spec) {
  if (!std::filesystem::exists(spec)) return dit_preset(spec);
  const auto j = read_json_file(spec);
  try {
    return dit_config_from_json(j.contains("model") ? j.at("model") : j);
  } catch (const std::exception& e) {
    throw std::invalid_argument(spec + ": " + e.what());
  }
}

std::map<std::string, torch::Tensor> deepen_dit(const std::map<std::string, torch::Tensor>& weights, const DiTConfig& c,
                                                int64_t from_depth) {
  const int64_t unit = c.attention == "full" ? 1 : 2;  // a spatial and a temporal block stay together
  if (from_depth < 1 || c.depth <= from_depth || from_depth % unit != 0 || c.depth % unit != 0) {
    throw std::invalid_argument("depth " + std::to_string(c.depth) + ": a model of " + std::to_string(from_depth) +
                                " blocks grows to more blocks" + (unit == 2 ? ", in spatial-temporal pairs (an even count)" : ""));
  }
  const int64_t P = from_depth / unit, Q = c.depth / unit, D = c.hidden;
  // Trained unit k goes to new unit round(k (Q - 1) / (P - 1)); each new unit copies the last trained one before it.
  std::vector<int64_t> source(size_t(Q), -1);
  std::vector<bool> trained(size_t(Q), false);
  for (int64_t k = 0; k < P; ++k) {
    const int64_t at = P == 1 ? 0 : (2 * k * (Q - 1) + (P - 1)) / (2 * (P - 1));
    source[size_t(at)] = k;
    trained[size_t(at)] = true;
  }
  for (int64_t q = 1; q < Q; ++q) if (source[size_t(q)] < 0) source[size_t(q)] = source[size_t(q - 1)];
  std::map<std::string, torch::Tensor> out;
  for (const auto& [name, t] : weights) {
    if (name.rfind("blocks.", 0) != 0) out[name] = t;
  }
  for (int64_t q = 0; q < Q; ++q) {
    for (int64_t j = 0; j < unit; ++j) {
      const std::string from = "blocks." + std::to_string(source[size_t(q)] * unit + j) + ".";
      const std::string to = "blocks." + std::to_string(q * unit + j) + ".";
      bool any = false;
      for (const auto& [name, t] : weights) {
        if (name.rfind(from, 0) != 0) continue;
        any = true;
        auto v = t.clone();
        const std::string field = name.substr(from.size());
        if (!trained[size_t(q)] && field.rfind("adaLN.", 0) == 0) {  // rows 2D..3D and 5D..6D: the attention's and the MLP's gates
          v.slice(0, 2 * D, 3 * D).zero_();
          v.slice(0, 5 * D, 6 * D).zero_();
        }
        out[to + field] = v;
      }
      if (!any) throw std::invalid_argument("depth " + std::to_string(c.depth) + ": the trained model has no " + from + " weights");
    }
  }
  return out;
}

int64_t dit_parameter_count(const DiTConfig& c) {
  const int64_t D = c.hidden, P = c.patch_dim(), M = int64_t(double(D) * c.mlp_ratio);
  int64_t n = (c.in_channels + c.context_channels) * P * D + D;  // patch embedding
  n += 256 * D + D + D * D + D;                       // timestep MLP
  if (c.num_classes > 0) n += (c.num_classes + 1) * D;  // labels + null
  if (c.cond_dim > 0 && c.vector_embedding == "linear") n += c.cond_dim * D + D + D;  // vector projection + null vector
  if (c.cond_dim > 0 && c.vector_embedding != "linear") n += c.cond_dim * 256 * D + D + D * D + D + D;  // MLP + null
  if (c.context_channels > 0) n += 256 * D + D + D * D + D;  // the context's noise level MLP
  if (c.context_frame) n += c.context_channels * P * D + D;  // the context frame's patch embedding
  n += c.depth * (3 * D * D + 3 * D + D * D + D + D * M + M + M * D + D + 6 * D * D + 6 * D);
  n += D * 2 * D + 2 * D + D * P * c.out_channels() + P * c.out_channels();
  return n;
}

double dit_forward_macs(const DiTConfig& c) {
  const double D = double(c.hidden), P = double(c.patch_dim()), T = double(c.tokens());
  const double M = double(int64_t(D * c.mlp_ratio));
  double attended = T;  // tokens each query attends to
  double macs = T * double(c.in_channels + c.context_channels) * P * D + 256 * D + D * D;
  macs += c.vector_embedding == "linear" ? double(c.cond_dim) * D : double(c.cond_dim) * 256 * D + D * D;
  if (c.context_channels > 0) macs += 256 * D + D * D;
  // The blocks see the clip's frames and, with a context frame, one more.
  const double clip_frames = c.attention != "full" ? double(c.input_size[0] / c.patch[0]) : 1.0;
  const double frames = clip_frames + (c.context_frame ? 1 : 0), S = T / clip_frames, B = S * frames;
  if (c.context_frame) macs += S * double(c.context_channels) * P * D;
  for (int64_t i = 0; i < c.depth; ++i) {
    if (c.attention != "full") attended = (i % 2 == 0) ? (c.anchor_frame ? 2 : 1) * S : c.attention == "hybrid" ? B : frames;
    macs += 6 * D * D + B * 3 * D * D + 2 * B * attended * D + B * D * D + 2 * B * D * M;
  }
  macs += 2 * D * D + T * D * P * c.out_channels();
  return macs;
}

// ---- modules -----------------------------------------------------------------------------------


DiTBlockImpl::DiTBlockImpl(int64_t D, int64_t heads, double mlp_ratio, int64_t chunk) : heads_(heads), chunk_(chunk) {
  const int64_t M = int64_t(double(D) * mlp_ratio);
  norm1_ = register_module("norm1", plain_layer_norm(D));
  norm2_ = register_module("norm2", plain_layer_norm(D));
  qkv_ = register_module("qkv", torch::nn::Linear(D, 3 * D));
  proj_ = register_module("proj", torch::nn::Linear(D, D));
  fc1_ = register_module("fc1", torch::nn::Linear(D, M));
  fc2_ = register_module("fc2", torch::nn::Linear(M, D));
  ada_ = register_module("adaLN", torch::nn::Linear(D, 6 * D));
  for (auto* l : {&qkv_, &proj_, &fc1_, &fc2_}) xavier_init(*l);
  zero_init(ada_);  // adaLN-Zero: every block starts as the identity
}

torch::Tensor DiTBlockImpl::attend(const torch::Tensor& h, const torch::Tensor& cos, const torch::Tensor& sin, const Rope& rope) {
  const int64_t B = h.size(0), T = h.size(1), D = h.size(2);
  const auto qkv = qkv_(h).view({B, T, 3, heads_, D / heads_}).permute({2, 0, 3, 1, 4});  // (3, B, H, T, d)
  auto q = qkv[0], k = qkv[1];
  if (cos.defined()) {
    q = apply_rope(q, cos, sin, rope);
    k = apply_rope(k, cos, sin, rope);
  }
  const auto o = attention(q, k, qkv[2], chunk_);                                          // (B, H, T, d)
  return proj_(o.transpose(1, 2).reshape({B, T, D}));
}

torch::Tensor DiTBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& c, int64_t frames, TokenMix mix,
                                    const Rope& rope, const torch::Tensor& independent) {
  const auto m = ada_(torch::silu(c)).chunk(6, 1);  // shift, scale, gate for attention and MLP
  auto h = modulate(norm1_(x), m[0], m[1]);          // (N, T, D)
  // Attention over the whole sequence, within each frame, or across frames at each position.
  const auto everything = [&](const torch::Tensor& g) { return rope.defined() ? attend(g, rope.cos, rope.sin, rope) : attend(g); };
  const int64_t T = h.size(1), D = h.size(2), S = T / std::max<int64_t>(frames, 1);
  const auto within = [&](const torch::Tensor& g) {  // (n, T, D)
    const int64_t n = g.size(0);
    torch::Tensor cs, sn;  // rotary tables laid out like the groups: (groups, 1, group size, d)
    if (rope.defined()) {
      cs = rope.cos.view({frames, S, -1}).repeat({n, 1, 1}).unsqueeze(1);
      sn = rope.sin.view({frames, S, -1}).repeat({n, 1, 1}).unsqueeze(1);
    }
    return attend(g.reshape({n * frames, S, D}), cs, sn, rope).view({n, T, D});
  };
  const auto across = [&](const torch::Tensor& g) {
    const int64_t n = g.size(0);
    torch::Tensor cs, sn;
    if (rope.defined()) {
      cs = rope.cos.view({frames, S, -1}).transpose(0, 1).repeat({n, 1, 1}).unsqueeze(1);
      sn = rope.sin.view({frames, S, -1}).transpose(0, 1).repeat({n, 1, 1}).unsqueeze(1);
    }
    const auto o = attend(g.view({n, frames, S, D}).transpose(1, 2).reshape({n * S, frames, D}), cs, sn, rope);
    return o.view({n, S, frames, D}).transpose(1, 2).reshape({n, T, D});
  };
  // A frame's tokens attend to their own frame's and the first frame's (cross-frame attention).
  // The first frame's keys and values are shared by every frame, so the scores against them are
  // one product of all queries with them and nothing is copied per frame.
  const auto with_first = [&](const torch::Tensor& g) {
    const int64_t n = g.size(0), H = heads_, d = D / H;
    const auto qkv = qkv_(g).view({n, frames, S, 3, H, d}).permute({3, 0, 4, 1, 2, 5});  // (3, n, H, frames, S, d)
    auto q = qkv[0], k = qkv[1];
    if (rope.defined()) {  // every token at its own position, the first frame's keys too
      q = apply_rope(q, rope.cos.view({frames, S, -1}), rope.sin.view({frames, S, -1}), rope);
      k = apply_rope(k, rope.cos.view({frames, S, -1}), rope.sin.view({frames, S, -1}), rope);
    }
    q = q * (1.0 / std::sqrt(double(d)));
    const auto k0 = k.select(2, 0), v0 = qkv[2].select(2, 0);  // (n, H, S, d)
    const auto own = q.matmul(k.transpose(-2, -1));                                                    // (n, H, frames, S, S)
    const auto first = q.reshape({n, H, frames * S, d}).matmul(k0.transpose(-2, -1)).view({n, H, frames, S, S});
    const auto p = torch::softmax(torch::cat({own, first}, -1), -1);
    const auto o = p.slice(-1, 0, S).matmul(qkv[2]) +
                   p.slice(-1, S).reshape({n, H, frames * S, S}).matmul(v0).view({n, H, frames, S, d});
    return proj_(o.permute({0, 2, 3, 1, 4}).reshape({n, T, D}));
  };
  // Attention over one token is its value: rotary positions do not matter there.
  const auto alone = [&](const torch::Tensor& g) { return attend(g.reshape({-1, 1, D})).view({-1, T, D}); };
  // In a block that relates frames, items of unrelated frames keep their frames apart.
  const auto per_item = [&](const auto& mixing, const auto& apart) {
    if (!independent.defined() || !independent.any().item<bool>()) return mixing(h);
    const auto own = independent.to(torch::kCPU).to(torch::kBool);
    const auto yes = own.nonzero().flatten().to(h.device()), no = (~own).nonzero().flatten().to(h.device());
    const auto kept = apart(h.index_select(0, yes));
    const auto order = torch::cat({no, yes}).argsort();
    return (no.numel() > 0 ? torch::cat({mixing(h.index_select(0, no)), kept}) : kept).index_select(0, order);
  };
  if (mix == TokenMix::kAll) {
    h = everything(h);
  } else if (mix == TokenMix::kWithinFrames) {
    h = within(h);
  } else if (mix == TokenMix::kWithinFramesAndFirst) {
    h = per_item(with_first, within);
  } else if (mix == TokenMix::kSpaceTime) {
    h = per_item(everything, within);
  } else {
    h = per_item(across, alone);
  }
  auto y = x + m[2].unsqueeze(1) * h;
  const auto mlp = fc2_(dit_gelu(fc1_(modulate(norm2_(y), m[3], m[4]))));
  return y + m[5].unsqueeze(1) * mlp;
}

DiTImpl::DiTImpl(const DiTConfig& c) : config_(c) {
  c.validate();
  const int64_t D = c.hidden;
  x_embed_ = register_module("x_embed", torch::nn::Linear((c.in_channels + c.context_channels) * c.patch_dim(), D));
  xavier_init(x_embed_);
  if (c.context_channels > 0) {  // a new model's context enters at the input's scale (see kContextGain)
    torch::NoGradGuard g;
    x_embed_->weight.slice(1, c.in_channels * c.patch_dim()).div_(kContextGain);
  }
  if (c.context_frame) {  // at the same scale as the context's columns of the patch embedding
    context_frame_embed_ = register_module("context_frame_embed", torch::nn::Linear(c.context_channels * c.patch_dim(), D));
    xavier_init(context_frame_embed_);
    torch::NoGradGuard g;
    context_frame_embed_->weight.div_(kContextGain);
  }
  t_embed_ = register_module("t_embed", TimestepEmbedder(D));
  if (c.context_channels > 0) noise_embed_ = register_module("context_noise_embed", ScalarEmbedder(1, D));
  if (c.num_classes > 0) {
    y_embed_ = register_module("y_embed", torch::nn::Embedding(c.num_classes + 1, D));
    torch::nn::init::normal_(y_embed_->weight, 0.0, 0.02);
  }
  if (c.cond_dim > 0 && c.vector_embedding == "linear") {
    y_proj_ = register_module("v_proj", torch::nn::Linear(c.cond_dim, D));
    xavier_init(y_proj_);
  }
  if (c.cond_dim > 0 && c.vector_embedding != "linear") v_embed_ = register_module("v_embed", ScalarEmbedder(c.cond_dim, D));
  if (c.cond_dim > 0) null_vector_ = register_parameter("v_null", torch::zeros({D}));
  std::vector<int64_t> grid;
  for (size_t i = 0; i < c.input_size.size(); ++i) grid.push_back(c.input_size[i] / c.patch[i]);
  if (c.position != "sincos") rope_ = rope_table(D / c.heads, grid);
  if (c.position != "rope") pos_ = register_buffer("pos_embed", sincos_position_embedding(D, grid).unsqueeze(0));
  auto list = register_module("blocks", torch::nn::ModuleList());  // names blocks.0, blocks.1, ...
  for (int64_t i = 0; i < c.depth; ++i) {
    blocks_.push_back(DiTBlock(D, c.heads, c.mlp_ratio, c.attention_chunk));
    list->push_back(blocks_.back());
  }
  final_norm_ = register_module("final_norm", plain_layer_norm(D));
  final_ada_ = register_module("final_adaLN", torch::nn::Linear(D, 2 * D));
  final_linear_ = register_module("final_linear", torch::nn::Linear(D, c.patch_dim() * c.out_channels()));
  zero_init(final_ada_);
  zero_init(final_linear_);
}

torch::Tensor DiTImpl::patchify(const torch::Tensor& x) const {
  const auto& c = config_;
  const int64_t k = int64_t(c.input_size.size()), C = x.dim() > 1 ? x.size(1) : 0;
  TORCH_CHECK(x.dim() == k + 2 && (C == c.in_channels || (c.context_channels > 0 && C == c.in_channels + c.context_channels)),
              "DiT expects (N, ", c.in_channels, ", ", c.input_size, "), got ", x.sizes());
  std::vector<int64_t> shape = {x.size(0), C}, perm = {0};
  for (int64_t i = 0; i < k; ++i) {
    TORCH_CHECK(x.size(2 + i) == c.input_size[size_t(i)], "DiT expects grid ", c.input_size, ", got ", x.sizes());
    shape.push_back(c.input_size[size_t(i)] / c.patch[size_t(i)]);
    shape.push_back(c.patch[size_t(i)]);
  }
  for (int64_t i = 0; i < k; ++i) perm.push_back(2 + 2 * i);  // patch grid
  perm.push_back(1);                                          // channels
  for (int64_t i = 0; i < k; ++i) perm.push_back(3 + 2 * i);  // within-patch offsets
  return x.reshape(shape).permute(perm).reshape({x.size(0), c.tokens(), C * c.patch_dim()});
}

torch::Tensor DiTImpl::unpatchify(const torch::Tensor& x) const {
  const auto& c = config_;
  const int64_t k = int64_t(c.input_size.size()), C = c.out_channels(), N = x.size(0);
  std::vector<int64_t> shape = {N}, perm = {0, 1 + 2 * k}, out = {N, C};
  for (int64_t i = 0; i < k; ++i) shape.push_back(c.input_size[size_t(i)] / c.patch[size_t(i)]);
  for (int64_t i = 0; i < k; ++i) shape.push_back(c.patch[size_t(i)]);
  shape.push_back(C);  // DiT's (p, q, c) order within a patch
  for (int64_t i = 0; i < k; ++i) {
    perm.push_back(1 + i);
    perm.push_back(1 + k + i);
    out.push_back(c.input_size[size_t(i)]);
  }
  return x.reshape(shape).permute(perm).reshape(out);
}

torch::Tensor DiTImpl::forward(const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& labels,
                               const torch::Tensor& vectors, const torch::Tensor& independent_frames,
                               const torch::Tensor& context, const torch::Tensor& context_noise) {
  const auto& c = config_;
  const int64_t N = x.size(0);
  TORCH_CHECK(!independent_frames.defined() || (c.attention != "full" && independent_frames.numel() == N),
              "independent_frames needs a factorised or hybrid DiT and one flag per item");
  TORCH_CHECK(!context.defined() || c.context_channels > 0, "a context needs a DiT with context_channels");
  auto in = x;
  if (c.context_channels > 0) {
    auto full = x.sizes().vec();
    full[1] = c.context_channels;
    in = torch::cat({x, kContextGain * (context.defined() ? context.to(x.options()).expand(full) : torch::zeros(full, x.options()))}, 1);
  }
  const auto patches = patchify(in);
  auto h = x_embed_(patches);                           // (N, T, D)
  if (pos_.defined()) h = h + pos_;
  auto cond = t_embed_(t.to(x.device()).reshape({N}));  // (N, D)
  cond = cond + condition_embedding(y_embed_, c.num_classes, labels, y_proj_, null_vector_, y_proj_ ? vectors : torch::Tensor(), cond);
  if (v_embed_) {
    const auto v = vectors.defined() ? vectors.to(cond.options()) : torch::full({N, c.cond_dim}, NAN, cond.options());
    cond = cond + torch::where(torch::isnan(v).any(1, true), null_vector_.unsqueeze(0), v_embed_(torch::nan_to_num(v, 0.0)));
  }
  if (noise_embed_) {  // log of the context's noise level (0 and below 1e-4 read as 1e-4)
    const auto s = context_noise.defined() ? context_noise.to(cond.options()).reshape({N}) : torch::zeros({N}, cond.options());
    cond = cond + noise_embed_(torch::log(s.clamp_min(1e-4)).unsqueeze(1));
  }
  const bool video = c.attention != "full";
  int64_t frames = video ? c.input_size[0] / c.patch[0] : 1;
  const int64_t S = h.size(1) / frames;  // tokens per frame
  Rope rope = rope_;
  if (context_frame_embed_) {  // the context's tokens of frame 0 (its values at every frame are the same), clean
    auto r = context_frame_embed_(patches.slice(1, 0, S).slice(2, c.in_channels * c.patch_dim()));
    if (pos_.defined()) r = r + pos_.slice(1, 0, S);
    h = torch::cat({r, h}, 1);
    if (rope.defined()) {  // at frame 0's positions
      rope.cos = torch::cat({rope.cos.slice(0, 0, S), rope.cos});
      rope.sin = torch::cat({rope.sin.slice(0, 0, S), rope.sin});
    }
    ++frames;
  }
  const auto odd = c.attention == "hybrid" ? TokenMix::kSpaceTime : TokenMix::kAcrossFrames;
  for (size_t i = 0; i < blocks_.size(); ++i) {
    const auto even = c.anchor_frame ? TokenMix::kWithinFramesAndFirst : TokenMix::kWithinFrames;
    const auto mix = !video ? TokenMix::kAll : i % 2 == 0 ? even : odd;
    h = blocks_[i]->forward(h, cond, frames, mix, rope, independent_frames);
  }
  if (context_frame_embed_) h = h.slice(1, S);
  const auto m = final_ada_(torch::silu(cond)).chunk(2, 1);
  return unpatchify(final_linear_(modulate(final_norm_(h), m[0], m[1])));
}

}  // namespace diffuse
