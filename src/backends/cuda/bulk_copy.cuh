// Asynchronous barrier and bulk tile copy helpers of the CUDA emitter: pasted after matrix.cuh
// into kernels that use the IR's AsyncBarrier ops or BulkTensorLoad (sm_90). A barrier is one
// 8-byte word of shared memory (mbarrier); a copy is one cp.async.bulk.tensor of a box that
// the tensor map, encoded on the host, describes.

// A tensor map as cuTensorMapEncodeTiled writes it: 128 opaque bytes, 64-byte aligned, passed
// by value as a const __grid_constant__ parameter so that the copy engine can read it in place.
struct __align__(64) mt_tensor_map {
  unsigned long long words[16];
};

// Expects `arrivals` arrivals a phase. The fence makes the initialised barrier visible to the
// asynchronous proxy, where bulk copies complete their bytes on it; other threads see it after
// the barrier() the kernel places next.
MT_DEVICE void mt_async_barrier_init(unsigned long long* barrier, unsigned int arrivals) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(mt_shared_address(barrier)),
               "r"(arrivals)
               : "memory");
  asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
}

MT_DEVICE void mt_async_barrier_arrive(unsigned long long* barrier) {
  asm volatile("{\n.reg .b64 state;\nmbarrier.arrive.shared::cta.b64 state, [%0];\n}\n" ::"r"(
                   mt_shared_address(barrier))
               : "memory");
}

// Adds `bytes` of transactions to the current phase, then arrives.
MT_DEVICE void mt_async_barrier_arrive_expect(unsigned long long* barrier, unsigned int bytes) {
  asm volatile(
      "{\n.reg .b64 state;\nmbarrier.arrive.expect_tx.shared::cta.b64 state, [%0], %1;\n}\n" ::"r"(
          mt_shared_address(barrier)),
      "r"(bytes)
      : "memory");
}

// Spins on try_wait (which itself suspends for a while) until the phase of `parity` has
// completed; its acquire makes the phase's bulk-copied data and released writes visible.
MT_DEVICE void mt_async_barrier_wait(unsigned long long* barrier, unsigned int parity) {
  const unsigned int address = mt_shared_address(barrier);
  unsigned int done = 0;
  do {
    asm volatile(
        "{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n"
        "selp.u32 %0, 1, 0, p;\n}\n"
        : "=r"(done)
        : "r"(address), "r"(parity)
        : "memory");
  } while (done == 0);
}

// The box of `map` whose corner is (row, col) into shared memory at `dst`, its bytes completing
// on `barrier`. Coordinates go innermost first: the column, then the row.
MT_DEVICE void mt_bulk_tensor_load_2d(void* dst, const mt_tensor_map* map, int row, int col,
                                      unsigned long long* barrier) {
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes"
      " [%0], [%1, {%2, %3}], [%4];\n" ::"r"(mt_shared_address(dst)),
      "l"(reinterpret_cast<unsigned long long>(map)), "r"(col), "r"(row),
      "r"(mt_shared_address(barrier))
      : "memory");
}

// Completes `bytes` of the current phase's transactions without a copy: a checked launch that
// skips a bad copy still lets the threads waiting on its barrier go on, and the error is
// reported when the kernel ends.
MT_DEVICE void mt_async_barrier_complete(unsigned long long* barrier, unsigned int bytes) {
  asm volatile("mbarrier.complete_tx.shared::cta.b64 [%0], %1;\n" ::"r"(mt_shared_address(barrier)),
               "r"(bytes)
               : "memory");
}

// Whether a box may be copied: checked, its column corner must lie on a 16-byte boundary of the
// row (the engine stops the kernel otherwise) and its destination inside the array and on the
// swizzle's alignment (in elements); a failure is noted. Unchecked: always.
#if MT_CHECKED
MT_DEVICE bool mt_bulk_copy_ok(unsigned int dst_index, unsigned int box_elements,
                               unsigned long long array_elements, unsigned int align_elements,
                               int col, unsigned int element_bytes, mt_fault& fault,
                               unsigned int site) {
  if (((long long)col * (long long)element_bytes) % 16 != 0) {
    mt_note(fault, mt_error_bulk_column, site, (long long)col);
    return false;
  }
  if (dst_index % align_elements != 0 ||
      (unsigned long long)dst_index + box_elements > array_elements) {
    mt_note(fault, mt_error_bulk_destination, site, (long long)dst_index);
    return false;
  }
  return true;
}
#else
MT_DEVICE bool mt_bulk_copy_ok(unsigned int, unsigned int, unsigned long long, unsigned int, int,
                               unsigned int, mt_fault&, unsigned int) {
  return true;
}
#endif
