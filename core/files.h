// Output files: atomic writes (temporary file, fsync, rename) that never overwrite without force.
#pragma once
#include <string>

namespace diffuse {

// Throws if `path` exists and `force` is false ("... exists; pass --force to overwrite").
void check_writable(const std::string& path, bool force);

// Writes `bytes` to `path` atomically: a crash leaves either the old file or the new one.
void write_file_atomic(const std::string& path, const std::string& bytes, bool force);

// The whole file as bytes; throws naming the file when it cannot be read.
std::string read_file(const std::string& path);

// RFC 4648 base64 (for data: URIs in self-contained HTML).
std::string base64(const std::string& bytes);

}  // namespace diffuse
