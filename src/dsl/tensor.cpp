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

Tensor::Tensor(KernelBuilder& builder, ParamId param, DType dtype)
    : trace_(builder.trace_serial()), param_(param), dtype_(dtype) {}

ParamId Tensor::param() const {
  KernelBuilder::of_trace(trace_);
  return param_;
}

KernelBuilder& Tensor::builder() const { return KernelBuilder::of_trace(trace_); }

Val Tensor::len() const {
  KernelBuilder& k = builder();
  return k.append(make::tensor_len(k.mutable_kernel(), param_));
}

Val Tensor::load(const Val& index, std::source_location where) const {
  KernelBuilder::note_location(where);
  KernelBuilder& k = builder();
  require_index(*this, index);
  return k.append(make::load(k.mutable_kernel(), param_, index.id()));
}

void Tensor::store(const Val& index, const Val& value, std::source_location where) const {
  KernelBuilder::note_location(where);
  KernelBuilder& k = builder();
  require_index(*this, index);
  const Param& p = k.kernel().param(param_);
  if (p.kind != ParamKind::Output) {
    k.fail("param '" + p.name + "': is an input; only outputs can be stored to");
  }
  if (value.dtype() != dtype_) {
    k.fail("param '" + p.name + "': storing " + k.describe(value) + " into " +
           std::string(name_of(dtype_)) + " elements; convert it with .to()");
  }
  k.append_statement(make::store(k.kernel(), param_, index.id(), value.id()));
}

}  // namespace mt
