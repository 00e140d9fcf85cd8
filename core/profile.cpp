// Operator self times from libtorch's legacy autograd profiler (see profile.h).
#include "core/profile.h"

#if __has_include(<torch/csrc/autograd/profiler_legacy.h>)
#include <torch/csrc/autograd/profiler_legacy.h>
#define DIFFUSE_HAVE_LEGACY_PROFILER 1
#endif

#include <algorithm>
#include <map>
#include <stdexcept>

namespace diffuse {

std::vector<OpTime> profile_ops(const std::function<void()>& f) {
#ifdef DIFFUSE_HAVE_LEGACY_PROFILER
  namespace prof = torch::autograd::profiler;
  prof::enableProfilerLegacy(torch::profiler::impl::ProfilerConfig(torch::profiler::impl::ProfilerState::CPU));
  try {
    f();
  } catch (...) {
    prof::disableProfilerLegacy();
    throw;
  }
  const auto lists = prof::disableProfilerLegacy();
  std::map<std::string, OpTime> by_name;
  for (const auto& events : lists) {
    // Each pop closes the latest push of its thread: self time = its span less its children's.
    struct Open {
      const prof::LegacyEvent* push;
      double children_us;
    };
    std::vector<Open> stack;
    for (const auto& e : events) {
      if (e.kind() == prof::EventKind::PushRange) {
        stack.push_back({&e, 0.0});
      } else if (e.kind() == prof::EventKind::PopRange && !stack.empty()) {
        const auto open = stack.back();
        stack.pop_back();
        const double span = open.push->cpuElapsedUs(e);
        auto& t = by_name[open.push->name()];
        t.name = open.push->name();
        t.self_ms += (span - open.children_us) / 1000.0;
        ++t.calls;
        if (!stack.empty()) stack.back().children_us += span;
      }
    }
  }
  std::vector<OpTime> out;
  for (auto& [name, t] : by_name) out.push_back(t);
  std::sort(out.begin(), out.end(), [](const OpTime& a, const OpTime& b) { return a.self_ms > b.self_ms; });
  return out;
#else
  (void)f;
  throw std::runtime_error("--profile: this libtorch has no autograd profiler API that diffuse knows (torch/csrc/autograd/profiler_legacy.h)");
#endif
}

}  // namespace diffuse
