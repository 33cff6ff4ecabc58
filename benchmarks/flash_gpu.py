"""The Triton FlashAttention kernel on a CUDA GPU, against PyTorch's flash backend and naive attention (notebook 12).

float16, batch 4, 32 heads, head width 64 and 128, L = 1024 .. 16384, causal and not. Each time is the
median of ``triton.testing.do_bench`` (warm-up, many repetitions, the GPU synchronised), turned into
TFLOP/s with ``attn_course.bench.attention_flops`` (``4·B·H·L²·D``, halved when causal). Naive attention
(the full score matrix, kept in float32) runs only while its scores fit in a quarter of the GPU's memory.
On a GPU older than Ampere, where PyTorch's flash backend refuses, the SDPA column is PyTorch's default
backend (recorded per row as ``sdpa_backend``). Prints one table and writes it, with the GPU's memory,
to ``benchmarks/results/<gpu-name>.json`` for notebooks 11 and 12 to show.

Run on a machine with CUDA and Triton: ``python benchmarks/flash_gpu.py`` (a few minutes).
"""

from __future__ import annotations

import json
import os
import platform
import re
import sys

import torch
import torch.nn.functional as F

from attn_course.bench import attention_flops, tflops

B, H = 4, 32
LENGTHS = (1024, 2048, 4096, 8192, 16384)


def naive(q, k, v, causal):
    scores = (q @ k.transpose(-2, -1)).float() / q.size(-1) ** 0.5  # (B, H, L, L)
    if causal:
        L = q.size(-2)
        scores.masked_fill_(torch.ones(L, L, dtype=torch.bool, device=q.device).triu(1), float("-inf"))
    return (torch.softmax(scores, dim=-1).to(q.dtype)) @ v


def measure(D: int, causal: bool, L: int, total_bytes: int) -> dict:
    """One row: median milliseconds and TFLOP/s of the three methods (naive only where it fits)."""
    import triton.testing
    from torch.nn.attention import SDPBackend, sdpa_kernel

    from attn_course.triton_flash import triton_flash_attention

    q, k, v = (torch.randn(B, H, L, D, device="cuda", dtype=torch.float16) for _ in range(3))
    flops = attention_flops(B, H, L, L, D, causal)
    out = triton_flash_attention(q, k, v, is_causal=causal)
    backend = "flash"
    try:  # PyTorch's flash kernel needs an Ampere or newer GPU (a T4 or V100 refuses it)
        with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
            ref = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
            ms_sdpa = triton.testing.do_bench(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=causal))
    except RuntimeError:
        backend = "default"  # whichever backend PyTorch picks on this GPU
        ref = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        ms_sdpa = triton.testing.do_bench(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=causal))
    torch.testing.assert_close(out, ref, atol=2e-2, rtol=2e-2)  # float16 outputs of size ~1
    ms_triton = triton.testing.do_bench(lambda: triton_flash_attention(q, k, v, is_causal=causal))
    fits = B * H * L * L * 4 * 2 < total_bytes / 4  # float32 scores and their softmax
    ms_naive = triton.testing.do_bench(lambda: naive(q, k, v, causal)) if fits else None
    return {"D": D, "causal": causal, "L": L, "sdpa_backend": backend, "naive_scores_dtype": "float32",
            "ms_triton": ms_triton, "ms_sdpa_flash": ms_sdpa, "ms_naive": ms_naive,
            "tflops_triton": tflops(flops, ms_triton / 1e3), "tflops_sdpa_flash": tflops(flops, ms_sdpa / 1e3),
            "tflops_naive": tflops(flops, ms_naive / 1e3) if ms_naive else None}


def main() -> None:
    if not torch.cuda.is_available():
        print("flash_gpu.py needs a CUDA GPU; on a CPU run benchmarks/flash_cpu.py instead.")
        sys.exit(0)
    import triton

    name = torch.cuda.get_device_name()
    total_bytes = torch.cuda.mem_get_info()[1]
    print(f"{name}: float16, B={B}, H={H}; TFLOP/s (median of triton.testing.do_bench), torch {torch.__version__}, "
          f"triton {triton.__version__}")
    print(f"{'D':>4} {'causal':>6} {'L':>6} | {'triton':>7} | {'sdpa flash':>10} | {'naive':>7} | {'triton/sdpa':>11}")
    rows = []
    for D in (64, 128):
        for causal in (False, True):
            for L in LENGTHS:
                row = measure(D, causal, L, total_bytes)
                rows.append(row)
                naive_text = f"{row['tflops_naive']:>7.1f}" if row["ms_naive"] else f"{'--':>7}"
                print(f"{D:>4} {causal!s:>6} {L:>6} | {row['tflops_triton']:>7.1f} | {row['tflops_sdpa_flash']:>10.1f} | "
                      f"{naive_text} | {row['ms_sdpa_flash'] / row['ms_triton']:>10.2f}x")
                torch.cuda.empty_cache()
    for D in (64, 128):
        t = {r["causal"]: r["ms_triton"] for r in rows if r["D"] == D and r["L"] == 8192}
        print(f"D={D}: causal speed-up over non-causal at L=8192: {t[False] / t[True]:.2f}x")
    folder = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower() + ".json")
    with open(path, "w") as f:
        record = {"gpu": name, "memory_bytes": total_bytes, "torch": torch.__version__, "triton": triton.__version__,
                  "python": platform.python_version(), "batch": B, "heads": H, "dtype": "float16", "rows": rows}
        json.dump(record, f, indent=1)
    print(f"wrote {os.path.relpath(path)}")


if __name__ == "__main__":
    main()
