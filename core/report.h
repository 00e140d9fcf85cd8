// Small helpers shared by `diffuse report` and the modalities' report sections.
#pragma once
#include <filesystem>
#include <set>
#include <string>
#include <vector>

namespace diffuse {

// Text made safe for HTML element content and attribute values (< > & ").
std::string html_escape(const std::string& s);

// The regular files in dir (and its sub-folders when recursive) whose extension is one of exts
// (".wav", ...), sorted by path.
std::vector<std::filesystem::path> files_with_extension(const std::string& dir, const std::set<std::string>& exts, bool recursive = false);

}  // namespace diffuse
