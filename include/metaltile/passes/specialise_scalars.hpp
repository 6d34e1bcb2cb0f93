// specialise_scalars: bakes values of scalar parameters into the kernel as constants.
#pragma once

#include <map>
#include <string>

#include "metaltile/core/kernel.hpp"

namespace mt::passes {

// Replaces every ScalarParam read of a named scalar with a Const of its value (normalised to
// the parameter's dtype) and removes those parameters. An unknown name, or a name that is
// not a scalar parameter, is an mt::Error naming the kernel and the parameter.
// An array whose size comes from a specialised scalar (Array::size_param) takes the value as
// its size and loses its size_param; a value below 1 is an mt::Error naming the kernel, the
// parameter and the array. Arrays sized by a scalar that stays follow its new id.
// Run before optimise(): folding can then use the values.
Kernel specialise_scalars(Kernel k, const std::map<std::string, Scalar>& values);

}  // namespace mt::passes
