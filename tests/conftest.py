import os

import matplotlib
import pytest
import torch
from hypothesis import HealthCheck, settings

matplotlib.use("Agg")  # tests draw without a screen

# Without CUDA, Triton kernels run in Triton's interpreter on CPU tensors. The switch must be set before
# anything imports triton (its own library functions are built for one mode at import time).
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

# Timing varies on a shared 2-core CI machine: no per-example deadline, a fixed budget of examples.
settings.register_profile("course", deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("course")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
