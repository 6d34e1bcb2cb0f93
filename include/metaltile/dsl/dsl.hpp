// The whole tracing DSL in one include.
#pragma once

#include "metaltile/dsl/array.hpp"
#include "metaltile/dsl/builtins.hpp"
#include "metaltile/dsl/bulk_copy.hpp"
#include "metaltile/dsl/collectives.hpp"
#include "metaltile/dsl/kernel_builder.hpp"
#include "metaltile/dsl/kernel_overlap.hpp"
#include "metaltile/dsl/matrix.hpp"
#include "metaltile/dsl/range.hpp"
#include "metaltile/dsl/tensor.hpp"
#include "metaltile/dsl/val.hpp"
#include "metaltile/dsl/var.hpp"
#include "metaltile/dsl/warpgroup.hpp"
