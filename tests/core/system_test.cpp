// Threads, BLAS detection and the GEMM measurement.
#include "core/system.h"

#include <cstdlib>
#include <cstring>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

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

#if defined(__GLIBC__)
// After keep_freed_memory, a block far above glibc's largest mmap threshold (32 MB) comes from the
// heap, not from mmap, and freeing it leaves it in the process for the next one (no trim).
TEST(KeepFreedMemory, LargeBlocksComeFromTheHeapAndStayAfterFree) {
  ASSERT_TRUE(diffuse::keep_freed_memory());
  const size_t big = size_t(96) << 20;
  const size_t mapped = mallinfo2().hblkhd;  // blocks mmapped before (static initialisation)
  void* p = std::malloc(big);
  ASSERT_NE(p, nullptr);
  std::memset(p, 1, big);
  EXPECT_EQ(mallinfo2().hblkhd, mapped) << "the block was mmapped";
  std::free(p);
  const auto after = mallinfo2();
  EXPECT_GE(after.fordblks, big) << "the freed block went back to the OS";
  void* q = std::malloc(big);
  EXPECT_EQ(q, p) << "the next block of that size did not reuse the freed one";
  std::free(q);
}
#endif
