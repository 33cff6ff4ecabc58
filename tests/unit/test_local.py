import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from attn_course.attention import scaled_dot_product_attention
from attn_course.local import local_global_attention, sliding_window_attention
from attn_course.masks import sliding_window_mask, with_global_tokens


def dense(q, k, v, mask):
    """The reference: float64 attention over all L² scores with the mask, via PyTorch's own SDPA."""
    return torch.nn.functional.scaled_dot_product_attention(q.double(), k.double(), v.double(), attn_mask=mask)


@pytest.mark.parametrize("use_sdpa", [True, False])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("window", [0, 1, 7, 50, 10_000])  # 50 >= L: the band is everything
@pytest.mark.parametrize("L, block_size", [(50, None), (50, 16), (37, 8), (1, None), (64, 64), (200, None)])
def test_band_equals_dense_masked_attention(use_sdpa, causal, window, L, block_size):
    torch.manual_seed(L + window)
    q, k, v = torch.randn(2, 3, L, 8), torch.randn(2, 3, L, 8), torch.randn(2, 3, L, 5)
    got = sliding_window_attention(q, k, v, window, causal=causal, block_size=block_size, use_sdpa=use_sdpa)
    want = dense(q, k, v, sliding_window_mask(L, window, causal=causal))
    # float32 against a float64 reference: rounding of D-term sums, about 1e-6
    torch.testing.assert_close(got.double(), want, atol=1e-5, rtol=1e-5)


def test_band_float64_matches_the_course_attention_to_1e12():
    torch.manual_seed(1)
    q, k, v = (torch.randn(3, 41, 6, dtype=torch.float64) for _ in range(3))
    for window, causal in ((3, False), (5, True)):
        want = scaled_dot_product_attention(q, k, v, attn_mask=sliding_window_mask(41, window, causal=causal))
        for use_sdpa in (True, False):
            got = sliding_window_attention(q, k, v, window, causal=causal, block_size=6, use_sdpa=use_sdpa)
            torch.testing.assert_close(got, want, atol=1e-12, rtol=1e-12)


@given(L=st.integers(1, 40), window=st.integers(0, 45), block=st.integers(1, 45), causal=st.booleans(),
       use_sdpa=st.booleans())
def test_any_block_size_gives_the_same_result(L, window, block, causal, use_sdpa):
    torch.manual_seed(0)
    q, k, v = (torch.randn(1, L, 4, dtype=torch.float64) for _ in range(3))
    want = scaled_dot_product_attention(q, k, v, attn_mask=sliding_window_mask(L, window, causal=causal))
    got = sliding_window_attention(q, k, v, window, causal=causal, block_size=block, use_sdpa=use_sdpa)
    torch.testing.assert_close(got, want, atol=1e-12, rtol=1e-12)


@pytest.mark.parametrize("use_sdpa", [True, False])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("window, positions", [(0, [0]), (1, [0, 20]), (7, [3, 4, 44]), (100, [10]), (2, [])])
@pytest.mark.parametrize("L, block_size", [(45, None), (45, 8), (30, 7), (150, None)])
def test_local_global_equals_dense_masked_attention(use_sdpa, causal, window, positions, L, block_size):
    torch.manual_seed(window + L)
    positions = [p for p in positions if p < L]
    q, k, v = torch.randn(2, 2, L, 8), torch.randn(2, 2, L, 8), torch.randn(2, 2, L, 3)
    got = local_global_attention(q, k, v, window, positions, causal=causal, block_size=block_size, use_sdpa=use_sdpa)
    mask = with_global_tokens(sliding_window_mask(L, window, causal=causal), positions, causal=causal)
    torch.testing.assert_close(got.double(), dense(q, k, v, mask), atol=1e-5, rtol=1e-5)


def test_gradients_match_dense():
    torch.manual_seed(2)
    q, k, v = (torch.randn(2, 19, 4, dtype=torch.float64, requires_grad=True) for _ in range(3))
    mask = sliding_window_mask(19, 3, causal=True)
    want = torch.autograd.grad(scaled_dot_product_attention(q, k, v, attn_mask=mask).square().sum(), (q, k, v))
    for use_sdpa in (True, False):
        out = sliding_window_attention(q, k, v, 3, causal=True, block_size=5, use_sdpa=use_sdpa)
        for got, ref in zip(torch.autograd.grad(out.square().sum(), (q, k, v)), want):
            torch.testing.assert_close(got, ref, atol=1e-12, rtol=1e-10)


def test_bad_input():
    q = torch.randn(2, 10, 4)
    with pytest.raises(ValueError, match=r"key: expected shape \(\.\.\., L=10, D=4\), got \(2, 9, 4\)"):
        sliding_window_attention(q, torch.randn(2, 9, 4), q, 2)
    with pytest.raises(TypeError, match="window: expected an int >= 0, got float 2.0"):
        sliding_window_attention(q, q, q, 2.0)
    with pytest.raises(ValueError, match="window: expected an int >= 0, got -1"):
        sliding_window_attention(q, q, q, -1)
    with pytest.raises(TypeError, match="query: expected a floating-point dtype"):
        sliding_window_attention(q.long(), q, q, 1)
    with pytest.raises(ValueError, match=r"global_positions: expected positions in 0..9, got \[3, 10\]"):
        local_global_attention(q, q, q, 1, [3, 10])
