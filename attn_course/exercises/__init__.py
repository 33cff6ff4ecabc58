"""Exercise checkers, one module per notebook with exercises.

Use in a notebook: ``from attn_course.exercises import softmax as check``, then
``check.softmax(my_softmax)`` and ``check.hint("softmax")``. Only notebooks import these.
"""

from pathlib import Path

from ..progress_record import Progress, read_progress
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
from .core import CATALOGUE

# The checker modules, one per notebook with exercises, in the course's order: the one list of them.
__all__ = ["welcome", "similarity", "softmax", "lookup", "masking", "seq2seq", "self_attention", "multihead",
           "transformer", "cross_attention", "local", "gpu", "flash", "pretrained"]
MODULES = tuple(__all__)  # the same list, by its own name; also here: CATALOGUE (every exercise) and progress()


def progress(path: Path | None = None) -> Progress:
    """Which exercises you have passed, tried, or not tried yet, across the course's notebooks.

    Every checker module is imported above, so :data:`CATALOGUE` lists every exercise of the course.
    Also available as ``attn_course.progress()``.
    """
    return read_progress(CATALOGUE, path)
