"""Exercise checkers, one module per notebook with exercises.

Use in a notebook: ``from attn_course.exercises import softmax as check``, then
``check.softmax(my_softmax)`` and ``check.hint("softmax")``. Only notebooks import these.
"""

from . import (
    cross_attention,
    flash,
    gpu,
    local,
    lookup,
    masking,
    multihead,
    pretrained,
    self_attention,
    seq2seq,
    similarity,
    softmax,
    transformer,
    welcome,
)

__all__ = ["cross_attention", "flash", "gpu", "local", "lookup", "masking", "multihead", "pretrained", "self_attention",
           "seq2seq", "similarity", "softmax", "transformer", "welcome"]
