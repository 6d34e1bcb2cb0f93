// Var: a mutable local, read with LocalRead and written with LocalWrite.
#include "metaltile/dsl/var.hpp"

#include "metaltile/core/kernel.hpp"
#include "metaltile/dsl/kernel_builder.hpp"

namespace mt {

Var::Var(const Val& init) : Var(init, std::string()) {}

Var::Var(const Val& init, std::string name) : builder_(&init.builder()), dtype_(init.dtype()) {
  local_ = builder_->mutable_kernel().new_local(std::move(name), dtype_);
  *this = init;
}

Var::Var(const Var& other) : Var(other.read()) {}

Var& Var::operator=(const Val& v) {
  if (v.dtype() != dtype_) {
    builder_->fail("assigning " + builder_->describe(v) + " to a Var of type " +
                   std::string(name_of(dtype_)) + "; convert it with .to()");
  }
  builder_->append_statement(make::local_write(builder_->kernel(), local_, v.id()));
  return *this;
}

Var& Var::operator=(const Var& other) { return *this = other.read(); }

Val Var::read() const {
  return builder_->append(make::local_read(builder_->mutable_kernel(), local_));
}

}  // namespace mt
