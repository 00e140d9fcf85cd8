// Molecule dataset assembly.
#include "modalities/molecule/dataset.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <set>

#include "core/files.h"
#include "core/system.h"
#include "modalities/molecule/chem.h"

namespace diffuse::molecule {

std::vector<MoleculeSource> default_molecule_sources(int version) {
  const std::string root = "/usr/share/RDKit/";
  std::vector<MoleculeSource> all;
  if (version == 1) {
    for (const char* f : {"Data/NCI/first_5K.smi", "Contrib/FreeWilson/data/CHEMBL2321810.smi", "Contrib/fraggle/data/ChEMBL_11265_actives.smi",
                          "Contrib/Fastcluster/cdk2.smi", "Projects/DbCLI/testData/bzr.smi", "Projects/DbCLI/testData/pubchem.200.sdf",
                          "Contrib/PBF/testData/egfr.sdf"}) {
      all.push_back({root + f, {}});
    }
  } else if (version == 2) {
    for (const char* f : {"Data/NCI/first_5K.smi", "Data/NCI/first_200.props.sdf", "Data/Pains/test_data/wehi_mols.csv",
                          "Contrib/FreeWilson/data/CHEMBL2321810.smi", "Contrib/fraggle/data/ChEMBL_11265_actives.smi",
                          "Contrib/Fastcluster/testdata/cdk2.sdf", "Contrib/PBF/testData/egfr.sdf", "Contrib/mmpa/data/sample.smi",
                          "Contrib/NIBRSubstructureFilters/examples/chembl24_structs_randomtestSample_100.csv",
                          "Projects/DbCLI/testData/bzr.sdf", "Projects/DbCLI/testData/bzr.2.smi", "Projects/DbCLI/testData/pubchem.200.sdf"}) {
      all.push_back({root + f, {}});
    }
    // The NIBR filter table's example molecules from PubChem (its SMARTS column is patterns).
    all.push_back({root + "Contrib/NIBRSubstructureFilters/SubstructureFilter_HitTriaging_wPubChemExamples.csv", {"EX1", "EX2", "EX3", "EX4", "EX5"}});
  } else {
    throw std::invalid_argument("rdkit-data version " + std::to_string(version) + ": expected 1 or 2");
  }
  std::vector<MoleculeSource> out;
  for (auto& s : all) {
    if (std::filesystem::exists(s.path)) out.push_back(std::move(s));
  }
  if (out.empty()) throw std::runtime_error("no rdkit-data molecule files under " + root + " (install the Debian package rdkit-data)");
  return out;
}

namespace {

// FNV-1a: a hash that is the same on every machine and run (the split and the cache's file name).
uint64_t fnv1a(const std::string& text) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char ch : text) h = (h ^ ch) * 1099511628211ULL;
  return h;
}

// The codec's reason for refusing a molecule ("" when it holds it), with sizes as one reason;
// single atoms (what a salt leaves of its ions) are no molecule to learn from.
std::string refusal(const std::string& smiles, const CodecConfig& c) {
  try {
    if (!encode(smiles, c).mask[1].item<bool>()) return "one heavy atom (an ion or solvent)";
  } catch (const std::invalid_argument& e) {
    const std::string why = e.what();
    return why.rfind("too many heavy atoms", 0) == 0 ? "more than " + std::to_string(c.max_atoms) + " heavy atoms" : why;
  }
  return "";
}

// "; dropped N (why)" per reason, the elements outside the vocabulary as one reason with each
// element's count, most frequent first.
void print_dropped(const std::map<std::string, int64_t>& dropped) {
  const std::string pre = "element ", post = " not in the vocabulary";
  std::vector<std::pair<int64_t, std::string>> elements;
  int64_t outside = 0;
  for (const auto& [why, n] : dropped) {
    if (why.rfind(pre, 0) == 0 && why.size() > pre.size() + post.size() && why.compare(why.size() - post.size(), post.size(), post) == 0) {
      elements.push_back({-n, why.substr(pre.size(), why.size() - pre.size() - post.size())});
      outside += n;
    } else {
      std::cerr << "; dropped " << n << " (" << why << ")";
    }
  }
  if (!elements.empty()) {
    std::sort(elements.begin(), elements.end());
    std::cerr << "; dropped " << outside << " (elements not in the vocabulary:";
    for (size_t i = 0; i < elements.size(); ++i) std::cerr << (i ? ", " : " ") << elements[i].second << " " << -elements[i].first;
    std::cerr << ")";
  }
  std::cerr << "\n";
}

// The cleaned set of `sources` for codec c, cached as JSON under cache_dir(): the key hashes each
// file's path, columns, size and modification time with the codec and the options, so an edited
// file is read again. Reading and cleaning the 19,000 molecules of rdkit-data takes about ten seconds.
MoleculeDataset cached_dataset(const std::vector<MoleculeSource>& sources, const CodecConfig& c, int64_t test_percent, bool strip_salts) {
  std::string key = "molecules-v2|" + to_json(c).dump() + "|" + std::to_string(test_percent) + "|" + (strip_salts ? "strip" : "drop");
  for (const auto& src : sources) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(src.path, ec);
    const auto time = std::filesystem::last_write_time(src.path, ec).time_since_epoch().count();
    key += "|" + src.path + "|" + Json(src.columns).dump() + "|" + std::to_string(size) + "|" + std::to_string(time);
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(fnv1a(key)));
  const std::string path = cache_dir() + "/molecules-" + hex + ".json";
  try {
    if (std::filesystem::exists(path)) {
      const auto j = Json::parse(read_file(path));
      if (j.at("key").get<std::string>() == key) {
        MoleculeDataset ds;
        ds.train = j.at("train").get<std::vector<std::string>>();
        ds.test = j.at("test").get<std::vector<std::string>>();
        ds.read = j.at("read").get<int64_t>();
        ds.duplicates = j.at("duplicates").get<int64_t>();
        ds.stripped = j.at("stripped").get<int64_t>();
        ds.dropped = j.at("dropped").get<std::map<std::string, int64_t>>();
        return ds;
      }
    }
  } catch (const std::exception&) {
    // an unreadable cache is rebuilt
  }
  auto ds = load_molecule_dataset(sources, c, test_percent, strip_salts);
  try {
    std::filesystem::create_directories(cache_dir());
    const Json j = {{"key", key},           {"train", ds.train}, {"test", ds.test},       {"read", ds.read},
                    {"duplicates", ds.duplicates}, {"stripped", ds.stripped}, {"dropped", ds.dropped}};
    write_file_atomic(path, j.dump(), /*force=*/true);
  } catch (const std::exception& e) {
    std::cerr << "note: the cleaned molecule set is not cached (" << e.what() << ")\n";
  }
  return ds;
}

}  // namespace

namespace {

// Reads, strips salts (or drops mixtures), deduplicates and splits; with a codec, drops what it
// cannot hold (c null: keeps every parsable molecule, as --reference does).
MoleculeDataset clean_molecules(const std::vector<MoleculeSource>& sources, const CodecConfig* c, int64_t test_percent, bool strip_salts) {
  MoleculeDataset ds;
  std::set<std::string> seen;
  for (const auto& src : sources) {
    ReadReport r;
    const auto smiles = read_molecules(src.path, &r, src.columns);
    ds.read += r.read;
    for (const auto& [why, n] : r.failures) ds.dropped[why] += n;
    for (auto s : smiles) {
      if (s.find('.') != std::string::npos) {
        if (!strip_salts) {
          ++ds.dropped["more than one fragment (salts, mixtures)"];
          continue;
        }
        s = largest_fragment(s);
        ++ds.stripped;
      }
      if (!seen.insert(s).second) {
        ++ds.duplicates;
        continue;
      }
      if (const auto why = c ? refusal(s, *c) : std::string(); !why.empty()) {
        ++ds.dropped[why];
        continue;
      }
      // By a hash of the canonical SMILES: the split does not depend on file order.
      (int64_t(fnv1a(s) % 100) < test_percent ? ds.test : ds.train).push_back(s);
    }
  }
  return ds;
}

}  // namespace

MoleculeDataset load_molecule_dataset(const std::vector<MoleculeSource>& sources, const CodecConfig& c, int64_t test_percent,
                                      bool strip_salts) {
  return clean_molecules(sources, &c, test_percent, strip_salts);
}

std::vector<std::string> load_reference_molecules(const std::vector<std::string>& files) {
  std::vector<MoleculeSource> sources;
  for (const auto& f : molecule_files(files, "--reference")) sources.push_back({f, {}});
  const auto ds = clean_molecules(sources, nullptr, /*test_percent=*/100, /*strip_salts=*/true);
  std::cerr << "reference molecules: " << ds.read << " read, " << ds.duplicates << " duplicates, " << ds.stripped << " salts stripped, kept "
            << ds.test.size();
  print_dropped(ds.dropped);
  if (ds.test.size() < 2) {
    throw std::runtime_error(files.front() + ": " + std::to_string(ds.test.size()) + " reference molecules (expected at least 2; the reasons above)");
  }
  return ds.test;
}

// The molecule files named by --data: files as they are, folders as their SDF, SMILES and CSV
// files (sorted); a missing path or a folder without such files is refused by name.
std::vector<std::string> molecule_files(const std::vector<std::string>& paths, const std::string& option) {
  std::vector<std::string> out;
  for (const auto& p : paths) {
    std::error_code ec;
    if (std::filesystem::is_directory(p, ec)) {
      std::vector<std::string> found;
      for (const auto& e : std::filesystem::directory_iterator(p)) {
        const auto ext = e.path().extension().string();
        if (e.is_regular_file() && (ext == ".sdf" || ext == ".smi" || ext == ".csv")) found.push_back(std::filesystem::absolute(e.path()).string());
      }
      if (found.empty()) throw std::invalid_argument(option + " " + p + ": a folder without .sdf, .smi or .csv files");
      std::sort(found.begin(), found.end());
      out.insert(out.end(), found.begin(), found.end());
    } else if (std::filesystem::is_regular_file(p, ec)) {
      out.push_back(std::filesystem::absolute(p).string());  // the recipe names it for eval from anywhere
    } else {
      throw std::invalid_argument(option + " " + p + ": no such file or folder (expected an SDF, SMILES or CSV file, or a folder of them)");
    }
  }
  return out;
}

MoleculeDataset load_molecule_data(const Json& data, const CodecConfig& c) {
  std::vector<MoleculeSource> sources;
  const bool files = data.contains("files");
  const int version = files ? 0 : data.value("version", 1);  // recipes before version 2 name no version
  if (files) {
    const auto columns = data.value("columns", std::vector<std::string>{});
    for (const auto& f : data.at("files").get<std::vector<std::string>>()) sources.push_back({f, columns});
  } else {
    sources = default_molecule_sources(version);
  }
  auto ds = cached_dataset(sources, c, 10, /*strip_salts=*/version != 1);
  std::string from;
  for (const auto& s : sources) from += (from.empty() ? "" : ", ") + s.path;
  if (files) std::cerr << "molecules from " << from << "\n";
  std::cerr << "molecules: " << ds.read << " read, " << ds.duplicates << " duplicates, " << ds.stripped << " salts stripped, kept "
            << ds.train.size() << " train + " << ds.test.size() << " test";
  print_dropped(ds.dropped);
  if (ds.train.empty()) {
    throw std::runtime_error(from + ": no training molecules left (" + std::to_string(ds.read) + " read, " + std::to_string(ds.train.size() + ds.test.size()) +
                             " kept; the reasons above); expected molecules of the vocabulary's elements");
  }
  return ds;
}

}  // namespace diffuse::molecule
