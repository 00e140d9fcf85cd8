// Molecules through RDKit, behind plain types (RDKit stays in this folder's .cpp files): read
// SMILES files, CSV with a SMILES column and SDF; canonical SMILES and properties; write SDF with
// ETKDG + MMFF 3-D coordinates (2-D and flagged when embedding fails) and per-molecule data.
#pragma once
#include <map>
#include <string>
#include <vector>

namespace diffuse::molecule {

struct ReadReport {
  int64_t read = 0, parsed = 0;
  std::map<std::string, int64_t> failures;  // reason -> count
};

// Canonical SMILES of every parsable record of a .smi/.smiles/.txt (first token per line), .csv
// or .sdf file. A CSV's molecules are in `columns` (header names; several are read row by row),
// else in a column named smiles or canonical_smiles (any case), else, in a file without a header
// whose first cell is a SMILES, in the first column; # lines are comments. Unparsable records are
// counted in the report by reason; a missing file, an unknown extension or a missing column
// throws naming it.
std::vector<std::string> read_molecules(const std::string& path, ReadReport* report = nullptr, const std::vector<std::string>& columns = {});

// The molecule written from a random atom order (seeded), not canonicalised: another SMILES of it.
std::string random_smiles(const std::string& smiles, int seed);

// The largest fragment (most heavy atoms; the first in canonical order on a tie) of a SMILES, as
// canonical SMILES: salts and solvents stripped. "" when it does not parse.
std::string largest_fragment(const std::string& smiles);

// Canonical SMILES, or "" when RDKit cannot parse and sanitise it.
std::string canonical_smiles(const std::string& smiles);

struct Properties {
  double mw = 0, logp = 0, tpsa = 0, qed = 0;
  int64_t heavy_atoms = 0, rings = 0, hbd = 0, hba = 0, rotatable = 0, fragments = 0;
};
// QED as rdkit.Chem.QED.qed computes it (see qed.h). Throws std::invalid_argument naming the
// SMILES when it does not parse.
Properties properties(const std::string& smiles);

// Crippen logP alone (Properties::logp without the rest's cost); throws as properties() does.
double logp(const std::string& smiles);

// Whether `smiles` contains `pattern` (a SMILES read as a query; aromaticity as RDKit perceives it).
bool has_substructure(const std::string& smiles, const std::string& pattern);

struct SdfRecord {
  std::string smiles;                         // what to write
  std::map<std::string, std::string> fields;  // extra data fields (validity, seed, ...)
};
struct SdfReport {
  int64_t written = 0, embedded_3d = 0, flat_2d = 0;
};
// Writes every record with explicit hydrogens and 3-D coordinates from ETKDGv3 (seeded) plus MMFF94
// optimisation; records that fail embedding get 2-D coordinates and embedded_3d = 0. Fields:
// SMILES (canonical), valid (1: sanitised by RDKit), QED, MW, logP, TPSA, heavy_atoms and the
// record's own. Atomic; no overwrite
// without force. V3000 is used for molecules above 999 atoms or bonds.
SdfReport write_sdf(const std::string& path, const std::vector<SdfRecord>& records, int seed, bool force);

// The records of an SDF file as SMILES (canonical, hydrogens removed) with their data fields;
// unparsable records are skipped and counted in `skipped` when given.
std::vector<SdfRecord> read_sdf(const std::string& path, int64_t* skipped = nullptr);

// A 2-D depiction by RDKit's drawing code as an inline SVG element (no XML declaration).
std::string depict_svg(const std::string& smiles, int width, int height);

}  // namespace diffuse::molecule
