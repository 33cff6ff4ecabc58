"""Measuring time and memory honestly (notebooks 06, 08, 10 to 12, and the scripts in ``benchmarks/``).

A timing is the best of a few runs after a warm-up (the first call pays for set-up that later
calls do not), on the CPU with whatever threads torch was given; on a GPU the clock waits for
the device. Peak memory on the CPU is the rise of the process's peak resident memory during the
call (Linux only: the kernel lets a process reset its peak); on a GPU it is PyTorch's own counter.
"""

from __future__ import annotations

import ctypes
import gc
import numbers
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping

import torch

from .runtime import require_device, require_int, require_number

__all__ = ["best_time", "best_times", "median_time", "peak_memory_mb", "in_fresh_process", "attention_flops", "tflops"]


def _check_fn(fn: object) -> None:
    if not callable(fn):
        raise TypeError(f"fn: expected a function to call with no arguments, got {type(fn).__name__}")


def _count(name: str, n: object) -> int:
    """A size for a FLOP count: an integer (Python's or NumPy's, not a bool) of at least 0."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"{name}: expected an int >= 0, got {type(n).__name__} {n!r}")
    if n < 0:
        raise ValueError(f"{name}: expected an int >= 0, got {n}")
    return int(n)


def _sync(device: torch.device | str | None) -> None:
    if device is not None and torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def best_time(fn: Callable[[], object], repeats: int = 3, warmup: int = 1,
              device: torch.device | str | None = None) -> float:
    """The best of ``repeats`` wall-clock times of ``fn()`` in seconds, after ``warmup`` untimed calls.

    ``device``: pass the CUDA device the work runs on, so the clock waits for it to finish.
    """
    _check_fn(fn)
    require_int("repeats", repeats, 1)
    require_int("warmup", warmup)
    require_device("device", device)
    for _ in range(warmup):
        fn()
    _sync(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return min(times)


def best_times(fns: Mapping[str, Callable[[], object]], rounds: int = 5, warmup: int = 1,
               device: torch.device | str | None = None) -> dict[str, float]:
    """The best time of each function in ``fns``, in seconds, the functions taking turns.

    After ``warmup`` untimed calls of each, every round times one call of each function in turn, so a busy
    moment of the machine slows them all alike instead of one; each keeps its fastest of ``rounds`` calls.

    Args:
        fns: name -> a function to call with no arguments.
        rounds: timed calls of each function, at least 1.
        warmup: untimed calls of each function first.
        device: the CUDA device the work runs on, so the clock waits for it (as :func:`best_time`).

    Returns:
        name -> seconds, in the order of ``fns``. Introduced in notebook 08.
    """
    if not isinstance(fns, Mapping):
        raise TypeError(f"fns: expected a dict of name -> function, got {type(fns).__name__}")
    for name, fn in fns.items():
        if not callable(fn):
            raise TypeError(f"fns[{name!r}]: expected a function to call with no arguments, got {type(fn).__name__}")
    require_int("rounds", rounds, 1)
    require_int("warmup", warmup)
    require_device("device", device)
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    _sync(device)
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(rounds):
        for name, fn in fns.items():
            best[name] = min(best[name], best_time(fn, repeats=1, warmup=0, device=device))
    return best


def median_time(fn: Callable[[], object], min_run_time: float = 0.2) -> float:
    """The median time of ``fn()`` in seconds, by ``torch.utils.benchmark`` (notebook 11).

    It warms up, repeats ``fn`` in blocks until ``min_run_time`` seconds have passed, and waits
    for the GPU before reading the clock, so asynchronous CUDA work is counted.
    """
    from torch.utils import benchmark

    _check_fn(fn)
    if require_number("min_run_time", min_run_time, positive=True) == float("inf"):
        raise ValueError("min_run_time: expected a finite number of seconds, got inf")
    return benchmark.Timer(stmt="fn()", globals={"fn": fn}).blocked_autorange(min_run_time=min_run_time).median


def attention_flops(batch: int, heads: int, L: int, S: int, head_dim: int, causal: bool = False) -> float:
    """Floating-point operations of one attention forward pass: ``4·B·H·L·S·D``, halved when causal.

    Two matrix products (``Q Kᵀ`` and ``P V``), each ``L·S·D`` multiply-adds of 2 operations; the
    softmax is left out, as FlashAttention's papers do. Introduced in notebook 11.
    """
    for name, n in (("batch", batch), ("heads", heads), ("L", L), ("S", S), ("head_dim", head_dim)):
        _count(name, n)
    if not isinstance(causal, bool):
        raise TypeError(f"causal: expected True or False, got {causal!r}")
    flops = 4.0 * batch * heads * L * S * head_dim
    return flops / 2 if causal else flops


def tflops(flops: float, seconds: float) -> float:
    """Throughput in TFLOP/s."""
    require_number("flops", flops, minimum=0)
    if require_number("seconds", seconds, positive=True) == float("inf"):
        raise ValueError("seconds: expected a finite time, got inf")
    return flops / seconds / 1e12


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field))


def peak_memory_mb(fn: Callable[[], object], device: torch.device | str | None = None) -> float | None:
    """How many MB the peak memory rose above what was in use before ``fn()``; None where it cannot be measured.

    On the CPU this needs Linux (``/proc/self/clear_refs``). The C allocator keeps memory that earlier
    calls freed and would hand it out again unseen, so it is asked to return it first (``malloc_trim``).
    """
    _check_fn(fn)
    if require_device("device", device) is not None and torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        fn()
        torch.cuda.synchronize(device)
        return (torch.cuda.max_memory_allocated(device) - before) / 1e6
    if not sys.platform.startswith("linux"):
        return None
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)  # give back what the allocator kept, so the call must ask anew
    except (OSError, AttributeError):  # not glibc: the reading may be low after earlier large calls
        pass
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset the peak (VmHWM) to what is resident now
    except OSError:
        return None
    before = _status_kib("VmRSS")
    fn()
    return (_status_kib("VmHWM") - before) * 1024 / 1e6


def in_fresh_process(script: str, function: str, *args) -> float:
    """Call ``function(*args)`` of the script ``script`` (a path) in a new Python process; return the number it returns.

    For memory measurements: a fresh process has no allocator history and no peak from earlier calls.
    The process runs on one thread, as the benchmarks do.
    """
    if not isinstance(script, (str, os.PathLike)):
        raise TypeError(f"script: expected a path to a Python file, got {type(script).__name__}")
    if not os.path.isfile(script):
        raise ValueError(f"script: no such file: {script}")
    if not isinstance(function, str) or not function.isidentifier():
        raise ValueError(f"function: expected the name of a function in {script}, got {function!r}")
    folder, module = os.path.split(os.path.abspath(script))
    code = (f"import torch; torch.set_num_threads(1); import {module.removesuffix('.py')} as m; "
            f"print(m.{function}(*{args!r}))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=folder)
    return float(result.stdout.strip().splitlines()[-1])
