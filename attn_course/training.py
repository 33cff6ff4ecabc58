"""Training and scoring a translation model: mini-batches, a training loop and exact match (notebooks 05 and 09).

Nothing here is about attention: it is the loop both translators of the course are trained with,
the recurrent :class:`attn_course.rnn.Seq2Seq` of notebook 05 and the
:class:`attn_course.transformer.TransformerTranslator` of notebook 09. Any model with the
:class:`Translator` interface works.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

import torch
from torch import nn

from .runtime import require_int, require_number

__all__ = ["Translator", "TranslationData", "batches", "fit", "exact_match"]


class TranslationData(Protocol):
    """A split of a translation task, e.g. :class:`attn_course.data.TranslationSplit`."""

    src: torch.Tensor  # (N, S) source ids, padded
    lengths: torch.Tensor  # (N,) real source lengths
    tgt: torch.Tensor  # (N, T) target ids, ending with EOS, padded


class Translator(Protocol):
    """What :func:`fit` and :func:`exact_match` need of a model."""

    def __call__(self, src: torch.Tensor, lengths: torch.Tensor, tgt: torch.Tensor) -> tuple[torch.Tensor, object]:
        """Teacher-forced logits ``(B, T, V)`` and anything else (the attention weights)."""
        ...

    def translate(self, src: torch.Tensor, lengths: torch.Tensor, max_len: int) -> tuple[torch.Tensor, object]:
        """Greedy ids ``(B, max_len)`` and anything else."""
        ...

    def parameters(self) -> Iterator[nn.Parameter]: ...

    def train(self, mode: bool = True) -> Translator: ...

    def eval(self) -> Translator: ...


def _check_split(split: TranslationData) -> None:
    """``TypeError``/``ValueError`` naming ``split`` unless it has tensors ``src (N, S)``, ``lengths (N,)`` and ``tgt (N, T)``."""
    tensors = {name: getattr(split, name, None) for name in ("src", "lengths", "tgt")}
    wrong = [name for name, value in tensors.items() if not isinstance(value, torch.Tensor)]
    if wrong:
        raise TypeError(f"split: expected a translation split with tensors src, lengths and tgt (e.g. a TranslationSplit), "
                        f"got {type(split).__name__} (without tensor {', '.join(wrong)})")
    shapes = {name: tuple(value.shape) for name, value in tensors.items()}
    if len(shapes["src"]) != 2 or len(shapes["lengths"]) != 1 or len(shapes["tgt"]) != 2 \
            or not shapes["src"][0] == shapes["lengths"][0] == shapes["tgt"][0]:
        raise ValueError(f"split: expected src (N, S), lengths (N,) and tgt (N, T), got shapes {shapes}")


def _check_model(model: Translator) -> None:
    """``TypeError`` naming ``model`` unless it has ``parameters()`` and ``translate()``."""
    if not callable(getattr(model, "parameters", None)) or not callable(getattr(model, "translate", None)):
        raise TypeError(f"model: expected a translator (an nn.Module with translate(), e.g. Seq2Seq), got {type(model).__name__}")


def batches(split: TranslationData, batch_size: int, generator: torch.Generator | None = None) -> Iterator[tuple]:
    """Shuffled mini-batches ``(src, lengths, tgt)`` of a split, each ``src`` trimmed to its longest sentence."""
    batch_size = require_int("batch_size", batch_size, 1)
    _check_split(split)  # now, not at the first batch
    return _batches(split, batch_size, generator)


def _batches(split: TranslationData, batch_size: int, generator: torch.Generator | None) -> Iterator[tuple]:
    order = torch.randperm(split.src.size(0), generator=generator)
    for idx in order.split(batch_size):
        lengths = split.lengths[idx]
        yield split.src[idx, : int(lengths.max())], lengths, split.tgt[idx]


def fit(model: Translator, split: TranslationData, steps: int, batch_size: int = 128, lr: float = 3e-3,
        seed: int = 0, label: str | None = None) -> list[float]:
    """Train with Adam and cross-entropy on teacher-forced targets; return the loss of every step.

    ``label`` names a progress bar (``tqdm``; a printed line without it); None shows nothing.
    Gradients are clipped to norm 1; the model is left in eval mode.
    """
    steps, batch_size = require_int("steps", steps), require_int("batch_size", batch_size, 1)
    require_number("lr", lr, positive=True)
    _check_model(model)
    _check_split(split)
    if split.src.size(0) == 0 and steps:
        raise ValueError("split: expected at least one example to train on, got 0")
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    losses: list[float] = []
    bar = None
    if label is not None:
        try:
            from tqdm.auto import tqdm  # installed with the course's notebooks, not with the bare package
            bar = tqdm(total=steps, desc=label)
        except ImportError:
            print(f"{label}: training {steps} steps (install tqdm for a progress bar)")
    device = next(model.parameters()).device
    model.train()
    while len(losses) < steps:
        for src, lengths, tgt in batches(split, batch_size, generator):
            src, lengths, tgt = src.to(device), lengths.to(device), tgt.to(device)
            logits, _ = model(src, lengths, tgt)  # (B, T, V)
            loss = nn.functional.cross_entropy(logits.flatten(0, 1), tgt.flatten())
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            losses.append(loss.item())
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{losses[-1]:.3f}", refresh=False)  # redrawn at most 10 times a second
            if len(losses) == steps:
                break
    if bar is not None:
        bar.close()
    model.eval()
    return losses


@torch.no_grad()
def exact_match(model: Translator, split: TranslationData) -> torch.Tensor:
    """Per example: True when the greedy translation equals the target exactly (EOS included)."""
    _check_model(model)
    _check_split(split)
    device = next(model.parameters()).device
    predicted, _ = model.translate(split.src.to(device), split.lengths.to(device), max_len=split.tgt.size(1))  # (N, T)
    return (predicted.cpu() == split.tgt).all(dim=-1)
