import datetime as dt

import pytest
import torch

from attn_course.data import (
    DATE_FORMATS,
    SOURCE_CHARACTERS,
    CharVocab,
    format_date,
    make_copy_task,
    make_date_task,
    pad_sequences,
    random_dates,
)

NOV_21 = dt.date(2026, 11, 21)  # a Saturday


def test_every_format_on_a_known_date():
    written = {f: format_date(NOV_21, f) for f in DATE_FORMATS}
    assert written == {
        "m/d/yy": "11/21/26",
        "dd.mm.yyyy": "21.11.2026",
        "d mon yyyy": "21 nov 2026",
        "mon d, yyyy": "nov 21, 2026",
        "d month yyyy": "21 november 2026",
        "month d, yyyy": "november 21, 2026",
        "dow d mon yyyy": "sat 21 nov 2026",
        "weekday, month d, yyyy": "saturday, november 21, 2026",
        "the dth of month, yyyy": "the 21st of november, 2026",
        "on weekday the dth of month yyyy": "on saturday the 21st of november 2026",
    }
    assert format_date(dt.date(2003, 2, 2), "the dth of month, yyyy", "title") == "The 2nd Of February, 2003"
    assert format_date(dt.date(2003, 2, 13), "the dth of month, yyyy", "upper") == "THE 13TH OF FEBRUARY, 2003"


def test_bad_format_or_case():
    with pytest.raises(ValueError, match="fmt: expected one of"):
        format_date(NOV_21, "yyyy")
    with pytest.raises(ValueError, match="case: expected one of"):
        format_date(NOV_21, "m/d/yy", "shouting")


def test_random_dates_are_reproducible_and_correct():
    pairs = random_dates(300, seed=7)
    assert pairs == random_dates(300, seed=7) and pairs != random_dates(300, seed=8)
    weekdays = [dt.date(2026, 11, 16 + i).strftime("%A").lower() for i in range(7)]  # Monday..Sunday
    for source, target in pairs:
        day = dt.date.fromisoformat(target)  # the target is a real ISO date...
        words = source.lower().replace(",", "").split()
        assert str(day.year) in source or day.strftime("/%y") in source  # ...whose year the source states
        written = [w for w in weekdays if w in words or w[:3] == words[0]]
        assert written in ([], [day.strftime("%A").lower()])  # a weekday, when written, is the right one
        assert set(source) <= set(SOURCE_CHARACTERS)


def test_date_task_holds_out_whole_calendar_days():
    task = make_date_task(n_train=2000, n_test=300, seed=3)
    train_days = {t for _, t in task.train.pairs}
    assert not train_days & {t for _, t in task.test.pairs}
    assert task.train.src.shape == (2000, int(task.train.lengths.max())) and task.test.tgt.shape == (300, 11)
    assert (task.test.tgt[:, -1] == task.tgt_vocab.eos_id).all()
    for i in (0, 17, 299):
        source, target = task.test.pairs[i]
        assert task.src_vocab.decode(task.test.src[i]) == source and task.tgt_vocab.decode(task.test.tgt[i]) == target
        assert (task.test.src[i, task.test.lengths[i]:] == 0).all()  # padding after the real tokens


def test_vocab_round_trip_and_unknown_characters():
    vocab = CharVocab("abc")
    assert vocab.encode("cab", eos=True) == [5, 3, 4, 2] and vocab.decode([1, 5, 3, 4, 2, 3]) == "cab"
    assert vocab.decode(torch.tensor([3, 0, 4])) == "ab" and len(vocab) == 6
    with pytest.raises(ValueError, match=r"text: characters \['d', 'é'\] are not in the vocabulary \(3 characters: 'abc'"):
        vocab.encode("adé")


def test_pad_sequences():
    padded, lengths = pad_sequences([[5, 6, 7], [8], [9, 9]])
    assert padded.tolist() == [[5, 6, 7], [8, 0, 0], [9, 9, 0]] and lengths.tolist() == [3, 1, 2]


def test_encode_sources_pads_new_strings():
    task = make_date_task(n_train=10, n_test=10)
    src, lengths = task.encode_sources(["1/2/03", "21 nov 2026"])
    assert src.shape == (2, 11) and lengths.tolist() == [6, 11]
    assert task.src_vocab.decode(src[0]) == "1/2/03" and src[0, 6:].eq(0).all()


def test_copy_task():
    task = make_copy_task(n_train=200, n_test=50, min_len=3, max_len=9, seed=1)
    for source, target in task.train.pairs + task.test.pairs:
        assert source == target and 3 <= len(source) <= 9 and source.isdigit()
    assert task.train.tgt.size(1) == 10  # the longest string (9) and EOS
