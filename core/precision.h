// --precision: the compute type of the backbones. fp32, or bf16 through libtorch's autocast
// (matrix products and convolutions in bf16 on oneDNN or cuBLAS, normalisation and softmax
// statistics in fp32, the network's output cast back to fp32), or auto: bf16 where the hardware
// has native bf16 dot products (a CUDA device, or a CPU with AVX512_BF16 or AMX-BF16), else fp32.
// Sampler state, schedules, losses and optimizer state stay fp32 or fp64 whatever the switch says.
#pragma once
#include <c10/core/Device.h>

#include <string>

namespace diffuse {

enum class Precision { kFp32, kBf16 };

// What the CPU this process runs on offers, read with cpuid at run time (not at build time).
struct CpuIsa {
  bool avx2 = false, avx512f = false, avx512_bf16 = false, amx_bf16 = false;
  bool native_bf16() const { return avx512_bf16 || amx_bf16; }
  std::string summary() const;  // e.g. "AVX2 AVX-512F AVX512_BF16 AMX-BF16"
};
const CpuIsa& cpu_isa();

// The default --precision of sample, eval and bench image: bf16 where the hardware has it, since
// each shipped model's judge scores the same seeds alike in fp32 and bf16 (docs/core.md) and bf16
// samples about twice as fast. Training keeps fp32 unless asked (a bf16-trained model's quality
// has not been measured against an fp32-trained one).
inline constexpr const char* kDefaultSamplePrecision = "auto";

// "fp32", "bf16" or "auto" for `device`; throws one line naming the option for anything else.
Precision resolve_precision(const std::string& name, const c10::Device& device, const std::string& option = "--precision");
std::string precision_name(Precision p);  // "fp32", "bf16"

// bf16 autocast on `device` for the guard's lifetime (a no-op for fp32).
class AutocastGuard {
 public:
  AutocastGuard(Precision p, const c10::Device& device);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  bool on_ = false, cuda_ = false;
};

}  // namespace diffuse
