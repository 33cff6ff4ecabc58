import random

import pytest
import torch
from torch import nn

from attn_course.cross_attention import CrossAttention, PatchEmbedding, patchify, unpatchify
from attn_course.masks import padding_mask
from attn_course.multihead import MultiHeadAttention


def random_config(rng: random.Random) -> dict:
    H = rng.randint(1, 4)
    D = rng.choice([1, 2, 3, 5, 8])  # odd head widths included
    return dict(H=H, E=H * D, C=rng.choice([None, rng.randint(1, 9)]), B=rng.randint(1, 3), L=rng.randint(1, 6),
                S=rng.randint(1, 7), bias=rng.random() < 0.7, seed=rng.randint(0, 10**6))


CONFIGS = [random_config(random.Random(i)) for i in range(30)]


@pytest.mark.parametrize("c", CONFIGS, ids=[f"cfg{i}" for i in range(len(CONFIGS))])
def test_matches_nn_multihead_attention_with_key_padding_mask(c):
    torch.manual_seed(c["seed"])
    B, L, S, E, C = c["B"], c["L"], c["S"], c["E"], c["C"] or c["E"]
    ref = nn.MultiheadAttention(E, c["H"], bias=c["bias"], kdim=C, vdim=C, batch_first=True).eval()
    ours = CrossAttention(E, c["H"], context_dim=C, bias=c["bias"]).eval()
    ours.attn.load_state_dict(MultiHeadAttention.from_torch(ref).state_dict())
    x, context = torch.randn(B, L, E), torch.randn(B, S, C)
    lengths = torch.randint(1, S + 1, (B,))  # at least one real token per source
    real = padding_mask(lengths, S)  # (B, S) True = real token
    want_out, want_w = ref(x, context, context, key_padding_mask=~real, need_weights=True, average_attn_weights=False)
    got_out, got_w = ours(x, context, real, need_weights=True, average_attn_weights=False)
    # float32 against PyTorch: the same products in a different order, so agreement to about 1e-6 relative
    torch.testing.assert_close(got_out, want_out, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(got_w, want_w, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("use_sdpa", [False, True])
def test_same_sequence_and_s_equal_l_is_self_attention(use_sdpa):
    torch.manual_seed(1)
    B, L, E, H = 3, 5, 12, 3
    cross = CrossAttention(E, H, use_sdpa=use_sdpa).eval()
    mha = MultiHeadAttention(E, H).eval()
    mha.load_state_dict(cross.attn.state_dict())
    x = torch.randn(B, L, E, dtype=torch.float64)
    cross.double(), mha.double()
    torch.testing.assert_close(cross(x, x)[0], mha(x, x, x)[0], atol=1e-12, rtol=1e-12)
    ref = nn.MultiheadAttention(E, H, batch_first=True, dtype=torch.float64).eval()
    cross.attn.load_state_dict(MultiHeadAttention.from_torch(ref).state_dict())
    torch.testing.assert_close(cross(x, x)[0], ref(x, x, x)[0], atol=1e-12, rtol=1e-12)


@pytest.mark.parametrize("use_sdpa", [False, True])
def test_padded_source_tokens_get_zero_weight_and_do_not_matter(use_sdpa):
    torch.manual_seed(2)
    B, L, S, E, C = 3, 4, 6, 8, 5
    cross = CrossAttention(E, 2, context_dim=C, use_sdpa=use_sdpa).eval()
    x, context = torch.randn(B, L, E), torch.randn(B, S, C)
    real = padding_mask([6, 3, 1], S)
    out, w = cross(x, context, real, need_weights=True, average_attn_weights=False)  # weights from the manual path
    assert torch.equal(w.masked_select(~real[:, None, None, :]), torch.zeros(int((~real).sum()) * 2 * L))
    torch.testing.assert_close(w.sum(-1), torch.ones(B, 2, L))
    changed = context.masked_fill(~real[..., None], 1e4)  # garbage in the padding
    torch.testing.assert_close(cross(x, changed, real)[0], cross(x, context, real)[0], atol=1e-6, rtol=1e-6)
    assert not torch.allclose(cross(x, changed)[0], cross(x, context)[0])  # without the mask it leaks


def test_shapes_l_not_s_and_l_equals_one():
    cross = CrossAttention(8, 2, context_dim=3)
    for L, S in ((1, 5), (7, 2), (3, 3)):
        out, w = cross(torch.randn(2, L, 8), torch.randn(2, S, 3), need_weights=True)
        assert out.shape == (2, L, 8) and w.shape == (2, L, S)


def test_bad_input_names_the_argument():
    cross = CrossAttention(8, 2, context_dim=4)
    x, context = torch.randn(2, 3, 8), torch.randn(2, 5, 4)
    with pytest.raises(ValueError, match=r"context: expected shape \(B=2, S, C=4\), got \(2, 5, 6\)"):
        cross(x, torch.randn(2, 5, 6))
    with pytest.raises(ValueError, match=r"x: expected shape \(B, L, E=8\)"):
        cross(torch.randn(2, 3, 7), context)
    with pytest.raises(TypeError, match="context_mask: expected torch.bool"):
        cross(x, context, torch.ones(2, 5))
    with pytest.raises(ValueError, match=r"context_mask: expected shape \(B=2, S=5\), got \(2, 3\)"):
        cross(x, context, torch.ones(2, 3, dtype=torch.bool))


def test_patchify_against_a_loop_and_unpatchify_inverts_it():
    images = torch.randn(2, 3, 12, 8)
    p = 4
    patches = patchify(images, p)
    assert patches.shape == (2, 6, p * p * 3)
    for b in range(2):
        for s in range(6):
            r, c = divmod(s, 2)  # patches go row by row: 2 per row here
            block = images[b, :, r * p:(r + 1) * p, c * p:(c + 1) * p]  # (C, p, p)
            assert torch.equal(patches[b, s], block.permute(1, 2, 0).reshape(-1))
    assert torch.equal(unpatchify(patches, p, (12, 8), 3), images)
    with pytest.raises(ValueError, match="patch_size: expected a divisor"):
        patchify(images, 5)


def test_patch_embedding_positions_tell_identical_patches_apart():
    embed = PatchEmbedding(image_size=8, patch_size=4, channels=3, embed_dim=16)
    tokens = embed(torch.zeros(1, 3, 8, 8))  # four identical (empty) patches
    assert tokens.shape == (1, 4, 16)
    assert torch.cdist(tokens[0], tokens[0]).triu(1)[torch.ones(4, 4).triu(1).bool()].min() > 0
    mlp = PatchEmbedding(8, 4, 3, 16, hidden_dim=32)
    assert isinstance(mlp.proj, nn.Sequential) and mlp(torch.randn(2, 3, 8, 8)).shape == (2, 4, 16)
    with pytest.raises(ValueError, match=r"images: expected shape \(B, C=3, H=8, W=8\)"):
        embed(torch.randn(1, 3, 16, 16))
    with pytest.raises(ValueError, match="patch_size: expected a divisor of image_size 8"):
        PatchEmbedding(8, 3, 3, 16)
