// safetensors, the ecosystem's weight format (a file Python's `safetensors` opens): an 8-byte
// little-endian header length N, N bytes of JSON {name: {dtype, shape, data_offsets}, ...,
// "__metadata__": {str: str}}, then the raw little-endian tensor bytes.
#pragma once
#include <torch/types.h>

#include <map>
#include <string>

namespace diffuse {

struct SafeTensors {
  std::map<std::string, torch::Tensor> tensors;
  std::map<std::string, std::string> metadata;
};

// Serialises to bytes (tensors are moved to the CPU and made contiguous).
std::string safetensors_bytes(const SafeTensors& st);
// Writes atomically (temporary file, fsync, rename); refuses an existing path without force.
void save_safetensors(const std::string& path, const SafeTensors& st, bool force);
// Reads and validates: header length within the file, JSON header, known dtypes, offsets that
// tile the data section exactly and match dtype x shape. Errors name the file and the problem.
SafeTensors load_safetensors(const std::string& path);
SafeTensors parse_safetensors(const std::string& bytes, const std::string& name);

}  // namespace diffuse
