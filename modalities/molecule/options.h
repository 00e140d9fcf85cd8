// The molecule modality's own options, one struct per command (core/args.h): registered with CLI11
// by plugin.cpp and read by the pipelines as options<T>() of their arguments.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/args.h"

namespace diffuse::molecule {

// `train molecule`.
struct MoleculeTrainOptions : PluginOptions {
  std::string data;                  // "" = rdkit-data, else an SDF, SMILES or CSV file or a folder of them
  std::vector<std::string> smiles_columns;  // the CSV columns holding SMILES ({}: smiles, or a headerless first column)
  int64_t max_atoms = 40;            // heavy atoms the codec holds (a new model; 0: not given)
  std::string objective = "discrete";  // discrete, categorical or regression ("": not given, discrete for a new model)
  int64_t data_n = 0;                // the first N molecules (0: all)
};

// `sample molecule`, and `eval molecule` (which sets only repair and reference).
struct MoleculeSampleOptions : PluginOptions {
  int64_t atoms = 0;    // heavy atoms per molecule (0: drawn from the training set)
  int64_t n_valid = 0;  // sample until this many are valid (0: --n draws)
  bool repair = false;  // valence-aware decoding
  std::vector<std::string> reference;  // eval: held-out molecules of the user's (files) instead of the data's test split
  std::string scaffold;  // SMILES kept fixed (inpainting); "" = none
};

}  // namespace diffuse::molecule
