// The graph DiT: permutation equivariance, symmetric edges, masking, zero output at init.
#include "core/graph_dit.h"

#include <torch/torch.h>

#include "tests/core/test_util.h"

namespace diffuse {
namespace {

GraphDiTConfig small(bool edge_to_node = false) {
  GraphDiTConfig c;
  c.edge_to_node = edge_to_node;
  c.node_features = 5;
  c.edge_features = 4;
  c.hidden = 32;
  c.edge_hidden = 8;
  c.depth = 2;
  c.heads = 4;
  c.num_classes = 3;
  return c;
}

// Random non-zero weights, so equivariance is tested away from the zero-initialised outputs.
void randomize(torch::nn::Module& m) {
  torch::NoGradGuard g;
  for (auto& p : m.parameters()) p.normal_(0, 0.2);
}

struct Graph {
  torch::Tensor nodes, edges, mask;
};

Graph random_graph(int64_t n, int64_t m, int64_t real) {
  Graph g;
  g.nodes = torch::randn({n, m, 5});
  auto e = torch::randn({n, m, m, 4});
  g.edges = e + e.transpose(1, 2);
  g.mask = torch::arange(m).unsqueeze(0).expand({n, m}) < real;
  return g;
}

// Both block variants: with and without the edge-to-node sums.
class GraphDiTVariants : public ::testing::TestWithParam<bool> {};
INSTANTIATE_TEST_SUITE_P(EdgeToNode, GraphDiTVariants, ::testing::Bool());

TEST_P(GraphDiTVariants, IsPermutationEquivariantWithSymmetricMaskedEdges) {
  torch::manual_seed(0);
  GraphDiT model(small(GetParam()));
  randomize(*model);
  const auto g = random_graph(2, 7, 7);
  const auto t = torch::tensor({10.0, 700.0});
  const auto y = torch::tensor({0L, 2L});
  const auto [n1, e1] = model->forward(g.nodes, g.edges, g.mask, t, y);
  const auto perm = torch::tensor({3L, 0L, 6L, 1L, 5L, 2L, 4L});
  const auto pn = g.nodes.index_select(1, perm);
  const auto pe = g.edges.index_select(1, perm).index_select(2, perm);
  const auto [n2, e2] = model->forward(pn, pe, g.mask, t, y);
  EXPECT_LE(test::max_abs(n2, n1.index_select(1, perm)), 1e-4);
  EXPECT_LE(test::max_abs(e2, e1.index_select(1, perm).index_select(2, perm)), 1e-4);
  EXPECT_LE(test::max_abs(e1, e1.transpose(1, 2)), 1e-6);
}

TEST_P(GraphDiTVariants, PaddedNodesDoNotChangeRealOnesAndComeOutZero) {
  torch::manual_seed(1);
  GraphDiT model(small(GetParam()));
  randomize(*model);
  const auto g = random_graph(1, 5, 5);
  const auto t = torch::tensor({300.0});
  const auto [n_small, e_small] = model->forward(g.nodes, g.edges, g.mask, t);
  // Pad to 8 nodes with garbage; the first 5 outputs must not change.
  auto nodes = torch::cat({g.nodes, torch::randn({1, 3, 5}) * 10}, 1);
  auto edges = torch::randn({1, 8, 8, 4}) * 10;
  edges = edges + edges.transpose(1, 2);
  edges.slice(1, 0, 5).slice(2, 0, 5).copy_(g.edges);
  const auto mask = torch::arange(8).unsqueeze(0) < 5;
  const auto [n_pad, e_pad] = model->forward(nodes, edges, mask, t);
  EXPECT_LE(test::max_abs(n_pad.slice(1, 0, 5), n_small), 1e-4);
  EXPECT_LE(test::max_abs(e_pad.slice(1, 0, 5).slice(2, 0, 5), e_small), 1e-4);
  EXPECT_EQ(n_pad.slice(1, 5).abs().max().item<float>(), 0.0f);
  EXPECT_EQ(e_pad.slice(1, 5).abs().max().item<float>(), 0.0f);
}

TEST(GraphDiT, OutputIsZeroAtInit) {
  GraphDiT model(small());
  const auto g = random_graph(2, 6, 4);
  const auto [n, e] = model->forward(g.nodes, g.edges, g.mask, torch::tensor({1.0, 2.0}));
  EXPECT_EQ(n.abs().max().item<float>(), 0.0f);
  EXPECT_EQ(e.abs().max().item<float>(), 0.0f);
}

TEST(GraphDiTConfig, RejectsUnknownKeysAndBadSizes) {
  EXPECT_THROW(graph_dit_config_from_json(Json{{"hiden", 3}}), std::invalid_argument);
  EXPECT_THROW(graph_dit_config_from_json(Json{{"hidden", 30}, {"heads", 4}}), std::invalid_argument);
  const auto c = graph_dit_config_from_json(to_json(small()));
  EXPECT_EQ(to_json(c), to_json(small()));
}

}  // namespace
}  // namespace diffuse
