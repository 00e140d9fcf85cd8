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

}  // namespace diffuse
