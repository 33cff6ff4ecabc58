"""attn_course: the helper package of *Attention, Step by Step*.

Each module holds what one notebook derives; later notebooks import it from here.
"""

from .attention import KernelRegression, gaussian_kernel_weights, scaled_dot_product_attention
from .masks import (
    block_sparse_mask,
    causal_mask,
    dilated_window_mask,
    padding_mask,
    sliding_window_mask,
    with_global_tokens,
)
from .plotting import plot_attention, plot_mask
from .progress_record import Progress, reset_progress
from .runtime import check_shape, device, set_seed
from .similarity import cosine_scores, dot_scores
from .softmax import logsumexp, softmax

__version__ = "0.1.0"


def progress(path=None) -> Progress:
    """Which exercises you have passed, tried, or not tried yet, across the course's notebooks (notebook 00).

    The record is ``~/.attn_course/progress.json`` (or ``$ATTN_COURSE_PROGRESS``); ``reset_progress()`` empties it.
    """
    from .exercises import progress as course_progress  # the checkers know the course's exercises

    return course_progress(path)

__all__ = [
    "KernelRegression",
    "block_sparse_mask",
    "causal_mask",
    "check_shape",
    "cosine_scores",
    "device",
    "dilated_window_mask",
    "dot_scores",
    "gaussian_kernel_weights",
    "logsumexp",
    "padding_mask",
    "plot_attention",
    "plot_mask",
    "progress",
    "reset_progress",
    "scaled_dot_product_attention",
    "set_seed",
    "sliding_window_mask",
    "softmax",
    "with_global_tokens",
]
