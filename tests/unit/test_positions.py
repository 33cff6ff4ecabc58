import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from attn_course import scaled_dot_product_attention
from attn_course.positions import apply_rotary, rotary_angles, sinusoidal_positions


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
