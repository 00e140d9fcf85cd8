// Precision switch, run-time CPU feature detection and the autocast guard.
#include "core/precision.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

#include <stdexcept>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

// libtorch 2.4 replaced the per-device autocast setters (set_enabled, set_cpu_enabled, ...) by
// ones that take the device type.
#define DIFFUSE_DEVICE_TYPED_AUTOCAST (TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4))

namespace diffuse {

std::string CpuIsa::summary() const {
  std::string s;
  for (const auto& [on, name] : {std::pair{avx2, "AVX2"}, {avx512f, "AVX-512F"}, {avx512_bf16, "AVX512_BF16"}, {amx_bf16, "AMX-BF16"}}) {
    if (on) s += (s.empty() ? "" : " ") + std::string(name);
  }
  return s.empty() ? "none of AVX2, AVX-512F, AVX512_BF16, AMX-BF16" : s;
}

const CpuIsa& cpu_isa() {
  static const CpuIsa isa = [] {
    CpuIsa i;
#if defined(__x86_64__) || defined(__i386__)
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
      i.avx2 = (b >> 5) & 1;
      i.avx512f = (b >> 16) & 1;
      i.amx_bf16 = (d >> 22) & 1;
      const unsigned max_sub = a;
      if (max_sub >= 1 && __get_cpuid_count(7, 1, &a, &b, &c, &d)) i.avx512_bf16 = (a >> 5) & 1;
    }
#endif
    return i;
  }();
  return isa;
}

Precision resolve_precision(const std::string& name, const c10::Device& device, const std::string& option) {
  if (name == "fp32") return Precision::kFp32;
  if (name == "bf16") return Precision::kBf16;
  if (name == "auto") return device.is_cuda() || cpu_isa().native_bf16() ? Precision::kBf16 : Precision::kFp32;
  throw std::invalid_argument(option + " " + name + ": expected fp32, bf16 or auto");
}

std::string precision_name(Precision p) { return p == Precision::kBf16 ? "bf16" : "fp32"; }

AutocastGuard::AutocastGuard(Precision p, const c10::Device& device) : on_(p == Precision::kBf16), cuda_(device.is_cuda()) {
  if (!on_) return;
#if DIFFUSE_DEVICE_TYPED_AUTOCAST
  const auto type = cuda_ ? at::kCUDA : at::kCPU;
  at::autocast::set_autocast_dtype(type, at::kBFloat16);
  at::autocast::set_autocast_enabled(type, true);
#else
  if (cuda_) {
    at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
    at::autocast::set_enabled(true);
  } else {
    at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    at::autocast::set_cpu_enabled(true);
  }
#endif
}

AutocastGuard::~AutocastGuard() {
  if (!on_) return;
#if DIFFUSE_DEVICE_TYPED_AUTOCAST
  at::autocast::set_autocast_enabled(cuda_ ? at::kCUDA : at::kCPU, false);
#else
  if (cuda_) at::autocast::set_enabled(false); else at::autocast::set_cpu_enabled(false);
#endif
  at::autocast::clear_cache();
}

}  // namespace diffuse
