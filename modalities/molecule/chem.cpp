// RDKit reading, properties and SDF writing.
#include "modalities/molecule/chem.h"

#include <GraphMol/Depictor/RDDepictor.h>
#include <GraphMol/Descriptors/Crippen.h>
#include <GraphMol/Descriptors/Lipinski.h>
#include <GraphMol/Descriptors/MolDescriptors.h>
#include <GraphMol/Descriptors/MolSurf.h>
#include <GraphMol/MolDraw2D/MolDraw2DSVG.h>
#include <GraphMol/DistGeomHelpers/Embedder.h>
#include <GraphMol/FileParsers/MolSupplier.h>
#include <GraphMol/FileParsers/MolWriters.h>
#include <GraphMol/ForceFieldHelpers/MMFF/MMFF.h>
#include <GraphMol/GraphMol.h>
#include <GraphMol/MolOps.h>
#include <GraphMol/SmilesParse/SmilesParse.h>
#include <GraphMol/SmilesParse/SmilesWrite.h>
#include <GraphMol/Substruct/SubstructMatch.h>
#include <RDGeneral/RDLog.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <numeric>
#include <random>
#include <sstream>
#include <stdexcept>

#include "core/files.h"
#include "modalities/molecule/qed.h"
#include "modalities/molecule/rdkit_util.h"

namespace diffuse::molecule {
namespace {

void quiet_rdkit() {
  static const bool once = [] {
    boost::logging::disable_logs("rdApp.*");
    return true;
  }();
  (void)once;
}

std::string lower_ext(const std::string& path) {
  std::string e = std::filesystem::path(path).extension().string();
  std::transform(e.begin(), e.end(), e.begin(), ::tolower);
  return e;
}

std::vector<std::string> split_csv(const std::string& line) {  // simple CSV: quotes allowed, no embedded newlines
  std::vector<std::string> out(1);
  bool quoted = false;
  for (char ch : line) {
    if (ch == '"') quoted = !quoted;
    else if (ch == ',' && !quoted) out.emplace_back();
    else if (ch != '\r') out.back() += ch;
  }
  return out;
}

// Calls f with every record of an SDF file: the sanitised molecule without hydrogens, or nullptr
// where RDKit cannot parse or sanitise it.
template <typename F>
void each_sdf_record(const std::string& path, F f) {
  RDKit::SDMolSupplier sup(path, /*sanitize=*/true, /*removeHs=*/true);
  while (!sup.atEnd()) {
    std::unique_ptr<RDKit::ROMol> m;
    try {
      m.reset(sup.next());
    } catch (const std::exception&) {
      m.reset();
    }
    f(m.get());
  }
}

}  // namespace

std::unique_ptr<RDKit::RWMol> parse_smiles(const std::string& smiles) {
  quiet_rdkit();
  try {
    return std::unique_ptr<RDKit::RWMol>(RDKit::SmilesToMol(smiles));
  } catch (const std::exception&) {
    return nullptr;
  }
}

std::unique_ptr<RDKit::RWMol> parse_smiles_or_throw(const std::string& smiles) {
  auto m = parse_smiles(smiles);
  if (!m) throw std::invalid_argument("cannot parse SMILES '" + smiles + "'");
  return m;
}

std::string canonical_smiles(const std::string& smiles) {
  auto m = parse_smiles(smiles);
  return m ? RDKit::MolToSmiles(*m) : std::string();
}

std::string random_smiles(const std::string& smiles, int seed) {
  auto m = parse_smiles_or_throw(smiles);
  std::vector<unsigned> order(m->getNumAtoms());
  std::iota(order.begin(), order.end(), 0u);
  std::mt19937 rng{static_cast<unsigned>(seed)};
  std::shuffle(order.begin(), order.end(), rng);
  const std::unique_ptr<RDKit::ROMol> shuffled(RDKit::MolOps::renumberAtoms(*m, order));
  return RDKit::MolToSmiles(*shuffled, /*doIsomericSmiles=*/true, /*doKekule=*/false, /*rootedAtAtom=*/-1, /*canonical=*/false);
}

std::string largest_fragment(const std::string& smiles) {
  auto m = parse_smiles(smiles);
  if (!m) return "";
  std::string best;
  unsigned best_atoms = 0;
  for (const auto& f : RDKit::MolOps::getMolFrags(*m, /*sanitizeFrags=*/false)) {
    const unsigned atoms = f->getNumHeavyAtoms();
    const std::string s = RDKit::MolToSmiles(*f);
    if (best.empty() || atoms > best_atoms || (atoms == best_atoms && s < best)) best = s, best_atoms = atoms;
  }
  return best;
}

namespace {
constexpr size_t kMaxSmilesLength = 400;
}  // namespace

std::vector<std::string> read_molecules(const std::string& path, ReadReport* report, const std::vector<std::string>& columns) {
  if (!std::filesystem::exists(path)) throw std::runtime_error(path + ": no such file");
  quiet_rdkit();
  ReadReport local;
  ReadReport& r = report ? *report : local;
  std::vector<std::string> out;
  auto add = [&](const std::string& smiles) {
    ++r.read;
    if (smiles.empty()) {
      ++r.failures["empty SMILES"];
      return;
    }
    // RDKit's kekulisation is exponential on long aromatic chains; no molecule the codec holds
    // needs this many characters.
    if (smiles.size() > kMaxSmilesLength) {
      ++r.failures["SMILES longer than " + std::to_string(kMaxSmilesLength) + " characters"];
      return;
    }
    // Dummy atoms are no element the codec has, and rings of them make the kekulisation search
    // blow up (a fuzzer's 116-character SMILES took minutes): refused before RDKit sees them.
    if (smiles.find('*') != std::string::npos) {
      ++r.failures["dummy atoms (*)"];
      return;
    }
    const auto c = canonical_smiles(smiles);
    if (c.empty()) {
      ++r.failures["RDKit cannot parse or sanitise"];
      return;
    }
    ++r.parsed;
    out.push_back(c);
  };
  const auto ext = lower_ext(path);
  if (ext == ".sdf" || ext == ".sd" || ext == ".mol") {
    each_sdf_record(path, [&](const RDKit::ROMol* m) {
      ++r.read;
      if (!m) {
        ++r.failures["RDKit cannot parse or sanitise"];
        return;
      }
      ++r.parsed;
      out.push_back(RDKit::MolToSmiles(*m));
    });
    if (r.read == 0) throw std::runtime_error(path + ": no molecule records (expected SDF records, each ending in $$$$)");
    return out;
  }
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot open");
  std::string line;
  if (ext == ".csv") {
    auto next_row = [&] {  // the next line that is neither empty nor a # comment
      while (std::getline(in, line)) {
        if (!line.empty() && line != "\r" && line[0] != '#') return true;
      }
      return false;
    };
    if (!next_row()) throw std::runtime_error(path + ": empty CSV (expected a header with a smiles column, or SMILES in the first column)");
    const auto header = split_csv(line);
    std::vector<size_t> picked;
    for (size_t i = 0; i < header.size(); ++i) {
      std::string h = header[i];
      std::transform(h.begin(), h.end(), h.begin(), ::tolower);
      if (columns.empty() ? (h == "smiles" || h == "canonical_smiles") : std::count(columns.begin(), columns.end(), header[i]) > 0) picked.push_back(i);
    }
    if (!columns.empty() && picked.size() != columns.size()) {
      std::string want;
      for (const auto& c : columns) want += (want.empty() ? "" : ", ") + c;
      throw std::runtime_error(path + ": the CSV header has no column " + want + " (--smiles-column)");
    }
    if (picked.empty()) {
      // A file without a header: SMILES in the first column, when its first row holds one.
      if (header.empty() || canonical_smiles(header[0]).empty()) {
        throw std::runtime_error(path + ": no SMILES column in the CSV header (expected smiles or canonical_smiles, or name one with --smiles-column)");
      }
      picked.push_back(0);
      add(header[0]);
    }
    while (next_row()) {
      const auto cells = split_csv(line);
      for (size_t c : picked) add(c < cells.size() ? cells[c] : std::string());
    }
    return out;
  }
  if (ext != ".smi" && ext != ".smiles" && ext != ".txt") {
    throw std::invalid_argument(path + ": unsupported molecule file '" + ext + "'; one of: .smi, .smiles, .txt, .csv, .sdf");
  }
  while (std::getline(in, line)) {
    std::istringstream ss(line);
    std::string token;
    if (!(ss >> token) || token[0] == '#') continue;
    if (token == "SMILES" || token == "smiles") continue;  // a header line
    add(token);
  }
  return out;
}

Properties properties(const std::string& smiles) {
  auto m = parse_smiles_or_throw(smiles);
  Properties p;
  p.mw = RDKit::Descriptors::calcAMW(*m);
  p.logp = RDKit::Descriptors::calcClogP(*m);
  p.tpsa = RDKit::Descriptors::calcTPSA(*m);
  p.qed = qed(*m);
  p.heavy_atoms = int64_t(m->getNumHeavyAtoms());
  p.rings = int64_t(RDKit::Descriptors::calcNumRings(*m));
  p.hbd = int64_t(RDKit::Descriptors::calcNumHBD(*m));
  p.hba = int64_t(RDKit::Descriptors::calcNumHBA(*m));
  p.rotatable = int64_t(RDKit::Descriptors::calcNumRotatableBonds(*m));
  std::vector<int> frags;
  p.fragments = int64_t(RDKit::MolOps::getMolFrags(*m, frags));
  return p;
}

double logp(const std::string& smiles) {
  auto m = parse_smiles_or_throw(smiles);
  return RDKit::Descriptors::calcClogP(*m);
}

bool has_substructure(const std::string& smiles, const std::string& pattern) {
  auto m = parse_smiles(smiles);
  auto q = parse_smiles_or_throw(pattern);
  RDKit::MatchVectType match;
  return m && RDKit::SubstructMatch(*m, *q, match);
}

SdfReport write_sdf(const std::string& path, const std::vector<SdfRecord>& records, int seed, bool force) {
  check_writable(path, force);
  quiet_rdkit();
  std::ostringstream os;
  SdfReport rep;
  {
    RDKit::SDWriter w(&os, false);
    for (const auto& rec : records) {
      auto m = parse_smiles(rec.smiles);
      if (!m) throw std::invalid_argument(path + ": cannot write SMILES '" + rec.smiles + "' (RDKit cannot parse it)");
      const std::string canonical = RDKit::MolToSmiles(*m);
      const auto props = properties(canonical);
      RDKit::MolOps::addHs(*m);
      auto params = RDKit::DGeomHelpers::ETKDGv3;
      params.randomSeed = seed;
      bool ok = RDKit::DGeomHelpers::EmbedMolecule(*m, params) >= 0;
      if (ok) {
        try {
          RDKit::MMFF::MMFFOptimizeMolecule(*m, 500);
        } catch (const std::exception&) {
          // keep the ETKDG geometry: MMFF lacks parameters for some atoms
        }
      } else {
        m->clearConformers();
        RDDepict::compute2DCoords(*m);
      }
      ok ? ++rep.embedded_3d : ++rep.flat_2d;
      m->setProp("_Name", canonical);
      m->setProp("SMILES", canonical);
      m->setProp("embedded_3d", std::string(ok ? "1" : "0"));
      m->setProp("valid", std::string("1"));
      m->setProp("QED", std::to_string(props.qed));
      m->setProp("MW", std::to_string(props.mw));
      m->setProp("logP", std::to_string(props.logp));
      m->setProp("TPSA", std::to_string(props.tpsa));
      m->setProp("heavy_atoms", std::to_string(props.heavy_atoms));
      for (const auto& [k, v] : rec.fields) m->setProp(k, v);
      w.setForceV3000(m->getNumAtoms() > 999 || m->getNumBonds() > 999);
      w.write(*m);
      ++rep.written;
    }
    w.close();
  }
  write_file_atomic(path, os.str(), force);
  return rep;
}

std::vector<SdfRecord> read_sdf(const std::string& path, int64_t* skipped) {
  if (!std::filesystem::exists(path)) throw std::runtime_error(path + ": no such file");
  quiet_rdkit();
  std::vector<SdfRecord> out;
  each_sdf_record(path, [&](const RDKit::ROMol* m) {
    if (!m) {
      if (skipped) ++*skipped;
      return;
    }
    SdfRecord r{RDKit::MolToSmiles(*m), {}};
    for (const auto& k : m->getPropList(/*includePrivate=*/false, /*includeComputed=*/false)) {
      std::string v;
      if (m->getPropIfPresent(k, v)) r.fields[k] = v;
    }
    out.push_back(std::move(r));
  });
  return out;
}

std::string depict_svg(const std::string& smiles, int width, int height) {
  auto m = parse_smiles_or_throw(smiles);
  RDDepict::compute2DCoords(*m);
  RDKit::MolDraw2DSVG drawer(width, height);
  drawer.drawOptions().clearBackground = false;
  drawer.drawMolecule(*m);
  drawer.finishDrawing();
  std::string svg = drawer.getDrawingText();
  if (const auto p = svg.find("<svg"); p != std::string::npos) svg.erase(0, p);  // drop the XML declaration
  return svg;
}

}  // namespace diffuse::molecule
