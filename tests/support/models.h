// Test support: running a test under every concurrency model (lf/models/model.h) with GoogleTest's
// value-parameterized tests:
//   INSTANTIATE_TEST_SUITE_P(name, Suite, test::every_model(), test::model_param_name);
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <ostream>
#include <string>

#include "lf/models/model.h"

namespace lf {

// Readable parameter values in test output (found by argument-dependent lookup).
inline void PrintTo(Model model, std::ostream* os) { *os << to_string(model); }

namespace test {

inline auto every_model() { return ::testing::ValuesIn(all_models().begin(), all_models().end()); }

// A test name part: "lf-et" becomes "lf_et" (GoogleTest names allow letters, digits and '_').
inline std::string model_name(Model model) {
  std::string name(to_string(model));
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

inline std::string model_param_name(const ::testing::TestParamInfo<Model>& info) {
  return model_name(info.param);
}

}  // namespace test
}  // namespace lf
