"""The checkers of notebook 04 (attn_course.exercises.masking): right answers pass, each mistake is named."""

import math

import pytest
import torch

import attn_course as ac
from attn_course.exercises import masking as check

# ------------------------------------------------------------------------------------------------------------------
# scaled_dot_product_attention


def sdpa_with(scale_fn=lambda E: 1 / math.sqrt(E), dim=-1, fill=float("-inf"), invert=False, after=False, ignore=False):
    """An attention function with one chosen mistake; the defaults are right."""
    def fn(q, k, v, mask=None):
        s = q @ k.transpose(-2, -1) * scale_fn(q.shape[-1])
        keep = None if mask is None or ignore else (~mask if invert else mask)
        if keep is not None and not after:
            s = s.masked_fill(~keep, fill)
        w = torch.softmax(s, dim=dim)
        return (w * keep if after and keep is not None else w) @ v
    return fn


def sdpa_scaled_by(width):
    """The package's attention, scaled by 1/sqrt of another width than E's (``width(q, k, v)``)."""
    return lambda q, k, v, mask=None: ac.scaled_dot_product_attention(q, k, v, mask, scale=width(q, k, v) ** -0.5)


SDPA_MISTAKES = [
    (sdpa_with(scale_fn=lambda E: 1.0), "the scores are not scaled: divide them by sqrt(D)"),
    (sdpa_with(scale_fn=lambda E: 1 / E), "you divided by D; divide by sqrt(D)"),
    (sdpa_with(scale_fn=lambda E: math.sqrt(E)), "you multiplied by sqrt(D)"),
    (sdpa_with(dim=-2), "softmax over the queries (dim=-2)"),
    (sdpa_scaled_by(lambda q, k, v: k.shape[-2]), "the square root of the number of keys S"),
    (sdpa_scaled_by(lambda q, k, v: v.shape[-1]), "the square root of the value width"),
    (sdpa_with(after=True), "the mask was applied after softmax"),
    (sdpa_with(fill=0.0), "masked scores were set to 0"),
    (sdpa_with(invert=True), "the mask is inverted"),
    # the same mistake written with a NaN-free softmax, and with the package's attention
    (lambda q, k, v, mask=None: sdpa_with(invert=True)(q, k, v, mask).nan_to_num(0), "the mask is inverted"),
    (lambda q, k, v, mask=None: ac.scaled_dot_product_attention(q, k, v, None if mask is None else ~mask),
     "the mask is inverted"),
    (sdpa_with(ignore=True), "the mask was ignored"),
]


def test_scaled_dot_product_attention_accepts_the_reference(expect):
    expect.correct(check.scaled_dot_product_attention,
                   lambda q, k, v, mask=None: ac.scaled_dot_product_attention(q, k, v, mask))


@pytest.mark.parametrize("fn, phrase", SDPA_MISTAKES, ids=[p for _, p in SDPA_MISTAKES])
def test_scaled_dot_product_attention_names_the_mistake(expect, fn, phrase):
    expect.named(check.scaled_dot_product_attention, fn, phrase)


@pytest.mark.filterwarnings("ignore:The use of `x.T`:UserWarning")
def test_scaled_dot_product_attention_with_k_T_on_a_batch_gets_the_transpose_advice(expect):
    expect.advised(check.scaled_dot_product_attention, lambda q, k, v, mask=None: q @ k.T,
                   "k.transpose(-2, -1), not k.T", raised="RuntimeError")


# ------------------------------------------------------------------------------------------------------------------
# causal_mask


def ones(L):
    return torch.ones(L, L, dtype=torch.bool)


CAUSAL_MISTAKES = [
    (lambda L: ones(L).tril(-1), "the diagonal must be True"),
    (lambda L: ones(L).tril(1), "each query sees one key of the future"),
    (lambda L: ~ones(L).tril(), "the mask is inverted"),
    (lambda L: ones(L).triu(), "this is the upper triangle"),
]


def test_causal_mask_accepts_the_reference(expect):
    expect.correct(check.causal_mask, ac.causal_mask)


@pytest.mark.parametrize("fn, phrase", CAUSAL_MISTAKES, ids=[p for _, p in CAUSAL_MISTAKES])
def test_causal_mask_names_the_mistake(expect, fn, phrase):
    expect.named(check.causal_mask, fn, phrase)


def test_causal_mask_of_floats_gets_the_dtype_verdict(expect):
    expect.generic(check.causal_mask, lambda L: torch.ones(L, L).tril(),
                   "Dtype is torch.float32, expected torch.bool (the values are right).")


def test_causal_mask_of_a_wrong_shape_no_mistake_explains_gets_the_generic_verdict(expect):
    expect.generic(check.causal_mask, lambda L: ones(L).tril() if L == 1 else torch.zeros(1),
                   "Wrong number of dimensions on L=4: got shape (1,), expected (4, 4).")


# ------------------------------------------------------------------------------------------------------------------
# padding_mask


def positions(n, S):
    return torch.arange(S)[None], torch.tensor(n)[:, None]


PADDING_MISTAKES = [
    (lambda n, S: ~ac.padding_mask(n, S), "nn.MultiheadAttention's key_padding_mask convention"),
    (lambda n, S: (lambda j, n: j <= n)(*positions(n, S)), "(positions start at 0)"),
    (lambda n, S: ac.padding_mask(n, S).T, "the mask is transposed"),
    (lambda n, S: (lambda j, n: j < n - 1)(*positions(n, S)), "each sequence lost its last real token"),
]


def test_padding_mask_accepts_the_reference(expect):
    expect.correct(check.padding_mask, ac.padding_mask)


@pytest.mark.parametrize("fn, phrase", PADDING_MISTAKES, ids=[p for _, p in PADDING_MISTAKES])
def test_padding_mask_names_the_mistake(expect, fn, phrase):
    expect.named(check.padding_mask, fn, phrase)


# ------------------------------------------------------------------------------------------------------------------


def test_every_exercise_has_hints(expect, exercise):
    expect.hints(check, exercise)
