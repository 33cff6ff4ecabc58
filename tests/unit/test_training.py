"""The training loop both translators share: attn_course.training."""

import pytest
import torch

from attn_course.data import make_copy_task, make_date_task
from attn_course.rnn import AdditiveAttention, Decoder, Encoder, Seq2Seq
from attn_course.training import batches, exact_match, fit


def test_fit_lowers_the_loss_and_exact_match_is_per_example():
    torch.manual_seed(0)
    task = make_copy_task(n_train=256, n_test=32, min_len=2, max_len=4)
    model = Seq2Seq(Encoder(len(task.src_vocab), 8, 16), Decoder(len(task.tgt_vocab), 8, 32, 32, AdditiveAttention(32, 32, 16)))
    losses = fit(model, task.train, steps=60, batch_size=32, lr=1e-2)
    assert len(losses) == 60 and sum(losses[-10:]) < 0.5 * sum(losses[:10])
    ok = exact_match(model, task.test)
    assert ok.dtype == torch.bool and ok.shape == (32,) and not model.training


def test_batches_cover_every_example_once_trimmed_to_the_longest():
    task = make_date_task(n_train=300, n_test=10)
    seen = []
    for src, lens, tgt in batches(task.train, 64, torch.Generator().manual_seed(0)):
        assert src.size(1) == int(lens.max()) and src.size(0) == tgt.size(0) <= 64
        seen += [task.src_vocab.decode(s) for s in src]
    assert sorted(seen) == sorted(s for s, _ in task.train.pairs)


def test_fit_without_tqdm_prints_one_line(monkeypatch, capsys):
    import sys

    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # as if tqdm were not installed
    torch.manual_seed(0)
    task = make_copy_task(n_train=32, n_test=4, min_len=2, max_len=3)
    model = Seq2Seq(Encoder(len(task.src_vocab), 4, 4), Decoder(len(task.tgt_vocab), 4, 8, 8, None))
    assert len(fit(model, task.train, steps=2, batch_size=16, label="demo")) == 2
    assert "demo: training 2 steps (install tqdm for a progress bar)" in capsys.readouterr().out


def test_bad_sizes_name_the_argument():
    task = make_copy_task(n_train=8, n_test=2, min_len=2, max_len=3)
    model = Seq2Seq(Encoder(len(task.src_vocab), 4, 4), Decoder(len(task.tgt_vocab), 4, 8, 8, None))
    with pytest.raises(ValueError, match="batch_size: expected an int >= 1, got 0"):
        fit(model, task.train, steps=1, batch_size=0)
    with pytest.raises(TypeError, match="steps: expected an int >= 0, got float 2.5"):
        fit(model, task.train, steps=2.5)
    with pytest.raises(ValueError, match="batch_size"):
        next(batches(task.train, 0))
    assert fit(model, task.train, steps=0) == []
