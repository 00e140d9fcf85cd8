#include "core/train/callbacks.h"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <stdexcept>

#include "core/files.h"

namespace diffuse {
namespace {

std::string format_eta(double seconds) {
  const int64_t s = int64_t(seconds);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02ld:%02ld:%02ld", long(s / 3600), long(s / 60 % 60), long(s % 60));
  return buf;
}

class Preview : public TrainCallback {
 public:
  Preview(std::function<Json(int64_t)> f, int64_t every) : f_(std::move(f)), every_(every) {}
  void on_step(StepEnd& e) override {
    if (e.log_now && every_ > 0 && e.step % every_ == 0) e.line["preview"] = f_(e.step);
  }

 private:
  std::function<Json(int64_t)> f_;
  int64_t every_;
};

// The log of a run that starts at `first_step`: a run from step 0 starts a new one; a resumed
// run keeps the lines up to its checkpoint's step (those after it, from a run stopped past its
// last checkpoint, are done again) and appends.
class LogFile : public TrainCallback {
 public:
  LogFile(const std::string& path, int64_t first_step) : path_(path) {
    std::string kept;
    if (first_step > 0) {
      std::ifstream in(path);
      for (std::string line; std::getline(in, line);) {
        const Json j = Json::parse(line, nullptr, false);
        if (j.is_object() && j.contains("step") && j.at("step").is_number_integer() && j.at("step").get<int64_t>() <= first_step) {
          kept += line + "\n";
        }
      }
      write_file_atomic(path, kept, true);
    }
    out_.open(path, first_step > 0 ? std::ios::app : std::ios::trunc);
    if (!out_) throw std::runtime_error(path + ": cannot open the training log for writing");
  }
  void on_step(StepEnd& e) override {
    if (!e.log_now) return;
    out_ << e.line.dump() << "\n" << std::flush;
    if (!out_) throw std::runtime_error(path_ + ": writing the training log failed at step " + std::to_string(e.step) + " (disk full?)");
  }

 private:
  std::string path_;
  std::ofstream out_;
};

class Progress : public TrainCallback {
 public:
  explicit Progress(bool terminal) : terminal_(terminal), last_draw_(std::chrono::steady_clock::now()) {}
  void on_step(StepEnd& e) override {
    const auto now = std::chrono::steady_clock::now();
    if (terminal_ && (std::chrono::duration<double>(now - last_draw_).count() > 0.1 || e.step == e.until)) {
      const int width = 30, filled = int(double(width) * double(e.step) / double(e.until));
      std::fprintf(stderr, "\r[%s%s] %ld/%ld loss %.4f %.1f it/s ETA %s ", std::string(size_t(filled), '#').c_str(),
                   std::string(size_t(width - filled), '.').c_str(), long(e.step), long(e.until), e.step_loss, e.it_per_s,
                   format_eta(e.eta_seconds).c_str());
      if (e.step == e.until) std::fprintf(stderr, "\n");
      last_draw_ = now;
    } else if (!terminal_ && e.log_now) {
      std::fprintf(stderr, "step %ld/%ld loss %.4f lr %.2e %.1f it/s ETA %s\n", long(e.step), long(e.until),
                   e.line["loss"].get<double>(), e.lr, e.it_per_s, format_eta(e.eta_seconds).c_str());
    }
  }

 private:
  bool terminal_;
  std::chrono::steady_clock::time_point last_draw_;
};

class Checkpoints : public TrainCallback {
 public:
  Checkpoints(std::function<void()> save, int64_t every) : save_(std::move(save)), every_(every) {}
  void on_step(StepEnd& e) override {
    if (checkpoint_due(e.step, e.until, every_)) save_();
  }

 private:
  std::function<void()> save_;
  int64_t every_;
};

}  // namespace

std::unique_ptr<TrainCallback> preview_callback(std::function<Json(int64_t)> preview, int64_t every) {
  return std::make_unique<Preview>(std::move(preview), every);
}
std::unique_ptr<TrainCallback> log_file_callback(const std::string& path, int64_t first_step) {
  return std::make_unique<LogFile>(path, first_step);
}
std::unique_ptr<TrainCallback> progress_callback(bool terminal) { return std::make_unique<Progress>(terminal); }
std::unique_ptr<TrainCallback> checkpoint_callback(std::function<void()> save, int64_t every) {
  return std::make_unique<Checkpoints>(std::move(save), every);
}

}  // namespace diffuse
