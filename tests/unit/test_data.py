import datetime as dt

import pytest
import torch

from attn_course.data import (
    DATE_FORMATS,
    QUADRANTS,
    SHAPE_COLOURS,
    SOURCE_CHARACTERS,
    CharVocab,
    draw_shapes,
    format_date,
    make_copy_task,
    make_date_task,
    make_shapes_task,
    make_sort_task,
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


def test_shapes_task_answers_agree_with_the_pixels():
    task = make_shapes_task(300, 50, seed=3)
    assert task.train.images.shape == (300, 3, 32, 32) and task.test.targets.shape == (50, 32, 32)
    assert task.train.images.dtype == torch.float32 and 0 <= task.train.images.min() <= task.train.images.max() <= 1
    for split in (task.train, task.test):
        for i, (question, answer) in enumerate(split.texts):
            assert task.answers[int(split.answers[i])] == answer
            words = [task.words[j] for j in split.questions[i].tolist() if j != 0]
            assert " ".join(words) == question
            target = split.targets[i]
            rows, cols = torch.nonzero(target, as_tuple=True)
            colour = split.images[i][:, target].mean(dim=1)  # (3,): the shape's mean colour
            nearest = min(SHAPE_COLOURS, key=lambda c: float(((colour / colour.max()) - torch.tensor(
                SHAPE_COLOURS[c]) / max(SHAPE_COLOURS[c])).abs().sum()))
            if question.startswith("what colour"):
                assert answer == nearest
            elif question.startswith("where"):
                quadrant = QUADRANTS[2 * int(rows.float().mean() >= 16) + int(cols.float().mean() >= 16)]
                assert answer == quadrant and question.split()[3] == nearest
            else:
                area = int(target.sum())  # 12-pixel shapes: the area tells the kind
                kind = min(("square", 144), ("circle", 112), ("triangle", 72), key=lambda k: abs(k[1] - area))[0]
                assert answer == kind and question.split()[4] == nearest


def test_shapes_task_is_reproducible_and_questions_encode():
    a, b = make_shapes_task(20, 5, seed=1), make_shapes_task(20, 5, seed=1)
    assert torch.equal(a.train.images, b.train.images) and a.test.texts == b.test.texts
    assert not torch.equal(a.train.images, make_shapes_task(20, 5, seed=2).train.images)
    ids = a.encode_question("where is the red square ?", length=8)
    assert ids.shape == (8,) and ids[-2:].tolist() == [0, 0]
    assert " ".join(a.words[i] for i in ids.tolist() if i) == "where is the red square ?"
    with pytest.raises(ValueError, match=r"text: words \['purple'\] are not in the vocabulary"):
        a.encode_question("where is the purple square ?")
    kinds = {q.split()[1] if q.startswith("what") else "where" for q, _ in make_shapes_task(200, 1).train.texts}
    assert kinds == {"colour", "shape", "where"}


def test_draw_shapes_stencils():
    image, masks = draw_shapes([("square", "red", 0, 0, 12), ("circle", "blue", 16, 16, 12),
                                ("triangle", "green", 0, 16, 12)], noise=0.0)
    assert image.shape == (3, 32, 32) and masks.shape == (3, 32, 32)
    assert [int(m.sum()) for m in masks] == [144, 112, 72]
    assert masks[2][0].sum() < masks[2][11].sum()  # the triangle widens downwards
    assert not (masks[0] & masks[1]).any()


def test_sort_task():
    task = make_sort_task(500, 100, length=6, seed=4)
    assert task.train.shape == (500, 13) and task.test.shape == (100, 13) and task.prompt_len == 7
    texts = [task.decode(row) for row in torch.cat([task.train, task.test])]
    for text in texts:
        digits, answer = text.split(">")
        assert len(digits) == 6 and answer == "".join(sorted(digits))
    assert len(set(texts)) == 600  # distinct, so no test string is in training
    assert task.decode(task.encode("314159")[0]) == "314159>"
    with pytest.raises(ValueError, match="digits: expected 6 digits, got '31415'"):
        task.encode("31415")
    assert torch.equal(make_sort_task(500, 100, length=6, seed=4).test, task.test)
