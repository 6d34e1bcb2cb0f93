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

  TensorElement operator[](const Val& index) const;
  // The element count of the bound buffer (u32), uniform over the launch.
  Val len() const;
  Val load(const Val& index) const;
  void store(const Val& index, const Val& value) const;

 private:
  std::uint64_t trace_;
  ParamId param_;
  DType dtype_;
};

// The element t[i]: converts to a Val by loading; assigning a Val (or a literal of the
// tensor's type) stores.
class TensorElement {
 public:
  TensorElement(const Tensor& t, Val index) : tensor_(t), index_(index) {}
  operator Val() const { return tensor_.load(index_); }  // NOLINT: loads read like values
  Val load() const { return tensor_.load(index_); }
  Val to(DType t) const { return load().to(t); }
  const TensorElement& operator=(const Val& v) const {
    tensor_.store(index_, v);
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
};

inline TensorElement Tensor::operator[](const Val& index) const {
  return TensorElement(*this, index);
}

}  // namespace mt
