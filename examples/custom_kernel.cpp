// A kernel of your own, written with the DSL and run on the default backend (CUDA if a GPU is
// usable, else the CPU interpreter): out = alpha * x + y, generic over the element type,
// computed in f32. It prints the kernel's IR after the optimiser's passes, runs it for f32, f16 and
// bf16 on a length that is not a multiple of the threadgroup size, and checks every element against
// a plain loop. Exit status 0 when every check passes.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <metaltile/metaltile.hpp>
#include <string>
#include <vector>

namespace {

// One thread per element; threads past the end do nothing, so the grid may round up.
mt::Kernel scaled_add(mt::DType t) {
  return mt::trace("scaled_add", mt::KernelMode::Grid3D, [t](mt::KernelBuilder& k) {
    mt::Tensor x = k.input("x", t), y = k.input("y", t);
    mt::Tensor out = k.output("out", t);
    mt::Val alpha = k.scalar_f32("alpha");
    k.require_len(y, x.len(), "len(x)");  // checked on the host per launch
    k.require_len(out, x.len(), "len(x)");
    mt::Val i = mt::program_id(0);
    mt::if_(i < x.len(), [&] {
      mt::Val sum = alpha * x[i].to(mt::DType::F32) + y[i].to(mt::DType::F32);
      out[i] = sum.to(t);
    });
  });
}

bool run(const mt::Context& ctx, mt::DType t) {
  constexpr std::uint32_t kN = 1000, kThreads = 256;
  constexpr float kAlpha = 0.75f;
  std::vector<float> x(kN), y(kN);
  for (std::uint32_t i = 0; i < kN; ++i) {
    x[i] = mt::round_to(t, std::sin(0.1f * float(i)));
    y[i] = mt::round_to(t, float(i % 17) - 8.0f);
  }
  mt::BufferMap buffers;
  buffers["x"] = mt::tensor_bytes(x, t);
  buffers["y"] = mt::tensor_bytes(y, t);
  buffers["out"] = mt::tensor_bytes(std::vector<float>(kN, NAN), t);  // unwritten stays NaN
  buffers["alpha"] = mt::scalar_bytes(kAlpha);
  const std::size_t groups = (kN + kThreads - 1) / kThreads;
  const mt::DispatchResult r =
      ctx.dispatch_with_grid(scaled_add(t), buffers, {}, {groups, 1, 1}, {kThreads, 1, 1});
  const std::vector<float> out = mt::tensor_values(r.outputs.at("out"), t);

  for (std::uint32_t i = 0; i < kN; ++i) {
    // The kernel computes in f32 and rounds once to t.
    const float want = mt::round_to(t, kAlpha * x[i] + y[i]);
    if (!(out[i] == want)) {  // NaN (an unwritten element) fails too
      std::printf("%s: out[%u] = %g, expected %g\n", std::string(mt::name_of(t)).c_str(), i, out[i],
                  want);
      return false;
    }
  }
  std::printf("%s: %u elements ok\n", std::string(mt::name_of(t)).c_str(), kN);
  return true;
}

}  // namespace

int main() {
  try {
    const mt::Context ctx = mt::Context::create();
    std::printf("backend: %s\n\n%s\n", ctx.description().c_str(),
                mt::print(mt::passes::optimise(scaled_add(mt::DType::F16))).c_str());
    bool ok = true;
    for (mt::DType t : {mt::DType::F32, mt::DType::F16, mt::DType::BF16}) ok = run(ctx, t) && ok;
    return ok ? 0 : 1;
  } catch (const mt::Error& e) {
    std::printf("error: %s\n", e.what());
    return 1;
  }
}
