// `diffuse info`: versions, BLAS, threads, a measured GEMM rate, modalities, samplers and schedules.
#include <torch/torch.h>

#include <iomanip>
#include <iostream>

#include "apps/cli.h"
#include "core/json.h"
#include "core/train/distributed.h"
#include "core/precision.h"
#include "core/samplers/samplers.h"
#include "core/schedules.h"
#include "core/system.h"
#include "modalities/registry.h"

namespace diffuse::cli {

void add_info(CLI::App& app) {
  auto* sub = app.add_subcommand("info", "print versions, BLAS, threads, the CPU's ISA and the measured fp32 and bf16 GEMM GFLOP/s\n"
                                         "Example: diffuse info --json");
  auto json = std::make_shared<bool>(false);
  auto gemm_n = std::make_shared<int64_t>(1024);
  sub->add_flag("--json", *json, "print JSON instead of text");
  sub->add_option("--gemm-size", *gemm_n, "square matmul size for the GEMM measurement")->capture_default_str()->check(CLI::Range(64, 8192));
  sub->callback([json, gemm_n] {
    const auto gemm = measure_gemm(*gemm_n);
    const auto gemm_bf16 = measure_gemm(*gemm_n, 0.5, "cpu", true);
    const auto& isa = cpu_isa();
    Json j;
    j["diffuse"] = diffuse_version();
    j["libtorch"] = torch_version();
    j["blas"] = blas_description();
    j["threads"] = torch::get_num_threads();
    j["hardware_threads"] = hardware_threads();
    j["gemm"] = {{"n", gemm.n}, {"gflops", gemm.gflops}, {"seconds", gemm.seconds}, {"repeats", gemm.repeats}};
    j["gemm_bf16"] = {{"n", gemm_bf16.n}, {"gflops", gemm_bf16.gflops}, {"seconds", gemm_bf16.seconds}, {"repeats", gemm_bf16.repeats}};
    j["cpu_isa"] = {{"avx2", isa.avx2}, {"avx512f", isa.avx512f}, {"avx512_bf16", isa.avx512_bf16}, {"amx_bf16", isa.amx_bf16}};
    j["precision_auto"] = precision_name(resolve_precision("auto", c10::Device(c10::kCPU)));
    j["cuda_available"] = torch::cuda::is_available();
    j["data_parallel"] = dist_backends();
    for (const auto& m : modalities()) {
      j["modalities"][m.name] = {{"available", m.available}, {"library", m.library}, {"version", m.version},
                                 {"cmake_option", m.cmake_option}};
    }
    for (const auto& s : samplers()) j["samplers"].push_back(s.name);
    for (const auto& s : schedules()) j["schedules"].push_back(s.name);
    if (*json) {
      std::cout << j.dump(2) << "\n";
      return;
    }
    std::cout << "diffuse " << diffuse_version() << "\n"
              << "libtorch   " << torch_version() << (torch::cuda::is_available() ? " (CUDA available)" : " (CPU)") << "\n"
              << "BLAS       " << j["blas"].get<std::string>() << "\n"
              << "threads    " << torch::get_num_threads() << " of " << hardware_threads() << " hardware threads\n"
              << "GEMM fp32  " << std::fixed << std::setprecision(1) << gemm.gflops << " GFLOP/s ("
              << gemm.n << "x" << gemm.n << ", best of " << gemm.repeats << ")\n"
              << "GEMM bf16  " << gemm_bf16.gflops << " GFLOP/s (oneDNN; " << std::setprecision(2) << gemm_bf16.gflops / gemm.gflops
              << "x fp32)\n"
              << "CPU ISA    " << isa.summary() << " (--precision auto: " << precision_name(resolve_precision("auto", c10::Device(c10::kCPU)))
              << ")\n"
              << "parallel   " << (dist_backends() == "none" ? std::string("one process (rebuild with libgloo-dev for data-parallel training)")
                                                            : "data-parallel train over c10d: " + dist_backends()) << "\n";
    for (const auto& m : modalities()) {
      std::cout << std::left << std::setw(11) << m.name << (m.available ? m.library + " " + m.version
                                                                        : "off (rebuild with -D" + m.cmake_option + "=ON)")
                << "\n";
    }
    std::cout << "samplers   ";
    for (const auto& s : samplers()) std::cout << s.name << " ";
    std::cout << "\nschedules  ";
    for (const auto& s : schedules()) std::cout << s.name << " ";
    std::cout << "\n";
  });
}

}  // namespace diffuse::cli
