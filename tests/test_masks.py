import pytest
import torch

from attn_course import causal_mask, padding_mask


@pytest.mark.parametrize("L, S", [(1, 1), (4, 4), (3, 6), (6, 3), (5, None)])
def test_causal_mask_is_top_left_and_matches_torch_is_causal(L, S):
    mask = causal_mask(L, S)
    S = L if S is None else S
    assert mask.shape == (L, S) and mask.dtype == torch.bool
    for i in range(L):
        for j in range(S):
            assert bool(mask[i, j]) == (j <= i)
    q, k, v = torch.randn(2, L, 4), torch.randn(2, S, 4), torch.randn(2, S, 3)
    f = torch.nn.functional.scaled_dot_product_attention
    torch.testing.assert_close(f(q, k, v, attn_mask=mask), f(q, k, v, is_causal=True))


@pytest.mark.parametrize("L, S", [(3, 6), (4, 4), (1, 5), (5, 3)])
def test_bottom_right_causal_mask_matches_pytorch_causal_lower_right(L, S):
    from torch.nn.attention.bias import causal_lower_right

    mask = causal_mask(L, S, align="bottom-right")
    for i in range(L):
        for j in range(S):
            assert bool(mask[i, j]) == (j <= i + S - L)
    q, k, v = torch.randn(2, L, 4), torch.randn(2, S, 4), torch.randn(2, S, 3)
    if S >= L:  # PyTorch's version leaves rows with no key to NaN-free zeros only when S >= L
        f = torch.nn.functional.scaled_dot_product_attention
        torch.testing.assert_close(f(q, k, v, attn_mask=mask), f(q, k, v, attn_mask=causal_lower_right(L, S)))
    with pytest.raises(ValueError, match="align: expected 'top-left' or 'bottom-right', got 'left'"):
        causal_mask(L, S, align="left")


@pytest.mark.parametrize("bad, error", [(-1, ValueError), (2.0, TypeError), (True, TypeError)])
def test_causal_mask_bad_sizes(bad, error):
    with pytest.raises(error, match="L: expected an int >= 0"):
        causal_mask(bad)


def test_padding_mask_marks_real_tokens():
    mask = padding_mask([3, 1, 0], max_len=4)
    want = torch.tensor([[1, 1, 1, 0], [1, 0, 0, 0], [0, 0, 0, 0]], dtype=torch.bool)
    assert torch.equal(mask, want)
    assert torch.equal(padding_mask(torch.tensor([2, 4])), torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1]], dtype=torch.bool))
    assert padding_mask([]).shape == (0, 0)


def test_padding_mask_broadcasts_over_queries_and_heads():
    mask = padding_mask([2, 3], max_len=3)  # (B, S)
    q, k, v = torch.randn(2, 4, 5, 8), torch.randn(2, 4, 3, 8), torch.randn(2, 4, 3, 8)  # (B, H, L|S, D)
    f = torch.nn.functional.scaled_dot_product_attention
    out = f(q, k, v, attn_mask=mask[:, None, None, :])  # (B, 1, 1, S) -> (B, H, L, S)
    # the padded key of sequence 0 does not matter
    k2, v2 = k.clone(), v.clone()
    k2[0, :, 2], v2[0, :, 2] = 100.0, -100.0
    torch.testing.assert_close(f(q, k2, v2, attn_mask=mask[:, None, None, :]), out)


@pytest.mark.parametrize(
    "lengths, max_len, error, message",
    [
        ([3, 5], 4, ValueError, "max_len: expected at least the longest length 5, got 4"),
        ([1.5], None, TypeError, "lengths: expected a sequence of ints"),
        (torch.tensor([1.0]), None, TypeError, "lengths: expected an integer tensor"),
        (torch.tensor([[1, 2]]), None, ValueError, r"lengths: expected shape \(B,\), got \(1, 2\)"),
        ([-1, 2], None, ValueError, "lengths: expected non-negative lengths"),
    ],
)
def test_padding_mask_bad_input(lengths, max_len, error, message):
    with pytest.raises(error, match=message):
        padding_mask(lengths, max_len)
