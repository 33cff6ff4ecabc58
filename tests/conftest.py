import os
import tempfile
from pathlib import Path

import matplotlib
import pytest
import torch
from hypothesis import HealthCheck, settings

matplotlib.use("Agg")  # tests draw without a screen

# Without CUDA, Triton kernels run in Triton's interpreter on CPU tensors. The switch must be set before
# anything imports triton (its own library functions are built for one mode at import time).
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

# Exercise checkers record verdicts in the learner's progress file (~/.attn_course/progress.json). The test suite
# writes to a throwaway record instead; notebook kernels started by nbval or by the tests inherit this variable.
os.environ["ATTN_COURSE_PROGRESS"] = str(Path(tempfile.mkdtemp(prefix="attn-course-progress-")) / "progress.json")

# Timing varies on a shared 2-core CI machine: no per-example deadline, a fixed budget of examples.
settings.register_profile("course", deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("course")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
