// Output files: atomic writes (temporary file, fsync, rename) that never overwrite without force.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace diffuse {

// Throws if `path` exists and `force` is false ("... exists; pass --force to overwrite").
void check_writable(const std::string& path, bool force);

// Where `diffuse sample` writes n items asked for as `out`: the one file `out`, or the numbered
// files STEM_0.EXT ... STEM_{n-1}.EXT (always, or only when n > 1). The constructor refuses,
// before any work, an extension that is not one of `formats` (any case; `kind` names them in the
// error: "x.bmp: unsupported image format '.bmp'; one of: .png, .jpg") and then any path that
// check_writable refuses.
class SampleFiles {
 public:
  enum class Numbering { kOne, kWhenMany, kAlways };
  SampleFiles(std::string out, int64_t n, bool force, const std::vector<std::string>& formats, const std::string& kind,
              Numbering numbering = Numbering::kWhenMany);
  int64_t size() const { return numbered_ ? n_ : 1; }
  std::string operator[](int64_t i) const;  // the file of item i (the one file when not numbered)
  const std::string& format() const { return format_; }  // the extension in lower case, ".png"
  // What was written, for the summary line: "OUT" or "STEM_N.EXT".
  std::string written() const;
  bool numbered() const { return numbered_; }

 private:
  std::string out_, stem_, ext_, format_;
  int64_t n_ = 1;
  bool numbered_ = false;
};

// Writes `bytes` to `path` atomically: a crash leaves either the old file or the new one. Every
// write and the final flush are checked: on a full disk (or a file-size limit) the temporary file
// is removed, the old file stays as it was, and the error names `path`.
void write_file_atomic(const std::string& path, const std::string& bytes, bool force);
// The same for a file made of `parts` in order, without joining them in memory first.
void write_file_atomic(const std::string& path, const std::vector<std::string_view>& parts, bool force);

// The temporary file an atomic write of `path` goes through: a hidden sibling with the same
// extension (so a media library picks the format, and the rename stays on one file system),
// ".NAME.tmp-PID.EXT". Temporary files for `path` left by processes that are gone (an
// interrupted run) are removed first.
std::string temp_path_for(const std::string& path);

// Finishes an atomic write: flushes `tmp` to disk, checks that it holds at least `min_bytes`, and
// renames it over `path`. On failure removes `tmp`, leaves `path` as it was, and throws naming
// `path` and the reason.
void commit_temp_file(const std::string& tmp, const std::string& path, int64_t min_bytes = 1);

// Removes its file when destroyed unless release()d: a temporary file never outlives an error,
// nor an interrupt once remove_temporaries_on_signal() is installed.
class TempFileGuard {
 public:
  explicit TempFileGuard(std::string path);
  ~TempFileGuard();
  void release();
  TempFileGuard(const TempFileGuard&) = delete;
  TempFileGuard& operator=(const TempFileGuard&) = delete;

 private:
  std::string path_;
  int slot_ = -1;  // its entry in the list a signal handler removes
};

// Installs handlers for SIGINT, SIGTERM and SIGHUP that remove every temporary file a live
// TempFileGuard holds, then end the process by the same signal (main calls it once). A signal
// that is ignored when it is called (nohup's SIGHUP) stays ignored.
void remove_temporaries_on_signal();

// The whole file as bytes; throws naming the file when it cannot be read.
std::string read_file(const std::string& path);

// RFC 4648 base64 (for data: URIs in self-contained HTML).
std::string base64(const std::string& bytes);

// A shipped model file under models/ ("fashion-mnist/dit.safetensors"): $DIFFUSE_MODELS, else
// models/ beside the source tree the binary was built in, else ./models. Throws naming the file
// and where its training command is recorded.
std::string shipped_model_path(const std::string& relative);

}  // namespace diffuse
