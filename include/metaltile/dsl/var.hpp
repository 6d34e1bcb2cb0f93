// mt::Var: a mutable local. Reading converts to a Val; assignment and compound assignment
// record writes, so loops can carry state (acc += x). Like a Val, a Var belongs to its trace.
#pragma once

#include <source_location>
#include <string>

#include "metaltile/core/ids.hpp"
#include "metaltile/dsl/val.hpp"

namespace mt {

class Var {
 public:
  // A new local initialised to `init` (and of its type).
  Var(const Val& init,  // NOLINT: `Var acc = x;` reads naturally
      std::source_location where = std::source_location::current());
  Var(const Val& init, std::string name,
      std::source_location where = std::source_location::current());
  // A copy is a new local holding the other's current value, never an alias.
  Var(const Var& other);
  Var& operator=(const Val& v);
  Var& operator=(const Var& other);
  template <Literal N>
  Var& operator=(N n) {
    return *this = read().literal(n);
  }

  Val read() const;
  operator Val() const { return read(); }  // NOLINT
  DType dtype() const { return dtype_; }
  Val to(DType t) const { return read().to(t); }

  Var& operator+=(const Val& v) { return *this = read() + v; }
  Var& operator-=(const Val& v) { return *this = read() - v; }
  Var& operator*=(const Val& v) { return *this = read() * v; }
  Var& operator/=(const Val& v) { return *this = read() / v; }
  Var& operator%=(const Val& v) { return *this = read() % v; }
  Var& operator&=(const Val& v) { return *this = read() & v; }
  Var& operator|=(const Val& v) { return *this = read() | v; }
  Var& operator^=(const Val& v) { return *this = read() ^ v; }
  Var& operator<<=(const Val& v) { return *this = read() << v; }
  Var& operator>>=(const Val& v) { return *this = read() >> v; }
  template <Literal N>
  Var& operator+=(N n) {
    return *this = read() + n;
  }
  template <Literal N>
  Var& operator-=(N n) {
    return *this = read() - n;
  }
  template <Literal N>
  Var& operator*=(N n) {
    return *this = read() * n;
  }
  template <Literal N>
  Var& operator/=(N n) {
    return *this = read() / n;
  }
  template <Literal N>
  Var& operator%=(N n) {
    return *this = read() % n;
  }
  template <Literal N>
  Var& operator^=(N n) {
    return *this = read() ^ n;
  }
  template <Literal N>
  Var& operator|=(N n) {
    return *this = read() | n;
  }
  template <Literal N>
  Var& operator&=(N n) {
    return *this = read() & n;
  }
  template <Literal N>
  Var& operator<<=(N n) {
    return *this = read() << n;
  }
  template <Literal N>
  Var& operator>>=(N n) {
    return *this = read() >> n;
  }

 private:
  std::uint64_t trace_;
  LocalId local_;
  DType dtype_;
};

}  // namespace mt
