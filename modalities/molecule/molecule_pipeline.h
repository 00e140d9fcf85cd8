// `diffuse train|sample|eval molecule`: a graph DiT over the codec's one-hot node and edge
// tensors (continuous relaxation, EDM), conditioned on logP bins with CFG and on the heavy-atom
// count through the node mask; decoded with RDKit and written to SDF with 3-D coordinates.
#pragma once
#include <string>
#include <vector>

#include "core/modality.h"
#include "core/pipeline.h"

namespace diffuse::molecule {

PipelineCommands molecule_pipeline();

// The files `sample molecule` writes.
inline const std::vector<std::string> kMoleculeFormats = {".sdf", ".smi"};

// n molecules through the generic pipeline. args: checkpoint, seed, sampler options, label ("" or
// "data": the training mix), atoms (0: drawn from the training set), repair, scaffold (SMILES kept
// fixed in atoms 0..k-1 while the rest is inpainted: the denoiser's prediction is replaced by the
// scaffold's one-hot values there; a discrete model redraws them from the forward process each
// step). A discrete model ignores the sampler option and runs its ancestral sampler ("discrete")
// for `steps` steps (default: recipe.discrete.sampling_steps, 100). Generated::info holds per
// item smiles (canonical, "" for invalid ones), valid, connected, repaired, atoms (heavy atoms)
// and, with a scaffold, has_scaffold (an RDKit substructure match).
Generated sample_molecules(const SampleArgs& args, int64_t n);

// `diffuse sample molecule`: args.n draws (or, with args.n_valid, rounds of draws whose seeds
// continue where the last round stopped, until that many are valid; at most 20 x as many draws),
// the valid ones written to args.out (.sdf with 3-D coordinates, or .smi), each with its seed.
void sample_molecules_command(const SampleArgs& args);

// The report's molecule section: for each .sdf in dir, a count and RDKit depictions of the first
// molecules with SMILES, QED, logP and whether they have 3-D coordinates.
std::string molecule_report_section(const std::string& dir);

}  // namespace diffuse::molecule
