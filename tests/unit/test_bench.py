import sys
import time

import pytest
import torch

from attn_course.bench import attention_flops, best_time, best_times, in_fresh_process, median_time, peak_memory_mb, tflops


def test_best_time_is_the_fastest_of_the_timed_calls():
    calls = []

    def work():
        calls.append(time.perf_counter())
        time.sleep(0.02 if len(calls) == 2 else 0.005)  # the first timed call is slow

    t = best_time(work, repeats=3, warmup=1)
    assert len(calls) == 4 and 0.004 < t < 0.015


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the CPU peak needs Linux's /proc")
def test_peak_memory_sees_a_temporary_allocation():
    def allocate():
        x = torch.ones(25_000_000)  # 100 MB, touched, then freed
        return float(x[-1])

    allocate()  # freed memory the allocator keeps must not hide the second call's need
    peak = peak_memory_mb(allocate)
    assert peak is not None and 90 < peak < 130
    assert 90 < peak_memory_mb(allocate) < 130
    assert peak_memory_mb(lambda: None) < 10


def test_median_time_and_flops():
    t = median_time(lambda: time.sleep(0.002), min_run_time=0.05)
    assert 0.0015 < t < 0.01
    assert attention_flops(2, 3, 5, 7, 11) == 4 * 2 * 3 * 5 * 7 * 11
    assert attention_flops(1, 1, 8, 8, 4, causal=True) == 4 * 8 * 8 * 4 / 2
    assert tflops(2e12, 0.5) == 4.0


def test_in_fresh_process_returns_the_functions_number(tmp_path):
    script = tmp_path / "probe.py"
    script.write_text("import torch\n\ndef threads_times(k):\n    return torch.get_num_threads() * k\n")
    assert in_fresh_process(str(script), "threads_times", 2.5) == 2.5  # one thread, in a new process


def test_best_times_takes_turns_and_keeps_each_ones_fastest():
    order = []

    def work(name, slow_call):
        def fn():
            order.append(name)
            time.sleep(0.02 if order.count(name) == slow_call else 0.004)  # one slow call each, at different rounds
        return fn

    best = best_times({"a": work("a", 2), "b": work("b", 3)}, rounds=3, warmup=1)
    assert order == ["a", "b"] + ["a", "b"] * 3  # the warm-ups first, then the rounds in turn
    assert list(best) == ["a", "b"] and all(0.003 < t < 0.015 for t in best.values())
    with pytest.raises(TypeError, match="fns: expected a dict"):
        best_times([lambda: None])
    with pytest.raises(TypeError, match=r"fns\['a'\]: expected a function"):
        best_times({"a": 5})
    with pytest.raises((TypeError, ValueError), match="rounds"):
        best_times({"a": lambda: None}, rounds=0)
