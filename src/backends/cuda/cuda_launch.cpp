// Building the kernelParams array from the ABI's slots, and launching.
#include "backends/cuda/cuda_launch.hpp"

#include <bit>
#include <string>

#include "backends/cuda/bulk_copy.hpp"
#include "metaltile/core/contract.hpp"
#include "metaltile/core/dtype.hpp"
#include "metaltile/core/error.hpp"

namespace mt::cuda {

CudaExecutable::CudaExecutable(std::shared_ptr<const PrimaryContext> ctx, Kernel k,
                               std::unique_ptr<const Module> module, bool checked,
                               bool overlaps_prior)
    : ctx_(std::move(ctx)),
      kernel_(std::move(k)),
      module_(std::move(module)),
      checked_(checked),
      overlaps_prior_(overlaps_prior),
      slots_(kernel_slots(kernel_)) {}

const CudaExecutable& cuda_executable(const Executable& exe) {
  const auto* cuda = dynamic_cast<const CudaExecutable*>(&exe);
  MT_ASSERT(cuda != nullptr) << "an executable of another backend reached the CUDA backend";
  return *cuda;
}

std::uint64_t scalar_bits(DType t, const Scalar& value) {
  switch (t) {
    case DType::F32: return std::bit_cast<std::uint32_t>(static_cast<float>(value.f));
    case DType::F16: return f32_to_f16_bits(static_cast<float>(value.f));
    case DType::BF16: return f32_to_bf16_bits(static_cast<float>(value.f));
    case DType::F8E4M3: return f32_to_e4m3_bits(static_cast<float>(value.f));
    case DType::F8E5M2: return f32_to_e5m2_bits(static_cast<float>(value.f));
    case DType::I32:
    case DType::U32: return static_cast<std::uint32_t>(value.i);
    case DType::I8:
    case DType::U8: return static_cast<std::uint8_t>(value.i);
    case DType::Bool: return value.i != 0 ? 1u : 0u;
  }
  MT_ASSERT(false) << "dtype " << static_cast<int>(t);
  return 0;
}

void check_threadgroup_size(const CudaExecutable& exe, const LaunchDims& dims) {
  const std::uint64_t threads =
      std::uint64_t{dims.tpg[0]} * std::uint64_t{dims.tpg[1]} * std::uint64_t{dims.tpg[2]};
  const Module& m = exe.module();
  if (threads <= static_cast<std::uint64_t>(m.max_threads())) return;
  throw kernel_error(exe.kernel().name,
                     "tpg (" + std::to_string(dims.tpg[0]) + "," + std::to_string(dims.tpg[1]) +
                         "," + std::to_string(dims.tpg[2]) + ") is " + std::to_string(threads) +
                         " threads, but this kernel can run at most " +
                         std::to_string(m.max_threads()) +
                         " per threadgroup on this device (it uses " +
                         std::to_string(m.registers()) + " registers a thread)");
}

std::vector<EncodedTensorMap> encode_tensor_maps(const Driver& driver, const Kernel& k,
                                                 const KernelArgs& args, const LaunchDims& dims) {
  std::vector<EncodedTensorMap> maps;
  if (k.tensor_maps.empty()) return maps;
  std::vector<Scalar> uniforms(k.params.size());
  for (std::size_t p = 0; p < k.params.size(); ++p) {
    uniforms[p] = k.params[p].is_tensor()
                      ? Scalar::of_int(static_cast<std::int64_t>(args.elements[p]))
                      : args.scalars[p];
  }
  const std::vector<TensorMapExtent> extents = evaluate_tensor_maps(k, uniforms, dims);
  for (std::size_t i = 0; i < k.tensor_maps.size(); ++i) {
    const TensorMap& m = k.tensor_maps[i];
    maps.push_back(encode_tensor_map(driver, k, m, args.pointers[m.tensor.index], extents[i]));
  }
  return maps;
}

bool waits_for_prior_kernel(const Kernel& k) {
  for (const Instr& in : k.body.instrs) {
    if (in.op == OpKind::WaitPriorKernel) return true;
  }
  return false;
}

void launch_kernel(const CudaExecutable& exe, const KernelArgs& args, CuDevicePtr error_record,
                   const LaunchDims& dims, CuStream stream) {
  const std::vector<Slot>& slots = exe.slots();
  const Kernel& k = exe.kernel();
  const Driver& d = Driver::get();
  // Every slot's value but a tensor map's is at most 8 bytes, little-endian at the start of its
  // word, which is what cuLaunchKernel reads for a parameter of that size.
  std::vector<std::uint64_t> values(slots.size(), 0);
  std::vector<void*> params(slots.size(), nullptr);
  const std::vector<EncodedTensorMap> maps = encode_tensor_maps(d, k, args, dims);
  for (std::size_t i = 0; i < slots.size(); ++i) {
    const Slot& slot = slots[i];
    switch (slot.kind) {
      case SlotKind::Tensor: values[i] = args.pointers[slot.param.index]; break;
      case SlotKind::Scalar:
        values[i] =
            scalar_bits(exe.kernel().param(slot.param).dtype, args.scalars[slot.param.index]);
        break;
      case SlotKind::ElementCount: values[i] = args.elements[slot.param.index]; break;
      case SlotKind::TensorMap:
        // cuLaunchKernel copies the 128 bytes from here.
        params[i] = const_cast<EncodedTensorMap*>(&maps[slot.tensor_map.index]);
        continue;
      case SlotKind::ErrorRecord: values[i] = error_record; break;
    }
    MT_ASSERT(slot.size <= sizeof(std::uint64_t)) << "slot of " << slot.size << " bytes";
    params[i] = &values[i];
  }
  const unsigned shared_bytes = static_cast<unsigned>(exe.module().dynamic_shared_bytes());
  if (exe.overlaps_prior()) {
    // Programmatic stream serialisation: the kernel may start before the prior one ends; its
    // wait_for_prior_kernel() holds it until then. Graph capture keeps it as such an edge.
    LaunchAttribute overlap{kProgrammaticStreamSerialization, 0, {1}};
    LaunchConfig config{{dims.grid[0], dims.grid[1], dims.grid[2]},
                        {dims.tpg[0], dims.tpg[1], dims.tpg[2]},
                        shared_bytes,
                        stream,
                        &overlap,
                        1};
    d.check(d.api().launch_kernel_ex(&config, exe.module().function(), params.data(), nullptr),
            "cuLaunchKernelEx", exe.kernel().name);
    return;
  }
  d.check(d.api().launch_kernel(exe.module().function(), dims.grid[0], dims.grid[1], dims.grid[2],
                                dims.tpg[0], dims.tpg[1], dims.tpg[2], shared_bytes, stream,
                                params.data(), nullptr),
          "cuLaunchKernel", exe.kernel().name);
}

}  // namespace mt::cuda
