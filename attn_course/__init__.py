"""attn_course: the helper package of *Attention, Step by Step*.

Each module holds what one notebook derives; later notebooks import it from here.
"""

from .attention import KernelRegression, gaussian_kernel_weights, scaled_dot_product_attention
from .masks import causal_mask, padding_mask
from .plotting import plot_attention
from .runtime import check_shape, device, set_seed
from .similarity import cosine_scores, dot_scores
from .softmax import logsumexp, softmax

__version__ = "0.1.0"

__all__ = [
    "KernelRegression",
    "causal_mask",
    "check_shape",
    "cosine_scores",
    "device",
    "dot_scores",
    "gaussian_kernel_weights",
    "logsumexp",
    "padding_mask",
    "plot_attention",
    "scaled_dot_product_attention",
    "set_seed",
    "softmax",
]
