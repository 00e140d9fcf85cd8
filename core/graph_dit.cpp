// The graph DiT.
#include "core/graph_dit.h"

#include <torch/torch.h>

#include <cmath>
#include <stdexcept>

namespace diffuse {

void GraphDiTConfig::validate() const {
  auto fail = [](const std::string& m) { throw std::invalid_argument("graph DiT config: " + m); };
  if (node_features < 1 || edge_features < 1 || hidden < 1 || edge_hidden < 1 || depth < 1 || heads < 1) fail("sizes must be >= 1");
  if (hidden % heads != 0) fail("hidden " + std::to_string(hidden) + " is not divisible by heads " + std::to_string(heads));
  if (num_classes < 0 || cond_dim < 0 || !(mlp_ratio > 0)) fail("num_classes, cond_dim >= 0 and mlp_ratio > 0");
}

namespace {
const auto kGraphDiTFields = [](auto& c, auto&& f) {
  f("node_features", c.node_features); f("edge_features", c.edge_features); f("hidden", c.hidden);
  f("edge_hidden", c.edge_hidden); f("depth", c.depth); f("heads", c.heads); f("mlp_ratio", c.mlp_ratio);
  f("num_classes", c.num_classes); f("cond_dim", c.cond_dim); f("edge_to_node", c.edge_to_node);
  f("structure_features", c.structure_features);
};
}  // namespace

Json to_json(const GraphDiTConfig& c) { return fields_to_json(c, kGraphDiTFields); }
GraphDiTConfig graph_dit_config_from_json(const Json& j) { return validated(fields_from_json<GraphDiTConfig>(j, kGraphDiTFields, "graph DiT config")); }


torch::Tensor graph_structure_features(const torch::Tensor& edges, const torch::Tensor& mask) {
  torch::NoGradGuard no_grad;
  const int64_t N = edges.size(0), M = edges.size(1);
  const auto opts = edges.options().dtype(torch::kFloat32);
  const auto mf = mask.to(opts);
  const auto pair = mf.unsqueeze(2) * mf.unsqueeze(1) * (1 - torch::eye(M, opts));
  const auto order = edges.argmax(-1).to(opts) * pair;  // bond order 0..3
  const auto A = (order > 0).to(opts);
  const auto diag = [](const torch::Tensor& x) { return x.diagonal(0, 1, 2); };
  const auto A2 = A.matmul(A), A3 = A2.matmul(A), A4 = A3.matmul(A), A5 = A4.matmul(A);
  const auto d = A.sum(2);
  const auto tri = diag(A3);  // closed 3-walks: twice the triangles at the node
  const auto neighbours = [&](const torch::Tensor& v) { return A.matmul(v.unsqueeze(-1)).squeeze(-1); };
  // Closed walks that are not simple cycles: backtracks for length 4; for length 5 a triangle
  // through the node with a backtrack inserted (2d - 3 + d_a + d_b per directed triangle), or a
  // step to a neighbour, a triangle there that avoids the node, and back.
  const auto k3 = tri / 2;
  const auto k4 = (diag(A4) - d * (d - 1) - neighbours(d)) / 2;
  const auto tri_degrees = (A * A2 * d.unsqueeze(1)).sum(2);  // sum over neighbours u of (common neighbours) d_u
  const auto k5 = (diag(A5) - tri * (2 * d - 3) - 2 * tri_degrees - neighbours(tri) + 2 * tri) / 2;
  const auto n = mf.sum(1, true).clamp_min(1);  // (N, 1)
  // Connected components: reachability by repeated squaring of (I + A).
  auto R = ((A + torch::eye(M, opts)) * mf.unsqueeze(2) * mf.unsqueeze(1) > 0).to(opts);
  for (int64_t span = 1; span < M; span *= 2) R = (R.matmul(R) > 0).to(opts);
  const auto size = R.sum(2);                                                      // component size per real node
  const auto components = (mf / size.clamp_min(1)).sum(1, true);                 // (N, 1)
  const auto largest = (size == std::get<0>(size.max(1, true))).to(opts);
  const auto per_node = [&](const torch::Tensor& x) { return x.expand({N, M}); };
  auto f = torch::stack({torch::log1p(k3.clamp_min(0)), torch::log1p(k4.clamp_min(0)), torch::log1p(k5.clamp_min(0)),
                         per_node(torch::log1p(k3.sum(1, true) / 3)), per_node(torch::log1p(k4.sum(1, true) / 4)),
                         per_node(torch::log1p(k5.sum(1, true) / 5)), size / n, largest, per_node(torch::log(components.clamp_min(1))),
                         order.sum(2) / 4, d / 4, per_node(torch::log(n))},
                        2);
  return (f * mf.unsqueeze(-1)).to(edges.dtype());
}

GraphBlockImpl::GraphBlockImpl(int64_t D, int64_t De, int64_t heads, double mlp_ratio, bool edge_to_node) : heads_(heads) {
  const int64_t M = int64_t(double(D) * mlp_ratio);
  norm1_ = register_module("norm1", plain_layer_norm(D));
  norm2_ = register_module("norm2", plain_layer_norm(D));
  edge_norm_ = register_module("edge_norm", plain_layer_norm(De));
  qkv_ = register_module("qkv", torch::nn::Linear(D, 3 * D));
  proj_ = register_module("proj", torch::nn::Linear(D, D));
  fc1_ = register_module("fc1", torch::nn::Linear(D, M));
  fc2_ = register_module("fc2", torch::nn::Linear(M, D));
  ada_ = register_module("adaLN", torch::nn::Linear(D, 7 * D));  // 6 node terms + edge gate input
  edge_bias_ = register_module("edge_bias", torch::nn::Linear(De, heads));
  edge_from_nodes_ = register_module("edge_from_nodes", torch::nn::Linear(D, De));
  edge_pair_ = register_module("edge_pair", torch::nn::Linear(D, De));
  edge_mlp1_ = register_module("edge_mlp1", torch::nn::Linear(De, 2 * De));
  edge_mlp2_ = register_module("edge_mlp2", torch::nn::Linear(2 * De, De));
  edge_gate_ = register_module("edge_gate", torch::nn::Linear(D, De));
  zero_init(ada_);
  zero_init(edge_gate_);  // edges also start unchanged
  if (edge_to_node) edge_to_node_ = register_module("edge_to_node", torch::nn::Linear(De, D));
}

std::pair<torch::Tensor, torch::Tensor> GraphBlockImpl::forward(const torch::Tensor& h, const torch::Tensor& e,
                                                                const torch::Tensor& mask, const torch::Tensor& c) {
  const int64_t N = h.size(0), M = h.size(1), D = h.size(2), H = heads_, d = D / H;
  const auto m = ada_(torch::silu(c)).chunk(7, 1);
  const auto en = edge_norm_(e);  // (N, M, M, De), for the node sums, the attention bias and the edge update
  auto x = modulate(norm1_(h), m[0], m[1]);
  if (edge_to_node_) {  // the sum over real neighbours j of e_ij, scaled by a constant (padding must not matter)
    const auto mf = mask.to(e.dtype()).view({N, 1, M, 1});
    x = x + edge_to_node_((en * mf).sum(2) / 5.0);
  }
  const auto qkv = qkv_(x).view({N, M, 3, H, d}).permute({2, 0, 3, 1, 4});                  // (3, N, H, M, d)
  auto logits = torch::matmul(qkv[0], qkv[1].transpose(-2, -1)) / std::sqrt(double(d));     // (N, H, M, M)
  logits = logits + edge_bias_(en).permute({0, 3, 1, 2});                         // bias from edges
  logits = logits.masked_fill(~mask.view({N, 1, 1, M}), -1e9);                               // ignore padding
  const auto att = torch::softmax(logits, -1).matmul(qkv[2]).transpose(1, 2).reshape({N, M, D});
  auto h2 = h + m[2].unsqueeze(1) * proj_(att);
  h2 = h2 + m[5].unsqueeze(1) * fc2_(dit_gelu(fc1_(modulate(norm2_(h2), m[3], m[4]))));
  // Edges from node pairs, symmetric in (i, j): a_i + a_j, and the product b_i * b_j through which
  // a bond can depend on both atoms together (a sum alone leaves that to one MLP layer).
  const auto pn = edge_from_nodes_(h2), pb = edge_pair_(h2);               // (N, M, De)
  const auto pair = pn.unsqueeze(2) + pn.unsqueeze(1) + pb.unsqueeze(2) * pb.unsqueeze(1);  // (N, M, M, De)
  const auto upd = edge_mlp2_(torch::silu(edge_mlp1_(en + pair)));
  const auto gate = edge_gate_(m[6]).view({N, 1, 1, -1});
  return {h2, e + gate * upd};
}

GraphDiTImpl::GraphDiTImpl(const GraphDiTConfig& c) : config_(c) {
  c.validate();
  const int64_t D = c.hidden, De = c.edge_hidden;
  node_in_ = register_module("node_in", torch::nn::Linear(c.node_features + (c.structure_features ? kGraphStructureFeatures : 0), D));
  edge_in_ = register_module("edge_in", torch::nn::Linear(c.edge_features, De));
  t_embed_ = register_module("t_embed", TimestepEmbedder(D));
  if (c.num_classes > 0) {
    y_embed_ = register_module("y_embed", torch::nn::Embedding(c.num_classes + 1, D));
    torch::nn::init::normal_(y_embed_->weight, 0.0, 0.02);
  }
  if (c.cond_dim > 0) {
    v_proj_ = register_module("v_proj", torch::nn::Linear(c.cond_dim, D));
    null_vector_ = register_parameter("v_null", torch::zeros({D}));
  }
  auto list = register_module("blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.depth; ++i) {
    blocks_.push_back(GraphBlock(D, De, c.heads, c.mlp_ratio, c.edge_to_node));
    list->push_back(blocks_.back());
  }
  final_norm_ = register_module("final_norm", plain_layer_norm(D));
  final_edge_norm_ = register_module("final_edge_norm", plain_layer_norm(De));
  final_ada_ = register_module("final_adaLN", torch::nn::Linear(D, 2 * D));
  node_out_ = register_module("node_out", torch::nn::Linear(D, c.node_features));
  edge_out_ = register_module("edge_out", torch::nn::Linear(De, c.edge_features));
  zero_init(final_ada_);
  zero_init(node_out_);
  zero_init(edge_out_);
}

std::pair<torch::Tensor, torch::Tensor> GraphDiTImpl::forward(const torch::Tensor& nodes, const torch::Tensor& edges,
                                                              const torch::Tensor& mask, const torch::Tensor& t,
                                                              const torch::Tensor& labels, const torch::Tensor& vectors) {
  const auto& c = config_;
  const int64_t N = nodes.size(0), M = nodes.size(1);
  TORCH_CHECK(nodes.dim() == 3 && nodes.size(2) == c.node_features, "graph DiT expects nodes (N, M, ", c.node_features, "), got ", nodes.sizes());
  TORCH_CHECK(edges.sizes() == torch::IntArrayRef({N, M, M, c.edge_features}), "graph DiT expects edges (N, M, M, ", c.edge_features, "), got ", edges.sizes());
  TORCH_CHECK(mask.sizes() == torch::IntArrayRef({N, M}) && mask.scalar_type() == torch::kBool, "mask must be (N, M) bool");
  auto h = node_in_(c.structure_features ? torch::cat({nodes, graph_structure_features(edges, mask)}, 2) : nodes);
  auto e = edge_in_(edges);
  auto cond = t_embed_(t.to(nodes.device()).reshape({N}));
  cond = cond + condition_embedding(y_embed_, c.num_classes, labels, v_proj_, null_vector_, vectors, cond);
  for (auto& b : blocks_) std::tie(h, e) = b->forward(h, e, mask, cond);
  const auto m = final_ada_(torch::silu(cond)).chunk(2, 1);
  auto node_out = node_out_(modulate(final_norm_(h), m[0], m[1]));
  auto edge_out = edge_out_(final_edge_norm_(e));
  edge_out = 0.5 * (edge_out + edge_out.transpose(1, 2));  // symmetric
  const auto mf = mask.to(nodes.dtype());
  node_out = node_out * mf.unsqueeze(-1);
  edge_out = edge_out * (mf.unsqueeze(2) * mf.unsqueeze(1)).unsqueeze(-1);
  return {node_out, edge_out};
}

}  // namespace diffuse
