"""PyTorch version of the dense GEMM (docs/kernels/gemm.md): torch.matmul(a, b.T), which calls
cuBLAS (the tensor-core GEMM a PyTorch user gets), at the same shapes and dtype."""
import torch


def gemm(case):
    m, n, k = case.scalar("m"), case.scalar("n"), case.scalar("k")
    a, b = case.tensor("a", (m, k)), case.tensor("b", (n, k))
    return {"cuBLAS (torch.matmul)": lambda: torch.matmul(a, b.T)}


REFERENCES = {
    name: gemm
    for name in ("gemm", "gemm_128x128_s3", "gemm_128x128_s4", "gemm_128x128_w8",
                 "gemm_128x256_s3", "gemm_128x128_s3_u", "gemm_128x256_s3_u",
                 "gemm_wgmma_128x128", "gemm_wgmma_128x256", "gemm_wgmma_tma_128x128",
                 "gemm_wgmma_tma_128x256", "gemm_64x64_s2")
}
