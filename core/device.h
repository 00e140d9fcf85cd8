// The device a command runs on. Every train, sample, eval and bench command takes --device; this
// is the one place that turns the name into a torch::Device and refuses what this build cannot use.
#pragma once
#include <c10/core/Device.h>

#include <string>

namespace diffuse {

// "cpu", "cuda" or "cuda:N". Throws one line naming the option and the value: an unknown name
// ("--device tpu: unknown device; one of: cpu, cuda, cuda:N"), or a CUDA device that this
// libtorch cannot use (built without CUDA, no GPU visible, or an index past the GPUs it sees).
c10::Device parse_device(const std::string& name, const std::string& option = "--device");

}  // namespace diffuse
