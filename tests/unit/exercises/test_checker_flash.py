"""The checkers of notebook 12 (attn_course.exercises.flash): right answers pass, each mistake is named."""

import math

import numpy as np
import pytest
import torch

from attn_course.exercises import flash as check
from attn_course.flash import online_softmax as package_online_softmax

# ------------------------------------------------------------------------------------------------------------------
# online_softmax (a NumPy array x, block_size)


def online(x, block, rescale=True, divide=True, drop_last=False, keep_max=True, inverted=False):
    n = x.shape[-1]
    m, total = np.full(x.shape[:-1] + (1,), -np.inf), np.zeros(x.shape[:-1] + (1,))
    for start in range(0, n - n % block if drop_last else n, block):
        b = x[..., start:start + block]
        m_new = np.maximum(m, b.max(-1, keepdims=True))
        factor = np.exp(m_new - m) if inverted and np.isfinite(m).all() else np.exp(m - m_new)
        total = total * (factor if rescale else 1) + np.exp(b - m_new).sum(-1, keepdims=True)
        if keep_max:
            m = m_new
    return np.exp(x - m_new) / (total if divide else 1)


ONLINE_MISTAKES = [
    (lambda x, b: online(x, b, rescale=False), "the running sum is not rescaled"),
    (lambda x, b: online(x, b, divide=False), "the final division by the running sum is missing"),
    (lambda x, b: online(x, b, inverted=True), "the rescale is upside down"),
    (lambda x, b: online(x, b, keep_max=False), "the running maximum is never updated"),
    (lambda x, b: online(x, b, drop_last=True), "the last, shorter block was dropped"),
]


@pytest.mark.parametrize("fn", [online, package_online_softmax], ids=["a loop", "the package's"])
def test_online_softmax_accepts_right_answers(expect, fn):
    expect.correct(check.online_softmax, fn)


@pytest.mark.filterwarnings("ignore:overflow encountered in exp:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:invalid value encountered in divide:RuntimeWarning")
@pytest.mark.parametrize("fn, phrase", ONLINE_MISTAKES, ids=[p for _, p in ONLINE_MISTAKES])
def test_online_softmax_names_the_mistake(expect, fn, phrase):
    expect.named(check.online_softmax, fn, phrase)


@pytest.mark.filterwarnings("ignore:overflow encountered in exp:RuntimeWarning")  # the mistake being explained
@pytest.mark.filterwarnings("ignore:invalid value encountered in divide:RuntimeWarning")
def test_online_softmax_without_the_maximum_gets_the_overflow_advice(expect):
    expect.advised(check.online_softmax, lambda x, b: np.exp(x) / np.exp(x).sum(-1, keepdims=True),
                   "subtract the running maximum before exp (exp(800) overflows even in float64)")


# ------------------------------------------------------------------------------------------------------------------
# flash_step (q, k_tile, v_tile, m, l, acc) -> (m_new, l_new, acc_new)


def tile_step(q, k, v, m, l, acc, rescale=(True, True), scale=True):
    s = q @ k.T / (math.sqrt(q.shape[-1]) if scale else 1)
    m_new = torch.maximum(m, s.amax(-1, keepdim=True))
    alpha, p = torch.exp(m - m_new), torch.exp(s - m_new)
    return (m_new, (alpha if rescale[0] else 1) * l + p.sum(-1, keepdim=True),
            (alpha if rescale[1] else 1) * acc + p @ v)


def divides_early(q, k, v, m, l, acc):
    m_new, l_new, acc_new = tile_step(q, k, v, m, l, acc * l)  # acc kept normalised after every tile
    return m_new, l_new, acc_new / l_new


STEP_MISTAKES = [
    (lambda *a: tile_step(*a, rescale=(True, False)), "the accumulated values are not rescaled"),
    (lambda *a: tile_step(*a, rescale=(False, True)), "the running sum is not rescaled"),
    (lambda *a: tile_step(*a, rescale=(False, False)), "neither running sum is rescaled"),
    (lambda *a: tile_step(*a, scale=False), "the scores are not scaled"),
    (lambda *a: (lambda r: (r[1], r[0], r[2]))(tile_step(*a)), "the three results come back in the wrong order"),
    (divides_early, "acc is divided by the running sum inside the step (too early)"),
]


def test_flash_step_accepts_the_reference(expect):
    expect.correct(check.flash_step, tile_step)


@pytest.mark.parametrize("fn, phrase", STEP_MISTAKES, ids=[p for _, p in STEP_MISTAKES])
def test_flash_step_names_the_mistake(expect, fn, phrase):
    expect.named(check.flash_step, fn, phrase)


def test_flash_step_returning_two_results_is_told_it_must_return_three(expect):
    result = expect.advised(check.flash_step, lambda *a: tile_step(*a)[1:], "flash_step must return three new tensors",
                            raised="StepError")
    assert "flash_step returned tuple of 2 values; it must return three tensors, (m_new, l_new, acc_new)" in result.message


# ------------------------------------------------------------------------------------------------------------------


def test_every_exercise_has_hints(expect, exercise):
    expect.hints(check, exercise)
