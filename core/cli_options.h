// Command-line options as the plugins and the CLI register them with CLI11: checks whose messages
// name the value and what was expected, and the hooks by which a modality plugin adds its own
// typed options to `diffuse train|sample|eval NAME` (see core/modality.h).
#pragma once
#include <CLI/CLI.hpp>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <string>

namespace diffuse {

// Option checks whose messages name the value and what was expected (CLI11's own ranges print
// bounds like 1.797e308): "--n: expected a number > 0, got 0".
inline CLI::Validator number_in(double lo, double hi, bool lo_open, const std::string& what) {
  return CLI::Validator(
      [=](std::string& s) -> std::string {
        char* end = nullptr;
        errno = 0;
        const double v = std::strtod(s.c_str(), &end);
        if (s.empty() || end != s.c_str() + s.size() || errno == ERANGE || !std::isfinite(v) || (lo_open ? v <= lo : v < lo) || v > hi) {
          return "expected " + what + ", got '" + s + "'";
        }
        return std::string();
      },
      what);
}
inline CLI::Validator positive_number() { return number_in(0.0, 1e300, true, "a number > 0"); }
inline CLI::Validator non_negative_number() { return number_in(0.0, 1e300, false, "a number >= 0"); }
// A classifier-free guidance scale: beyond 100 it only diverges (and 1e308 overflows).
inline CLI::Validator guidance_scale() { return number_in(0, 100, false, "a guidance scale in [0, 100]"); }
// A seed: a decimal integer in 0..2^64-1 (CLI11 would wrap -1 to 2^64-1).
inline CLI::Validator seed_number() {
  return CLI::Validator(
      [](std::string& s) -> std::string {
        const bool digits = !s.empty() && s.size() <= 20 && s.find_first_not_of("0123456789") == std::string::npos;
        if (!digits || (s.size() == 20 && s > "18446744073709551615")) return "expected an integer from 0 to 18446744073709551615, got '" + s + "'";
        return std::string();
      },
      "SEED");
}
// --init FILE of a DiT modality's `train` (TrainArgs::init; train_dit): a new run from a trained
// model's weights, with a fresh optimizer and schedule (a fine-tune).
inline CLI::Option* add_init_option(CLI::App& c, std::string& init) {
  return c.add_option("--init", init, "start a new run (fresh optimizer and schedule) from this model's weights (a fine-tune)")
      ->check(CLI::ExistingFile);
}

// At most this many samples per command: past it the samples alone outgrow any machine's memory
// (the engine also checks the memory they need against this machine's).
constexpr int64_t kMaxSamples = 10000000;

}  // namespace diffuse
