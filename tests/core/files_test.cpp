// Atomic writes never overwrite without force and leave no temporary files.
#include "core/files.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "tests/core/test_util.h"

namespace diffuse {
namespace {

std::string slurp(const std::string& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(WriteFileAtomic, RefusesToOverwriteWithoutForce) {
  const auto dir = std::filesystem::temp_directory_path() / "diffuse_files_test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const auto path = (dir / "out.json").string();
  write_file_atomic(path, "first", false);
  try {
    write_file_atomic(path, "second", false);
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), path + ": exists; pass --force to overwrite");
  }
  EXPECT_EQ(slurp(path), "first");
  write_file_atomic(path, "third", true);
  EXPECT_EQ(slurp(path), "third");
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir), {}), 1);  // no temporaries left
}

// An interrupt while a file is being written removes its temporary (a released one, already
// renamed into place, is not touched) and still ends the process by that signal.
TEST(TempFileGuard, AnInterruptRemovesTheTemporariesBeingWritten) {
  const auto dir = std::filesystem::temp_directory_path() / "diffuse_files_signal_test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::string writing = (dir / ".out.tmp-1.png").string(), done = (dir / "done.png").string();
  const std::string writing_copy = writing, done_copy = done;
  for (const int sig : {SIGINT, SIGTERM}) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {  // the child makes no allocation: the strings were built before the fork
      remove_temporaries_on_signal();
      TempFileGuard live(std::move(writing)), released(std::move(done));
      ::close(::open(writing_copy.c_str(), O_WRONLY | O_CREAT, 0644));
      ::close(::open(done_copy.c_str(), O_WRONLY | O_CREAT, 0644));
      released.release();
      ::raise(sig);
      ::_exit(3);  // not reached when the handler ends the process by the signal
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == sig) << "status " << status;
    EXPECT_FALSE(std::filesystem::exists(writing_copy)) << "signal " << sig;
    EXPECT_TRUE(std::filesystem::exists(done_copy)) << "signal " << sig;
  }
  const pid_t pid = ::fork();  // a signal the process was started to ignore (nohup) stays ignored
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::signal(SIGHUP, SIG_IGN);
    remove_temporaries_on_signal();
    ::raise(SIGHUP);
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
}

TEST(WriteFileAtomic, NamesTheFileWhenTheDirectoryIsMissing) {
  try {
    write_file_atomic("/nonexistent-dir/x.json", "x", false);
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent-dir/x.json: no folder /nonexistent-dir to write into"), std::string::npos) << e.what();
  }
}

TEST(SampleFiles, NumbersItemsChecksTheFormatInAnyCaseAndEveryPathBeforeWork) {
  const auto dir = std::filesystem::temp_directory_path() / "diffuse_sample_files_test";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::vector<std::string> formats = {".png", ".jpg"};
  const auto out = (dir / "x.PNG").string();
  const SampleFiles one(out, 1, false, formats, "image");
  EXPECT_FALSE(one.numbered());
  EXPECT_EQ(one.size(), 1);
  EXPECT_EQ(one[0], out);
  EXPECT_EQ(one.format(), ".png");
  EXPECT_EQ(one.written(), out);
  const SampleFiles many(out, 3, false, formats, "image");
  EXPECT_EQ(many.size(), 3);
  EXPECT_EQ(many[2], (dir / "x_2.PNG").string());
  EXPECT_EQ(many.written(), (dir / "x_N.PNG").string());
  const SampleFiles always(out, 1, false, formats, "image", SampleFiles::Numbering::kAlways);
  EXPECT_EQ(always[0], (dir / "x_0.PNG").string());
  const SampleFiles single(out, 5, false, formats, "image", SampleFiles::Numbering::kOne);
  EXPECT_EQ(single.size(), 1);
  EXPECT_EQ(single[0], out);
  test::expect_throw_containing([&] { SampleFiles((dir / "x.bmp").string(), 1, false, formats, "image"); },
                                "x.bmp: unsupported image format '.bmp'; one of: .png, .jpg");
  test::expect_throw_containing([&] { SampleFiles((dir / "x").string(), 1, false, formats, "image"); },
                                "unsupported image format ''");
  // The second of three numbered files exists: refused before anything is written, unless --force.
  write_file_atomic((dir / "x_1.PNG").string(), "kept", false);
  test::expect_throw_containing([&] { SampleFiles(out, 3, false, formats, "image"); }, "x_1.PNG: exists; pass --force to overwrite");
  EXPECT_NO_THROW(SampleFiles(out, 3, true, formats, "image"));
  EXPECT_EQ(slurp((dir / "x_1.PNG").string()), "kept");
  test::expect_throw_containing([&] { SampleFiles((dir / "no" / "x.png").string(), 1, false, formats, "image"); }, "no folder");
}

TEST(ReadJsonFile, NamesTheFileAndTheProblem) {
  const auto path = (std::filesystem::temp_directory_path() / "diffuse_bad.json").string();
  { std::ofstream(path) << "{ not json"; }
  try {
    read_json_file(path);
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(path + ": not valid JSON"), std::string::npos) << e.what();
  }
  EXPECT_THROW(read_json_file("/nonexistent.json"), std::runtime_error);
}

}  // namespace
}  // namespace diffuse
