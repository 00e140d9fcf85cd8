// Version, thread and BLAS information, and the GEMM measurement behind `diffuse info`.
#include "core/system.h"

#include <ATen/Version.h>
#include <dlfcn.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <torch/cuda.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <cstdlib>
#include <thread>

#include "core/device.h"

namespace diffuse {

void synchronize(const std::string& device) {
  if (parse_device(device).is_cuda()) torch::cuda::synchronize();
}

GemmMeasurement measure_gemm(int64_t n, double min_seconds, const std::string& device, bool bf16) {
  torch::NoGradGuard no_grad;
  auto gen = at::detail::createCPUGenerator(0);
  const auto dev = parse_device(device);
  const auto type = bf16 ? torch::kBFloat16 : torch::kFloat32;
  const auto a = torch::randn({n, n}, gen, torch::kFloat32).to(dev, type);
  const auto b = torch::randn({n, n}, gen, torch::kFloat32).to(dev, type);
  auto c = torch::matmul(a, b);  // warm-up: thread pool start, page faults
  synchronize(device);
  GemmMeasurement m;
  m.n = n;
  double best = 1e30, total = 0.0;
  using clock = std::chrono::steady_clock;
  while (total < min_seconds || m.repeats < 3) {
    const auto t0 = clock::now();
    c = torch::matmul(a, b);
    synchronize(device);
    const double dt = std::chrono::duration<double>(clock::now() - t0).count();
    best = std::min(best, dt);
    total += dt;
    ++m.repeats;
    if (m.repeats >= 200) break;
  }
  m.seconds = best;
  m.gflops = 2.0 * double(n) * double(n) * double(n) / best * 1e-9;
  return m;
}

int hardware_threads() { return std::max(1u, std::thread::hardware_concurrency()); }

bool keep_freed_memory() {
#if defined(__GLIBC__)
  // -1 disables trimming (mallopt(3)); without mmap, large blocks come from the heap and are reused.
  return mallopt(M_MMAP_MAX, 0) == 1 && mallopt(M_TRIM_THRESHOLD, -1) == 1;
#else
  return false;
#endif
}

int set_threads(int n) {
  if (n <= 0) {
    // All cores, shared among the ranks a launcher started on this machine (torchrun's
    // LOCAL_WORLD_SIZE, Slurm's SLURM_CPUS_PER_TASK), so that data-parallel ranks do not oversubscribe.
    n = hardware_threads();
    const char* local = std::getenv("LOCAL_WORLD_SIZE");
    const char* slurm = std::getenv("SLURM_CPUS_PER_TASK");
    if (local && std::atoi(local) > 1) n = std::max(1, n / std::atoi(local));
    else if (slurm && std::atoi(slurm) > 0) n = std::min(n, std::atoi(slurm));
  }
  if (n > kThreadsPerCore * hardware_threads()) {
    throw std::invalid_argument("--threads " + std::to_string(n) + ": at most " + std::to_string(kThreadsPerCore * hardware_threads()) + " (" +
                                std::to_string(kThreadsPerCore) + " per core; this machine has " + std::to_string(hardware_threads()) + ")");
  }
  torch::set_num_threads(n);
  return torch::get_num_threads();
}

namespace {

// The shared objects mapped into this process whose file name mentions "blas" or "mkl", except a
// GPU's BLAS (cuBLAS, hipBLAS, rocBLAS), which a CUDA or ROCm libtorch maps beside its CPU one.
std::vector<std::string> mapped_blas_libraries() {
  std::ifstream maps("/proc/self/maps");
  std::vector<std::string> out;
  std::string line;
  while (std::getline(maps, line)) {
    const auto slash = line.find('/');
    if (slash == std::string::npos) continue;
    const std::string path = line.substr(slash);
    const std::string base = path.substr(path.rfind('/') + 1);
    if (base.find("blas") == std::string::npos && base.find("mkl") == std::string::npos) continue;
    if (base.find("cublas") != std::string::npos || base.find("hipblas") != std::string::npos ||
        base.find("rocblas") != std::string::npos) continue;
    if (std::find(out.begin(), out.end(), path) == out.end()) out.push_back(path);
  }
  return out;
}

}  // namespace

std::string blas_description() {
  {  // make sure the BLAS is loaded and used once
    torch::NoGradGuard no_grad;
    auto x = torch::ones({64, 64});
    (void)torch::matmul(x, x);
  }
  using config_fn = char* (*)();
  if (auto f = reinterpret_cast<config_fn>(dlsym(RTLD_DEFAULT, "openblas_get_config"))) {
    return f();  // "OpenBLAS 0.3.21 ..."
  }
  const auto libs = mapped_blas_libraries();
  for (const auto& p : libs) {
    if (p.find("mkl") != std::string::npos) return "Intel MKL " + p;
  }
  for (const auto& p : libs) {
    if (p.find("openblas") != std::string::npos) return "OpenBLAS " + p;
  }
  if (!libs.empty()) {
    return "reference BLAS (slow: install libopenblas0-pthread) " + libs.front();
  }
  return blas_from_build_config(at::show_config());
}

std::string blas_from_build_config(const std::string& config) {
  // No BLAS library mapped: libtorch carries one linked in (the PyPI and CUDA builds link MKL
  // statically), and its build configuration names it ("BLAS_INFO=mkl, ...").
  const std::string key = "BLAS_INFO=";
  const auto at = config.find(key);
  if (at == std::string::npos) return "none found (libtorch's built-in kernels)";
  const auto begin = at + key.size();
  const auto end = config.find_first_of(", \n", begin);
  return "linked into libtorch (" + config.substr(begin, end == std::string::npos ? std::string::npos : end - begin) + ")";
}

std::string cache_dir() {
  if (const char* d = std::getenv("DIFFUSE_DATA")) return d;
  if (const char* x = std::getenv("XDG_CACHE_HOME")) return std::string(x) + "/diffuse";
  if (const char* h = std::getenv("HOME")) return std::string(h) + "/.cache/diffuse";
  return ".cache/diffuse";
}

std::string torch_version() {
  std::ostringstream s;
  s << TORCH_VERSION_MAJOR << '.' << TORCH_VERSION_MINOR << '.' << TORCH_VERSION_PATCH;
  return s.str();
}

std::string diffuse_version() { return DIFFUSE_VERSION; }

}  // namespace diffuse
