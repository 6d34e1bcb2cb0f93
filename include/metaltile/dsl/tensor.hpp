// mt::Tensor: a tensor parameter. t[i] reads (as a Val) or writes (by assignment) element i.
#pragma once

#include "metaltile/core/ids.hpp"
#include "metaltile/dsl/builtins.hpp"
#include "metaltile/dsl/val.hpp"

namespace mt {

class TensorElement;

// Like a Val, a Tensor belongs to its trace: param() and builder() check it is the running one.
class Tensor {
 public:
  Tensor(KernelBuilder& builder, ParamId param, DType dtype);
  DType dtype() const { return dtype_; }
  ParamId param() const;
  KernelBuilder& builder() const;

  TensorElement operator[](Operand index) const;
  // The element count of the bound buffer (u32), uniform over the launch.
  Val len() const;
  Val load(const Val& index, std::source_location where = std::source_location::current()) const;
  void store(const Val& index, const Val& value,
             std::source_location where = std::source_location::current()) const;

 private:
  std::uint64_t trace_;
  ParamId param_;
  DType dtype_;
};

// The element t[i]: converts to a Val by loading; assigning a Val (or a literal of the
// tensor's type) stores. Its load or store is reported at the line of t[i].
class TensorElement {
 public:
  TensorElement(const Tensor& t, Val index,
                std::source_location where = std::source_location::current())
      : tensor_(t), index_(index), where_(where) {}
  operator Val() const { return load(); }  // NOLINT: loads read like values
  Val load() const { return tensor_.load(index_, where_); }
  Val to(DType t) const { return load().to(t, where_); }
  const TensorElement& operator=(const Val& v) const {
    tensor_.store(index_, v, where_);
    return *this;
  }
  const TensorElement& operator=(const TensorElement& other) const { return *this = other.load(); }
  template <Literal N>
  const TensorElement& operator=(N n) const {
    return *this = constant(tensor_.dtype(), static_cast<double>(n));
  }

 private:
  Tensor tensor_;
  Val index_;
  std::source_location where_;
};

inline TensorElement Tensor::operator[](Operand index) const {
  return TensorElement(*this, index.get(), index.where());
}

}  // namespace mt
