import pytest
import torch
from torch import nn

from attn_course import scaled_dot_product_attention
from attn_course.data import make_date_task
from attn_course.rnn import (
    AdditiveAttention,
    Decoder,
    Encoder,
    LuongAttention,
    Seq2Seq,
    attend,
)

B, S, Eq, Ek = 3, 6, 5, 4
LENGTHS = torch.tensor([6, 4, 1])
MASK = torch.arange(S)[None, :] < LENGTHS[:, None]  # (B, S)


def inputs(L=None, dtype=torch.float64):
    q = torch.randn((B, Eq) if L is None else (B, L, Eq), dtype=dtype)
    return q, torch.randn(B, S, Ek, dtype=dtype), torch.randn(B, S, 3, dtype=dtype)


@torch.no_grad()
def naive_weights(score_fn, q, k, mask):
    """Loops over sentences and source steps; masked softmax written out."""
    w = torch.zeros(q.size(0), k.size(1), dtype=q.dtype)
    for b in range(q.size(0)):
        scores = torch.tensor([float(score_fn(q[b], k[b, s])) for s in range(k.size(1))], dtype=q.dtype)
        e = torch.exp(scores - scores[mask[b]].max()) * mask[b]
        w[b] = e / e.sum()
    return w


def test_attend_gives_padding_exactly_zero_weight():
    scores, values = torch.randn(B, S), torch.randn(B, S, 3)
    context, weights = attend(scores, values, MASK)
    assert torch.equal(weights[~MASK], torch.zeros(int((~MASK).sum())))
    torch.testing.assert_close(weights.sum(-1), torch.ones(B))
    torch.testing.assert_close(context, (weights[:, :, None] * values).sum(1))
    context2, weights2 = attend(scores[:, None, :].expand(B, 2, S), values, MASK)  # two decoder steps at once
    torch.testing.assert_close(weights2[:, 1], weights)


def test_additive_score_matches_the_formula():
    torch.manual_seed(1)
    att = AdditiveAttention(Eq, Ek, 7).double()
    q, k, v = inputs()
    Wq, Wk, vv = att.W_q.weight, att.W_k.weight, att.v.weight[0]

    def score(qi, kj):
        return vv @ torch.tanh(Wq @ qi + Wk @ kj)

    context, weights = att(q, k, v, MASK)
    torch.testing.assert_close(weights, naive_weights(score, q, k, MASK))
    torch.testing.assert_close(context, (weights[:, :, None] * v).sum(1))


@pytest.mark.parametrize("kind", ["dot", "general", "concat"])
def test_luong_scores_match_their_formulas(kind):
    torch.manual_seed(2)
    Ek_ = Eq if kind == "dot" else Ek
    att = LuongAttention(Eq, Ek_, kind, hidden_dim=6).double()
    q, k = torch.randn(B, Eq, dtype=torch.float64), torch.randn(B, S, Ek_, dtype=torch.float64)
    formulas = {
        "dot": lambda qi, kj: qi @ kj,
        "general": lambda qi, kj: qi @ (att.W.weight @ kj) if kind == "general" else None,
        "concat": lambda qi, kj: att.v.weight[0] @ torch.tanh(att.W.weight @ torch.cat([qi, kj])) if kind == "concat" else None,
    }
    _, weights = att(q, k, k, MASK)
    torch.testing.assert_close(weights, naive_weights(formulas[kind], q, k, MASK))


def test_dot_and_general_are_unscaled_sdpa_and_concat_is_additive():
    torch.manual_seed(3)
    q, k, v = inputs(L=2, dtype=torch.float32)
    general = LuongAttention(Eq, Ek, "general")
    want = scaled_dot_product_attention(q, general.W(k), v, MASK[:, None, :], scale=1.0)
    torch.testing.assert_close(general(q, k, v, MASK)[0], want)
    concat, additive = LuongAttention(Eq, Ek, "concat", hidden_dim=6), AdditiveAttention(Eq, Ek, 6)
    with torch.no_grad():
        additive.W_q.weight.copy_(concat.W.weight[:, :Eq])
        additive.W_k.weight.copy_(concat.W.weight[:, Eq:])
        additive.v.weight.copy_(concat.v.weight)
    torch.testing.assert_close(concat(q, k, v, MASK), additive(q, k, v, MASK))


@pytest.mark.parametrize("att", [AdditiveAttention(Eq, Ek, 6), LuongAttention(Eq, Ek, "general")])
def test_one_step_equals_a_sequence_of_one(att):
    q, k, v = inputs(dtype=torch.float32)
    context, weights = att(q, k, v, MASK)
    context_seq, weights_seq = att(q[:, None, :], k, v, MASK)
    torch.testing.assert_close(context, context_seq[:, 0])
    torch.testing.assert_close(weights, weights_seq[:, 0])


def test_bad_input_is_named():
    att = AdditiveAttention(Eq, Ek, 6)
    q, k, v = inputs(dtype=torch.float32)
    with pytest.raises(TypeError, match="mask: expected a boolean tensor"):
        att(q, k, v, MASK.float())
    with pytest.raises(ValueError, match=r"mask: expected shape \(B=3, S=6\), got \(3, 5\)"):
        att(q, k, v, MASK[:, :5])
    with pytest.raises(ValueError, match=r"values: expected shape \(B=3, S=6, Ev\)"):
        att(q, k, v[:, :4], MASK)
    with pytest.raises(ValueError, match=r"query: expected shape \(B=3, Eq\)"):
        att(q[:2], k, v, MASK)
    with pytest.raises(ValueError, match="score: expected 'dot', 'general' or 'concat'"):
        LuongAttention(4, 4, "cosine")
    with pytest.raises(ValueError, match="key_dim: the dot score needs key_dim == query_dim"):
        LuongAttention(4, 6, "dot")


def test_encoder_equals_a_packed_bidirectional_gru():
    """An independent reference: PyTorch's own bidirectional GRU over packed sequences."""
    torch.manual_seed(4)
    enc = Encoder(vocab_size=12, embed_dim=5, hidden_dim=7)
    ref = nn.GRU(5, 7, batch_first=True, bidirectional=True)
    with torch.no_grad():
        for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
            getattr(ref, name).copy_(getattr(enc.forward_gru, name))
            getattr(ref, name + "_reverse").copy_(getattr(enc.backward_gru, name))
    src = torch.randint(3, 12, (B, S)).masked_fill(~MASK, 0)
    outputs, summary = enc(src, LENGTHS)
    packed = nn.utils.rnn.pack_padded_sequence(enc.embed(src), LENGTHS, batch_first=True, enforce_sorted=False)
    ref_out, ref_last = ref(packed)
    ref_out, _ = nn.utils.rnn.pad_packed_sequence(ref_out, batch_first=True, total_length=S)
    torch.testing.assert_close(outputs[MASK], ref_out[MASK])
    torch.testing.assert_close(summary, torch.cat([ref_last[0], ref_last[1]], -1))


def small_model(attention=True, seed=0):
    torch.manual_seed(seed)
    task = make_date_task(n_train=64, n_test=16)
    enc = Encoder(len(task.src_vocab), 8, 8)
    dec = Decoder(len(task.tgt_vocab), 4, 16, 16, AdditiveAttention(16, 16, 8) if attention else None)
    return Seq2Seq(enc, dec).eval(), task


@pytest.mark.parametrize("attention", [True, False])
def test_a_sentence_alone_equals_the_same_sentence_in_a_padded_batch(attention):
    model, task = small_model(attention)
    src, lengths, tgt = task.test.src, task.test.lengths, task.test.tgt
    short = int(lengths.argmin())
    logits, weights = model(src, lengths, tgt)
    alone_logits, alone_weights = model(src[short:short + 1, : lengths[short]], lengths[short:short + 1], tgt[short:short + 1])
    torch.testing.assert_close(alone_logits[0], logits[short], atol=1e-6, rtol=1e-5)
    ids, _ = model.translate(src, lengths, max_len=11)
    alone_ids, _ = model.translate(src[short:short + 1, : lengths[short]], lengths[short:short + 1], max_len=11)
    assert torch.equal(alone_ids[0], ids[short])
    if attention:
        pad = torch.arange(src.size(1))[None, None, :] >= lengths[:, None, None]  # (B, 1, S)
        assert torch.equal(weights.masked_select(pad), torch.zeros(int(pad.sum()) * tgt.size(1)))
        torch.testing.assert_close(alone_weights[0], weights[short, :, : lengths[short]], atol=1e-6, rtol=1e-5)
    else:
        assert weights is None


def test_teacher_forcing_on_the_greedy_output_reproduces_greedy_decoding():
    model, task = small_model()
    ids, weights = model.translate(task.test.src, task.test.lengths, max_len=11)
    logits, forced_weights = model(task.test.src, task.test.lengths, ids)
    assert torch.equal(logits.argmax(-1), ids)
    torch.testing.assert_close(forced_weights, weights)


def test_decoder_queries_can_be_recomputed_from_public_parts():
    """Notebook 05 rebuilds the decoder's questions from encoder, embed, gru, start and bos_id."""
    model, task = small_model()
    src, lengths, tgt = task.test.src, task.test.lengths, task.test.tgt
    _, weights = model(src, lengths, tgt)
    with torch.no_grad():
        keys, summary = model.encoder(src, lengths)
        tokens = torch.cat([torch.full_like(tgt[:, :1], model.bos_id), tgt[:, :-1]], dim=1)
        queries, _ = model.decoder.gru(model.decoder.embed(tokens), model.decoder.start(summary))
        mask = torch.arange(src.size(1))[None, :] < lengths[:, None]  # (B, S)
        _, again = model.decoder.attention(queries, keys, keys, mask)
    torch.testing.assert_close(again, weights)
