"""Data the course generates itself, so nothing is downloaded (notebook 05 onwards).

- The date task (notebooks 05 and 09): human-written dates in many formats ("21 Nov 2026",
  "saturday, november 21, 2026", "11/21/26", ...) to translate into ISO ``2026-11-21``, one
  character at a time.
- The shapes task (notebook 09): 32×32 pictures of coloured shapes, with questions about them.
- The sorting task (notebook 08): digit strings to write out in order.
- Texts for the pretrained models (notebook 13): a small help-desk corpus to search, with queries that
  share almost no words with their answers, and a short story to measure a language model's loss on.
"""

from __future__ import annotations

import datetime as dt
import math
import numbers
import random
import string
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .runtime import require_int, require_number

__all__ = ["CharVocab", "DATE_FORMATS", "format_date", "random_dates", "TranslationSplit", "TranslationTask",
           "make_date_task", "make_copy_task", "encode_pairs", "pad_sequences", "SOURCE_CHARACTERS",
           "SHAPE_COLOURS", "SHAPE_KINDS", "QUADRANTS", "QUESTION_TEMPLATES", "draw_shapes", "ShapesSplit",
           "ShapesTask", "make_shapes_task", "SortTask", "make_sort_task", "SEARCH_CORPUS", "SEARCH_QUERIES", "STORY"]

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


def _require_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int):  # random.Random(None) would draw from the clock
        raise TypeError(f"seed: expected an int (the same seed gives the same data), got {type(seed).__name__} {seed!r}")
    return seed


def _check_task_sizes(n_train: int, n_test: int, seed: int) -> None:
    require_int("n_train", n_train)
    require_int("n_test", n_test)
    _require_seed(seed)


def _require_texts(name: str, texts: Sequence[str]) -> None:
    if not isinstance(texts, (list, tuple)) or not all(isinstance(t, str) for t in texts):
        raise TypeError(f"{name}: expected a list of strings, got {type(texts).__name__} {texts!r:.60}")


def _ids(ids: Sequence[int] | torch.Tensor, size: int) -> list[int]:
    """``ids`` (a 1-D integer tensor or a list of ints) as a list, each checked to be an id below ``size``."""
    if isinstance(ids, torch.Tensor):
        if ids.dtype.is_floating_point or ids.is_complex() or ids.dtype == torch.bool or ids.dim() != 1:
            raise TypeError(f"ids: expected a 1-D integer tensor, got {ids.dtype} of shape {tuple(ids.shape)}")
        ids = ids.tolist()
    if isinstance(ids, np.ndarray) and ids.dtype.kind in "iu" and ids.ndim == 1:
        ids = ids.tolist()
    if not isinstance(ids, (list, tuple)) or any(isinstance(i, bool) or not isinstance(i, numbers.Integral) for i in ids):
        raise TypeError(f"ids: expected a sequence of ints, got {ids!r:.60}")
    if any(not 0 <= i < size for i in ids):
        raise ValueError(f"ids: expected ids from 0 to {size - 1}, got {[i for i in ids if not 0 <= i < size]}")
    return list(ids)


def format_date(date: dt.date, fmt: str, case: str = "lower") -> str:
    """Write ``date`` in one of :data:`DATE_FORMATS`, in ``"lower"``, ``"title"`` or ``"upper"`` case."""
    if not isinstance(date, dt.date):
        raise TypeError(f"date: expected a datetime.date, got {type(date).__name__} {date!r}")
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
    require_int("n", n)
    rng = random.Random(_require_seed(seed))
    if days is not None:
        if not isinstance(days, (list, tuple)) or not all(isinstance(day, dt.date) for day in days):
            raise TypeError(f"days: expected a list of datetime.date, got {days!r:.60}")
        if n and not days:
            raise ValueError(f"days: expected calendar days to draw {n} dates from, got none")
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
        if not isinstance(texts, str):  # a string is its own characters
            _require_texts("texts", texts)
        self.tokens = [PAD, BOS, EOS, *sorted(set("".join(texts)))]
        self.index = {t: i for i, t in enumerate(self.tokens)}
        self.pad_id, self.bos_id, self.eos_id = 0, 1, 2

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, text: str, eos: bool = False) -> list[int]:
        """Ids of ``text``'s characters (and EOS at the end if asked); unknown characters raise."""
        if not isinstance(text, str):
            raise TypeError(f"text: expected a str, got {type(text).__name__} {text!r:.60}")
        unknown = sorted(set(text) - set(self.index))
        if unknown:
            shown = "".join(self.tokens[3:]) if len(self.tokens) <= 23 else "".join(self.tokens[3:13]) + "..."
            raise ValueError(f"text: characters {unknown} are not in the vocabulary "
                             f"({len(self.tokens) - 3} characters: {shown!r}; see .tokens)")
        return [self.index[c] for c in text] + ([self.eos_id] if eos else [])

    def decode(self, ids: Sequence[int] | torch.Tensor) -> str:
        """The text of ``ids``, up to the first EOS, skipping padding and BOS."""
        out = []
        for i in _ids(ids, len(self.tokens)):
            if i == self.eos_id:
                break
            if i > self.eos_id:
                out.append(self.tokens[i])
        return "".join(out)


def pad_sequences(seqs: Sequence[Sequence[int]], pad_id: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack id lists of different lengths into ``(B, S_max)`` with padding, plus their ``(B,)`` lengths."""
    if not isinstance(seqs, (list, tuple)) or not all(
            isinstance(s, (list, tuple)) and all(isinstance(i, numbers.Integral) and not isinstance(i, bool) for i in s)
            for s in seqs):
        raise TypeError(f"seqs: expected a list of lists of ints, got {seqs!r:.60}")
    if isinstance(pad_id, bool) or not isinstance(pad_id, numbers.Integral):
        raise TypeError(f"pad_id: expected an int, got {type(pad_id).__name__} {pad_id!r}")
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
        _require_texts("texts", texts)
        return pad_sequences([self.src_vocab.encode(t) for t in texts], self.src_vocab.pad_id)


def encode_pairs(pairs: list[tuple[str, str]], src_vocab: CharVocab, tgt_vocab: CharVocab) -> TranslationSplit:
    """Encode and pad ``(source, target)`` pairs; each target ends with EOS."""
    for name, vocab in (("src_vocab", src_vocab), ("tgt_vocab", tgt_vocab)):
        if not isinstance(vocab, CharVocab):
            raise TypeError(f"{name}: expected a CharVocab, got {type(vocab).__name__}")
    if not isinstance(pairs, (list, tuple)) or not all(
            isinstance(pair, (list, tuple)) and len(pair) == 2 and all(isinstance(t, str) for t in pair) for pair in pairs):
        raise TypeError(f"pairs: expected a list of (source, target) string pairs, got {pairs!r:.60}")
    src, lengths = pad_sequences([src_vocab.encode(s) for s, _ in pairs])
    tgt, _ = pad_sequences([tgt_vocab.encode(t, eos=True) for _, t in pairs])
    return TranslationSplit(pairs, src, lengths, tgt)


def make_date_task(n_train: int = 10_000, n_test: int = 1_000, seed: int = 0) -> TranslationTask:
    """Generate the date task: held-out test dates are calendar days that training never sees.

    Introduced in notebook 05.
    """
    _check_task_sizes(n_train, n_test, seed)
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
    _check_task_sizes(n_train, n_test, seed)
    if require_int("max_len", max_len) < require_int("min_len", min_len):
        raise ValueError(f"max_len: expected at least min_len = {min_len}, got {max_len}")
    rng = random.Random(seed)

    def pairs(n: int) -> list[tuple[str, str]]:
        texts = ["".join(rng.choices(string.digits, k=rng.randint(min_len, max_len))) for _ in range(n)]
        return [(t, t) for t in texts]

    vocab = CharVocab(string.digits)
    return TranslationTask(vocab, vocab, encode_pairs(pairs(n_train), vocab, vocab), encode_pairs(pairs(n_test), vocab, vocab))


# ---------------------------------------------------------------------------------------------
# The shapes task (notebook 09): small pictures and questions about them.

SHAPE_COLOURS = {"red": (0.90, 0.15, 0.15), "green": (0.15, 0.75, 0.20), "blue": (0.20, 0.40, 1.00),
                 "yellow": (0.95, 0.85, 0.10)}
SHAPE_KINDS = ("square", "circle", "triangle")
QUADRANTS = ("top-left", "top-right", "bottom-left", "bottom-right")
QUESTION_TEMPLATES = {
    "colour": "what colour is the {kind} ?",
    "kind": "what shape is the {colour} one ?",
    "where": "where is the {colour} {kind} ?",
}


def _shape_pixels(kind: str, size: int) -> np.ndarray:
    """A ``(size, size)`` boolean stencil of a filled square, circle or upward triangle."""
    y, x = np.mgrid[0:size, 0:size] + 0.5  # pixel centres
    if kind == "square":
        return np.ones((size, size), dtype=bool)
    if kind == "circle":
        return (y - size / 2) ** 2 + (x - size / 2) ** 2 <= (size / 2) ** 2
    return np.abs(x - size / 2) <= y / 2  # a triangle: apex at the top, as wide as the stencil at the bottom


def draw_shapes(shapes: Sequence[tuple[str, str, int, int, int]], image_size: int = 32, noise: float = 0.03,
                rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``(kind, colour, top, left, size)`` shapes on a dark background.

    Returns the image ``(3, image_size, image_size)`` float32 in [0, 1] and a ``(n, image_size,
    image_size)`` boolean mask of each shape's pixels.
    """
    require_int("image_size", image_size, 1)
    if not math.isfinite(require_number("noise", noise, minimum=0)):
        raise ValueError(f"noise: expected a finite standard deviation, got {noise}")
    if rng is not None and not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng: expected a numpy.random.Generator (np.random.default_rng(seed)), got {type(rng).__name__}")
    _check_shapes(shapes, image_size)
    rng = rng or np.random.default_rng(0)
    image = np.full((image_size, image_size, 3), 0.08) + noise * rng.standard_normal((image_size, image_size, 3))
    masks = np.zeros((len(shapes), image_size, image_size), dtype=bool)
    for i, (kind, colour, top, left, size) in enumerate(shapes):
        masks[i, top:top + size, left:left + size] = _shape_pixels(kind, size)
        image[masks[i]] = np.asarray(SHAPE_COLOURS[colour]) * rng.uniform(0.8, 1.0)  # a little shading
    return np.clip(image, 0, 1).transpose(2, 0, 1).astype(np.float32), masks


def _check_shapes(shapes: Sequence[tuple[str, str, int, int, int]], image_size: int) -> None:
    if not isinstance(shapes, (list, tuple)):
        raise TypeError(f"shapes: expected a list of (kind, colour, top, left, size) tuples, got {type(shapes).__name__}")
    for shape in shapes:
        if not isinstance(shape, (tuple, list)) or len(shape) != 5 or not all(
                isinstance(n, numbers.Integral) and not isinstance(n, bool) and n >= 0 for n in shape[2:]):
            raise TypeError(f"shapes: expected (kind, colour, top, left, size) with whole numbers >= 0, got {shape!r}")
        kind, colour, top, left, size = shape
        if kind not in SHAPE_KINDS or colour not in SHAPE_COLOURS:
            raise ValueError(f"shapes: expected a kind in {SHAPE_KINDS} and a colour in {tuple(SHAPE_COLOURS)}, got {shape!r}")
        if top + size > image_size or left + size > image_size:
            raise ValueError(f"shapes: {shape!r} does not fit in an image of {image_size} x {image_size} pixels")


@dataclass
class ShapesSplit:
    """One split of the shapes task: images, encoded questions, answer ids and the asked-about shape's pixels.

    ``images (N, 3, H, W)`` float, ``questions (N, Lq)`` word ids (0 = padding, at the end),
    ``answers (N,)`` answer ids, ``targets (N, H, W)`` True on the shape the question is about,
    ``texts`` the ``(question, answer)`` strings.
    """

    images: torch.Tensor
    questions: torch.Tensor
    answers: torch.Tensor
    targets: torch.Tensor
    texts: list[tuple[str, str]]

    def __len__(self) -> int:
        return len(self.texts)


@dataclass
class ShapesTask:
    """Questions about coloured shapes: the word and answer vocabularies and the train/test splits."""

    words: list[str]
    answers: list[str]
    train: ShapesSplit
    test: ShapesSplit

    def encode_question(self, text: str, length: int | None = None) -> torch.Tensor:
        """Word ids of a question ``(Lq,)``, padded with 0 to ``length``; unknown words raise."""
        if not isinstance(text, str):
            raise TypeError(f"text: expected a str, got {type(text).__name__}")
        unknown = [w for w in text.split() if w not in self.words]
        if unknown:
            raise ValueError(f"text: words {unknown} are not in the vocabulary {self.words[1:]}")
        ids = [self.words.index(w) for w in text.split()]
        if length is not None and require_int("length", length) < len(ids):
            raise ValueError(f"length: expected at least the question's {len(ids)} words, got {length}")
        return torch.tensor(ids + [0] * ((length or len(ids)) - len(ids)), dtype=torch.long)


def _random_scene(rng: np.random.Generator, image_size: int, max_shapes: int) -> list[tuple[str, str, int, int, int]]:
    """One to ``max_shapes`` shapes, each of a different kind and colour, each somewhere inside its own quadrant."""
    n = int(rng.integers(1, max_shapes + 1))
    kinds = rng.permutation(SHAPE_KINDS)[:n]
    colours = rng.permutation(list(SHAPE_COLOURS))[:n]
    quadrants = rng.permutation(len(QUADRANTS))[:n]
    half = image_size // 2
    scene = []
    for kind, colour, q in zip(kinds, colours, quadrants):
        size = half * 3 // 4  # 12 pixels in a 32-pixel image: one size, so a shape's area tells its kind
        top = (q // 2) * half + int(rng.integers(0, half - size + 1))
        left = (q % 2) * half + int(rng.integers(0, half - size + 1))
        scene.append((str(kind), str(colour), top, left, size))
    return scene


def _shapes_split(n: int, rng: np.random.Generator, image_size: int, max_shapes: int, words: list[str],
                  answers: list[str]) -> ShapesSplit:
    if n == 0:  # an empty split, with the shapes and dtypes of a full one
        return ShapesSplit(torch.zeros(0, 3, image_size, image_size), torch.zeros(0, 0, dtype=torch.long),
                           torch.zeros(0, dtype=torch.long), torch.zeros(0, image_size, image_size, dtype=torch.bool), [])
    images, targets, texts = [], [], []
    for _ in range(n):
        scene = _random_scene(rng, image_size, max_shapes)
        image, masks = draw_shapes(scene, image_size, rng=rng)
        pick = int(rng.integers(len(scene)))
        kind, colour, top, left, size = scene[pick]
        question = str(rng.choice(list(QUESTION_TEMPLATES)))
        half = image_size // 2
        answer = {"colour": colour, "kind": kind, "where": QUADRANTS[2 * (top >= half) + (left >= half)]}[question]
        images.append(image)
        targets.append(masks[pick])
        texts.append((QUESTION_TEMPLATES[question].format(kind=kind, colour=colour), answer))
    width = max(len(q.split()) for q, _ in texts)
    questions = [[words.index(w) for w in q.split()] for q, _ in texts]
    return ShapesSplit(torch.from_numpy(np.stack(images)),
                       torch.tensor([q + [0] * (width - len(q)) for q in questions], dtype=torch.long),
                       torch.tensor([answers.index(a) for _, a in texts], dtype=torch.long),
                       torch.from_numpy(np.stack(targets)), texts)


def make_shapes_task(n_train: int = 4000, n_test: int = 500, seed: int = 0, image_size: int = 32,
                     max_shapes: int = 3) -> ShapesTask:
    """Generate images with one to ``max_shapes`` coloured shapes and one question about each image.

    The questions are "what colour is the triangle ?", "what shape is the red one ?" and "where is
    the red square ?" (answered with a quadrant). Every shape in an image has its own kind, colour
    and quadrant, so each question has one answer. Test images are drawn after the training ones
    from the same seed. Introduced in notebook 09.
    """
    _check_task_sizes(n_train, n_test, seed)
    require_int("image_size", image_size, 4)  # a quadrant of 2 pixels holds a shape of 1
    if not 1 <= require_int("max_shapes", max_shapes, 1) <= len(SHAPE_KINDS):
        raise ValueError(f"max_shapes: expected 1 to {len(SHAPE_KINDS)} (each shape has a kind of its own), got {max_shapes}")
    words = sorted({w for t in QUESTION_TEMPLATES.values() for w in t.split() if "{" not in w})
    words = ["<pad>", *words, *SHAPE_COLOURS, *SHAPE_KINDS]
    answers = [*SHAPE_COLOURS, *SHAPE_KINDS, *QUADRANTS]
    rng = np.random.default_rng(seed)
    train = _shapes_split(n_train, rng, image_size, max_shapes, words, answers)
    test = _shapes_split(n_test, rng, image_size, max_shapes, words, answers)
    return ShapesTask(words, answers, train, test)


# ---------------------------------------------------------------------------------------------
# The sorting task (notebook 08): a decoder-only model reads digits, then writes them in order.

@dataclass
class SortTask:
    """Digit strings followed by ``>`` and the same digits sorted, as id sequences for a decoder-only model.

    ``train (N, 2n + 1)`` and ``test`` hold ids of ``vocab`` (``"31415926>11234569"``); a model reads
    the first ``prompt_len = n + 1`` tokens and must write the remaining ``n``. No test string
    appears in training.
    """

    vocab: CharVocab
    length: int
    train: torch.Tensor
    test: torch.Tensor

    @property
    def prompt_len(self) -> int:
        return self.length + 1

    def encode(self, digits: str) -> torch.Tensor:
        """The prompt ``(1, n + 1)`` for a string of ``n`` digits: the digits, then ``>``."""
        if not isinstance(digits, str) or len(digits) != self.length or not digits.isdigit():
            raise ValueError(f"digits: expected {self.length} digits, got {digits!r}")
        return torch.tensor([self.vocab.encode(digits + ">")], dtype=torch.long)

    def decode(self, ids: torch.Tensor) -> str:
        """The text of one sequence of ids."""
        return "".join(self.vocab.tokens[i] for i in _ids(ids, len(self.vocab)))


def make_sort_task(n_train: int = 20_000, n_test: int = 1_000, length: int = 8, seed: int = 0) -> SortTask:
    """Random strings of ``length`` digits and their sorted versions; test strings never occur in training.

    Introduced in notebook 08.
    """
    _check_task_sizes(n_train, n_test, seed)
    if 10 ** require_int("length", length, 1) < n_train + n_test:  # else the loop below would never end
        raise ValueError(f"length: {length} digits make only {10 ** length} distinct strings, fewer than the "
                         f"{n_train + n_test} asked for (n_train + n_test)")
    rng = random.Random(seed)
    strings: dict[str, None] = {}
    while len(strings) < n_train + n_test:  # distinct strings, in the order drawn
        strings["".join(rng.choices(string.digits, k=length))] = None
    vocab = CharVocab(string.digits + ">")
    ids = torch.tensor([vocab.encode(s + ">" + "".join(sorted(s))) for s in strings], dtype=torch.long)
    return SortTask(vocab, length, ids[:n_train], ids[n_train:])


# ---------------------------------------------------------------------------------------------------------------------
# Texts for notebook 13, written for this course
# ---------------------------------------------------------------------------------------------------------------------

# (topic, text): eight topics of five short help-desk answers each.
SEARCH_CORPUS: list[tuple[str, str]] = [
    ("cooking", "Let the dough rest in a warm place until it has doubled in size before you bake the loaf."),
    ("cooking", "Sear the steak in a very hot pan for two minutes on each side, then let it rest."),
    ("cooking", "Add a pinch of salt to the water before you boil the pasta."),
    ("cooking", "Whisk the egg whites until they hold stiff peaks, then fold them gently into the batter."),
    ("cooking", "A slow cooker turns cheap, tough cuts of beef tender after eight hours on low."),
    ("travel", "Book train tickets early: fares between the big cities rise as the departure date nears."),
    ("travel", "Most airlines let you take one small bag into the cabin free of charge."),
    ("travel", "Check that your passport is valid for at least six months after the date you arrive."),
    ("travel", "To beat jet lag, get outside in daylight on your first morning in the new time zone."),
    ("travel", "Hostels with shared dormitories are the cheapest places to sleep in most European capitals."),
    ("computers", "If your notebook runs hot, clean the dust out of its fan and vents and keep it on a hard surface."),
    ("computers", "Restart the router when the wireless network keeps dropping out."),
    ("computers", "Use a password manager so that every account gets a long, different password."),
    ("computers", "Back up your photos to an external drive and to a cloud service, in case one of them fails."),
    ("computers", "Close the browser tabs you are not using to free memory on an older machine."),
    ("health", "Adults should aim for seven to nine hours of sleep every night."),
    ("health", "Drink water regularly during exercise, especially on hot days."),
    ("health", "Wash your hands with soap for twenty seconds to stop colds from spreading."),
    ("health", "A brisk thirty-minute walk most days lowers blood pressure."),
    ("health", "See a doctor if a fever lasts longer than three days."),
    ("gardening", "Water tomato plants at the base in the early morning, not on their leaves."),
    ("gardening", "Plant tulip bulbs in autumn, about three times as deep as the bulb is tall."),
    ("gardening", "Prune roses in late winter, just before the new shoots appear."),
    ("gardening", "Compost kitchen scraps and dry leaves together to make rich soil for the flower beds."),
    ("gardening", "Slugs eat young lettuce; a ring of crushed eggshells keeps many of them away."),
    ("money", "Put a small part of every salary into a savings account before you spend anything."),
    ("money", "Pay off the credit card with the highest interest rate first."),
    ("money", "An index fund spreads your investment over hundreds of companies at a low fee."),
    ("money", "Compare energy suppliers once a year; switching often cuts the bill."),
    ("money", "Keep an emergency fund worth three months of expenses."),
    ("pets", "Puppies need to go outside to relieve themselves every two hours."),
    ("pets", "Cats scratch furniture less when they have a tall scratching post of their own."),
    ("pets", "Chocolate and grapes are poisonous to dogs."),
    ("pets", "Clean the aquarium filter every month and change a quarter of the water every week."),
    ("pets", "Brush a long-haired cat several times a week to prevent matted fur."),
    ("music", "Tune the guitar before every practice session, starting from the low E string."),
    ("music", "Practise scales slowly with a metronome, then raise the tempo a little each day."),
    ("music", "A pianist's wrists should stay relaxed and level with the keys."),
    ("music", "Singers warm up their voice with humming and gentle slides before a performance."),
    ("music", "Learn to read sheet music by naming the notes on the lines and spaces of the staff."),
]

# (query, index of the answer in SEARCH_CORPUS): each asks for one answer in other words.
SEARCH_QUERIES: list[tuple[str, int]] = [
    ("My laptop is overheating, what should I do?", 10),
    ("How long should grown-ups sleep?", 15),
    ("Which foods must I never give my dog?", 32),
    ("When is the right time to cut back rose bushes?", 22),
    ("How can I make my meat juicy?", 1),
    ("I keep losing my internet connection.", 11),
    ("How much cash should I keep aside for a crisis?", 29),
    ("I feel exhausted after a long flight across the world.", 8),
    ("How do I stop my kitten ruining the sofa?", 31),
    ("What makes bread rise?", 0),
]

STORY = """The lighthouse keeper woke before dawn, as he had every morning for thirty years. He climbed the \
spiral stairs, counting the steps out of habit, and checked the lamp, the lens and the clockwork that turned them. \
Outside, the sea was calm and grey, and a thin fog lay over the harbour. He wrote the time, the weather and the \
state of the light in his logbook, in the same careful hand his father had taught him.

After breakfast he walked down to the village to buy bread, fish and oil. The baker asked about the fog; the \
fisherman complained about the price of nets; the schoolteacher wanted to know whether the children could visit \
the tower again before winter. He said yes to all of them, because the tower was the only thing in the village \
that everyone shared, and he liked to see it used.

In the afternoon the wind rose from the west. By evening the waves were breaking over the rocks below the tower, \
and the rain came in long, slanting lines. He lit the lamp early, wound the clockwork, and sat by the window with \
a cup of tea, watching the beam sweep across the water. Somewhere out there, he knew, a small boat was trying to \
find its way home.

Near midnight he saw it: a single light, rising and falling on the waves, far to the south of the safe channel. \
He took the signal lantern, climbed to the gallery and flashed the old warning his father had taught him, three \
short and one long, again and again. For a long time nothing changed. Then, slowly, the small light turned north, \
found the channel and crept towards the harbour.
"""
