// Threads, BLAS detection and the GEMM measurement.
#include "core/system.h"

#include <torch/torch.h>

#include "tests/core/test_util.h"

namespace diffuse {
namespace {

TEST(SetThreads, ZeroMeansAllHardwareThreads) {
  EXPECT_EQ(set_threads(0), hardware_threads());
  EXPECT_EQ(set_threads(1), 1);
  set_threads(0);
}

TEST(MeasureGemm, ReportsFlopsFromTheBestRun) {
  const auto m = measure_gemm(128, 0.01);
  EXPECT_GE(m.repeats, 3);
  EXPECT_GT(m.gflops, 0.0);
  EXPECT_NEAR(m.gflops, 2.0 * 128 * 128 * 128 / m.seconds * 1e-9, 1e-6 * m.gflops);
}

TEST(BlasDescription, NamesALibrary) {
  const auto d = blas_description();
  EXPECT_FALSE(d.empty());
  EXPECT_EQ(d.find("cublas"), std::string::npos) << d;  // a GPU's BLAS is not the CPU's
}

TEST(BlasDescription, ReadsALinkedInBlasFromTheBuildConfig) {
  // Lines in the form of at::show_config()'s output; a PyPI CUDA libtorch links MKL statically.
  const std::string config =
      "PyTorch built with:\n  - Build settings: BLAS_INFO=mkl, BUILD_TYPE=Release, CUDA_VERSION=13.0, USE_CUDA=ON\n";
  EXPECT_EQ(blas_from_build_config(config), "linked into libtorch (mkl)");
  EXPECT_EQ(blas_from_build_config("  - Build settings: BLAS_INFO=open\n"), "linked into libtorch (open)");
  EXPECT_EQ(blas_from_build_config("PyTorch built with:\n  - CPU capability usage: AVX2\n"),
            "none found (libtorch's built-in kernels)");
}

}  // namespace
}  // namespace diffuse
