// The image pipeline through the diffuse program (label: slow, about a minute).
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "core/json.h"
#include "tests/apps/cli_util.h"

using diffuse::test::run;

namespace {

// The image pipeline end to end on a few hundred Fashion-MNIST images and a handful of steps:
// VAE, classifier, latent DiT, a PNG grid, one file per sample, and the evaluation JSON.
TEST(CliImage, VaeDitSampleEvalRoundTrip) {
  if (!std::ifstream("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")) GTEST_SKIP() << "dataset-fashion-mnist not installed";
  const diffuse::test::TempDir tmp("cli_image");
  const std::string d = tmp.path;
  auto r = run("train vae --steps 3 --batch 8 --data-n 64 --out " + d + "/vae");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("latent scaling factor"), std::string::npos) << r.out;
  r = run("eval vae " + d + "/vae/checkpoint.safetensors --json");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_GT(diffuse::Json::parse(r.out).at("psnr_db").get<double>(), 0.0);
  r = run("train classifier --steps 3 --batch 16 --data-n 64 --out " + d + "/clf");
  ASSERT_EQ(r.code, 0) << r.out;
  r = run("train image --steps 3 --batch 8 --data-n 64 --vae " + d + "/vae/checkpoint.safetensors --out " + d + "/dit");
  ASSERT_EQ(r.code, 0) << r.out;
  const std::string ck = d + "/dit/checkpoint.safetensors";
  r = run("sample image --checkpoint " + ck + " --class 'Ankle boot' --n 4 --steps 3 --cfg 2 --grid --out " + d + "/boots.png");
  ASSERT_EQ(r.code, 0) << r.out;
  r = run("sample image --checkpoint " + ck + " --class 9 --n 2 --steps 3 --out " + d + "/one.png");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(std::ifstream(d + "/one_0.png") && std::ifstream(d + "/one_1.png"));
  r = run("sample image --checkpoint " + ck + " --class 9 --n 2 --steps 3 --out " + d + "/one.png");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find(d + "/one_0.png: exists; pass --force to overwrite"), std::string::npos) << r.out;
  r = run("sample image --checkpoint " + ck + " --class Boot --n 2 --out " + d + "/x.png");
  EXPECT_NE(r.out.find("unknown class 'Boot'; one of: 0=T-shirt/top"), std::string::npos) << r.out;
  r = run("eval image " + ck + " --classifier " + d + "/clf/checkpoint.safetensors --n-per-class 2 --steps 2 --json");
  ASSERT_EQ(r.code, 0) << r.out;
  const auto j = diffuse::Json::parse(r.out);
  EXPECT_EQ(j.at("samples").at("n").get<int>(), 20);
  EXPECT_TRUE(j.at("samples").contains("fd"));
  // Speed benchmark: with CFG, one batched network call per step (dpmpp_2m: one per step).
  // Both precisions in one run, each against the GEMM rate of its own type.
  r = run("bench image --checkpoint " + ck + " --n 4 --steps 3 --cfg 3 --precision fp32,bf16 --json");
  ASSERT_EQ(r.code, 0) << r.out;
  const auto b = diffuse::Json::parse(r.out);
  ASSERT_EQ(b.at("rows").size(), 2u);
  for (const auto& row : b.at("rows")) {
    EXPECT_EQ(row.at("network_calls").get<int>(), 3);
    EXPECT_EQ(row.at("network_items").get<int>(), 3 * 2 * 4);
    EXPECT_GT(row.at("images_per_second").get<double>(), 0.0);
    EXPECT_GT(row.at("fraction_of_gemm").get<double>(), 0.0);
  }
  EXPECT_EQ(b.at("rows")[0].at("precision"), "fp32");
  EXPECT_EQ(b.at("rows")[1].at("precision"), "bf16");
  // Labelled grid, pixel-space training, and an image folder with a broken file.
  r = run("sample image --checkpoint " + ck + " --class rows --columns 2 --n 4 --steps 2 --grid --labelled --scale 2 --out " + d + "/rows.png");
  ASSERT_EQ(r.code, 0) << r.out;
  r = run("train image --pixel --steps 2 --batch 8 --data-n 32 --out " + d + "/pixel");
  ASSERT_EQ(r.code, 0) << r.out;
  r = run("sample image --checkpoint " + d + "/pixel/checkpoint.safetensors --n 2 --steps 2 --grid --out " + d + "/pixel.png");
  ASSERT_EQ(r.code, 0) << r.out;
  std::system(("mkdir -p " + d + "/folder/coat " + d + "/folder/bag && cp " + d + "/one_0.png " + d + "/one_1.png " + d +
               "/folder/coat/ && cp " + d + "/boots.png " + d + "/folder/bag/ && echo junk > " + d + "/folder/bag/bad.png").c_str());
  r = run("train image --vae " + d + "/vae/checkpoint.safetensors --data " + d + "/folder --image-size 28 28 --steps 2 --batch 2 --out " + d + "/fdit");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("skipped " + d + "/folder/bag/bad.png: not a readable image"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("3 images in 2 classes, 28x28x1; 1 unreadable file(s) skipped"), std::string::npos) << r.out;
  r = run("sample image --checkpoint " + d + "/fdit/checkpoint.safetensors --class coat --n 1 --steps 2 --out " + d + "/coat.png");
  ASSERT_EQ(r.code, 0) << r.out;
  r = run("train image --vae " + d + "/vae/checkpoint.safetensors --data " + d + "/folder --on-bad fail --steps 2 --out " + d + "/fdit2");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find(d + "/folder/bag/bad.png: not a readable image"), std::string::npos) << r.out;
}

}  // namespace
