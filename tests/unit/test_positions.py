import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from attn_course import scaled_dot_product_attention
from attn_course.masks import causal_mask
from attn_course.positions import (
    RelativePositionBias,
    alibi_bias,
    alibi_slopes,
    apply_rotary,
    relative_position_bucket,
    rotary_angles,
    sinusoidal_positions,
)


@pytest.mark.parametrize("L, E", [(1, 2), (7, 8), (5, 9), (50, 16)])
def test_sinusoidal_matches_the_paper_formula(L, E):
    pe = sinusoidal_positions(L, E)
    assert pe.shape == (L, E) and pe.dtype == torch.float32
    for p in range(L):
        for i in range(E):
            angle = p / 10_000 ** (2 * (i // 2) / E)
            assert math.isclose(float(pe[p, i]), math.sin(angle) if i % 2 == 0 else math.cos(angle), abs_tol=1e-6)


def test_sinusoidal_dot_products_depend_only_on_the_offset():
    pe = sinusoidal_positions(40, 32).double()
    for k in (1, 3, 7):
        dots = (pe[:-k] * pe[k:]).sum(-1)  # PE[p] · PE[p + k] for every p
        torch.testing.assert_close(dots, dots[0].expand_as(dots), atol=1e-5, rtol=1e-5)


def test_self_attention_without_positions_is_permutation_equivariant_and_with_them_is_not():
    torch.manual_seed(0)
    x, perm = torch.randn(6, 8), torch.randperm(6)
    out = scaled_dot_product_attention(x, x, x)
    torch.testing.assert_close(scaled_dot_product_attention(x[perm], x[perm], x[perm]), out[perm])
    y = x + sinusoidal_positions(6, 8)
    y_perm = x[perm] + sinusoidal_positions(6, 8)  # the words move, the positions stay
    assert not torch.allclose(scaled_dot_product_attention(y_perm, y_perm, y_perm),
                              scaled_dot_product_attention(y, y, y)[perm], atol=1e-4)


@given(m=st.integers(0, 200), n=st.integers(0, 200), shift=st.integers(-50, 50), seed=st.integers(0, 1000))
def test_rotary_score_depends_only_on_the_offset(m, n, shift, seed):
    g = torch.Generator().manual_seed(seed)
    q, k = torch.randn(1, 8, generator=g, dtype=torch.float64), torch.randn(1, 8, generator=g, dtype=torch.float64)
    shift = max(shift, -min(m, n))

    def score(a, b):
        return (apply_rotary(q, torch.tensor([a])) @ apply_rotary(k, torch.tensor([b])).T).item()

    assert math.isclose(score(m, n), score(m + shift, n + shift), rel_tol=1e-9, abs_tol=1e-9)


def test_rotary_keeps_lengths_and_position_zero_is_identity():
    x = torch.randn(2, 3, 5, 6)
    rotated = apply_rotary(x)
    torch.testing.assert_close(rotated.norm(dim=-1), x.norm(dim=-1))
    torch.testing.assert_close(rotated[..., 0, :], x[..., 0, :])
    # pair i of position p is turned by p * 10000^(-2i/D): check one pair by hand
    p, i, D = 2, 1, 6
    angle = p * 10_000 ** (-2 * i / D)
    a, b = x[0, 0, p, i], x[0, 0, p, i + D // 2]
    torch.testing.assert_close(rotated[0, 0, p, i], a * math.cos(angle) - b * math.sin(angle))
    torch.testing.assert_close(rotary_angles(torch.arange(3), 6)[2, 1].item(), angle)


def test_bad_input():
    with pytest.raises(ValueError, match="D must be even"):
        apply_rotary(torch.randn(3, 5))
    with pytest.raises(ValueError, match=r"positions: expected shape \(L,\) = \(3,\), got \(4,\)"):
        apply_rotary(torch.randn(3, 4), torch.arange(4))
    with pytest.raises(TypeError, match="x: expected a floating-point dtype"):
        apply_rotary(torch.ones(3, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="E: expected an int >= 1, got 0"):
        sinusoidal_positions(3, 0)
    with pytest.raises(TypeError, match="L: expected an int >= 0, got float 3.0"):
        sinusoidal_positions(3.0, 4)


# --- ALiBi (Press, Smith & Lewis 2022, arXiv:2108.12409) ---


def reference_slopes(H):
    """The reference code's rule (ofirpress/attention_with_linear_biases), written recursively as there."""
    def power_of_two(n):
        start = 2 ** (-(2 ** -(math.log2(n) - 3)))  # = 2^(-8/n)
        return [start * start**i for i in range(n)]

    if math.log2(H).is_integer():
        return power_of_two(H)
    closest = 2 ** math.floor(math.log2(H))
    return power_of_two(closest) + reference_slopes(2 * closest)[0::2][: H - closest]


def test_alibi_slopes_for_eight_heads_are_the_papers():
    assert alibi_slopes(8).tolist() == [1 / 2**h for h in range(1, 9)]  # powers of two: exact in float32
    torch.testing.assert_close(alibi_slopes(16).double(), 2 ** (-torch.arange(1, 17, dtype=torch.float64) / 2),
                               atol=1e-7, rtol=1e-7)  # 2^(-h/2): float32's rounding


@pytest.mark.parametrize("H", [1, 2, 3, 5, 6, 7, 12, 20, 24])
def test_alibi_slopes_follow_the_reference_rule_for_any_number_of_heads(H):
    # float32 against float64: the slopes are at most 1, so 1e-7 is float32's rounding
    torch.testing.assert_close(alibi_slopes(H).double(), torch.tensor(reference_slopes(H), dtype=torch.float64),
                               atol=1e-7, rtol=1e-7)


def test_alibi_slopes_for_six_heads_interleave():
    # the four of H = 4, then every other slope of H = 8: 1/2 and 1/8, which fall between them
    assert alibi_slopes(6).tolist() == [1 / 4, 1 / 16, 1 / 64, 1 / 256, 1 / 2, 1 / 8]


@given(H=st.integers(1, 9), L=st.integers(0, 7), S=st.integers(0, 9), causal=st.booleans(),
       align=st.sampled_from(["top-left", "bottom-right"]))
def test_alibi_bias_is_minus_slope_times_distance(H, L, S, causal, align):
    bias = alibi_bias(H, L, S, causal=causal, align=align)
    assert bias.shape == (H, L, S) and bias.dtype == torch.float32
    slopes = reference_slopes(H)
    first = 0 if align == "top-left" else S - L  # query i sits at position first + i
    for h in range(H):
        for i in range(L):
            for j in range(S):
                want = -math.inf if causal and j > first + i else -slopes[h] * abs(first + i - j)
                assert math.isclose(bias[h, i, j].item(), want, rel_tol=1e-6), (h, i, j)


def test_alibi_bias_bottom_right_puts_the_last_query_at_the_last_key():
    H, L, S = 4, 3, 7  # decoding with a cache: 3 new queries at positions 4, 5, 6 of 7 keys
    bias = alibi_bias(H, L, S, causal=True, align="bottom-right")
    slopes = torch.tensor(reference_slopes(H), dtype=torch.float64)
    want = torch.full((H, L, S), -math.inf, dtype=torch.float64)
    for i in range(L):
        for j in range(S - L + i + 1):
            want[:, i, j] = -slopes * (S - L + i - j)
    torch.testing.assert_close(bias.double(), want, atol=1e-7, rtol=1e-6)  # float32 slopes against float64
    assert (bias[:, -1] > -math.inf).all() and (bias[:, -1, -1] == 0).all()  # the last query sees every key
    # the same as the last L rows of the full square bias, as a cache needs; and as causal_mask's alignment
    torch.testing.assert_close(bias, alibi_bias(H, S, causal=True)[:, S - L:])
    assert torch.equal(bias[0] > -math.inf, causal_mask(L, S, align="bottom-right"))


def test_alibi_bias_as_a_float_mask_gives_the_causal_softmax_of_the_papers_bias():
    torch.manual_seed(0)
    H, L, D = 4, 6, 8
    q, k, v = torch.randn(3, H, L, D, dtype=torch.float64).unbind(0)
    out = scaled_dot_product_attention(q, k, v, attn_mask=alibi_bias(H, L, causal=True).double())
    # the paper: scores + m·(j - i) on keys j <= i, future keys masked
    i, j = torch.arange(L)[:, None], torch.arange(L)[None, :]
    scores = q @ k.transpose(-2, -1) / math.sqrt(D) + alibi_slopes(H).double()[:, None, None] * (j - i)
    expected = torch.softmax(scores.masked_fill(~causal_mask(L), -math.inf), -1) @ v
    torch.testing.assert_close(out, expected, atol=1e-12, rtol=1e-12)  # float64 both: rounding only
    # and the symmetric bias plus a boolean causal mask is the same thing
    both = alibi_bias(H, L).double().masked_fill(~causal_mask(L), -math.inf)
    torch.testing.assert_close(scaled_dot_product_attention(q, k, v, attn_mask=both), expected, atol=1e-12, rtol=1e-12)


# --- T5's relative position buckets (Raffel et al. 2020, arXiv:1910.10683) ---


def reference_bucket(offset, bidirectional, num_buckets, max_distance):
    """Hugging Face's T5Attention._relative_position_bucket, from its definition, for one offset j - i in plain Python."""
    bucket = 0
    if bidirectional:
        num_buckets //= 2
        bucket += num_buckets if offset > 0 else 0
        distance = abs(offset)
    else:
        distance = max(-offset, 0)
    max_exact = num_buckets // 2
    if distance < max_exact:
        return bucket + distance
    # + 1e-9: where the exact value is a whole number (log(16/4)/log(128/4)·5 = 2), float64 rounds it to 1.999...;
    # T5 computes in float32, which lands on 2 there (and matches this on every offset and option tested here)
    large = max_exact + int(math.log(distance / max_exact) / math.log(max_distance / max_exact) * (num_buckets - max_exact)
                            + 1e-9)
    return bucket + min(large, num_buckets - 1)


@pytest.mark.parametrize("bidirectional, num_buckets, max_distance",
                         [(True, 32, 128), (False, 32, 128), (True, 8, 20), (False, 8, 20), (True, 9, 37), (False, 9, 128),
                          (False, 2, 5)])
def test_relative_position_bucket_matches_t5(bidirectional, num_buckets, max_distance):
    g = torch.Generator().manual_seed(num_buckets)
    offsets = torch.cat([torch.arange(-40, 41), torch.randint(-600, 601, (199,), generator=g)]).reshape(-1, 7)
    buckets = relative_position_bucket(offsets, bidirectional=bidirectional, num_buckets=num_buckets,
                                       max_distance=max_distance)
    expected = [[reference_bucket(n, bidirectional, num_buckets, max_distance) for n in row] for row in offsets.tolist()]
    assert buckets.dtype == torch.int64 and buckets.tolist() == expected


def test_relative_position_bucket_t5_defaults_by_hand():
    offsets = torch.tensor([0, -1, -7, -8, -12, -16, -127, -128, -1000, 1, 8, 1000])
    # encoder (bidirectional): 16 buckets per direction, 0..7 exact, later keys in 17..31 (16 never: offset 0 is 'before')
    assert relative_position_bucket(offsets).tolist() == [0, 1, 7, 8, 9, 10, 15, 15, 15, 17, 24, 31]
    # decoder: 32 buckets for keys before the query, 0..15 exact; every later key in bucket 0
    assert relative_position_bucket(offsets, bidirectional=False).tolist() == [0, 1, 7, 8, 12, 16, 31, 31, 31, 0, 0, 0]


@given(n=st.integers(0, 2000))
def test_relative_position_buckets_never_decrease_with_distance(n):
    back = relative_position_bucket(torch.tensor([-n, -n - 1]), bidirectional=False)
    assert back[0] <= back[1] <= 31


def test_relative_position_bias_reads_its_table_by_bucket():
    torch.manual_seed(0)
    module = RelativePositionBias(3, num_buckets=8, max_distance=20)
    L, S = 4, 6
    bias = module(L, S)
    assert bias.shape == (3, L, S)
    table = module.table.weight.detach()  # (buckets, H)
    for i in range(L):
        for j in range(S):
            torch.testing.assert_close(bias[:, i, j].detach(), table[reference_bucket(j - i, True, 8, 20)])
    bias.sum().backward()  # learned: the gradient reaches the table
    assert module.table.weight.grad is not None


def test_bias_bad_input():
    with pytest.raises(ValueError, match="num_heads: expected an int >= 1, got 0"):
        alibi_slopes(0)
    with pytest.raises(TypeError, match="relative_position: expected an integer tensor"):
        relative_position_bucket(torch.zeros(3))
    with pytest.raises(ValueError, match="max_distance: expected an int >= 17, got 8"):
        relative_position_bucket(torch.zeros(3, dtype=torch.long), bidirectional=False, max_distance=8)
    with pytest.raises(ValueError, match="num_buckets"):
        RelativePositionBias(2, num_buckets=3)
    with pytest.raises(ValueError, match="align: expected 'top-left' or 'bottom-right', got 'middle'"):
        alibi_bias(2, 3, 5, align="middle")
