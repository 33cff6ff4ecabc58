"""Data the course generates itself, so nothing is downloaded (notebook 05 onwards).

The date task: human-written dates in many formats ("21 Nov 2026", "saturday, november 21,
2026", "11/21/26", ...) to translate into ISO ``2026-11-21``, one character at a time.
"""

from __future__ import annotations

import datetime as dt
import random
import string
from collections.abc import Sequence
from dataclasses import dataclass

import torch

__all__ = ["CharVocab", "DATE_FORMATS", "format_date", "random_dates", "TranslationSplit", "TranslationTask",
           "make_date_task", "make_copy_task", "encode_pairs", "pad_sequences", "SOURCE_CHARACTERS"]

PAD, BOS, EOS = "<pad>", "<bos>", "<eos>"
FIRST_DAY, LAST_DAY = dt.date(1950, 1, 1), dt.date(2049, 12, 31)  # two-digit years are unambiguous here
_ORDINAL = {1: "st", 2: "nd", 3: "rd", 21: "st", 22: "nd", 23: "rd", 31: "st"}


def _ordinal(day: int) -> str:
    return f"{day}{_ORDINAL.get(day, 'th')}"


# Each format is a function of a date; together they range from 8 to 40 characters.
DATE_FORMATS = {
    "m/d/yy": lambda d: f"{d.month}/{d.day}/{d:%y}",
    "dd.mm.yyyy": lambda d: f"{d:%d.%m.%Y}",
    "d mon yyyy": lambda d: f"{d.day} {d:%b %Y}",
    "mon d, yyyy": lambda d: f"{d:%b} {d.day}, {d:%Y}",
    "d month yyyy": lambda d: f"{d.day} {d:%B %Y}",
    "month d, yyyy": lambda d: f"{d:%B} {d.day}, {d:%Y}",
    "dow d mon yyyy": lambda d: f"{d:%a} {d.day} {d:%b %Y}",
    "weekday, month d, yyyy": lambda d: f"{d:%A}, {d:%B} {d.day}, {d:%Y}",
    "the dth of month, yyyy": lambda d: f"the {_ordinal(d.day)} of {d:%B}, {d:%Y}",
    "on weekday the dth of month yyyy": lambda d: f"on {d:%A} the {_ordinal(d.day)} of {d:%B} {d:%Y}",
}
_CASES = {
    "lower": str.lower,
    "title": lambda s: " ".join(w[:1].upper() + w[1:] for w in s.split(" ")),  # "21st" stays "21st"
    "upper": str.upper,
}
SOURCE_CHARACTERS = string.ascii_letters + string.digits + " ,./-"  # what a learner may type


def format_date(date: dt.date, fmt: str, case: str = "lower") -> str:
    """Write ``date`` in one of :data:`DATE_FORMATS`, in ``"lower"``, ``"title"`` or ``"upper"`` case."""
    if fmt not in DATE_FORMATS:
        raise ValueError(f"fmt: expected one of {list(DATE_FORMATS)}, got {fmt!r}")
    if case not in _CASES:
        raise ValueError(f"case: expected one of {list(_CASES)}, got {case!r}")
    return _CASES[case](DATE_FORMATS[fmt](date))


def random_dates(n: int, seed: int, days: Sequence[dt.date] | None = None) -> list[tuple[str, str]]:
    """``n`` pairs (human-written date, ISO date), drawn reproducibly from ``seed``.

    Args:
        n: how many pairs.
        seed: the same seed gives the same pairs on every machine.
        days: the calendar days to draw from (default: every day of 1950–2049).

    Returns:
        A list of ``(source, target)`` strings, e.g. ``("sat 21 nov 2026", "2026-11-21")``.
    """
    rng = random.Random(seed)
    span = (LAST_DAY - FIRST_DAY).days + 1
    pairs = []
    for _ in range(n):
        day = rng.choice(days) if days is not None else FIRST_DAY + dt.timedelta(days=rng.randrange(span))
        case = rng.choices(list(_CASES), weights=(6, 3, 1))[0]
        pairs.append((format_date(day, rng.choice(list(DATE_FORMATS)), case), day.isoformat()))
    return pairs


class CharVocab:
    """Characters to ids and back; id 0 is padding, 1 begins and 2 ends a sequence."""

    def __init__(self, texts: Sequence[str]) -> None:
        self.tokens = [PAD, BOS, EOS, *sorted(set("".join(texts)))]
        self.index = {t: i for i, t in enumerate(self.tokens)}
        self.pad_id, self.bos_id, self.eos_id = 0, 1, 2

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, text: str, eos: bool = False) -> list[int]:
        """Ids of ``text``'s characters (and EOS at the end if asked); unknown characters raise."""
        unknown = sorted(set(text) - set(self.index))
        if unknown:
            shown = "".join(self.tokens[3:]) if len(self.tokens) <= 23 else "".join(self.tokens[3:13]) + "..."
            raise ValueError(f"text: characters {unknown} are not in the vocabulary "
                             f"({len(self.tokens) - 3} characters: {shown!r}; see .tokens)")
        return [self.index[c] for c in text] + ([self.eos_id] if eos else [])

    def decode(self, ids: Sequence[int] | torch.Tensor) -> str:
        """The text of ``ids``, up to the first EOS, skipping padding and BOS."""
        out = []
        for i in (ids.tolist() if isinstance(ids, torch.Tensor) else ids):
            if i == self.eos_id:
                break
            if i > self.eos_id:
                out.append(self.tokens[i])
        return "".join(out)


def pad_sequences(seqs: Sequence[Sequence[int]], pad_id: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack id lists of different lengths into ``(B, S_max)`` with padding, plus their ``(B,)`` lengths."""
    lengths = torch.tensor([len(s) for s in seqs], dtype=torch.long)
    out = torch.full((len(seqs), int(lengths.max()) if len(seqs) else 0), pad_id, dtype=torch.long)
    for i, s in enumerate(seqs):
        out[i, : len(s)] = torch.tensor(s, dtype=torch.long)
    return out, lengths


@dataclass
class TranslationSplit:
    """One split of a translation task: ``src (N, S)`` padded ids, ``lengths (N,)``, ``tgt (N, T)`` ids, EOS last."""

    pairs: list[tuple[str, str]]
    src: torch.Tensor
    lengths: torch.Tensor
    tgt: torch.Tensor

    def __len__(self) -> int:
        return len(self.pairs)


@dataclass
class TranslationTask:
    """A character-level translation task: vocabularies and train/test splits."""

    src_vocab: CharVocab
    tgt_vocab: CharVocab
    train: TranslationSplit
    test: TranslationSplit

    def split(self, pairs: list[tuple[str, str]]) -> TranslationSplit:
        """Encode and pad new ``(source, target)`` pairs with this task's vocabularies."""
        return encode_pairs(pairs, self.src_vocab, self.tgt_vocab)

    def encode_sources(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Source strings to padded ids ``(B, S)`` and lengths ``(B,)``, ready for a model."""
        return pad_sequences([self.src_vocab.encode(t) for t in texts], self.src_vocab.pad_id)


def encode_pairs(pairs: list[tuple[str, str]], src_vocab: CharVocab, tgt_vocab: CharVocab) -> TranslationSplit:
    """Encode and pad ``(source, target)`` pairs; each target ends with EOS."""
    src, lengths = pad_sequences([src_vocab.encode(s) for s, _ in pairs])
    tgt, _ = pad_sequences([tgt_vocab.encode(t, eos=True) for _, t in pairs])
    return TranslationSplit(pairs, src, lengths, tgt)


def make_date_task(n_train: int = 10_000, n_test: int = 1_000, seed: int = 0) -> TranslationTask:
    """Generate the date task: held-out test dates are calendar days that training never sees.

    Introduced in notebook 05.
    """
    days = [FIRST_DAY + dt.timedelta(days=i) for i in range((LAST_DAY - FIRST_DAY).days + 1)]
    random.Random(seed).shuffle(days)
    test_days, train_days = days[: len(days) // 10], days[len(days) // 10:]
    train = random_dates(n_train, seed + 1, train_days)
    test = random_dates(n_test, seed + 2, test_days)
    src_vocab, tgt_vocab = CharVocab(SOURCE_CHARACTERS), CharVocab("0123456789-")
    return TranslationTask(src_vocab, tgt_vocab, encode_pairs(train, src_vocab, tgt_vocab),
                    encode_pairs(test, src_vocab, tgt_vocab))


def make_copy_task(n_train: int = 10_000, n_test: int = 1_000, min_len: int = 4, max_len: int = 24,
                   seed: int = 0) -> TranslationTask:
    """Copy random digit strings of ``min_len`` to ``max_len`` characters: the output holds as much as the input.

    Introduced in notebook 05, to measure the fixed-vector bottleneck against input length.
    """
    rng = random.Random(seed)

    def pairs(n: int) -> list[tuple[str, str]]:
        texts = ["".join(rng.choices(string.digits, k=rng.randint(min_len, max_len))) for _ in range(n)]
        return [(t, t) for t in texts]

    vocab = CharVocab(string.digits)
    return TranslationTask(vocab, vocab, encode_pairs(pairs(n_train), vocab, vocab), encode_pairs(pairs(n_test), vocab, vocab))
