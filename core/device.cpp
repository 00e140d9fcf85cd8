// --device names to torch::Device.
#include "core/device.h"

#include <torch/cuda.h>

#include <stdexcept>

#include "core/system.h"

namespace diffuse {

c10::Device parse_device(const std::string& name, const std::string& option) {
  const std::string what = option + " " + (name.empty() ? "''" : name);
  if (name == "cpu") return c10::Device(c10::kCPU);
  if (name == "cuda" || name.rfind("cuda:", 0) == 0) {
    int64_t index = -1;
    if (name != "cuda") {
      const std::string digits = name.substr(5);
      if (digits.empty() || digits.size() > 3 || digits.find_first_not_of("0123456789") != std::string::npos) {
        throw std::invalid_argument(what + ": expected cuda:N with a GPU index N");
      }
      index = std::stoll(digits);
    }
    if (!torch::cuda::is_available()) {
      throw std::invalid_argument(what + ": this libtorch (" + torch_version() +
                                  ") has no usable CUDA (built for the CPU only, or no GPU visible); use --device cpu");
    }
    const int64_t count = int64_t(torch::cuda::device_count());
    if (index >= count) {
      throw std::invalid_argument(what + ": this machine has " + std::to_string(count) + " GPU(s), cuda:0 to cuda:" + std::to_string(count - 1));
    }
    return index < 0 ? c10::Device(c10::kCUDA) : c10::Device(c10::kCUDA, c10::DeviceIndex(index));
  }
  throw std::invalid_argument(what + ": unknown device; one of: cpu, cuda, cuda:N");
}

}  // namespace diffuse
