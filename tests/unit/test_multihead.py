import random

import pytest
import torch
from torch import nn

from attn_course.multihead import KVCache, MultiHeadAttention, kv_cache_bytes


def random_config(rng: random.Random) -> dict:
    H = rng.randint(1, 8)
    D = rng.choice([1, 2, 3, 4, 5, 7, 8])  # odd head widths included
    return dict(H=H, E=H * D, B=rng.randint(1, 3), L=rng.randint(1, 6), S=rng.randint(1, 7),
                kdim=rng.choice([None, rng.randint(1, 9)]), vdim=rng.choice([None, rng.randint(1, 9)]),
                bias=rng.random() < 0.7, batch_first=rng.random() < 0.5,
                mask=rng.choice(["none", "bool", "float"]), padding=rng.random() < 0.5, seed=rng.randint(0, 10**6))


CONFIGS = [random_config(random.Random(i)) for i in range(60)]


@pytest.mark.parametrize("c", CONFIGS, ids=[f"cfg{i}" for i in range(len(CONFIGS))])
def test_from_torch_matches_nn_multihead_attention(c):
    torch.manual_seed(c["seed"])
    ref = nn.MultiheadAttention(c["E"], c["H"], bias=c["bias"], kdim=c["kdim"], vdim=c["vdim"],
                                batch_first=c["batch_first"]).eval()
    ours = MultiHeadAttention.from_torch(ref).eval()
    B, L, S, E = c["B"], c["L"], c["S"], c["E"]
    q, k, v = torch.randn(B, L, E), torch.randn(B, S, c["kdim"] or E), torch.randn(B, S, c["vdim"] or E)
    blocked = torch.rand(L, S) < 0.3  # PyTorch's convention: True = NOT allowed
    kpm = torch.rand(B, S) < 0.3 if c["padding"] else None  # True = padding, ignored
    torch_mask, our_mask = None, None
    if c["mask"] == "bool":
        torch_mask, our_mask = blocked, ~blocked[None, None]
    elif c["mask"] == "float":
        bias = torch.randn(L, S).masked_fill(blocked, float("-inf"))
        torch_mask, our_mask = bias, bias[None, None]
    if kpm is not None:
        pad = ~kpm[:, None, None, :] if c["mask"] != "float" else torch.zeros(B, 1, 1, S).masked_fill(
            kpm[:, None, None, :], float("-inf"))
        our_mask = pad if our_mask is None else (our_mask & pad if c["mask"] == "bool" else our_mask + pad)
    t = (lambda x: x) if c["batch_first"] else (lambda x: x.transpose(0, 1))
    with torch.no_grad():
        torch_kpm = kpm  # PyTorch wants both masks of one type: a float padding mask beside a float attn_mask
        if kpm is not None and c["mask"] == "float":
            torch_kpm = torch.zeros(B, S).masked_fill(kpm, float("-inf"))
        want, want_w = ref(t(q), t(k), t(v), attn_mask=torch_mask, key_padding_mask=torch_kpm, need_weights=True)
        got, got_w = ours(q, k, v, attn_mask=our_mask, need_weights=True)
    allowed = torch.ones(B, L, S, dtype=torch.bool)
    if c["mask"] != "none":
        allowed &= ~blocked
    if kpm is not None:
        allowed &= ~kpm[:, None, :]
    live = allowed.any(-1)  # (B, L): queries with at least one key; PyTorch gives NaN for the others
    torch.testing.assert_close(got[live], t(want)[live], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(got_w[live], want_w[live], atol=1e-5, rtol=1e-5)
    assert torch.equal(got[~live], ours.out_proj.bias.expand(int((~live).sum()), E) if c["bias"]
                       else torch.zeros(int((~live).sum()), E))  # no key: zero attention output, then out_proj


def test_configurations_cover_what_the_issue_asks():
    assert len(CONFIGS) >= 50
    assert {c["H"] for c in CONFIGS} == set(range(1, 9))
    assert any(c["E"] // c["H"] % 2 for c in CONFIGS) and any(c["L"] != c["S"] for c in CONFIGS)
    assert any(c["kdim"] not in (None, c["E"]) for c in CONFIGS) and any(c["vdim"] not in (None, c["E"]) for c in CONFIGS)
    assert {c["mask"] for c in CONFIGS} == {"none", "bool", "float"} and any(c["padding"] for c in CONFIGS)
    assert {c["batch_first"] for c in CONFIGS} == {True, False} and {c["bias"] for c in CONFIGS} == {True, False}


def test_fast_path_equals_manual_path_and_is_causal_matches_pytorch():
    torch.manual_seed(1)
    ref = nn.MultiheadAttention(12, 4, batch_first=True).eval()
    ours = MultiHeadAttention.from_torch(ref).eval()
    x = torch.randn(2, 5, 12)
    causal = torch.ones(5, 5, dtype=torch.bool).triu(1)  # PyTorch: True = blocked
    want, _ = ref(x, x, x, attn_mask=causal, need_weights=False)
    manual, _ = ours(x, x, x, is_causal=True)
    ours.use_sdpa = True
    fast, _ = ours(x, x, x, is_causal=True)
    torch.testing.assert_close(manual, want, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(fast, manual, atol=1e-5, rtol=1e-5)
    _, w = ours(x, x, x, is_causal=True, need_weights=True, average_attn_weights=False)  # weights: manual path
    assert w.shape == (2, 4, 5, 5) and torch.equal(w.triu(1), torch.zeros_like(w))


def test_grouped_query_attention_equals_full_attention_with_repeated_kv_heads():
    torch.manual_seed(2)
    gqa = MultiHeadAttention(16, 4, num_kv_heads=2)
    full = MultiHeadAttention(16, 4)
    D = 4
    with torch.no_grad():
        for name in ("q_proj", "out_proj"):
            getattr(full, name).load_state_dict(getattr(gqa, name).state_dict())
        for name in ("k_proj", "v_proj"):  # kv head g serves query heads 2g and 2g + 1
            w, b = getattr(gqa, name).weight.view(2, D, 16), getattr(gqa, name).bias.view(2, D)
            getattr(full, name).weight.copy_(w.repeat_interleave(2, dim=0).reshape(16, 16))
            getattr(full, name).bias.copy_(b.repeat_interleave(2, dim=0).reshape(16))
    x = torch.randn(2, 3, 16)
    torch.testing.assert_close(gqa(x, x, x)[0], full(x, x, x)[0])
    gqa.use_sdpa = True  # the fast path shares the key/value heads without repeating them
    torch.testing.assert_close(gqa(x, x, x, is_causal=True)[0], full(x, x, x, is_causal=True)[0], atol=1e-6, rtol=1e-5)
    assert gqa.k_proj.weight.shape == (8, 16) and MultiHeadAttention(16, 4, num_kv_heads=1).k_proj.weight.shape == (4, 16)


def test_kv_cache_bytes():
    # 32 layers, batch 1, 4096 tokens, 32 heads of 128, fp16: 2 GiB; 8 kv heads: a quarter of it
    assert kv_cache_bytes(32, 1, 4096, 32, 128) == 2 * 32 * 4096 * 32 * 128 * 2 == 2 * 2**30
    assert kv_cache_bytes(32, 1, 4096, 8, 128) * 4 == kv_cache_bytes(32, 1, 4096, 32, 128)


def test_tracer_prints_every_step_with_glossary_letters(capsys):
    mha = MultiHeadAttention(8, 2)
    x = torch.randn(1, 3, 8)
    mha(x, x, x)
    assert capsys.readouterr().out == ""
    mha.trace = True
    mha(x, torch.randn(1, 4, 8), torch.randn(1, 4, 8))
    out = capsys.readouterr().out
    assert "q: transpose(1, 2), heads first" in out and "(B=1, H=2, L=3, D=4)" in out
    assert "scores = q @ k^T / sqrt(D)" in out and "(B=1, H=2, L=3, S=4)" in out
    assert out.strip().splitlines()[-1].endswith("(B=1, L=3, E=8)")


def test_bad_input():
    with pytest.raises(ValueError, match="num_heads: embed_dim 10 must divide into num_heads heads, got 4"):
        MultiHeadAttention(10, 4)
    with pytest.raises(ValueError, match="num_kv_heads: num_heads 4 must divide into groups of it, got 3"):
        MultiHeadAttention(8, 4, num_kv_heads=3)
    mha = MultiHeadAttention(8, 2)
    x = torch.randn(2, 3, 8)
    with pytest.raises(ValueError, match=r"attn_mask: expected a shape that broadcasts to \(B, H, L, S\)"):
        mha(x, x, x, attn_mask=torch.ones(4, 3, dtype=torch.bool))
    with pytest.raises(TypeError, match="attn_mask: expected dtype torch.bool"):
        mha(x, x, x, attn_mask=torch.ones(3, 3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"key: expected shape \(B=2, S, Ek=8\)"):
        mha(x, torch.randn(2, 3, 5), x)
    with pytest.raises(ValueError, match="either attn_mask or is_causal"):
        mha(x, x, x, attn_mask=torch.ones(3, 3, dtype=torch.bool), is_causal=True)
    with pytest.raises(ValueError, match="add_bias_kv"):
        MultiHeadAttention.from_torch(nn.MultiheadAttention(8, 2, add_bias_kv=True))
    with pytest.raises(TypeError, match="module: expected a torch.nn.MultiheadAttention"):
        MultiHeadAttention.from_torch(nn.Linear(2, 2))


def test_from_torch_keeps_float64_exactly():
    ref = nn.MultiheadAttention(6, 2, batch_first=True, dtype=torch.float64).eval()
    ours = MultiHeadAttention.from_torch(ref).eval()
    x = torch.randn(2, 4, 6, dtype=torch.float64)
    assert ours.q_proj.weight.dtype == torch.float64
    torch.testing.assert_close(ours(x, x, x)[0], ref(x, x, x)[0], atol=1e-12, rtol=1e-12)


@pytest.mark.parametrize("num_kv_heads, use_sdpa", [(4, False), (4, True), (2, False), (1, True)])
def test_kv_cache_step_by_step_equals_causal_attention_over_the_whole_sequence(num_kv_heads, use_sdpa):
    torch.manual_seed(3)
    B, T, E = 2, 7, 16
    mha = MultiHeadAttention(E, 4, num_kv_heads=num_kv_heads, use_sdpa=use_sdpa).eval()
    x = torch.randn(B, T, E)
    want = mha(x, x, x, is_causal=True)[0]
    cache = KVCache()
    pieces = []
    for start, stop in ((0, 3), (3, 4), (4, 7)):  # a prompt of 3, then 1 token, then 3 at once
        chunk = x[:, start:stop]
        pieces.append(mha(chunk, chunk, chunk, is_causal=True, kv_cache=cache)[0])
        assert len(cache) == stop and cache.keys.shape == (B, num_kv_heads, stop, E // 4)
    torch.testing.assert_close(torch.cat(pieces, dim=1), want, atol=1e-6, rtol=1e-5)


def test_kv_cache_appends_on_the_sequence_axis_and_checks_shapes():
    cache = KVCache()
    k1, v1 = torch.randn(2, 3, 4, 5), torch.randn(2, 3, 4, 5)
    k2, v2 = torch.randn(2, 3, 1, 5), torch.randn(2, 3, 1, 5)
    assert len(cache) == 0
    cache.update(k1, v1)
    keys, values = cache.update(k2, v2)
    assert torch.equal(keys, torch.cat([k1, k2], dim=2)) and torch.equal(values, torch.cat([v1, v2], dim=2))
    assert len(cache) == 5
    with pytest.raises(ValueError, match=r"k: expected shape \(B=2, H=3, L, D=5\), got \(2, 4, 1, 5\)"):
        cache.update(torch.randn(2, 4, 1, 5), torch.randn(2, 4, 1, 5))
