// Tensor-core helpers of the CUDA emitter: pasted after the prelude into kernels that use the
// IR's Mma, LoadMatrix or CopyAsync ops (sm_80 and later). Fragments are per-thread arrays,
// 16-byte aligned, whose 32-bit registers are handed to the PTX instructions as they are: the
// element-to-lane layouts of core/matrix.hpp are the hardware's.

// The shared-window address of a pointer into __shared__ memory, as ldmatrix and cp.async
// take it.
MT_DEVICE unsigned int mt_shared_address(const void* p) {
  return (unsigned int)__cvta_generic_to_shared(p);
}

MT_DEVICE const unsigned int* mt_registers(const void* p) {
  return reinterpret_cast<const unsigned int*>(p);
}

// D = A * B + C, m16n8k16, f16 or bf16 inputs, f32 accumulators.
MT_DEVICE void mt_mma(float* d, const __half* a, const __half* b, const float* c) {
  const unsigned int* ra = mt_registers(a);
  const unsigned int* rb = mt_registers(b);
  asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%10, %11, %12, %13};\n"
      : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
      : "r"(ra[0]), "r"(ra[1]), "r"(ra[2]), "r"(ra[3]), "r"(rb[0]), "r"(rb[1]), "f"(c[0]),
        "f"(c[1]), "f"(c[2]), "f"(c[3]));
}

MT_DEVICE void mt_mma(float* d, const __nv_bfloat16* a, const __nv_bfloat16* b, const float* c) {
  const unsigned int* ra = mt_registers(a);
  const unsigned int* rb = mt_registers(b);
  asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%10, %11, %12, %13};\n"
      : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
      : "r"(ra[0]), "r"(ra[1]), "r"(ra[2]), "r"(ra[3]), "r"(rb[0]), "r"(rb[1]), "f"(c[0]),
        "f"(c[1]), "f"(c[2]), "f"(c[3]));
}

// m16n8k32, s8 inputs, s32 accumulators (wrapping).
MT_DEVICE void mt_mma(int* d, const signed char* a, const signed char* b, const int* c) {
  const unsigned int* ra = mt_registers(a);
  const unsigned int* rb = mt_registers(b);
  asm("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%10, %11, %12, %13};\n"
      : "=r"(d[0]), "=r"(d[1]), "=r"(d[2]), "=r"(d[3])
      : "r"(ra[0]), "r"(ra[1]), "r"(ra[2]), "r"(ra[3]), "r"(rb[0]), "r"(rb[1]), "r"(c[0]),
        "r"(c[1]), "r"(c[2]), "r"(c[3]));
}

// N (1, 2, 4) 8x8 matrices of 16-bit elements from shared memory; this lane's row at `row`.
template <int N, bool Transpose>
MT_DEVICE void mt_load_matrix(void* dst, const void* row) {
  unsigned int* r = reinterpret_cast<unsigned int*>(dst);
  const unsigned int a = mt_shared_address(row);
  if constexpr (N == 1 && !Transpose) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x1.shared.b16 {%0}, [%1];\n" : "=r"(r[0]) : "r"(a));
  } else if constexpr (N == 1) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x1.trans.shared.b16 {%0}, [%1];\n"
                 : "=r"(r[0])
                 : "r"(a));
  } else if constexpr (N == 2 && !Transpose) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0, %1}, [%2];\n"
                 : "=r"(r[0]), "=r"(r[1])
                 : "r"(a));
  } else if constexpr (N == 2) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0, %1}, [%2];\n"
                 : "=r"(r[0]), "=r"(r[1])
                 : "r"(a));
  } else if constexpr (!Transpose) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(a));
  } else {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(a));
  }
}

// Bytes (4, 8, 16) from global to shared memory, asynchronously; zeros when !valid (nothing is
// read then). 16-byte copies bypass L1 (.cg).
template <int Bytes>
MT_DEVICE void mt_copy_async(void* dst, const void* src, bool valid) {
  const unsigned int a = mt_shared_address(dst);
  const int n = valid ? Bytes : 0;
  if constexpr (Bytes == 16) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(a), "l"(src), "r"(n)
                 : "memory");
  } else {
    asm volatile("cp.async.ca.shared.global [%0], [%1], %2, %3;\n" ::"r"(a), "l"(src), "n"(Bytes),
                 "r"(n)
                 : "memory");
  }
}

// N elements src[from ..) -> shared[to ..), through mt_copy_async, zeros when !valid. Checked:
// a source range outside the tensor or misaligned, or a destination outside the array, is
// noted and copies zeros from nowhere instead. Unchecked: the copy itself.
#if MT_CHECKED
template <unsigned int N, class T, class I, class J>
MT_DEVICE void mt_copy_async_indexed(T* shared, J to, unsigned long long shared_count, const T* src,
                                     I from, unsigned long long count, bool valid, mt_fault& fault,
                                     unsigned int site) {
  if (!mt_in_bounds(to, shared_count) || (long long)to % (long long)N != 0 ||
      (unsigned long long)to + N > shared_count) {
    mt_note(fault, mt_error_array, site, (long long)to);
    return;
  }
  const bool ok = valid && mt_vector_ok<N>(from, count, mt_error_load, fault, site);
  mt_copy_async<N * sizeof(T)>(shared + to, ok ? src + from : src, ok);
}
#else
template <unsigned int N, class T, class I, class J>
MT_DEVICE void mt_copy_async_indexed(T* shared, J to, unsigned long long, const T* src, I from,
                                     unsigned long long, bool valid, mt_fault&, unsigned int) {
  mt_copy_async<N * sizeof(T)>(shared + to, valid ? src + from : src, valid);
}
#endif

MT_DEVICE void mt_copy_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }

template <int Pending>
MT_DEVICE void mt_copy_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(Pending) : "memory");
}
