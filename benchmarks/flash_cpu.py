"""FlashAttention in PyTorch on one CPU thread, against PyTorch's SDPA and naive attention (notebook 12).

For L = 512 .. 8192 (float32, batch 1, 8 heads, head width 64) it times
- ``flash``: :func:`attn_course.flash.flash_attention` (block 256), non-causal and causal;
- ``sdpa``: ``torch.nn.functional.scaled_dot_product_attention`` (PyTorch's fused CPU kernel);
- ``naive``: ``softmax(Q Kᵀ / √D) V`` with the full ``(L, L)`` score matrix in memory;
and prints one table: the ratios flash/SDPA (lower is better, 1.0 = as fast as PyTorch's C++ kernel),
naive/flash (higher is better), flash's causal speed-up over its own non-causal run, and each
method's peak extra memory (non-causal), measured in a fresh process per method and length as the
rise of peak resident memory during one call (``attn_course.bench.peak_memory_mb``).

Run: ``python benchmarks/flash_cpu.py`` (about two minutes); ``--quick`` for L = 512, 1024 only.
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

from attn_course.bench import best_time, in_fresh_process, peak_memory_mb
from attn_course.flash import flash_attention

B, H, D = 1, 8, 64


def inputs(L: int) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(L)
    return tuple(torch.randn(B, H, L, D, generator=g) for _ in range(3))


def naive(q, k, v, is_causal=False):
    scores = q @ k.transpose(-2, -1) / D**0.5  # (B, H, L, L): the whole matrix at once
    if is_causal:
        scores = scores.masked_fill(torch.ones(q.size(-2), k.size(-2), dtype=torch.bool).triu(1), float("-inf"))
    return torch.softmax(scores, dim=-1) @ v


METHODS = {
    "flash": lambda q, k, v, c=False: flash_attention(q, k, v, is_causal=c),
    "sdpa": lambda q, k, v, c=False: F.scaled_dot_product_attention(q, k, v, is_causal=c),
    "naive": naive,
}


def memory_of(method: str, L: int) -> float:
    """Meant for a fresh process: the rise of peak resident memory during one non-causal call, in MB."""
    METHODS[method](*inputs(256))  # one-time set-up is not the method's memory
    q, k, v = inputs(L)
    return peak_memory_mb(lambda: METHODS[method](q, k, v))


def time_of(method: str, q, k, v, causal: bool, repeats: int) -> float:
    return best_time(lambda: METHODS[method](q, k, v, causal), repeats=repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small lengths only, to check the script runs")
    args = parser.parse_args()
    torch.set_num_threads(1)
    lengths = (512, 1024) if args.quick else (512, 1024, 2048, 4096, 8192)
    print(f"attention on the CPU: float32, B={B}, H={H}, D={D}, 1 thread, torch {torch.__version__}; times in s")
    print(f"{'L':>5} | {'flash':>7} | {'sdpa':>7} | {'naive':>7} | {'flash/sdpa':>10} | {'naive/flash':>11} | "
          f"{'causal: flash':>13} | {'sdpa':>7} | {'flash/sdpa':>10} | {'speed-up':>8} | "
          f"{'MB flash':>8} | {'MB sdpa':>7} | {'MB naive':>8}")
    for L in lengths:
        q, k, v = inputs(L)
        repeats = 2 if L >= 8192 else 3
        t = {m: time_of(m, q, k, v, False, repeats) for m in METHODS}
        tc = {m: time_of(m, q, k, v, True, repeats) for m in ("flash", "sdpa")}
        mem = {m: in_fresh_process(__file__, "memory_of", m, L) for m in METHODS}
        print(f"{L:>5} | {t['flash']:>7.3f} | {t['sdpa']:>7.3f} | {t['naive']:>7.3f} | {t['flash'] / t['sdpa']:>9.2f}x | "
              f"{t['naive'] / t['flash']:>10.2f}x | {tc['flash']:>13.3f} | {tc['sdpa']:>7.3f} | "
              f"{tc['flash'] / tc['sdpa']:>9.2f}x | {t['flash'] / tc['flash']:>7.2f}x | "
              f"{mem['flash']:>8.1f} | {mem['sdpa']:>7.1f} | {mem['naive']:>8.1f}")


if __name__ == "__main__":
    main()
