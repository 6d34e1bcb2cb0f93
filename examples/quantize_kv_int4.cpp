// The README's example as a whole program: one decode step quantises a token of 8 KV heads
// (head_dim 128, f16) into slot `position` of an int4 cache with groups of 32 channels, on the
// default backend (CUDA if a GPU is usable, else the CPU interpreter). It then checks the result
// the way the cache will be read: every channel dequantised from its 4-bit code, scale and bias
// lies within half a quantisation step of the input, and no other slot of the cache changed.
// Layouts and formulas: docs/kernels/kv_cache.md. Exit status 0 when the check passes.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <metaltile/metaltile.hpp>
#include <vector>

namespace {

constexpr std::uint32_t kHeads = 8, kHeadDim = 128, kMaxSeq = 16, kGroupSize = 32;
constexpr std::uint32_t kPosition = 3;
constexpr std::uint32_t kGroupsPerHead = kHeadDim / kGroupSize;
constexpr std::uint8_t kUntouched = 0xAB;  // the caches' bytes before the launch

// Activations in about [-2, 2], already rounded to f16 as the kernel will read them.
std::vector<float> make_token() {
  std::vector<float> v(kHeads * kHeadDim);
  for (std::size_t i = 0; i < v.size(); ++i) {
    v[i] = mt::round_to(mt::DType::F16,
                        2.0f * std::sin(0.37f * float(i)) * std::cos(0.05f * float(i)));
  }
  return v;
}

// Checks the slot the kernel wrote against the token, and that every other byte is untouched.
bool check(const std::vector<float>& token, const mt::BufferMap& out) {
  const std::vector<std::uint32_t> words = mt::u32_values(out.at("out_w"));
  const std::vector<float> scales = mt::tensor_values(out.at("out_s"), mt::DType::F16);
  const std::vector<float> biases = mt::tensor_values(out.at("out_b"), mt::DType::F16);
  constexpr std::uint32_t kWordsPerSlot = kHeadDim / 8;  // eight 4-bit codes per u32 word
  double worst = 0;  // the largest error as a fraction of its group's scale
  for (std::uint32_t h = 0; h < kHeads; ++h) {
    const std::uint32_t slot = h * kMaxSeq + kPosition;
    for (std::uint32_t d = 0; d < kHeadDim; ++d) {
      const std::uint32_t word = words[slot * kWordsPerSlot + d / 8];
      const std::uint32_t code = (word >> (4 * (d % 8))) & 0xF;
      const std::uint32_t group = slot * kGroupsPerHead + d / kGroupSize;
      const float value = float(code) * scales[group] + biases[group];
      const float error = std::fabs(value - token[h * kHeadDim + d]);
      // Half a step, plus the rounding of scale and bias to f16.
      const float bound = 0.51f * scales[group] + 2e-3f;
      if (!(error <= bound)) {
        std::printf("head %u channel %u: dequantised %g, input %g, error %g > %g\n", h, d, value,
                    token[h * kHeadDim + d], error, bound);
        return false;
      }
      worst = std::fmax(worst, error / scales[group]);
    }
  }
  // Every other slot keeps its bytes: compare whole slots of each output.
  for (const auto& [name, bytes] : out) {
    const std::size_t slot_bytes = bytes.size() / (kHeads * kMaxSeq);
    for (std::size_t i = 0; i < bytes.size(); ++i) {
      if (i / slot_bytes % kMaxSeq != kPosition && bytes[i] != kUntouched) {
        std::printf("%s: byte %zu outside slot %u changed\n", name.c_str(), i, kPosition);
        return false;
      }
    }
  }
  std::printf("largest error %.3f of a quantisation step; other slots untouched\n", worst);
  return true;
}

}  // namespace

int main() {
  const std::vector<float> token = make_token();  // [kHeads, kHeadDim]
  try {
    mt::Context ctx = mt::Context::create();  // CUDA if a GPU is usable, else the CPU interpreter
    mt::Kernel k = mt::kernels::ffai::kv_cache::quantize_kv_int4::kernel_ir_for(mt::DType::F16);
    k.mode = mt::KernelMode::Grid3D;
    mt::BufferMap buffers;  // tensors and scalars, by name, as little-endian bytes
    buffers["src"] = mt::tensor_bytes(token, mt::DType::F16);
    const std::size_t slots = kHeads * kMaxSeq, groups = slots * kGroupsPerHead;
    buffers["out_w"] = std::vector<std::uint8_t>(slots * kHeadDim / 2, kUntouched);  // 4-bit codes
    buffers["out_s"] = std::vector<std::uint8_t>(groups * 2, kUntouched);  // f16 scale per group
    buffers["out_b"] = std::vector<std::uint8_t>(groups * 2, kUntouched);  // f16 bias per group
    buffers["head_dim"] = mt::scalar_bytes(kHeadDim);
    buffers["max_seq"] = mt::scalar_bytes(kMaxSeq);
    buffers["group_size"] = mt::scalar_bytes(kGroupSize);
    buffers["position"] = mt::scalar_bytes(kPosition);
    // One thread per group of 32 channels: 8 heads x 4 groups = 32 threads, one threadgroup.
    mt::DispatchResult r = ctx.dispatch_with_grid(k, buffers, {}, {1, 1, 1}, {32, 1, 1});
    const std::vector<std::uint8_t>& codes = r.outputs.at("out_w");

    std::printf("quantize_kv_int4 on %s: %zu bytes of codes\n", ctx.description().c_str(),
                codes.size());
    return check(token, r.outputs) ? 0 : 1;
  } catch (const mt::Error& e) {
    std::printf("error: %s\n", e.what());
    return 1;
  }
}
