import pytest
import torch

from attn_course import causal_mask, padding_mask
from attn_course.masks import block_sparse_mask, dilated_window_mask, sliding_window_mask, with_global_tokens


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


def test_sliding_window_mask_against_a_loop():
    for L, window, causal in ((7, 0, False), (7, 2, False), (7, 2, True), (5, 9, True), (1, 0, False)):
        mask = sliding_window_mask(L, window, causal=causal)
        want = torch.tensor([[abs(i - j) <= window and (j <= i or not causal) for j in range(L)] for i in range(L)])
        assert torch.equal(mask, want)
    with pytest.raises(TypeError, match="window: expected an int"):
        sliding_window_mask(5, 1.5)


def test_dilated_window_mask():
    mask = dilated_window_mask(9, 2, 3)
    assert mask[4].nonzero().flatten().tolist() == [1, 4, 7]  # 4 ± 3k, |k| <= 2, inside 0..8
    assert mask[0].nonzero().flatten().tolist() == [0, 3, 6]
    assert torch.equal(dilated_window_mask(9, 2, 1), sliding_window_mask(9, 2))
    assert dilated_window_mask(9, 2, 3, causal=True)[8].nonzero().flatten().tolist() == [2, 5, 8]
    with pytest.raises(ValueError, match="dilation: expected an int >= 1, got 0"):
        dilated_window_mask(9, 2, 0)


def test_with_global_tokens():
    base = sliding_window_mask(6, 1)
    mask = with_global_tokens(base, [0, 4])
    assert mask[[0, 4]].all() and mask[:, [0, 4]].all()
    assert torch.equal(mask[1:4, 1:4], base[1:4, 1:4]) and not mask[2, 5]
    causal = with_global_tokens(sliding_window_mask(6, 1, causal=True), [0], causal=True)
    assert causal[:, 0].all() and not causal[0, 1:].any() and not causal.triu(1).any()
    with pytest.raises(ValueError, match=r"positions: expected positions in 0..5, got \[6\]"):
        with_global_tokens(base, [6])
    with pytest.raises(ValueError, match="mask: expected a square boolean"):
        with_global_tokens(base.float(), [0])


def test_block_sparse_mask():
    mask = block_sparse_mask(20, 4, window_blocks=1, global_blocks=1, random_blocks=1, seed=3)
    assert mask.shape == (20, 20)
    assert mask[:4].all() and mask[:, :4].all()  # the first block is global
    blocks = mask[::4, ::4]  # one entry per block pair: the pattern is constant inside blocks
    assert torch.equal(mask, blocks.repeat_interleave(4, 0).repeat_interleave(4, 1))
    assert all(blocks[i, max(0, i - 1):i + 2].all() for i in range(5))  # each block sees its neighbours
    assert torch.equal(mask, block_sparse_mask(20, 4, seed=3))
    assert block_sparse_mask(18, 4).shape == (18, 18)  # a shorter last block
