// --precision: bf16 autocast for the networks, fp32 for everything around them.
#include "core/precision.h"

#include <gtest/gtest.h>
#include <ATen/autocast_mode.h>
#include <torch/torch.h>

#include "core/dit.h"
#include "core/dit_pipeline.h"
#include "core/engine.h"

namespace diffuse {
namespace {

DiT small_dit() {
  DiTConfig c;
  c.input_size = {8, 8};
  c.patch = {2, 2};
  c.in_channels = 4;
  c.hidden = 64;
  c.depth = 2;
  c.heads = 4;
  c.num_classes = 3;
  c.learn_sigma = false;
  torch::manual_seed(0);
  DiT net(c);
  // adaLN-Zero starts every block at the identity: perturb the weights so the blocks compute.
  torch::NoGradGuard g;
  for (auto& p : net->parameters()) p.add_(torch::randn_like(p) * 0.05);
  net->eval();
  return net;
}

TEST(Precision, NamesResolveAndAutoFollowsTheHardware) {
  const c10::Device cpu(c10::kCPU);
  EXPECT_EQ(resolve_precision("fp32", cpu), Precision::kFp32);
  EXPECT_EQ(resolve_precision("bf16", cpu), Precision::kBf16);
  EXPECT_EQ(resolve_precision("auto", cpu), cpu_isa().native_bf16() ? Precision::kBf16 : Precision::kFp32);
  EXPECT_EQ(resolve_precision("auto", c10::Device(c10::kCUDA)), Precision::kBf16);
  try {
    resolve_precision("fp8", cpu);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "--precision fp8: expected fp32, bf16 or auto");
  }
  EXPECT_FALSE(cpu_isa().summary().empty());
}

TEST(Precision, Bf16DenoiserIsCloseToFp32AndReturnsFp32) {
  auto net = small_dit();
  const auto x = torch::randn({3, 4, 8, 8});
  const auto sigma = torch::tensor(2.0);
  const Condition c{torch::tensor({0, 1, 2}, torch::kLong)};
  torch::NoGradGuard g;
  const auto fp32 = dit_denoiser(net, 1.0)(x, sigma, c);
  const auto bf16 = dit_denoiser(net, 1.0, 0.0, Precision::kBf16)(x, sigma, c);
  EXPECT_EQ(bf16.scalar_type(), torch::kFloat32);
  const double rel = ((bf16 - fp32).norm() / fp32.norm()).item<double>();
  EXPECT_LT(rel, 3e-2);
  EXPECT_GT(rel, 1e-6);  // it did run in bf16
  EXPECT_FALSE(at::autocast::is_cpu_enabled());  // and the guard switched autocast off again
}

// A bf16 sample is still a function of its seed: the same items in batches of 1, 2 and 5, on one
// thread and on two.
TEST(Precision, Bf16SamplesDoNotDependOnTheBatchOrThreads) {
  auto net = small_dit();
  SampleRequest r;
  r.item_shape = {4, 8, 8};
  r.n = 5;
  r.seed = 11;
  r.steps = 4;
  r.condition.labels = torch::tensor({0, 1, 2, 0, 1}, torch::kLong);
  r.null_label = 3;
  r.guidance.scale = 2.0;
  r.precision = Precision::kBf16;
  torch::Tensor first;
  const int before = torch::get_num_threads();
  for (const int threads : {1, 2}) {
    torch::set_num_threads(threads);
    for (const int64_t batch : {1, 2, 5}) {
      r.batch = batch;
      const auto out = sample(dit_denoiser(net, 1.0, 0.0, r.precision), r);
      if (!first.defined()) first = out;
      EXPECT_TRUE(torch::equal(out, first)) << threads << " threads, batch " << batch << ": max diff " << (out - first).abs().max().item<double>();
    }
  }
  torch::set_num_threads(before);
}

}  // namespace
}  // namespace diffuse
