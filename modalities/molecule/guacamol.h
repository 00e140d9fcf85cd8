// The GuacaMol KL-divergence benchmark (Brown et al. 2019, guacamol/distribution_learning_benchmark.py):
// nine physico-chemical descriptors and the internal nearest-neighbour similarity of a generated
// set against a reference set, each as a KL divergence, scored as the mean of exp(-KL). Written
// from GuacaMol's definitions; BertzCT is ported from RDKit's Python (RDKit's C++ has none).
#pragma once
#include <map>
#include <string>
#include <vector>

namespace RDKit {
class ROMol;
}

namespace diffuse::molecule {

// Bertz's complexity index as rdkit.Chem.GraphDescriptors.BertzCT computes it (cutoff 100).
double bertz_ct(const RDKit::ROMol& mol);

// GuacaMol's descriptors, in its order: BertzCT, MolLogP, MolWt, TPSA (continuous), then
// NumHAcceptors, NumHDonors, NumRotatableBonds, NumAliphaticRings, NumAromaticRings (counts).
extern const std::vector<std::string> kGuacamolDescriptors;
// A SMILES's descriptors in that order; throws std::invalid_argument when it does not parse.
std::vector<double> guacamol_descriptors(const std::string& smiles);

// KL(P || Q) of Gaussian KDEs (Scott's bandwidth, as scipy.stats.gaussian_kde) of the reference
// (P) and the sample (Q), on 1,000 points spanning both, each density + 1e-10 and normalised.
double continuous_kl(const std::vector<double>& reference, const std::vector<double>& sample);
// KL(P || Q) of 10-bin histograms over the reference's range (as numpy.histogram; values of the
// sample outside it are not counted), densities + 1e-10 and normalised.
double discrete_kl(const std::vector<double>& reference, const std::vector<double>& sample);

struct GuacamolKl {
  std::map<std::string, double> kl;  // descriptor (and internal_similarity) -> KL divergence
  double score = 0;                  // mean of exp(-KL) over the ten
  int64_t generated = 0, reference = 0;  // the molecules each side contributed
};
// generated: unique valid SMILES; reference: held-out SMILES, of which GuacaMol's equal-size
// random subset (seed 42) is taken when it is larger than the generated set, since the internal
// similarity grows with the set's size. Throws std::invalid_argument when either has < 2.
GuacamolKl guacamol_kl(const std::vector<std::string>& generated, std::vector<std::string> reference);

}  // namespace diffuse::molecule
