import random

import numpy as np
import pytest
import torch

from attn_course import check_shape, device, set_seed


def test_set_seed_repeats_python_numpy_and_torch():
    set_seed(123)
    first = (random.random(), np.random.rand(), torch.rand(3))
    set_seed(123)
    second = (random.random(), np.random.rand(), torch.rand(3))
    assert first[0] == second[0] and first[1] == second[1]
    assert torch.equal(first[2], second[2])


@pytest.mark.parametrize("bad", [-1, 1.5, "0", True])
def test_set_seed_rejects_non_ints(bad):
    with pytest.raises(TypeError, match="seed"):
        set_seed(bad)


def test_device_matches_cuda_availability():
    assert device().type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_check_shape_returns_sizes():
    x = torch.zeros(2, 3, 5, 4)
    assert check_shape(x, "B H L D", B=2) == {"B": 2, "H": 3, "L": 5, "D": 4}
    assert check_shape(x, "... L D") == {"L": 5, "D": 4}
    assert check_shape(np.zeros((4, 4)), "L L") == {"L": 4}


@pytest.mark.parametrize(
    "shape, spec, sizes, message",
    [
        ((2, 3), "B L E", {}, r"x: expected shape \(B, L, E\), got \(2, 3\)"),
        ((2, 3, 4), "B L E", {"E": 8}, r"x: expected shape \(B, L, E=8\), got \(2, 3, 4\) \(E is 4, expected 8\)"),
        ((4, 5), "L L", {}, r"got \(4, 5\) \(L is 5, expected 4\)"),
        ((3,), "... L E", {}, r"expected shape \(\.\.\., L, E\), got \(3,\)"),
    ],
)
def test_check_shape_names_argument_and_shapes(shape, spec, sizes, message):
    with pytest.raises(ValueError, match=message):
        check_shape(torch.zeros(shape), spec, name="x", **sizes)


def test_check_shape_rejects_non_arrays_and_unknown_letters():
    with pytest.raises(TypeError, match="x: expected a torch.Tensor"):
        check_shape([1, 2], "L", name="x")
    with pytest.raises(ValueError, match="do not appear"):
        check_shape(torch.zeros(2), "L", Q=2)
