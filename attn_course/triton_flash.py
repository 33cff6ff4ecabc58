"""A FlashAttention forward kernel in Triton (notebook 12).

The same algorithm as :func:`attn_course.flash.flash_attention`, written as one GPU program per
``(query tile, batch·head)``: the program loads its ``BLOCK_M`` queries once, walks over the keys
``BLOCK_N`` at a time with an online softmax kept in registers, and writes its output rows once.
Scores never go to memory. Exponentials are base 2 (``exp(x) = 2^(x·log2 e)``, the cheaper GPU
instruction), with ``log2 e`` folded into the scale.

Triton is imported only when the kernel is first used, so the package works without it. On a
machine without CUDA the kernel runs in Triton's interpreter: set ``TRITON_INTERPRET=1`` in the
environment before anything imports ``triton`` (Triton builds its own library for one mode at
import time). Slow, but the same program, which is how the tests check it on a CPU.
"""

from __future__ import annotations

import math
import os

import torch

from .runtime import check_shape, require_int, require_number

__all__ = ["triton_flash_attention", "triton_available", "interpreting"]

_KERNELS: dict[bool, object] = {}
MAX_HEAD_DIM = 256  # the widest head the kernel tiles: wider (BLOCK_M, D) and (BLOCK_N, D) tiles overflow on-chip memory


def triton_available() -> bool:
    """True when Triton can be imported."""
    try:
        import triton  # noqa: F401
    except ImportError:
        return False
    return True


def interpreting() -> bool:
    """True when ``TRITON_INTERPRET=1``: kernels run in Triton's interpreter, on CPU tensors."""
    return os.environ.get("TRITON_INTERPRET", "0") == "1"


def _kernel():
    """Build the kernel once per mode (compiled or interpreted); Triton is imported here, not at import time."""
    if interpreting() in _KERNELS:
        return _KERNELS[interpreting()]
    import triton
    import triton.language as tl

    @triton.jit
    def flash_forward(Q, K, V, O, sqb, sqh, sqm, sqd, skb, skh, skn, skd, svb, svh, svn, svd, sob, soh, som, sod,
                      H, L, S, qk_scale, IS_CAUSAL: tl.constexpr, HEAD_DIM: tl.constexpr, BLOCK_D: tl.constexpr,
                      BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, PRECISION: tl.constexpr):
        start_m = tl.program_id(0)  # which tile of queries
        bh = tl.program_id(1)  # which (batch, head)
        b, h = bh // H, bh % H
        rows = start_m * BLOCK_M + tl.arange(0, BLOCK_M)  # (BLOCK_M,) query positions
        cols0 = tl.arange(0, BLOCK_N)
        dims = tl.arange(0, BLOCK_D)  # BLOCK_D is D rounded up to a power of two
        d_ok = dims < HEAD_DIM
        q = tl.load(Q + b * sqb + h * sqh + rows[:, None] * sqm + dims[None, :] * sqd,
                    mask=(rows[:, None] < L) & d_ok[None, :], other=0.0)  # (BLOCK_M, BLOCK_D), loaded once
        m_i = tl.full([BLOCK_M], float("-inf"), tl.float32)  # running maximum (base-2 units)
        l_i = tl.zeros([BLOCK_M], tl.float32)  # running sum
        acc = tl.zeros([BLOCK_M, BLOCK_D], tl.float32)  # running weighted sum of values
        end = tl.minimum(S, (start_m + 1) * BLOCK_M) if IS_CAUSAL else S  # causal: skip tiles above the diagonal
        for start_n in range(0, end, BLOCK_N):
            cols = start_n + cols0
            k = tl.load(K + b * skb + h * skh + cols[None, :] * skn + dims[:, None] * skd,
                        mask=(cols[None, :] < S) & d_ok[:, None], other=0.0)  # (BLOCK_D, BLOCK_N): K transposed
            s = tl.dot(q, k, input_precision=PRECISION) * qk_scale  # (BLOCK_M, BLOCK_N) in float32
            keep = cols[None, :] < S
            if IS_CAUSAL:
                keep = keep & (cols[None, :] <= rows[:, None])
            s = tl.where(keep, s, float("-inf"))
            m_new = tl.maximum(m_i, tl.max(s, 1))  # finite: key 0 is in the first tile of every row
            alpha = tl.exp2(m_i - m_new)  # rescale what was summed under the old maximum
            p = tl.exp2(s - m_new[:, None])
            l_i = l_i * alpha + tl.sum(p, 1)
            v = tl.load(V + b * svb + h * svh + cols[:, None] * svn + dims[None, :] * svd,
                        mask=(cols[:, None] < S) & d_ok[None, :], other=0.0)  # (BLOCK_N, BLOCK_D)
            acc = acc * alpha[:, None] + tl.dot(p.to(v.dtype), v, input_precision=PRECISION)
            m_i = m_new
        out = acc / l_i[:, None]
        tl.store(O + b * sob + h * soh + rows[:, None] * som + dims[None, :] * sod, out.to(O.dtype.element_ty),
                 mask=(rows[:, None] < L) & d_ok[None, :])

    _KERNELS[interpreting()] = flash_forward
    return flash_forward


def triton_flash_attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, *, is_causal: bool = False,
                           scale: float | None = None, block_m: int = 64, block_n: int = 64) -> torch.Tensor:
    """FlashAttention forward with a Triton kernel: ``(B, H, L, D)`` queries, ``(B, H, S, D)`` keys and values.

    Args:
        query, key, value: float16 or float32, all the same dtype and device; value as wide as key.
        is_causal: query ``i`` sees keys ``j <= i`` (top-left, as PyTorch's ``is_causal``).
        scale: multiplies the scores (default ``1/sqrt(D)``).
        block_m, block_n: query and key tile sizes (powers of two, at least 16).
        The head width ``D`` may be 1 to ``MAX_HEAD_DIM`` (256, as FlashAttention-2); ``D`` is padded to a power of two.

    Returns:
        ``(B, H, L, D)`` in the inputs' dtype, equal to ``scaled_dot_product_attention`` (float32
        accumulation inside). Needs CUDA, or ``TRITON_INTERPRET=1`` for CPU tensors. Introduced in notebook 12.
    """
    B, H, L, D = check_shape(query, "B H L D", name="query").values()
    S = check_shape(key, "B H S D", name="key", B=B, H=H, D=D)["S"]
    check_shape(value, "B H S D", name="value", B=B, H=H, S=S, D=D)
    if query.dtype not in (torch.float16, torch.float32) or key.dtype != query.dtype or value.dtype != query.dtype:
        raise TypeError(f"query: expected float16 or float32 for query, key and value alike, got "
                        f"{query.dtype}, {key.dtype}, {value.dtype}")
    for name, n in (("block_m", block_m), ("block_n", block_n)):
        if require_int(name, n) < 16 or n & (n - 1):
            raise ValueError(f"{name}: expected a power of two >= 16, got {n}")
    if D > MAX_HEAD_DIM:
        raise ValueError(f"query: expected a head width D of at most {MAX_HEAD_DIM} (a (BLOCK_M, D) query tile and "
                         f"(BLOCK_N, D) key and value tiles must fit on chip), got D={D}")
    if scale is not None:
        require_number("scale", scale)
    if query.device.type != "cuda" and not interpreting():
        raise RuntimeError("query: the Triton kernel needs a CUDA tensor; on the CPU set TRITON_INTERPRET=1 "
                           "before triton is first imported, to run it in Triton's interpreter")
    if not triton_available():
        raise ImportError("triton_flash_attention needs Triton: pip install triton")
    if query.numel() == 0 or S == 0:  # nothing to launch: an empty output, or zeros for queries without keys (as SDPA)
        return torch.zeros_like(query)
    import triton

    kernel = _kernel()
    out = torch.empty_like(query)
    scale = 1 / math.sqrt(D) if scale is None else scale
    grid = (triton.cdiv(L, block_m), B * H)
    kernel[grid](query, key, value, out, *query.stride(), *key.stride(), *value.stride(), *out.stride(),
                 H, L, S, scale * 1.4426950408889634,  # log2(e): exp(x) = exp2(x · log2 e)
                 IS_CAUSAL=is_causal, HEAD_DIM=D, BLOCK_D=max(16, triton.next_power_of_2(D)),
                 BLOCK_M=block_m, BLOCK_N=block_n,
                 PRECISION="ieee" if query.dtype == torch.float32 else "tf32")  # float32 inputs: no TF32 rounding
    return out
