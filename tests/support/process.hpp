// Running a child process from a test: its stdout and exit status (run_command), and the path
// of the built tile CLI (tile_binary, from MT_TILE, which tests/CMakeLists.txt sets).
#pragma once

#include <string>
#include <string_view>

namespace mt::test {

struct CommandResult {
  int status = -1;     // the exit code; 128 when the child did not exit normally (a signal);
                       // -1 when it could not be started
  std::string output;  // its stdout (append `2>&1` to the command to capture stderr too)
};

// Runs `shell_command` through /bin/sh and waits for it. Failure to start it is a gtest
// failure (ADD_FAILURE) and status -1.
CommandResult run_command(const std::string& shell_command);

// The tile binary named by MT_TILE; when MT_TILE is unset or empty, a gtest failure
// (ADD_FAILURE) and "".
std::string tile_binary();

// `tile ARGS` with stderr joined to stdout; an empty result when tile_binary() has none.
CommandResult run_tile(const std::string& args);

// Whether `text` contains `part` (for checks on command output and messages).
inline bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

}  // namespace mt::test
