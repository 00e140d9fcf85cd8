// Molecule metrics: validity, uniqueness, novelty, property distances and set similarities of
// generated molecules against held-out ones, and the judge of `diffuse eval molecule` with its
// calibration rows.
#include "modalities/molecule/metrics.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <random>
#include <set>

#include "core/pipeline.h"
#include "modalities/molecule/chem.h"
#include "modalities/molecule/codec.h"
#include "modalities/molecule/dataset.h"
#include "modalities/molecule/guacamol.h"
#include "modalities/molecule/similarity.h"

namespace diffuse::molecule {

double wasserstein1(std::vector<double> a, std::vector<double> b) {
  if (a.empty() || b.empty()) return std::nan("");
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  // Integrate |F_a^-1(q) - F_b^-1(q)| over q on the union of both quantile grids.
  const int64_t steps = int64_t(std::max(a.size(), b.size())) * 4;
  double sum = 0;
  for (int64_t k = 0; k < steps; ++k) {
    const double q = (double(k) + 0.5) / double(steps);
    sum += std::abs(a[size_t(q * double(a.size()))] - b[size_t(q * double(b.size()))]);
  }
  return sum / double(steps);
}

namespace {

// Validity, uniqueness, novelty against `train`; Wasserstein-1 distances of the property
// distributions, mean QED and the MOSES set similarities (internal diversity, nearest neighbour,
// scaffolds, fragments) against `reference`, for SMILES ("" = invalid).
Json score_smiles(const std::vector<std::string>& smiles, const std::vector<bool>& connected, const std::vector<std::string>& train,
                  const std::vector<std::string>& reference) {
  const std::set<std::string> train_set(train.begin(), train.end());
  std::vector<std::string> valid;
  int64_t n_connected = 0;
  for (size_t i = 0; i < smiles.size(); ++i) {
    if (smiles[i].empty()) continue;
    valid.push_back(smiles[i]);
    n_connected += connected[i] ? 1 : 0;
  }
  const std::set<std::string> unique(valid.begin(), valid.end());
  int64_t novel = 0;
  for (const auto& s : unique) novel += train_set.count(s) ? 0 : 1;
  const double n = double(smiles.size());
  Json j = {{"n", smiles.size()}, {"validity", double(n_connected) / n}, {"validity_allowing_fragments", double(valid.size()) / n},
            {"uniqueness", valid.empty() ? 0.0 : double(unique.size()) / double(valid.size())},
            {"novelty", unique.empty() ? 0.0 : double(novel) / double(unique.size())}};
  std::map<std::string, std::pair<std::vector<double>, std::vector<double>>> dist;
  auto add = [&](const std::string& s, bool generated) {
    const auto p = properties(s);
    for (const auto& [k, v] : std::map<std::string, double>{{"mw", p.mw}, {"logp", p.logp}, {"tpsa", p.tpsa}, {"qed", p.qed},
                                                            {"rings", double(p.rings)}, {"heavy_atoms", double(p.heavy_atoms)}}) {
      (generated ? dist[k].first : dist[k].second).push_back(v);
    }
  };
  for (const auto& s : valid) add(s, true);
  for (const auto& s : reference) add(s, false);
  Json w = Json::object();
  for (const auto& [k, v] : dist) w[k] = wasserstein1(v.first, v.second);
  j["w1"] = w;
  double qed_sum = 0;
  for (double q : dist["qed"].first) qed_sum += q;
  j["mean_qed"] = valid.empty() ? 0.0 : qed_sum / double(valid.size());
  const auto sim = compare_sets(valid, reference);
  j["internal_diversity"] = sim.internal_diversity;
  j["nn_similarity"] = sim.nn_similarity;
  j["scaffold_similarity"] = sim.scaffold_similarity;
  j["fragment_similarity"] = sim.fragment_similarity;
  // GuacaMol's KL benchmark on the unique valid molecules (it needs two on each side).
  if (unique.size() >= 2 && reference.size() >= 2) {
    const auto g = guacamol_kl(std::vector<std::string>(unique.begin(), unique.end()), reference);
    j["guacamol_kl_score"] = g.score;
    j["guacamol_kl"] = g.kl;
  } else {
    j["guacamol_kl_score"] = nullptr;
  }
  return j;
}

// The judge of `eval molecule`: the checkpoint's data (or rdkit-data) split as it trained, its
// held-out molecules the reference (or the user's, --reference). --calibrate adds held-out vs
// train (the floor), held-out molecules with one random bond order changed each (a corrupted
// baseline), their atoms on random trees of single bonds (garbage) and the held-out molecules
// written as random SMILES (the scores must not move).
class MoleculeEvaluator : public Evaluator {
 public:
  MoleculeEvaluator(const Json& recipe, const std::vector<std::string>& reference) : reference_files_(reference) {
    Json data = {{"dataset", "rdkit-data"}, {"version", 2}};
    codec_.max_atoms = kDefaultMaxAtoms;
    if (!recipe.is_null()) {
      codec_ = codec_config_from_json(recipe.at("codec"));
      data = recipe.at("data");
    }
    ds_ = load_molecule_data(data, codec_);
    if (!reference.empty()) ds_.test = load_reference_molecules(reference);
  }

  Json describe() const override {
    Json j = {{"reference", {{"train", ds_.train.size()}, {"held_out", ds_.test.size()}}}};
    if (!reference_files_.empty()) j["reference"]["files"] = reference_files_;
    return j;
  }

  Json calibration(const EvalArgs&) const override {
    Json j;
    j["test_vs_train"] = score_smiles(ds_.test, std::vector<bool>(ds_.test.size(), true), ds_.train, ds_.train);
    std::mt19937_64 rng(0);
    // Each held-out molecule's graph, edited, decoded and scored; a --reference molecule the codec
    // cannot hold has no edited twin.
    const auto edited = [&](const char* name, const auto& edit) {
      std::vector<std::string> smiles;
      std::vector<bool> conn;
      for (const auto& s : ds_.test) {
        EncodedGraph g;
        try {
          g = encode(s, codec_);
        } catch (const std::invalid_argument&) {
          continue;
        }
        edit(g, g.mask.sum().item<int64_t>());
        const auto d = decode(g.nodes, g.edges, g.mask, codec_);
        smiles.push_back(d.valid ? d.smiles : std::string());
        conn.push_back(d.valid && d.connected);
      }
      j[name] = score_smiles(smiles, conn, ds_.train, ds_.test);
    };
    const auto bond = [](EncodedGraph& g, int64_t p, int64_t q, int64_t order) {
      for (auto [i, k] : {std::pair{p, q}, std::pair{q, p}}) {
        g.edges[i][k].zero_();
        g.edges[i][k][order] = 1.0;
      }
    };
    edited("corrupted_test", [&](EncodedGraph& g, int64_t atoms) {  // one bond order changed
      const int64_t p = int64_t(rng() % uint64_t(atoms)), q = int64_t(rng() % uint64_t(atoms));
      if (p != q) bond(g, p, q, (g.edges[p][q].argmax().item<int64_t>() + 1 + int64_t(rng() % 3)) % 4);
    });
    // Garbage with the right atoms: the molecule's atoms (elements and charges) joined by a random
    // tree of single bonds, each atom bonded to one drawn before it.
    edited("random_tree_test", [&](EncodedGraph& g, int64_t atoms) {
      std::vector<int64_t> order(size_t(atoms), 0);
      std::iota(order.begin(), order.end(), 0);
      std::shuffle(order.begin(), order.end(), rng);
      g.edges.zero_();
      g.edges.select(2, 0).fill_(1.0);
      for (int64_t k = 1; k < atoms; ++k) bond(g, order[size_t(k)], order[size_t(rng() % uint64_t(k))], 1);
    });
    std::vector<std::string> rewritten;
    for (const auto& s : ds_.test) rewritten.push_back(canonical_smiles(random_smiles(s, int(rng() % 1000000))));
    j["random_smiles_test"] = score_smiles(rewritten, std::vector<bool>(rewritten.size(), true), ds_.train, ds_.test);
    return j;
  }

  // Generated::info as the molecule decoder fills it (smiles, connected, repaired).
  Json score(const Generated& g, const EvalArgs&) const override {
    const auto smiles = g.info.at("smiles").get<std::vector<std::string>>();
    Json s = score_smiles(smiles, g.info.at("connected").get<std::vector<bool>>(), ds_.train, ds_.test);
    int64_t repaired = 0;
    for (bool r : g.info.at("repaired").get<std::vector<bool>>()) repaired += r ? 1 : 0;
    s["repaired"] = repaired;
    s["molecules_per_second"] = double(smiles.size()) / (g.sample_seconds + g.decode_seconds);
    // Conditioning: mean logP of valid samples per requested bin.
    Json per_bin = Json::object();
    for (size_t b = 0; b < g.classes.size(); ++b) {
      double sum = 0;
      int64_t count = 0;
      for (size_t i = 0; i < smiles.size(); ++i) {
        if (g.labels[i] == int64_t(b) && !smiles[i].empty()) sum += logp(smiles[i]), ++count;
      }
      if (count) per_bin[g.classes[b]] = {{"mean_logp", sum / double(count)}, {"valid", count}};
    }
    s["logp_by_requested_bin"] = per_bin;
    return s;
  }

 private:
  std::vector<std::string> reference_files_;
  CodecConfig codec_;
  MoleculeDataset ds_;
};

}  // namespace

std::unique_ptr<Evaluator> molecule_evaluator(const Json& recipe, const std::vector<std::string>& reference) {
  return std::make_unique<MoleculeEvaluator>(recipe, reference);
}

}  // namespace diffuse::molecule
