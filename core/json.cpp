// JSON file reading with errors that name the file and the problem.
#include "core/json.h"

#include <fstream>
#include <stdexcept>

namespace diffuse {

Json read_json_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot open (expected a readable JSON file)");
  try {
    return Json::parse(in);
  } catch (const Json::parse_error& e) {
    throw std::runtime_error(path + ": not valid JSON (" + e.what() + ")");
  }
}

const Json& json_at(const Json& j, const std::string& key, const std::string& where) {
  if (!j.is_object() || !j.contains(key)) {
    throw std::runtime_error(where + ": missing key '" + key + "'");
  }
  return j.at(key);
}

void check_known_keys(const Json& j, const Json& defaults, const std::string& what) {
  if (!j.is_object()) throw std::invalid_argument(what + " must be a JSON object");
  for (const auto& [k, v] : j.items()) {
    if (defaults.contains(k)) continue;
    std::string known;
    for (const auto& [dk, dv] : defaults.items()) known += (known.empty() ? "" : ", ") + dk;
    throw std::invalid_argument("unknown key '" + k + "' in " + what + "; known keys: " + known);
  }
}

}  // namespace diffuse
