// Test helpers shared by every test area: a temp dir removed at scope end, file writing,
// and running a command as a user would (exit code + captured output).
#pragma once

#include <map>
#include <string>
#include <vector>

namespace gitsyncd::testing {

class TempDir {
 public:
  TempDir();  // mkdtemp under $TMPDIR or /tmp
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

// Creates parent folders as needed.
void WriteFile(const std::string& path, const std::string& content);
std::string ReadFile(const std::string& path);
bool FileExists(const std::string& path);

struct CommandResult {
  int exit_code = -1;  // -1 when killed by a signal or timed out
  std::string out;
  std::string err;
};

// Runs argv[0] (PATH lookup) with extra environment variables, optional stdin, in `cwd`.
CommandResult RunCommand(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env = {},
                         const std::string& stdin_data = "", const std::string& cwd = "",
                         int timeout_seconds = 120);

// Environment variable that must be set by ctest (fails the test otherwise).
std::string RequiredEnv(const char* name);

// The tests/ folder of the source tree: $GITSYNCD_TEST_DATA (set by ctest), else the path the
// build was configured with, so that bench/ programs run as bench/RESULTS.md shows them.
std::string TestDataDir();

}  // namespace gitsyncd::testing
