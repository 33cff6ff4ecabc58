import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from attn_course import plot_attention


def test_draws_weights_with_labels_and_values():
    w = torch.softmax(torch.randn(3, 4), -1)
    ax = plot_attention(w, query_labels=list("abc"), key_labels=list("wxyz"), title="demo")
    image = ax.images[0].get_array()
    np.testing.assert_allclose(image, w.numpy(), rtol=1e-6)
    assert [t.get_text() for t in ax.get_xticklabels()] == list("wxyz")
    assert [t.get_text() for t in ax.get_yticklabels()] == list("abc")
    assert ax.get_title() == "demo" and len(ax.texts) == 12
    assert ax.images[0].get_clim() == (0, 1)  # probabilities share one colour scale...
    assert plot_attention(w, vmax=0.5).images[0].get_clim() == (0, 0.5)  # ...unless asked otherwise
    plt.close("all")


def test_draws_scores_and_drops_leading_unit_axes():
    fig, ax = plt.subplots()
    out = plot_attention(np.arange(6.0).reshape(1, 2, 3) - 2, ax=ax)
    assert out is ax and ax.get_title() == "scores" and ax.images[0].get_array().shape == (2, 3)
    plt.close("all")


@pytest.mark.parametrize(
    "weights, kwargs, message",
    [
        (torch.rand(2, 3, 4), {}, r"weights: expected shape \(L, S\), got \(2, 3, 4\)"),
        (torch.rand(2, 3), {"query_labels": ["a"]}, "query_labels: expected 2 labels, got 1"),
        (torch.rand(2, 3), {"key_labels": ["a"]}, "key_labels: expected 3 labels, got 1"),
    ],
)
def test_bad_input(weights, kwargs, message):
    with pytest.raises(ValueError, match=message):
        plot_attention(weights, **kwargs)
    plt.close("all")


def test_plot_mask_draws_and_reports_density():
    import matplotlib.pyplot as plt

    from attn_course.masks import sliding_window_mask
    from attn_course.plotting import plot_mask

    ax = plot_mask(sliding_window_mask(4, 0), title="diagonal")
    assert ax.get_title() == "diagonal\n25% allowed"
    assert ax.images[0].get_array().shape == (4, 4)
    plt.close("all")
    with pytest.raises(ValueError, match="mask: expected a boolean"):
        plot_mask(torch.ones(3, 3))
