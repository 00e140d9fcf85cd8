// What the trainer does after each optimizer step besides the update: preview samples, the
// log.jsonl line, the progress bar and checkpoints. On a data-parallel run only rank 0 runs them.
#pragma once
#include <functional>
#include <memory>
#include <string>

#include "core/json.h"

namespace diffuse {

struct StepEnd {
  int64_t step = 0;        // optimizer steps done (this one included)
  int64_t until = 0;       // the step this run() stops at
  double step_loss = 0;    // this step's loss
  double lr = 0;           // the learning rate it used
  double it_per_s = 0;     // steps per second since run() began
  double eta_seconds = 0;  // until `until`
  bool log_now = false;    // a log step: `line` holds the interval's figures
  Json line;               // the log line; callbacks before the log writer may add to it
};

class TrainCallback {
 public:
  virtual ~TrainCallback() = default;
  virtual void on_step(StepEnd& e) = 0;
};

// Adds preview(step) as line["preview"] on log steps that are multiples of `every`.
std::unique_ptr<TrainCallback> preview_callback(std::function<Json(int64_t step)> preview, int64_t every);
// Writes each log line to `path` (flushed, so a stopped run keeps its log). A run from step 0
// starts a new log; a run resumed at `first_step` keeps the lines up to that step and appends.
std::unique_ptr<TrainCallback> log_file_callback(const std::string& path, int64_t first_step);
// A progress bar on a terminal (redrawn at most every 0.1 s), one line per log step otherwise.
std::unique_ptr<TrainCallback> progress_callback(bool terminal);
// Whether step `step` of a run that stops at `until` writes a checkpoint: every `every` steps
// (0: never) and at the last step.
inline bool checkpoint_due(int64_t step, int64_t until, int64_t every) { return (every > 0 && step % every == 0) || step == until; }
// Calls save() on the steps checkpoint_due names.
std::unique_ptr<TrainCallback> checkpoint_callback(std::function<void()> save, int64_t every);

}  // namespace diffuse
