// The molecular-graph diffusion pipeline.
#include "modalities/molecule/molecule_pipeline.h"

#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <limits>
#include <random>
#include <set>

#include "core/denoiser.h"
#include "core/dit_pipeline.h"
#include "core/pipeline.h"
#include "core/engine.h"
#include "core/files.h"
#include "core/graph_dit.h"
#include "core/report.h"
#include "core/objectives.h"
#include "core/train/trainer.h"
#include "modalities/molecule/chem.h"
#include "modalities/molecule/codec.h"
#include "modalities/molecule/dataset.h"
#include "modalities/molecule/discrete.h"
#include "modalities/molecule/metrics.h"
#include "modalities/molecule/options.h"
#include "modalities/molecule/similarity.h"

namespace diffuse::molecule {
namespace {

// logP bins: the class labels CFG steers with.
const std::vector<double> kLogpEdges = {0, 1, 2, 3, 4};
std::vector<std::string> logp_classes() {
  return {"logP<0", "logP 0-1", "logP 1-2", "logP 2-3", "logP 3-4", "logP>4"};
}
int64_t logp_bin(double logp) {
  return int64_t(std::upper_bound(kLogpEdges.begin(), kLogpEdges.end(), logp) - kLogpEdges.begin());
}

// One item: nodes (M x Fn) then edges (M x M x 4), one-hot shifted to +-0.5.
torch::Tensor pack(const EncodedGraph& g) { return torch::cat({g.nodes.flatten(), g.edges.flatten()}) - 0.5; }

struct Unpacked {
  torch::Tensor nodes, edges;
};
Unpacked unpack(const torch::Tensor& x, const CodecConfig& c) {
  const int64_t B = x.size(0), M = c.max_atoms, F = c.node_features();
  return {x.slice(1, 0, M * F).view({B, M, F}), x.slice(1, M * F).view({B, M, M, CodecConfig::kEdgeTypes})};
}

torch::Tensor first_n_mask(const torch::Tensor& counts, int64_t M) {
  return torch::arange(M, torch::kLong).unsqueeze(0) < counts.to(torch::kLong).unsqueeze(1);
}

// A categorical recipe's network outputs logits (see graph_probabilities in codec.h); its clean-graph
// estimate is their softmax in the +-0.5 coding, with padding coded as in the data.
bool categorical(const Json& recipe) { return recipe.contains("categorical"); }
// A discrete recipe's network predicts clean-graph logits from a noisy discrete graph (DiGress).
bool discrete(const Json& recipe) { return recipe.contains("discrete"); }
// The network's time input for discrete time t in [0, 1].
constexpr double kDiscreteTimeScale = 1000.0;

// The graph DiT under EDM preconditioning (a regression of the clean graph, or with a categorical
// recipe the softmax of its logits); the node mask comes with the condition.
ConditionalDenoiser graph_denoiser(GraphDiT net, const CodecConfig& c, double sigma_data, bool logits, Precision precision) {
  return [net, c, sigma_data, logits, precision](const torch::Tensor& x, const torch::Tensor& sigma, const Condition& cond) mutable {
    torch::Tensor d;
    const auto forward = [&](const torch::Tensor& nodes, const torch::Tensor& edges, const torch::Tensor& time) {
      AutocastGuard autocast(precision, x.device());
      const auto [n, e] = net->forward(nodes, edges, cond.mask, time, cond.labels);
      return std::make_pair(n.to(torch::kFloat32), e.to(torch::kFloat32));
    };
    if (logits) {
      const auto k = edm_coefficients(sigma.item<double>(), sigma_data);
      const auto u = unpack(k.c_in * x, c);
      const auto [n, e] = forward(u.nodes, u.edges, torch::full({x.size(0)}, k.c_noise, x.options().dtype(torch::kFloat32)));
      const auto [pn, pe] = graph_probabilities(n, e, cond.mask, c);
      d = (torch::cat({pn.flatten(1), pe.flatten(1)}, 1) - 0.5).to(x.dtype());
    } else {
      Network f = [&](const torch::Tensor& x_in, const torch::Tensor& c_noise) {
        const auto u = unpack(x_in, c);
        const auto [n, e] = forward(u.nodes, u.edges, c_noise.to(torch::kFloat32).expand({x_in.size(0)}));
        return torch::cat({n.flatten(1), e.flatten(1)}, 1);
      };
      d = edm_denoiser(f, sigma_data)(x, sigma);
    }
    return d;
  };
}

// The known part of a scaffold-constrained graph: the scaffold's atoms in slots 0..k-1 and the bonds
// among them; NaN everywhere else (free). Returns k.
int64_t scaffold_known(const std::string& scaffold, const CodecConfig& c, torch::Tensor& known) {
  EncodedGraph g;
  try {
    g = encode(scaffold, c);
  } catch (const std::exception& e) {
    throw std::invalid_argument("--scaffold '" + scaffold + "': " + e.what());
  }
  const int64_t k = g.mask.sum().item<int64_t>();
  const auto nan = std::numeric_limits<float>::quiet_NaN();
  auto nodes = torch::full_like(g.nodes, nan), edges = torch::full_like(g.edges, nan);
  nodes.slice(0, 0, k).copy_(g.nodes.slice(0, 0, k) - 0.5);
  edges.slice(0, 0, k).slice(1, 0, k).copy_(g.edges.slice(0, 0, k).slice(1, 0, k) - 0.5);
  known = torch::cat({nodes.flatten(), edges.flatten()});
  return k;
}

// kind "regression" (EDM on the one-hot values), "categorical" (logits and cross-entropy with
// edge_weight 5, still continuous noise) or "discrete" (DiGress marginal transitions); the last
// two add the edge-to-node sums to the backbone, discrete also DiGress's structural features of
// the noisy graph (cycles, components, valency), which only a one-hot graph input makes meaningful.
Json default_recipe(const CodecConfig& c, const std::string& kind) {
  const bool categorical_objective = kind != "regression";
  GraphDiTConfig g;
  g.node_features = c.node_features();
  g.edge_features = CodecConfig::kEdgeTypes;
  g.hidden = 128;
  g.edge_hidden = 32;
  g.depth = 4;
  g.heads = 4;
  g.num_classes = int64_t(logp_classes().size());
  g.edge_to_node = categorical_objective;
  g.structure_features = kind == "discrete";
  ObjectiveOptions o;
  o.kind = ModelKind::kEdm;
  o.sampling = SigmaSampling::kLogNormal;
  o.weighting = LossWeighting::kEdm;
  o.sigma_data = 0.5;  // one-hot values at +-0.5
  Json r = {{"modality", "molecule"}, {"codec", to_json(c)}, {"model", {{"type", "graph-dit"}, {"config", to_json(g)}}},
            {"objective", to_json(o)}, {"classes", logp_classes()}, {"data", {{"dataset", "rdkit-data"}, {"version", 2}}},
            {"sampling", {{"sigma_min", 0.002}, {"sigma_max", 80.0}}}};
  if (kind == "categorical") r["categorical"] = {{"edge_weight", 5.0}};
  if (kind == "discrete") r["discrete"] = {{"edge_weight", 5.0}, {"sampling_steps", 100}};  // the marginals join at training
  return r;
}

GraphDiT load_graph_dit(const Checkpoint& ck, const std::string& path, bool raw) {
  require_model(ck.recipe, path, "molecule", "graph-dit");
  GraphDiT net(graph_dit_config_from_json(json_at(json_at(ck.recipe, "model", path), "config", path)));
  load_for_inference(*net, ck, path, raw);
  return net;
}

// The discrete reverse process for the request's graphs (condition.mask, condition.labels) through
// the engine's batching: graph i draws from its own generator seeded seed + i, so it does not
// depend on the batch. CFG mixes the conditional and unconditional log-probabilities of each
// variable. known: a scaffold's packed values (NaN where free), or undefined. Returns the packed
// graphs (N, F) followed by the last step's predicted bond probabilities (N, M * M * 4), for the
// valence repair to rank bonds by.
torch::Tensor sample_discrete_graphs(GraphDiT net, const Json& recipe, const CodecConfig& codec, const SampleRequest& r,
                                     const torch::Tensor& known) {
  const auto marginals = marginals_from_json(recipe.at("discrete").at("marginals"));
  const int64_t E = int64_t(codec.elements.size()), M = codec.max_atoms;
  const double scale = r.guidance.scale;
  const auto device = r.options.device();
  return sample_batches(r, [&](const SampleBatch& b) {
    const auto& mask = b.cond.mask;
    GraphLogits logits = [&](const torch::Tensor& nd, const torch::Tensor& ed, const torch::Tensor& t) {
      const auto time = (t * kDiscreteTimeScale).to(torch::kFloat32).to(device);
      const auto forward = [&](const torch::Tensor& y) {
        AutocastGuard autocast(r.precision, device);
        const auto [n, e] = net->forward(nd - 0.5, ed - 0.5, mask, time, y);
        return std::make_pair(n.to(torch::kFloat32), e.to(torch::kFloat32));
      };
      auto [nc, ec] = forward(b.cond.labels);
      if (scale == 1.0) return std::make_pair(nc, ec);
      const auto [nu, eu] = forward(b.uncond.labels);
      const auto mix = [scale](const torch::Tensor& cond, const torch::Tensor& uncond) {
        const auto lu = uncond.log_softmax(-1);
        return lu + scale * (cond.log_softmax(-1) - lu);
      };
      return std::make_pair(torch::cat({mix(nc.slice(2, 0, E), nu.slice(2, 0, E)), mix(nc.slice(2, E), nu.slice(2, E))}, 2), mix(ec, eu));
    };
    auto uniforms = [&] {  // each graph's next draws from its own generator
      std::vector<torch::Tensor> element, charge, bond;
      for (int64_t i = 0; i < b.size; ++i) {
        const auto u = draw_uniforms(1, M, b.noise->generator(i));
        element.push_back(u.element);
        charge.push_back(u.charge);
        bond.push_back(u.bond);
      }
      return GraphUniforms{torch::cat(element), torch::cat(charge), torch::cat(bond)};
    };
    torch::Tensor known_nodes, known_edges;
    if (known.defined()) {
      const auto k = unpack(known.unsqueeze(0) + 0.5, codec);
      known_nodes = k.nodes.expand({b.size, -1, -1}).to(device);
      known_edges = k.edges.expand({b.size, -1, -1, -1}).to(device);
    }
    torch::Tensor pe;
    const auto [nd, ed] = sample_discrete(logits, mask, marginals, codec, r.steps, uniforms, known_nodes, known_edges, &pe);
    // The packed graphs (as unpack() reads them), then the bond probabilities (all float32).
    return torch::cat({nd.flatten(1) - 0.5, ed.flatten(1) - 0.5, pe.flatten(1)}, 1).cpu();
  });
}

// The graph DiT's regression, categorical or discrete (DiGress) objective.
std::string objective_kind(const TrainArgs& a) {
  const std::string& given = a.options<MoleculeTrainOptions>().objective;
  const std::string kind = given.empty() ? "discrete" : given;
  if (kind != "discrete" && kind != "categorical" && kind != "regression") {
    throw std::invalid_argument("--objective " + kind + ": one of discrete, categorical, regression");
  }
  return kind;
}

// Molecules through the generic pipeline: a graph DiT of their own, drawn sizes and logP bins,
// scaffold inpainting, a discrete sampler for discrete models, RDKit decoding and SDF files.
class MoleculeModality : public DiffusionModality {
 public:
  std::string name() const override { return "molecule"; }
  std::string model_type() const override { return "graph-dit"; }

  Json new_recipe(const TrainArgs& a) const override {
    CodecConfig c;
    const int64_t max_atoms = a.options<MoleculeTrainOptions>().max_atoms;
    c.max_atoms = max_atoms > 0 ? max_atoms : kDefaultMaxAtoms;
    return default_recipe(c, objective_kind(a));
  }

  void adapt_recipe(Json& recipe, const TrainArgs& a, const std::string& from) const override {
    const auto& o = a.options<MoleculeTrainOptions>();
    if (const std::string had = discrete(recipe) ? "discrete" : categorical(recipe) ? "categorical" : "regression";
        !o.objective.empty() && objective_kind(a) != had) {
      throw std::invalid_argument("--objective " + o.objective + ": " + from + " is a " + had + " model (a new model takes --objective)");
    }
    if (const int64_t held = recipe.at("codec").at("max_atoms").get<int64_t>(); o.max_atoms > 0 && o.max_atoms != held) {
      throw std::invalid_argument("--max-atoms " + std::to_string(o.max_atoms) + ": " + from + " holds " + std::to_string(held) +
                                  " atoms (a new model takes --max-atoms)");
    }
    if (!o.data.empty()) {
      if (!a.resume.empty()) throw std::invalid_argument("--data: a resumed run keeps its training data (" + recipe.at("data").dump() + ")");
      recipe["data"] = {{"dataset", "files"}, {"files", molecule_files({o.data})}};
      if (!o.smiles_columns.empty()) recipe["data"]["columns"] = o.smiles_columns;
    } else if (!o.smiles_columns.empty()) {
      throw std::invalid_argument("--smiles-column: it names the CSV columns of --data, and no --data is given");
    }
  }

  TrainData training_set(Json& recipe, const TrainArgs& a, bool) const override {
    const auto codec = codec_config_from_json(recipe.at("codec"));
    auto ds = load_molecule_data(recipe.at("data"), codec);
    if (const int64_t n = a.options<MoleculeTrainOptions>().data_n; n > 0 && n < int64_t(ds.train.size())) ds.train.resize(size_t(n));
    std::vector<torch::Tensor> xs;
    std::vector<int64_t> labels, counts;
    for (const auto& s : ds.train) {
      const auto g = encode(s, codec);
      xs.push_back(pack(g));
      labels.push_back(logp_bin(logp(s)));
      counts.push_back(g.mask.sum().item<int64_t>());
    }
    // The heavy-atom histogram and logP bins of the training set: what sampling draws from.
    recipe["atom_counts"] = counts;
    recipe["atom_labels"] = labels;
    const auto x = torch::stack(xs);
    const auto mask = first_n_mask(torch::tensor(counts), codec.max_atoms);
    if (discrete(recipe) && !recipe.at("discrete").contains("marginals")) {
      const auto clean = unpack(x + 0.5, codec);
      recipe["discrete"]["marginals"] = to_json(graph_marginals(clean.nodes, clean.edges, mask, codec));
    }
    std::cerr << "training on " << x.size(0) << " molecular graphs (" << codec.max_atoms << " atoms max)\n";
    Condition cond{torch::tensor(labels, torch::kLong)};
    cond.mask = mask;
    return {x, cond};
  }

  Json train_defaults() const override {
    return {{"steps", 3000}, {"batch", 64}, {"lr", 1e-3}, {"warmup", 200}, {"ema_decay", 0.999}, {"log_every", 100},
            {"checkpoint_every", 250}, {"cond_dropout", 0.1}, {"null_label", int64_t(logp_classes().size())}};
  }

  void fit(const TrainArgs& a, const Json& recipe, const TrainData& data, const Json& defaults) const override {
    const auto codec = codec_config_from_json(recipe.at("codec"));
    GraphDiT net(graph_dit_config_from_json(recipe.at("model").at("config")));
    if (!a.init.empty()) {  // a fine-tune: the model's EMA weights, a fresh optimizer and schedule
      load_for_inference(*net, load_checkpoint(a.init), a.init);
      net->train();
    }
    const TrainOptions o = train_options(a, defaults);
    const auto objective = objective_from_json(recipe.at("objective"));
    TrainForward forward = [net, codec](const torch::Tensor& x_in, const torch::Tensor& t, const Condition& c) mutable {
      const auto u = unpack(x_in, codec);
      const auto [n, e] = net->forward(u.nodes, u.edges, c.mask, t.to(torch::kFloat32), c.labels);
      return torch::cat({n.flatten(1), e.flatten(1)}, 1);
    };
    const double edge_weight = categorical(recipe) ? recipe.at("categorical").value("edge_weight", 5.0) : 0.0;
    TrainLoss ce = [net, codec, objective, edge_weight](const torch::Tensor& x0, const Condition& c, at::Generator& gen) mutable {
      const auto draw = sample_sigmas(x0.size(0), objective, gen);
      const auto noise = torch::randn(x0.sizes(), gen, torch::kFloat64).to(x0.options());
      const auto ex = make_example(x0, noise, draw, objective);
      const auto& mask = c.mask;
      const auto u = unpack(ex.input, codec);
      const auto [n, e] = net->forward(u.nodes, u.edges, mask, ex.time.to(torch::kFloat32), c.labels);
      const auto t = unpack(x0 + 0.5, codec);
      return graph_cross_entropy(n, e, t.nodes, t.edges, mask, codec, edge_weight);
    };
    // Discrete: a graph drawn from q(x_t | x_0) at t ~ U(0, 1), and cross-entropy against the clean graph.
    const double discrete_edge_weight = discrete(recipe) ? recipe.at("discrete").value("edge_weight", 5.0) : 0.0;
    const auto marginals = discrete(recipe) ? marginals_from_json(recipe.at("discrete").at("marginals")) : Marginals{};
    TrainLoss digress = [net, codec, marginals, discrete_edge_weight](const torch::Tensor& x0, const Condition& c, at::Generator& gen) mutable {
      const auto& mask = c.mask;
      const auto t = torch::rand({x0.size(0)}, gen, torch::kFloat64);
      const auto clean = unpack(x0 + 0.5, codec);
      const auto [noisy_nodes, noisy_edges] = noise_graphs(clean.nodes, clean.edges, mask, t, marginals, codec,
                                                           draw_uniforms(x0.size(0), codec.max_atoms, gen));
      const auto [n, e] = net->forward(noisy_nodes - 0.5, noisy_edges - 0.5, mask,
                                       (t * kDiscreteTimeScale).to(torch::kFloat32).to(x0.device()), c.labels);
      return graph_cross_entropy(n, e, clean.nodes, clean.edges, mask, codec, discrete_edge_weight);
    };
    std::unique_ptr<Trainer> trainer_owner = discrete(recipe)      ? std::make_unique<Trainer>(net.ptr(), digress, recipe, o)
                                             : categorical(recipe) ? std::make_unique<Trainer>(net.ptr(), ce, recipe, o)
                                                                   : std::make_unique<Trainer>(net.ptr(), forward, recipe, o, objective);
    Trainer& trainer = *trainer_owner;
    if (!a.resume.empty()) trainer.resume(a.resume);
    trainer.run(data);
    std::cout << "checkpoint: " << a.out << "/checkpoint.safetensors\n";
  }

  // Item i draws a training molecule's (atom count, logP bin) from a generator seeded by seed + i
  // (args.atoms and args.label fix them); a scaffold's atoms are known values (inpainting).
  DitSampling load(const SampleArgs& a, int64_t n) const override {
    const std::string& path = a.checkpoint;
    const auto& o = a.options<MoleculeSampleOptions>();
    DitSampling s;
    s.checkpoint = load_checkpoint(path);
    const auto& recipe = s.checkpoint.recipe;
    auto net = load_graph_dit(s.checkpoint, path, a.raw_weights);
    const auto codec = codec_config_from_json(recipe.at("codec"));
    s.classes = recipe.at("classes").get<std::vector<std::string>>();
    const auto counts = recipe.at("atom_counts").get<std::vector<int64_t>>();
    const auto bins = recipe.at("atom_labels").get<std::vector<int64_t>>();
    const std::string& label = a.label;
    const int64_t fixed_atoms = o.atoms;
    if (fixed_atoms < 0 || fixed_atoms > codec.max_atoms) {
      throw std::invalid_argument("--atoms " + std::to_string(fixed_atoms) + ": this model holds 1.." + std::to_string(codec.max_atoms) + " heavy atoms");
    }
    const uint64_t seed = a.seed;
    std::vector<int64_t> fixed_label;
    if (!label.empty() && label != "data") fixed_label = resolve_labels(label, n, s.classes);
    const std::string& scaffold = o.scaffold;
    torch::Tensor known;
    const int64_t scaffold_atoms = scaffold.empty() ? 0 : scaffold_known(scaffold, codec, known);
    if (scaffold_atoms > 0 && fixed_atoms > 0 && fixed_atoms < scaffold_atoms) {
      throw std::invalid_argument("--atoms " + std::to_string(fixed_atoms) + " is fewer than the scaffold's " + std::to_string(scaffold_atoms) + " heavy atoms");
    }
    if (scaffold_atoms >= codec.max_atoms) {
      throw std::invalid_argument("--scaffold '" + scaffold + "' has " + std::to_string(scaffold_atoms) + " heavy atoms; this model holds at most " +
                                  std::to_string(codec.max_atoms) + ", leaving no room to grow");
    }
    std::vector<int64_t> atoms;
    for (int64_t i = 0; i < n; ++i) {
      std::mt19937_64 rng(seed + uint64_t(i));
      size_t k = size_t(rng() % counts.size());
      for (int tries = 0; counts[k] <= scaffold_atoms && fixed_atoms == 0 && tries < 1000; ++tries) k = size_t(rng() % counts.size());
      atoms.push_back(fixed_atoms > 0 ? fixed_atoms : std::max(counts[k], std::min(scaffold_atoms + 1, codec.max_atoms)));
      s.labels.push_back(fixed_label.empty() ? bins[k] : fixed_label[size_t(i)]);
    }
    SampleRequest& r = s.request;
    r = sample_request(a, recipe, 1.0);
    net->to(r.options.device());
    r.item_shape = {codec.max_atoms * codec.node_features() + codec.max_atoms * codec.max_atoms * CodecConfig::kEdgeTypes};
    r.n = n;
    r.null_label = int64_t(s.classes.size());
    r.condition.labels = torch::tensor(s.labels, torch::kLong);
    r.condition.mask = first_n_mask(torch::tensor(atoms), codec.max_atoms);
    if (known.defined()) r.condition.frames = known.unsqueeze(0).expand({n, known.size(0)}).contiguous();
    if (discrete(recipe)) {
      r.steps = a.steps.value_or(recipe.at("discrete").value("sampling_steps", int64_t(100)));
      s.sampler = [net, recipe, codec, known](const SampleRequest& request) {
        return sample_discrete_graphs(net, recipe, codec, request, known);
      };
      s.sampler_name = "discrete";
    } else {
      s.sigma_data = objective_from_json(recipe.at("objective")).sigma_data;
      s.denoiser = with_known_values(graph_denoiser(net, codec, s.sigma_data, categorical(recipe), r.precision));  // scaffold inpainting
    }
    return s;
  }

  // RDKit molecules (optionally valence-repaired, ranking bonds by a discrete model's last bond
  // probabilities), in Generated::info: smiles ("" = invalid), valid, connected, repaired,
  // has_scaffold, atoms.
  Decoder decoder(const DitSampling& s, const SampleArgs& a) const override {
    const auto codec = codec_config_from_json(s.checkpoint.recipe.at("codec"));
    const auto mask = s.request.condition.mask;
    const bool repair = a.options<MoleculeSampleOptions>().repair;
    const std::string scaffold = a.options<MoleculeSampleOptions>().scaffold;
    const auto counts = mask.sum(1).to(torch::kLong).contiguous();
    const std::vector<int64_t> atoms(counts.data_ptr<int64_t>(), counts.data_ptr<int64_t>() + counts.numel());
    const Json info = {{"atoms", atoms}};
    return [codec, mask, repair, scaffold, info](const torch::Tensor& z, Generated& out) {
      const int64_t graph = codec.max_atoms * codec.node_features() + codec.max_atoms * codec.max_atoms * CodecConfig::kEdgeTypes;
      const auto u = unpack(z.slice(1, 0, graph), codec);
      const auto bond_probs = z.size(1) > graph ? z.slice(1, graph).view({z.size(0), codec.max_atoms, codec.max_atoms, CodecConfig::kEdgeTypes})
                                                : torch::Tensor();
      out.info = info;
      for (int64_t i = 0; i < z.size(0); ++i) {
        const auto d = decode(u.nodes[i], u.edges[i], mask[i], codec, repair, bond_probs.defined() ? bond_probs[i] : torch::Tensor());
        out.info["smiles"].push_back(d.valid ? d.smiles : std::string());
        out.info["valid"].push_back(d.valid);
        out.info["connected"].push_back(d.valid && d.connected);
        out.info["repaired"].push_back(d.repaired);
        if (!scaffold.empty()) out.info["has_scaffold"].push_back(d.valid && has_substructure(d.smiles, scaffold));
      }
    };
  }

  std::unique_ptr<Evaluator> evaluator(const EvalArgs& a, const Json& recipe, int64_t) const override {
    return molecule_evaluator(recipe, a.options<MoleculeSampleOptions>().reference);
  }
  // --n-per-class counts tenths of the samples: the logP bins are drawn from the training mix.
  int64_t eval_samples(int64_t per_class, int64_t) const override { return per_class * 10; }
  // Its sample command writes rounds of draws (sample_molecules_command), not one generate's.
};

const MoleculeModality kMolecule;

}  // namespace

Generated sample_molecules(const SampleArgs& a, int64_t n) { return generate(kMolecule, a, n); }

PipelineCommands molecule_pipeline() {
  return {[](const TrainArgs& a) { train_pipeline(kMolecule, a); }, sample_molecules_command,
          [](const EvalArgs& a) { eval_pipeline(kMolecule, a); }, nullptr};
}

}  // namespace diffuse::molecule
