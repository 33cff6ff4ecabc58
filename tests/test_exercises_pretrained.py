"""The checkers of notebook 13 (attn_course.exercises.pretrained): right answers pass, learners' mistakes are named."""

import math

import pytest
import torch
import torch.nn.functional as F

from attn_course.exercises import pretrained as check


def verdict(result):
    return result.status, str(result)


# ----------------------------------------------------------------------------------------------------------------------
# hf_mask
# ----------------------------------------------------------------------------------------------------------------------

HF_MASKS = {
    "right": lambda am: (am == 1)[:, None, None, :],
    "right, bool()": lambda am: am.bool().unsqueeze(1).unsqueeze(2),
    "right, view": lambda am: am.view(am.size(0), 1, 1, -1) != 0,
}


@pytest.mark.parametrize("name", list(HF_MASKS))
def test_hf_mask_accepts_right_answers(name):
    assert check.hf_mask(HF_MASKS[name], record=False).status == "correct"


@pytest.mark.parametrize("fn, words", [
    (lambda am: (am == 0)[:, None, None, :], "key_padding_mask convention"),
    (lambda am: am[:, None, None, :], "not boolean"),
    (lambda am: am[:, None, None, :].float(), "*added* to the scores"),
    (lambda am: (1.0 - am[:, None, None, :].float()) * -1e30 * 0 + torch.where(am[:, None, None, :] == 1, 0.0,
                                                                                float("-inf")), "additive float mask"),
    (lambda am: (am == 1)[:, None, :, None], "query axis"),
    (lambda am: am == 1, "as if it were (L, S)"),
    (lambda am: (am == 1).unsqueeze(1), "its batch axis lands on the heads"),
    (lambda am: None, "forget `return`"),
    (lambda am: (am == 1).tolist(), "expected a torch.Tensor"),
])
def test_hf_mask_names_mistakes(fn, words):
    status, text = verdict(check.hf_mask(fn, record=False))
    assert status == "wrong" and words in text, text


def test_hf_mask_stub_is_not_attempted_and_a_crash_is_reported():
    def stub(am):
        raise NotImplementedError("your code here")
    assert check.hf_mask(stub, record=False).status == "not attempted"
    status, text = verdict(check.hf_mask(lambda am: am.nonexistent(), record=False))
    assert status == "wrong" and "AttributeError" in text


def test_hf_mask_notices_a_mask_changed_in_place():
    def in_place(am):
        am[am == 0] = 0  # harmless, but then:
        am.fill_(1)
        return (am == 1)[:, None, None, :]
    status, text = verdict(check.hf_mask(in_place, record=False))
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
    (lambda *a: step(*a, causal=True), "top-left"),
    (lambda *a: step(*a, append=False), "not appended"),
    (lambda q, *a: step(q, *a)[:, :, 0], "Wrong number of dimensions"),
])
def test_cached_step_names_mistakes(fn, words):
    status, text = verdict(check.cached_step(fn, record=False))
    assert status == "wrong" and words in text, text


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
    (RIGHT_BYTES * 8, "bits"),
    (RIGHT_BYTES / 2**20, "MiB"),
    (RIGHT_BYTES / 1e9, "GB"),
    (12345, "expected"),
])
def test_cache_bytes_names_mistakes(prediction, words):
    status, text = verdict(check.cache_bytes(prediction, record=False))
    assert status == "wrong" and words in text, text


@pytest.mark.parametrize("prediction, status", [(..., "not attempted"), (None, "not attempted"), ("755 MB", "wrong"),
                                                (float("nan"), "wrong"), (True, "wrong")])
def test_cache_bytes_never_raises_on_odd_predictions(prediction, status):
    assert check.cache_bytes(prediction, record=False).status == status


def test_every_exercise_has_at_least_two_hints():
    for name in ("hf_mask", "cached_step", "induction_scores", "cache_bytes"):
        shown = [str(check.hint(name)) for _ in range(4)]
        assert "Hint 1 of" in shown[0] and "Hint 2 of" in shown[1] and "No more hints" in shown[-1]
