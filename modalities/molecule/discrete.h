// Discrete graph diffusion (DiGress, Vignac et al. 2023). Every categorical variable of a graph,
// an atom's element, its charge and a pair's bond type, is noised towards the training set's
// marginal distribution m of that variable:
//
//   q(x_t | x_0) = abar(t) x_0 + (1 - abar(t)) m,   abar the cosine schedule over t in [0, 1],
//
// so a noisy graph is a graph again (one-hot, symmetric bonds) and the network, which predicts
// the clean graph's logits, always sees the kind of input sampling gives it. Sampling starts from
// graphs drawn from the marginals and draws each step's graph from the posterior
// q(x_s | x_t) = sum over x_0 of q(x_s | x_t, x_0) p(x_0 | x_t). This is the sampler family beside
// the core's continuous samplers that a categorical state needs.
#pragma once
#include <torch/types.h>

#include <functional>
#include <utility>

#include "core/json.h"
#include "modalities/molecule/codec.h"

namespace diffuse::molecule {

// The per-variable marginals of the training graphs (probability vectors).
struct Marginals {
  torch::Tensor element;  // (elements,) over real atoms
  torch::Tensor charge;   // (charges,) over real atoms
  torch::Tensor bond;     // (4,) over pairs of distinct real atoms, "none" included
};
// nodes (N, M, Fn), edges (N, M, M, 4) one-hot as encode() writes them, mask (N, M) bool. Every
// class keeps at least a tiny probability, so that the posterior never divides by zero.
Marginals graph_marginals(const torch::Tensor& nodes, const torch::Tensor& edges, const torch::Tensor& mask, const CodecConfig& c);
Json to_json(const Marginals& m);
Marginals marginals_from_json(const Json& j);

// The cosine schedule (Nichol & Dhariwal 2021): abar(0) = 1, falling to abar(1) = 0 (clamped to at least 1e-5).
double alpha_bar(double t);

// The uniform draws behind one graph per row, so that callers decide where randomness comes from
// (a sample's own generator, for results independent of the batch).
struct GraphUniforms {
  torch::Tensor element, charge;  // (N, M) in [0, 1)
  torch::Tensor bond;             // (N, M, M), only the upper triangle is read
};
GraphUniforms draw_uniforms(int64_t n, int64_t max_atoms, at::Generator& gen);

// One graph per row drawn from q(x_t | x_0) at per-graph times t (N,). Padded atoms stay zero
// rows, the diagonal and padded pairs stay "none", bonds stay symmetric.
std::pair<torch::Tensor, torch::Tensor> noise_graphs(const torch::Tensor& nodes, const torch::Tensor& edges, const torch::Tensor& mask,
                                                     const torch::Tensor& t, const Marginals& m, const CodecConfig& c,
                                                     const GraphUniforms& u);

// The posterior over one categorical variable's value at time s < t, given its one-hot value at t
// (..., K) and the predicted clean probabilities p0 (..., K): sum over k of p0(k) q(x_s | x_t, x_0 = k).
torch::Tensor categorical_posterior(const torch::Tensor& x_t, const torch::Tensor& p0, const torch::Tensor& marginal, double t,
                                    double s);

// Draws graphs (one-hot, as encode() lays them out) from per-variable probabilities: nodes
// (N, M, Fn) probabilities per group, edges (N, M, M, 4) symmetric.
std::pair<torch::Tensor, torch::Tensor> draw_graphs(const torch::Tensor& node_p, const torch::Tensor& edge_p, const torch::Tensor& mask,
                                                    const CodecConfig& c, const GraphUniforms& u);

// The reverse process in `steps` equal steps of t from 1 to 0. logits(nodes, edges, t) gives the
// network's clean-graph logits (guidance already applied) for one-hot graphs at time t (N,);
// uniforms() the next draws for the batch (called once per step, plus once more with `known`).
// Returns the final one-hot graphs; last_edge_probs, when given, receives the last step's
// predicted clean bond probabilities (N, M, M, 4), from which the final bonds were drawn.
//
// Inpainting (scaffolds): known_nodes (N, M, Fn) and known_edges (N, M, M, 4) hold one-hot values
// where known and NaN where free; after every step the known variables are replaced by a draw
// from q(x_s | x_0 = known), so they end exactly known while the rest is generated around them.
using GraphLogits = std::function<std::pair<torch::Tensor, torch::Tensor>(const torch::Tensor& nodes, const torch::Tensor& edges,
                                                                         const torch::Tensor& t)>;
std::pair<torch::Tensor, torch::Tensor> sample_discrete(const GraphLogits& logits, const torch::Tensor& mask, const Marginals& m,
                                                        const CodecConfig& c, int64_t steps, const std::function<GraphUniforms()>& uniforms,
                                                        const torch::Tensor& known_nodes = {}, const torch::Tensor& known_edges = {},
                                                        torch::Tensor* last_edge_probs = nullptr);

}  // namespace diffuse::molecule
