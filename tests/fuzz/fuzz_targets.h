// The fuzz targets (fuzz_targets.cpp): names, and one input through one target.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace diffuse::fuzz {

const std::vector<std::string>& targets();  // safetensors, config, reference, idx, wav, molecules
// Runs `target`'s parser on the input; a std::exception is the parser refusing it, not a finding.
void fuzz_one(const std::string& target, const uint8_t* data, size_t size);

}  // namespace diffuse::fuzz
