// DSL tensor cores: fragments, mma, load_matrix, copy_async and the swizzle, with the user's
// mistakes reported by name before anything is recorded.
#include "metaltile/dsl/matrix.hpp"

#include "metaltile/dsl/builtins.hpp"
#include "metaltile/dsl/collectives.hpp"
#include "metaltile/dsl/kernel_builder.hpp"

namespace mt {
namespace {

std::string describe(const Fragment& f) {
  const KernelBuilder& k = f.array().builder();
  return "fragment " + std::string(fragment_role_name(f.role())) + " '" +
         k.kernel().array(f.array().id()).name + "'[" + std::to_string(f.offset()) + "]";
}

void require_role(const Fragment& f, FragmentRole role, std::string_view op) {
  if (f.role() == role) return;
  const char* wanted = role == FragmentRole::Accumulator ? "an accumulator"
                       : role == FragmentRole::A         ? "an A fragment"
                                                         : "a B fragment";
  f.array().builder().fail(std::string(op) + ": " + describe(f) + " is not " + wanted);
}

void require_shared(KernelBuilder& k, const ArrayRef& a, std::string_view op) {
  if (a.space() == MemorySpace::Threadgroup) return;
  k.fail(std::string(op) + ": array '" + k.kernel().array(a.id()).name +
         "' is not threadgroup memory");
}

void require_index(KernelBuilder& k, const Val& v, std::string_view op, std::string_view what) {
  if (is_index_type(v.dtype())) return;
  k.fail(std::string(op) + ": " + std::string(what) + " " + k.describe(v) + " must be u32 or i32");
}

}  // namespace

ArrayElement Fragment::operator[](std::uint32_t e) const {
  if (e >= size()) {
    array_.builder().fail(describe(*this) + ": element " + std::to_string(e) + " of " +
                          std::to_string(size()));
  }
  return array_[offset_ + e];
}

// g = lane / 4 and t = lane % 4 as in fragment_coord; the constant parts of the layout fold.
Val Fragment::row(std::uint32_t e) const {
  const MatrixCoord base = fragment_coord(role_, input_, 0, e);
  const Val lane = lane_id();
  if (role_ == FragmentRole::B) {
    const std::uint32_t p = 4 / static_cast<std::uint32_t>(size_of(input_));
    return lane % 4u * p + base.row;
  }
  return lane / 4u + base.row;
}

Val Fragment::col(std::uint32_t e) const {
  const MatrixCoord base = fragment_coord(role_, input_, 0, e);
  const Val lane = lane_id();
  if (role_ == FragmentRole::B) return lane / 4u + base.col;
  const std::uint32_t p =
      role_ == FragmentRole::A ? 4 / static_cast<std::uint32_t>(size_of(input_)) : 2u;
  return lane % 4u * p + base.col;
}

Fragment Fragments::operator[](std::uint32_t i) const {
  if (i >= count_) {
    array_.builder().fail("fragments '" + array_.builder().kernel().array(array_.id()).name +
                          "': fragment " + std::to_string(i) + " of " + std::to_string(count_));
  }
  return Fragment(array_, i * fragment_size(role_, input_), role_, input_);
}

void Fragments::fill(const Val& v) const {
  const std::uint32_t n = count_ * fragment_size(role_, input_);
  for (std::uint32_t e = 0; e < n; ++e) array_[e] = v;
}

Fragments fragments(std::string name, FragmentRole role, DType input, std::uint32_t count) {
  KernelBuilder& k = KernelBuilder::current();
  if (!is_mma_input_type(input)) {
    k.fail("fragments '" + name + "': tensor cores multiply f16, bf16 or i8, not " +
           std::string(name_of(input)));
  }
  if (count == 0) k.fail("fragments '" + name + "': count must be at least 1");
  const DType t = role == FragmentRole::Accumulator ? mma_accumulator_type(input) : input;
  const ArrayRef a = k.thread_array(std::move(name), t, count * fragment_size(role, input));
  return Fragments(a, role, input, count);
}

void mma(const Fragment& d, const Fragment& a, const Fragment& b, const Fragment& c) {
  KernelBuilder& k = d.array().builder();
  require_role(d, FragmentRole::Accumulator, "mma");
  require_role(a, FragmentRole::A, "mma");
  require_role(b, FragmentRole::B, "mma");
  require_role(c, FragmentRole::Accumulator, "mma");
  for (const Fragment* f : {&d, &b, &c}) {
    if (f->input() != a.input()) {
      k.fail("mma: " + describe(*f) + " is for " + std::string(name_of(f->input())) +
             " inputs, A for " + std::string(name_of(a.input())));
    }
  }
  k.append_statement(make::mma(k.kernel(), d.ref(), a.ref(), b.ref(), c.ref()));
}

namespace {

// One LoadMatrix filling `elements` of dst's array from its offset.
void load_matrix_elements(const Fragment& dst, std::uint32_t elements, const ArrayRef& shared,
                          const Val& row_start, bool transpose) {
  KernelBuilder& k = dst.array().builder();
  require_shared(k, shared, "load_matrix");
  require_index(k, row_start, "load_matrix", "row start");
  if (dst.role() == FragmentRole::Accumulator) {
    k.fail("load_matrix: " + describe(dst) + " is an accumulator; load A or B fragments");
  }
  if (shared.dtype() != dst.dtype()) {
    k.fail("load_matrix: array '" + k.kernel().array(shared.id()).name + "' holds " +
           std::string(name_of(shared.dtype())) + ", " + describe(dst) + " " +
           std::string(name_of(dst.dtype())));
  }
  if (transpose && size_of(dst.dtype()) != 2) {
    k.fail("load_matrix: only 16-bit matrices can be transposed, not " +
           std::string(name_of(dst.dtype())));
  }
  const std::uint32_t matrices = elements * static_cast<std::uint32_t>(size_of(dst.dtype())) / 4;
  if (matrices > 4) {
    k.fail("load_matrix: " + std::to_string(matrices) + " matrices at once; at most 4");
  }
  k.append_statement(
      make::load_matrix(k.kernel(), dst.ref(), shared.id(), row_start.id(), matrices, transpose));
}

}  // namespace

void load_matrix(const Fragment& dst, const ArrayRef& shared, const Val& row_start,
                 bool transpose) {
  load_matrix_elements(dst, dst.size(), shared, row_start, transpose);
}

void load_matrix(const Fragments& dst, std::uint32_t first, std::uint32_t count,
                 const ArrayRef& shared, const Val& row_start, bool transpose) {
  if (count == 0 || first + count > dst.count()) {
    dst.array().builder().fail("load_matrix: fragments " + std::to_string(first) + ".." +
                               std::to_string(first + count) + " of " +
                               std::to_string(dst.count()));
  }
  load_matrix_elements(dst[first], dst[first].size() * count, shared, row_start, transpose);
}

void copy_async(const ArrayRef& shared, const Val& dst_index, const Tensor& src,
                const Val& src_index, std::uint32_t elements, const Val& valid) {
  KernelBuilder& k = shared.builder();
  require_shared(k, shared, "copy_async");
  require_index(k, dst_index, "copy_async", "destination index");
  require_index(k, src_index, "copy_async", "source index");
  const std::string& src_name = k.kernel().param(src.param()).name;
  if (valid.dtype() != DType::Bool) {
    k.fail("copy_async: condition " + k.describe(valid) + " must be bool");
  }
  if (src.dtype() != shared.dtype()) {
    k.fail("copy_async: param '" + src_name + "' holds " + std::string(name_of(src.dtype())) +
           ", array '" + k.kernel().array(shared.id()).name + "' " +
           std::string(name_of(shared.dtype())));
  }
  const std::size_t bytes = elements * size_of(src.dtype());
  if (bytes != 4 && bytes != 8 && bytes != 16) {
    k.fail("copy_async: param '" + src_name + "': " + std::to_string(elements) + " elements are " +
           std::to_string(bytes) + " bytes, not 4, 8 or 16");
  }
  k.append_statement(make::copy_async(k.kernel(), shared.id(), dst_index.id(), src.param(),
                                      src_index.id(), valid.id(), elements));
}

void copy_async_commit() { KernelBuilder::current().append_statement(make::copy_async_commit()); }

void copy_async_wait(std::uint32_t pending) {
  KernelBuilder& k = KernelBuilder::current();
  if (pending > kMaxPendingCopyGroups) {
    k.fail("copy_async_wait: " + std::to_string(pending) + " pending groups; at most " +
           std::to_string(kMaxPendingCopyGroups));
  }
  k.append_statement(make::copy_async_wait(pending));
}

Val swizzle(const Val& row, const Val& col, std::uint32_t row_elements, DType t) {
  const std::uint32_t chunk = 16 / static_cast<std::uint32_t>(size_of(t));  // elements a chunk
  const std::uint32_t chunks = row_elements / chunk;
  if (row_elements % chunk != 0 || (chunks & (chunks - 1)) != 0) {
    row.builder().fail("swizzle: rows of " + std::to_string(row_elements) + " " +
                       std::string(name_of(t)) +
                       " elements are not a power-of-two number of 16-byte chunks");
  }
  if (chunks < 2) return row * row_elements + col;
  // XOR with as many row bits as the row has chunk bits (at most 3: 8 rows of a matrix load).
  const std::uint32_t mask = (chunks >= 8 ? 8u : chunks) - 1;
  const Val c = col / chunk;
  return row * row_elements + ((c ^ (row & mask)) * chunk) + col % chunk;
}

}  // namespace mt
