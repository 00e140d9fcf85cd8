// Runs the diffuse program for CLI tests: exit code and combined output.
#pragma once
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stdlib.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>

#include "test_paths.h"

namespace diffuse::test {

struct Result {
  int code;
  std::string out;  // stdout and stderr together
};

inline Result run(const std::string& args) {
  const std::string cmd = std::string(DIFFUSE_BINARY_DIR) + "/apps/diffuse " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  std::array<char, 4096> buf{};
  while (size_t n = fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  const int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

// A fresh folder of one test's own under $TMPDIR (else /tmp), removed when it goes out of scope,
// so CLI tests never share fixed paths and can run in parallel.
struct TempDir {
  std::string path;
  explicit TempDir(const std::string& name) {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base && *base ? base : "/tmp") + "/diffuse_" + name + "_XXXXXX";
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("cannot create a temporary folder " + pattern);
    path = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

// Runs a shell command line as it is (for limits such as ulimit before the program).
inline Result run_shell(const std::string& line) {
  FILE* p = popen(("{ " + line + "; } 2>&1").c_str(), "r");
  std::string out;
  std::array<char, 4096> buf{};
  while (size_t n = fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  const int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

// Whether this build has a modality (from `diffuse info --json`, asked once): the core-only
// preset builds the CLI without the media modalities, and tests of theirs skip there.
inline bool has_modality(const std::string& name) {
  static const std::string info = run("info --json --gemm-size 64").out;
  const auto at = info.find("\"" + name + "\": {");
  if (at == std::string::npos) return false;
  const auto available = info.find("\"available\": ", at);
  return available != std::string::npos && info.compare(available + 13, 4, "true") == 0;
}

// A TCP port on 127.0.0.1 that nothing listens on right now.
inline int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    throw std::runtime_error("cannot find a free TCP port");
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

inline int lines(const std::string& s) { return int(std::count(s.begin(), s.end(), '\n')); }

}  // namespace diffuse::test
