// JSON for configs, recipes and reference files (nlohmann/json), with errors that name the file.
#pragma once
#include <nlohmann/json.hpp>

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

}  // namespace diffuse
