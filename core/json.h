// JSON for configs, recipes and reference files (nlohmann/json), with errors that name the file.
#pragma once
#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>

namespace diffuse {

using Json = nlohmann::json;

// Parses a JSON file; throws std::runtime_error naming the path on a missing file or bad JSON.
Json read_json_file(const std::string& path);

// The value at `key` of object `j`, or a runtime_error naming `where` and the key.
const Json& json_at(const Json& j, const std::string& key, const std::string& where);

// Throws unless `j` is an object whose keys all appear in `defaults` (the to_json of a default
// options struct), "unknown key 'k' in <what>; known keys: a, b, ...", and whose values are of the
// defaults' kinds: an integer where the default is one (a 1e70 never reaches an int64
// conversion), numbers, booleans, strings and arrays of them likewise.
void check_known_keys(const Json& j, const Json& defaults, const std::string& what);

// One field list per options struct: `fields` is a generic callable, fields(s, f), that calls
// f("name", s.member) for every field. These two build a struct's JSON form from it and read it
// back: keys that are not fields, or values of the wrong kind, are refused naming `what`;
// missing keys keep the struct's defaults. The caller validates the values.
template <class S, class Fields>
Json fields_to_json(const S& s, const Fields& fields) {
  Json j = Json::object();
  fields(s, [&j](const char* name, const auto& v) { j[name] = v; });
  return j;
}
template <class S, class Fields>
S fields_from_json(const Json& j, const Fields& fields, const std::string& what) {
  S s;
  check_known_keys(j, fields_to_json(s, fields), what);
  try {
    fields(s, [&j](const char* name, auto& v) { v = j.value(name, v); });
  } catch (const Json::exception& e) {
    throw std::invalid_argument(what + ": wrong type (" + e.what() + ")");
  }
  return s;
}
// s after s.validate() (which throws on a bad value): a config's from_json in one line.
template <class S>
S validated(S s) {
  s.validate();
  return s;
}

}  // namespace diffuse
