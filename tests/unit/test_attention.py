import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from attn_course import KernelRegression, causal_mask, gaussian_kernel_weights, scaled_dot_product_attention

sdpa = scaled_dot_product_attention

# (query, key, value) shapes: L != S, L = 1, odd widths, E != Ev, broadcast batch axes, batch of 0.
SHAPES = [
    ((2, 3, 5, 8), (2, 3, 7, 8), (2, 3, 7, 6)),
    ((1, 4), (6, 4), (6, 3)),
    ((3, 1, 7), (3, 9, 7), (3, 9, 7)),
    ((2, 5, 3), (2, 5, 3), (2, 5, 5)),
    ((2, 4, 3, 16), (1, 4, 8, 16), (1, 4, 8, 2)),
    ((0, 3, 4), (0, 5, 4), (0, 5, 4)),
]


def naive_attention(q, k, v, keep=None, scale=None):
    """Float64 reference, one query row at a time with NumPy; keep is a boolean (L, S) or None."""
    q, k, v = (np.asarray(t, np.float64) for t in (q, k, v))
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    out = np.zeros(q.shape[:-1] + v.shape[-1:])
    for i in range(q.shape[-2]):
        s = (q[..., i, None, :] * k).sum(-1) * scale  # (..., S)
        allowed = np.ones(k.shape[-2], bool) if keep is None else np.asarray(keep)[i]
        s = np.where(allowed, s, -np.inf)
        if allowed.any():
            w = np.exp(s - s.max(-1, keepdims=True))
            out[..., i, :] = ((w / w.sum(-1, keepdims=True))[..., None] * v).sum(-2)
    return out


@pytest.mark.parametrize("shapes", SHAPES)
def test_matches_pytorch_sdpa(shapes):
    q, k, v = (torch.randn(s) for s in shapes)
    out, weights = sdpa(q, k, v, return_weights=True)
    # float32 vs float32 with different summation orders: errors near 1e-6, so atol 1e-5.
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v), atol=1e-5, rtol=1e-5)
    assert weights.shape == out.shape[:-1] + (k.shape[-2],)
    if weights.numel():
        torch.testing.assert_close(weights.sum(-1), torch.ones(weights.shape[:-1]))


@pytest.mark.parametrize("shapes", SHAPES[:4])
def test_matches_naive_float64(shapes):
    q, k, v = (torch.randn(s, dtype=torch.float64) for s in shapes)
    L, S = q.shape[-2], k.shape[-2]
    keep = torch.rand(L, S) > 0.3
    np.testing.assert_allclose(sdpa(q, k, v).numpy(), naive_attention(q, k, v), atol=1e-12)
    np.testing.assert_allclose(sdpa(q, k, v, attn_mask=keep).numpy(), naive_attention(q, k, v, keep), atol=1e-12)
    np.testing.assert_allclose(sdpa(q, k, v, scale=0.3).numpy(), naive_attention(q, k, v, scale=0.3), atol=1e-12)
    causal = causal_mask(L, S)
    np.testing.assert_allclose(sdpa(q, k, v, is_causal=True).numpy(), naive_attention(q, k, v, causal), atol=1e-12)


@pytest.mark.parametrize("mask_shape", [(1, 7), (5, 7), (1, 5, 7), (2, 1, 1, 7), (2, 3, 5, 7), (2, 1, 5, 1)])
@pytest.mark.parametrize("kind", ["bool", "float"])
def test_broadcast_masks_match_pytorch(mask_shape, kind):
    q, k, v = torch.randn(2, 3, 5, 8), torch.randn(2, 3, 7, 8), torch.randn(2, 3, 7, 4)
    if kind == "bool":
        mask = torch.rand(mask_shape) > 0.4
    else:
        mask = torch.randn(mask_shape).masked_fill(torch.rand(mask_shape) > 0.7, float("-inf"))
    torch.testing.assert_close(sdpa(q, k, v, attn_mask=mask), F.scaled_dot_product_attention(q, k, v, attn_mask=mask),
                               atol=1e-5, rtol=1e-5)


def test_one_dimensional_key_mask_broadcasts_over_queries():
    q, k, v = torch.randn(2, 5, 8), torch.randn(2, 7, 8), torch.randn(2, 7, 4)
    keep = torch.rand(7) > 0.4  # (S,): PyTorch's SDPA wants at least (1, S); ours takes (S,) too
    torch.testing.assert_close(sdpa(q, k, v, attn_mask=keep), sdpa(q, k, v, attn_mask=keep[None, :]))


@pytest.mark.parametrize("L, S", [(4, 4), (3, 6), (6, 3), (1, 5)])
def test_is_causal_is_top_left_like_pytorch(L, S):
    q, k, v = torch.randn(2, L, 8), torch.randn(2, S, 8), torch.randn(2, S, 3)
    want = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    torch.testing.assert_close(sdpa(q, k, v, is_causal=True), want, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kind", ["bool", "float"])
def test_fully_masked_query_gets_zeros_not_nan(kind):
    q, k, v = torch.randn(2, 4, 8, requires_grad=True), torch.randn(2, 6, 8), torch.randn(2, 6, 3)
    keep = torch.ones(4, 6, dtype=torch.bool)
    keep[1] = False  # query 1 may attend to nothing
    mask = keep if kind == "bool" else torch.zeros(4, 6).masked_fill(~keep, float("-inf"))
    out, weights = sdpa(q, k, v, attn_mask=mask, return_weights=True)
    assert torch.equal(out[:, 1], torch.zeros(2, 3)) and torch.equal(weights[:, 1], torch.zeros(2, 6))
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask), atol=1e-5, rtol=1e-5)
    out.sum().backward()
    assert torch.isfinite(q.grad).all()


def test_gradients_match_pytorch():
    q, k, v = (torch.randn(2, 5, 6, dtype=torch.float64, requires_grad=True) for _ in range(3))
    mask = torch.rand(5, 5) > 0.3
    mask[:, 0] = True
    grads = torch.autograd.grad(sdpa(q, k, v, attn_mask=mask).square().sum(), (q, k, v))
    want = torch.autograd.grad(F.scaled_dot_product_attention(q, k, v, attn_mask=mask).square().sum(), (q, k, v))
    for g, w in zip(grads, want, strict=True):
        torch.testing.assert_close(g, w)


small = st.integers(1, 6)


@given(L=small, S=small, E=small, seed=st.integers(0, 10_000))
def test_masked_keys_do_not_matter(L, S, E, seed):
    g = torch.Generator().manual_seed(seed)
    q, k, v = torch.randn(L, E, generator=g), torch.randn(S, E, generator=g), torch.randn(S, 3, generator=g)
    keep = torch.rand(S, generator=g) > 0.5  # (S,) broadcasts over queries
    k2 = torch.where(keep[:, None], k, 50 * torch.randn(S, E, generator=g))
    v2 = torch.where(keep[:, None], v, 50 * torch.randn(S, 3, generator=g))
    torch.testing.assert_close(sdpa(q, k2, v2, attn_mask=keep), sdpa(q, k, v, attn_mask=keep))


@given(L=small, E=small, t=st.integers(0, 5), seed=st.integers(0, 10_000))
def test_causal_outputs_ignore_the_future(L, E, t, seed):
    t = min(t, L - 1)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(L, E, generator=g)
    y = x.clone()
    y[t + 1:] = torch.randn(L - t - 1, E, generator=g)  # change every token after t
    torch.testing.assert_close(sdpa(y, y, y, is_causal=True)[: t + 1], sdpa(x, x, x, is_causal=True)[: t + 1])


@given(L=small, S=small, E=small, seed=st.integers(0, 10_000))
def test_permutation_equivariance(L, S, E, seed):
    g = torch.Generator().manual_seed(seed)
    q, k, v = torch.randn(L, E, generator=g), torch.randn(S, E, generator=g), torch.randn(S, 2, generator=g)
    pq, pk = torch.randperm(L, generator=g), torch.randperm(S, generator=g)
    out = sdpa(q, k, v)
    torch.testing.assert_close(sdpa(q[pq], k, v), out[pq])  # permuting queries permutes outputs
    torch.testing.assert_close(sdpa(q, k[pk], v[pk]), out)  # permuting key-value pairs changes nothing


@pytest.mark.parametrize(
    "args, kwargs, error, message",
    [
        (((3, 4), (5, 6), (5, 2)), {}, ValueError,
         r"key: expected shape \(\.\.\., S, D=4\), got \(5, 6\) \(D is 6, expected 4\)"),
        (((3, 4), (5, 4), (6, 2)), {}, ValueError,
         r"value: expected shape \(\.\.\., S=5, Ev\), got \(6, 2\) \(S is 6, expected 5\)"),
        (((4,), (5, 4), (5, 2)), {}, ValueError, r"query: expected shape \(\.\.\., L, D\), got \(4,\)"),
        (((2, 3, 4), (3, 5, 4), (3, 5, 2)), {}, ValueError, "key/value: leading"),
        (((3, 4), (5, 4), (5, 2)), {"attn_mask": torch.ones(4, 5, dtype=torch.bool)}, ValueError,
         r"attn_mask: expected a shape that broadcasts to the scores \(\.\.\., L, S\) = \(3, 5\), got \(4, 5\)"),
        (((3, 4), (5, 4), (5, 2)), {"attn_mask": torch.ones(3, 5, dtype=torch.long)}, TypeError,
         "attn_mask: expected dtype torch.bool"),
        (((3, 4), (5, 4), (5, 2)), {"attn_mask": torch.ones(3, 5, dtype=torch.bool), "is_causal": True},
         ValueError, "either attn_mask or is_causal"),
    ],
)
def test_bad_input_names_the_argument(args, kwargs, error, message):
    q, k, v = (torch.randn(s) for s in args)
    with pytest.raises(error, match=message):
        sdpa(q, k, v, **kwargs)


def test_integer_and_mixed_dtypes_raise_type_error():
    with pytest.raises(TypeError, match="query: expected a floating-point dtype, got torch.int64"):
        sdpa(torch.ones(3, 4, dtype=torch.long), torch.randn(5, 4), torch.randn(5, 2))
    with pytest.raises(TypeError, match=r"value: expected dtype torch.float32 \(query's\), got torch.float64"):
        sdpa(torch.randn(3, 4), torch.randn(5, 4), torch.randn(5, 2, dtype=torch.float64))
    with pytest.raises(TypeError, match="key: expected a torch.Tensor, got ndarray"):
        sdpa(torch.randn(3, 4), np.ones((5, 4)), torch.randn(5, 2))


def test_gaussian_kernel_weights_match_direct_formula():
    xq, xk, h = torch.rand(4, dtype=torch.float64), torch.rand(6, dtype=torch.float64), 0.3
    kernel = torch.exp(-((xq[:, None] - xk[None, :]) ** 2) / (2 * h**2))
    torch.testing.assert_close(gaussian_kernel_weights(xq, xk, h), kernel / kernel.sum(-1, keepdim=True))


def test_gaussian_kernel_weights_mask_and_errors():
    x = torch.rand(5, dtype=torch.float64)
    keep = ~torch.eye(5, dtype=torch.bool)  # leave-one-out: a point may not attend to itself
    w = gaussian_kernel_weights(x, x, 0.2, attn_mask=keep)
    assert torch.equal(w.diagonal(), torch.zeros(5))
    full = gaussian_kernel_weights(x, x, 0.2).masked_fill(~keep, 0)
    torch.testing.assert_close(w, full / full.sum(-1, keepdim=True))
    with pytest.raises(TypeError, match="attn_mask: expected a boolean tensor"):
        gaussian_kernel_weights(x, x, 0.2, attn_mask=keep.float())
    with pytest.raises(ValueError, match=r"attn_mask: expected a shape that broadcasts .* got \(4, 5\)"):
        gaussian_kernel_weights(x, x, 0.2, attn_mask=keep[:4])


def test_kernel_regression_learns_a_sensible_bandwidth():
    torch.manual_seed(0)
    x = torch.sort(5 * torch.rand(60)).values
    y = 2 * torch.sin(x) + 0.2 * torch.randn(60)
    model = KernelRegression(bandwidth=3.0)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    leave_one_out = ~torch.eye(60, dtype=torch.bool)

    def loss_fn():
        return (model(x, x, y, attn_mask=leave_one_out) - y).square().mean()

    start = loss_fn().item()
    for _ in range(200):
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        opt.step()
    assert loss.item() < 0.5 * start and 0.05 < model.bandwidth < 1.0
    assert model(x, x, y).shape == (60,) and model.weights.shape == (60, 60)
    with pytest.raises(ValueError, match="bandwidth: expected a positive number"):
        KernelRegression(bandwidth=0.0)
