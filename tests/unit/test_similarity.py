import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from attn_course import cosine_scores, dot_scores

SHAPES = [((3, 4), (5, 4)), ((1, 7), (1, 7)), ((2, 1, 3), (2, 6, 3)), ((2, 3, 4, 5), (2, 3, 2, 5)), ((2, 4, 3), (5, 3))]


def naive_dot(q, k):
    """Float64 loops over every (query, key) pair: the independent reference."""
    q, k = np.broadcast_arrays(np.asarray(q, np.float64)[..., :, None, :], np.asarray(k, np.float64)[..., None, :, :])
    return (q * k).sum(-1)


@pytest.mark.parametrize("shape_q, shape_k", SHAPES)
def test_dot_scores_matches_naive_float64(shape_q, shape_k):
    q, k = torch.randn(shape_q, dtype=torch.float64), torch.randn(shape_k, dtype=torch.float64)
    got = dot_scores(q, k)
    assert got.shape == (*torch.broadcast_shapes(q.shape[:-2], k.shape[:-2]), shape_q[-2], shape_k[-2])
    np.testing.assert_allclose(got.numpy(), naive_dot(q, k), atol=1e-12)


@pytest.mark.parametrize("shape_q, shape_k", SHAPES)
def test_numpy_and_torch_agree(shape_q, shape_k):
    q, k = torch.randn(shape_q), torch.randn(shape_k)
    for fn in (dot_scores, cosine_scores):
        out = fn(q.numpy(), k.numpy())
        assert isinstance(out, np.ndarray)
        np.testing.assert_allclose(out, fn(q, k).numpy(), atol=1e-5)


@pytest.mark.parametrize("shape_q, shape_k", SHAPES)
def test_cosine_matches_torch_cosine_similarity(shape_q, shape_k):
    q, k = torch.randn(shape_q), torch.randn(shape_k)
    want = torch.nn.functional.cosine_similarity(q[..., :, None, :], k[..., None, :, :], dim=-1)
    torch.testing.assert_close(cosine_scores(q, k), want, atol=1e-5, rtol=1e-5)


@given(st.floats(0.01, 100), st.floats(0.01, 100))
def test_cosine_ignores_length_and_dot_does_not(a, b):
    q, k = torch.randn(2, 4, dtype=torch.float64), torch.randn(3, 4, dtype=torch.float64)
    torch.testing.assert_close(cosine_scores(a * q, b * k), cosine_scores(q, k))
    torch.testing.assert_close(dot_scores(a * q, b * k), a * b * dot_scores(q, k))


def test_cosine_of_zero_vector_is_zero_not_nan():
    out = cosine_scores(torch.zeros(1, 3), torch.randn(2, 3))
    assert torch.equal(out, torch.zeros(1, 2))


@pytest.mark.parametrize(
    "q, k, error, message",
    [
        (torch.randn(3, 4), torch.randn(5, 3), ValueError, r"k: expected shape \(\.\.\., S, E=4\)"),
        (torch.randn(4), torch.randn(5, 4), ValueError, r"q: expected shape \(\.\.\., L, E\), got \(4,\)"),
        (torch.randn(2, 3, 4), torch.randn(3, 5, 4), ValueError, "k: leading"),
        (torch.ones(3, 4, dtype=torch.long), torch.randn(5, 4), TypeError, "q: expected a floating-point dtype"),
        (torch.randn(3, 4), np.ones((5, 4)), TypeError, "k: expected the same kind"),
    ],
)
def test_bad_input_names_the_argument(q, k, error, message):
    for fn in (dot_scores, cosine_scores):
        with pytest.raises(error, match=message):
            fn(q, k)
