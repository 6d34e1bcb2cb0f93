// Array element loads and stores, with the user's mistakes reported by name.
#include "metaltile/dsl/array.hpp"

#include "metaltile/dsl/kernel_builder.hpp"

namespace mt {
namespace {
void require_index(const ArrayRef& a, const Val& index) {
  if (is_index_type(index.dtype())) return;
  KernelBuilder& k = a.builder();
  k.fail("array '" + k.kernel().array(a.id()).name + "': index " + k.describe(index) +
         " must be u32 or i32");
}
}  // namespace

Val array_index_literal(KernelBuilder& k, std::int64_t index) {
  if (index < 0 || index > 0xFFFFFFFFll)
    k.fail("array index " + std::to_string(index) + " is out of range");
  return k.append(make::constant(k.mutable_kernel(), DType::U32, Scalar::of_int(index)));
}

ArrayRef::ArrayRef(KernelBuilder& builder, ArrayId id, DType dtype, MemorySpace space)
    : trace_(builder.trace_serial()), id_(id), dtype_(dtype), space_(space) {}

ArrayId ArrayRef::id() const {
  KernelBuilder::of_trace(trace_);
  return id_;
}

KernelBuilder& ArrayRef::builder() const { return KernelBuilder::of_trace(trace_); }

Val ArrayRef::load(const Val& index) const {
  KernelBuilder& k = builder();
  require_index(*this, index);
  return k.append(make::array_load(k.mutable_kernel(), id_, index.id()));
}

void ArrayRef::store(const Val& index, const Val& value) const {
  KernelBuilder& k = builder();
  require_index(*this, index);
  if (value.dtype() != dtype_) {
    k.fail("array '" + k.kernel().array(id_).name + "': storing " + k.describe(value) + " into " +
           std::string(name_of(dtype_)) + " elements; convert it with .to()");
  }
  k.append_statement(make::array_store(k.kernel(), id_, index.id(), value.id()));
}

}  // namespace mt
