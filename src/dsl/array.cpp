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

Val ArrayRef::load(const Val& index) const {
  require_index(*this, index);
  return builder_->append(make::array_load(builder_->mutable_kernel(), id_, index.id()));
}

void ArrayRef::store(const Val& index, const Val& value) const {
  require_index(*this, index);
  if (value.dtype() != dtype_) {
    builder_->fail("array '" + builder_->kernel().array(id_).name + "': storing " +
                   builder_->describe(value) + " into " + std::string(name_of(dtype_)) +
                   " elements; convert it with .to()");
  }
  builder_->append_statement(make::array_store(builder_->kernel(), id_, index.id(), value.id()));
}

}  // namespace mt
