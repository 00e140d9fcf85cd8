// The graph codec: kekulised heavy-atom graphs as one-hot node features (element, formal charge)
// and a dense one-hot edge tensor (none/single/double/triple), padded to max_atoms with a node
// mask, so diffusion runs in the continuous relaxation of these tensors. Decoding takes the
// argmax under the mask and sanitises with RDKit; the valence-aware option drops the weakest
// bonds of over-valent atoms and is reported separately, so raw validity stays visible.
#pragma once
#include <torch/types.h>

#include <string>
#include <vector>

#include "core/json.h"

namespace diffuse::molecule {

struct CodecConfig {
  std::vector<std::string> elements = {"C", "N", "O", "F", "S", "Cl", "Br", "P", "I"};
  std::vector<int64_t> charges = {-1, 0, 1};
  int64_t max_atoms = 24;  // the first models'; a new one holds kDefaultMaxAtoms unless --max-atoms says otherwise
  int64_t node_features() const { return int64_t(elements.size() + charges.size()); }
  static constexpr int64_t kEdgeTypes = 4;  // none, single, double, triple
};
constexpr int64_t kDefaultMaxAtoms = 40;  // drug-sized molecules
Json to_json(const CodecConfig& c);
CodecConfig codec_config_from_json(const Json& j);

struct EncodedGraph {
  torch::Tensor nodes;  // (M, Fn) one-hot element | one-hot charge; zero rows are padding
  torch::Tensor edges;  // (M, M, 4) one-hot bond order, symmetric; padding and the diagonal are "none"
  torch::Tensor mask;   // (M,) bool
};

// Throws std::invalid_argument with the reason (unparsable, element or charge outside the
// vocabulary, too many heavy atoms).
EncodedGraph encode(const std::string& smiles, const CodecConfig& c);

struct Decoded {
  std::string smiles;   // canonical; for an invalid graph, the unsanitised SMILES when RDKit can write it
  bool valid = false;   // sanitises
  bool connected = false;  // one fragment
  bool repaired = false;   // the valence repair changed the graph
  std::string reason;      // why invalid
};
// One graph: nodes (M, Fn), edges (M, M, 4) scores (symmetrised), mask (M,) (or undefined: atoms
// whose element scores are all below 0 are padding, as encode() writes zeros there).
// valence_repair: drop or lower the least probable bonds of over-valent atoms, then join
// fragments by the most probable single bonds between atoms with valence left. The probabilities
// are bond_probs (M, M, 4) when given (e.g. a discrete sampler's last prediction, whose graph is
// one-hot and so ranks nothing), else the softmax of the edge scores.
Decoded decode(const torch::Tensor& nodes, const torch::Tensor& edges, const torch::Tensor& mask, const CodecConfig& c,
               bool valence_repair = false, const torch::Tensor& bond_probs = {});

// Categorical parameterisation (after Dieleman et al. 2022's CDCD): a network that outputs the logits
// of each categorical variable (an atom's element, its charge, a pair's bond type) for a batch of
// graphs, nodes (N, M, Fn) and edges (N, M, M, 4). Its clean-graph estimate is their softmax per
// group, the posterior mean of the one-hot values, which is what a denoiser should return; padded
// atoms come out as zero rows and padded pairs and the diagonal as "none", as encode() writes them.
std::pair<torch::Tensor, torch::Tensor> graph_probabilities(const torch::Tensor& node_logits, const torch::Tensor& edge_logits,
                                                            const torch::Tensor& mask, const CodecConfig& c);
// Per-graph cross-entropy (N,) against one-hot nodes and edges: the mean over real atoms of element
// + charge CE, plus edge_weight times the mean over pairs of distinct real atoms of bond-type CE
// (DiGress weights edges 5x: there are many more of them and most are "none").
torch::Tensor graph_cross_entropy(const torch::Tensor& node_logits, const torch::Tensor& edge_logits, const torch::Tensor& nodes,
                                  const torch::Tensor& edges, const torch::Tensor& mask, const CodecConfig& c, double edge_weight);

}  // namespace diffuse::molecule
