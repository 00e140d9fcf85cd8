// safetensors reading and writing with validation.
#include "core/safetensors.h"

#include <torch/torch.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "core/files.h"
#include "core/json.h"

namespace diffuse {
namespace {

struct DtypeName {
  torch::ScalarType type;
  const char* name;
};
const DtypeName kDtypes[] = {{torch::kFloat64, "F64"}, {torch::kFloat32, "F32"}, {torch::kFloat16, "F16"},
                             {torch::kBFloat16, "BF16"}, {torch::kInt64, "I64"}, {torch::kInt32, "I32"},
                             {torch::kInt16, "I16"}, {torch::kInt8, "I8"}, {torch::kUInt8, "U8"},
                             {torch::kBool, "BOOL"}};

std::string dtype_name(torch::ScalarType t) {
  for (const auto& d : kDtypes) if (d.type == t) return d.name;
  throw std::invalid_argument(std::string("safetensors: unsupported dtype ") + c10::toString(t));
}

torch::ScalarType dtype_from(const std::string& n, const std::string& where) {
  for (const auto& d : kDtypes) if (n == d.name) return d.type;
  throw std::runtime_error(where + ": unsupported dtype '" + n + "'");
}

// The file's header (length, JSON, padding) and its tensors' bytes in order, contiguous on the CPU
// (a contiguous CPU tensor is not copied).
std::pair<std::string, std::vector<torch::Tensor>> safetensors_layout(const SafeTensors& st) {
  Json header = Json::object();
  if (!st.metadata.empty()) header["__metadata__"] = st.metadata;
  std::vector<torch::Tensor> data;
  uint64_t offset = 0;
  for (const auto& [name, t] : st.tensors) {  // std::map: sorted names, a stable layout
    auto c = t.detach().to(torch::kCPU).contiguous();
    const uint64_t n = uint64_t(c.numel()) * uint64_t(c.element_size());
    header[name] = {{"dtype", dtype_name(c.scalar_type())}, {"shape", c.sizes().vec()}, {"data_offsets", {offset, offset + n}}};
    offset += n;
    data.push_back(c);
  }
  std::string h = header.dump();
  h.append((8 - h.size() % 8) % 8, ' ');  // pad with spaces so data starts 8-byte aligned
  std::string out(8, '\0');
  const uint64_t len = h.size();
  for (int i = 0; i < 8; ++i) out[size_t(i)] = char((len >> (8 * i)) & 0xff);
  out += h;
  return {out, data};
}

std::string_view bytes_of(const torch::Tensor& c) { return {static_cast<const char*>(c.data_ptr()), size_t(c.numel()) * c.element_size()}; }

}  // namespace

std::string safetensors_bytes(const SafeTensors& st) {
  auto [out, data] = safetensors_layout(st);
  for (const auto& c : data) out += bytes_of(c);
  return out;
}

// Written part by part: a 4 GB latents cache needs no second 4 GB to be saved.
void save_safetensors(const std::string& path, const SafeTensors& st, bool force) {
  const auto [header, data] = safetensors_layout(st);
  std::vector<std::string_view> parts = {header};
  for (const auto& c : data) parts.push_back(bytes_of(c));
  write_file_atomic(path, parts, force);
}

SafeTensors parse_safetensors(const std::string& bytes, const std::string& where) {
  if (bytes.size() < 8) throw std::runtime_error(where + ": truncated (" + std::to_string(bytes.size()) + " bytes; a safetensors file starts with an 8-byte header length)");
  uint64_t len = 0;
  for (int i = 0; i < 8; ++i) len |= uint64_t(uint8_t(bytes[size_t(i)])) << (8 * i);
  if (len > bytes.size() - 8) {
    throw std::runtime_error(where + ": header length " + std::to_string(len) + " exceeds the file (" +
                             std::to_string(bytes.size()) + " bytes): truncated or not safetensors");
  }
  Json header;
  try {
    header = Json::parse(bytes.begin() + 8, bytes.begin() + 8 + std::ptrdiff_t(len));
  } catch (const Json::parse_error& e) {
    throw std::runtime_error(where + ": header is not valid JSON (" + e.what() + ")");
  }
  if (!header.is_object()) throw std::runtime_error(where + ": header is not a JSON object");
  const uint64_t data_start = 8 + len, data_size = bytes.size() - data_start;
  SafeTensors st;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const auto& [name, e] : header.items()) {
    if (name == "__metadata__") {
      for (const auto& [k, v] : e.items()) st.metadata[k] = v.get<std::string>();
      continue;
    }
    const std::string tw = where + ": tensor '" + name + "'";
    if (!e.is_object() || !e.contains("dtype") || !e.contains("shape") || !e.contains("data_offsets")) {
      throw std::runtime_error(tw + " lacks dtype, shape or data_offsets");
    }
    const auto type = dtype_from(e.at("dtype").get<std::string>(), tw);
    const auto shape = e.at("shape").get<std::vector<int64_t>>();
    const auto off = e.at("data_offsets").get<std::vector<uint64_t>>();
    if (off.size() != 2 || off[0] > off[1] || off[1] > data_size) {
      throw std::runtime_error(tw + " has data_offsets outside the data (" + std::to_string(data_size) + " bytes): truncated file");
    }
    uint64_t numel = 1;
    for (auto d : shape) {
      if (d < 0) throw std::runtime_error(tw + " has a negative dimension");
      numel *= uint64_t(d);
    }
    const uint64_t nbytes = numel * uint64_t(c10::elementSize(type));
    if (off[1] - off[0] != nbytes) {
      throw std::runtime_error(tw + ": " + std::to_string(off[1] - off[0]) + " bytes for shape and dtype needing " + std::to_string(nbytes));
    }
    auto t = torch::empty(shape, torch::TensorOptions().dtype(type));
    std::memcpy(t.data_ptr(), bytes.data() + data_start + off[0], nbytes);
    st.tensors[name] = t;
    ranges.push_back({off[0], off[1]});
  }
  std::sort(ranges.begin(), ranges.end());
  uint64_t pos = 0;
  for (const auto& [a, b] : ranges) {
    if (a != pos) throw std::runtime_error(where + ": tensor data overlaps or leaves gaps at byte " + std::to_string(a));
    pos = b;
  }
  if (pos != data_size) throw std::runtime_error(where + ": " + std::to_string(data_size - pos) + " trailing bytes after the last tensor");
  return st;
}

SafeTensors load_safetensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot open (expected a .safetensors file)");
  // Read at its size in one go: a string grown as it reads holds up to twice a file of gigabytes.
  in.seekg(0, std::ios::end);
  const std::streamoff size = in ? std::streamoff(in.tellg()) : std::streamoff(-1);
  in.clear();
  if (size < 0) {  // not a regular file (a pipe): read it as it comes
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return parse_safetensors(bytes, path);
  }
  std::string bytes(size_t(size), '\0');
  in.seekg(0);
  if (!in.read(bytes.data(), size)) throw std::runtime_error(path + ": read " + std::to_string(in.gcount()) + " of " + std::to_string(size) + " bytes");
  return parse_safetensors(bytes, path);
}

}  // namespace diffuse
