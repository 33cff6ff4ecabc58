"""The checkers of notebook 13 (attn_course.exercises.pretrained): right answers pass, learners' mistakes are named.

The notebook sets its exercises in this order: cache_bytes (a prediction), cached_step, induction_scores, decoder_mask.
"""

import math

import pytest
import torch
import torch.nn.functional as F

import attn_course as ac
from attn_course.exercises import pretrained as check

# ------------------------------------------------------------------------------------------------------------------
# cache_bytes (a prediction: a number, not a function)

RIGHT_BYTES = 2 * 30 * 8 * 4096 * 3 * 64 * 2
CACHE_VERDICTS = list(check._cache_mistakes(check.kv_cache_bytes(**check.SMOLLM2_CACHE)))  # it has no run_cases


@pytest.mark.parametrize("prediction", [RIGHT_BYTES, float(RIGHT_BYTES), 755e6, torch.tensor(RIGHT_BYTES)])
def test_cache_bytes_accepts_the_right_number_within_one_percent(expect, prediction):
    expect.correct(check.cache_bytes, prediction)


# Several mistakes give the same number, so one verdict names them all: each phrase picks out the verdict and its part.
CACHE_MISTAKES = [
    (RIGHT_BYTES * 3, "with 9 key/value heads, one per query head"),
    (2 * 30 * 8 * 4096 * 576 * 2, "with the model width E = 576 where Hkv·D = 192 belongs"),
    (RIGHT_BYTES // 2, "you counted only the keys"),
    (2 * 30 * 8 * 4096 * 3 * 32 * 2, "or heads 32 wide"),
    (RIGHT_BYTES // 30, "that is one layer's cache"),
    (RIGHT_BYTES // 8, "that is one sequence's cache"),
    (RIGHT_BYTES * 2, "float32 (4 bytes per value)"),
    (2 * 30 * 8 * 8192 * 3 * 64 * 2, "or 8,192 positions"),
    (RIGHT_BYTES * 8, "that is in bits"),
    (RIGHT_BYTES / 1e9, "that is the answer in GB;"),
    (RIGHT_BYTES / 2**30, "that is the answer in GiB;"),
    (RIGHT_BYTES / 1e6, "that is the answer in MB;"),
    (RIGHT_BYTES / 2**20, "that is the answer in MiB;"),
]


@pytest.mark.parametrize("prediction, phrase", CACHE_MISTAKES, ids=[p for _, p in CACHE_MISTAKES])
def test_cache_bytes_names_mistakes(expect, prediction, phrase):
    expect.named(check.cache_bytes, prediction, phrase, among=CACHE_VERDICTS)


@pytest.mark.parametrize("prediction, description", [
    (12345, "Your prediction is too small, by more than a factor of 2."),
    (5e8, "Your prediction is too small, by less than a factor of 2."),
    (1e10, "Your prediction is too large, by more than a factor of 2."),
])
def test_cache_bytes_says_only_too_large_or_too_small_for_other_numbers(expect, prediction, description):
    expect.generic(check.cache_bytes, prediction, description, among=CACHE_VERDICTS)


@pytest.mark.parametrize("prediction, status", [(..., "not attempted"), (None, "not attempted"), ("755 MB", "wrong"),
                                                (float("nan"), "wrong"), (True, "wrong")])
def test_cache_bytes_never_raises_on_odd_predictions(prediction, status):
    result = check.cache_bytes(prediction, record=False)
    assert result.status == status
    expected = "Replace `...` with your prediction" if status == "not attempted" else "Expected a number of bytes, got "
    assert result.message.startswith(expected), result.message


@pytest.mark.parametrize("prediction", [12345, 5e8, 1e10, -3.0, 0])
def test_cache_bytes_never_gives_the_answer_away(prediction):
    text = str(check.cache_bytes(prediction, record=False))
    assert "754" not in text and "755" not in text and "720" not in text and "times" not in text


# ------------------------------------------------------------------------------------------------------------------
# cached_step


def step(q, k_new, v_new, cache_k, cache_v, *, repeat="interleave", causal=False, append=True, scale=None,
         manual=False):
    """A learner's cached step with one chosen mistake; the defaults are right."""
    k = torch.cat([cache_k, k_new], 2) if append else cache_k
    v = torch.cat([cache_v, v_new], 2) if append else cache_v
    g = q.size(1) // k.size(1)
    if repeat == "interleave":
        k, v = k.repeat_interleave(g, 1), v.repeat_interleave(g, 1)
    elif repeat == "expand":  # the same as repeat_interleave, via expand and reshape
        B, Hkv, S, D = k.shape
        k = k[:, :, None].expand(B, Hkv, g, S, D).reshape(B, Hkv * g, S, D)
        v = v[:, :, None].expand(B, Hkv, g, S, D).reshape(B, Hkv * g, S, D)
    else:
        k, v = k.repeat(1, g, 1, 1), v.repeat(1, g, 1, 1)
    if manual:
        w = torch.softmax(q @ k.transpose(-2, -1) * (scale or 1 / math.sqrt(q.size(-1))), -1)
        return w @ v
    return F.scaled_dot_product_attention(q, k, v, is_causal=causal, scale=scale)


@pytest.mark.parametrize("fn", [step, lambda *a: step(*a, repeat="expand"), lambda *a: step(*a, manual=True)],
                         ids=["repeat_interleave", "expand", "by hand"])
def test_cached_step_accepts_right_answers(expect, fn):
    expect.correct(check.cached_step, fn)


def top_left(q, k_new, v_new, cache_k, cache_v):
    """An explicit mask aligned top-left, as causal_mask(1, S + 1) makes it."""
    k, v = torch.cat([cache_k, k_new], 2), torch.cat([cache_v, v_new], 2)
    g = q.size(1) // k.size(1)
    k, v = k.repeat_interleave(g, 1), v.repeat_interleave(g, 1)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=ac.causal_mask(1, k.size(2)))


def notebook_bug(q, k_new, v_new, cache_k, cache_v):
    """The notebook's buggy version, retyped."""
    k = torch.cat([cache_k, k_new], dim=2)
    v = torch.cat([cache_v, v_new], dim=2)
    group = q.size(1) // k.size(1)
    k, v = k.repeat(1, group, 1, 1), v.repeat(1, group, 1, 1)
    return F.scaled_dot_product_attention(q, k, v, is_causal=True)


STEP_MISTAKES = [
    (lambda *a: step(*a, repeat="repeat", causal=True), "both bugs are still there"),
    (notebook_bug, "both bugs are still there"),
    (lambda *a: step(*a, repeat="repeat"), "Use repeat_interleave(g, dim=1)"),
    (lambda *a: step(*a, causal=True), "a causal mask aligned top-left"),
    (top_left, "causal_mask(1, S + 1)"),
    (lambda *a: step(*a, append=False), "the new key and value were not appended"),
]


@pytest.mark.parametrize("fn, phrase", STEP_MISTAKES, ids=[f"{fn.__name__}: {p}" for fn, p in STEP_MISTAKES])
def test_cached_step_names_mistakes(expect, fn, phrase):
    expect.named(check.cached_step, fn, phrase)


def test_cached_step_dropping_the_query_axis_gets_the_dimensions_verdict(expect):
    expect.generic(check.cached_step, lambda q, *a: step(q, *a)[:, :, 0],
                   "Wrong number of dimensions on B=2, H=6, Hkv=2, S=5, D=4: got shape (2, 6, 4), expected (2, 6, 1, 4).")


def test_cached_step_advice_on_a_crash_is_about_shapes(expect):
    def no_repeat(q, k_new, v_new, cache_k, cache_v):  # forgets the key/value heads are fewer: a shape error
        k, v = torch.cat([cache_k, k_new], 2), torch.cat([cache_v, v_new], 2)
        return torch.softmax(q @ k.transpose(-2, -1), -1) @ v

    expect.advised(check.cached_step, no_repeat, "give each query head its group's key/value head", raised="RuntimeError")


# ------------------------------------------------------------------------------------------------------------------
# induction_scores (weights (..., 2T, 2T), T)


def scores_loop(weights, T):
    out = torch.zeros(weights.shape[:-2])
    for i in range(T, 2 * T):
        out += weights[..., i, i - T + 1]
    return out / T


def at(row, column, reduce="mean"):
    """The learner's score: weights[..., row(i, T), column(i, T)] for i = T .. 2T - 1, reduced over i."""
    return lambda w, T: getattr(torch.stack([w[..., row(i, T), column(i, T)] for i in range(T, 2 * T)], -1), reduce)(-1)


@pytest.mark.parametrize("fn", [
    scores_loop,
    lambda w, T: torch.diagonal(w, offset=-(T - 1), dim1=-2, dim2=-1)[..., 1:].mean(-1),
    lambda w, T: torch.stack([w[..., T + j, j + 1] for j in range(T)], -1).mean(-1),
], ids=["a loop", "a diagonal", "a stack"])
def test_induction_scores_accepts_right_answers(expect, fn):
    expect.correct(check.induction_scores, fn)


INDUCTION_MISTAKES = [
    (at(lambda i, T: i, lambda i, T: i - T), "that finds duplicate-token heads"),
    (at(lambda i, T: i, lambda i, T: i - 1), "that is a previous-token score (i - 1)"),
    (lambda w, T: torch.diagonal(w, offset=-(T - 1), dim1=-2, dim2=-1).mean(-1), "you included position T - 1"),
    (at(lambda i, T: i - T + 1, lambda i, T: i), "you read the weights the wrong way round"),
    (at(lambda i, T: i, lambda i, T: i - T + 1, reduce="sum"), "you summed over the T positions"),
]


@pytest.mark.parametrize("fn, phrase", INDUCTION_MISTAKES, ids=[p for _, p in INDUCTION_MISTAKES])
def test_induction_scores_names_mistakes(expect, fn, phrase):
    expect.named(check.induction_scores, fn, phrase)


def test_induction_scores_averaged_over_heads_too_gets_the_dimensions_verdict(expect):
    expect.generic(check.induction_scores, lambda w, T: scores_loop(w, T).mean(),
                   "Wrong number of dimensions on weights (3, 4, 10, 10), T=5: got shape (), expected (3, 4).")


# ------------------------------------------------------------------------------------------------------------------
# decoder_mask (attention_mask (B, S), padded on the left)


def tril(S, k=0):
    return torch.ones(S, S, dtype=torch.bool).tril(k)


DECODER_MASKS = {
    "right": lambda am: tril(am.size(1))[None, None] & (am == 1)[:, None, None, :],
    "right, with causal_mask and unsqueeze": lambda am: ac.causal_mask(am.size(1)).unsqueeze(0).unsqueeze(0)
                                                        & am.bool().unsqueeze(1).unsqueeze(2),
    "right, a loop": lambda am: torch.stack([torch.stack([torch.tensor([j <= i and bool(am[b, j]) for j in range(
        am.size(1))]) for i in range(am.size(1))]) for b in range(am.size(0))])[:, None],
}


@pytest.mark.parametrize("name", list(DECODER_MASKS))
def test_decoder_mask_accepts_right_answers(expect, name):
    expect.correct(check.decoder_mask, DECODER_MASKS[name])


DECODER_MISTAKES = [
    (lambda am: (am == 1)[:, None, None, :], "the mask lets every token see the future"),
    (lambda am: tril(am.size(1)).expand(am.size(0), 1, am.size(1), am.size(1)), "the padding is not masked"),
    (lambda am: tril(am.size(1))[None, None] & (am == 0)[:, None, None, :], "key_padding_mask convention"),
    (lambda am: tril(am.size(1))[None, None] & (am == 1)[:, None, :, None], "the padding is on the query axis"),
    (lambda am: torch.ones(am.size(1), am.size(1), dtype=torch.bool).triu()[None, None] & (am == 1)[:, None, None, :],
     "the causal part is upside down (triu)"),
    (lambda am: tril(am.size(1), -1)[None, None] & (am == 1)[:, None, None, :], "the causal part is off by one"),
    (lambda am: tril(am.size(1))[None, None] & ac.padding_mask(am.sum(1), am.size(1))[:, None, None, :],
     "you assumed the padding is on the right"),
    (lambda am: (tril(am.size(1))[None, None] & (am == 1)[:, None, None, :]).long(), "the mask is not boolean"),
    (lambda am: tril(am.size(1))[None] & (am == 1)[:, None, :], "add the head axis, (B, 1, S, S)"),
]


@pytest.mark.parametrize("fn, phrase", DECODER_MISTAKES, ids=[p for _, p in DECODER_MISTAKES])
def test_decoder_mask_names_mistakes(expect, fn, phrase):
    expect.named(check.decoder_mask, fn, phrase)


def test_decoder_mask_forgetting_return_gets_the_generic_verdict(expect):
    expect.generic(check.decoder_mask, lambda am: None, "Your function returned None: did you forget `return`?")


def test_decoder_mask_stub_is_not_attempted_and_a_crash_is_reported(expect):
    def stub(am):
        raise NotImplementedError("your code here")

    expect.not_attempted(check.decoder_mask, stub)
    expect.generic(check.decoder_mask, lambda am: am.nonexistent(), "Your function raised AttributeError")


def test_decoder_mask_notices_a_mask_changed_in_place(expect):
    def in_place(am):
        am.fill_(1)
        return tril(am.size(1))[None, None] & (am == 1)[:, None, None, :]

    expect.generic(check.decoder_mask, in_place, "Your function changed its input `am` (argument 1) in place")


# ------------------------------------------------------------------------------------------------------------------


def test_every_exercise_has_hints(expect, exercise):
    expect.hints(check, exercise)
