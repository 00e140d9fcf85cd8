// The graph variant of the DiT for sets and graphs (molecules): node tokens without position
// embeddings (permutation-equivariant), attention logits biased by edge features, edge features
// updated from node pairs, adaLN-Zero conditioning on time and a label or vector, and a
// symmetric edge output (Vignac et al. 2023 DiGress-style graph transformer, DiT conditioning).
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/types.h>

#include "core/json.h"
#include "core/layers.h"

namespace diffuse {

struct GraphDiTConfig {
  int64_t node_features = 8;   // per-node input/output channels (e.g. one-hot element + charge)
  int64_t edge_features = 4;   // per-pair channels (e.g. none/single/double/triple)
  int64_t hidden = 128, edge_hidden = 32, depth = 4, heads = 4;
  double mlp_ratio = 4.0;
  int64_t num_classes = 0;     // labels 0..C-1, null = C
  int64_t cond_dim = 0;        // continuous condition vector (NaN row = null)
  // Each block also adds to every node the sum of its edges' features over the real atoms, so a
  // node can count its bonds (softmax attention biased by edges cannot count: valence needs it).
  // Off in checkpoints written before it existed.
  bool edge_to_node = false;
  // DiGress's structural features of the input graph as extra node inputs (see
  // graph_structure_features): meaningful when the edges are one-hot bond types, as in discrete
  // diffusion. Off in checkpoints written before it existed.
  bool structure_features = false;
  void validate() const;
};
Json to_json(const GraphDiTConfig& c);
GraphDiTConfig graph_dit_config_from_json(const Json& j);

// Per-node features of the graphs whose bond type is edges.argmax(-1) (0 = no bond) over the
// real atoms of mask (N, M) bool, computed without gradients (Vignac et al. 2023, section 4.4):
// the node's 3-, 4- and 5-cycles and the graph's, counted exactly from powers of the adjacency
// (log1p), the size of the node's connected component over the atom count, whether the node is in
// the largest component, log(number of components), the valency (sum of bond orders) / 4, the
// degree / 4 and log(atom count). Padded nodes get zeros. (N, M, kGraphStructureFeatures).
constexpr int64_t kGraphStructureFeatures = 12;
torch::Tensor graph_structure_features(const torch::Tensor& edges, const torch::Tensor& mask);

class GraphBlockImpl : public torch::nn::Module {
 public:
  GraphBlockImpl(int64_t hidden, int64_t edge_hidden, int64_t heads, double mlp_ratio, bool edge_to_node = false);
  // h (N, M, D) nodes, e (N, M, M, De) edges, mask (N, M) bool, c (N, D) -> updated (h, e)
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& h, const torch::Tensor& e, const torch::Tensor& mask,
                                                  const torch::Tensor& c);

 private:
  int64_t heads_;
  torch::nn::LayerNorm norm1_{nullptr}, norm2_{nullptr}, edge_norm_{nullptr};
  torch::nn::Linear qkv_{nullptr}, proj_{nullptr}, fc1_{nullptr}, fc2_{nullptr}, ada_{nullptr};
  torch::nn::Linear edge_bias_{nullptr}, edge_from_nodes_{nullptr}, edge_pair_{nullptr}, edge_mlp1_{nullptr}, edge_mlp2_{nullptr}, edge_gate_{nullptr};
  torch::nn::Linear edge_to_node_{nullptr};  // only with edge_to_node
};
TORCH_MODULE(GraphBlock);

class GraphDiTImpl : public torch::nn::Module {
 public:
  explicit GraphDiTImpl(const GraphDiTConfig& c);
  // nodes (N, M, Fn), edges (N, M, M, Fe), mask (N, M) bool, t (N,) -> (nodes, edges) predictions;
  // padded nodes and their edges come out as zero; the edge output is symmetric.
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& nodes, const torch::Tensor& edges,
                                                  const torch::Tensor& mask, const torch::Tensor& t,
                                                  const torch::Tensor& labels = {}, const torch::Tensor& vectors = {});
  const GraphDiTConfig& config() const { return config_; }

 private:
  GraphDiTConfig config_;
  torch::nn::Linear node_in_{nullptr}, edge_in_{nullptr}, v_proj_{nullptr}, final_ada_{nullptr}, node_out_{nullptr}, edge_out_{nullptr};
  torch::nn::Embedding y_embed_{nullptr};
  torch::Tensor null_vector_;
  TimestepEmbedder t_embed_{nullptr};
  torch::nn::LayerNorm final_norm_{nullptr}, final_edge_norm_{nullptr};
  std::vector<GraphBlock> blocks_;
};
TORCH_MODULE(GraphDiT);

}  // namespace diffuse
