import pytest
import torch
from torch import nn

from attn_course.masks import padding_mask
from attn_course.multihead import MultiHeadAttention
from attn_course.transformer import (
    DecoderOnlyTransformer,
    ImageQuestionModel,
    TransformerBlock,
    TransformerTranslator,
)


def copy_attention(ours: MultiHeadAttention, ref: nn.MultiheadAttention) -> None:
    """Give PyTorch's module our weights (its packed in_proj holds q, k, v one under another)."""
    with torch.no_grad():
        if ref._qkv_same_embed_dim:
            ref.in_proj_weight.copy_(torch.cat([ours.q_proj.weight, ours.k_proj.weight, ours.v_proj.weight]))
        else:
            for name in "qkv":
                getattr(ref, f"{name}_proj_weight").copy_(getattr(ours, f"{name}_proj").weight)
        ref.in_proj_bias.copy_(torch.cat([ours.q_proj.bias, ours.k_proj.bias, ours.v_proj.bias]))
        ref.out_proj.load_state_dict(ours.out_proj.state_dict())


def copy_block(ours: TransformerBlock, ref: nn.Module) -> None:
    copy_attention(ours.self_attn, ref.self_attn)
    ref.norm1.load_state_dict(ours.ln_self.state_dict())
    ref.linear1.load_state_dict(ours.mlp[0].state_dict())
    ref.linear2.load_state_dict(ours.mlp[2].state_dict())
    if ours.cross_attn is None:
        ref.norm2.load_state_dict(ours.ln_mlp.state_dict())
    else:
        copy_attention(ours.cross_attn.attn, ref.multihead_attn)
        ref.norm2.load_state_dict(ours.ln_cross.state_dict())
        ref.norm3.load_state_dict(ours.ln_mlp.state_dict())


def randomise_norms(block: nn.Module) -> None:
    for module in block.modules():
        if isinstance(module, nn.LayerNorm):
            nn.init.normal_(module.weight, 1.0, 0.3)
            nn.init.normal_(module.bias, 0.0, 0.3)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("B, L, E, H", [(2, 5, 16, 4), (1, 1, 6, 3), (3, 7, 10, 5)])
def test_block_equals_pytorch_pre_norm_encoder_layer(causal, B, L, E, H):
    torch.manual_seed(L)
    ours = TransformerBlock(E, H, causal=causal, mlp_ratio=3).eval()
    randomise_norms(ours)
    ref = nn.TransformerEncoderLayer(E, H, dim_feedforward=3 * E, dropout=0.0, activation="gelu", batch_first=True,
                                     norm_first=True).eval()
    copy_block(ours, ref)
    x = torch.randn(B, L, E)
    mask = nn.Transformer.generate_square_subsequent_mask(L) if causal else None  # -inf above the diagonal
    # float32, the same operations in a different order (fused in PyTorch): about 1e-6
    torch.testing.assert_close(ours(x)[0], ref(x, src_mask=mask, is_causal=causal), atol=2e-5, rtol=1e-5)


@pytest.mark.parametrize("B, L, S, E, H", [(2, 4, 6, 8, 2), (1, 1, 3, 12, 3), (3, 5, 5, 6, 1)])
def test_cross_block_equals_pytorch_pre_norm_decoder_layer(B, L, S, E, H):
    torch.manual_seed(S)
    ours = TransformerBlock(E, H, causal=True, context_dim=E, mlp_ratio=2).eval()
    randomise_norms(ours)
    ref = nn.TransformerDecoderLayer(E, H, dim_feedforward=2 * E, dropout=0.0, activation="gelu", batch_first=True,
                                     norm_first=True).eval()
    copy_block(ours, ref)
    x, memory = torch.randn(B, L, E), torch.randn(B, S, E)
    real = padding_mask(torch.randint(1, S + 1, (B,)), S)
    want = ref(x, memory, tgt_mask=nn.Transformer.generate_square_subsequent_mask(L), tgt_is_causal=True,
               memory_key_padding_mask=~real)  # PyTorch: True = ignore
    torch.testing.assert_close(ours(x, memory, real)[0], want, atol=2e-5, rtol=1e-5)


def test_block_residual_is_identity_when_sublayers_output_zero():
    block = TransformerBlock(8, 2)
    for linear in (block.self_attn.out_proj, block.mlp[2]):
        nn.init.zeros_(linear.weight), nn.init.zeros_(linear.bias)
    x = torch.randn(2, 5, 8)
    assert torch.equal(block(x)[0], x)


def test_block_weights_and_errors():
    block = TransformerBlock(8, 2, context_dim=4)
    x, context = torch.randn(2, 3, 8), torch.randn(2, 5, 4)
    _, w = block(x, context, need_weights=True)
    assert w["self"].shape == (2, 2, 3, 3) and w["cross"].shape == (2, 2, 3, 5)
    assert torch.equal(w["self"][..., 0, 1:], torch.zeros(2, 2, 2))  # causal: token 0 sees only itself
    with pytest.raises(ValueError, match="context: this block was built with cross-attention"):
        block(x)
    with pytest.raises(ValueError, match="context: this block was built without cross-attention"):
        TransformerBlock(8, 2)(x, context)


def test_causal_block_with_padding_mask_combines_both():
    torch.manual_seed(4)
    block = TransformerBlock(8, 2, causal=True).eval()
    x = torch.randn(2, 5, 8)
    real = padding_mask([5, 3], 5)
    _, w = block(x, attn_mask=real[:, None, :], need_weights=True)
    assert torch.equal(w["self"].triu(1), torch.zeros_like(w["self"]))  # no future
    assert torch.equal(w["self"][1, :, :, 3:], torch.zeros(2, 5, 2))  # no padding


def small_gpt(seed: int, **kwargs) -> DecoderOnlyTransformer:
    torch.manual_seed(seed)
    return DecoderOnlyTransformer(vocab_size=11, max_len=40, embed_dim=24, num_heads=3, num_layers=2, **kwargs).eval()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cached_generation_equals_uncached_token_for_token(seed):
    model = small_gpt(seed)
    prompt = torch.randint(0, 11, (4, 1 + seed * 3))
    cached, uncached = model.generate(prompt, 20, use_cache=True), model.generate(prompt, 20, use_cache=False)
    assert cached.shape == (4, prompt.size(1) + 20)
    assert torch.equal(cached, uncached)
    assert torch.equal(cached[:, :prompt.size(1)], prompt)


def test_cached_logits_equal_the_full_forward_pass():
    model = small_gpt(5)
    ids = torch.randint(0, 11, (3, 12))
    with torch.no_grad():
        full, _ = model(ids)
        caches = model.new_caches()
        steps = [model(ids[:, :5], caches)[0]] + [model(ids[:, t:t + 1], caches)[0] for t in range(5, 12)]
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=1e-5, rtol=1e-5)
    assert [len(c) for c in caches] == [12, 12]


def test_decoder_is_causal_and_weights_are_per_layer():
    model = small_gpt(6)
    ids = torch.randint(0, 11, (2, 9))
    changed = ids.clone()
    changed[:, 6:] = (ids[:, 6:] + 1) % 11
    with torch.no_grad():
        a, w = model(ids, need_weights=True)
        b, _ = model(changed)
    torch.testing.assert_close(a[:, :6], b[:, :6])
    assert not torch.allclose(a[:, 6:], b[:, 6:])
    assert len(w) == 2 and w[0].shape == (2, 3, 9, 9)


def test_decoder_rejects_sequences_longer_than_its_positions():
    model = small_gpt(7)
    with pytest.raises(ValueError, match="ids: positions 0..40 go past max_len 40"):
        model(torch.zeros(1, 41, dtype=torch.long))
    assert model.generate(torch.zeros(1, 38, dtype=torch.long), 3).shape == (1, 41)  # the last one is never read
    with pytest.raises(ValueError, match="max_new_tokens: a prompt of 38 and 4 new tokens need 41 positions"):
        model.generate(torch.zeros(1, 38, dtype=torch.long), 4)


def test_translator_translate_is_consistent_with_teacher_forcing_and_ignores_padding():
    torch.manual_seed(8)
    model = TransformerTranslator(src_vocab=15, tgt_vocab=9, max_src_len=12, max_tgt_len=8, embed_dim=16,
                                  num_heads=2).eval()
    src = torch.randint(3, 15, (3, 10))
    lengths = torch.tensor([10, 6, 2])
    src = src.masked_fill(~padding_mask(lengths, 10), 0)
    ids, weights = model.translate(src, lengths, max_len=7)
    assert ids.shape == (3, 7) and weights.shape == (3, 2, 7, 10)
    assert torch.equal(weights[2, ..., 2:], torch.zeros(2, 7, 8))  # padded source characters get no weight
    with torch.no_grad():
        logits, _ = model(src, lengths, ids)  # teacher forcing on its own output gives the same greedy choices
        other = src.masked_fill(~padding_mask(lengths, 10), 7)  # different padding ids
        logits_other, _ = model(other, lengths, ids)
    assert torch.equal(logits.argmax(-1), ids)
    torch.testing.assert_close(logits_other, logits)


def test_image_question_model_shapes_and_question_padding():
    torch.manual_seed(9)
    model = ImageQuestionModel(num_words=10, num_answers=5, patch_size=8, embed_dim=16, num_heads=2).eval()
    images = torch.rand(2, 3, 32, 32)
    questions = torch.tensor([[3, 4, 5, 0], [6, 7, 8, 9]])
    with torch.no_grad():
        logits, w = model(images, questions, need_weights=True)
        longer, _ = model(images, torch.cat([questions, torch.zeros(2, 2, dtype=torch.long)], dim=1))
    assert logits.shape == (2, 5) and w.shape == (2, 2, 4, 16)
    torch.testing.assert_close(longer, logits, atol=1e-5, rtol=1e-5)  # padding at the end changes nothing


def test_generate_runs_without_dropout_and_restores_the_mode():
    model = small_gpt(10, dropout=0.5).train()
    prompt = torch.randint(0, 11, (2, 3))
    first, second = model.generate(prompt, 10), model.generate(prompt, 10)
    assert torch.equal(first, second) and model.training
