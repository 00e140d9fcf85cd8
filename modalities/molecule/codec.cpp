// Graph encoding and decoding with RDKit.
#include "modalities/molecule/codec.h"

#include <GraphMol/GraphMol.h>
#include <GraphMol/MolOps.h>
#include <GraphMol/PeriodicTable.h>
#include <GraphMol/SmilesParse/SmilesWrite.h>
#include <RDGeneral/RDLog.h>
#include <torch/torch.h>

#include <algorithm>
#include <memory>

#include "modalities/molecule/rdkit_util.h"

namespace diffuse::molecule {

namespace {
const auto kCodecFields = [](auto& c, auto&& f) { f("elements", c.elements); f("charges", c.charges); f("max_atoms", c.max_atoms); };
}  // namespace

Json to_json(const CodecConfig& c) { return fields_to_json(c, kCodecFields); }

CodecConfig codec_config_from_json(const Json& j) {
  const auto c = fields_from_json<CodecConfig>(j, kCodecFields, "codec");
  if (c.elements.empty() || c.charges.empty() || c.max_atoms < 2) throw std::invalid_argument("codec: need elements, charges and max_atoms >= 2");
  return c;
}

EncodedGraph encode(const std::string& smiles, const CodecConfig& c) {
  auto m = parse_smiles_or_throw(smiles);
  RDKit::MolOps::Kekulize(*m, /*markAtomsBonds=*/true);
  const int64_t n = int64_t(m->getNumAtoms()), M = c.max_atoms, E = int64_t(c.elements.size());
  if (n > M) throw std::invalid_argument("too many heavy atoms (" + std::to_string(n) + " > " + std::to_string(M) + ")");
  EncodedGraph g{torch::zeros({M, c.node_features()}), torch::zeros({M, M, CodecConfig::kEdgeTypes}), torch::zeros({M}, torch::kBool)};
  g.edges.select(2, 0).fill_(1.0);
  // Filled through raw pointers: indexing tensors element by element cost a millisecond a molecule.
  float* nodes = g.nodes.data_ptr<float>();
  float* edges = g.edges.data_ptr<float>();
  bool* mask = g.mask.data_ptr<bool>();
  const int64_t F = c.node_features(), T = CodecConfig::kEdgeTypes;
  for (const auto* a : m->atoms()) {
    const auto it = std::find(c.elements.begin(), c.elements.end(), a->getSymbol());
    if (it == c.elements.end()) throw std::invalid_argument("element " + a->getSymbol() + " not in the vocabulary");
    const auto ct = std::find(c.charges.begin(), c.charges.end(), int64_t(a->getFormalCharge()));
    if (ct == c.charges.end()) throw std::invalid_argument("formal charge " + std::to_string(a->getFormalCharge()) + " not in the vocabulary");
    const int64_t i = a->getIdx();
    nodes[i * F + (it - c.elements.begin())] = 1.0f;
    nodes[i * F + E + (ct - c.charges.begin())] = 1.0f;
    mask[i] = true;
  }
  for (const auto* b : m->bonds()) {
    int64_t order = 0;
    switch (b->getBondType()) {
      case RDKit::Bond::SINGLE: order = 1; break;
      case RDKit::Bond::DOUBLE: order = 2; break;
      case RDKit::Bond::TRIPLE: order = 3; break;
      default: throw std::invalid_argument("bond type " + std::to_string(int(b->getBondType())) + " not representable");
    }
    const int64_t i = b->getBeginAtomIdx(), j = b->getEndAtomIdx();
    for (auto [p, q] : {std::pair{i, j}, std::pair{j, i}}) {
      float* e = edges + (p * M + q) * T;
      std::fill(e, e + T, 0.0f);
      e[order] = 1.0f;
    }
  }
  return g;
}

Decoded decode(const torch::Tensor& nodes_in, const torch::Tensor& edges_in, const torch::Tensor& mask_in, const CodecConfig& c,
               bool valence_repair, const torch::Tensor& bond_probs) {
  boost::logging::disable_logs("rdApp.*");
  const int64_t E = int64_t(c.elements.size());
  const auto nodes = nodes_in.to(torch::kFloat32), edges = (edges_in + edges_in.transpose(0, 1)).to(torch::kFloat32) * 0.5;
  const auto mask = mask_in.defined() ? mask_in.to(torch::kBool) : std::get<0>(nodes.slice(1, 0, E).max(1)) > 0.0;
  const auto element = nodes.slice(1, 0, E).argmax(1), charge = nodes.slice(1, E).argmax(1);
  const auto order = edges.argmax(2);
  const auto bond_prob = bond_probs.defined() ? (0.5 * (bond_probs + bond_probs.transpose(0, 1))).to(torch::kFloat32) : torch::softmax(edges, 2);
  std::vector<int64_t> index;  // graph node -> RDKit atom
  RDKit::RWMol m;
  std::vector<int64_t> atom_of(size_t(nodes.size(0)), -1);
  for (int64_t i = 0; i < nodes.size(0); ++i) {
    if (!mask[i].item<bool>()) continue;
    auto* a = new RDKit::Atom(c.elements[size_t(element[i].item<int64_t>())]);
    a->setFormalCharge(int(c.charges[size_t(charge[i].item<int64_t>())]));
    atom_of[size_t(i)] = m.addAtom(a, true, true);
    index.push_back(i);
  }
  Decoded d;
  if (index.empty()) {
    d.reason = "no atoms";
    return d;
  }
  struct B {
    int64_t i, j, order;
    double p;
  };
  std::vector<B> bonds;
  for (size_t a = 0; a < index.size(); ++a) {
    for (size_t b = a + 1; b < index.size(); ++b) {
      const int64_t i = index[a], j = index[b], o = order[i][j].item<int64_t>();
      if (o > 0) bonds.push_back({i, j, o, bond_prob[i][j][o].item<double>()});
    }
  }
  auto build = [&](const std::vector<B>& bs) {
    auto mol = std::make_unique<RDKit::RWMol>(m);
    for (const auto& b : bs) {
      const auto type = b.order == 1 ? RDKit::Bond::SINGLE : b.order == 2 ? RDKit::Bond::DOUBLE : RDKit::Bond::TRIPLE;
      mol->addBond(unsigned(atom_of[size_t(b.i)]), unsigned(atom_of[size_t(b.j)]), type);
    }
    return mol;
  };
  // Valence left per atom: its largest allowed valence (shifted by the formal charge) minus the
  // bond orders it has; negative when over-valent. Atoms without a valence limit get a large one.
  auto headroom = [&](RDKit::RWMol& mol) {
    const auto* table = RDKit::PeriodicTable::getTable();
    std::vector<int64_t> h(mol.getNumAtoms(), 0);
    for (auto* a : mol.atoms()) {
      int v = 0;
      for (const auto* b : mol.atomBonds(a)) v += int(b->getBondTypeAsDouble());
      const auto& allowed = table->getValenceList(a->getAtomicNum());
      int max_v = *std::max_element(allowed.begin(), allowed.end());
      max_v += a->getFormalCharge() * (a->getAtomicNum() == 6 ? -1 : 1);  // N+ takes 4, O- takes 1, C- takes 3
      h[a->getIdx()] = allowed.front() == -1 ? 8 : max_v - v;
    }
    return h;
  };
  auto sanitize = [&](RDKit::RWMol& mol, std::string& why) {
    try {
      RDKit::MolOps::sanitizeMol(mol);
      return true;
    } catch (const std::exception& e) {
      why = e.what();
      return false;
    }
  };
  auto mol = build(bonds);
  std::string why;
  bool ok = sanitize(*mol, why);
  std::vector<int> frag_of;
  const bool fragmented = RDKit::MolOps::getMolFrags(*mol, frag_of) > 1;
  if ((!ok || fragmented) && valence_repair) {
    // Drop the least probable bond at an over-valent atom, or lower its order, until none is.
    auto bs = bonds;
    for (int guard = 0; guard < 64; ++guard) {
      auto trial = build(bs);
      const auto h = headroom(*trial);
      int best = -1;
      for (size_t k = 0; k < bs.size(); ++k) {
        if (h[size_t(atom_of[size_t(bs[k].i)])] < 0 || h[size_t(atom_of[size_t(bs[k].j)])] < 0) {
          if (best < 0 || bs[k].p < bs[size_t(best)].p) best = int(k);
        }
      }
      if (best < 0) break;
      if (--bs[size_t(best)].order == 0) bs.erase(bs.begin() + best);
      d.repaired = true;
    }
    // Then join the fragments: add the single bond the model finds most probable between two
    // fragments whose atoms both have valence left, until one fragment remains or none fits.
    for (int guard = 0; guard < 64; ++guard) {
      auto trial = build(bs);
      std::vector<int> comp;
      if (RDKit::MolOps::getMolFrags(*trial, comp) <= 1) break;
      const auto h = headroom(*trial);
      int64_t bi = -1, bj = -1;
      double bp = -1;
      for (size_t a = 0; a < index.size(); ++a) {
        for (size_t b = a + 1; b < index.size(); ++b) {
          const int64_t i = index[a], j = index[b];
          const auto ai = size_t(atom_of[size_t(i)]), aj = size_t(atom_of[size_t(j)]);
          if (comp[ai] == comp[aj] || h[ai] < 1 || h[aj] < 1) continue;
          const double p = bond_prob[i][j][1].item<double>();
          if (p > bp) bp = p, bi = i, bj = j;
        }
      }
      if (bi < 0) break;
      bs.push_back({bi, bj, 1, bp});
      d.repaired = true;
    }
    mol = build(bs);
    ok = sanitize(*mol, why);
  }
  d.valid = ok;
  if (!ok) {
    d.reason = why;
    try {
      d.smiles = RDKit::MolToSmiles(*mol);
    } catch (const std::exception&) {
    }
    return d;
  }
  d.smiles = RDKit::MolToSmiles(*mol);
  std::vector<int> frags;
  d.connected = RDKit::MolOps::getMolFrags(*mol, frags) == 1;
  return d;
}

std::pair<torch::Tensor, torch::Tensor> graph_probabilities(const torch::Tensor& node_logits, const torch::Tensor& edge_logits,
                                                            const torch::Tensor& mask, const CodecConfig& c) {
  const int64_t E = int64_t(c.elements.size());
  const auto mf = mask.to(node_logits.dtype());
  auto nodes = torch::cat({node_logits.slice(2, 0, E).softmax(2), node_logits.slice(2, E).softmax(2)}, 2) * mf.unsqueeze(2);
  const int64_t M = node_logits.size(1);
  const auto pairs = (mask.unsqueeze(2) & mask.unsqueeze(1) & ~torch::eye(M, mask.options()).unsqueeze(0)).unsqueeze(3);
  auto none = torch::zeros({CodecConfig::kEdgeTypes}, edge_logits.options());
  none[0] = 1;
  auto edges = torch::where(pairs, edge_logits.softmax(3), none);
  return {nodes, edges};
}

torch::Tensor graph_cross_entropy(const torch::Tensor& node_logits, const torch::Tensor& edge_logits, const torch::Tensor& nodes,
                                  const torch::Tensor& edges, const torch::Tensor& mask, const CodecConfig& c, double edge_weight) {
  const int64_t E = int64_t(c.elements.size()), M = node_logits.size(1);
  const auto mf = mask.to(node_logits.dtype());
  auto ce = [](const torch::Tensor& logits, const torch::Tensor& onehot) { return -(logits.log_softmax(-1) * onehot).sum(-1); };
  const auto node_ce = ce(node_logits.slice(2, 0, E), nodes.slice(2, 0, E)) + ce(node_logits.slice(2, E), nodes.slice(2, E));
  const auto pairs = mf.unsqueeze(2) * mf.unsqueeze(1) * (1 - torch::eye(M, mf.options())).unsqueeze(0);
  const auto edge_ce = ce(edge_logits, edges);
  return (node_ce * mf).sum(1) / mf.sum(1).clamp_min(1) + edge_weight * (edge_ce * pairs).sum({1, 2}) / pairs.sum({1, 2}).clamp_min(1);
}

}  // namespace diffuse::molecule
