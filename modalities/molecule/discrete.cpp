// Discrete graph diffusion with marginal transitions (see discrete.h).
#include "modalities/molecule/discrete.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

namespace diffuse::molecule {
namespace {

torch::Tensor marginal(const torch::Tensor& onehot, const torch::Tensor& weight) {
  const auto counts = (onehot * weight.unsqueeze(-1)).flatten(0, -2).sum(0).to(torch::kFloat64);
  const auto p = (counts / counts.sum().clamp_min(1)).clamp_min(1e-6);
  return (p / p.sum()).to(torch::kFloat32);
}

torch::Tensor vector_from_json(const Json& j) {
  return torch::tensor(j.get<std::vector<double>>(), torch::kFloat64).to(torch::kFloat32);
}
Json json_from_vector(const torch::Tensor& t) {
  const auto d = t.to(torch::kFloat64).contiguous();
  return std::vector<double>(d.data_ptr<double>(), d.data_ptr<double>() + d.numel());
}

// Index drawn from probabilities p (..., K) (normalised here) by the uniforms u (...).
torch::Tensor draw_index(const torch::Tensor& p, const torch::Tensor& u) {
  const auto q = p / p.sum(-1, true).clamp_min(1e-30);
  return (q.cumsum(-1) < u.unsqueeze(-1).to(q.dtype())).sum(-1).clamp_max(p.size(-1) - 1);
}

// Pairs of distinct real atoms (N, M, M) bool.
torch::Tensor real_pairs(const torch::Tensor& mask) {
  const int64_t M = mask.size(1);
  return mask.unsqueeze(2) & mask.unsqueeze(1) & ~torch::eye(M, mask.options().dtype(torch::kBool)).unsqueeze(0);
}

}  // namespace

Marginals graph_marginals(const torch::Tensor& nodes, const torch::Tensor& edges, const torch::Tensor& mask, const CodecConfig& c) {
  const int64_t E = int64_t(c.elements.size());
  const auto atoms = mask.to(torch::kFloat32);
  return {marginal(nodes.slice(2, 0, E), atoms), marginal(nodes.slice(2, E), atoms), marginal(edges, real_pairs(mask).to(torch::kFloat32))};
}

Json to_json(const Marginals& m) {
  return {{"element", json_from_vector(m.element)}, {"charge", json_from_vector(m.charge)}, {"bond", json_from_vector(m.bond)}};
}

Marginals marginals_from_json(const Json& j) {
  return {vector_from_json(j.at("element")), vector_from_json(j.at("charge")), vector_from_json(j.at("bond"))};
}

double alpha_bar(double t) {
  constexpr double s = 0.008;
  const double pi = std::acos(-1.0);
  const double f = std::cos(pi / 2 * (t + s) / (1 + s)), f0 = std::cos(pi / 2 * s / (1 + s));
  return std::clamp(f * f / (f0 * f0), 1e-5, 1.0);
}

GraphUniforms draw_uniforms(int64_t n, int64_t max_atoms, at::Generator& gen) {
  return {torch::rand({n, max_atoms}, gen), torch::rand({n, max_atoms}, gen), torch::rand({n, max_atoms, max_atoms}, gen)};
}

std::pair<torch::Tensor, torch::Tensor> draw_graphs(const torch::Tensor& node_p, const torch::Tensor& edge_p, const torch::Tensor& mask,
                                                    const CodecConfig& c, const GraphUniforms& u) {
  const int64_t E = int64_t(c.elements.size()), C = int64_t(c.charges.size());
  const auto atoms = mask.unsqueeze(2).to(torch::kFloat32);
  const auto element = torch::one_hot(draw_index(node_p.slice(2, 0, E), u.element.to(node_p.device())), E);
  const auto charge = torch::one_hot(draw_index(node_p.slice(2, E), u.charge.to(node_p.device())), C);
  const auto nodes = torch::cat({element, charge}, 2).to(torch::kFloat32) * atoms;
  const auto upper = draw_index(edge_p, u.bond.to(edge_p.device())).triu(1);  // symmetric: one draw per pair
  const auto bond = torch::where(real_pairs(mask), upper + upper.transpose(1, 2), torch::zeros_like(upper));
  return {nodes, torch::one_hot(bond, CodecConfig::kEdgeTypes).to(torch::kFloat32)};
}

std::pair<torch::Tensor, torch::Tensor> noise_graphs(const torch::Tensor& nodes, const torch::Tensor& edges, const torch::Tensor& mask,
                                                     const torch::Tensor& t, const Marginals& m, const CodecConfig& c,
                                                     const GraphUniforms& u) {
  const int64_t E = int64_t(c.elements.size());
  std::vector<double> ab;
  const auto t64 = t.to(torch::kFloat64).cpu().contiguous();
  for (int64_t i = 0; i < t64.numel(); ++i) ab.push_back(alpha_bar(t64.data_ptr<double>()[i]));
  const auto a = torch::tensor(ab, torch::kFloat64).to(torch::kFloat32).to(nodes.device());
  const auto an = a.view({-1, 1, 1}), ae = a.view({-1, 1, 1, 1});
  const auto p_el = an * nodes.slice(2, 0, E) + (1 - an) * m.element.to(nodes.device());
  const auto p_ch = an * nodes.slice(2, E) + (1 - an) * m.charge.to(nodes.device());
  const auto p_bond = ae * edges + (1 - ae) * m.bond.to(edges.device());
  return draw_graphs(torch::cat({p_el, p_ch}, 2), p_bond, mask, c, u);
}

torch::Tensor categorical_posterior(const torch::Tensor& x_t, const torch::Tensor& p0, const torch::Tensor& marginal, double t,
                                    double s) {
  // q(x_t | x_s) = a x_s + (1 - a) m with a = abar(t) / abar(s): the marginal transitions compose.
  const double ab_t = alpha_bar(t), ab_s = alpha_bar(s), a = ab_t / ab_s;
  const auto m = marginal.to(x_t.device()).to(x_t.dtype());
  const auto m_at = (x_t * m).sum(-1, true);                 // m[x_t]
  const auto v = a * x_t + (1 - a) * m_at;                    // q(x_t | x_s = j) over j
  const auto z = (ab_t * x_t + (1 - ab_t) * m_at).clamp_min(1e-12);  // q(x_t | x_0 = k) over k
  const auto r = p0.to(x_t.dtype()) / z;
  // sum_k p0(k) q(x_t | x_s = j) q(x_s = j | x_0 = k) / q(x_t | x_0 = k)
  const auto post = v * (ab_s * r + (1 - ab_s) * m * r.sum(-1, true));
  return post / post.sum(-1, true).clamp_min(1e-30);
}

std::pair<torch::Tensor, torch::Tensor> sample_discrete(const GraphLogits& logits, const torch::Tensor& mask, const Marginals& m,
                                                        const CodecConfig& c, int64_t steps, const std::function<GraphUniforms()>& uniforms,
                                                        const torch::Tensor& known_nodes, const torch::Tensor& known_edges,
                                                        torch::Tensor* last_edge_probs) {
  if (steps < 1) throw std::invalid_argument("--steps " + std::to_string(steps) + ": the discrete sampler needs at least 1");
  const int64_t N = mask.size(0), M = mask.size(1), E = int64_t(c.elements.size());
  const bool inpaint = known_nodes.defined() && known_edges.defined();
  torch::Tensor node_known, edge_known, clean_nodes, clean_edges;  // which atoms and pairs are known, and their values
  if (inpaint) {
    node_known = ~known_nodes.isnan().any(2);
    edge_known = ~known_edges.isnan().any(3);
    clean_nodes = known_nodes.nan_to_num(0.0);
    clean_edges = known_edges.nan_to_num(0.0);
  }
  const auto keep_known = [&](torch::Tensor& nodes, torch::Tensor& edges, double s) {
    if (!inpaint) return;
    const auto [kn, ke] = noise_graphs(clean_nodes, clean_edges, mask, torch::full({N}, s, torch::kFloat64), m, c, uniforms());
    nodes = torch::where(node_known.unsqueeze(2).to(nodes.device()), kn, nodes);
    edges = torch::where(edge_known.unsqueeze(3).to(edges.device()), ke, edges);
  };
  const auto start_nodes = torch::cat({m.element, m.charge}).view({1, 1, -1}).expand({N, M, -1});
  auto [nodes, edges] = draw_graphs(start_nodes, m.bond.view({1, 1, 1, -1}).expand({N, M, M, -1}), mask, c, uniforms());
  keep_known(nodes, edges, 1.0);
  for (int64_t i = 0; i < steps; ++i) {
    const double t = 1.0 - double(i) / double(steps), s = 1.0 - double(i + 1) / double(steps);
    const auto [nl, el] = logits(nodes, edges, torch::full({N}, t, torch::kFloat64));
    const auto [pn, pe] = graph_probabilities(nl, el, mask.to(nl.device()), c);
    const auto post_nodes = torch::cat({categorical_posterior(nodes.slice(2, 0, E), pn.slice(2, 0, E), m.element, t, s),
                                        categorical_posterior(nodes.slice(2, E), pn.slice(2, E), m.charge, t, s)}, 2);
    std::tie(nodes, edges) = draw_graphs(post_nodes, categorical_posterior(edges, pe, m.bond, t, s), mask.to(nl.device()), c, uniforms());
    keep_known(nodes, edges, s);
    if (last_edge_probs) *last_edge_probs = pe;
  }
  return {nodes, edges};
}

}  // namespace diffuse::molecule
