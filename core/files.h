// Output files: atomic writes (temporary file, fsync, rename) that never overwrite without force.
#pragma once
#include <string>

namespace diffuse {

// Throws if `path` exists and `force` is false ("... exists; pass --force to overwrite").
void check_writable(const std::string& path, bool force);

// Writes `bytes` to `path` atomically: a crash leaves either the old file or the new one.
void write_file_atomic(const std::string& path, const std::string& bytes, bool force);

}  // namespace diffuse
