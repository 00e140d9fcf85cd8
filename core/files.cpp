// Atomic file writes: write a sibling temporary file, fsync it, rename it over the target.
#include "core/files.h"

#include <fstream>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <vector>

namespace diffuse {

void check_writable(const std::string& path, bool force) {
  if (!force && std::filesystem::exists(path)) {
    throw std::runtime_error(path + ": exists; pass --force to overwrite");
  }
  const auto dir = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (!dir.empty() && !std::filesystem::is_directory(dir, ec)) throw std::runtime_error(path + ": no folder " + dir.string() + " to write into");
  if (std::filesystem::is_directory(path, ec)) throw std::runtime_error(path + ": is a folder; expected a file name");
}

SampleFiles::SampleFiles(std::string out, int64_t n, bool force, const std::vector<std::string>& formats, const std::string& kind,
                         Numbering numbering)
    : out_(std::move(out)), n_(n), numbered_(numbering == Numbering::kAlways || (numbering == Numbering::kWhenMany && n != 1)) {
  const std::filesystem::path p(out_);
  stem_ = std::filesystem::path(p).replace_extension("").string();
  ext_ = p.extension().string();
  format_ = ext_;
  std::transform(format_.begin(), format_.end(), format_.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  if (std::find(formats.begin(), formats.end(), format_) == formats.end()) {
    std::string list;
    for (const auto& f : formats) list += (list.empty() ? "" : ", ") + f;
    throw std::invalid_argument(out_ + ": unsupported " + kind + " format '" + ext_ + "'; one of: " + list);
  }
  for (int64_t i = 0; i < size(); ++i) check_writable((*this)[i], force);
}

std::string SampleFiles::operator[](int64_t i) const { return numbered_ ? stem_ + "_" + std::to_string(i) + ext_ : out_; }

std::string SampleFiles::written() const { return numbered_ ? stem_ + "_N" + ext_ : out_; }

std::string temp_path_for(const std::string& path) {
  namespace fs = std::filesystem;
  const fs::path p(path);
  const std::string prefix = "." + p.stem().string() + ".tmp-", ext = p.extension().string();
  std::error_code ec;
  const fs::path dir = p.parent_path().empty() ? fs::path(".") : p.parent_path();
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() <= prefix.size() + ext.size() || name.rfind(prefix, 0) != 0 || name.substr(name.size() - ext.size()) != ext) continue;
    const std::string pid = name.substr(prefix.size(), name.size() - prefix.size() - ext.size());
    if (pid.empty() || pid.size() > 9 || pid.find_first_not_of("0123456789") != std::string::npos) continue;
    if (::kill(pid_t(std::stol(pid)), 0) != 0 && errno == ESRCH) fs::remove(it->path(), ec);  // its writer is gone
  }
  return (p.parent_path() / (prefix + std::to_string(::getpid()) + ext)).string();
}

void commit_temp_file(const std::string& tmp, const std::string& path, int64_t min_bytes) {
  TempFileGuard guard(tmp);
  const int fd = ::open(tmp.c_str(), O_RDONLY);
  if (fd < 0) throw std::runtime_error(path + ": write failed (" + std::strerror(errno) + ")");
  struct stat st {};
  const bool synced = ::fsync(fd) == 0 && ::fstat(fd, &st) == 0;
  const std::string why = synced ? "" : std::strerror(errno);
  ::close(fd);
  if (!synced) throw std::runtime_error(path + ": write failed (" + why + "); nothing was replaced");
  if (int64_t(st.st_size) < min_bytes) {
    throw std::runtime_error(path + ": write failed (" + std::to_string(st.st_size) + " of at least " + std::to_string(min_bytes) +
                             " bytes written; disk full?); nothing was replaced");
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) throw std::runtime_error(path + ": rename failed (" + std::strerror(errno) + ")");
  guard.release();
}

namespace {

// The temporaries being written, for a signal handler: fixed slots that it reads with only
// lock-free atomics and unlink(2), both async-signal-safe. A path too long for a slot, or a
// write beyond the slots, is still removed on errors, only not on a signal.
constexpr int kSlots = 64;
constexpr size_t kSlotPath = 4096;
struct TempSlot {
  std::atomic<int> state{0};  // 0 free, 1 being filled, 2 holds a path
  char path[kSlotPath];
};
TempSlot g_temp_slots[kSlots];

int hold_temp(const std::string& path) {
  if (path.size() >= kSlotPath) return -1;
  for (int i = 0; i < kSlots; ++i) {
    int expected = 0;
    if (!g_temp_slots[i].state.compare_exchange_strong(expected, 1)) continue;
    std::memcpy(g_temp_slots[i].path, path.c_str(), path.size() + 1);
    g_temp_slots[i].state.store(2);
    return i;
  }
  return -1;
}

void drop_temp(int slot) {
  if (slot >= 0) g_temp_slots[slot].state.store(0);
}

extern "C" void remove_temporaries_and_reraise(int sig) {
  for (auto& slot : g_temp_slots) {
    if (slot.state.load() == 2) ::unlink(slot.path);
  }
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

}  // namespace

TempFileGuard::TempFileGuard(std::string path) : path_(std::move(path)), slot_(hold_temp(path_)) {}

void TempFileGuard::release() {
  drop_temp(slot_);
  slot_ = -1;
  path_.clear();
}

TempFileGuard::~TempFileGuard() {
  if (!path_.empty()) ::unlink(path_.c_str());
  drop_temp(slot_);
}

void remove_temporaries_on_signal() {
  static_assert(std::atomic<int>::is_always_lock_free, "the signal handler needs lock-free atomics");
  struct sigaction sa {};
  sa.sa_handler = remove_temporaries_and_reraise;
  sigemptyset(&sa.sa_mask);
  for (const int sig : {SIGINT, SIGTERM, SIGHUP}) {
    struct sigaction old {};
    // A signal the process was started to ignore (nohup, a background job) stays ignored.
    if (::sigaction(sig, nullptr, &old) == 0 && old.sa_handler != SIG_IGN) ::sigaction(sig, &sa, nullptr);
  }
}

void write_file_atomic(const std::string& path, const std::string& bytes, bool force) {
  write_file_atomic(path, std::vector<std::string_view>{bytes}, force);
}

void write_file_atomic(const std::string& path, const std::vector<std::string_view>& parts, bool force) {
  check_writable(path, force);
  const std::string tmp = temp_path_for(path);
  TempFileGuard guard(tmp);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) throw std::runtime_error(path + ": cannot write (" + std::strerror(errno) + ")");
  int64_t total = 0;
  for (const auto part : parts) {
    size_t done = 0;
    while (done < part.size()) {
      const ssize_t n = ::write(fd, part.data() + done, part.size() - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        const std::string why = std::strerror(errno);
        ::close(fd);
        throw std::runtime_error(path + ": write failed (" + why + "); nothing was replaced");
      }
      done += size_t(n);
    }
    total += int64_t(part.size());
  }
  if (::close(fd) != 0) throw std::runtime_error(path + ": close failed (" + std::string(std::strerror(errno)) + "); nothing was replaced");
  guard.release();
  commit_temp_file(tmp, path, total);  // fsyncs, checks the size, renames
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot read");
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string base64(const std::string& bytes) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t v = uint32_t(uint8_t(bytes[i])) << 16 | uint32_t(uint8_t(bytes[i + 1])) << 8 | uint8_t(bytes[i + 2]);
    out += {t[v >> 18], t[(v >> 12) & 63], t[(v >> 6) & 63], t[v & 63]};
  }
  if (i + 1 == bytes.size()) {
    const uint32_t v = uint32_t(uint8_t(bytes[i])) << 16;
    out += {t[v >> 18], t[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == bytes.size()) {
    const uint32_t v = uint32_t(uint8_t(bytes[i])) << 16 | uint32_t(uint8_t(bytes[i + 1])) << 8;
    out += {t[v >> 18], t[(v >> 12) & 63], t[(v >> 6) & 63], '='};
  }
  return out;
}

}  // namespace diffuse

namespace diffuse {

std::string shipped_model_path(const std::string& relative) {
  std::vector<std::filesystem::path> roots;
  if (const char* env = std::getenv("DIFFUSE_MODELS")) roots.push_back(env);
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) roots.push_back(exe.parent_path().parent_path().parent_path() / "models");
  roots.push_back("models");
  for (const auto& r : roots) {
    if (std::filesystem::exists(r / relative)) return (r / relative).string();
  }
  throw std::runtime_error("no shipped model " + relative + " under " + roots.front().string() +
                           " (see models/README.md for the command that trains it); pass --checkpoint");
}

}  // namespace diffuse
