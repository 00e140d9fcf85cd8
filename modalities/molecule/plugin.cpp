// The molecule modality's command-line options: `train|sample|eval molecule`.
#include "modalities/molecule/plugin.h"

#include "core/cli_options.h"
#include "modalities/molecule/molecule_pipeline.h"
#include "modalities/molecule/options.h"

namespace diffuse::molecule {

PipelineCommands molecule_plugin() {
  auto p = molecule_pipeline();
  p.summary = "a graph DiT over atoms and bonds (discrete DiGress or continuous), decoded by RDKit to SDF with 3-D coordinates";
  p.shipped = "rdkit-data/graph-dit.safetensors";
  p.train_options = [](CLI::App& c) -> std::function<void(TrainArgs&)> {
    auto o = std::make_shared<MoleculeTrainOptions>();
    auto init = std::make_shared<std::string>();
    c.add_option("--data", o->data, "rdkit-data (default), or an SDF, SMILES (.smi) or CSV (smiles column) file, or a folder of them");
    c.add_option("--data-n", o->data_n, "use only the first N molecules")->check(positive_number());
    c.add_option("--smiles-column", o->smiles_columns, "the CSV column(s) holding SMILES (default: smiles or canonical_smiles, or the\n"
                                                      "first column of a file without a header)");
    auto* max_atoms = c.add_option("--max-atoms", o->max_atoms, "heavy atoms per molecule the model holds (a new model; 2 to 64)")
                          ->capture_default_str()->check(CLI::Range(2, 64));
    auto* objective = c.add_option("--objective", o->objective,
                                   "discrete (DiGress marginal transitions, its own sampler), categorical (logits\n"
                                   "and cross-entropy under continuous noise) or regression (EDM on the one-hot values)")
                          ->capture_default_str()->check(CLI::IsMember({"discrete", "categorical", "regression"}));
    add_init_option(c, *init);  // keeps the model's codec and noise marginals; --data gives the new molecules
    return [o, max_atoms, objective, init](TrainArgs& a) {
      if (max_atoms->count() == 0) o->max_atoms = 0;  // 0: not given (a new model takes the default, 40)
      if (objective->count() == 0) o->objective.clear();  // "": not given (a new model takes discrete)
      a.own = o;
      a.init = *init;
    };
  };
  p.sample_options = [](CLI::App& c) -> std::function<void(SampleArgs&)> {
    auto o = std::make_shared<MoleculeSampleOptions>();
    c.add_option("--atoms", o->atoms, "heavy atoms per molecule (default: drawn from the training set)")->check(positive_number());
    c.add_flag("--repair", o->repair, "valence-aware decoding (drops the weakest bonds of over-valent atoms)");
    c.add_option("--n-valid", o->n_valid, "sample until this many are valid and write exactly those (instead of --n)")->check(positive_number());
    auto* scaffold = c.add_option("--scaffold", o->scaffold, "SMILES kept fixed while the rest of each molecule is generated (inpainting)");
    return [o, scaffold](SampleArgs& a) {
      if (scaffold->count() > 0 && o->scaffold.find_first_not_of(" \t") == std::string::npos) {
        throw std::invalid_argument("--scaffold '" + o->scaffold + "': expected a SMILES substructure");
      }
      a.own = o;
    };
  };
  p.eval_options = [](CLI::App& c) -> std::function<void(EvalArgs&)> {
    auto o = std::make_shared<MoleculeSampleOptions>();
    c.add_flag("--repair", o->repair, "score samples decoded with valence repair and fragment joining");
    c.add_option("--reference", o->reference, "SDF, SMILES or CSV file(s) of held-out molecules to score against (default: the\n"
                                              "model's data, its test split)");
    return [o](EvalArgs& a) { a.own = o; };
  };
  return p;
}

}  // namespace diffuse::molecule
