// Molecule dataset assembly.
#include "modalities/molecule/dataset.h"

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <set>

#include "modalities/molecule/chem.h"

namespace diffuse::molecule {

std::vector<std::string> default_molecule_files() {
  std::vector<std::string> out;
  for (const char* f : {"/usr/share/RDKit/Data/NCI/first_5K.smi", "/usr/share/RDKit/Contrib/FreeWilson/data/CHEMBL2321810.smi",
                        "/usr/share/RDKit/Contrib/fraggle/data/ChEMBL_11265_actives.smi", "/usr/share/RDKit/Contrib/Fastcluster/cdk2.smi",
                        "/usr/share/RDKit/Projects/DbCLI/testData/bzr.smi", "/usr/share/RDKit/Projects/DbCLI/testData/pubchem.200.sdf",
                        "/usr/share/RDKit/Contrib/PBF/testData/egfr.sdf"}) {
    if (std::filesystem::exists(f)) out.push_back(f);
  }
  if (out.empty()) throw std::runtime_error("no rdkit-data molecule files under /usr/share/RDKit (install the Debian package rdkit-data)");
  return out;
}

MoleculeDataset load_molecule_dataset(const std::vector<std::string>& files, const CodecConfig& c, int64_t test_percent) {
  MoleculeDataset ds;
  std::set<std::string> seen;
  for (const auto& f : files) {
    ReadReport r;
    const auto smiles = read_molecules(f, &r);
    ds.read += r.read;
    for (const auto& [why, n] : r.failures) ds.dropped[why] += n;
    for (const auto& s : smiles) {
      if (!seen.insert(s).second) {
        ++ds.duplicates;
        continue;
      }
      try {
        encode(s, c);
      } catch (const std::invalid_argument& e) {
        std::string why = e.what();
        if (why.rfind("too many heavy atoms", 0) == 0) why = "more than " + std::to_string(c.max_atoms) + " heavy atoms";
        ++ds.dropped[why];
        continue;
      }
      if (properties(s).fragments != 1) {
        ++ds.dropped["more than one fragment (salts, mixtures)"];
        continue;
      }
      // FNV-1a of the canonical SMILES: the split does not depend on file order.
      uint64_t h = 1469598103934665603ULL;
      for (unsigned char ch : s) h = (h ^ ch) * 1099511628211ULL;
      (int64_t(h % 100) < test_percent ? ds.test : ds.train).push_back(s);
    }
  }
  return ds;
}

// The molecule files named by --data: files as they are, folders as their SDF, SMILES and CSV
// files (sorted); a missing path or a folder without such files is refused by name.
std::vector<std::string> molecule_files(const std::vector<std::string>& paths) {
  std::vector<std::string> out;
  for (const auto& p : paths) {
    std::error_code ec;
    if (std::filesystem::is_directory(p, ec)) {
      std::vector<std::string> found;
      for (const auto& e : std::filesystem::directory_iterator(p)) {
        const auto ext = e.path().extension().string();
        if (e.is_regular_file() && (ext == ".sdf" || ext == ".smi" || ext == ".csv")) found.push_back(std::filesystem::absolute(e.path()).string());
      }
      if (found.empty()) throw std::invalid_argument("--data " + p + ": a folder without .sdf, .smi or .csv files");
      std::sort(found.begin(), found.end());
      out.insert(out.end(), found.begin(), found.end());
    } else if (std::filesystem::is_regular_file(p, ec)) {
      out.push_back(std::filesystem::absolute(p).string());  // the recipe names it for eval from anywhere
    } else {
      throw std::invalid_argument("--data " + p + ": no such file or folder (expected an SDF, SMILES or CSV file, or a folder of them)");
    }
  }
  return out;
}

MoleculeDataset load_molecule_data(const Json& data, const CodecConfig& c) {
  std::vector<std::string> files;
  if (data.contains("files")) files = data.at("files").get<std::vector<std::string>>();
  else files = default_molecule_files();
  auto ds = load_molecule_dataset(files, c);
  std::string from;
  for (const auto& f : files) from += (from.empty() ? "" : ", ") + f;
  if (data.contains("files")) std::cerr << "molecules from " << from << "\n";
  std::cerr << "molecules: " << ds.read << " read, " << ds.duplicates << " duplicates, kept " << ds.train.size() << " train + "
            << ds.test.size() << " test";
  for (const auto& [why, n] : ds.dropped) std::cerr << "; dropped " << n << " (" << why << ")";
  std::cerr << "\n";
  if (ds.train.empty()) {
    throw std::runtime_error(from + ": no training molecules left (" + std::to_string(ds.read) + " read, " + std::to_string(ds.train.size() + ds.test.size()) +
                             " kept; the reasons above); expected molecules of the vocabulary's elements, one fragment each");
  }
  return ds;
}


}  // namespace diffuse::molecule
