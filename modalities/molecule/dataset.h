// Molecule datasets: SMILES/CSV/SDF files, deduplicated by canonical SMILES, filtered by the
// codec's elements, charges and heavy-atom count (with a report of what was dropped and why), and
// split into train and test by a hash of the canonical SMILES (fixed, order-independent). The
// default set gathers the SMILES and SDF files the Debian package rdkit-data ships.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "core/json.h"
#include "modalities/molecule/codec.h"

namespace diffuse::molecule {

// The rdkit-data files of the default set (those present on this machine).
std::vector<std::string> default_molecule_files();

struct MoleculeDataset {
  std::vector<std::string> train, test;  // canonical SMILES
  int64_t read = 0, duplicates = 0;
  std::map<std::string, int64_t> dropped;  // reason -> count
};

// The molecule files named by --data: files as they are (absolute), folders as their SDF, SMILES
// and CSV files (sorted); a missing path or a folder without such files is refused by name.
std::vector<std::string> molecule_files(const std::vector<std::string>& paths);

// A recipe's data spec ({"files": [...]} or the rdkit-data default) loaded and filtered for the
// codec, with what was read, kept and dropped (and why) on stderr; throws when nothing is left.
MoleculeDataset load_molecule_data(const Json& data, const CodecConfig& c);

// test_percent of the molecules (by hash) form the test split.
MoleculeDataset load_molecule_dataset(const std::vector<std::string>& files, const CodecConfig& c, int64_t test_percent = 10);

}  // namespace diffuse::molecule
