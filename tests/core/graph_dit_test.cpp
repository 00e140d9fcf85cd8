// The graph DiT: permutation equivariance, symmetric edges, masking, zero output at init; the
// structural features against brute-force cycle and component counts.
#include "core/graph_dit.h"

#include <torch/torch.h>

#include <algorithm>
#include <functional>
#include <random>

#include "tests/core/test_util.h"

namespace diffuse {
namespace {

// variant 0: plain blocks, 1: with edge-to-node sums, 2: also with structural features.
GraphDiTConfig small(int variant = 0) {
  GraphDiTConfig c;
  c.edge_to_node = variant >= 1;
  c.structure_features = variant >= 2;
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

// The block variants: plain, with the edge-to-node sums, and with structural features too.
class GraphDiTVariants : public ::testing::TestWithParam<int> {};
INSTANTIATE_TEST_SUITE_P(Blocks, GraphDiTVariants, ::testing::Values(0, 1, 2));

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
  const auto c = graph_dit_config_from_json(to_json(small(2)));
  EXPECT_EQ(to_json(c), to_json(small(2)));
}

// Simple cycles of length L through node v, by walking every path from v (each cycle is found
// once per direction).
int64_t cycles_through(const std::vector<std::vector<int>>& adj, int v, int L) {
  const int n = int(adj.size());
  std::vector<bool> used(size_t(n), false);
  int64_t count = 0;
  std::function<void(int, int)> walk = [&](int at, int len) {
    for (int u = 0; u < n; ++u) {
      if (!adj[size_t(at)][size_t(u)]) continue;
      if (u == v && len + 1 == L) ++count;
      if (u == v || used[size_t(u)] || len + 1 >= L) continue;
      used[size_t(u)] = true;
      walk(u, len + 1);
      used[size_t(u)] = false;
    }
  };
  used[size_t(v)] = true;
  walk(v, 0);
  return count / 2;
}

TEST(GraphStructureFeatures, CountCyclesAndComponentsLikeBruteForce) {
  // Random graphs of 9 real atoms (padded to 11) with molecule-like and denser bonds, including
  // triangles and 4-cliques where closed walks and cycles differ most.
  std::mt19937 rng(7);
  const int64_t M = 11, n = 9;
  for (double p : {0.2, 0.35, 0.6}) {
    for (int trial = 0; trial < 8; ++trial) {
      auto edges = torch::zeros({1, M, M, 4});
      edges.select(3, 0).fill_(1);
      std::vector<std::vector<int>> adj(size_t(n), std::vector<int>(size_t(n), 0));
      std::vector<int> order(size_t(n), 0);
      for (int i = 0; i < n; ++i) {
        for (int j = i + 1; j < n; ++j) {
          if (std::uniform_real_distribution<double>(0, 1)(rng) >= p) continue;
          const int bond = 1 + int(rng() % 3);
          adj[size_t(i)][size_t(j)] = adj[size_t(j)][size_t(i)] = 1;
          order[size_t(i)] += bond;
          order[size_t(j)] += bond;
          for (auto [a, b] : {std::pair{i, j}, std::pair{j, i}}) {
            edges[0][a][b][0] = 0;
            edges[0][a][b][bond] = 1;
          }
        }
      }
      // Garbage bonds on the padded atoms must not count.
      edges[0][n][0][0] = 0;
      edges[0][n][0][2] = 1;
      edges[0][0][n][0] = 0;
      edges[0][0][n][2] = 1;
      const auto mask = torch::arange(M).unsqueeze(0) < n;
      const auto f = graph_structure_features(edges - 0.5, mask)[0];
      // Components by flood fill.
      std::vector<int> comp(size_t(n), -1);
      std::vector<int> sizes;
      for (int s = 0; s < n; ++s) {
        if (comp[size_t(s)] >= 0) continue;
        std::vector<int> stack = {s};
        comp[size_t(s)] = int(sizes.size());
        int size = 0;
        while (!stack.empty()) {
          const int a = stack.back();
          stack.pop_back();
          ++size;
          for (int b = 0; b < n; ++b) {
            if (adj[size_t(a)][size_t(b)] && comp[size_t(b)] < 0) {
              comp[size_t(b)] = comp[size_t(s)];
              stack.push_back(b);
            }
          }
        }
        sizes.push_back(size);
      }
      const int biggest = *std::max_element(sizes.begin(), sizes.end());
      std::vector<double> totals(3, 0);
      for (int v = 0; v < n; ++v) {
        int degree = 0;
        for (int u = 0; u < n; ++u) degree += adj[size_t(v)][size_t(u)];
        for (int L = 3; L <= 5; ++L) {
          const auto k = cycles_through(adj, v, L);
          totals[size_t(L - 3)] += double(k);
          EXPECT_NEAR(f[v][L - 3].item<double>(), std::log1p(double(k)), 1e-5) << "p " << p << " trial " << trial << " node " << v << " L " << L;
        }
        const int size = sizes[size_t(comp[size_t(v)])];
        EXPECT_NEAR(f[v][6].item<double>(), double(size) / n, 1e-6);
        EXPECT_EQ(f[v][7].item<double>(), size == biggest ? 1.0 : 0.0);
        EXPECT_NEAR(f[v][8].item<double>(), std::log(double(sizes.size())), 1e-5);
        EXPECT_NEAR(f[v][9].item<double>(), order[size_t(v)] / 4.0, 1e-6);
        EXPECT_NEAR(f[v][10].item<double>(), degree / 4.0, 1e-6);
        EXPECT_NEAR(f[v][11].item<double>(), std::log(double(n)), 1e-6);
      }
      for (int L = 3; L <= 5; ++L) {  // every L-cycle passes through L nodes
        EXPECT_NEAR(f[0][L].item<double>(), std::log1p(totals[size_t(L - 3)] / L), 1e-4) << "p " << p << " L " << L;
      }
      EXPECT_EQ(f.slice(0, n).abs().max().item<float>(), 0.0f);
    }
  }
}

}  // namespace
}  // namespace diffuse
