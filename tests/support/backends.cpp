// The backend loop shared by every backend test (see backends.hpp).
#include "support/backends.hpp"

#include <gtest/gtest.h>

#include <iostream>
#include <string>

#include "metaltile/core/error.hpp"

namespace mt::test {
namespace {

struct Available {
  std::vector<Context> contexts;
  std::string cuda_missing;  // why CUDA is not among them; empty when it is
};

const Available& available() {
  static const Available all = [] {
    Available a;
    a.contexts.push_back(Context::create(Backend::Cpu));
    try {
      a.contexts.push_back(Context::create(Backend::Cuda));
    } catch (const Error& e) {
      a.cuda_missing = e.what();
    }
    return a;
  }();
  return all;
}

}  // namespace

const std::vector<Context>& available_contexts() { return available().contexts; }

void for_each_backend(const std::function<void(Context&)>& fn) {
  const Available& all = available();
  std::string ran;
  for (Context ctx : all.contexts) {  // a copy shares the state: cheap, and fn may mutate it
    const std::string name(backend_name(ctx.backend()));
    SCOPED_TRACE("backend " + name + " (" + ctx.description() + ")");
    fn(ctx);
    ran += (ran.empty() ? "" : ",") + name;
  }
  ::testing::Test::RecordProperty("backends", ran);
  std::cout << "[ backends ] ran on: " << ran;
  if (!all.cuda_missing.empty()) std::cout << "; cuda not run: " << all.cuda_missing;
  std::cout << std::endl;
}

}  // namespace mt::test
