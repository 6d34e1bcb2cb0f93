// Backend names, as descriptions, the CLI and test output show them.
#include "metaltile/backends/backend.hpp"

#include <gtest/gtest.h>

namespace mt {
namespace {

TEST(Backend, Names) {
  EXPECT_EQ(backend_name(Backend::Cpu), "cpu");
  EXPECT_EQ(backend_name(Backend::Cuda), "cuda");
}

}  // namespace
}  // namespace mt
