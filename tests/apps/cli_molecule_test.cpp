// The molecule pipeline through the CLI: training a graph DiT on rdkit-data, sampling to SDF and
// SMILES, every SDF record re-read by RDKit with 3-D coordinates, evaluation, refusals.
#include <GraphMol/FileParsers/MolSupplier.h>
#include <GraphMol/FileParsers/FileParsers.h>
#include <GraphMol/GraphMol.h>
#include <GraphMol/SmilesParse/SmilesParse.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "core/files.h"
#include "core/json.h"
#include "core/train/checkpoint.h"
#include "tests/apps/cli_util.h"

namespace {

using diffuse::test::run;

TEST(CliMolecule, TrainSampleSdfEvalRoundTrip) {
  if (!std::filesystem::exists("/usr/share/RDKit/Data/NCI/first_5K.smi")) GTEST_SKIP() << "rdkit-data not installed";
  const diffuse::test::TempDir tmp("cli_molecule");
  const std::string d = tmp.path;
  auto r = run("train molecule --objective regression --steps 2 --batch 8 --data-n 64 --out " + d + "/dit");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find(" salts stripped, kept "), std::string::npos) << r.out;
  const std::string ck = d + "/dit/checkpoint.safetensors";
  // The categorical variant: its recipe says so, and it samples through the same path (its
  // softmax estimate puts every real pair on a bond type, so SDF records come out).
  r = run("train molecule --objective categorical --steps 2 --batch 8 --data-n 64 --out " + d + "/cat");
  ASSERT_EQ(r.code, 0) << r.out;
  const auto cat = diffuse::load_checkpoint(d + "/cat/checkpoint.safetensors").recipe;
  EXPECT_EQ(cat.at("categorical").at("edge_weight").get<double>(), 5.0);
  EXPECT_TRUE(cat.at("model").at("config").at("edge_to_node").get<bool>());
  EXPECT_FALSE(diffuse::load_checkpoint(ck).recipe.contains("categorical"));
  r = run("sample molecule --checkpoint " + d + "/cat/checkpoint.safetensors --n 4 --steps 3 --repair --out " + d + "/cat.sdf");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("of 4 sampled"), std::string::npos) << r.out;
  // The discrete default (DiGress): the training set's marginals join its recipe; it samples with
  // its own sampler, CFG included, and a graph does not depend on the batch it was drawn in.
  r = run("train molecule --steps 2 --batch 8 --data-n 64 --out " + d + "/disc");
  ASSERT_EQ(r.code, 0) << r.out;
  const auto disc = diffuse::load_checkpoint(d + "/disc/checkpoint.safetensors").recipe;
  EXPECT_EQ(disc.at("discrete").at("marginals").at("element").size(), 9u);
  EXPECT_EQ(disc.at("discrete").at("marginals").at("bond").size(), 4u);
  EXPECT_FALSE(disc.contains("categorical"));
  for (const char* batch : {"2", "64"}) {
    r = run("sample molecule --checkpoint " + d + "/disc/checkpoint.safetensors --n 6 --steps 3 --cfg 2 --seed 4 --repair --batch " +
            std::string(batch) + " --out " + d + "/disc" + batch + ".smi");
    ASSERT_EQ(r.code, 0) << r.out;
  }
  EXPECT_FALSE(diffuse::read_file(d + "/disc2.smi").empty());
  EXPECT_EQ(diffuse::read_file(d + "/disc2.smi"), diffuse::read_file(d + "/disc64.smi"));
  // Scaffold inpainting works for it too: every graph keeps the ring's atoms and bonds (an untrained
  // model's molecule may not sanitise, so the count of valid ones is not asserted).
  r = run("sample molecule --checkpoint " + d + "/disc/checkpoint.safetensors --n 4 --steps 3 --scaffold c1ccccc1 --repair --out " + d + "/disc.smi");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("contain the scaffold c1ccccc1"), std::string::npos) << r.out;
  r = run("train molecule --objective diffusion --steps 2 --out " + d + "/bad");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("--objective: diffusion not in {discrete,categorical,regression}"), std::string::npos) << r.out;
  // An untrained model with valence repair still yields some sanitisable (often fragmented) graphs.
  r = run("sample molecule --checkpoint " + ck + " --n 12 --steps 3 --repair --seed 3 --out " + d + "/m.sdf");
  ASSERT_EQ(r.code, 0) << r.out;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.out, m, std::regex("wrote (\\d+) valid molecules of 12"))) << r.out;
  const int valid = std::stoi(m[1]);
  EXPECT_GT(valid, 0);
  RDKit::SDMolSupplier sup(d + "/m.sdf", true, false);
  int records = 0;
  while (!sup.atEnd()) {
    std::unique_ptr<RDKit::ROMol> mol(sup.next());
    ASSERT_TRUE(mol) << "record " << records;
    EXPECT_TRUE(mol->hasProp("SMILES"));
    EXPECT_TRUE(mol->hasProp("seed"));
    ++records;
  }
  EXPECT_EQ(records, valid);
  r = run("sample molecule --checkpoint " + ck + " --n 4 --steps 2 --atoms 9 --label 'logP 2-3' --out " + d + "/m.smi");
  ASSERT_EQ(r.code, 0) << r.out;
  r = run("sample molecule --checkpoint " + ck + " --n 4 --steps 2 --out " + d + "/m.sdf");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find(d + "/m.sdf: exists; pass --force to overwrite"), std::string::npos) << r.out;
  r = run("sample molecule --checkpoint " + ck + " --atoms 99 --out " + d + "/x.sdf");
  EXPECT_NE(r.out.find("--atoms 99: this model holds 1..40 heavy atoms"), std::string::npos) << r.out;
  r = run("sample molecule --checkpoint " + ck + " --label 'logP 9' --out " + d + "/x.sdf");
  EXPECT_NE(r.out.find("unknown class 'logP 9'"), std::string::npos) << r.out;
  r = run("eval molecule " + ck + " --n-per-class 1 --steps 2 --cfg 1 --calibrate --json");
  ASSERT_EQ(r.code, 0) << r.out;
  const auto j = diffuse::Json::parse(r.out.substr(r.out.find('{')));
  EXPECT_EQ(j.at("samples").at("n").get<int>(), 10);
  EXPECT_DOUBLE_EQ(j.at("test_vs_train").at("validity").get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(j.at("test_vs_train").at("novelty").get<double>(), 1.0);
  EXPECT_LT(j.at("corrupted_test").at("validity").get<double>(), 0.9);
  // GuacaMol's KL score: held-out against train is near 1, the edited molecules lower, and the
  // held-out molecules written as other SMILES are the same set (1 exactly).
  const double floor = j.at("test_vs_train").at("guacamol_kl_score").get<double>();
  EXPECT_GT(floor, 0.9);
  EXPECT_LT(j.at("corrupted_test").at("guacamol_kl_score").get<double>(), floor);
  // Garbage with the right atoms (random trees of single bonds): far below the edited molecules,
  // and no ring, so no scaffold in common.
  EXPECT_LT(j.at("random_tree_test").at("guacamol_kl_score").get<double>(), j.at("corrupted_test").at("guacamol_kl_score").get<double>() - 0.2);
  EXPECT_EQ(j.at("random_tree_test").at("scaffold_similarity").get<double>(), 0.0);
  EXPECT_GT(j.at("random_tree_test").at("w1").at("rings").get<double>(), 1.0);
  EXPECT_NEAR(j.at("random_smiles_test").at("guacamol_kl_score").get<double>(), 1.0, 1e-9);
  EXPECT_DOUBLE_EQ(j.at("random_smiles_test").at("validity").get<double>(), 1.0);
  EXPECT_EQ(j.at("test_vs_train").at("guacamol_kl").size(), 10u);
  // The split is by molecule, not by scaffold: test and train share scaffolds and fragments.
  const auto& f = j.at("test_vs_train");
  EXPECT_GT(f.at("internal_diversity").get<double>(), 0.5);
  EXPECT_GT(f.at("scaffold_similarity").get<double>(), 0.5);
  EXPECT_GT(f.at("fragment_similarity").get<double>(), 0.5);
  EXPECT_GT(f.at("mean_qed").get<double>(), 0.2);
  EXPECT_LT(f.at("mean_qed").get<double>(), 0.9);
  EXPECT_TRUE(f.at("w1").contains("qed"));
}

// The shipped model: --n-valid writes exactly that many valid molecules, and scaffold inpainting
// keeps the given substructure in every valid sample.
TEST(CliMolecule, ShippedModelNValidAndScaffoldInpainting) {
  const diffuse::test::TempDir tmp("cli_molecule_shipped");
  const std::string d = tmp.path;
  auto r = run("sample molecule --n-valid 12 --steps 20 --seed 5 --out " + d + "/v.sdf");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("wrote 12 valid molecules of "), std::string::npos) << r.out;
  RDKit::SDMolSupplier sup(d + "/v.sdf", true, false);
  int records = 0;
  while (!sup.atEnd()) {
    std::unique_ptr<RDKit::ROMol> mol(sup.next());
    ASSERT_TRUE(mol) << "record " << records;
    EXPECT_EQ(mol->getProp<std::string>("valid"), "1");
    ++records;
  }
  EXPECT_EQ(records, 12);
  r = run("sample molecule --scaffold c1ccc2ccccc2c1 --n 16 --steps 20 --out " + d + "/s.smi");
  ASSERT_EQ(r.code, 0) << r.out;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.out, m, std::regex("wrote (\\d+) valid molecules of 16"))) << r.out;
  const std::string valid = m[1];
  EXPECT_GT(std::stoi(valid), 0) << r.out;
  EXPECT_NE(r.out.find(valid + " of " + valid + " contain the scaffold c1ccc2ccccc2c1"), std::string::npos) << r.out;
  r = run("sample molecule --scaffold C1CC --out " + d + "/x.smi");
  EXPECT_NE(r.out.find("--scaffold 'C1CC'"), std::string::npos) << r.out;
  r = run("sample molecule --scaffold c1ccccc1 --atoms 4 --out " + d + "/x.smi");
  EXPECT_NE(r.out.find("--atoms 4 is fewer than the scaffold's 6 heavy atoms"), std::string::npos) << r.out;
}

// The user's own molecules: train molecule --data takes the file, says what it read and dropped
// and why, records the file in the recipe, and eval scores against its held-out split.
TEST(CliMolecule, TrainsOnTheUsersFileAndReportsWhatItDropped) {
  if (!std::filesystem::exists("/usr/share/RDKit/Data/NCI/first_5K.smi")) GTEST_SKIP() << "rdkit-data not installed";
  const diffuse::test::TempDir tmp("cli_molecule_user");
  {
    std::ifstream in("/usr/share/RDKit/Data/NCI/first_5K.smi");
    std::ofstream out(tmp.path + "/mine.smi");
    std::string line;
    for (int i = 0; i < 120 && std::getline(in, line); ++i) out << line << "\n";
    out << "C1CC[Si]CC1 silane\nnot_a_smiles junk\n";
  }
  auto r = run("train molecule --data " + tmp.path + "/mine.smi --steps 2 --batch 8 --out " + tmp.path + "/run");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("molecules from " + tmp.path + "/mine.smi"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("122 read"), std::string::npos) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("dropped \\d+ \\(elements not in the vocabulary: [^)]*\\bSi 2\\b"))) << r.out;  // one is the file's own
  EXPECT_NE(r.out.find("dropped 1 (RDKit cannot parse or sanitise)"), std::string::npos) << r.out;
  const auto recipe = diffuse::load_checkpoint(tmp.path + "/run/checkpoint.safetensors").recipe;
  EXPECT_EQ(recipe.at("data").at("files"), diffuse::Json::array({tmp.path + "/mine.smi"}));
  r = run("eval molecule " + tmp.path + "/run/checkpoint.safetensors --n-per-class 1 --steps 2 --json");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("molecules from " + tmp.path + "/mine.smi"), std::string::npos) << r.out;  // its own held-out split
  r = run("train molecule --data " + tmp.path + "/run --steps 2 --out " + tmp.path + "/run2");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("--data " + tmp.path + "/run: a folder without .sdf, .smi or .csv files"), std::string::npos) << r.out;
  std::ofstream(tmp.path + "/junk.smi") << "not-a-smiles\n[Xe]\n";  // nothing the codec keeps
  r = run("train molecule --data " + tmp.path + "/junk.smi --steps 2 --out " + tmp.path + "/run3");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find(tmp.path + "/junk.smi: no training molecules left (2 read, 0 kept"), std::string::npos) << r.out;
  r = run("train molecule --smiles-column EX1 --steps 2 --out " + tmp.path + "/run4");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("--smiles-column: it names the CSV columns of --data, and no --data is given"), std::string::npos) << r.out;
  r = run("train molecule --max-atoms 80 --steps 2 --out " + tmp.path + "/run5");
  EXPECT_NE(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("--max-atoms"), std::string::npos) << r.out;
}

// A chemist's own SDF of 500 molecules end to end: trained on (with what was dropped named and
// counted), sampled, evaluated against its held-out split and against another file of theirs;
// a CSV with its SMILES in a named column; a file that is no SDF at all.
TEST(CliMolecule, UsersSdfTrainsSamplesAndEvaluates) {
  const std::vector<std::string> sources = {"/usr/share/RDKit/Data/NCI/first_200.props.sdf", "/usr/share/RDKit/Projects/DbCLI/testData/pubchem.200.sdf",
                                            "/usr/share/RDKit/Projects/DbCLI/testData/bzr.sdf"};
  for (const auto& f : sources) {
    if (!std::filesystem::exists(f)) GTEST_SKIP() << "rdkit-data not installed";
  }
  const diffuse::test::TempDir tmp("cli_molecule_sdf");
  const std::string d = tmp.path;
  {
    std::ofstream out(d + "/mine.sdf");
    int records = 0;
    for (const auto& f : sources) {
      std::ifstream in(f);
      std::string line, record;
      while (records < 500 && std::getline(in, line)) {
        record += line + "\n";
        if (line.rfind("$$$$", 0) == 0) out << record, record.clear(), ++records;
      }
    }
    ASSERT_EQ(records, 500);
    const std::unique_ptr<RDKit::RWMol> si(RDKit::SmilesToMol("C[Si](C)(C)c1ccccc1"));
    out << RDKit::MolToMolBlock(*si) << "$$$$\n";
    out << "broken\n  by hand\n\n  3  2  0  0  0  0  0  0  0  0999 V2000\nnot an atom line\nM  END\n$$$$\n";
  }
  auto r = run("train molecule --data " + d + "/mine.sdf --steps 2 --batch 8 --out " + d + "/run");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("molecules from " + d + "/mine.sdf"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("molecules: 502 read"), std::string::npos) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("dropped \\d+ \\(elements not in the vocabulary: [^)]*\\bSi 2\\b"))) << r.out;  // one is pubchem's
  EXPECT_NE(r.out.find("dropped 1 (RDKit cannot parse or sanitise)"), std::string::npos) << r.out;
  const std::string ck = d + "/run/checkpoint.safetensors";
  EXPECT_EQ(diffuse::load_checkpoint(ck).recipe.at("codec").at("max_atoms").get<int>(), 40);
  r = run("sample molecule --checkpoint " + ck + " --n 4 --steps 3 --repair --out " + d + "/out.sdf");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(std::filesystem::exists(d + "/out.sdf"));
  r = run("eval molecule " + ck + " --n-per-class 1 --steps 2 --calibrate --json");
  ASSERT_EQ(r.code, 0) << r.out;
  auto j = diffuse::Json::parse(r.out.substr(r.out.find('{')));
  const int64_t held_out = j.at("reference").at("held_out").get<int64_t>();
  EXPECT_GT(held_out, 20);
  EXPECT_LT(held_out, 100);
  EXPECT_GT(j.at("test_vs_train").at("guacamol_kl_score").get<double>(), 0.5);
  // Against another file of the user's: its molecules, read and counted, are the reference.
  {
    std::ifstream in("/usr/share/RDKit/Data/NCI/first_5K.smi");
    std::ofstream out(d + "/theirs.smi");
    std::string line;
    for (int i = 0; i < 300 && std::getline(in, line); ++i) out << line << "\n";
    out << std::string(45, 'C') << " too_big_for_the_codec\n";  // scored against, not encoded
  }
  r = run("eval molecule " + ck + " --n-per-class 1 --steps 2 --reference " + d + "/theirs.smi --calibrate --json");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("reference molecules: 301 read"), std::string::npos) << r.out;
  j = diffuse::Json::parse(r.out.substr(r.out.find('{')));
  EXPECT_GT(j.at("reference").at("held_out").get<int64_t>(), 250);
  EXPECT_EQ(j.at("reference").at("files"), diffuse::Json::array({d + "/theirs.smi"}));
  r = run("eval molecule " + ck + " --n-per-class 1 --steps 2 --reference " + d + "/none.smi");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("--reference " + d + "/none.smi: no such file"), std::string::npos) << r.out;
  // A CSV whose SMILES sit in a column of another name.
  std::ofstream(d + "/mine.csv") << "id,structure\n1,CCOc1ccccc1\n2,CC(=O)Nc1ccc(O)cc1\n3,CCN(CC)CC\n4,c1ccc2ccccc2c1\n";
  r = run("train molecule --data " + d + "/mine.csv --steps 1 --batch 2 --out " + d + "/csv");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find(d + "/mine.csv: no SMILES column in the CSV header"), std::string::npos) << r.out;
  r = run("train molecule --data " + d + "/mine.csv --smiles-column structure --max-atoms 64 --steps 1 --batch 2 --out " + d + "/csv");
  ASSERT_EQ(r.code, 0) << r.out;
  const auto csv = diffuse::load_checkpoint(d + "/csv/checkpoint.safetensors").recipe;
  EXPECT_EQ(csv.at("data").at("columns"), diffuse::Json::array({"structure"}));
  EXPECT_EQ(csv.at("codec").at("max_atoms").get<int>(), 64);
  // A fine-tune (--init): the trained model's weights, codec and noise marginals, the new molecules'
  // sizes and logP bins. At a learning rate of 1e-12 it samples what the model it started from does.
  r = run("train molecule --init " + ck + " --data " + d + "/mine.csv --smiles-column structure --steps 1 --batch 2 --lr 1e-12 --out " + d + "/ft");
  ASSERT_EQ(r.code, 0) << r.out;
  const auto ft = diffuse::load_checkpoint(d + "/ft/checkpoint.safetensors").recipe;
  const auto base = diffuse::load_checkpoint(ck).recipe;
  EXPECT_EQ(ft.at("init").get<std::string>(), ck);
  EXPECT_EQ(ft.at("data").at("files"), diffuse::Json::array({d + "/mine.csv"}));
  EXPECT_EQ(ft.at("discrete").at("marginals"), base.at("discrete").at("marginals"));
  EXPECT_EQ(ft.at("atom_counts"), csv.at("atom_counts"));  // the CSV's training split, not the SDF's
  EXPECT_NE(ft.at("atom_counts").size(), base.at("atom_counts").size());
  for (const auto* model : {"run", "ft"}) {
    r = run("sample molecule --checkpoint " + d + "/" + model + "/checkpoint.safetensors --n 6 --steps 4 --atoms 9 --label \"logP 1-2\" --repair --out " + d +
            "/" + model + ".smi");
    ASSERT_EQ(r.code, 0) << r.out;
  }
  EXPECT_FALSE(diffuse::read_file(d + "/run.smi").empty());
  EXPECT_EQ(diffuse::read_file(d + "/run.smi"), diffuse::read_file(d + "/ft.smi"));
  r = run("train molecule --init " + ck + " --max-atoms 64 --steps 1 --out " + d + "/ft64");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("--max-atoms 64: " + ck + " holds 40 atoms"), std::string::npos) << r.out;
  r = run("train molecule --init " + ck + " --objective categorical --steps 1 --out " + d + "/ftc");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("--objective categorical: " + ck + " is a discrete model"), std::string::npos) << r.out;
  EXPECT_FALSE(std::filesystem::exists(d + "/ftc"));
  r = run("train molecule --init " + ck + " --resume " + d + "/ft/checkpoint.safetensors --steps 2 --out " + d + "/ft2");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("--init " + ck + ": a run either resumes (--resume) or starts from a model, not both"), std::string::npos) << r.out;
  EXPECT_FALSE(std::filesystem::exists(d + "/ft2"));
  r = run("train molecule --resume " + d + "/csv/checkpoint.safetensors --max-atoms 40 --steps 2 --out " + d + "/csv2");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("--max-atoms 40: " + d + "/csv/checkpoint.safetensors holds 64 atoms"), std::string::npos) << r.out;
  // A file that is no SDF at all is named, with what was read of it.
  std::ofstream(d + "/noise.sdf") << std::string(3000, '\x7f') << "\n$$$$\n";
  r = run("train molecule --data " + d + "/noise.sdf --steps 1 --out " + d + "/noise");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find(d + "/noise.sdf: no molecule records (expected SDF records, each ending in $$$$)"), std::string::npos) << r.out;
}

}  // namespace
