// The kernel ABI: entry name, launch slots, and decoding the device error record.
#include "backends/cuda/cuda_abi.hpp"

#include <sstream>
#include <string_view>
#include <utility>

#include "backends/cuda/cuda_dialect.hpp"
#include "metaltile/core/print.hpp"
#include "metaltile/core/tensor_map.hpp"
#include "metaltile/core/visitor.hpp"
#include "metaltile/core/warpgroup.hpp"

namespace mt::cuda {
namespace {

// " at thread (x,y,z) of threadgroup (x,y,z)", written to a stream: g++ 12 at -O3 misreads a
// chain of std::string concatenations as overlapping copies (-Wrestrict) and stops a -Werror build.
std::string location(std::array<std::uint32_t, 3> thread, std::array<std::uint32_t, 3> group) {
  std::ostringstream os;
  os << " at thread (" << thread[0] << "," << thread[1] << "," << thread[2] << ") of threadgroup ("
     << group[0] << "," << group[1] << "," << group[2] << ")";
  return os.str();
}

std::string_view kind_text(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::None: return "none";
    case ErrorKind::LoadOutOfBounds: return "load";
    case ErrorKind::StoreOutOfBounds: return "store";
    case ErrorKind::LoopStep: return "loop step";
    case ErrorKind::ArrayOutOfBounds: return "array";
    case ErrorKind::VectorMisaligned: return "vector alignment";
    case ErrorKind::BulkColumn: return "bulk copy column";
    case ErrorKind::BulkDestination: return "bulk copy destination";
  }
  return "unknown";
}

}  // namespace

std::string entry_name(const Kernel& k) { return "mt_" + identifier(k.name); }

std::vector<Slot> kernel_slots(const Kernel& k) {
  std::vector<Slot> slots;
  for (std::size_t i = 0; i < k.params.size(); ++i) {
    const Param& p = k.params[i];
    const ParamId id{static_cast<std::uint32_t>(i)};
    if (p.is_tensor()) {
      slots.push_back(Slot{SlotKind::Tensor, id, sizeof(void*), TensorMapId{}});
    } else {
      slots.push_back(Slot{SlotKind::Scalar, id, size_of(p.dtype), TensorMapId{}});
    }
  }
  for (std::size_t i = 0; i < k.params.size(); ++i) {
    if (!k.params[i].is_tensor()) continue;
    slots.push_back(Slot{SlotKind::ElementCount, ParamId{static_cast<std::uint32_t>(i)},
                         sizeof(std::uint64_t), TensorMapId{}});
  }
  for (std::size_t i = 0; i < k.tensor_maps.size(); ++i) {
    slots.push_back(
        Slot{SlotKind::TensorMap, ParamId{}, 128, TensorMapId{static_cast<std::uint32_t>(i)}});
  }
  slots.push_back(Slot{SlotKind::ErrorRecord, ParamId{}, sizeof(void*), TensorMapId{}});
  return slots;
}

ErrorRecord decode_error_record(std::span<const std::uint32_t, kErrorRecordWords> words) {
  ErrorRecord r;
  r.kind = static_cast<ErrorKind>(words[kErrorKind]);
  r.site = words[kErrorSite];
  const std::uint64_t bits =
      (std::uint64_t{words[kErrorValueHi]} << 32) | std::uint64_t{words[kErrorValueLo]};
  r.value = static_cast<std::int64_t>(bits);
  r.group = {words[kErrorGroupX], words[kErrorGroupY], words[kErrorGroupZ]};
  r.thread = {words[kErrorThreadX], words[kErrorThreadY], words[kErrorThreadZ]};
  return r;
}

namespace {

// A bulk copy the engine cannot do, in the interpreter's words (core/tensor_map.hpp).
Error bulk_copy_error(const Kernel& k, const Instr& in, const ErrorRecord& record,
                      const std::string& where) {
  const TensorMap& map = k.tensor_map(in.tensor_map);
  const Array& dst = k.array(in.array);
  const std::string problem =
      record.kind == ErrorKind::BulkColumn
          ? bulk_column_problem(map, record.value, static_cast<std::uint32_t>(size_of(dst.dtype)))
          : bulk_destination_problem(map, dst, record.value);
  return kernel_error(k.name, problem + where);
}

}  // namespace

const Instr* instr_at_site(const Kernel& k, std::uint32_t site) {
  const Instr* found = nullptr;
  std::uint32_t position = 0;
  for_each_instr(k.body, [&](const Instr& in) {
    if (position++ == site) found = &in;
  });
  return found;
}

Error error_from_record(const Kernel& k, const ErrorRecord& record,
                        std::span<const std::uint64_t> elements, const LaunchDims& dims) {
  MT_ASSERT(record.kind != ErrorKind::None) << "no error recorded";
  std::array<std::uint32_t, 3> global{};
  for (int a = 0; a < 3; ++a) global[a] = record.group[a] * dims.tpg[a] + record.thread[a];
  const Instr* in = instr_at_site(k, record.site);
  std::string where = location(global, record.group);
  if (in == nullptr) {
    return kernel_error(k.name, std::string(kind_text(record.kind)) + " error (value " +
                                    std::to_string(record.value) + ") at unknown site " +
                                    std::to_string(record.site) + where);
  }
  where += ": " + print_instr(k, *in);
  if (record.kind == ErrorKind::LoopStep) {
    return kernel_error(k.name,
                        "loop step " + std::to_string(record.value) + " is not positive" + where);
  }
  if (record.kind == ErrorKind::BulkColumn || record.kind == ErrorKind::BulkDestination) {
    return bulk_copy_error(k, *in, record, where);
  }
  const std::string index_text =
      std::string(op_name(in->op)) + " index " + std::to_string(record.value);
  if (record.kind == ErrorKind::ArrayOutOfBounds) {
    const Array& a = k.array(in->array);
    return kernel_error(k.name, "array '" + a.name + "': " + index_text + " out of bounds (" +
                                    quantity(a.size, "element") + ")" + where);
  }
  if (record.kind == ErrorKind::VectorMisaligned) {
    return param_error(k.name, k.param(in->param).name,
                       "vector access at index " + std::to_string(record.value) +
                           " is not a multiple of " + std::to_string(in->lanes) + where);
  }
  const std::string elements_text = in->param.index < elements.size()
                                        ? quantity(elements[in->param.index], "element")
                                        : "? elements";
  if (in->op == OpKind::LoadVector || in->op == OpKind::StoreVector) {
    return param_error(k.name, k.param(in->param).name,
                       std::string(op_name(in->op)) + " of " + std::to_string(in->lanes) +
                           " elements at index " + std::to_string(record.value) +
                           " out of bounds (" + elements_text + ")" + where);
  }
  return param_error(k.name, k.param(in->param).name,
                     index_text + " out of bounds (" + elements_text + ")" + where);
}

namespace {

// Threadgroup arrays one after another, each 16-byte aligned, or kSharedMatrixAlignment-aligned
// when a warpgroup MMA reads it. Returns the offsets (by ArrayId) and the total.
std::pair<std::vector<std::uint64_t>, std::uint64_t> shared_layout(const Kernel& k) {
  const std::vector<bool> matrices = shared_matrix_arrays(k);
  std::vector<std::uint64_t> offsets(k.arrays.size(), 0);
  std::uint64_t next = 0;
  for (std::size_t i = 0; i < k.arrays.size(); ++i) {
    const Array& a = k.arrays[i];
    if (a.space != MemorySpace::Threadgroup) continue;
    const std::uint64_t align = matrices[i] ? kSharedMatrixAlignment : 16;
    next = (next + align - 1) / align * align;
    offsets[i] = next;
    next += (std::uint64_t{a.size} * size_of(a.dtype) + 15) / 16 * 16;
  }
  return {offsets, next};
}

}  // namespace

std::vector<std::uint64_t> dynamic_shared_offsets(const Kernel& k) {
  return shared_layout(k).first;
}

std::uint64_t dynamic_shared_bytes(const Kernel& k) {
  const std::uint64_t total = shared_layout(k).second;
  return total > kStaticSharedLimit ? total : 0;
}

std::string device_abi_constants() {
  // An enum, not constexpr variables: unused enumerators draw no "never referenced" warning.
  std::string out = "// Error record layout (backends/cuda/cuda_abi.hpp).\nenum : unsigned int {\n";
  const auto line = [&](std::string_view name, std::uint32_t value) {
    out.append("  ").append(name).append(" = ").append(std::to_string(value)).append("u,\n");
  };
  line("mt_error_load", static_cast<std::uint32_t>(ErrorKind::LoadOutOfBounds));
  line("mt_error_store", static_cast<std::uint32_t>(ErrorKind::StoreOutOfBounds));
  line("mt_error_loop_step", static_cast<std::uint32_t>(ErrorKind::LoopStep));
  line("mt_error_array", static_cast<std::uint32_t>(ErrorKind::ArrayOutOfBounds));
  line("mt_error_vector_align", static_cast<std::uint32_t>(ErrorKind::VectorMisaligned));
  line("mt_error_bulk_column", static_cast<std::uint32_t>(ErrorKind::BulkColumn));
  line("mt_error_bulk_destination", static_cast<std::uint32_t>(ErrorKind::BulkDestination));
  line("mt_error_word_kind", kErrorKind);
  line("mt_error_word_site", kErrorSite);
  line("mt_error_word_value_lo", kErrorValueLo);
  line("mt_error_word_value_hi", kErrorValueHi);
  line("mt_error_word_group", kErrorGroupX);
  line("mt_error_word_thread", kErrorThreadX);
  return out + "};\n";
}

}  // namespace mt::cuda
