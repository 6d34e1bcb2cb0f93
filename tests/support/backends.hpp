// for_each_backend: runs a backend test on every available backend (the CPU interpreter always,
// CUDA when a GPU is usable) and reports which ones ran, so nothing is skipped silently.
#pragma once

#include <functional>
#include <vector>

#include "metaltile/runtime/context.hpp"

namespace mt::test {

// One Context per available backend, created once per process (CPU first).
const std::vector<Context>& available_contexts();

// Runs fn on each available backend's Context under a SCOPED_TRACE naming the backend; records
// the list as the gtest property "backends" and prints it to stdout, with the reason CUDA did
// not run when it did not.
void for_each_backend(const std::function<void(Context&)>& fn);

}  // namespace mt::test
