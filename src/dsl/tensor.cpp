// Tensor loads and stores, with the user's mistakes reported by name.
#include "metaltile/dsl/tensor.hpp"

#include "metaltile/core/kernel.hpp"
#include "metaltile/dsl/kernel_builder.hpp"

namespace mt {
namespace {
void require_index(const Tensor& t, const Val& index) {
  if (is_index_type(index.dtype())) return;
  KernelBuilder& k = t.builder();
  k.fail("param '" + k.kernel().param(t.param()).name + "': index " + k.describe(index) +
         " must be u32 or i32");
}
}  // namespace

Val Tensor::len() const {
  return builder_->append(make::tensor_len(builder_->mutable_kernel(), param_));
}

Val Tensor::load(const Val& index) const {
  require_index(*this, index);
  return builder_->append(make::load(builder_->mutable_kernel(), param_, index.id()));
}

void Tensor::store(const Val& index, const Val& value) const {
  require_index(*this, index);
  const Param& p = builder_->kernel().param(param_);
  if (p.kind != ParamKind::Output) {
    builder_->fail("param '" + p.name + "': is an input; only outputs can be stored to");
  }
  if (value.dtype() != dtype_) {
    builder_->fail("param '" + p.name + "': storing " + builder_->describe(value) + " into " +
                   std::string(name_of(dtype_)) + " elements; convert it with .to()");
  }
  builder_->append_statement(make::store(builder_->kernel(), param_, index.id(), value.id()));
}

}  // namespace mt
