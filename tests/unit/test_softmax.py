import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from attn_course import logsumexp, softmax

finite = st.floats(-1e4, 1e4, allow_nan=False, width=32)
matrices = arrays(np.float32, st.tuples(st.integers(1, 4), st.integers(1, 6)), elements=finite)


def naive_softmax(x, dim):
    """Float64 reference in exact-enough arithmetic: exp relative to the row max via math.fsum-free NumPy."""
    x = np.asarray(x, np.float64)
    e = np.exp(x - x.max(axis=dim, keepdims=True))
    return e / e.sum(axis=dim, keepdims=True)


@pytest.mark.parametrize("shape, dim", [((5,), 0), ((3, 7), -1), ((3, 7), 0), ((2, 3, 4), 1), ((1, 1), -1)])
def test_matches_torch_softmax(shape, dim):
    x = 5 * torch.randn(shape)
    torch.testing.assert_close(softmax(x, dim=dim), torch.softmax(x, dim=dim), atol=1e-6, rtol=1e-5)
    np.testing.assert_allclose(softmax(x.double().numpy(), dim=dim), naive_softmax(x, dim), atol=1e-12)


def test_returns_the_kind_and_dtype_it_was_given():
    x = np.random.default_rng(0).normal(size=(2, 3)).astype(np.float32)
    assert isinstance(softmax(x), np.ndarray) and softmax(x).dtype == np.float32
    assert isinstance(softmax(torch.from_numpy(x)), torch.Tensor)
    assert softmax(torch.randn(3, dtype=torch.float16)).dtype == torch.float16


@given(matrices)
def test_rows_sum_to_one_and_are_finite(x):
    for array in (x, torch.from_numpy(x)):
        w = np.asarray(softmax(array))
        assert np.isfinite(w).all() and (w >= 0).all()
        np.testing.assert_allclose(w.sum(-1), 1.0, atol=1e-5)


@given(matrices, st.floats(-1e3, 1e3, width=32))
def test_shift_invariant(x, c):
    x = torch.from_numpy(x).double()
    torch.testing.assert_close(softmax(x + c), softmax(x), atol=1e-9, rtol=1e-7)


@given(matrices, st.floats(0.05, 20))
def test_temperature_divides_the_scores(x, t):
    x = torch.from_numpy(x).double()
    torch.testing.assert_close(softmax(x, temperature=t), torch.softmax(x / t, -1))


def test_one_temperature_per_row():
    x, t = torch.randn(4, 5), torch.tensor([0.1, 1.0, 3.0, 10.0])[:, None]  # (4, 1) broadcasts over keys
    torch.testing.assert_close(softmax(x, temperature=t), torch.softmax(x / t, -1))


def test_finite_at_magnitude_1e4_float32_where_naive_overflows():
    x = torch.tensor([[1e4, 1e4 - 1, -1e4], [-1e4, -1e4 + 2, -1e4 + 1]])
    naive = torch.exp(x) / torch.exp(x).sum(-1, keepdim=True)
    assert torch.isnan(naive).any()  # the problem is real...
    out = softmax(x)  # ...and the package avoids it
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, torch.softmax(x.double(), -1).float())


def test_row_of_only_minus_inf_gives_zeros_and_finite_gradient():
    x = torch.tensor([[0.0, 1.0], [float("-inf"), float("-inf")]], requires_grad=True)
    w = softmax(x)
    assert torch.equal(w[1], torch.zeros(2))
    (w * torch.tensor([[1.0, 2.0], [3.0, 4.0]])).sum().backward()
    assert torch.isfinite(x.grad).all()


@pytest.mark.parametrize("shape, dim", [((5,), 0), ((3, 7), -1), ((2, 3, 4), 1)])
@pytest.mark.parametrize("keepdim", [False, True])
def test_logsumexp_matches_torch_and_links_to_softmax(shape, dim, keepdim):
    x = 100 * torch.randn(shape)
    torch.testing.assert_close(logsumexp(x, dim, keepdim), torch.logsumexp(x, dim, keepdim))
    np.testing.assert_allclose(logsumexp(x.numpy(), dim, keepdim), torch.logsumexp(x, dim, keepdim).numpy(), rtol=1e-6)
    torch.testing.assert_close(torch.exp(x - logsumexp(x, dim, keepdim=True)), softmax(x, dim))


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"x": torch.tensor([1, 2])}, TypeError, "x: expected a floating-point dtype, got torch.int64"),
        ({"x": [1.0, 2.0]}, TypeError, "x: expected a torch.Tensor or numpy.ndarray, got list"),
        ({"x": torch.randn(2, 3), "dim": 2}, ValueError, r"dim: expected an axis of x, which has shape \(2, 3\)"),
        ({"x": torch.randn(3), "temperature": 0.0}, ValueError, "temperature: expected a positive number"),
        ({"x": torch.randn(3), "temperature": torch.tensor([1.0, -1.0])}, ValueError, "temperature: expected a positive"),
        ({"x": torch.randn(3), "temperature": "hot"}, TypeError, "temperature: expected a positive number or tensor"),
    ],
)
def test_bad_input(kwargs, error, message):
    with pytest.raises(error, match=message):
        softmax(**kwargs)
