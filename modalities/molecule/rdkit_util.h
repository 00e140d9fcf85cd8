// SMILES to an RDKit molecule, one way for the molecule folder's .cpp files (chem.h keeps RDKit
// out of every other header).
#pragma once
#include <GraphMol/RWMol.h>

#include <memory>
#include <string>

namespace diffuse::molecule {

// The sanitised molecule, or nullptr where RDKit cannot parse or sanitise the SMILES; RDKit's own
// error log is silenced (the callers report failures themselves).
std::unique_ptr<RDKit::RWMol> parse_smiles(const std::string& smiles);
// The same, throwing std::invalid_argument "cannot parse SMILES '...'" instead of returning nullptr.
std::unique_ptr<RDKit::RWMol> parse_smiles_or_throw(const std::string& smiles);

}  // namespace diffuse::molecule
