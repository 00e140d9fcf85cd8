// One-line error text for users.
#pragma once
#include <string>

namespace diffuse {

// An exception's message without nlohmann/json's internal prefix ("[json.exception.out_of_range.403] ").
inline std::string without_json_prefix(std::string msg) {
  if (const auto close = msg.find("] "); msg.rfind("[json.exception.", 0) == 0 && close != std::string::npos) msg = msg.substr(close + 2);
  return msg;
}

}  // namespace diffuse
