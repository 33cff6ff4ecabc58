"""What every checker shares (attn_course.exercises.core): one clear line for every outcome, never an exception.

The checker of notebook 02's softmax carries these tests: core compares a learner's answer in stages (None, type,
number of dimensions, shape, dtype, NaN/inf, values), and each stage has its own description. The tests follow
that order.
"""

import numpy as np
import pytest
import torch

from attn_course.exercises import lookup
from attn_course.exercises import softmax as check
from attn_course.exercises.core import Case, Hints, run_cases


def _not_implemented(x):
    raise NotImplementedError("your code here")


def _mutates(x):
    x -= x.amax(-1, keepdim=True)
    return torch.softmax(x, -1)


def _raises(x):
    return x @ x  # (3, 5) @ (3, 5): a shape error in the learner's own line


def test_a_stub_is_not_attempted(expect):
    result = expect.not_attempted(check.softmax, _not_implemented)
    assert result.message == "Replace `raise NotImplementedError` with your code, then run this cell again."


def test_a_tensor_subclass_with_autograd_history_is_still_correct(expect):
    expect.correct(check.softmax, lambda x: torch.nn.Parameter(torch.softmax(x, -1)))


def test_a_value_instead_of_a_function_is_explained(expect):
    result = expect.generic(check.softmax, 42, "Pass your function itself (e.g. check.softmax(my_function)), not int.")
    assert "\n" not in repr(result)


GENERIC = [  # (the learner's function, what core says), in the order core compares
    (lambda x: None, "Your function returned None: did you forget `return`?"),
    (lambda x: x.numpy(), "Returned a numpy.ndarray; expected a torch.Tensor."),
    (lambda x: (torch.softmax(x, -1), x), "Returned a tuple (did you return several values?); expected a torch.Tensor."),
    (lambda x: torch.softmax(x, -1).sum(-1),
     "Wrong number of dimensions on scores of shape (3, 5): got shape (3,), expected (3, 5)."),
    (lambda x: torch.softmax(x, -1)[..., :-1], "Wrong shape on scores of shape (3, 5): got shape (3, 4), expected (3, 5)."),
    (lambda x: torch.softmax(x, -1).double(), "Dtype is torch.float64, expected torch.float32 (the values are right)."),
    (lambda x: torch.softmax(x, -1).to(torch.complex64), "Dtype is torch.complex64, expected torch.float32"),
    (lambda x: torch.softmax(x, -1) * 1.1, "Values differ on scores of shape (3, 5): largest difference 0.062 at index"),
    (_mutates, "Your function changed its input `x` (argument 1) in place (e.g. `x -= ...` or `x[i] = ...`)"),
    (_raises, "Your function raised RuntimeError: mat1 and mat2 shapes cannot be multiplied (3x5 and 3x5)"),
]


@pytest.mark.parametrize("fn, description", GENERIC, ids=[d[:40] for _, d in GENERIC])
def test_every_failure_is_one_clear_line_never_an_exception(expect, fn, description):
    result = expect.generic(check.softmax, fn, description)
    assert result.message.startswith(description) and result.message.endswith(" Stuck? check.hint('softmax')")
    assert "\n" not in repr(result)


def test_a_shape_error_gets_the_shape_advice_with_the_learners_function_and_line_but_no_path(expect):
    result = expect.generic(check.softmax, _raises, "The shapes do not line up: did you reduce without keepdim=True")
    assert "(in _raises, line" in result.message and "/" not in result.message.split("(in")[1].split("Stuck")[0]
    assert result.message.endswith("Stuck? check.hint('softmax')")


def test_nan_is_explained_by_the_exercises_own_advice_where_it_has_one(expect):
    result = expect.advised(check.softmax, lambda x: torch.full_like(x, float("nan")),
                            "NaN or inf in your answer: exp of a large score overflows to inf")
    assert "\n" not in repr(result)


def test_nan_is_counted_where_the_exercise_has_no_advice(expect):
    def nan(q, k, v):
        return torch.full((q.shape[0], v.shape[1]), float("nan"))
    expect.generic(lookup.soft_lookup, nan, "8 NaN or inf value(s) on L=2 queries, S=5 keys, E=3, Ev=4, where all "
                                            "should be finite.")


def test_checker_inputs_do_not_depend_on_global_rng():
    torch.manual_seed(1)
    first = repr(check.softmax(lambda x: torch.softmax(x, -1) * 1.1, record=False))
    torch.manual_seed(2)
    np.random.seed(2)
    assert repr(check.softmax(lambda x: torch.softmax(x, -1) * 1.1, record=False)) == first


def test_a_comparison_that_fails_is_reported_not_raised():
    broken = Case("a broken case", (), torch.zeros(2), faulty={"never shown": "not a tensor"})
    result = run_cases("demo", lambda: torch.ones(2), [broken])
    assert result.status == "wrong" and result.message.startswith("Could not compare your answer with the expected one")
    assert "never shown" not in result.message


def test_hints_come_one_at_a_time_then_stop():
    hints = Hints({"demo": ["first", "second"]})
    shown = [hints.hint("demo").message for _ in range(3)]
    assert shown[:2] == ["Hint 1 of 2: first", "Hint 2 of 2: second"]
    assert shown[2].startswith("No more hints.") and "student copy" in shown[2]
    assert "choose one of ['demo']" in hints.hint("other").message
    assert repr(hints.hint("demo")).startswith("💡 demo:")
