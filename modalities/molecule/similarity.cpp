// MOSES-style set similarities with RDKit fingerprints, scaffolds and BRICS fragments.
#include "modalities/molecule/similarity.h"

#include <DataStructs/BitOps.h>
#include <DataStructs/ExplicitBitVect.h>
#include <GraphMol/ChemTransforms/ChemTransforms.h>
#include <GraphMol/ChemTransforms/MolFragmenter.h>
#include <GraphMol/Fingerprints/MorganFingerprints.h>
#include <GraphMol/GraphMol.h>
#include <GraphMol/MolOps.h>
#include <GraphMol/SmilesParse/SmilesWrite.h>

#include <cmath>
#include <map>
#include <memory>
#include <sstream>

#include "modalities/molecule/rdkit_util.h"

namespace diffuse::molecule {
namespace {

using Fingerprints = std::vector<std::unique_ptr<ExplicitBitVect>>;
Fingerprints morgan(const std::vector<std::string>& smiles) {
  Fingerprints out;
  for (const auto& s : smiles) {
    if (auto m = parse_smiles(s)) out.emplace_back(RDKit::MorganFingerprints::getFingerprintAsBitVect(*m, 2, 1024));
  }
  return out;
}

using Counts = std::map<std::string, double>;
double cosine(const Counts& a, const Counts& b) {
  double dot = 0, na = 0, nb = 0;
  for (const auto& [k, v] : a) {
    na += v * v;
    if (auto it = b.find(k); it != b.end()) dot += v * it->second;
  }
  for (const auto& [k, v] : b) nb += v * v;
  return na > 0 && nb > 0 ? dot / std::sqrt(na * nb) : 0.0;
}

Counts scaffold_counts(const std::vector<std::string>& smiles) {
  Counts c;
  for (const auto& s : smiles) {
    if (const auto k = murcko_scaffold(s); !k.empty()) c[k] += 1;
  }
  return c;
}

Counts fragment_counts(const std::vector<std::string>& smiles) {
  Counts c;
  for (const auto& s : smiles) {
    for (const auto& f : brics_fragments(s)) c[f] += 1;
  }
  return c;
}

}  // namespace

std::string murcko_scaffold(const std::string& smiles) {
  auto m = parse_smiles(smiles);
  if (!m) return {};
  std::unique_ptr<RDKit::ROMol> s(RDKit::MurckoDecompose(*m));
  if (!s || s->getNumAtoms() == 0) return {};
  return RDKit::MolToSmiles(*s);
}

std::vector<std::string> brics_fragments(const std::string& smiles) {
  auto m = parse_smiles(smiles);
  if (!m) return {};
  std::unique_ptr<RDKit::ROMol> f(RDKit::MolFragmenter::fragmentOnBRICSBonds(*m));
  std::vector<std::string> out;
  std::stringstream ss(RDKit::MolToSmiles(*f));
  for (std::string part; std::getline(ss, part, '.');) out.push_back(part);
  return out;
}

SetSimilarity compare_sets(const std::vector<std::string>& generated, const std::vector<std::string>& reference) {
  SetSimilarity r;
  const auto g = morgan(generated), ref = morgan(reference);
  if (g.empty() || ref.empty()) return r;
  double pair_sum = 0;
  int64_t pairs = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    for (size_t j = i + 1; j < g.size(); ++j, ++pairs) pair_sum += TanimotoSimilarity(*g[i], *g[j]);
  }
  r.internal_diversity = pairs ? 1.0 - pair_sum / double(pairs) : 0.0;
  double nn = 0;
  for (const auto& a : g) {
    double best = 0;
    for (const auto& b : ref) best = std::max(best, TanimotoSimilarity(*a, *b));
    nn += best;
  }
  r.nn_similarity = nn / double(g.size());
  r.scaffold_similarity = cosine(scaffold_counts(generated), scaffold_counts(reference));
  r.fragment_similarity = cosine(fragment_counts(generated), fragment_counts(reference));
  return r;
}

}  // namespace diffuse::molecule
