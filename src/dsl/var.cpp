// Var: a mutable local, read with LocalRead and written with LocalWrite.
#include "metaltile/dsl/var.hpp"

#include "metaltile/core/kernel.hpp"
#include "metaltile/dsl/kernel_builder.hpp"

namespace mt {

Var::Var(const Val& init, std::source_location where) : Var(init, std::string(), where) {}

Var::Var(const Val& init, std::string name, std::source_location where)
    : trace_((KernelBuilder::note_location(where), init.builder().trace_serial())),
      dtype_(init.dtype()) {
  local_ = init.builder().mutable_kernel().new_local(std::move(name), dtype_);
  *this = init;
}

Var::Var(const Var& other) : Var(other.read()) {}

Var& Var::operator=(const Val& v) {
  KernelBuilder& k = KernelBuilder::of_trace(trace_);
  if (v.dtype() != dtype_) {
    k.fail("assigning " + k.describe(v) + " to a Var of type " + std::string(name_of(dtype_)) +
           "; convert it with .to()");
  }
  k.append_statement(make::local_write(k.kernel(), local_, v.id()));
  return *this;
}

Var& Var::operator=(const Var& other) { return *this = other.read(); }

Val Var::read() const {
  KernelBuilder& k = KernelBuilder::of_trace(trace_);
  return k.append(make::local_read(k.mutable_kernel(), local_));
}

}  // namespace mt
