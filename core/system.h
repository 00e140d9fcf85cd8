// What diffuse runs on: library versions, the BLAS behind libtorch, threads, and a measured GEMM
// rate, so a user sees at once when reference BLAS slipped in.
#pragma once
#include <string>
#include <vector>

namespace diffuse {

struct GemmMeasurement {
  int64_t n = 1024;         // square fp32 matmul size
  double gflops = 0.0;      // best of `repeats`
  double seconds = 0.0;     // time of the best run
  int repeats = 0;
};

// Measures GEMM GFLOP/s of torch::matmul on n x n matrices (best of a short run of repeats,
// after one warm-up). 2 n^3 flops per matmul. device: a --device name (cuda times with a sync);
// bf16: bfloat16 operands (oneDNN on CPUs, cuBLAS on GPUs) instead of fp32.
GemmMeasurement measure_gemm(int64_t n = 1024, double min_seconds = 0.5, const std::string& device = "cpu", bool bf16 = false);

// Waits for the work queued on `device` (a --device name): a no-op on the CPU.
void synchronize(const std::string& device);

// Sets libtorch's intra-op thread count; n <= 0 means all hardware threads. More than
// kThreadsPerCore per hardware thread is refused (it only thrashes, and 10,000 hang libtorch).
// Returns the count in force afterwards.
constexpr int kThreadsPerCore = 4;
int set_threads(int n);
int hardware_threads();

// The BLAS library libtorch's matmul resolved to, e.g. "OpenBLAS 0.3.21 (pthread)" or
// "reference BLAS (netlib) /usr/lib/x86_64-linux-gnu/blas/libblas.so.3".
std::string blas_description();

// The BLAS that libtorch's build configuration (at::show_config()) names, for a libtorch that
// links its BLAS in: "linked into libtorch (mkl)"; "none found (...)" when it names none.
std::string blas_from_build_config(const std::string& config);

// Makes glibc keep freed memory for reuse instead of giving it back to the OS: no mmap for large
// blocks (which munmap returns at every free) and no trimming of the heap. libtorch allocates and
// frees every activation of every step; returned memory comes back through a page fault per 4 KiB
// page, which on the development VM cost 160 ms per 50 MB tensor: more than the matrix product
// that filled it (DiT-S/2 forward in bf16, batch 32: 35 -> 232 GFLOP/s). Call it first in main,
// before any allocation; a no-op where the C library is not glibc. Returns whether it took effect.
bool keep_freed_memory();

// Where diffuse keeps the data it builds once (rendered audio, cleaned molecule sets):
// $DIFFUSE_DATA, else $XDG_CACHE_HOME/diffuse, else ~/.cache/diffuse, else .cache/diffuse.
std::string cache_dir();

std::string torch_version();     // compiled-against version, e.g. "1.13.1"
std::string diffuse_version();

}  // namespace diffuse
