// The GuacaMol KL benchmark: descriptors (BertzCT ported from RDKit's Python), KDE and histogram
// KL divergences, internal similarity.
#include "modalities/molecule/guacamol.h"

#include <DataStructs/BitOps.h>
#include <DataStructs/ExplicitBitVect.h>
#include <GraphMol/Descriptors/Crippen.h>
#include <GraphMol/Descriptors/Lipinski.h>
#include <GraphMol/Descriptors/MolDescriptors.h>
#include <GraphMol/Descriptors/MolSurf.h>
#include <GraphMol/Fingerprints/MorganFingerprints.h>
#include <GraphMol/GraphMol.h>
#include <GraphMol/MolOps.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <random>
#include <stdexcept>

#include "modalities/molecule/rdkit_util.h"

namespace diffuse::molecule {
namespace {

// Shannon entropy in bits of counts (rdkit.ML.InfoTheory.entropy.InfoEntropy).
template <typename Map>
double info_entropy(const Map& counts) {
  double total = 0, h = 0;
  for (const auto& [k, v] : counts) total += v;
  if (total == 0) return 0;
  for (const auto& [k, v] : counts) {
    if (v > 0) h -= v / total * std::log2(v / total);
  }
  return h;
}

// KL(P || Q) after normalising both (scipy.stats.entropy(P, Q)).
double kl_normalised(const std::vector<double>& p, const std::vector<double>& q) {
  double sp = 0, sq = 0, kl = 0;
  for (size_t i = 0; i < p.size(); ++i) sp += p[i], sq += q[i];
  for (size_t i = 0; i < p.size(); ++i) {
    const double a = p[i] / sp, b = q[i] / sq;
    if (a > 0) kl += a * std::log(a / b);
  }
  return kl;
}

// scipy.stats.gaussian_kde(x) evaluated at `at`: Scott's factor n^(-1/5) on the unbiased variance.
std::vector<double> kde(const std::vector<double>& x, const std::vector<double>& at) {
  const double n = double(x.size());
  double mean = 0, var = 0;
  for (double v : x) mean += v / n;
  for (double v : x) var += (v - mean) * (v - mean) / (n - 1);
  // A constant sample has no variance (scipy refuses it): a narrow kernel keeps it a spike.
  const double bw2 = std::max(var, 1e-12) * std::pow(n, -2.0 / 5.0);
  const double norm = 1.0 / (n * std::sqrt(2 * M_PI * bw2));
  std::vector<double> out(at.size(), 0.0);
  for (size_t k = 0; k < at.size(); ++k) {
    double s = 0;
    for (double v : x) s += std::exp(-(at[k] - v) * (at[k] - v) / (2 * bw2));
    out[k] = s * norm;
  }
  return out;
}

std::vector<double> max_internal_similarity(const std::vector<std::string>& smiles) {
  std::vector<std::unique_ptr<ExplicitBitVect>> fps;
  for (const auto& s : smiles) fps.emplace_back(RDKit::MorganFingerprints::getFingerprintAsBitVect(*parse_smiles_or_throw(s), 2, 4096));
  std::vector<double> best(fps.size(), 0.0);
  for (size_t i = 1; i < fps.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      const double t = TanimotoSimilarity(*fps[i], *fps[j]);
      best[i] = std::max(best[i], t);
      best[j] = std::max(best[j], t);
    }
  }
  return best;
}

}  // namespace

double bertz_ct(const RDKit::ROMol& mol) {
  const unsigned n = mol.getNumAtoms();
  if (n < 2) return 0;
  // Symmetry classes: atoms whose sorted rows of the bond-order-weighted ("Balaban") distance
  // matrix agree to 4 decimals over the first 100 entries.
  const double* d = RDKit::MolOps::getDistanceMat(mol, /*useBO=*/true, /*useAtomWts=*/false, /*force=*/true, "Balaban");
  std::vector<std::vector<std::string>> keys;
  std::vector<int> cls(n);
  for (unsigned i = 0; i < n; ++i) {
    std::vector<double> row(d + size_t(i) * n, d + size_t(i + 1) * n);
    std::sort(row.begin(), row.end());
    std::vector<std::string> key;
    char buf[64];
    for (size_t k = 0; k < std::min<size_t>(row.size(), 100); ++k) {
      std::snprintf(buf, sizeof buf, "%.4f", row[k]);
      key.emplace_back(buf);
    }
    auto it = std::find(keys.begin(), keys.end(), key);
    cls[i] = int(it - keys.begin()) + 1;
    if (it == keys.end()) keys.push_back(std::move(key));
  }
  std::vector<std::vector<unsigned>> neighbours(n);
  std::map<std::pair<unsigned, unsigned>, double> order;
  for (const auto* b : mol.bonds()) {
    unsigned a1 = b->getBeginAtomIdx(), a2 = b->getEndAtomIdx();
    if (a1 > a2) std::swap(a1, a2);
    order[{a1, a2}] = b->getIsAromatic() ? 1.5 : double(int(b->getBondType()));
    neighbours[a1].push_back(a2);
    neighbours[a2].push_back(a1);
  }
  auto bond = [&](unsigned a, unsigned b) { return order.at({std::min(a, b), std::max(a, b)}); };
  std::map<int, double> atom_types;
  std::map<std::vector<int>, double> connections;
  for (unsigned a = 0; a < n; ++a) {
    atom_types[mol.getAtomWithIdx(a)->getAtomicNum()] += 1;
    auto& nb = neighbours[a];
    std::sort(nb.begin(), nb.end());
    nb.erase(std::unique(nb.begin(), nb.end()), nb.end());
    for (size_t i = 0; i < nb.size(); ++i) {
      const double oi = bond(a, nb[i]);
      const int ci = cls[nb[i]];
      if (oi > 1 && nb[i] > a) connections[{std::min(cls[a], ci), std::max(cls[a], ci)}] += oi * (oi - 1) / 2;
      for (size_t j = i + 1; j < nb.size(); ++j) {
        const int cj = cls[nb[j]];
        connections[{std::min(ci, cj), cls[a], std::max(ci, cj)}] += oi * bond(a, nb[j]);
      }
    }
  }
  if (connections.empty()) connections[{0}] = 1;
  double total = 0;
  for (const auto& [k, v] : connections) total += v;
  return double(n) * info_entropy(atom_types) + total * (info_entropy(connections) + std::log2(total));
}

const std::vector<std::string> kGuacamolDescriptors = {"BertzCT",  "MolLogP",       "MolWt",
                                                       "TPSA",     "NumHAcceptors", "NumHDonors",
                                                       "NumRotatableBonds", "NumAliphaticRings", "NumAromaticRings"};

std::vector<double> guacamol_descriptors(const std::string& smiles) {
  const auto m = parse_smiles_or_throw(smiles);
  namespace D = RDKit::Descriptors;
  return {bertz_ct(*m),
          D::calcClogP(*m),
          D::calcAMW(*m),
          D::calcTPSA(*m),
          double(D::calcNumHBA(*m)),
          double(D::calcNumHBD(*m)),
          double(D::calcNumRotatableBonds(*m)),
          double(D::calcNumAliphaticRings(*m)),
          double(D::calcNumAromaticRings(*m))};
}

double continuous_kl(const std::vector<double>& reference, const std::vector<double>& sample) {
  if (reference.size() < 2 || sample.size() < 2) throw std::invalid_argument("continuous_kl: each set needs at least 2 values");
  double lo = reference[0], hi = reference[0];
  for (const auto* set : {&reference, &sample}) {
    for (double v : *set) lo = std::min(lo, v), hi = std::max(hi, v);
  }
  std::vector<double> at(1000);
  for (size_t k = 0; k < at.size(); ++k) at[k] = lo + double(k) * (hi - lo) / 999.0;
  at.back() = hi;
  auto p = kde(reference, at), q = kde(sample, at);
  for (auto& v : p) v += 1e-10;
  for (auto& v : q) v += 1e-10;
  return kl_normalised(p, q);
}

double discrete_kl(const std::vector<double>& reference, const std::vector<double>& sample) {
  if (reference.empty() || sample.empty()) throw std::invalid_argument("discrete_kl: empty set");
  constexpr int kBins = 10;
  double lo = *std::min_element(reference.begin(), reference.end()), hi = *std::max_element(reference.begin(), reference.end());
  if (lo == hi) lo -= 0.5, hi += 0.5;  // numpy's range for a constant sample
  std::vector<double> edges(kBins + 1);
  const double step = (hi - lo) / kBins;
  for (int k = 0; k <= kBins; ++k) edges[size_t(k)] = lo + k * step;
  edges[kBins] = hi;
  auto histogram = [&](const std::vector<double>& x) {
    std::vector<double> counts(kBins, 0.0);
    double total = 0;
    for (double v : x) {
      if (v < lo || v > hi) continue;
      int i = std::min(int((v - lo) / (hi - lo) * kBins), kBins - 1);
      if (v < edges[size_t(i)]) --i;  // numpy's corrections for rounding at the edges
      else if (i != kBins - 1 && v >= edges[size_t(i + 1)]) ++i;
      counts[size_t(i)] += 1;
      total += 1;
    }
    for (auto& c : counts) c = (total > 0 ? c / (total * step) : 0.0) + 1e-10;
    return counts;
  };
  return kl_normalised(histogram(reference), histogram(sample));
}

GuacamolKl guacamol_kl(const std::vector<std::string>& generated, std::vector<std::string> reference) {
  if (generated.size() < 2 || reference.size() < 2) {
    throw std::invalid_argument("GuacaMol KL: needs at least 2 molecules on each side (" + std::to_string(generated.size()) + " generated, " +
                                std::to_string(reference.size()) + " reference)");
  }
  if (reference.size() > generated.size()) {
    std::mt19937_64 rng(42);
    std::shuffle(reference.begin(), reference.end(), rng);
    reference.resize(generated.size());
  }
  const size_t D = kGuacamolDescriptors.size();
  std::vector<std::vector<double>> g(D), r(D);
  for (const auto& s : generated) {
    const auto d = guacamol_descriptors(s);
    for (size_t k = 0; k < D; ++k) g[k].push_back(std::isfinite(d[k]) ? d[k] : 0.0);
  }
  for (const auto& s : reference) {
    const auto d = guacamol_descriptors(s);
    for (size_t k = 0; k < D; ++k) r[k].push_back(std::isfinite(d[k]) ? d[k] : 0.0);
  }
  GuacamolKl out;
  out.generated = int64_t(generated.size());
  out.reference = int64_t(reference.size());
  for (size_t k = 0; k < D; ++k) out.kl[kGuacamolDescriptors[k]] = k < 4 ? continuous_kl(r[k], g[k]) : discrete_kl(r[k], g[k]);
  out.kl["internal_similarity"] = continuous_kl(max_internal_similarity(reference), max_internal_similarity(generated));
  double sum = 0;
  for (const auto& [name, kl] : out.kl) sum += std::exp(-kl);
  out.score = sum / double(out.kl.size());
  return out;
}

}  // namespace diffuse::molecule
