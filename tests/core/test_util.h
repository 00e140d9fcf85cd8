// Helpers shared by the core tests: reference-file access and tensor construction from JSON.
#pragma once
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <string>

#include "core/json.h"
#include "test_paths.h"

namespace diffuse::test {

inline std::string reference_path(const std::string& name) { return std::string(DIFFUSE_REFERENCE_DIR) + "/" + name; }
inline bool have_reference() { return std::filesystem::exists(reference_path("schedules.json")); }

inline torch::Tensor tensor_from(const Json& j) {
  if (j.is_number()) return torch::scalar_tensor(j.get<double>(), torch::kFloat64);
  std::vector<torch::Tensor> rows;
  for (const auto& e : j) rows.push_back(tensor_from(e));
  return torch::stack(rows);
}

inline double max_abs(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

// Expects f() to throw an E (a std::exception unless named) whose message contains `part`.
template <class E = std::exception, class F>
void expect_throw_containing(F&& f, const std::string& part) {
  try {
    f();
    ADD_FAILURE() << "no exception; expected one containing: " << part;
  } catch (const E& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << "message: " << e.what();
  }
}

}  // namespace diffuse::test

#define DIFFUSE_REQUIRE_REFERENCE()                                                                     \
  if (!diffuse::test::have_reference()) GTEST_SKIP() << "no reference vectors at " DIFFUSE_REFERENCE_DIR
