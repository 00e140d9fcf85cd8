// Set-level comparisons of generated molecules with a reference set, as MOSES defines them
// (Polykovskiy et al. 2020): internal diversity, nearest-neighbour similarity, and cosine
// similarities of Bemis-Murcko scaffold and BRICS fragment frequencies.
#pragma once
#include <string>
#include <vector>

namespace diffuse::molecule {

struct SetSimilarity {
  double internal_diversity = 0;    // 1 - mean Tanimoto over distinct pairs of the generated set (Morgan r=2, 1024 bits)
  double nn_similarity = 0;         // mean over generated of the highest Tanimoto to any reference molecule
  double scaffold_similarity = 0;   // cosine of Bemis-Murcko scaffold counts (ring-free molecules have none)
  double fragment_similarity = 0;   // cosine of BRICS fragment counts
};

// SMILES in, canonical or not; unparsable ones are skipped. Either set empty gives zeros.
SetSimilarity compare_sets(const std::vector<std::string>& generated, const std::vector<std::string>& reference);

// Canonical SMILES of the Bemis-Murcko scaffold ("" for a molecule without rings).
std::string murcko_scaffold(const std::string& smiles);
// Canonical SMILES of the BRICS fragments (with dummy atoms at the broken bonds).
std::vector<std::string> brics_fragments(const std::string& smiles);

}  // namespace diffuse::molecule
