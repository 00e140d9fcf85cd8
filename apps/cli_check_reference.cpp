// `diffuse check-reference FILE...`: replays golden sampler trajectories and prints, per run,
// the largest deviation and pass/fail; exits non-zero when any run fails.
#include <iomanip>
#include <iostream>
#include <stdexcept>

#include "apps/cli.h"
#include "core/json.h"
#include "core/reference.h"

namespace diffuse::cli {

void add_check_reference(CLI::App& app) {
  auto* sub = app.add_subcommand("check-reference",
                                 "replay reference sampler trajectories (diffusers / k-diffusion schema) and compare\n"
                                 "Example: diffuse check-reference ../shared/reference/traj_*.json cfg_*.json");
  auto files = std::make_shared<std::vector<std::string>>();
  auto tol = std::make_shared<double>(1e-8);
  auto json = std::make_shared<bool>(false);
  sub->add_option("files", *files, "reference JSON files")->required()->check(CLI::ExistingFile);
  sub->add_option("--tolerance", *tol, "max abs error allowed per state")->capture_default_str()->check(positive_number());
  sub->add_flag("--json", *json, "print JSON instead of a table");
  sub->callback([files, tol, json] {
    int failed = 0, passed = 0, skipped = 0;
    Json out = Json::array();
    if (!*json) std::cout << std::left << std::setw(30) << "file" << std::setw(46) << "run" << std::setw(18) << "sampler"
                          << std::setw(12) << "max_abs_err" << "status\n";
    for (const auto& f : *files) {
      for (const auto& r : replay_reference_file(f, *tol)) {
        (r.status == "pass" ? passed : r.status == "fail" ? failed : skipped)++;
        out.push_back({{"file", r.file}, {"run", r.run}, {"sampler", r.sampler}, {"status", r.status},
                       {"max_abs_error", r.max_abs_error}, {"steps", r.steps}, {"model_calls", r.model_calls},
                       {"note", r.note}});
        if (!*json) {
          std::ostringstream e;
          e << std::scientific << std::setprecision(2) << r.max_abs_error;
          std::cout << std::left << std::setw(30) << r.file << std::setw(46) << r.run << std::setw(18) << r.sampler
                    << std::setw(12) << (r.status == "skip" ? "-" : e.str()) << r.status
                    << (r.note.empty() ? "" : "  (" + r.note + ")") << "\n";
        }
      }
    }
    if (*json) {
      std::cout << Json{{"tolerance", *tol}, {"passed", passed}, {"failed", failed}, {"skipped", skipped}, {"runs", out}}.dump(2) << "\n";
    } else {
      std::cout << passed << " passed, " << failed << " failed, " << skipped << " skipped (tolerance " << *tol << ")\n";
    }
    if (failed > 0) throw std::runtime_error(std::to_string(failed) + " reference run(s) failed");
  });
}

}  // namespace diffuse::cli
