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

namespace {

// Whether `v` can stand where the default `d` stands: integers where integers are (so a 1e70
// never reaches a conversion to int64), numbers for numbers, and the same for booleans, strings
// and the elements of arrays. Null defaults and empty default arrays take anything.
bool same_kind(const Json& v, const Json& d) {
  if (d.is_null()) return true;
  if (d.is_number_integer()) return v.is_number_integer();
  if (d.is_number()) return v.is_number();
  if (d.is_boolean()) return v.is_boolean();
  if (d.is_string()) return v.is_string();
  if (d.is_array()) {
    if (!v.is_array()) return false;
    if (d.empty()) return true;
    for (const auto& e : v) if (!same_kind(e, d.front())) return false;
    return true;
  }
  return v.type() == d.type();
}

std::string kind_name(const Json& d) {
  if (d.is_number_integer()) return "an integer";
  if (d.is_number()) return "a number";
  if (d.is_boolean()) return "true or false";
  if (d.is_string()) return "a string";
  if (d.is_array()) return d.empty() ? "an array" : "an array of " + kind_name(d.front()).substr(d.front().is_number_integer() ? 3 : 2) + "s";
  return std::string("a JSON ") + d.type_name();
}

}  // namespace

void check_known_keys(const Json& j, const Json& defaults, const std::string& what) {
  if (!j.is_object()) throw std::invalid_argument(what + " must be a JSON object");
  for (const auto& [k, v] : j.items()) {
    if (!defaults.contains(k)) {
      std::string known;
      for (const auto& [dk, dv] : defaults.items()) known += (known.empty() ? "" : ", ") + dk;
      throw std::invalid_argument("unknown key '" + k + "' in " + what + "; known keys: " + known);
    }
    if (!same_kind(v, defaults.at(k))) {
      std::string shown = v.dump();
      if (shown.size() > 40) shown = shown.substr(0, 40) + "...";
      throw std::invalid_argument(what + ": '" + k + "' must be " + kind_name(defaults.at(k)) + ", got " + shown);
    }
  }
}

}  // namespace diffuse
