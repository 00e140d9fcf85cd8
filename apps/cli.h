// The subcommands of `diffuse`. Each `add_*` registers a CLI11 subcommand whose callback does the
// work; errors are thrown and turned into one line by main.
#pragma once
#include <CLI/CLI.hpp>

#include <string>

#include "core/cli_options.h"

namespace diffuse::cli {

void add_info(CLI::App& app);
void add_check_reference(CLI::App& app);
void add_bench(CLI::App& app);
void add_model(CLI::App& app);
void add_pipeline(CLI::App& app);
void add_report(CLI::App& app);


using diffuse::kMaxSamples;
using diffuse::non_negative_number;
using diffuse::number_in;
using diffuse::positive_number;
using diffuse::guidance_scale;
using diffuse::seed_number;

}  // namespace diffuse::cli
