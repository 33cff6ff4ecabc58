"""The Triton kernel, on a GPU when there is one, else in Triton's interpreter on the CPU (small sizes)."""

import builtins
import importlib

import pytest
import torch
import torch.nn.functional as F

pytest.importorskip("triton")

from attn_course import triton_flash  # noqa: E402
from attn_course.triton_flash import triton_flash_attention  # noqa: E402

CUDA = torch.cuda.is_available()


@pytest.fixture
def where():
    """The device to test on: CUDA, or the CPU through the interpreter (conftest sets TRITON_INTERPRET=1)."""
    return "cuda" if CUDA else "cpu"


CASES = [  # (L, S, D): L != S, L = 1, odd lengths, head widths 16/32/64 and one not a power of two
    (37, 37, 16), (1, 20, 32), (20, 1, 64), (50, 33, 32), (33, 50, 16), (16, 16, 64), (9, 12, 24),
]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("L, S, D", CASES)
def test_kernel_equals_sdpa(where, dtype, causal, L, S, D):
    torch.manual_seed(L + S + D)
    q, k, v = (torch.randn(2, 2, n, D, dtype=dtype, device=where) for n in (L, S, S))
    got = triton_flash_attention(q, k, v, is_causal=causal, block_m=16, block_n=16)
    want = F.scaled_dot_product_attention(q.float(), k.float(), v.float(), is_causal=causal)
    assert got.dtype == dtype and got.shape == (2, 2, L, D)
    # float32: tile sums in another order, ~1e-6. float16: inputs and p rounded to 11 bits, outputs of size ~1: ~1e-3
    tol = 2e-5 if dtype == torch.float32 else 3e-3
    torch.testing.assert_close(got.float(), want, atol=tol, rtol=tol)


def test_non_contiguous_inputs_and_other_tiles(where):
    torch.manual_seed(1)
    x = torch.randn(2, 40, 3, 32, device=where)  # (B, L, H, D): transposed views have unusual strides
    q = k = v = x.transpose(1, 2)
    got = triton_flash_attention(q, k, v, is_causal=True, block_m=32, block_n=16)
    torch.testing.assert_close(got, F.scaled_dot_product_attention(q, k, v, is_causal=True), atol=2e-5, rtol=2e-5)


def test_bad_input(monkeypatch):
    q = torch.randn(1, 2, 8, 16)
    with pytest.raises(ValueError, match=r"key: expected shape \(B=1, H=2, S, D=16\)"):
        triton_flash_attention(q, torch.randn(1, 2, 8, 8), q)
    with pytest.raises(TypeError, match="expected float16 or float32"):
        triton_flash_attention(q.double(), q.double(), q.double())
    with pytest.raises(ValueError, match="block_m: expected a power of two >= 16, got 24"):
        triton_flash_attention(q, q, q, block_m=24)
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    if not CUDA:
        with pytest.raises(RuntimeError, match="set TRITON_INTERPRET=1"):
            triton_flash_attention(q, q, q)


@pytest.mark.gpu
@pytest.mark.skipif(not CUDA, reason="needs a CUDA GPU")
def test_large_causal_float16_on_gpu():
    torch.manual_seed(2)
    q, k, v = (torch.randn(2, 8, 1000, 64, dtype=torch.float16, device="cuda") for _ in range(3))
    want = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    torch.testing.assert_close(triton_flash_attention(q, k, v, is_causal=True), want, atol=3e-3, rtol=3e-3)


def test_package_works_without_triton(monkeypatch):
    real_import = builtins.__import__

    def no_triton(name, *args, **kwargs):
        if name == "triton" or name.startswith("triton."):
            raise ImportError("No module named 'triton'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_triton)
    monkeypatch.setattr(triton_flash, "_KERNELS", {})
    module = importlib.reload(triton_flash)
    assert not module.triton_available()
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    with pytest.raises(ImportError, match="pip install triton"):
        module.triton_flash_attention(*(torch.randn(1, 1, 4, 16) for _ in range(3)))
    monkeypatch.undo()
    importlib.reload(triton_flash)
