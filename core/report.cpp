// Helpers for report pages.
#include "core/report.h"

#include <algorithm>

namespace diffuse {

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '&') out += "&amp;";
    else if (c == '"') out += "&quot;";
    else out += c;
  }
  return out;
}

std::vector<std::filesystem::path> files_with_extension(const std::string& dir, const std::set<std::string>& exts, bool recursive) {
  std::vector<std::filesystem::path> files;
  auto add = [&](const std::filesystem::directory_entry& e) {
    if (e.is_regular_file() && exts.count(e.path().extension().string())) files.push_back(e.path());
  };
  if (recursive) {
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) add(e);
  } else {
    for (const auto& e : std::filesystem::directory_iterator(dir)) add(e);
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace diffuse
