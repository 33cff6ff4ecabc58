"""Every checker accepts the reference solution and names every listed mistake."""

import math

import numpy as np
import pytest
import torch

import attn_course as ac
from attn_course.exercises import (
    cross_attention,
    flash,
    gpu,
    local,
    lookup,
    masking,
    multihead,
    self_attention,
    seq2seq,
    similarity,
    softmax,
    transformer,
    welcome,
)
from attn_course.exercises.core import Hints
from attn_course.flash import online_softmax as package_online_softmax


def t(x):
    return x.transpose(-2, -1)


def sdpa_with(scale_fn=lambda E: 1 / math.sqrt(E), dim=-1, fill=float("-inf"), invert=False, after=False, ignore=False):
    """An attention function with one chosen mistake; the defaults are right."""
    def fn(q, k, v, mask=None):
        s = q @ t(k) * scale_fn(q.shape[-1])
        keep = None if mask is None or ignore else (~mask if invert else mask)
        if keep is not None and not after:
            s = s.masked_fill(~keep, fill)
        w = torch.softmax(s, dim=dim)
        return (w * keep if after and keep is not None else w) @ v
    return fn


def naive_softmax(x):
    e = torch.exp(x)
    return e / e.sum(-1, keepdim=True)


def additive(q, k, W_q, W_k, v, squash=torch.tanh):
    return squash((q @ W_q.T)[:, None, :] + k @ W_k.T) @ v  # (B, S)


def source_softmax(scores, mask, dim=-1, fill=float("-inf"), keep=lambda m: m):
    return torch.softmax(scores.masked_fill(~keep(mask), fill), dim=dim)


def context(q, k, v, mask, mix=None, dim=-1, masked=True):
    scores = (k @ q[:, :, None])[..., 0]  # (B, S)
    if masked:
        scores = scores.masked_fill(~mask, float("-inf"))
    return (torch.softmax(scores, dim=dim)[:, None, :] @ (v if mix is None else mix(k, v)))[:, 0]


def self_attn(x, W_q, W_k, W_v, causal=False, width=None, keep=None):
    q, k, v = x @ W_q.T, x @ W_k.T, x @ W_v.T
    scores = q @ k.transpose(-2, -1) / math.sqrt(width or W_q.shape[0])
    L = x.shape[1]
    keep = keep if keep is not None else (torch.ones(L, L, dtype=torch.bool).tril() if causal else None)
    if keep is not None:
        scores = scores.masked_fill(~keep, float("-inf"))
    return torch.softmax(scores, -1) @ v


def split(x, H):
    return x.view(x.shape[0], x.shape[1], H, -1).transpose(1, 2)


def cross(x, context, *rest, masked=False, swap=False, fill=float("-inf"), invert=False, after=False):
    """Single-head cross-attention with one chosen mistake; the defaults are right."""
    mask, (W_q, W_k, W_v) = (rest[0], rest[1:]) if masked else (None, rest)
    if swap:
        x, context = context, x
    q, k, v = x @ W_q.T, context @ W_k.T, context @ W_v.T
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    keep = None if mask is None else (~mask if invert else mask)[:, None, :]
    if keep is not None and not after:
        scores = scores.masked_fill(~keep, fill)
    w = torch.softmax(scores, -1)
    return (w * keep if after else w) @ v


def block(x, attn, mlp, ln1, ln2, residual=(True, True), post=False):
    if post:
        h = ln1(x + attn(x))
        return ln2(h + mlp(h))
    h = (x if residual[0] else 0) + attn(ln1(x))
    return (h if residual[1] else 0) + mlp(ln2(h))


def window_mask(L, window, causal, keep=lambda off, w: off.abs() <= w):
    offset = torch.arange(L)[:, None] - torch.arange(L)[None, :]
    return keep(offset, window) & (offset >= 0) if causal else keep(offset, window)


def global_token(mask, position, row=True, column=True, in_place=False):
    out = mask if in_place else mask.clone()
    if row:
        out[position, :] = True
    if column:
        out[:, position] = True
    return out


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


def tile_step(q, k, v, m, l, acc, rescale=(True, True), scale=True):
    s = q @ k.T / (math.sqrt(q.shape[-1]) if scale else 1)
    m_new = torch.maximum(m, s.amax(-1, keepdim=True))
    alpha, p = torch.exp(m - m_new), torch.exp(s - m_new)
    return (m_new, (alpha if rescale[0] else 1) * l + p.sum(-1, keepdim=True),
            (alpha if rescale[1] else 1) * acc + p @ v)


REFERENCES = [
    (gpu.score_matrix_bytes, lambda B, H, L, S, n: B * H * L * S * n),
    (gpu.arithmetic_intensity, lambda M, N, K, n: 2 * M * N * K / (n * (M * K + K * N + M * N))),
    (gpu.arithmetic_intensity, lambda M, N, K, n: torch.tensor(2.0 * M * N * K / (n * (M * K + K * N + M * N)),
                                                               dtype=torch.float64)),
    (flash.online_softmax, online),
    (flash.online_softmax, package_online_softmax),
    (flash.flash_step, tile_step),
    (local.sliding_window_mask, window_mask),
    (local.add_global_token, global_token),
    (cross_attention.cross_attention, cross),
    (cross_attention.masked_cross_attention, lambda *a: cross(*a, masked=True)),
    (transformer.pre_norm_block, block),
    (transformer.append_to_cache, lambda cache, new: torch.cat([cache, new], dim=-2)),
    (self_attention.self_attention, self_attn),
    (self_attention.causal_self_attention, lambda *a: self_attn(*a, causal=True)),
    (multihead.split_heads, split),
    (multihead.merge_heads, lambda x: x.transpose(1, 2).reshape(x.shape[0], x.shape[2], -1)),
    (seq2seq.additive_scores, additive),
    (seq2seq.source_softmax, source_softmax),
    (seq2seq.attention_context, context),
    (welcome.last_token, lambda x: x[:, -1]),
    (similarity.dot_scores, lambda q, k: q @ k.swapaxes(-2, -1)),
    (similarity.cosine_scores, ac.cosine_scores),
    (softmax.softmax, lambda x: ac.softmax(x)),
    (softmax.softmax_temperature, lambda x, temp: ac.softmax(x, temperature=temp)),
    (softmax.logsumexp, lambda x: ac.logsumexp(x)),
    (lookup.soft_lookup, lambda q, k, v: ac.softmax(q @ k.T) @ v),
    (lookup.kernel_weights, ac.gaussian_kernel_weights),
    (masking.scaled_dot_product_attention, lambda q, k, v, mask=None: ac.scaled_dot_product_attention(q, k, v, mask)),
    (masking.causal_mask, ac.causal_mask),
    (masking.padding_mask, ac.padding_mask),
]


@pytest.mark.parametrize("check, solution", REFERENCES, ids=lambda x: getattr(x, "__name__", ""))
def test_reference_solution_passes(check, solution):
    result = check(solution)
    assert result.status == "correct" and bool(result), repr(result)
    assert repr(result).startswith("✅") and "correct" in result._repr_html_()


MISTAKES = [
    (gpu.score_matrix_bytes, lambda B, H, L, S, n: B * L * S * n, "heads are missing"),
    (gpu.score_matrix_bytes, lambda B, H, L, S, n: H * L * S * n, "batch is missing"),
    (gpu.score_matrix_bytes, lambda B, H, L, S, n: B * H * L * L * n, "L · L"),
    (gpu.score_matrix_bytes, lambda B, H, L, S, n: 8 * B * H * L * S * n, "bits"),
    (gpu.score_matrix_bytes, lambda B, H, L, S, n: B * H * L * S, "values, not bytes"),
    (gpu.score_matrix_bytes, lambda B, H, L, S, n: None, "forget `return`"),
    (gpu.score_matrix_bytes, lambda B, H, L, S, n: [B * H * L * S * n], "expected a number"),
    (gpu.score_matrix_bytes, lambda B, H, L, S, n: B / 0, "raised ZeroDivisionError"),
    (gpu.arithmetic_intensity, lambda M, N, K, n: M * N * K / (n * (M * K + K * N + M * N)), "half"),
    (gpu.arithmetic_intensity, lambda M, N, K, n: 2 * M * N * K / (n * (M * K + K * N)), "writing C"),
    (gpu.arithmetic_intensity, lambda M, N, K, n: 2 * M * N * K / (M * K + K * N + M * N), "values, not bytes"),
    (gpu.arithmetic_intensity, lambda M, N, K, n: 1.0, "times too"),
    (flash.online_softmax, lambda x, b: online(x, b, rescale=False), "not rescaled"),
    (flash.online_softmax, lambda x, b: online(x, b, divide=False), "final division"),
    (flash.online_softmax, lambda x, b: online(x, b, drop_last=True), "last, shorter block was dropped"),
    (flash.online_softmax, lambda x, b: np.exp(x) / np.exp(x).sum(-1, keepdims=True), "subtract the running maximum"),
    (flash.flash_step, lambda *a: tile_step(*a, rescale=(True, False)), "accumulated values are not rescaled"),
    (flash.flash_step, lambda *a: tile_step(*a, rescale=(False, True)), "running sum is not rescaled"),
    (flash.flash_step, lambda *a: tile_step(*a, rescale=(False, False)), "neither running sum"),
    (flash.flash_step, lambda *a: tile_step(*a, scale=False), "not scaled"),
    (flash.flash_step, lambda *a: tile_step(*a)[1:], "must return three"),
    (flash.flash_step, lambda *a: (lambda r: (r[1], r[0], r[2]))(tile_step(*a)), "wrong order"),
    (flash.flash_step, lambda q, k, v, m, l, acc: (lambda r: (r[0], r[1], r[2] / r[1]))(
        tile_step(q, k, v, m, l, acc * l)), "too early"),
    (flash.online_softmax, lambda x, b: online(x, b, keep_max=False), "never updated"),
    (flash.online_softmax, lambda x, b: online(x, b, inverted=True), "upside down"),
    (gpu.score_matrix_bytes, lambda B, H, L, S, n: B * H * L * S * n / 1e9, "in GB"),
    (gpu.arithmetic_intensity, lambda M, N, K, n: 2 * M * N * K // (n * (M * K + K * N + M * N)), "integer division"),
    (local.sliding_window_mask, lambda L, w, c: window_mask(L, w, c, lambda off, w: off.abs() < w), "too narrow"),
    (local.sliding_window_mask, lambda L, w, c: window_mask(L, w, c, lambda off, w: off.abs() <= w + 1), "too wide"),
    (local.sliding_window_mask, lambda L, w, c: window_mask(L, w, True), "one side only"),
    (local.sliding_window_mask, lambda L, w, c: window_mask(L, w, False), "forbid the future"),
    (local.sliding_window_mask, lambda L, w, c: ~window_mask(L, w, c), "inverted"),
    (local.add_global_token, lambda m, p: global_token(m, p, column=False), "only the row"),
    (local.add_global_token, lambda m, p: global_token(m, p, row=False), "only the column"),
    (local.add_global_token, lambda m, p: global_token(m, p, in_place=True), "changed its input `m` (argument 1)"),
    (cross_attention.cross_attention, lambda *a: cross(*a, swap=True), "queries and keys are swapped"),
    (cross_attention.cross_attention, lambda x, c, *w: cross(x, x, *w), "attended x to itself"),
    (cross_attention.masked_cross_attention, lambda x, c, m, *w: cross(x, c, *w), "source padding is not masked"),
    (cross_attention.masked_cross_attention, lambda *a: cross(*a, masked=True, invert=True), "inverted"),
    (cross_attention.masked_cross_attention, lambda *a: cross(*a, masked=True, fill=0.0), "set to 0"),
    (cross_attention.masked_cross_attention, lambda *a: cross(*a, masked=True, after=True), "after softmax"),
    (transformer.pre_norm_block, lambda *a: block(*a, residual=(False, True)), "residual around attention"),
    (transformer.pre_norm_block, lambda *a: block(*a, residual=(True, False)), "residual around the MLP"),
    (transformer.pre_norm_block, lambda *a: block(*a, residual=(False, False)), "both residuals"),
    (transformer.pre_norm_block, lambda *a: block(*a, post=True), "post-norm"),
    (transformer.pre_norm_block, lambda x, a, m, l1, l2: block(x, a, m, l1, l1), "ln1 twice"),
    (transformer.pre_norm_block, lambda x, a, m, l1, l2: block(x, a, m, l2, l1), "swapped"),
    (transformer.append_to_cache, lambda c, n: torch.cat([c, n], dim=1), "head axis"),
    (transformer.append_to_cache, lambda c, n: torch.cat([c, n], dim=-1), "width axis"),
    (transformer.append_to_cache, lambda c, n: torch.cat([c, n], dim=0), "batch axis"),
    (transformer.append_to_cache, lambda c, n: torch.cat([n, c], dim=2), "in front of the cached"),
    (transformer.append_to_cache, lambda c, n: n, "replaced the cache"),
    (self_attention.self_attention, lambda x, *w: self_attn(x, *w, width=x.shape[-1]), "model width E"),
    (self_attention.self_attention, lambda x, *w: self_attn(x, *w, width=1), "not scaled"),
    (self_attention.causal_self_attention, lambda x, *w: self_attn(
        x, *w, keep=torch.ones(x.shape[1], x.shape[1], dtype=torch.bool).triu()), "inverted"),
    (self_attention.causal_self_attention, lambda x, *w: self_attn(
        x, *w, keep=~torch.ones(x.shape[1], x.shape[1], dtype=torch.bool).tril()), "inverted"),
    (self_attention.causal_self_attention, lambda x, *w: self_attn(x, *w), "no causal mask"),
    (self_attention.causal_self_attention, lambda x, *w: self_attn(
        x, *w, keep=torch.ones(x.shape[1], x.shape[1], dtype=torch.bool).tril(1)), "tril(1)"),
    (multihead.split_heads, lambda x, H: x.transpose(1, 2).reshape(x.shape[0], H, x.shape[1], -1), "transposed before"),
    (multihead.split_heads, lambda x, H: x.transpose(1, 2).view(x.shape[0], H, x.shape[1], -1), "before any transpose"),
    (multihead.split_heads, lambda x, H: x.view(x.shape[0], H, x.shape[1], -1), "without a transpose"),
    (multihead.split_heads, lambda x, H: x.view(x.shape[0], x.shape[1], H, -1), "did not move them"),
    (multihead.merge_heads, lambda x: x.reshape(x.shape[0], x.shape[2], -1), "without moving the heads back"),
    (multihead.merge_heads, lambda x: x.transpose(1, 2).view(x.shape[0], x.shape[2], -1), "not contiguous"),
    (seq2seq.additive_scores, lambda *a: additive(*a, squash=lambda x: x), "no tanh"),
    (seq2seq.additive_scores, lambda q, k, W_q, W_k, v: torch.tanh(additive(q, k, W_q, W_k, v, lambda x: x)), "after v"),
    (seq2seq.source_softmax, lambda s, m: source_softmax(s, m, dim=0), "batch axis"),
    (seq2seq.source_softmax, lambda s, m: torch.softmax(s, -1), "not masked"),
    (seq2seq.source_softmax, lambda s, m: source_softmax(s, m, keep=lambda x: ~x), "inverted"),
    (seq2seq.source_softmax, lambda s, m: source_softmax(s, m, fill=0.0), "set to 0"),
    (seq2seq.attention_context, lambda *a: context(*a, mix=lambda k, v: k), "mixes the keys"),
    (seq2seq.attention_context, lambda q, k, v, m: context(q, k, v, ~m), "inverted"),
    (seq2seq.attention_context, lambda q, k, v, m: (torch.softmax((k @ q[:, :, None])[..., 0].masked_fill(~m, 0.0), -1)
                                                    [:, None, :] @ v)[:, 0], "set to 0"),
    (seq2seq.source_softmax, lambda s, m: torch.softmax(s, -1) * m, "no longer sum to 1"),
    (seq2seq.additive_scores, lambda *a: torch.softmax(additive(*a), -1), "raw scores"),
    (seq2seq.additive_scores, lambda q, k, W_q, W_k, v: torch.tanh((q @ W_q.T)[:, None, :] + k @ W_k.T).sum(-1),
     "not from summing over A"),
    (seq2seq.additive_scores, lambda q, k, W_q, W_k, v: torch.tanh(q @ W_q.T + k @ W_k.T) @ v, "axis for S"),
    (seq2seq.attention_context, lambda *a: context(*a, masked=False), "not masked"),
    (seq2seq.attention_context, lambda *a: context(*a, dim=0), "batch axis"),
    (seq2seq.attention_context, lambda q, k, v, m: (torch.softmax((k @ q[:, :, None]).masked_fill(
        ~m[..., None], float("-inf")), -1).transpose(1, 2) @ v)[:, 0], "hidden axis or an axis of size 1"),
    (welcome.last_token, lambda x: x[-1], "last sequence of the batch"),
    (welcome.last_token, lambda x: x[..., -1], "last feature"),
    (welcome.last_token, lambda x: x[:, -1:], "kept the length axis"),
    (welcome.last_token, lambda x: x[:, 0], "first token"),
    (similarity.dot_scores, lambda q, k: k @ q.swapaxes(-2, -1), "K Qᵀ"),
    (similarity.dot_scores, lambda q, k: q @ k.T, "transpose only the last two axes"),
    (similarity.cosine_scores, lambda q, k: q @ t(k), "plain dot products"),
    (similarity.cosine_scores, lambda q, k: (q / q.norm(dim=-1, keepdim=True)) @ t(k), "only the queries"),
    (similarity.cosine_scores, lambda q, k: (q / q.norm(dim=-2, keepdim=True)) @ t(k / k.norm(dim=-2, keepdim=True)),
     "wrong axis"),
    (softmax.softmax, lambda x: torch.softmax(x, 0), "axis other than the last"),
    (softmax.softmax, naive_softmax, "Overflow"),
    (softmax.softmax, lambda x: naive_softmax(x - x.max()), "one maximum for the whole tensor"),
    (softmax.softmax, lambda x: naive_softmax(x - x.amin(-1, keepdim=True)), "minimum or mean"),
    (softmax.softmax, lambda x: naive_softmax(x - x.mean(-1, keepdim=True)), "row's maximum"),
    (softmax.softmax, lambda x: torch.softmax(x, -2), "axis other than the last"),
    (softmax.softmax, lambda x: x.exp() / x.exp().sum(-1), "keepdim=True"),
    (softmax.logsumexp, lambda x: x.max() + torch.log(torch.exp(x - x.max()).sum(-1)), "one maximum for the whole"),
    (softmax.logsumexp, lambda x: torch.log(x.sum(-1)), "NaN or inf in your answer"),
    (similarity.dot_scores, lambda q, k: (q @ k.swapaxes(-2, -1)).astype("float32"), "dtype is float32, expected float64"),
    (softmax.softmax, lambda x: torch.exp(x - x.amax(-1, keepdim=True)), "do not sum to 1"),
    (softmax.softmax_temperature, lambda x, temp: torch.softmax(x * temp, -1), "multiplied by the temperature"),
    (softmax.softmax_temperature, lambda x, temp: torch.softmax(x, -1), "no effect"),
    (softmax.logsumexp, lambda x: torch.log(torch.exp(x).sum(-1)), "Overflow"),
    (softmax.logsumexp, lambda x: torch.log(torch.exp(x - x.amax(-1, keepdim=True)).sum(-1)), "add it back"),
    (softmax.logsumexp, lambda x: torch.logsumexp(x, -1, keepdim=True), "kept the reduced axis"),
    (lookup.soft_lookup, lambda q, k, v: torch.softmax(q @ k.T, 0) @ v, "over the queries"),
    (lookup.soft_lookup, lambda q, k, v: (q @ k.T) @ v, "without softmax"),
    (lookup.soft_lookup, lambda q, k, v: torch.softmax(q @ k.T, -1) @ k, "averaged the keys"),
    (lookup.kernel_weights, lambda a, b, h: torch.softmax((a[:, None] - b) ** 2 / (2 * h**2), -1), "sign is flipped"),
    (lookup.kernel_weights, lambda a, b, h: torch.softmax(-((a[:, None] - b) ** 2) / (2 * h), -1), "bandwidth must"),
    (lookup.kernel_weights, lambda a, b, h: torch.softmax(-((a[:, None] - b) ** 2) / h**2, -1), "factor 2"),
    (lookup.kernel_weights, lambda a, b, h: torch.exp(-((a[:, None] - b) ** 2) / (2 * h**2)), "normalise each row"),
    (masking.scaled_dot_product_attention, sdpa_with(scale_fn=lambda E: 1.0), "not scaled"),
    (masking.scaled_dot_product_attention, sdpa_with(scale_fn=lambda E: 1 / E), "divided by E"),
    (masking.scaled_dot_product_attention, sdpa_with(dim=-2), "softmax over the queries"),
    (masking.scaled_dot_product_attention, sdpa_with(after=True), "after softmax"),
    (masking.scaled_dot_product_attention, sdpa_with(fill=0.0), "set to 0"),
    (masking.scaled_dot_product_attention, sdpa_with(invert=True), "inverted"),
    (masking.scaled_dot_product_attention, sdpa_with(ignore=True), "mask was ignored"),
    (masking.scaled_dot_product_attention, lambda q, k, v, mask=None: sdpa_with(invert=True)(q, k, v, mask).nan_to_num(0),
     "inverted"),  # the same mistake written with a NaN-free softmax
    (masking.scaled_dot_product_attention, lambda q, k, v, mask=None: ac.scaled_dot_product_attention(
        q, k, v, None if mask is None else ~mask), "inverted"),
    (masking.scaled_dot_product_attention, lambda q, k, v, mask=None: ac.scaled_dot_product_attention(
        q, k, v, mask, scale=k.shape[-2] ** -0.5), "number of keys"),
    (masking.scaled_dot_product_attention, lambda q, k, v, mask=None: q @ k.T, "k.transpose(-2, -1), not k.T"),
    (masking.causal_mask, lambda L: torch.ones(L, L, dtype=torch.bool).tril(-1), "diagonal must be True"),
    (masking.causal_mask, lambda L: torch.ones(L, L, dtype=torch.bool).tril(1), "one key of the future"),
    (masking.causal_mask, lambda L: ~torch.ones(L, L, dtype=torch.bool).tril(), "inverted"),
    (masking.causal_mask, lambda L: torch.ones(L, L).tril(), "dtype is torch.float32, expected torch.bool (the values"),
    (masking.padding_mask, lambda n, S: ~ac.padding_mask(n, S), "key_padding_mask"),
    (masking.padding_mask, lambda n, S: torch.arange(S)[None] <= torch.tensor(n)[:, None], "off by one"),
    (masking.padding_mask, lambda n, S: ac.padding_mask(n, S).T, "transposed"),
    (masking.padding_mask, lambda n, S: torch.arange(S)[None] < torch.tensor(n)[:, None] - 1, "lost its last"),
    (lookup.soft_lookup, lambda q, k, v: ac.scaled_dot_product_attention(q, k, v), "asks for plain dot products"),
    (lookup.kernel_weights, lambda a, b, h: torch.softmax(-((a[:, None] - b) ** 2) / 2 * h**2, -1), "precedence"),
    (lookup.kernel_weights, lambda a, b, h: torch.softmax(-(a[:, None] - b).abs() / (2 * h**2), -1), "absolute value"),
]


@pytest.mark.filterwarnings("ignore:The use of `x.T`:UserWarning")
@pytest.mark.filterwarnings("ignore:overflow encountered in exp:RuntimeWarning")  # the mistake being named
@pytest.mark.filterwarnings("ignore:invalid value encountered in divide:RuntimeWarning")
@pytest.mark.parametrize("check, fn, phrase", MISTAKES, ids=[f"{c.__name__}-{p[:20]}" for c, _, p in MISTAKES])
def test_mistake_is_named(check, fn, phrase):
    result = check(fn)
    assert result.status == "wrong" and not result
    assert phrase.lower() in result.message.lower(), result.message


def _not_implemented(*args):
    raise NotImplementedError("your code here")


def _mutates(x):
    x -= x.amax(-1, keepdim=True)
    return torch.softmax(x, -1)


def _raises(x):
    return x @ x  # (3, 5) @ (3, 5): a shape error in the learner's own line


GENERIC = [
    (_not_implemented, "not attempted", "Replace `raise NotImplementedError`"),
    (lambda x: None, "wrong", "returned None: did you forget `return`?"),
    (lambda x: x.numpy(), "wrong", "returned a numpy.ndarray; expected a torch.Tensor"),
    (lambda x: (torch.softmax(x, -1), x), "wrong", "did you return several values?"),
    (lambda x: torch.softmax(x, -1)[..., :-1], "wrong", "wrong shape"),
    (lambda x: torch.softmax(x, -1).sum(-1), "wrong", "wrong number of dimensions"),
    (lambda x: torch.softmax(x, -1).double(), "wrong", "dtype is torch.float64, expected torch.float32 (the values"),
    (lambda x: torch.softmax(x, -1) * 1.1, "wrong", "values differ on scores of shape (3, 5): largest difference"),
    (lambda x: torch.full_like(x, float("nan")), "wrong", "Overflow"),
    (_mutates, "wrong", "changed its input `x` (argument 1) in place"),
    (_raises, "wrong", "raised RuntimeError"),
    (42, "wrong", "pass your function itself"),
    (lambda x: torch.nn.Parameter(torch.softmax(x, -1)), "correct", "Passed"),  # a tensor subclass, with grad
    (lambda x: torch.softmax(x, -1).to(torch.complex64), "wrong", "dtype is torch.complex64"),
]


@pytest.mark.parametrize("fn, status, phrase", GENERIC, ids=[p[:25] for _, _, p in GENERIC])
def test_every_failure_is_one_clear_line_never_an_exception(fn, status, phrase):
    result = softmax.softmax(fn)
    assert result.status == status and phrase.lower() in result.message.lower(), result.message
    assert "\n" not in repr(result)


def test_learner_exception_reports_function_and_line_without_paths():
    result = softmax.softmax(_raises)
    assert "(in _raises, line" in result.message and "/" not in result.message.split("(in")[1].split("Stuck")[0]
    assert result.message.endswith("Stuck? check.hint('softmax')")


def test_generic_nan_message_when_no_named_mistake():
    result = masking.causal_mask(lambda L: torch.ones(L, L, dtype=torch.bool).tril() if L == 1 else torch.zeros(1))
    assert result.status == "wrong" and "shape" in result.message


def test_hints_come_one_at_a_time_then_stop():
    hints = Hints({"demo": ["first", "second"]})
    shown = [hints.hint("demo").message for _ in range(3)]
    assert shown[:2] == ["Hint 1 of 2: first", "Hint 2 of 2: second"]
    assert shown[2].startswith("No more hints.") and "student copy" in shown[2]
    assert "choose one of ['demo']" in hints.hint("other").message
    assert repr(hints.hint("demo")).startswith("💡 demo:")


def test_each_module_hints_every_exercise():
    for module, names in [(self_attention, ["self_attention", "causal_self_attention"]),
                          (cross_attention, ["cross_attention", "masked_cross_attention"]),
                          (transformer, ["pre_norm_block", "append_to_cache"]),
                          (local, ["sliding_window_mask", "add_global_token"]),
                          (flash, ["online_softmax", "flash_step"]),
                          (gpu, ["score_matrix_bytes", "arithmetic_intensity"]),
                          (multihead, ["split_heads", "merge_heads"]), (welcome, ["last_token"]),
                          (similarity, ["dot_scores", "cosine_scores"]),
                          (softmax, ["softmax", "softmax_temperature", "logsumexp"]),
                          (lookup, ["soft_lookup", "kernel_weights"]),
                          (seq2seq, ["additive_scores", "source_softmax", "attention_context"]),
                          (masking, ["scaled_dot_product_attention", "causal_mask", "padding_mask"])]:
        for name in names:
            assert module.hint(name).message.startswith("Hint 1 of"), (module.__name__, name)


def test_checker_inputs_do_not_depend_on_global_rng():
    torch.manual_seed(1)
    first = repr(softmax.softmax(lambda x: torch.softmax(x, -1) * 1.1))
    torch.manual_seed(2)
    np.random.seed(2)
    assert repr(softmax.softmax(lambda x: torch.softmax(x, -1) * 1.1)) == first


def test_a_comparison_that_fails_is_reported_not_raised():
    from attn_course.exercises.core import Case, run_cases

    broken = Case("a broken case", (), torch.zeros(2), faulty={"never shown": "not a tensor"})
    result = run_cases("demo", lambda: torch.ones(2), [broken])
    assert result.status == "wrong" and "could not compare your answer" in result.message.lower()


def test_block_checker_leaves_the_notebooks_random_stream_alone():
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    transformer.pre_norm_block(block)
    assert torch.equal(torch.rand(3), expected)


def test_append_to_cache_wrong_axis_on_a_single_new_token_explains_cat():
    result = transformer.append_to_cache(lambda c, n: torch.cat([c, n], dim=1) if n.shape[2] == 1 else
                                         torch.cat([c, n], dim=2))
    assert result.status == "wrong" and "torch.cat needs every axis but one to match" in result.message


def test_named_messages_found_by_the_learner_review():
    def mask_on_wrong_axis(x, context, mask, *w):
        q, k, v = x @ w[0].T, context @ w[1].T, context @ w[2].T
        return torch.softmax((q @ k.transpose(-2, -1)).masked_fill(~mask[:, :, None], float("-inf")), -1) @ v

    result = cross_attention.masked_cross_attention(mask_on_wrong_axis)
    assert "broadcast as (B, 1, S)" in result.message, result.message

    def unpacks(x, attn, mlp, ln1, ln2):
        a, _ = attn(ln1(x))
        h = x + a
        return h + mlp(ln2(h))

    assert "returns one tensor (B, L, E), not (output, weights)" in transformer.pre_norm_block(unpacks).message


def test_scalar_checker_not_attempted_and_not_callable():
    assert gpu.score_matrix_bytes(_not_implemented).status == "not attempted"
    assert "Pass your function itself" in gpu.arithmetic_intensity(3).message
