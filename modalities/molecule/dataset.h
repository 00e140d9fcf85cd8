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

// One molecule file, and for a CSV the columns its SMILES are in (empty: see read_molecules).
struct MoleculeSource {
  std::string path;
  std::vector<std::string> columns;
};

// The rdkit-data files of the default set (those present on this machine). Version 1: the seven
// SMILES and SDF files the first models trained on. Version 2: every file of molecules the
// package ships (SMILES, SDF and CSV, about 19,000 unique structures), without its copies (the
// TPSA tables repeat the NCI set) and without its SMARTS patterns.
std::vector<MoleculeSource> default_molecule_sources(int version = 2);

struct MoleculeDataset {
  std::vector<std::string> train, test;  // canonical SMILES
  int64_t read = 0, duplicates = 0;
  int64_t stripped = 0;                    // salts and mixtures reduced to their largest fragment
  std::map<std::string, int64_t> dropped;  // reason -> count
};

// The molecule files named by --data (or `option`): files as they are (absolute), folders as their
// SDF, SMILES and CSV files (sorted); a missing path or a folder without such files is refused by
// name.
std::vector<std::string> molecule_files(const std::vector<std::string>& paths, const std::string& option = "--data");

// A recipe's data spec ({"files": [...], "columns": [...]} or the rdkit-data default with its
// version) loaded and filtered for the codec, with what was read, kept and dropped (and why) on
// stderr; throws when nothing is left.
MoleculeDataset load_molecule_data(const Json& data, const CodecConfig& c);

// test_percent of the molecules (by hash) form the test split. strip_salts: a molecule of several
// fragments becomes its largest (else it is dropped, as version 1 of the default set did).
MoleculeDataset load_molecule_dataset(const std::vector<MoleculeSource>& sources, const CodecConfig& c, int64_t test_percent = 10,
                                      bool strip_salts = true);

// The molecules of files the user names (eval --reference): read, salts stripped, deduplicated
// (what was read and dropped, and why, on stderr). They are not filtered by any codec: a model
// that cannot hold some of them should score worse for it. Throws when none is left.
std::vector<std::string> load_reference_molecules(const std::vector<std::string>& files);

}  // namespace diffuse::molecule
