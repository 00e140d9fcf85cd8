// QED drug-likeness (Bickerton et al. 2012) with RDKit's property definitions and mean weights.
#pragma once
#include <cstdint>

namespace RDKit {
class ROMol;
}

namespace diffuse::molecule {

// The eight QED inputs, defined as rdkit.Chem.QED.properties defines them.
struct QedProperties {
  double mw = 0, alogp = 0, psa = 0;
  int64_t hba = 0, hbd = 0, rotb = 0, arom = 0, alerts = 0;
};
QedProperties qed_properties(const RDKit::ROMol& mol);
// In (0, 1]; higher is more drug-like. Matches rdkit.Chem.QED.qed (weights "mean").
double qed(const QedProperties& p);
double qed(const RDKit::ROMol& mol);

}  // namespace diffuse::molecule
