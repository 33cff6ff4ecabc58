"""The checkers of notebook 13 (attn_course.exercises.pretrained): right answers pass, learners' mistakes are named."""

import math

import pytest
import torch
import torch.nn.functional as F

import attn_course as ac
from attn_course.exercises import pretrained as check


def verdict(result):
    return result.status, str(result)


# ----------------------------------------------------------------------------------------------------------------------
# decoder_mask
# ----------------------------------------------------------------------------------------------------------------------


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
def test_decoder_mask_accepts_right_answers(name):
    assert check.decoder_mask(DECODER_MASKS[name], record=False).status == "correct"


@pytest.mark.parametrize("fn, words", [
    (lambda am: (am == 1)[:, None, None, :], "see the future"),
    (lambda am: tril(am.size(1)).expand(am.size(0), 1, am.size(1), am.size(1)), "padding is not masked"),
    (lambda am: tril(am.size(1))[None, None] & (am == 0)[:, None, None, :], "key_padding_mask convention"),
    (lambda am: tril(am.size(1))[None, None] & (am == 1)[:, None, :, None], "query axis"),
    (lambda am: torch.ones(am.size(1), am.size(1), dtype=torch.bool).triu()[None, None] & (am == 1)[:, None, None, :],
     "upside down"),
    (lambda am: tril(am.size(1), -1)[None, None] & (am == 1)[:, None, None, :], "off by one"),
    (lambda am: tril(am.size(1))[None, None] & ac.padding_mask(am.sum(1), am.size(1))[:, None, None, :],
     "padding is on the right"),
    (lambda am: (tril(am.size(1))[None, None] & (am == 1)[:, None, None, :]).long(), "not boolean"),
    (lambda am: tril(am.size(1))[None] & (am == 1)[:, None, :], "add the head axis"),
    (lambda am: None, "forget `return`"),
])
def test_decoder_mask_names_mistakes(fn, words):
    status, text = verdict(check.decoder_mask(fn, record=False))
    assert status == "wrong" and words in text, text


def test_decoder_mask_stub_is_not_attempted_and_a_crash_is_reported():
    def stub(am):
        raise NotImplementedError("your code here")
    assert check.decoder_mask(stub, record=False).status == "not attempted"
    status, text = verdict(check.decoder_mask(lambda am: am.nonexistent(), record=False))
    assert status == "wrong" and "AttributeError" in text


def test_decoder_mask_notices_a_mask_changed_in_place():
    def in_place(am):
        am.fill_(1)
        return tril(am.size(1))[None, None] & (am == 1)[:, None, None, :]
    status, text = verdict(check.decoder_mask(in_place, record=False))
    assert status == "wrong" and "in place" in text


# ----------------------------------------------------------------------------------------------------------------------
# cached_step
# ----------------------------------------------------------------------------------------------------------------------


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


@pytest.mark.parametrize("fn", [step, lambda *a: step(*a, repeat="expand"), lambda *a: step(*a, manual=True)])
def test_cached_step_accepts_right_answers(fn):
    assert check.cached_step(fn, record=False).status == "correct"


@pytest.mark.parametrize("fn, words", [
    (lambda *a: step(*a, repeat="repeat", causal=True), "Both bugs"),
    (lambda *a: step(*a, repeat="repeat"), "repeat_interleave"),
    (lambda *a: step(*a, causal=True), "aligned top-left"),
    (lambda *a: step(*a, append=False), "not appended"),
    (lambda q, *a: step(q, *a)[:, :, 0], "Wrong number of dimensions"),
])
def test_cached_step_names_mistakes(fn, words):
    status, text = verdict(check.cached_step(fn, record=False))
    assert status == "wrong" and words in text, text


def test_cached_step_names_an_explicit_top_left_mask():
    def top_left(q, k_new, v_new, cache_k, cache_v):
        k, v = torch.cat([cache_k, k_new], 2), torch.cat([cache_v, v_new], 2)
        g = q.size(1) // k.size(1)
        k, v = k.repeat_interleave(g, 1), v.repeat_interleave(g, 1)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=ac.causal_mask(1, k.size(2)))
    status, text = verdict(check.cached_step(top_left, record=False))
    assert status == "wrong" and "causal_mask(1, S + 1)" in text


def test_cached_step_reports_the_original_bug_as_both_bugs():
    def buggy(q, k_new, v_new, cache_k, cache_v):  # the notebook's buggy version, retyped
        k = torch.cat([cache_k, k_new], dim=2)
        v = torch.cat([cache_v, v_new], dim=2)
        group = q.size(1) // k.size(1)
        k, v = k.repeat(1, group, 1, 1), v.repeat(1, group, 1, 1)
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)
    status, text = verdict(check.cached_step(buggy, record=False))
    assert status == "wrong" and "Both bugs" in text


def test_cached_step_advice_on_a_crash_is_about_shapes():
    def no_repeat(q, k_new, v_new, cache_k, cache_v):  # forgets the key/value heads are fewer: a shape error
        k, v = torch.cat([cache_k, k_new], 2), torch.cat([cache_v, v_new], 2)
        return torch.softmax(q @ k.transpose(-2, -1), -1) @ v
    status, text = verdict(check.cached_step(no_repeat, record=False))
    assert status == "wrong" and "raised RuntimeError" in text and "group's key/value head" in text


# ----------------------------------------------------------------------------------------------------------------------
# induction_scores
# ----------------------------------------------------------------------------------------------------------------------


def scores_loop(weights, T):
    out = torch.zeros(weights.shape[:-2])
    for i in range(T, 2 * T):
        out += weights[..., i, i - T + 1]
    return out / T


@pytest.mark.parametrize("fn", [
    scores_loop,
    lambda w, T: torch.diagonal(w, offset=-(T - 1), dim1=-2, dim2=-1)[..., 1:].mean(-1),
    lambda w, T: torch.stack([w[..., T + j, j + 1] for j in range(T)], -1).mean(-1),
])
def test_induction_scores_accepts_right_answers(fn):
    assert check.induction_scores(fn, record=False).status == "correct"


@pytest.mark.parametrize("fn, words", [
    (lambda w, T: torch.stack([w[..., i, i - T] for i in range(T, 2 * T)], -1).mean(-1), "duplicate-token"),
    (lambda w, T: torch.stack([w[..., i, i - 1] for i in range(T, 2 * T)], -1).mean(-1), "previous-token score"),
    (lambda w, T: torch.diagonal(w, offset=-(T - 1), dim1=-2, dim2=-1).mean(-1), "position T - 1"),
    (lambda w, T: torch.stack([w[..., i - T + 1, i] for i in range(T, 2 * T)], -1).mean(-1), "wrong way round"),
    (lambda w, T: torch.stack([w[..., i, i - T + 1] for i in range(T, 2 * T)], -1).sum(-1), "summed"),
    (lambda w, T: scores_loop(w, T).mean(), "Wrong number of dimensions"),
])
def test_induction_scores_names_mistakes(fn, words):
    status, text = verdict(check.induction_scores(fn, record=False))
    assert status == "wrong" and words in text, text


# ----------------------------------------------------------------------------------------------------------------------
# cache_bytes (a prediction)
# ----------------------------------------------------------------------------------------------------------------------

RIGHT_BYTES = 2 * 30 * 8 * 4096 * 3 * 64 * 2


@pytest.mark.parametrize("prediction", [RIGHT_BYTES, float(RIGHT_BYTES), 755e6, torch.tensor(RIGHT_BYTES)])
def test_cache_bytes_accepts_the_right_number_within_one_percent(prediction):
    assert check.cache_bytes(prediction, record=False).status == "correct"


@pytest.mark.parametrize("prediction, words", [
    (RIGHT_BYTES * 3, "9 key/value heads"),
    (2 * 30 * 8 * 4096 * 576 * 2, "9 key/value heads"),  # E instead of Hkv·D
    (RIGHT_BYTES // 2, "half the answer"),
    (RIGHT_BYTES // 30, "one layer's cache"),
    (RIGHT_BYTES // 8, "one sequence's cache"),
    (RIGHT_BYTES * 2, "float32"),
    (2 * 30 * 8 * 8192 * 3 * 64 * 2, "8,192 positions"),
    (2 * 30 * 8 * 4096 * 3 * 32 * 2, "heads 32 wide"),
    (RIGHT_BYTES * 8, "bits"),
    (RIGHT_BYTES / 2**20, "MiB"),
    (RIGHT_BYTES / 1e9, "GB"),
    (12345, "too small, by more"),
    (5e8, "too small, by less"),
    (1e10, "too large, by more"),
])
def test_cache_bytes_names_mistakes(prediction, words):
    status, text = verdict(check.cache_bytes(prediction, record=False))
    assert status == "wrong" and words in text, text


@pytest.mark.parametrize("prediction, status", [(..., "not attempted"), (None, "not attempted"), ("755 MB", "wrong"),
                                                (float("nan"), "wrong"), (True, "wrong")])
def test_cache_bytes_never_raises_on_odd_predictions(prediction, status):
    assert check.cache_bytes(prediction, record=False).status == status


@pytest.mark.parametrize("prediction", [12345, 5e8, 1e10, -3.0, 0])
def test_cache_bytes_never_gives_the_answer_away(prediction):
    text = str(check.cache_bytes(prediction, record=False))
    assert "754" not in text and "755" not in text and "720" not in text and "times" not in text


def test_every_exercise_has_at_least_two_hints():
    for name in ("decoder_mask", "cached_step", "induction_scores", "cache_bytes"):
        shown = [str(check.hint(name)) for _ in range(4)]
        assert "Hint 1 of" in shown[0] and "Hint 2 of" in shown[1] and "No more hints" in shown[-1]
