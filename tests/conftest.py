import matplotlib
import pytest
import torch
from hypothesis import HealthCheck, settings

matplotlib.use("Agg")  # tests draw without a screen

# Timing varies on a shared 2-core CI machine: no per-example deadline, a fixed budget of examples.
settings.register_profile("course", deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("course")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
