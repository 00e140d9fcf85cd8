// The molecule modality's command-line options: `train|sample|eval molecule`.
#include "modalities/molecule/plugin.h"

#include "core/cli_options.h"
#include "modalities/molecule/molecule_pipeline.h"

namespace diffuse::molecule {
namespace {

struct TrainOptions {
  std::string data, objective = "discrete";
  int64_t data_n = 0;
};

struct SampleOptions {
  int64_t atoms = 0, n_valid = 0;
  bool repair = false;
  std::string scaffold;
};

}  // namespace

PipelineCommands molecule_plugin() {
  auto p = molecule_pipeline();
  p.summary = "a graph DiT over atoms and bonds (discrete DiGress or continuous), decoded by RDKit to SDF with 3-D coordinates";
  p.shipped = "rdkit-data/graph-dit.safetensors";
  p.train_options = [](CLI::App& c) -> std::function<Json()> {
    auto o = std::make_shared<TrainOptions>();
    c.add_option("--data", o->data, "rdkit-data (default), or an SDF, SMILES (.smi) or CSV (smiles column) file, or a folder of them");
    c.add_option("--data-n", o->data_n, "use only the first N molecules")->check(positive_number());
    c.add_option("--objective", o->objective, "discrete (DiGress marginal transitions, its own sampler), categorical (logits\n"
                                              "and cross-entropy under continuous noise) or regression (EDM on the one-hot values)")
        ->capture_default_str()->check(CLI::IsMember({"discrete", "categorical", "regression"}));
    return [o] {
      return Json{{"data", o->data.empty() ? Json::object() : Json{{"files", {o->data}}}}, {"objective", o->objective}, {"data_n", o->data_n}};
    };
  };
  p.sample_options = [](CLI::App& c) -> std::function<Json()> {
    auto o = std::make_shared<SampleOptions>();
    c.add_option("--atoms", o->atoms, "heavy atoms per molecule (default: drawn from the training set)")->check(positive_number());
    c.add_flag("--repair", o->repair, "valence-aware decoding (drops the weakest bonds of over-valent atoms)");
    c.add_option("--n-valid", o->n_valid, "sample until this many are valid and write exactly those (instead of --n)")->check(positive_number());
    auto* scaffold = c.add_option("--scaffold", o->scaffold, "SMILES kept fixed while the rest of each molecule is generated (inpainting)");
    return [o, scaffold] {
      Json a = {{"repair", o->repair}};
      if (o->atoms) a["atoms"] = o->atoms;
      if (o->n_valid) a["n_valid"] = o->n_valid;
      if (scaffold->count() > 0) {
        if (o->scaffold.find_first_not_of(" \t") == std::string::npos) throw std::invalid_argument("--scaffold '" + o->scaffold + "': expected a SMILES substructure");
        a["scaffold"] = o->scaffold;
      }
      return a;
    };
  };
  p.eval_options = [](CLI::App& c) -> std::function<Json()> {
    auto repair = std::make_shared<bool>(false);
    c.add_flag("--repair", *repair, "score samples decoded with valence repair and fragment joining");
    return [repair] { return Json{{"repair", *repair}}; };
  };
  return p;
}

}  // namespace diffuse::molecule
