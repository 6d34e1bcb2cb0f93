// Child processes for tests (see process.hpp).
#include "support/process.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>

namespace mt::test {

CommandResult run_command(const std::string& shell_command) {
  CommandResult r;
  FILE* pipe = popen(shell_command.c_str(), "r");
  if (pipe == nullptr) {
    ADD_FAILURE() << "cannot run " << shell_command;
    return r;
  }
  char buffer[4096];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) r.output.append(buffer, n);
  const int status = pclose(pipe);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
  return r;
}

std::string tile_binary() {
  const char* path = std::getenv("MT_TILE");
  if (path == nullptr || *path == '\0') {
    ADD_FAILURE()
        << "MT_TILE is not set: run this test through ctest, or set it to the tile binary";
    return "";
  }
  return path;
}

CommandResult run_tile(const std::string& args) {
  const std::string path = tile_binary();
  if (path.empty()) return {};
  return run_command("'" + path + "' " + args + " 2>&1");
}

}  // namespace mt::test
