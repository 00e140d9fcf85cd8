// diffuse: one command line for training, sampling and evaluating diffusion models.
// main is the only place that prints an error and chooses an exit code.
#include <csignal>
#include <iostream>
#include <stdexcept>

#include "apps/cli.h"
#include "core/errors.h"
#include "core/files.h"
#include "core/json.h"
#include "core/system.h"


int main(int argc, char** argv) {
  // Freed tensors stay with the process for the next step instead of coming back page by page.
  diffuse::keep_freed_memory();
  // A file-size limit (ulimit -f) then fails the write with EFBIG, which the writers report,
  // instead of killing the process half-way through a file.
  std::signal(SIGXFSZ, SIG_IGN);
  // Ctrl-C (or a kill) while a file is being written leaves no temporary behind.
  diffuse::remove_temporaries_on_signal();
  CLI::App app{
      "diffuse: diffusion models for images, video, audio and molecules, in C++ on libtorch.\n"
      "\n"
      "Examples:\n"
      "  diffuse info                      versions, BLAS, threads and measured GEMM GFLOP/s\n"
      "  diffuse info --json               the same as JSON\n"
      "  diffuse check-reference shared/reference/traj_*.json\n"
      "  diffuse bench samplers --nfe 10,50\n"
      "  diffuse model info dit-xl/2 --json\n"
      "  diffuse sample image --class \"Ankle boot\" --n 16 --grid --labelled --out boots.png\n"
      "  diffuse sample audio --label seven --n 8 --out seven.wav\n"
      "  diffuse sample video --class Sneaker --frames 16 --fps 8 --out clip.mp4\n"
      "  diffuse report out                self-contained HTML page of what is in out/\n"
      "The shipped models in models/ are used when --checkpoint is not given.",
      "diffuse"};
  app.set_version_flag("--version", diffuse::diffuse_version());
  app.require_subcommand(1);
  int threads = 0;
  app.add_option("--threads", threads, "intra-op threads (default: all cores)")->check(diffuse::cli::non_negative_number());
  app.parse_complete_callback([&] { diffuse::set_threads(threads); });

  diffuse::cli::add_info(app);
  diffuse::cli::add_check_reference(app);
  diffuse::cli::add_bench(app);
  diffuse::cli::add_model(app);
  diffuse::cli::add_pipeline(app);
  diffuse::cli::add_report(app);

  try {
    // An unknown first word is a typo of a subcommand: say which ones exist.
    if (argc > 1 && argv[1][0] != '-') {
      std::string names;
      bool known = false;
      for (const auto* sub : app.get_subcommands([](CLI::App*) { return true; })) {
        known = known || sub->get_name() == argv[1];
        names += (names.empty() ? "" : ", ") + sub->get_name();
      }
      if (!known) {
        std::cerr << "diffuse: unknown command '" << argv[1] << "'; one of: " << names << " (see 'diffuse --help')\n";
        return 2;
      }
      // Likewise the second word of a command made of subcommands (train NAME, bench WHAT).
      auto* cmd = app.get_subcommand(argv[1]);
      const auto subs = cmd->get_subcommands([](CLI::App* s) { return !s->get_group().empty(); });
      const auto all = cmd->get_subcommands([&](CLI::App* s) { return argc > 2 && s->get_name() == argv[2]; });
      if (argc > 2 && argv[2][0] != '-' && !subs.empty() && all.empty()) {
        std::string list;
        for (const auto* sub : subs) list += (list.empty() ? "" : ", ") + sub->get_name();
        std::cerr << "diffuse: error: diffuse " << argv[1] << ": unknown '" << argv[2] << "'; one of: " << list << "\n";
        return 1;
      }
    }
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "diffuse: " << e.what() << " (see 'diffuse --help')\n";
    return 2;
  } catch (const nlohmann::json::exception& e) {
    // A JSON document whose structure a check did not catch: say what kind of content was wrong
    // without nlohmann's internal prefix ("[json.exception.out_of_range.403] ").
    std::cerr << "diffuse: error: a recipe, config or reference JSON does not have the expected content: " << diffuse::without_json_prefix(e.what())
              << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::string msg = e.what();
    // libtorch messages carry a C++ backtrace after the first line; keep the message only.
    if (const auto nl = msg.find('\n'); nl != std::string::npos) msg = msg.substr(0, nl);
    std::cerr << "diffuse: error: " << msg << "\n";
    return 1;
  }
  return 0;
}
