// Molecule modality: reading SMILES/CSV/SDF, the graph codec round trip and its refusals, the
// valence repair, SDF writing with 3-D coordinates re-read by RDKit, and the default dataset.
#include <GraphMol/Conformer.h>
#include <GraphMol/FileParsers/MolSupplier.h>
#include <GraphMol/GraphMol.h>
#include <GraphMol/SmilesParse/SmilesParse.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <set>

#include "modalities/molecule/molecule_pipeline.h"
#include "core/json.h"
#include "core/files.h"
#include "modalities/molecule/chem.h"
#include "modalities/molecule/codec.h"
#include "modalities/molecule/dataset.h"
#include "modalities/molecule/discrete.h"
#include "modalities/molecule/guacamol.h"
#include "modalities/molecule/qed.h"
#include "modalities/molecule/similarity.h"

namespace diffuse::molecule {
namespace {

namespace fs = std::filesystem;

std::string temp_dir() {
  const auto d = fs::temp_directory_path() / "diffuse_molecule_test";
  fs::create_directories(d);
  return d.string();
}

TEST(MoleculeIo, ReadsSmilesCsvAndSdfAndCountsFailures) {
  const auto dir = temp_dir();
  std::ofstream(dir + "/a.smi") << "c1ccccc1O phenol\nCC(=O)O acetic\nnot_a_smiles x\n# comment\nC1CC\n";
  ReadReport r;
  const auto smi = read_molecules(dir + "/a.smi", &r);
  EXPECT_EQ(smi, (std::vector<std::string>{"Oc1ccccc1", "CC(=O)O"}));
  EXPECT_EQ(r.read, 4);
  EXPECT_EQ(r.parsed, 2);
  EXPECT_EQ(r.failures.at("RDKit cannot parse or sanitise"), 2);
  std::ofstream(dir + "/b.csv") << "id,SMILES,value\n1,\"C=CC\",3\n2,N#N,4\n";
  EXPECT_EQ(read_molecules(dir + "/b.csv"), (std::vector<std::string>{"C=CC", "N#N"}));
  std::ofstream(dir + "/c.csv") << "id,name\n1,x\n";
  EXPECT_THROW(read_molecules(dir + "/c.csv"), std::runtime_error);
  // A CSV without a header (SMILES first, # comments), and named columns read row by row.
  std::ofstream(dir + "/d.csv") << "# made by hand\n\"c1ccccc1O\",ID-1\nCCO,ID-2\n";
  EXPECT_EQ(read_molecules(dir + "/d.csv"), (std::vector<std::string>{"Oc1ccccc1", "CCO"}));
  std::ofstream(dir + "/e.csv") << "name,EX1,EX2\na,CCN,C#N\nb,,CO\n";
  ReadReport er;
  EXPECT_EQ(read_molecules(dir + "/e.csv", &er, {"EX1", "EX2"}), (std::vector<std::string>{"CCN", "C#N", "CO"}));
  EXPECT_EQ(er.failures.at("empty SMILES"), 1);
  try {
    read_molecules(dir + "/e.csv", nullptr, {"EX3"});
    ADD_FAILURE() << "a missing column was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), dir + "/e.csv: the CSV header has no column EX3 (--smiles-column)");
  }
  EXPECT_THROW(read_molecules(dir + "/a.pdb"), std::runtime_error);
  std::ofstream(dir + "/a.xyz") << "x";
  EXPECT_THROW(read_molecules(dir + "/a.xyz"), std::invalid_argument);
  const auto p = properties("CC(=O)O");
  EXPECT_NEAR(p.mw, 60.052, 0.01);
  EXPECT_EQ(p.heavy_atoms, 4);
  EXPECT_EQ(properties("[Na+].[Cl-]").fragments, 2);
}

TEST(Qed, MatchesRdkitPythonImplementation) {
  // Reference values: rdkit.Chem.QED.qed and .properties of RDKit 2022.09.3 (Debian python3-rdkit);
  // the first is the paper's example that RDKit's doctest checks (0.253).
  struct Case {
    const char* smiles;
    double qed;
    int64_t hba, hbd, rotb, arom, alerts;
  };
  for (const auto& c : {Case{"N=C(CCSCc1csc(N=C(N)N)n1)NS(N)(=O)=O", 0.253143, 6, 5, 7, 1, 3},
                        Case{"CC(=O)Oc1ccccc1C(=O)O", 0.550122, 4, 1, 2, 1, 2},
                        Case{"CN1C=NC2=C1C(=O)N(C(=O)N2C)C", 0.538463, 3, 0, 0, 2, 0},
                        Case{"c1ccccc1", 0.442628, 0, 0, 0, 1, 0}, Case{"CCO", 0.406808, 1, 1, 0, 0, 0},
                        Case{"O=[N+]([O-])c1ccc(Cl)cc1", 0.463602, 2, 0, 1, 1, 2},
                        Case{"CCCCCCCCCC(=O)O", 0.570683, 2, 1, 8, 0, 1}, Case{"c1ccc2ccccc2c1", 0.511431, 0, 0, 0, 2, 0}}) {
    EXPECT_NEAR(properties(c.smiles).qed, c.qed, 2e-6) << c.smiles;
    const std::unique_ptr<RDKit::RWMol> m(RDKit::SmilesToMol(c.smiles));
    const auto q = qed_properties(*m);
    EXPECT_EQ(q.hba, c.hba) << c.smiles;
    EXPECT_EQ(q.hbd, c.hbd) << c.smiles;
    EXPECT_EQ(q.rotb, c.rotb) << c.smiles;
    EXPECT_EQ(q.arom, c.arom) << c.smiles;
    EXPECT_EQ(q.alerts, c.alerts) << c.smiles;
  }
}

TEST(SetSimilarity, MatchesMosesDefinitionsOnASmallSet) {
  // Reference: the same definitions computed with RDKit's Python API (Morgan r=2 1024 bits,
  // MurckoScaffold.GetScaffoldForMol, FragmentOnBRICSBonds, cosine of counts).
  const std::vector<std::string> gen = {"CC(=O)Oc1ccccc1C(=O)O", "Cc1ccccc1O", "CCN(CC)CC", "c1ccc2ccccc2c1", "O=C(O)c1ccncc1"};
  const std::vector<std::string> ref = {"CC(=O)Nc1ccc(O)cc1", "c1ccccc1", "CCCCO", "Cc1ccncc1", "O=C(O)CCc1ccccc1", "CN1CCCC1c1cccnc1"};
  const auto s = compare_sets(gen, ref);
  EXPECT_NEAR(s.internal_diversity, 0.8688077577, 1e-9);
  EXPECT_NEAR(s.nn_similarity, 0.2540775401, 1e-9);
  EXPECT_NEAR(s.scaffold_similarity, 0.8616404369, 1e-9);
  EXPECT_NEAR(s.fragment_similarity, 0.0707106781, 1e-9);
  EXPECT_EQ(murcko_scaffold("Cc1cc(Oc2nccc(CCC)c2)ccc1"), "c1ccc(Oc2ccccn2)cc1");
  EXPECT_EQ(murcko_scaffold("CCO"), "");
  // A set against itself: every nearest neighbour is itself, scaffolds and fragments coincide.
  const auto self = compare_sets(gen, gen);
  EXPECT_DOUBLE_EQ(self.nn_similarity, 1.0);
  EXPECT_NEAR(self.scaffold_similarity, 1.0, 1e-12);
  EXPECT_NEAR(self.fragment_similarity, 1.0, 1e-12);
}

TEST(GraphCodec, RoundTripsKekulisedGraphsAndRefusesWhatItCannotHold) {
  CodecConfig c;
  for (const std::string s : {"c1ccccc1O", "CC(=O)[O-]", "C#N", "O=S(=O)(N)c1ccc(Cl)cc1", "C[N+](C)(C)C", "FC(F)(F)Br"}) {
    const auto g = encode(s, c);
    EXPECT_EQ(g.nodes.size(0), c.max_atoms);
    EXPECT_TRUE(torch::equal(g.edges, g.edges.transpose(0, 1)));
    const auto d = decode(g.nodes, g.edges, g.mask, c);
    EXPECT_TRUE(d.valid) << s << ": " << d.reason;
    EXPECT_TRUE(d.connected) << s;
    EXPECT_EQ(d.smiles, canonical_smiles(s)) << s;
    // Node order does not matter: a permuted graph decodes to the same molecule.
    const auto perm = torch::randperm(c.max_atoms, torch::kLong);
    EXPECT_EQ(decode(g.nodes.index_select(0, perm), g.edges.index_select(0, perm).index_select(1, perm), g.mask.index_select(0, perm), c).smiles,
              d.smiles);
  }
  EXPECT_THROW(encode("[Si](C)(C)(C)C", c), std::invalid_argument);
  EXPECT_THROW(encode("C1CCCCCCCCCCCCCCCCCCCCCCCCCCCC1", c), std::invalid_argument);
  EXPECT_THROW(encode("xyz", c), std::invalid_argument);
}

TEST(GraphCodec, ValenceRepairDropsTheWeakestBondAndIsReported) {
  CodecConfig c;
  auto g = encode("CC(C)(C)C", c);  // neopentane; then a fifth bond on the centre carbon
  auto edges = g.edges * 5.0;       // confident scores
  const int64_t extra = 5;
  g.nodes[extra][0] = 1.0;  // a sixth carbon
  g.nodes[extra][int64_t(c.elements.size()) + 1] = 1.0;
  g.mask[extra] = true;
  edges[1][extra].zero_();
  edges[extra][1].zero_();
  edges[1][extra][1] = 1.0;  // a weak single bond: the one to drop
  edges[extra][1][1] = 1.0;
  const auto raw = decode(g.nodes, edges, g.mask, c);
  EXPECT_FALSE(raw.valid);
  EXPECT_NE(raw.reason.find("valence"), std::string::npos) << raw.reason;
  const auto fixed = decode(g.nodes, edges, g.mask, c, true);
  EXPECT_TRUE(fixed.valid) << fixed.reason;
  EXPECT_TRUE(fixed.repaired);
  // The weak bond to the full centre carbon is dropped; the lone carbon is then joined by a single
  // bond to an atom with valence left (a methyl), so the result is one fragment.
  EXPECT_TRUE(fixed.connected);
  EXPECT_EQ(fixed.smiles, "CCC(C)(C)C");
}

TEST(GraphCodec, RepairJoinsFragmentsByTheMostProbableSingleBond) {
  CodecConfig c;
  auto g = encode("CCO.N", c);  // not a molecule the dataset keeps, but encode() takes it
  auto edges = g.edges * 5.0;
  // The model slightly prefers a single bond between the oxygen (2) and the nitrogen (3).
  edges[2][3][1] = edges[3][2][1] = 4.0;
  edges[0][3][1] = edges[3][0][1] = 2.0;
  const auto raw = decode(g.nodes, edges, g.mask, c);
  EXPECT_TRUE(raw.valid);
  EXPECT_FALSE(raw.connected);
  EXPECT_FALSE(raw.repaired);
  const auto fixed = decode(g.nodes, edges, g.mask, c, true);
  EXPECT_TRUE(fixed.valid && fixed.connected && fixed.repaired);
  EXPECT_EQ(fixed.smiles, "CCON");
}

TEST(GraphCodec, RepairRanksOneHotBondsByTheGivenProbabilities) {
  // A discrete sampler's graph is one-hot: every bond scores the same, so the repair can only rank
  // them by the probabilities the model gave them.
  CodecConfig c;
  auto g = encode("CC(N)(O)C", c);  // centre carbon 1 with C 0, N 2, O 3, C 4; then a fifth bond to C 5
  const int64_t extra = 5;
  g.nodes[extra][0] = 1.0;
  g.nodes[extra][int64_t(c.elements.size()) + 1] = 1.0;
  g.mask[extra] = true;
  g.edges[1][extra][0] = g.edges[extra][1][0] = 0.0;
  g.edges[1][extra][1] = g.edges[extra][1][1] = 1.0;
  auto probs = g.edges * 0.97 + 0.01;  // the drawn bonds are confident...
  probs[1][3][1] = probs[3][1][1] = 0.6;  // ...except C1-O3
  probs[3][extra][1] = probs[extra][3][1] = 0.3;  // and O3-C5 is the likeliest missing bond
  const auto ranked = decode(g.nodes, g.edges, g.mask, c, true, probs);
  EXPECT_TRUE(ranked.valid && ranked.connected && ranked.repaired) << ranked.reason;
  EXPECT_EQ(ranked.smiles, canonical_smiles("CC(C)(N)CO"));
  const auto tied = decode(g.nodes, g.edges, g.mask, c, true);  // ties: some other bond goes
  EXPECT_TRUE(tied.valid);
  EXPECT_NE(tied.smiles, ranked.smiles);
}

TEST(GraphCodec, CategoricalLogitsGivePerGroupProbabilitiesAndCrossEntropy) {
  CodecConfig c;
  c.max_atoms = 4;
  const auto g = encode("C=O", c);  // two real atoms, two padded slots
  const auto nodes = g.nodes.unsqueeze(0), edges = g.edges.unsqueeze(0), mask = g.mask.unsqueeze(0);
  // Confident logits reproduce the graph, padding included (zeros); CE is then near 0.
  const auto [pn, pe] = graph_probabilities(40 * nodes, 40 * edges, mask, c);
  EXPECT_TRUE(torch::allclose(pn, nodes, 0, 1e-6));
  EXPECT_TRUE(torch::allclose(pe, edges, 0, 1e-6));
  EXPECT_LT(graph_cross_entropy(40 * nodes, 40 * edges, nodes, edges, mask, c, 5.0).item<double>(), 1e-6);
  // Zero logits: uniform within each group (9 elements, 3 charges, 4 bond types); CE is
  // log 9 + log 3 per atom plus 5 log 4 per pair of distinct real atoms.
  const auto zn = torch::zeros_like(nodes), ze = torch::zeros_like(edges);
  const auto [un, ue] = graph_probabilities(zn, ze, mask, c);
  EXPECT_NEAR(un[0][0][0].item<double>(), 1.0 / 9, 1e-6);
  EXPECT_NEAR(un[0][1][10].item<double>(), 1.0 / 3, 1e-6);
  EXPECT_NEAR(ue[0][0][1][2].item<double>(), 0.25, 1e-6);
  EXPECT_EQ(un[0][2].abs().sum().item<double>(), 0.0);
  EXPECT_TRUE(torch::equal(ue[0][0][3], torch::tensor({1.f, 0.f, 0.f, 0.f})));  // padded pair: "none"
  EXPECT_TRUE(torch::equal(ue[0][1][1], torch::tensor({1.f, 0.f, 0.f, 0.f})));  // diagonal: "none"
  EXPECT_NEAR(graph_cross_entropy(zn, ze, nodes, edges, mask, c, 5.0).item<double>(), std::log(9.0) + std::log(3.0) + 5 * std::log(4.0), 1e-5);
  // A wrong confident bond costs 40 nats per wrong pair entry: both (0,1) and (1,0) are wrong, the
  // mean over the 2 ordered pairs is 40, times the edge weight.
  auto wrong = edges.clone();
  wrong[0][0][1] = torch::tensor({0.f, 1.f, 0.f, 0.f});
  wrong[0][1][0] = torch::tensor({0.f, 1.f, 0.f, 0.f});
  EXPECT_NEAR(graph_cross_entropy(40 * nodes, 40 * wrong, nodes, edges, mask, c, 5.0).item<double>(), 5 * 40.0, 1e-3);
}

TEST(Sdf, WritesThreeDimensionalRecordsThatRdkitReadsBack) {
  const auto dir = temp_dir();
  const std::vector<SdfRecord> recs = {{"c1ccccc1O", {{"seed", "1"}}}, {"CC(=O)[O-]", {{"seed", "2"}}}, {"C", {}}};
  const auto rep = write_sdf(dir + "/m.sdf", recs, 42, true);
  EXPECT_EQ(rep.written, 3);
  EXPECT_EQ(rep.embedded_3d, 3);
  RDKit::SDMolSupplier sup(dir + "/m.sdf", true, false);
  int n = 0;
  while (!sup.atEnd()) {
    std::unique_ptr<RDKit::ROMol> m(sup.next());
    ASSERT_TRUE(m) << "record " << n;
    EXPECT_TRUE(m->getConformer().is3D());
    double z = 0;
    for (const auto& p : m->getConformer().getPositions()) z += std::abs(p.z);
    EXPECT_GT(z, 0.1);
    EXPECT_EQ(m->getProp<std::string>("SMILES"), canonical_smiles(recs[size_t(n)].smiles));
    EXPECT_EQ(m->getProp<std::string>("embedded_3d"), "1");
    EXPECT_EQ(m->getProp<std::string>("valid"), "1");
    EXPECT_NEAR(std::stod(m->getProp<std::string>("QED")), properties(recs[size_t(n)].smiles).qed, 1e-5);
    ++n;
  }
  EXPECT_EQ(n, 3);
  EXPECT_THROW(write_sdf(dir + "/m.sdf", recs, 42, false), std::runtime_error);
  EXPECT_THROW(write_sdf(dir + "/bad.sdf", {{"not smiles", {}}}, 1, true), std::invalid_argument);
  EXPECT_FALSE(fs::exists(dir + "/bad.sdf"));
}

TEST(MoleculeDataset, DefaultSetIsDeduplicatedFilteredAndSplitByHash) {
  std::vector<MoleculeSource> files;
  try {
    files = default_molecule_sources();
  } catch (const std::exception&) {
    GTEST_SKIP() << "rdkit-data not installed";
  }
  CodecConfig c;
  c.max_atoms = kDefaultMaxAtoms;
  const auto ds = load_molecule_dataset({files.front()}, c);
  EXPECT_GT(ds.train.size(), 500u);
  EXPECT_GT(ds.test.size(), 50u);
  EXPECT_GT(ds.dropped.size(), 0u);
  std::set<std::string> train(ds.train.begin(), ds.train.end());
  for (const auto& s : ds.test) EXPECT_EQ(train.count(s), 0u) << s;
  EXPECT_EQ(train.size(), ds.train.size());  // no duplicates
  // The split depends on the molecule, not on which other files were read.
  const auto all = load_molecule_dataset(files, c);
  std::set<std::string> test_all(all.test.begin(), all.test.end());
  for (const auto& s : ds.test) EXPECT_EQ(test_all.count(s), 1u) << s;
  // Every file of molecules rdkit-data ships: well over 10,000 drug-sized ones, salts stripped.
  EXPECT_GT(all.train.size() + all.test.size(), 15000u);
  EXPECT_GT(all.stripped, 100);
  for (const auto& s : all.train) ASSERT_EQ(s.find('.'), std::string::npos) << s;
  int64_t big = 0;
  for (const auto& s : all.test) big += properties(s).heavy_atoms > 24 ? 1 : 0;
  EXPECT_GT(big, 200);
}

TEST(MoleculeDataset, SaltsAreStrippedToTheLargestFragmentAndCounted) {
  EXPECT_EQ(largest_fragment("[Na+].CC(=O)[O-]"), "CC(=O)[O-]");
  EXPECT_EQ(largest_fragment("Cl.CN1CCCC1c1cccnc1"), "CN1CCCC1c1cccnc1");
  EXPECT_EQ(largest_fragment("CCO"), "CCO");
  EXPECT_EQ(largest_fragment("junk("), "");
  const auto dir = temp_dir();
  std::ofstream(dir + "/salts.smi") << "Cl.CN1CCCC1c1cccnc1\nCN1CCCC1c1cccnc1\n[Na+].[Cl-]\nO.O.CCO\n";
  CodecConfig c;
  const auto ds = load_molecule_dataset({{dir + "/salts.smi", {}}}, c, 0);
  EXPECT_EQ(ds.stripped, 3);
  EXPECT_EQ(ds.duplicates, 1);  // the nicotine salt is the free base once stripped
  EXPECT_EQ(ds.dropped.at("one heavy atom (an ion or solvent)"), 1);  // [Cl-], what is left of the salt
  EXPECT_EQ(ds.train, (std::vector<std::string>{"CN1CCCC1c1cccnc1", "CCO"}));
  // The first models' data dropped mixtures instead.
  const auto v1 = load_molecule_dataset({{dir + "/salts.smi", {}}}, c, 0, /*strip_salts=*/false);
  EXPECT_EQ(v1.dropped.at("more than one fragment (salts, mixtures)"), 3);
  // Another SMILES of the same molecule canonicalises back to it.
  for (const std::string s : {"CN1CCCC1c1cccnc1", "CC(=O)Oc1ccccc1C(=O)O", "C[C@H](N)C(=O)O"}) {
    const auto r = random_smiles(s, 7);
    EXPECT_EQ(canonical_smiles(r), canonical_smiles(s)) << r;
  }
  EXPECT_NE(random_smiles("CC(=O)Oc1ccccc1C(=O)O", 1), random_smiles("CC(=O)Oc1ccccc1C(=O)O", 2));
}

// GuacaMol's KL benchmark: descriptors against RDKit's Python (python3-rdkit 2022.09.3, the
// Debian package: rdkit.Chem.Descriptors), the KL divergences and the score against GuacaMol's
// own functions (continuous_kldiv, discrete_kldiv, KLDivBenchmark) run with numpy, with
// scipy.stats.gaussian_kde (Scott's bandwidth) and scipy.stats.entropy written out as scipy
// defines them (scipy is not on this machine).
TEST(Guacamol, DescriptorsMatchRdkitPython) {
  const std::vector<std::pair<std::string, std::vector<double>>> cases = {
      {"CC(=O)Oc1ccccc1C(=O)O", {343.2228677, 1.3101, 180.159, 63.6, 3, 1, 2, 0, 1}},
      {"CN1C=NC2=C1C(=O)N(C(=O)N2C)C", {616.528592, -1.0293, 194.194, 61.82, 6, 0, 0, 0, 2}},
      {"c1ccc2ccccc2c1", {271.0151824, 2.8398, 128.174, 0, 0, 0, 0, 0, 2}},
      {"C#CC(C)(O)C=C", {105.8386523, 0.5566, 96.129, 20.23, 1, 1, 1, 0, 0}},
      {"O=C(O)c1ccncc1", {207.5576621, 0.7798, 123.111, 50.19, 2, 1, 1, 0, 1}},
      {"CC(C)Cc1ccc(C(C)C(=O)O)cc1", {324.894119, 3.0732, 206.285, 37.3, 1, 1, 4, 0, 1}},
      {"Clc1ccc(cc1)C(c1ccccc1)N1CCN(CC1)CCOCC(=O)O", {715.9663956, 3.1482, 388.895, 53.01, 4, 1, 8, 1, 2}},
      {"C1CC1", {4.754887502, 1.1703, 42.081, 0, 0, 0, 0, 1, 0}},
      {"N#N", {4.754887502, 0.03016, 28.014, 47.58, 2, 0, 0, 0, 0}},
      {"CCO", {2.754887502, -0.0014, 46.069, 20.23, 1, 1, 0, 0, 0}}};
  for (const auto& [smiles, want] : cases) {
    const auto got = guacamol_descriptors(smiles);
    ASSERT_EQ(got.size(), want.size());
    for (size_t k = 0; k < want.size(); ++k) EXPECT_NEAR(got[k], want[k], 2e-4 * std::max(1.0, std::abs(want[k]))) << smiles << " " << kGuacamolDescriptors[k];
  }
  EXPECT_THROW(guacamol_descriptors("C1CC"), std::invalid_argument);
}

TEST(Guacamol, KlDivergencesAndScoreMatchTheReference) {
  const std::vector<double> a = {0.1, 0.5, 0.9, 1.3, 2.0, 2.2, 3.1}, b = {0.3, 0.4, 1.1, 2.5, 2.6, 4.0};
  EXPECT_NEAR(continuous_kl(a, b), 0.0369452784516, 1e-9);
  EXPECT_NEAR(continuous_kl(b, a), 0.0446486900001, 1e-9);
  EXPECT_NEAR(continuous_kl(a, a), 0.0, 1e-12);
  const std::vector<double> ia = {0, 1, 1, 2, 2, 2, 3, 4, 5, 7}, ib = {1, 1, 1, 2, 3, 3, 8, 9};
  EXPECT_NEAR(discrete_kl(ia, ib), 8.30465688531, 1e-8);  // 8 and 9 fall outside the reference's range
  EXPECT_NEAR(discrete_kl(ib, ia), 5.5687351802, 1e-8);
  EXPECT_NEAR(discrete_kl({2, 2, 2}, {2, 3}), 0.0, 1e-12);  // a constant reference: numpy's +-0.5 range
  const std::vector<std::string> smis = {"CC(=O)Oc1ccccc1C(=O)O", "CN1C=NC2=C1C(=O)N(C(=O)N2C)C", "c1ccc2ccccc2c1",
                                         "C#CC(C)(O)C=C", "O=C(O)c1ccncc1", "CC(C)Cc1ccc(C(C)C(=O)O)cc1",
                                         "Clc1ccc(cc1)C(c1ccccc1)N1CCN(CC1)CCOCC(=O)O", "C1CC1", "N#N", "CCO"};
  const std::vector<std::string> gen(smis.begin(), smis.begin() + 6), ref(smis.begin() + 4, smis.end());
  const auto g = guacamol_kl(gen, ref);
  const std::map<std::string, double> want = {{"BertzCT", 0.08250584141126029},  {"MolLogP", 0.008065499880349929},
                                              {"MolWt", 1.4050861396955285},      {"TPSA", 0.006908313423770598},
                                              {"NumHAcceptors", 3.7708447934729974}, {"NumHDonors", 0.0},
                                              {"NumRotatableBonds", 3.663413856424781}, {"NumAliphaticRings", 7.80629783882097},
                                              {"NumAromaticRings", 0.2986265781216173}, {"internal_similarity", 0.027820515684135072}};
  ASSERT_EQ(g.kl.size(), want.size());
  for (const auto& [k, v] : want) EXPECT_NEAR(g.kl.at(k), v, 1e-6 * std::max(1.0, v)) << k;
  EXPECT_NEAR(g.score, 0.591471827556, 1e-7);
  // A set against itself scores 1; a larger reference is cut to the generated set's size.
  EXPECT_NEAR(guacamol_kl(gen, gen).score, 1.0, 1e-9);
  EXPECT_EQ(guacamol_kl(std::vector<std::string>(smis.begin(), smis.begin() + 3), smis).reference, 3);
  EXPECT_THROW(guacamol_kl({"CCO"}, smis), std::invalid_argument);
}

// Discrete diffusion (DiGress): marginals, the forward noise, the posterior against Bayes' rule
// written out with transition matrices, and the sampler driven by a model that knows the answer.
std::pair<torch::Tensor, torch::Tensor> stacked(const std::vector<std::string>& smiles, const CodecConfig& c, torch::Tensor& mask) {
  std::vector<torch::Tensor> n, e, m;
  for (const auto& s : smiles) {
    const auto g = encode(s, c);
    n.push_back(g.nodes);
    e.push_back(g.edges);
    m.push_back(g.mask);
  }
  mask = torch::stack(m);
  return {torch::stack(n), torch::stack(e)};
}

TEST(DiscreteDiffusion, MarginalsCountRealAtomsAndOrderedPairsOfThem) {
  CodecConfig c;
  c.max_atoms = 5;
  torch::Tensor mask;
  const auto [nodes, edges] = stacked({"CCO", "C=C"}, c, mask);
  const auto m = graph_marginals(nodes, edges, mask, c);
  EXPECT_NEAR(m.element[0].item<double>(), 0.8, 1e-5);  // C: 4 of 5 atoms
  EXPECT_NEAR(m.element[2].item<double>(), 0.2, 1e-5);  // O
  EXPECT_NEAR(m.charge[1].item<double>(), 1.0, 1e-5);   // charge 0
  // 8 ordered pairs of distinct atoms: CCO's 2 none and 4 single, C=C's 2 double.
  EXPECT_NEAR(m.bond[0].item<double>(), 0.25, 1e-5);
  EXPECT_NEAR(m.bond[1].item<double>(), 0.5, 1e-5);
  EXPECT_NEAR(m.bond[2].item<double>(), 0.25, 1e-5);
  EXPECT_GT(m.bond[3].item<double>(), 0.0);  // never zero: the posterior divides by it
  const auto back = marginals_from_json(to_json(m));
  EXPECT_TRUE(torch::allclose(back.bond, m.bond));
}

TEST(DiscreteDiffusion, PosteriorIsBayesRuleWithMarginalTransitions) {
  const auto m = torch::tensor({0.5, 0.3, 0.2}, torch::kFloat64);
  const auto p0 = torch::tensor({0.1, 0.6, 0.3}, torch::kFloat64);
  const double t = 0.7, s = 0.4, ab_t = alpha_bar(t), ab_s = alpha_bar(s), a = ab_t / ab_s;
  const auto I = torch::eye(3, torch::kFloat64), ones = torch::ones({3, 1}, torch::kFloat64);
  const auto Q_ts = a * I + (1 - a) * ones.mm(m.view({1, 3}));        // q(x_t = j | x_s = i) at [i][j]
  const auto Qbar_s = ab_s * I + (1 - ab_s) * ones.mm(m.view({1, 3}));  // q(x_s = j | x_0 = k) at [k][j]
  const auto Qbar_t = ab_t * I + (1 - ab_t) * ones.mm(m.view({1, 3}));
  for (int64_t xt = 0; xt < 3; ++xt) {
    auto expected = torch::zeros({3}, torch::kFloat64);
    for (int64_t k = 0; k < 3; ++k) {
      for (int64_t j = 0; j < 3; ++j) {
        expected[j] += p0[k] * Q_ts[j][xt] * Qbar_s[k][j] / Qbar_t[k][xt];
      }
    }
    expected /= expected.sum();
    const auto got = categorical_posterior(torch::one_hot(torch::tensor(xt), 3).to(torch::kFloat64), p0, m, t, s);
    EXPECT_LE((got - expected).abs().max().item<double>(), 1e-12) << "x_t = " << xt;
  }
  // At s = 0 the posterior is the model's clean prediction itself.
  const auto last = categorical_posterior(torch::one_hot(torch::tensor(int64_t(2)), 3).to(torch::kFloat64), p0, m, 0.05, 0.0);
  EXPECT_LE((last - p0).abs().max().item<double>(), 1e-12);
  EXPECT_NEAR(alpha_bar(0.0), 1.0, 1e-12);
  EXPECT_LE(alpha_bar(1.0), 1e-5);
}

TEST(DiscreteDiffusion, NoiseKeepsTheGraphAtZeroAndDrawsTheMarginalsAtOne) {
  CodecConfig c;
  c.max_atoms = 8;
  torch::Tensor mask1;
  auto [n1, e1] = stacked({"CC(=O)N"}, c, mask1);
  const int64_t R = 400;
  const auto nodes = n1.expand({R, -1, -1}), edges = e1.expand({R, -1, -1, -1}), mask = mask1.expand({R, -1});
  Marginals m{torch::tensor({0.4f, 0.3f, 0.1f, 0.05f, 0.05f, 0.04f, 0.03f, 0.02f, 0.01f}), torch::tensor({0.1f, 0.8f, 0.1f}),
              torch::tensor({0.7f, 0.2f, 0.07f, 0.03f})};
  auto gen = at::detail::createCPUGenerator(5);
  const auto [n0, e0] = noise_graphs(nodes, edges, mask, torch::zeros({R}, torch::kFloat64), m, c, draw_uniforms(R, 8, gen));
  EXPECT_TRUE(torch::equal(n0, nodes));
  EXPECT_TRUE(torch::equal(e0, edges));
  const auto [na, ea] = noise_graphs(nodes, edges, mask, torch::ones({R}, torch::kFloat64), m, c, draw_uniforms(R, 8, gen));
  EXPECT_TRUE(torch::equal(ea, ea.transpose(1, 2)));
  EXPECT_EQ(na.slice(1, 4).abs().sum().item<double>(), 0.0);                  // padded atoms stay empty
  EXPECT_EQ(ea.slice(1, 4).select(3, 0).min().item<double>(), 1.0);           // padded pairs stay "none"
  EXPECT_EQ(ea.diagonal(0, 1, 2).select(1, 0).min().item<double>(), 1.0);     // and the diagonal
  const auto element_freq = na.slice(1, 0, 4).slice(2, 0, 9).sum(std::vector<int64_t>{0, 1}) / (4.0 * R);
  EXPECT_LE((element_freq - m.element).abs().max().item<double>(), 0.04);
  const auto diagonal = torch::tensor({4.0f * R, 0.0f, 0.0f, 0.0f});  // 4 "none" per graph on the diagonal
  const auto bond_freq = (ea.slice(1, 0, 4).slice(2, 0, 4).sum({0, 1, 2}) - diagonal) / (12.0 * R);
  EXPECT_LE((bond_freq - m.bond).abs().max().item<double>(), 0.04);
}

TEST(DiscreteDiffusion, SamplerGuidedByAConfidentModelEndsOnItsGraph) {
  CodecConfig c;
  c.max_atoms = 10;
  torch::Tensor mask;
  const auto [target_nodes, target_edges] = stacked({"c1ccccc1O", "CC#N"}, c, mask);
  Marginals m{torch::full({9}, 1.0f / 9), torch::full({3}, 1.0f / 3), torch::full({4}, 0.25f)};
  int64_t calls = 0;
  GraphLogits confident = [&](const torch::Tensor& nodes, const torch::Tensor& edges, const torch::Tensor& t) {
    EXPECT_EQ(nodes.sizes(), target_nodes.sizes());
    EXPECT_TRUE(torch::equal(edges, edges.transpose(1, 2)));  // every step's graph is a graph
    EXPECT_EQ(t.size(0), 2);
    ++calls;
    return std::make_pair(target_nodes * 30.0, target_edges * 30.0);
  };
  auto gen = at::detail::createCPUGenerator(9);
  torch::Tensor last_probs;
  const auto [nodes, edges] = sample_discrete(confident, mask, m, c, 12, [&] { return draw_uniforms(2, 10, gen); }, {}, {}, &last_probs);
  EXPECT_EQ(calls, 12);
  // The last prediction is handed back, as graph_probabilities gives it (for the valence repair).
  EXPECT_TRUE(torch::allclose(last_probs, graph_probabilities(target_nodes * 30.0, target_edges * 30.0, mask, c).second));
  EXPECT_TRUE(torch::equal(nodes, target_nodes));
  EXPECT_TRUE(torch::equal(edges, target_edges));
  const auto d = decode(nodes[0] - 0.5, edges[0] - 0.5, mask[0], c);
  EXPECT_EQ(d.smiles, "Oc1ccccc1");
  EXPECT_THROW(sample_discrete(confident, mask, m, c, 0, [&] { return draw_uniforms(2, 10, gen); }), std::invalid_argument);
  // Inpainting: a model that proposes heptane for the first graph still ends on the phenol's atoms
  // and bonds where they are known (its first 4 atoms), and on its own proposal elsewhere.
  torch::Tensor m2;
  const auto [heptane_nodes, heptane_edges] = stacked({"CCCCCCC", "CC#N"}, c, m2);
  GraphLogits other = [&](const torch::Tensor&, const torch::Tensor&, const torch::Tensor&) {
    return std::make_pair(heptane_nodes * 30.0, heptane_edges * 30.0);
  };
  const auto nan = std::numeric_limits<float>::quiet_NaN();
  auto known_nodes = torch::full_like(target_nodes, nan), known_edges = torch::full_like(target_edges, nan);
  known_nodes.slice(1, 0, 4).copy_(target_nodes.slice(1, 0, 4));
  known_edges.slice(1, 0, 4).slice(2, 0, 4).copy_(target_edges.slice(1, 0, 4).slice(2, 0, 4));
  const auto [in_nodes, in_edges] = sample_discrete(other, mask, m, c, 6, [&] { return draw_uniforms(2, 10, gen); }, known_nodes, known_edges);
  EXPECT_TRUE(torch::equal(in_nodes[0].slice(0, 0, 4), target_nodes[0].slice(0, 0, 4)));
  EXPECT_TRUE(torch::equal(in_edges[0].slice(0, 0, 4).slice(1, 0, 4), target_edges[0].slice(0, 0, 4).slice(1, 0, 4)));
  EXPECT_TRUE(torch::equal(in_nodes[0].slice(0, 4, 7), heptane_nodes[0].slice(0, 4, 7)));  // free atoms: the model's
  EXPECT_TRUE(torch::equal(in_edges[0].slice(0, 4, 7).slice(1, 0, 7), heptane_edges[0].slice(0, 4, 7).slice(1, 0, 7)));
}

// The discrete sampler through the engine's batching with the shipped graph DiT: each molecule
// comes from its own seed, whatever the batch, and the decoded SMILES parse.
TEST(MoleculePipeline, SamplesFromTheSeedInAnyBatchSize) {
  SampleArgs a;
  a.checkpoint = shipped_model_path("rdkit-data/graph-dit.safetensors");
  a.seed = 5;
  a.steps = 10;
  a.batch = 4;
  const auto g = sample_molecules(a, 4);
  const auto smiles = [](const Generated& g) { return g.info.at("smiles").get<std::vector<std::string>>(); };
  const auto valid = g.info.at("valid").get<std::vector<bool>>();
  ASSERT_EQ(smiles(g).size(), 4u);
  EXPECT_EQ(g.sampler, "discrete");
  EXPECT_EQ(g.steps, 10);
  int64_t n_valid = 0;
  for (size_t i = 0; i < 4; ++i) {
    if (!valid[i]) continue;
    ++n_valid;
    EXPECT_NE(std::unique_ptr<RDKit::ROMol>(RDKit::SmilesToMol(smiles(g)[i])), nullptr) << smiles(g)[i];
  }
  EXPECT_GE(n_valid, 1);
  a.batch = 3;
  const auto again = sample_molecules(a, 4);
  EXPECT_EQ(smiles(again), smiles(g));
  EXPECT_EQ(again.info.at("atoms"), g.info.at("atoms"));
  a.seed = 6;
  EXPECT_NE(smiles(sample_molecules(a, 4)), smiles(g));
}

}  // namespace
}  // namespace diffuse::molecule
