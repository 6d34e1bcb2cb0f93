// Traces, lists and dispatches a library kernel through the installed umbrella header.
#include <cstdio>
#include <metaltile/metaltile.hpp>

int main() {
  mt::Kernel k = mt::kernels::ffai::kv_cache::kv_cache_update::kernel_ir_for(mt::DType::F32);
  mt::Context ctx = mt::Context::create(mt::Backend::Cpu);
  mt::BufferMap buffers;
  buffers["src"] = std::vector<std::uint8_t>(4 * 4, 0x3F);
  buffers["out"] = std::vector<std::uint8_t>(4 * 4 * 2, 0);
  buffers["head_dim"] = mt::scalar_bytes(std::uint32_t{4});
  buffers["max_seq"] = mt::scalar_bytes(std::uint32_t{2});
  buffers["position"] = mt::scalar_bytes(std::uint32_t{1});
  mt::DispatchResult r = ctx.dispatch_with_grid(k, buffers, {}, {1, 1, 1}, {4, 1, 1});
  const auto& out = r.outputs.at("out");
  bool ok = out.size() == 32 && out[16] == 0x3F && out[0] == 0;
  std::printf("consumer: %zu kernels registered, dispatch %s\n", mt::registered_kernels().size(),
              ok ? "ok" : "WRONG");
  return ok ? 0 : 1;
}
