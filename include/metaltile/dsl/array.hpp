// Arrays in threadgroup memory (shared by a threadgroup) and per thread (registers or local
// memory). a[i] reads or, assigned, writes element i.
#pragma once

#include "metaltile/core/ids.hpp"
#include "metaltile/core/kernel.hpp"
#include "metaltile/dsl/val.hpp"

namespace mt {

class ArrayElement;

// Like a Val, an ArrayRef belongs to its trace: id() and builder() check it is the running one.
class ArrayRef {
 public:
  ArrayRef(KernelBuilder& builder, ArrayId id, DType dtype, MemorySpace space);
  DType dtype() const { return dtype_; }
  ArrayId id() const;
  MemorySpace space() const { return space_; }
  KernelBuilder& builder() const;

  ArrayElement operator[](const Val& index) const;
  template <Literal N>
  ArrayElement operator[](N index) const;
  Val load(const Val& index) const;
  void store(const Val& index, const Val& value) const;

 private:
  std::uint64_t trace_;
  ArrayId id_;
  DType dtype_;
  MemorySpace space_;
};

class ArrayElement {
 public:
  ArrayElement(const ArrayRef& a, Val index) : array_(a), index_(index) {}
  operator Val() const { return array_.load(index_); }  // NOLINT: reads like a value
  Val load() const { return array_.load(index_); }
  Val to(DType t) const { return load().to(t); }
  const ArrayElement& operator=(const Val& v) const {
    array_.store(index_, v);
    return *this;
  }
  const ArrayElement& operator=(const ArrayElement& other) const { return *this = other.load(); }
  const Val& index() const { return index_; }
  const ArrayRef& array() const { return array_; }

 private:
  ArrayRef array_;
  Val index_;
};

inline ArrayElement ArrayRef::operator[](const Val& index) const {
  return ArrayElement(*this, index);
}

// Per-thread arrays are indexed with literals when unrolled (a[0], a[j] for a constant j).
Val array_index_literal(KernelBuilder& k, std::int64_t index);
template <Literal N>
ArrayElement ArrayRef::operator[](N index) const {
  return ArrayElement(*this, array_index_literal(builder(), static_cast<std::int64_t>(index)));
}

}  // namespace mt
