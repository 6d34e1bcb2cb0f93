// DSL bulk tile copies and asynchronous barriers, with the user's mistakes reported by name
// before anything is recorded.
#include "metaltile/dsl/bulk_copy.hpp"

#include "metaltile/core/async_barrier.hpp"
#include "metaltile/dsl/kernel_builder.hpp"

namespace mt {
namespace {

void expect_u32(KernelBuilder& k, const std::string& what, const Val& v) {
  if (v.dtype() != DType::U32) k.fail(what + ": " + k.describe(v) + " must be u32");
}

}  // namespace

TensorMapRef::TensorMapRef(KernelBuilder& builder, TensorMapId id, const TensorMap& map,
                           DType dtype)
    : trace_(builder.trace_serial()), id_(id), map_(map), dtype_(dtype) {}

TensorMapId TensorMapRef::id() const {
  KernelBuilder::of_trace(trace_);
  return id_;
}

KernelBuilder& TensorMapRef::builder() const { return KernelBuilder::of_trace(trace_); }

std::uint32_t TensorMapRef::box_bytes() const {
  return map_.box_rows * map_.box_cols * static_cast<std::uint32_t>(size_of(dtype_));
}

TensorMapRef tensor_map(std::string name, const Tensor& t, const Val& rows, const Val& cols,
                        const Val& row_stride, std::uint32_t box_rows, std::uint32_t box_cols,
                        Swizzle swizzle) {
  KernelBuilder& k = t.builder();
  const std::string what = "tensor_map '" + name + "'";
  if (name.empty()) k.fail("tensor_map: give the map a name");
  for (const TensorMap& m : k.kernel().tensor_maps) {
    if (m.name == name) k.fail(what + " is declared twice");
  }
  expect_u32(k, what + ": rows", rows);
  expect_u32(k, what + ": cols", cols);
  expect_u32(k, what + ": row stride", row_stride);
  const TensorMap map{name, t.param(), box_rows, box_cols, swizzle};
  if (std::string p = tensor_map_problem(k.kernel(), map); !p.empty()) k.fail(p);
  const ValueId r = k.to_contract(rows, what), c = k.to_contract(cols, what),
                s = k.to_contract(row_stride, what);
  Kernel& kernel = k.mutable_kernel();
  const TensorMapId id = kernel.new_tensor_map(map);
  kernel.contract.instrs.push_back(make::tensor_map_shape(kernel, id, r, c, s));
  return TensorMapRef(k, id, map, t.dtype());
}

AsyncBarriers::AsyncBarriers(std::string name, std::uint32_t size) : size_(size) {
  KernelBuilder& k = KernelBuilder::current();
  trace_ = k.trace_serial();
  const std::string what = "async barriers '" + name + "'";
  if (name.empty()) k.fail("async barriers: give the set a name");
  if (size == 0) k.fail(what + ": size must be at least 1");
  for (const AsyncBarrier& b : k.kernel().async_barriers) {
    if (b.name == name) k.fail(what + " are declared twice");
  }
  id_ = k.mutable_kernel().new_async_barrier(AsyncBarrier{std::move(name), size});
}

AsyncBarrierId AsyncBarriers::id() const {
  KernelBuilder::of_trace(trace_);
  return id_;
}

KernelBuilder& AsyncBarriers::builder() const { return KernelBuilder::of_trace(trace_); }

void AsyncBarriers::init(const Val& index, std::uint32_t arrivals) const {
  KernelBuilder& k = builder();
  const std::string what = "async barriers '" + k.kernel().async_barrier(id_).name + "'.init";
  expect_u32(k, what + ": index", index);
  if (arrivals == 0 || arrivals > kMaxAsyncBarrierArrivals) {
    k.fail(what + ": " + std::to_string(arrivals) + " arrivals; from 1 to " +
           std::to_string(kMaxAsyncBarrierArrivals));
  }
  k.append_statement(make::async_barrier_init(k.kernel(), id_, index.id(), arrivals));
}

void AsyncBarriers::arrive(const Val& index) const {
  KernelBuilder& k = builder();
  expect_u32(k, "async barriers '" + k.kernel().async_barrier(id_).name + "'.arrive: index", index);
  k.append_statement(make::async_barrier_arrive(k.kernel(), id_, index.id()));
}

void AsyncBarriers::arrive_expect(const Val& index, const Val& bytes) const {
  KernelBuilder& k = builder();
  const std::string what =
      "async barriers '" + k.kernel().async_barrier(id_).name + "'.arrive_expect";
  expect_u32(k, what + ": index", index);
  expect_u32(k, what + ": bytes", bytes);
  if (std::optional<Scalar> n = k.constant_value(bytes); n && n->i > kMaxAsyncBarrierBytes) {
    k.fail(what + ": " + std::to_string(n->i) + " bytes; a phase counts at most " +
           std::to_string(kMaxAsyncBarrierBytes));
  }
  k.append_statement(make::async_barrier_expect(k.kernel(), id_, index.id(), bytes.id()));
}

void AsyncBarriers::wait(const Val& index, const Val& parity) const {
  KernelBuilder& k = builder();
  const std::string what = "async barriers '" + k.kernel().async_barrier(id_).name + "'.wait";
  expect_u32(k, what + ": index", index);
  expect_u32(k, what + ": parity", parity);
  k.append_statement(make::async_barrier_wait(k.kernel(), id_, index.id(), parity.id()));
}

void bulk_tensor_load(const ArrayRef& dst, const Val& dst_index, const TensorMapRef& map,
                      const Val& row, const Val& col, const AsyncBarriers& barriers,
                      const Val& barrier) {
  KernelBuilder& k = dst.builder();
  const std::string what = "bulk_tensor_load of tensor map '" + map.name() + "'";
  const Array& a = k.kernel().array(dst.id());
  if (dst.space() != MemorySpace::Threadgroup) {
    k.fail(what + ": array '" + a.name + "' is not threadgroup memory");
  }
  if (dst.dtype() != map.dtype()) {
    k.fail(what + ": array '" + a.name + "' holds " + std::string(name_of(dst.dtype())) +
           ", the map's tensor " + std::string(name_of(map.dtype())));
  }
  if (!is_index_type(dst_index.dtype())) {
    k.fail(what + ": destination index " + k.describe(dst_index) + " must be u32 or i32");
  }
  for (const Val* v : {&row, &col}) {
    if (v->dtype() != DType::I32) {
      k.fail(what + ": coordinate " + k.describe(*v) + " must be i32 (use .to(DType::I32))");
    }
  }
  expect_u32(k, what + ": barrier index", barrier);
  k.append_statement(make::bulk_tensor_load(k.kernel(), dst.id(), dst_index.id(), map.id(),
                                            row.id(), col.id(), barriers.id(), barrier.id()));
}

}  // namespace mt
