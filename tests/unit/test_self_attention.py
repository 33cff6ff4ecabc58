import math

import pytest
import torch

from attn_course import causal_mask
from attn_course.self_attention import CausalSelfAttention, SelfAttention, SelfAttentionLoops


def build(cls, E=6, D=4, bias=True, seed=0):
    torch.manual_seed(seed)
    return cls(E, D, bias=bias).double()


@pytest.mark.parametrize("bias", [False, True])
def test_each_version_equals_the_next_on_the_same_weights(bias):
    loops = build(SelfAttentionLoops, bias=bias)
    matrix, causal = SelfAttention(6, 4, bias=bias).double(), CausalSelfAttention(6, 4, bias=bias).double()
    matrix.load_state_dict(loops.state_dict())
    causal.load_state_dict(loops.state_dict())
    x = torch.randn(2, 5, 6, dtype=torch.float64)
    for a, b in zip(loops(x), matrix(x)):
        torch.testing.assert_close(a, b)
    mask = causal_mask(5)
    for a, b, c in zip(loops(x, mask), matrix(x, mask), causal(x)):
        torch.testing.assert_close(a, b)
        torch.testing.assert_close(b, c)


def test_matches_a_direct_formula_scaled_by_the_head_width():
    attn = build(SelfAttention, E=8, D=3, bias=False)
    x = torch.randn(2, 4, 8, dtype=torch.float64)
    q, k, v = x @ attn.W_q.weight.T, x @ attn.W_k.weight.T, x @ attn.W_v.weight.T
    want = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(3), -1) @ v
    torch.testing.assert_close(attn(x)[0], want)


def test_causal_outputs_ignore_the_future_and_combine_with_padding():
    attn = build(CausalSelfAttention)
    x = torch.randn(1, 6, 6, dtype=torch.float64)
    y = x.clone()
    y[:, 3:] = torch.randn(1, 3, 6, dtype=torch.float64)
    torch.testing.assert_close(attn(y)[0][:, :3], attn(x)[0][:, :3])
    keep = torch.ones(6, 6, dtype=torch.bool)
    keep[:, 4:] = False  # keys 4 and 5 are padding
    _, weights = attn(x, keep)
    assert torch.equal(weights[0, :, 4:], torch.zeros(6, 2, dtype=torch.float64))
    assert torch.equal(weights[0].triu(1), torch.zeros(6, 6, dtype=torch.float64))


def test_bad_input():
    attn = build(SelfAttention)
    with pytest.raises(ValueError, match=r"x: expected shape \(B, L, E=6\)"):
        attn(torch.randn(2, 5, 7, dtype=torch.float64))
    with pytest.raises(TypeError, match="attn_mask: expected a boolean tensor"):
        attn(torch.randn(1, 3, 6, dtype=torch.float64), torch.ones(3, 3))
    with pytest.raises(ValueError, match=r"attn_mask: expected shape \(L=3, S=3\)"):
        attn(torch.randn(1, 3, 6, dtype=torch.float64), torch.ones(3, 4, dtype=torch.bool))
