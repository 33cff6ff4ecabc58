"""Checkers for notebook 11 (GPU acceleration: the memory wall and arithmetic intensity).

These exercises return one number; ``core.run_cases`` compares numbers as it compares tensors.
"""

from __future__ import annotations

from collections.abc import Callable

from .core import Case, Hints, Result, checker, run_cases

__all__ = ["score_matrix_bytes", "arithmetic_intensity", "hint"]

NOTEBOOK = "11_gpu_acceleration"  # where these exercises are set; the progress record files them under it

hint = Hints({
    "score_matrix_bytes": [
        "One score per (query, key) pair, for every head of every sequence in the batch.",
        "That is batch · heads · L · S numbers; each takes bytes_per_value bytes.",
    ],
    "arithmetic_intensity": [
        "Intensity = work / traffic: floating-point operations divided by bytes moved to and from memory.",
        "Each of the M·N outputs is a dot product of length K: K multiplications and K additions.",
        "Traffic: read A (M·K values) and B (K·N), write C (M·N), each value bytes_per_value bytes.",
    ],
}).hint


def _units(expected: float) -> dict[str, float]:
    """The answer divided into a larger unit: a correct number in the wrong unit."""
    return {f"that is the answer in {unit}; return it in the unit asked for (bytes, or FLOPs per byte), without "
            f"dividing.": expected / size for unit, size in (("GB", 1e9), ("GiB", 2**30), ("MB", 1e6), ("MiB", 2**20))}


@checker(NOTEBOOK)
def score_matrix_bytes(fn: Callable) -> Result:
    """Check ``fn(batch, heads, L, S, bytes_per_value)`` -> the bytes of one layer's attention scores."""
    cases = []
    for B, H, L, S, nbytes in ((1, 1, 3, 5, 4), (2, 8, 1024, 512, 2), (4, 32, 4096, 4096, 4)):
        expected = B * H * L * S * nbytes
        cases.append(Case(f"arguments {(B, H, L, S, nbytes)}", (B, H, L, S, nbytes), expected, {
            "the heads are missing: every head has its own (L, S) scores.": B * L * S * nbytes,
            "the batch is missing: every sequence in the batch has its own scores.": H * L * S * nbytes,
            "you used L · L: the scores are (L, S), queries by keys, and S may differ from L.": B * H * L * L * nbytes,
            "that is bits, not bytes: bytes_per_value already counts bytes.": B * H * L * S * nbytes * 8,
            "you counted values, not bytes: multiply by bytes_per_value.": B * H * L * S,
        } | _units(expected)))
    return run_cases("score_matrix_bytes", fn, cases, atol=0.0, rtol=1e-9)


@checker(NOTEBOOK)
def arithmetic_intensity(fn: Callable) -> Result:
    """Check ``fn(M, N, K, bytes_per_value)`` -> FLOPs per byte of ``C = A @ B``, A (M, K), B (K, N)."""
    cases = []
    for M, N, K, nbytes in ((2, 3, 4, 4), (4096, 4096, 4096, 2), (8192, 8192, 64, 2), (1, 4096, 4096, 4)):
        flops, values = 2 * M * N * K, M * K + K * N + M * N
        expected = flops / (nbytes * values)
        cases.append(Case(f"arguments {(M, N, K, nbytes)}", (M, N, K, nbytes), expected, {
            "the FLOPs are half what they should be: each of the K steps of a dot product is a multiplication "
            "AND an addition (2·M·N·K).": M * N * K / (nbytes * values),
            "the traffic leaves out writing C: M·N values go back to memory too.": flops / (nbytes * (M * K + K * N)),
            "you counted values, not bytes: multiply the traffic by bytes_per_value.": flops / values,
            "integer division (//) rounded the answer down to a whole number; use /.": flops // (nbytes * values),
        } | _units(expected)))
    return run_cases("arithmetic_intensity", fn, cases, atol=0.0, rtol=1e-9)
