// Warpgroup MMA helpers of the CUDA emitter: pasted after matrix.cuh into kernels that use the
// IR's Warpgroup ops (sm_90a only). The MMA itself, one function per type and n, is generated
// beside these (backends/cuda/warpgroup_mma.cpp); accumulators are per-thread f32 arrays in
// the wgmma D layout of core/warpgroup.hpp, handed to it register by register.

// The 64-bit matrix descriptor of an operand starting at `p` in shared memory: start, leading
// and stride byte offsets in 16-byte units (14 bits each, at bits 0, 16, 32), base offset 0,
// swizzle mode at bit 62 (1: 128 B, 2: 64 B, 3: 32 B, 0: none).
MT_DEVICE unsigned long long mt_matrix_descriptor(const void* p, unsigned int leading_bytes,
                                                  unsigned int stride_bytes,
                                                  unsigned long long swizzle_code) {
  const unsigned long long address = mt_shared_address(p);
  return ((address & 0x3FFFFull) >> 4) |
         ((unsigned long long)((leading_bytes >> 4) & 0x3FFFu) << 16) |
         ((unsigned long long)((stride_bytes >> 4) & 0x3FFFu) << 32) | (swizzle_code << 62);
}

// Keeps the compiler from moving accesses of an accumulator's registers across the
// asynchronous MMA's fence and wait: each register is "changed" here, in program order.
template <int N>
MT_DEVICE void mt_fence_accumulator(float* d) {
#pragma unroll
  for (int i = 0; i < N; ++i) asm volatile("" : "+f"(d[i])::"memory");
}

MT_DEVICE void mt_warpgroup_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }

MT_DEVICE void mt_warpgroup_commit() {
  asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
}

template <int Pending>
MT_DEVICE void mt_warpgroup_wait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(Pending) : "memory");
}

// The thread's shared-memory writes so far become visible to the asynchronous proxy (the
// warpgroup MMA's operand reads).
MT_DEVICE void mt_fence_async_shared() {
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
}
