"""The checkers of notebook 08 (attn_course.exercises.transformer): right answers pass, each mistake is named."""

import pytest
import torch

from attn_course.exercises import transformer as check

# ------------------------------------------------------------------------------------------------------------------
# pre_norm_block (x, attn, mlp, ln1, ln2)


def block(x, attn, mlp, ln1, ln2, residual=(True, True), post=False):
    if post:
        h = ln1(x + attn(x))
        return ln2(h + mlp(h))
    h = (x if residual[0] else 0) + attn(ln1(x))
    return (h if residual[1] else 0) + mlp(ln2(h))


def normalised_stream(x, attn, mlp, ln1, ln2):
    x = ln1(x)  # the stream itself replaced by its normalised copy
    h = x + attn(x)
    return h + mlp(ln2(h))


def unpacks(x, attn, mlp, ln1, ln2):
    """Found by the learner review: attn unpacked as MultiheadAttention's (output, weights)."""
    a, _ = attn(ln1(x))
    h = x + a
    return h + mlp(ln2(h))


BLOCK_MISTAKES = [
    (lambda *a: block(*a, residual=(False, True)), "the residual around attention is missing"),
    (lambda *a: block(*a, residual=(True, False)), "the residual around the MLP is missing"),
    (lambda *a: block(*a, residual=(False, False)), "both residuals are missing"),
    (lambda *a: block(*a, post=True), "this is post-norm"),
    (normalised_stream, "you normalised the residual stream itself"),
    (lambda x, a, m, l1, l2: block(x, a, m, l2, l1), "ln1 and ln2 are swapped"),
    (lambda x, a, m, l1, l2: block(x, a, m, l1, l1), "you used ln1 twice"),
    (lambda x, a, m, l1, l2: (lambda h: h + m(l2(x)))(x + a(l1(x))), "the MLP read x, not the stream after attention"),
    (unpacks, "attn(h) returns one tensor (B, L, E), not (output, weights)"),
]


def test_pre_norm_block_accepts_the_reference(expect):
    expect.correct(check.pre_norm_block, block)


@pytest.mark.parametrize("fn, phrase", BLOCK_MISTAKES, ids=[p for _, p in BLOCK_MISTAKES])
def test_pre_norm_block_names_the_mistake(expect, fn, phrase):
    expect.named(check.pre_norm_block, fn, phrase)


def test_pre_norm_block_leaves_the_notebooks_random_stream_alone():
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    check.pre_norm_block(block, record=False)
    assert torch.equal(torch.rand(3), expected)


# ------------------------------------------------------------------------------------------------------------------
# append_to_cache (cache (B, H, S, D), new (B, H, L, D))

CACHE_MISTAKES = [
    (lambda c, n: torch.cat([n, c], dim=2), "the new positions are in front of the cached ones"),
    (lambda c, n: torch.cat([c, n], dim=1), "you appended along the head axis (dim=1)"),
    (lambda c, n: torch.cat([c, n], dim=-1), "you appended along the width axis (dim=-1)"),
    (lambda c, n: torch.cat([c, n], dim=0), "you appended along the batch axis (dim=0)"),
    (lambda c, n: n, "you replaced the cache with the new positions"),
]


def test_append_to_cache_accepts_the_reference(expect):
    expect.correct(check.append_to_cache, lambda cache, new: torch.cat([cache, new], dim=-2))


@pytest.mark.parametrize("fn, phrase", CACHE_MISTAKES, ids=[p for _, p in CACHE_MISTAKES])
def test_append_to_cache_names_the_mistake(expect, fn, phrase):
    expect.named(check.append_to_cache, fn, phrase)


def test_append_to_cache_wrong_axis_on_a_single_new_token_explains_cat(expect):
    def head_axis_where_it_raises(c, n):  # right on the first case; the single new token then fails to join
        return torch.cat([c, n], dim=1) if n.shape[2] == 1 else torch.cat([c, n], dim=2)

    expect.advised(check.append_to_cache, head_axis_where_it_raises, "torch.cat needs every axis but one to match",
                   raised="RuntimeError")


# ------------------------------------------------------------------------------------------------------------------


def test_every_exercise_has_hints(expect, exercise):
    expect.hints(check, exercise)
