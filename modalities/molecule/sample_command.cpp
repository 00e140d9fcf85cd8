// `diffuse sample molecule`: rounds of draws through the generic pipeline (sample_molecules), the
// valid ones written as SDF with 3-D coordinates or as SMILES.
#include <iomanip>
#include <iostream>

#include "core/files.h"
#include "modalities/molecule/chem.h"
#include "modalities/molecule/molecule_pipeline.h"
#include "modalities/molecule/options.h"

namespace diffuse::molecule {

void sample_molecules_command(const SampleArgs& a) {
  const std::string& out = a.out;
  const bool force = a.force;
  const SampleFiles files(out, 1, force, kMoleculeFormats, "molecule", SampleFiles::Numbering::kOne);
  const int64_t n = a.n;
  // --n-valid N: draw rounds of samples (seeds continue where the last round stopped) until N are
  // valid, and write exactly those N; at most 20 N draws.
  const int64_t want_valid = a.options<MoleculeSampleOptions>().n_valid;
  std::vector<SdfRecord> records;
  std::string smi;
  const uint64_t seed = a.seed;
  int64_t drawn = 0, with_scaffold = 0;
  double seconds = 0;
  bool scaffold = false;
  do {
    const int64_t round = want_valid > 0 ? std::max<int64_t>(16, (want_valid - int64_t(records.size())) * 5 / 4) : n;
    SampleArgs ra = a;
    ra.seed = seed + uint64_t(drawn);
    const auto g = sample_molecules(ra, round);
    seconds += g.sample_seconds + g.decode_seconds;
    const auto smiles = g.info.at("smiles").get<std::vector<std::string>>();
    const auto connected = g.info.at("connected").get<std::vector<bool>>(), repaired = g.info.at("repaired").get<std::vector<bool>>();
    const auto has_scaffold = g.info.value("has_scaffold", std::vector<bool>());
    scaffold = !has_scaffold.empty();
    for (int64_t i = 0; i < round; ++i) {
      const uint64_t item_seed = seed + uint64_t(drawn + i);
      if (smiles[size_t(i)].empty() || (want_valid > 0 && int64_t(records.size()) == want_valid)) continue;
      records.push_back({smiles[size_t(i)], {{"seed", std::to_string(item_seed)}, {"requested", g.classes[size_t(g.labels[size_t(i)])]},
                                                {"connected", connected[size_t(i)] ? "1" : "0"}, {"repaired", repaired[size_t(i)] ? "1" : "0"}}});
      if (scaffold) {
        records.back().fields["has_scaffold"] = has_scaffold[size_t(i)] ? "1" : "0";
        with_scaffold += has_scaffold[size_t(i)] ? 1 : 0;
      }
      smi += smiles[size_t(i)] + "\t" + std::to_string(item_seed) + "\n";
    }
    drawn += round;
    if (want_valid > 0 && int64_t(records.size()) < want_valid && drawn >= 20 * want_valid) {
      throw std::runtime_error("--n-valid " + std::to_string(want_valid) + ": only " + std::to_string(records.size()) + " valid molecules in " +
                               std::to_string(drawn) + " samples; nothing written");
    }
  } while (want_valid > 0 && int64_t(records.size()) < want_valid);
  if (files.format() == ".smi") {
    write_file_atomic(out, smi, force);
  } else {
    const auto rep = write_sdf(out, records, int(seed), force);
    std::cout << rep.embedded_3d << " with 3-D coordinates, " << rep.flat_2d << " flagged 2-D (embedding failed)\n";
  }
  std::cout << "wrote " << records.size() << " valid molecules of " << drawn << " sampled to " << out << " (" << std::fixed << std::setprecision(1)
            << double(drawn) / seconds << " molecules/s)\n";
  if (scaffold) std::cout << with_scaffold << " of " << records.size() << " contain the scaffold " << a.options<MoleculeSampleOptions>().scaffold << "\n";
}

}  // namespace diffuse::molecule
