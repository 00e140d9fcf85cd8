// Where a pass's time goes, per libtorch operator: the self time (an operator's own time, less the
// operators it called) of each aten:: op, from libtorch's autograd profiler. `diffuse bench model
// --profile` prints it per row.
#pragma once
#include <functional>
#include <string>
#include <vector>

namespace diffuse {

struct OpTime {
  std::string name;       // e.g. "aten::addmm"
  double self_ms = 0;     // summed over calls
  int64_t calls = 0;
};

// Runs f once under the profiler (CPU events) and returns the operators by self time, largest
// first. Throws when this libtorch has no profiler API diffuse knows.
std::vector<OpTime> profile_ops(const std::function<void()>& f);

}  // namespace diffuse
