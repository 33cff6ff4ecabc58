"""The checkers of notebook 02 (attn_course.exercises.softmax): right answers pass, each mistake is named."""

import pytest
import torch

import attn_course as ac
from attn_course.exercises import softmax as check

OVERFLOW = "exp of a large score is inf in float32 and inf/inf is NaN"  # softmax's overflow, not its NaN advice


def naive_softmax(x):
    e = torch.exp(x)
    return e / e.sum(-1, keepdim=True)


# ------------------------------------------------------------------------------------------------------------------
# softmax

SOFTMAX_MISTAKES = [
    (lambda x: torch.softmax(x, 0), "you normalised over an axis other than the last"),
    (lambda x: torch.softmax(x, -2), "you normalised over an axis other than the last"),
    (torch.exp, "the weights do not sum to 1: divide exp(x) by its row sum"),
    (naive_softmax, OVERFLOW),
    (lambda x: naive_softmax(x - x.max()), "you subtracted one maximum for the whole tensor"),
    (lambda x: naive_softmax(x - x.amin(-1, keepdim=True)), "you shifted by the row minimum or mean"),
    # The mean of the first row spanning -100 to +200 is 0, so there the mean shift is the naive softmax: the checker
    # names the overflow, never reaching its "minimum or mean" verdict.
    (lambda x: naive_softmax(x - x.mean(-1, keepdim=True)), OVERFLOW),
    (lambda x: torch.exp(x - x.amax(-1, keepdim=True)), "the weights do not sum to 1 (the largest is 1)"),
]


def test_softmax_accepts_the_reference(expect):
    expect.correct(check.softmax, lambda x: ac.softmax(x))


@pytest.mark.filterwarnings("ignore:overflow encountered in exp:RuntimeWarning")  # the mistake being named
@pytest.mark.parametrize("fn, phrase", SOFTMAX_MISTAKES, ids=[p for _, p in SOFTMAX_MISTAKES])
def test_softmax_names_the_mistake(expect, fn, phrase):
    expect.named(check.softmax, fn, phrase)


def test_softmax_without_keepdim_gets_the_shape_advice(expect):
    expect.generic(check.softmax, lambda x: x.exp() / x.exp().sum(-1), "did you reduce without keepdim=True")


# ------------------------------------------------------------------------------------------------------------------
# softmax_temperature

TEMPERATURE_MISTAKES = [
    (lambda x, temp: torch.softmax(x * temp, -1), "you multiplied by the temperature"),
    (lambda x, temp: torch.softmax(x, -1), "the temperature has no effect in your answer"),
]


def test_softmax_temperature_accepts_the_reference(expect):
    expect.correct(check.softmax_temperature, lambda x, temp: ac.softmax(x, temperature=temp))


@pytest.mark.parametrize("fn, phrase", TEMPERATURE_MISTAKES, ids=[p for _, p in TEMPERATURE_MISTAKES])
def test_softmax_temperature_names_the_mistake(expect, fn, phrase):
    expect.named(check.softmax_temperature, fn, phrase)


# ------------------------------------------------------------------------------------------------------------------
# logsumexp

LOGSUMEXP_MISTAKES = [
    (lambda x: torch.log(torch.exp(x).sum(-1)), "so log(sum(exp(x))) is inf"),
    (lambda x: torch.log(torch.exp(x - x.amax(-1, keepdim=True)).sum(-1)), "did not add it back after the log"),
    (lambda x: x.max() + torch.log(torch.exp(x - x.max()).sum(-1)), "you used one maximum for the whole tensor"),
    (lambda x: torch.logsumexp(x, -1, keepdim=True), "you kept the reduced axis"),
]


def test_logsumexp_accepts_the_reference(expect):
    expect.correct(check.logsumexp, lambda x: ac.logsumexp(x))


@pytest.mark.parametrize("fn, phrase", LOGSUMEXP_MISTAKES, ids=[p for _, p in LOGSUMEXP_MISTAKES])
def test_logsumexp_names_the_mistake(expect, fn, phrase):
    expect.named(check.logsumexp, fn, phrase)


def test_logsumexp_of_the_plain_sum_gets_the_nan_advice(expect):
    expect.advised(check.logsumexp, lambda x: torch.log(x.sum(-1)), "NaN or inf in your answer: exp overflows")


# ------------------------------------------------------------------------------------------------------------------


def test_every_exercise_has_hints(expect, exercise):
    expect.hints(check, exercise)
