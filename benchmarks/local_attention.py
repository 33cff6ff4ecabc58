"""Local attention measured: the band implementation against dense attention, on one CPU thread (notebook 10).

For L in 4096, 8192 and 16384 (float32, batch 1, 8 heads, head width 64, causal, window 256) it times
- ``band``: :func:`attn_course.local.sliding_window_attention`, which computes only the band;
- ``dense+mask``: PyTorch's ``scaled_dot_product_attention`` with the dense ``(L, L)`` band mask
  (the mask is built before the clock starts);
- ``causal``: PyTorch's SDPA with ``is_causal=True``, full causal attention, no window (for scale),
and prints one table with the ratios and each method's peak extra memory. Memory is measured in a
fresh process per method and length, as the rise of the process's peak resident memory (Linux
``VmHWM``, reset before the call) over what it held with the inputs in place; for ``dense+mask`` it
includes building the mask, which that method needs. On the CPU, PyTorch turns the boolean mask into
a float ``(L, L)`` mask and runs its fused kernel over every tile, so dense+mask memory is that copy
(and the boolean mask), not stored scores; its time is the full ``L²`` work.

Run: ``python benchmarks/local_attention.py`` (a minute or two on a 2-core CPU). ``--quick`` runs L = 1024, 2048
only, to check that the script works.
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

from attn_course.bench import best_time, in_fresh_process, peak_memory_mb
from attn_course.local import sliding_window_attention
from attn_course.masks import sliding_window_mask

B, H, D, WINDOW = 1, 8, 64, 256
METHODS = ("band", "dense+mask", "causal")


def inputs(L: int) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(L)
    return tuple(torch.randn(B, H, L, D, generator=g) for _ in range(3))


def run(method: str, q, k, v, mask=None) -> torch.Tensor:
    L = q.size(-2)
    if method == "band":
        return sliding_window_attention(q, k, v, WINDOW, causal=True)
    if method == "dense+mask":
        mask = sliding_window_mask(L, WINDOW, causal=True) if mask is None else mask
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    return F.scaled_dot_product_attention(q, k, v, is_causal=True)


def time_method(method: str, L: int, repeats: int) -> float:
    q, k, v = inputs(L)
    mask = sliding_window_mask(L, WINDOW, causal=True) if method == "dense+mask" else None  # built off the clock
    return best_time(lambda: run(method, q, k, v, mask), repeats=repeats)


def memory_of(method: str, L: int) -> float:
    """Meant for a fresh process: the rise of peak resident memory during one call, in MB."""
    run(method, *inputs(2 * WINDOW))  # one-time set-up (kernels, thread pools) is not the method's memory
    q, k, v = inputs(L)
    return peak_memory_mb(lambda: run(method, q, k, v))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small lengths only, to check the script runs")
    args = parser.parse_args()
    torch.set_num_threads(1)
    lengths = (1024, 2048) if args.quick else (4096, 8192, 16384)
    print(f"causal local attention, window {WINDOW}: float32, B={B}, H={H}, D={D}, 1 thread, torch {torch.__version__}")
    print(f"{'L':>6} | {'band s':>8} | {'dense+mask s':>12} | {'causal s':>8} | {'dense/band':>10} | {'causal/band':>11}"
          f" | {'band MB':>8} | {'dense MB':>8} | {'causal MB':>9}")
    band_times = {}
    for L in lengths:
        t = {m: time_method(m, L, repeats=3 if L <= 8192 or m != "dense+mask" else 2) for m in METHODS}
        mem = {m: in_fresh_process(__file__, "memory_of", m, L) for m in METHODS}
        band_times[L] = t["band"]
        print(f"{L:>6} | {t['band']:>8.3f} | {t['dense+mask']:>12.3f} | {t['causal']:>8.3f} | "
              f"{t['dense+mask'] / t['band']:>9.1f}x | {t['causal'] / t['band']:>10.1f}x | "
              f"{mem['band']:>8.1f} | {mem['dense+mask']:>8.1f} | {mem['causal']:>9.1f}")
    first, last = lengths[-2], lengths[-1]
    print(f"band time, L={last} over L={first}: {band_times[last] / band_times[first]:.2f} (linear: 2.00)")


if __name__ == "__main__":
    main()
