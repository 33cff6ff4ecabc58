# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 11 · GPU acceleration: devices, timing, precision and the memory wall
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/attn-course/attention-step-by-step/blob/main/notebooks/11_gpu_acceleration.ipynb)
#
# Attention is two large matrix products with a softmax between them, and a GPU is a machine built for exactly that
# kind of work: thousands of simple arithmetic units that all do the same thing to different numbers at once. It only
# pays off under conditions, though. The work must be large and batched, the numbers must sit in the GPU's own memory
# in a format its fast units accept, and the code that measures it must know that a GPU runs *asynchronously*, or
# the timings it prints are fiction. Then there is the limit that no amount of arithmetic speed removes: the
# $(L, S)$ score matrix grows with the square of the sequence length, and moving it through memory, or fitting it in
# memory at all, becomes the bottleneck. This notebook works through these practical questions one at a time, and
# ends with the two ideas, arithmetic intensity and the roofline, that explain why FlashAttention (notebook 12) is
# fast.
#
# Every cell runs on a laptop without a GPU. The cells that need a GPU detect the device, say what they would do
# there, and do it when a CUDA GPU is present; the measurements you see stored below come from a CPU.
#
# **Learning goals.** After this notebook you can
# - **explain** why a GPU wins on large, batched work and loses on small, sequential steps, and **measure** where the
#   fixed cost of each call dominates;
# - **move** tensors and models between devices, and **recognise** the mistakes of mixing them;
# - **time** GPU code correctly (warm up, synchronise, take the best or the median) and **spot** a wrong timing;
# - **choose** between PyTorch's attention backends and between float32, TF32, bfloat16 and float16, knowing what
#   each costs in accuracy;
# - **compute** the memory of the score matrix and the arithmetic intensity of attention's steps, and **read** a
#   roofline plot.
#
# **Prerequisites.** [04 · Scaled dot-product attention and masks](04_scaled_dot_product_attention_and_masks.ipynb)
# (the $L \times S$ score matrix), [07 · Multi-head attention](07_multi_head_attention.ipynb) (heads as a batch axis)
# and [10 · Long sequences](10_local_and_global_attention.ipynb) (counting the bytes and FLOPs of dense attention;
# `best_time` and `peak_memory_mb`).
#
# **Time.** About 90 minutes of study: eight sections (two optional subsections and an optional appendix) and two
# exercises, best taken in two sittings (sections 1-5, then 6-8 and the exercises). The notebook itself runs in well
# under a minute on a laptop CPU.

# %%
# Only in Google Colab: install the course's helper package, attn_course, from GitHub. --no-deps keeps
# Colab's own torch, NumPy and matplotlib as they are. Anywhere else (your laptop, Binder, CI) this does nothing.
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "attn_course @ git+https://github.com/attn-course/attention-step-by-step"], check=True)

# %%
import json
import math
import time
import warnings
from contextlib import contextmanager, nullcontext
from functools import partial
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

import attn_course
from attn_course import device, scaled_dot_product_attention, set_seed
from attn_course.bench import attention_flops, best_time, median_time, peak_memory_mb, tflops
from attn_course.exercises import gpu as check
from attn_course.multihead import MultiHeadAttention

set_seed(0)
torch.set_num_threads(1)  # the same summation order on every machine, so stored outputs match
torch.set_printoptions(precision=4, sci_mode=False)
np.set_printoptions(precision=4, suppress=True)
DEVICE = device()

# %% [markdown]
# `DEVICE` is `cuda` when PyTorch sees a CUDA GPU and `cpu` otherwise (`attn_course.device()`, notebook 00). Here is
# what this machine has. The answer differs from machine to machine, so this cell, like every cell below that prints
# a timing or a memory reading of this machine, is not compared when the notebook is tested; the conclusions drawn
# from such readings are printed as checked booleans in the cell after them.

# %% tags=["nbval-ignore-output"]
if DEVICE.type == "cuda":
    props = torch.cuda.get_device_properties(DEVICE)
    WHERE = props.name
    print(f"CUDA GPU: {props.name}, {props.total_memory / 1e9:.1f} GB of memory, "
          f"{props.multi_processor_count} streaming multiprocessors, compute capability {props.major}.{props.minor}")
else:
    WHERE = "this CPU, 1 thread"
    print("No CUDA GPU here. Every cell still runs: the measurements are this CPU's (one thread), and each GPU-only "
          "step says what it would do on a GPU.")
print(f"torch {torch.__version__}; CPU threads PyTorch uses: {torch.get_num_threads()}")

# %% [markdown]
# ## 1. What a GPU is good at: throughput, not latency (core)
#
# A CPU core is built to finish *one* stream of instructions as soon as possible: it runs at a high clock, predicts
# branches, executes instructions out of order and hides memory behind large caches. A laptop has a handful of such
# cores. A GPU makes the opposite trade. It is built from **streaming multiprocessors** (SMs): independent processor
# blocks, each with its own arithmetic lanes, registers, fast on-chip memory and scheduler, which run many threads
# in lockstep groups. An H100 SXM has 132 SMs with 128 float32 lanes each, 16,896 in all, plus tensor cores that
# multiply small matrix tiles in one step (figures from NVIDIA's Hopper architecture whitepaper). Each lane is slow
# and simple; the machine is fast because all of them work at once on independent pieces of one large job. A GPU is
# a **throughput** machine, a CPU core a **latency** machine.
#
# Two consequences shape everything below.
#
# - **Every call has a fixed cost.** Your Python program runs on the CPU. Each PyTorch operation on a GPU tensor
#   *launches* a kernel: the CPU prepares it, hands it to the driver and the GPU starts it. That cost is the same for a
#   $2 \times 2$ product and for a $4096 \times 4096$ one, so tiny operations are nothing but overhead.
# - **Small work leaves the machine idle.** A kernel that produces a few hundred numbers occupies a few lanes out of
#   thousands. Only a large job, or many small ones batched into one call, fills the GPU.
#
# Let us see both on whatever `DEVICE` is: the time of one float32 matrix product of two $n \times n$ matrices, for
# $n$ from 1 up, with its rate in GFLOP/s (billions of floating-point operations per second; an $n \times n$ product
# is $n^3$ multiply-adds, $2n^3$ FLOPs). `median_time` (from `attn_course.bench`) repeats the call until 0.1 s have
# passed and returns the median time of one call, waiting for the GPU where there is one (section 3 explains why
# that matters). A GPU needs much larger work to fill up, so there the sizes go further.

# %%
def synchronize():
    """Wait until the GPU has finished everything queued so far (on a CPU there is nothing to wait for)."""
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()


g = torch.Generator().manual_seed(1)
sizes = [2**p for p in range(14 if DEVICE.type == "cuda" else 11)]  # 1 ... 8192 on a GPU, 1 ... 1024 on a CPU
seconds, gflops = {}, {}
for n in sizes:
    a, b = (torch.randn(n, n, generator=g).to(DEVICE) for _ in range(2))  # (n, n) each, made on the CPU, then moved
    seconds[n] = median_time(partial(torch.matmul, a, b), min_run_time=0.1)  # (n, n) @ (n, n) -> (n, n)
    gflops[n] = 2 * n**3 / seconds[n] / 1e9

# %% tags=["nbval-ignore-output"]
print(f"timed {len(sizes)} sizes, n = {sizes[0]} ... {sizes[-1]}")  # the sizes depend on the device
print(f"{'n':>6} {'time per call':>14} {'GFLOP/s':>10}   ({WHERE}, float32)")
for n in sizes:
    print(f"{n:>6} {seconds[n] * 1e6:>11.1f} µs {gflops[n]:>10.2f}")

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 4.3))
ns = np.array(sizes, dtype=float)
axes[0].loglog(ns, [seconds[n] * 1e6 for n in sizes], "o-", label="measured")
axes[0].loglog(ns, seconds[sizes[-1]] * 1e6 * (ns / sizes[-1]) ** 3, "k:", label="∝ n³ (the work)")
axes[0].set_ylim(bottom=0.5 * min(seconds.values()) * 1e6)
axes[0].set_ylabel("time per call (µs)")
axes[0].set_title(f"One (n, n) @ (n, n) float32 product, {WHERE}")
axes[1].loglog(ns, [gflops[n] for n in sizes], "o-", color="tab:green")
axes[1].set_ylabel("achieved GFLOP/s")
axes[1].set_title("Rate: small products are all overhead")
for ax in axes:
    ax.set_xscale("log", base=2)
    ax.set_xlabel("matrix size n")
axes[0].legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# On the left, the dotted line is what the time would be if it were proportional to the work, $n^3$. For the small
# sizes the measured time lies far above it and hardly moves: a product of two $16 \times 16$ matrices, 4096 times
# the work of a $1 \times 1$ product, takes less than 4 times as long (checked below). That flat floor is the fixed
# cost per call. Only when the work outgrows it does the time bend up along $n^3$. On the right, the rate climbs by
# orders of magnitude and levels off once the product is large enough to keep the machine busy. On a GPU the floor
# is higher (a kernel launch costs more than a call into a CPU library) and the level it climbs to is far higher, so
# the flat stretch lasts to much larger $n$: the GPU only shows its speed on big products. The checked claims:

# %%
print("n = 1 -> 16 is 4096x the work, yet less than 4x the time:", seconds[16] < 4 * seconds[1])
print("n = 512 runs at more than 10x the GFLOP/s of n = 8:", gflops[512] > 10 * gflops[8])

# %% [markdown]
# ## 2. Moving tensors and models (core)
#
# A tensor lives in one memory: the CPU's RAM or one GPU's own memory. An operation runs on the device where its
# inputs are, and a GPU kernel cannot read the CPU's RAM (nor another GPU's), so **all inputs of an operation must be
# on the same device**. Copying between them goes over the PCIe link between CPU and GPU, which is far slower than the
# GPU's own memory, so the rule of thumb is: move the data once, keep it there, and bring back only small results.
#
# Three ways to get a tensor onto a device: `.to(DEVICE)` copies an existing tensor (and returns the tensor itself
# when it already is there), `device=DEVICE` at creation makes it there directly with no CPU copy, and
# `.cpu()` brings a copy back. In this notebook inputs are made on the CPU from a seeded generator and then moved,
# because CUDA has its own random number generator: the same seed gives *different* numbers on a GPU, and this
# notebook must print the same numbers everywhere.

# %%
g = torch.Generator().manual_seed(2)
x_cpu = torch.randn(2, 3, generator=g)  # (2, 3), made on the CPU: the same numbers on every machine
x = x_cpu.to(DEVICE)  # a copy in DEVICE's memory (on a CPU-only machine: x_cpu itself)
y = torch.zeros(2, 3, device=DEVICE)  # made directly on DEVICE
print("x and y live on DEVICE:", x.device.type == DEVICE.type, y.device.type == DEVICE.type)
print("a round trip copies the numbers exactly:", torch.equal(x.cpu(), x_cpu))
print("x + y computed on DEVICE, result on DEVICE:", (x + y).device.type == DEVICE.type)

# %% [markdown]
# A model moves with the same method, with one difference that bites everyone once: `Module.to` moves the
# parameters **in place** and returns the same module, while `Tensor.to` returns a **new** tensor and leaves the old
# one as it was. Calling `t.to(...)` without assigning the result does nothing. The cell shows it with a change of
# dtype, which behaves the same on every machine:

# %%
t = torch.zeros(3)
t.to(torch.float64)  # returns a new float64 tensor, which is thrown away
print("after t.to(torch.float64) without assigning, t is still", t.dtype)
t = t.to(torch.float64)
print("after t = t.to(torch.float64):", t.dtype)

mha = MultiHeadAttention(32, num_heads=4)  # notebook 07's module: four projections of (32, 32)
print("Module.to returns the same module:", mha.to(DEVICE) is mha)
print("every parameter is on DEVICE:", all(p.device.type == DEVICE.type for p in mha.parameters()))
tokens = torch.randn(2, 5, 32, generator=g).to(DEVICE)  # (B, L, E): the input must follow the model
out, _ = mha(tokens, tokens, tokens)
print("output:", tuple(out.shape), "on DEVICE:", out.device.type == DEVICE.type)

# %% [markdown]
# What happens when the devices differ? On a GPU machine the cell below adds a GPU tensor to a CPU tensor and
# PyTorch refuses with a `RuntimeError` that starts "Expected all tensors to be on the same device". On a CPU-only
# machine both tensors are on the CPU and the sum simply works, so the cell says so. (One exception to the rule: a
# CPU tensor with zero dimensions, a scalar, may be combined with a GPU tensor.) Two related errors you will meet:
# `.numpy()` on a GPU tensor raises, because NumPy only reads CPU memory (write `.cpu().numpy()`), and a model on the
# GPU fed a CPU batch raises the same device error from inside its first layer.

# %% tags=["nbval-ignore-output"]
on_device = torch.ones(3, device=DEVICE)
on_cpu = torch.ones(3)
try:
    print("on_device + on_cpu =", on_device + on_cpu, "- no error: on this machine DEVICE is the CPU, so both are")
except RuntimeError as error:
    print("RuntimeError:", str(error).splitlines()[0])

# %% [markdown]
# ## 3. Asynchronous execution: timing done wrong, then right (core)
#
# When Python runs `c = a @ b` on CUDA tensors, PyTorch does not wait for the product. It puts the kernel in a queue
# (a CUDA *stream*) and returns at once, with a `c` whose numbers will exist once the GPU gets there. The GPU works
# through its queue while Python runs ahead and queues more. That is what keeps a GPU busy: the CPU prepares the next
# kernels while the current one runs. Python only waits when it needs a result: `print(c)`, `c.item()`, `c.cpu()`,
# or an explicit `torch.cuda.synchronize()`, which waits for everything queued so far.
#
# For timing this is a trap. A clock read right after `a @ b` measures how long it took to *queue* the product, not
# to compute it. The fix is to wait for the GPU before starting the clock (so earlier work is not counted) and
# before stopping it. The first two timers below differ only in that. The third uses CUDA *events* instead of the
# CPU's clock: markers put in the GPU's own queue, which the GPU timestamps as it passes them.

# %%
def time_without_sync(fn, repeats=5):
    """WRONG on a GPU: the clock stops when the work is queued, not when it is done."""
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def time_with_sync(fn, repeats=5):
    """Right: wait for the device before starting the clock and before stopping it."""
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        synchronize()  # earlier work is not counted
        start = time.perf_counter()
        fn()
        synchronize()  # the work itself is counted
        times.append(time.perf_counter() - start)
    return min(times)


def time_with_events(fn, repeats=5):
    """Right, CUDA only: the GPU timestamps two events queued before and after the work."""
    fn()  # warm-up
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    times = []
    for _ in range(repeats):
        start.record()
        fn()
        end.record()
        end.synchronize()  # wait until the GPU has passed the end event
        times.append(start.elapsed_time(end) / 1000)  # elapsed_time is in milliseconds
    return min(times)


# %% [markdown]
# `attn_course.bench` has the right way built in: `best_time(fn, repeats, warmup, device=DEVICE)` synchronises when
# `device` is a GPU, and `median_time(fn)` uses `torch.utils.benchmark`, which synchronises by itself and repeats
# the call until enough time has passed for a stable median. Here are all of them on one $1024 \times 1024$ product,
# with the rate each timing implies:

# %% tags=["nbval-ignore-output"]
n = 1024
a, b = (torch.randn(n, n, generator=g).to(DEVICE) for _ in range(2))  # (n, n) each


def matmul():
    return a @ b  # (n, n) @ (n, n) -> (n, n)


timings = {
    "perf_counter, no synchronize (WRONG on a GPU)": time_without_sync(matmul),
    "perf_counter with synchronize": time_with_sync(matmul),
    "best_time(matmul, device=DEVICE)": best_time(matmul, repeats=5, warmup=1, device=DEVICE),
    "median_time(matmul)": median_time(matmul, min_run_time=0.2),
}
if DEVICE.type == "cuda":
    timings["CUDA events"] = time_with_events(matmul)
for name, s in timings.items():
    print(f"{name:<46} {s * 1e3:>9.3f} ms   -> {2 * n**3 / s / 1e9:>10.1f} GFLOP/s")
if DEVICE.type != "cuda":
    print("\nOn a CPU nothing is queued: each call returns when the product is done, so all four measure the same.")

# %% [markdown]
# On a CPU the four agree up to noise: there is no queue. On a GPU the first line would be much shorter than the
# others, because it measures the launch only, and the GFLOP/s it implies would be absurd. That gives a useful
# sanity check for any benchmark: **if a measured rate beats the datasheet peak of the device, the timing is
# wrong**. (The peaks are listed in section 7.) The other methods agree with each other; events avoid the
# CPU's clock altogether, and `median_time` is the most robust against a busy machine.
#
# One more trap: the **first call** of an operation pays one-time set-up that later calls do not. On a GPU the very
# first CUDA call creates the CUDA context (the driver's state for this process, including its memory map), and the
# first use of a kernel loads it. The first matrix product also allocates a **cuBLAS workspace**: scratch memory on
# the GPU that NVIDIA's matrix library cuBLAS keeps for its algorithms. Some libraries (cuDNN with
# `torch.backends.cudnn.benchmark = True`, Triton's `@triton.autotune`, `torch.compile` in its tuning modes)
# **autotune**: on the first call for a new shape they time several variants of the kernel and remember the fastest,
# so that call can be many times slower than the rest. A CPU has set-up costs too: the first bfloat16 product below
# pays the math library's one-time set-up for that type. That is why every timer here calls the function once before
# timing it.

# %% tags=["nbval-ignore-output"]
c = torch.randn(512, 512, generator=g).to(DEVICE, torch.bfloat16)  # (512, 512), the first bfloat16 tensor here
synchronize()
start = time.perf_counter()
_ = c @ c  # the first bfloat16 product of this process
synchronize()
first = time.perf_counter() - start
later = best_time(lambda: c @ c, repeats=5, warmup=0, device=DEVICE)
print(f"first call {first * 1e3:.3f} ms, best of the next 5 calls {later * 1e3:.3f} ms: the first is "
      f"{first / later:.1f}x slower")

# %% [markdown]
# ## 4. Loops against batched matrix products (core)
#
# The fixed cost per call of section 1 has a direct consequence for attention code: a Python loop over heads (or over
# sequences in a batch) pays it once per iteration and runs $H$ small kernels one after another, each of which fills
# only a corner of a GPU. One batched product over a `(B, H, L, D)` tensor pays it once and hands the GPU all heads
# at once. That is why notebook 07 reshapes the heads into a batch axis instead of looping.
#
# The example: 64 heads of 32 tokens, each 8 wide, the kind of small-head shape where the loop hurts most. Both
# versions compute the same attention.

# %%
B, H, L, D = 1, 64, 32, 8
q, k, v = (torch.randn(B, H, L, D, generator=g).to(DEVICE) for _ in range(3))  # (B, H, L, D) each


def attention_loop_over_heads(q, k, v):
    outputs = []
    for h in range(q.size(1)):  # one head at a time: 3 small kernels per head
        scores = q[:, h] @ k[:, h].transpose(-2, -1) / math.sqrt(q.size(-1))  # (B, L, D) @ (B, D, L) -> (B, L, L)
        outputs.append(torch.softmax(scores, dim=-1) @ v[:, h])  # (B, L, L) @ (B, L, D) -> (B, L, D)
    return torch.stack(outputs, dim=1)  # H x (B, L, D) -> (B, H, L, D)


def attention_batched(q, k, v):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))  # (B, H, L, D) @ (B, H, D, L) -> (B, H, L, L)
    return torch.softmax(scores, dim=-1) @ v  # (B, H, L, L) @ (B, H, L, D) -> (B, H, L, D)


print("the loop and the batched version agree:",
      torch.allclose(attention_loop_over_heads(q, k, v), attention_batched(q, k, v), atol=1e-6))
loop_time = best_time(lambda: attention_loop_over_heads(q, k, v), repeats=5, warmup=1, device=DEVICE)
batched_time = best_time(lambda: attention_batched(q, k, v), repeats=5, warmup=1, device=DEVICE)

# %% tags=["nbval-ignore-output"]
print(f"loop over {H} heads: {loop_time * 1e6:8.1f} µs   ({3 * H} small kernels, plus a stack)")
print(f"batched:            {batched_time * 1e6:8.1f} µs   (3 kernels)")
print(f"the batched version is {loop_time / batched_time:.1f}x faster on {WHERE}")

# %% [markdown]
# Even on a CPU, where a call is cheap, the loop is several times slower; on a GPU, where each of its $3H$ launches
# costs more and each small kernel leaves most of the chip idle, the gap is larger still. The checked claim, with a
# wide margin:

# %%
print("batched is more than 3x faster than the loop over 64 heads:", batched_time * 3 < loop_time)

# %% [markdown]
# ## 5. PyTorch's attention backends (core)
#
# `torch.nn.functional.scaled_dot_product_attention` (SDPA) is one function with several implementations behind it.
# For each call it takes the first one, in a fixed order of preference, that accepts the inputs: their device, dtype,
# shape, head width, mask. Knowing the rules explains surprises such as a float32 model that is slow on a new GPU, or
# a custom mask that quietly makes attention use far more memory. The rules below are those of recent PyTorch
# versions (in PyTorch's source, `aten/src/ATen/native/transformers/cuda/sdp_utils.cpp` and `sdp_utils_cpp.cpp`); they
# change between releases, so let the code after them tell you what your installation does.
#
# | backend (`SDPBackend.`) | runs on | dtypes | masks (`attn_mask`) |
# |---|---|---|---|
# | `MATH` | every device | every floating type, float64 too | any |
# | `FLASH_ATTENTION` | NVIDIA GPUs from Ampere on (A100, H100, ...); the CPU | GPU: float16, bfloat16; CPU: all | GPU: none |
# | `EFFICIENT_ATTENTION` | NVIDIA GPUs | float32, float16, bfloat16 | any |
# | `CUDNN_ATTENTION` | NVIDIA GPUs from Ampere on, with cuDNN 9 | float16, bfloat16 | accepted |
# | `OVERRIDEABLE` | other accelerators | | |
#
# - `MATH` is the formula in ordinary operations. It stores the $(L, S)$ scores, accepts anything, and is the last
#   resort.
# - `FLASH_ATTENTION` is FlashAttention-2: it works tile by tile and never stores the scores. On a GPU it takes no
#   mask tensor, only `is_causal=True` (and then only with $L = S$), and head widths up to 256. PyTorch also has a
#   flash-style kernel for the CPU, which accepts masks.
# - `EFFICIENT_ATTENTION` is the "memory-efficient" kernel from xFormers: also tiled, and the GPU's fused choice for
#   float32 inputs and for masks.
# - `CUDNN_ATTENTION` is NVIDIA's cuDNN kernel (head widths up to 128, or 256 on the newest GPUs with a recent
#   cuDNN); recent versions try it first on H100- and B200-class GPUs.
# - `OVERRIDEABLE` is a hook for devices outside PyTorch's core.
#
# All the fused kernels want 4-D inputs, `(B, H, L, D)`; anything else goes to `MATH`. On a CUDA GPU the default
# order is cuDNN (where preferred), flash, memory-efficient, math; on the CPU it is flash, then math. The context
# manager `torch.nn.attention.sdpa_kernel(backends)` restricts the choice to the backends you list; if none of them
# accepts the inputs, the call raises `RuntimeError` (and warnings say why each refused). So we can ask each backend
# in turn whether it runs, here for three kinds of input: float32, float16, and float16 with a boolean mask.

# %%
BACKENDS = [SDPBackend.MATH, SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.CUDNN_ATTENTION]
g = torch.Generator().manual_seed(5)
q64, k64, v64 = (torch.randn(2, 4, 256, 64, generator=g, dtype=torch.float64) for _ in range(3))  # (B, H, L, D)
causal = torch.ones(256, 256, dtype=torch.bool).tril()  # (L, S) boolean mask, True = may attend
CASES = {"float32": (torch.float32, None), "float16": (torch.float16, None), "float16 + mask": (torch.float16, causal)}
TOLERANCE = {torch.float32: 1e-4, torch.float16: 1e-2}  # ample room for each dtype's rounding, for outputs of size ~1


def sdpa_on_device(dtype, mask, backend=None):
    """F.scaled_dot_product_attention on DEVICE in `dtype`; only `backend` if given. None if it refuses."""
    q, k, v = (t.to(DEVICE, dtype) for t in (q64, k64, v64))
    m = None if mask is None else mask.to(DEVICE)
    if backend is None:
        return F.scaled_dot_product_attention(q, k, v, attn_mask=m)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a refusing backend explains itself in warnings; we only record the refusal
        try:
            with sdpa_kernel(backend):
                return F.scaled_dot_product_attention(q, k, v, attn_mask=m)
        except RuntimeError:
            return None


references = {case: scaled_dot_product_attention(q64, k64, v64, attn_mask=mask) for case, (_, mask) in CASES.items()}
runs = {(case, backend): sdpa_on_device(dtype, mask, backend) for case, (dtype, mask) in CASES.items() for backend in BACKENDS}
defaults = {case: sdpa_on_device(dtype, mask) for case, (dtype, mask) in CASES.items()}

# %% [markdown]
# Which backends ran depends on the device, so the table is not compared. Its last line finds the backend that
# PyTorch picked when left to choose, without any profiler: these kernels give the same bits every time they run
# forward, so the default call's output is bit for bit the output of the backend it used.

# %% tags=["nbval-ignore-output"]
print(f"{sum(out is not None for out in runs.values())} of {len(runs)} (input, backend) calls ran ({WHERE})\n")
print(f"{'backend':<22}" + "".join(f"{case:>16}" for case in CASES) + f"   ({WHERE})")
for backend in BACKENDS:
    print(f"{backend.name:<22}" + "".join(f"{'runs' if runs[case, backend] is not None else 'refuses':>16}" for case in CASES))
print(f"{'picked by default':<22}" + "".join(
    f"{'/'.join(b.name for b in BACKENDS if runs[case, b] is not None and torch.equal(runs[case, b], defaults[case])):>16}"
    for case in CASES))

# %% [markdown]
# On this CPU, `MATH` and `FLASH_ATTENTION` run for all three inputs and the default is the flash kernel. On a recent
# NVIDIA GPU the rules in the table predict a livelier picture: float32 refused by the flash and cuDNN kernels (they
# need 16-bit inputs) and taken by the memory-efficient one, and the boolean mask refused by the flash kernel.
# Whatever ran, it must give the same attention as the float64 reference (notebook 04's
# `scaled_dot_product_attention`), to the accuracy of its dtype. That is checked here, along with the one backend that
# runs everywhere:

# %%
agree = all(out is None or torch.allclose(out.cpu().double(), references[case], atol=TOLERANCE[CASES[case][0]], rtol=0)
            for (case, _), out in runs.items())
print("every backend that ran agrees with the float64 reference:", agree)
print("the defaults agree too:", all(torch.allclose(defaults[case].cpu().double(), references[case],
                                                    atol=TOLERANCE[CASES[case][0]], rtol=0) for case in CASES))
print("MATH runs for every input:", all(runs[case, SDPBackend.MATH] is not None for case in CASES))

# %% [markdown]
# In practice: give SDPA float16 or bfloat16 inputs on a GPU, prefer `is_causal=True` to a causal mask tensor (the
# flash kernel accepts the flag but not a mask), and when a call is slower or hungrier than expected, restrict it to
# `SDPBackend.FLASH_ATTENTION` inside `sdpa_kernel`: the warnings then tell you exactly why it refuses.
#
# ## 6. Precision: float32, TF32, bfloat16, float16 (core)
#
# A float32 takes 4 bytes, a bfloat16 or float16 only 2: half the memory, half the traffic, and on a GPU access to
# the tensor cores. On an H100 SXM the datasheet (section 7) lists 989 TFLOP/s for bfloat16 and float16 on tensor
# cores against 67 for plain float32. The price is paid in bits. A floating-point number is a sign, an
# **exponent** (which sets the range: how large and how small a number can be) and a **mantissa** (which sets the
# precision: how many significant digits). The formats trade one for the other:
#
# - **float16** keeps 10 mantissa bits but only 5 exponent bits: fine precision, a small range (nothing above 65,504);
# - **bfloat16** ("brain float") keeps float32's 8 exponent bits and only 7 mantissa bits: float32's range, coarse
#   precision;
# - **TF32** ("TensorFloat-32") is not a storage format: NVIDIA's tensor cores (Ampere and later) can multiply
#   float32 matrices by first reducing each input's 23 mantissa bits to 10, then adding up the products in full
#   float32: float16's precision with float32's range. PyTorch leaves TF32 off for matrix products by default;
#   `torch.backends.cuda.matmul.fp32_precision = "tf32"` (before PyTorch 2.9:
#   `torch.backends.cuda.matmul.allow_tf32 = True`, or `torch.set_float32_matmul_precision("high")`) turns it on.
#
# `torch.finfo` tells a format's limits. **eps** is the gap between 1 and the next number, $2^{-\text{mantissa
# bits}}$; rounding to the nearest number costs at most half of it, relative to the number, so eps/2 is the
# format's precision.

# %%
LAYOUT = {  # (exponent bits, mantissa bits) after the sign bit: IEEE 754, bfloat16, and NVIDIA's TF32
    "float64": (11, 52), "float32": (8, 23), "tf32": (8, 10), "bfloat16": (8, 7), "float16": (5, 10)}
DTYPES = {"float64": torch.float64, "float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def limits(name):
    """(eps, largest finite number, smallest normal number) of a format; TF32 from its layout (it has no dtype)."""
    if name == "tf32":  # float32's exponent with 10 mantissa bits
        return 2.0**-10, (2 - 2.0**-10) * 2.0**127, 2.0**-126
    info = torch.finfo(DTYPES[name])
    return info.eps, info.max, info.smallest_normal


print(f"{'format':<9} {'bits':>4} {'exponent':>8} {'mantissa':>8} {'eps':>10} {'largest':>10} {'smallest normal':>16}")
for name, (exponent, mantissa) in LAYOUT.items():
    eps, largest, tiny = limits(name)
    assert eps == 2.0**-mantissa  # eps is the mantissa's last bit
    print(f"{name:<9} {1 + exponent + mantissa:>4} {exponent:>8} {mantissa:>8} {eps:>10.3g} {largest:>10.3g} {tiny:>16.3g}")

# %% [markdown]
# Rounding a number to a format is what storing it costs. We round 100,000 random numbers to each format that
# PyTorch has as a dtype and compare with the float64 originals. (PyTorch has no TF32 dtype: appendix A, at the end,
# emulates TF32's rounding on the bits of a float32, and finds float16's errors, as their shared 10 mantissa bits
# predict.)

# %%
def round_to(x, name):
    """x (float64) rounded to the nearest number of the PyTorch dtype `name`, returned as float64."""
    return x.to(DTYPES[name]).to(torch.float64)


g = torch.Generator().manual_seed(6)
x64 = torch.randn(100_000, generator=g, dtype=torch.float64)
worst = {}  # format: largest relative error over the numbers in its normal range
print(f"{'format':<9} {'max relative error':>19} {'/ (eps/2)':>10}   (over the numbers in the format's normal range)")
for name in DTYPES:
    relative = (round_to(x64, name) - x64).abs() / x64.abs()  # (100000,)
    worst[name] = relative[x64.abs() >= limits(name)[2]].max().item()
    print(f"{name:<9} {worst[name]:>19.3g} {worst[name] / (limits(name)[0] / 2):>10.3f}")

small = torch.tensor([1e-3, 1e-5, 1e-6, 1e-7, 1e-8], dtype=torch.float64)  # ever smaller numbers
print(f"\n{'x':<9}" + "".join(f"{x:>9.0e}" for x in small.tolist()) + "   relative error of storing x")
for name in ("float16", "bfloat16"):
    print(f"{name:<9}" + "".join(f"{e:>9.2g}" for e in ((round_to(small, name) - small).abs() / small).tolist()))
print("smallest float16 above 0:", f"{2.0**-24:.3g}", "  stored as float16, 1e-8 becomes", torch.tensor(1e-8).half().item())

# %% [markdown]
# Within each format's normal range the worst rounding error is eps/2 to within half a percent: about
# $6 \times 10^{-8}$ for float32, $5 \times 10^{-4}$ for float16 and $4 \times 10^{-3}$ for bfloat16. (float64 is the
# reference, so it shows 0.)
#
# The last lines show float16's narrow range failing at the small end. Below its smallest normal number,
# $6.1 \times 10^{-5}$, the exponent has run out: numbers are stored as *subnormals*, with fewer significant bits the
# smaller they are, so the relative error grows as the numbers shrink: about 1% at $10^{-6}$, about a fifth at
# $10^{-7}$, and $10^{-8}$, less than half the smallest float16 above 0, becomes 0. bfloat16, with float32's
# exponent, stores all of them at its usual precision. Small gradients live down there, which is why float16 training
# multiplies the loss by a large factor before the backward pass (*loss scaling*, Micikevicius et al. 2018).
#
# How much of that reaches attention's output? First the part that does not depend on any hardware: round $Q$, $K$
# and $V$ to each format, then compute attention exactly (in float64). What remains is the error of *storing* the
# inputs in the format.

# %%
g = torch.Generator().manual_seed(7)
q64, k64, v64 = (torch.randn(1, 4, 256, 64, generator=g, dtype=torch.float64) for _ in range(3))  # (B, H, L, D)
reference = scaled_dot_product_attention(q64, k64, v64)  # (B, H, L, D), float64


def relative_error(out):
    """Largest deviation from the float64 reference, relative to the reference's largest entry."""
    return ((out.cpu().double() - reference).abs().max() / reference.abs().max()).item()


stored_error = {name: relative_error(scaled_dot_product_attention(*(round_to(t, name) for t in (q64, k64, v64))))
                for name in DTYPES}
for name, err in stored_error.items():
    print(f"inputs stored in {name:<9} -> attention's relative error {err:.2g}")

# %% [markdown]
# Each error is about one rounding unit (eps/2) of its format: for these inputs attention passes the rounding of
# its inputs through without amplifying it much.
#
# Now the real thing on this device: attention (PyTorch's SDPA) and one matrix product computed in each format, and
# the speed of a $1024 \times 1024$ product. The product whose error we measure multiplies a $(512, 64)$ matrix by a
# $(64, 512)$ one: an inner size of 64, like one head's $QK^\top$, and a $512 \times 512$ result. A CPU has no TF32,
# and its 16-bit speed depends on the processor: recent server CPUs have matrix units for bfloat16 and float16,
# while on older ones 16-bit products may well be slower than float32 ones.
#
# On a CUDA GPU from Ampere on, the cell adds a TF32 row: float32 inputs with TF32 switched on for matrix products.
# Its matmul column is sure to show TF32's rounding. Its SDPA column would not be, if left to the default: for float32
# inputs SDPA usually picks the memory-efficient kernel, which does its own float32 arithmetic and ignores the matmul
# TF32 setting, so its error would simply repeat float32's. For that row the cell therefore runs SDPA with the math
# backend only (`sdpa_kernel(SDPBackend.MATH)`), whose two matrix products are ordinary matmuls and do use TF32.

# %%
def computed_errors(dtype, backend=None):
    """Relative errors of SDPA (only `backend`, if given) and of a (512, 64) @ (64, 512) product on DEVICE in `dtype`."""
    q, k, v = (t.to(DEVICE, dtype) for t in (q64, k64, v64))
    with sdpa_kernel(backend) if backend is not None else nullcontext():
        attention_error = relative_error(F.scaled_dot_product_attention(q, k, v))
    a64, b64 = q64[0, :2].reshape(512, 64), k64[0, :2].reshape(512, 64).T  # (512, 64), (64, 512)
    product = (a64.to(DEVICE, dtype) @ b64.to(DEVICE, dtype)).cpu().double()  # (512, 64) @ (64, 512) -> (512, 512)
    exact = a64 @ b64
    return attention_error, ((product - exact).abs().max() / exact.abs().max()).item()


@contextmanager
def tf32_matmuls():
    """Inside the `with` block, float32 matrix products on a CUDA GPU may use TF32 tensor cores."""
    new_api = hasattr(torch.backends.cuda.matmul, "fp32_precision")  # PyTorch 2.9 and later
    name, value = ("fp32_precision", "tf32") if new_api else ("allow_tf32", True)
    previous = getattr(torch.backends.cuda.matmul, name)
    setattr(torch.backends.cuda.matmul, name, value)
    try:
        yield
    finally:
        setattr(torch.backends.cuda.matmul, name, previous)  # back to what it was (do not mix old and new settings)


errors, speed = {}, {}
big_a, big_b = (torch.randn(1024, 1024, generator=g) for _ in range(2))
for name in ("float64", "float32", "bfloat16", "float16"):
    errors[name] = computed_errors(DTYPES[name])
    a, b = big_a.to(DEVICE, DTYPES[name]), big_b.to(DEVICE, DTYPES[name])
    speed[name] = 2 * 1024**3 / best_time(partial(torch.matmul, a, b), repeats=5, warmup=1, device=DEVICE) / 1e9
if DEVICE.type == "cuda" and torch.cuda.get_device_capability(DEVICE)[0] >= 8:  # TF32 needs Ampere or later
    with tf32_matmuls():
        errors["tf32"] = computed_errors(torch.float32, backend=SDPBackend.MATH)  # math: its matmuls follow the flag
        a, b = big_a.to(DEVICE), big_b.to(DEVICE)
        speed["tf32"] = 2 * 1024**3 / best_time(lambda: a @ b, repeats=5, warmup=1, device=DEVICE) / 1e9

# %% tags=["nbval-ignore-output"]
print(f"measured {len(errors)} formats ({WHERE})")
print(f"{'computed in':<11} {'SDPA rel. error':>16} {'matmul rel. error':>18} {'(1024,1024) matmul':>20}")
for name, (attention_error, matmul_error) in errors.items():
    print(f"{name:<11} {attention_error:>16.2g} {matmul_error:>18.2g} {speed[name]:>13.1f} GFLOP/s"
          + ("   (SDPA: math backend)" if name == "tf32" else ""))
if "tf32" not in errors:
    print("tf32: only on NVIDIA GPUs from Ampere on; on such a machine this table has a tf32 row")

# %% [markdown]
# For the 16-bit formats the computed errors are close to the stored-input errors above: PyTorch's attention
# kernels add up the products in float32 even for 16-bit inputs, so most of the error is the rounding of the inputs
# and of the output. float32's computed error is larger than its storage error (the rounding of many float32
# additions) but still tiny. The ordering is what matters, and it holds on every device (checked below): bfloat16 is
# the least precise, float16 next, float32 far ahead. The speed column is this machine's; on a GPU with tensor cores
# the 16-bit rows run many times faster than float32, with TF32 in between.

# %%
attention_error = {name: errs[0] for name, errs in errors.items()}
print("SDPA error: bfloat16's is more than 2x float16's:", attention_error["bfloat16"] > 2 * attention_error["float16"],
      "  float16's is more than 10x float32's:", attention_error["float16"] > 10 * attention_error["float32"])
print("bfloat16 and float16 errors below 1% (fine for attention), float32 below 1e-4:",
      max(attention_error["bfloat16"], attention_error["float16"]) < 1e-2, attention_error["float32"] < 1e-4)

# %% [markdown]
# Precision is not the only failure. float16's small range fails abruptly: a dot product above 65,504 becomes `inf`,
# and a softmax over a row containing `inf` computes `inf - inf` = NaN. Activations of size 40 in a 64-wide head
# are enough: $40 \cdot 40 \cdot 64 = 102{,}400$. The course's naive attention (notebook 04) forms $QK^\top$ in float16
# first and scales afterwards, so it overflows. PyTorch's SDPA picks a fused kernel for these 4-D inputs, which adds
# up the products in float32 and scales them there, so it does not. (Its math backend is safer than ours too: it
# multiplies $Q$ and $K$ by $\sqrt{\text{scale}}$ each before the product.) bfloat16 has float32's range and does not
# overflow here, one reason it has become the usual choice for training.

# %%
q16 = torch.full((1, 2, 3, 64), 40.0).to(DEVICE, torch.float16)  # (B, H, L, D): every activation is 40
scores16 = q16 @ q16.transpose(-2, -1)  # (1, 2, 3, 64) @ (1, 2, 64, 3) -> (1, 2, 3, 3): each 40·40·64 = 102,400
print("largest float16:", torch.finfo(torch.float16).max, "  every score overflowed to inf:", bool(scores16.isinf().all()))
print("naive attention (multiply, then scale, then softmax) returns NaN:",
      bool(scaled_dot_product_attention(q16, q16, q16).isnan().all()))
print("PyTorch's SDPA in float16 stays finite:", bool(F.scaled_dot_product_attention(q16, q16, q16).isfinite().all()))
q_bf16 = q16.to(torch.bfloat16)
print("in bfloat16 the scores stay finite:", bool((q_bf16 @ q_bf16.transpose(-2, -1)).isfinite().all()),
      "  and so does naive attention:", bool(scaled_dot_product_attention(q_bf16, q_bf16, q_bf16).isfinite().all()))

# %% [markdown]
# ## 7. The memory wall (core)
#
# Naive attention stores the score matrix: $B \cdot H \cdot L \cdot S$ numbers per layer, and the softmax's weights,
# just as many, on top. Notebook 10 counted what that means for a layer the size of Llama-2-7B's (32 heads). Here
# it is against the largest GPU memories, in bfloat16 (2 bytes per score) and float32 (4 bytes). Training makes it
# worse: the backward pass needs every layer's attention weights, so a plain implementation keeps them all, 32 layers'
# worth for this model.
#
# The hardware figures used from here on are **datasheet specifications, not measurements**: NVIDIA's H100 SXM and
# A100 80GB SXM datasheets (links under Further reading), dense figures (the datasheets also quote twice as much
# "with sparsity", which needs specially pruned matrices).

# %%
DATASHEET = {  # NVIDIA datasheets: peak TFLOP/s (dense tensor cores, or plain float32), HBM bandwidth, memory
    "H100 SXM": {"bf16 TFLOP/s": 989, "tf32 TFLOP/s": 495, "fp32 TFLOP/s": 67, "HBM TB/s": 3.35, "memory GB": 80},
    "A100 SXM 80GB": {"bf16 TFLOP/s": 312, "tf32 TFLOP/s": 156, "fp32 TFLOP/s": 19.5, "HBM TB/s": 2.039, "memory GB": 80},
}
H7, LAYERS = 32, 32  # a Llama-2-7B-sized model: 32 heads in each of 32 layers; one sequence (B = 1)
MEMORY = DATASHEET["H100 SXM"]["memory GB"] * 1e9  # bytes (datasheet GB are 10⁹ bytes)

print(f"{'L':>8} {'1 layer, bf16':>14} {'1 layer, fp32':>14} {'32 layers, bf16':>16}   (scores only, B = 1, H = 32)")
for L in [1024 * 2**p for p in range(8)]:
    one_layer = 1 * H7 * L * L  # scores in one layer: B · H · L · S with S = L
    print(f"{L:>8,} {one_layer * 2 / 1e9:>11.3g} GB {one_layer * 4 / 1e9:>11.3g} GB {LAYERS * one_layer * 2 / 1e9:>13.3g} GB")
for label, nbytes, layers in (("one layer's bfloat16 scores", 2, 1), ("one layer's float32 scores", 4, 1),
                              ("32 layers' bfloat16 scores (training)", 2, LAYERS)):
    print(f"{label} outgrow 80 GB beyond L = {math.isqrt(int(MEMORY // (H7 * nbytes * layers))):,}")

# %% [markdown]
# One layer's bfloat16 scores fill the whole 80 GB of an H100 at 35,355 tokens, and a naive training step that keeps
# all 32 layers' weights runs out at 6,250 tokens, before counting the model, its gradients and the optimizer. Every
# doubling of $L$ quadruples the bill. No GPU escapes a quadratic; only not storing the matrix does.
#
# Let us measure the wall at small scale on this machine: the peak memory of one attention call with $B = 1$,
# $H = 8$, $D = 64$ in float32, for $L$ from 256 to 2048, naive (notebook 04's `scaled_dot_product_attention`, which
# stores scores and weights) against PyTorch's fused SDPA. `peak_memory_mb(fn, device)` reads PyTorch's allocator on
# a GPU and the process's peak memory on a Linux CPU ([notebook 10](10_local_and_global_attention.ipynb), appendix A,
# explains how); the dotted line is one float32
# $(B, H, L, L)$ matrix.

# %%
lengths = [256, 512, 1024, 2048]
B, H, D = 1, 8, 64
memory = {"naive": [], "fused SDPA": []}
attention_times = {"naive": [], "fused SDPA": []}
for L in lengths:
    q, k, v = (torch.randn(B, H, L, D, generator=g).to(DEVICE) for _ in range(3))  # (B, H, L, D) each
    methods = {"naive": partial(scaled_dot_product_attention, q, k, v),  # a call without arguments, for the timers
               "fused SDPA": partial(F.scaled_dot_product_attention, q, k, v)}
    for name, fn in methods.items():
        fn()  # warm-up: one-time set-up is not the method's memory
        memory[name].append(peak_memory_mb(fn, device=DEVICE))  # the GPU allocator, or the process on a CPU
        attention_times[name].append(best_time(fn, repeats=2, warmup=0, device=DEVICE))
one_matrix_mb = [B * H * L * L * 4 / 1e6 for L in lengths]  # one float32 (B, H, L, L) matrix
print("measured", len(lengths), "lengths")

# %% tags=["nbval-ignore-output"]
if memory["naive"][0] is None:
    print("peak memory cannot be measured here (peak_memory_mb needs a CUDA GPU or Linux)")
else:
    print(f"{'L':>6} {'naive':>10} {'fused SDPA':>11} {'one (B,H,L,L) matrix':>21} {'naive time':>11} {'fused time':>11}")
    for i, L in enumerate(lengths):
        print(f"{L:>6} {memory['naive'][i]:>7.1f} MB {memory['fused SDPA'][i]:>8.2f} MB {one_matrix_mb[i]:>18.1f} MB "
              f"{attention_times['naive'][i] * 1e3:>8.1f} ms {attention_times['fused SDPA'][i] * 1e3:>8.1f} ms")

# %%
fig, axes = plt.subplots(1, 2, figsize=(12.5, 4.5))
long = np.array([1024 * 2**p for p in range(8)], dtype=float)
axes[0].loglog(long, H7 * long**2 * 2 / 1e9, "o-", label="1 layer, bfloat16 scores")
axes[0].loglog(long, H7 * long**2 * 4 / 1e9, "s-", label="1 layer, float32 scores")
axes[0].loglog(long, LAYERS * H7 * long**2 * 2 / 1e9, "^-", label="32 layers, bfloat16 (training)")
axes[0].axhline(80, color="tab:red", ls="--", label="80 GB: H100 / A100 memory (datasheet)")
axes[0].set_xlabel("sequence length L")
axes[0].set_ylabel("GB (10⁹ bytes)")
axes[0].set_title("Computed: score memory of a 7B-sized model (H = 32, B = 1)")
if memory["naive"][0] is not None:
    for name, style in (("naive", "o-"), ("fused SDPA", "s-")):
        axes[1].loglog(lengths, memory[name], style, label=name)
axes[1].loglog(lengths, one_matrix_mb, "k:", label="one float32 (B, H, L, L) matrix")
axes[1].set_xlabel("sequence length L")
axes[1].set_ylabel("peak extra memory (MB)")
axes[1].set_title(f"Measured: one attention call, B = 1, H = 8, D = 64 ({WHERE})")
for ax in axes:
    ax.set_xscale("log", base=2)
    ax.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# On the left, the computed bill: three straight lines of slope 2 on a log-log plot (quadratic growth) crossing the
# 80 GB of the largest memories. On the right, the same law measured: the naive call's memory runs parallel to the
# dotted line of one score matrix, several matrices' worth above it (the scores, the scaled scores, the exponentials
# and the weights all exist at some moment), and it grows as fast: quadratically. The fused kernel's memory is
# barely more than its output, $B \cdot H \cdot L \cdot D$ floats, and it grows only linearly. The checked claims
# (where memory can be measured, which includes every Linux machine and every CUDA GPU; they are asserted, so that the
# printed output is the same everywhere):

# %%
mem_claims = None if memory["naive"][0] is None else {
    "512 -> 2048 (4x L): the naive call's memory grows more than 8x": memory["naive"][3] > 8 * memory["naive"][1],
    "at L = 2048 naive attention holds more than one (B, H, L, L) matrix": memory["naive"][3] > one_matrix_mb[3],
    "at L = 2048 the fused SDPA needs less than a tenth of that": memory["fused SDPA"][3] < memory["naive"][3] / 10,
}
assert mem_claims is None or all(mem_claims.values()), mem_claims
print("checked:", "the memory claims hold" if mem_claims else "nothing (memory cannot be measured here)")

# %% tags=["nbval-ignore-output"]
print(mem_claims)

# %% [markdown]
# The fused kernel is also faster here (the table's last two columns). Time is the subject of the next section: even
# when the scores fit, moving them through memory can cost more than computing them.
#
# ## 8. Arithmetic intensity and the roofline (core)
#
# A kernel does two things: arithmetic, and moving numbers between the GPU's memory (HBM) and its chips. Either can
# be the bottleneck. If a kernel performs $W$ FLOPs and moves $Q$ bytes on a device with peak rate $P$ (FLOP/s) and
# memory bandwidth $\beta$ (bytes/s), it cannot take less than
#
# $$T \ \ge\ \max\!\left(\frac{W}{P},\ \frac{Q}{\beta}\right).$$
#
# The ratio $I = W / Q$, FLOPs per byte moved, is the kernel's **arithmetic intensity**. The best rate it can reach
# is $\min(P,\ \beta \cdot I)$: a rising line for small $I$ (**memory-bound**: the arithmetic units wait for data)
# and a flat roof for large $I$ (**compute-bound**). They meet at the **ridge point** $I^\ast = P / \beta$. This is
# the *roofline model* of Williams, Waterman and Patterson (2009).
#
# A matrix product $C = AB$ of two $n \times n$ matrices does $2n^3$ FLOPs and, at best, reads $A$ and $B$ once and
# writes $C$ once: $3n^2$ numbers. In bfloat16 (2 bytes) its intensity is $2n^3 / (2 \cdot 3n^2) = n/3$, growing with
# $n$: large products are compute-bound, small ones memory-bound.

# %%
H100 = DATASHEET["H100 SXM"]
peak, bandwidth = H100["bf16 TFLOP/s"] * 1e12, H100["HBM TB/s"] * 1e12  # FLOP/s, bytes/s (datasheet)
ridge = peak / bandwidth
print(f"H100 SXM (datasheet): ridge point {peak:.3g} / {bandwidth:.3g} = {ridge:.0f} FLOP per byte")
print(f"A100 SXM 80GB (datasheet): ridge point "
      f"{DATASHEET['A100 SXM 80GB']['bf16 TFLOP/s'] / DATASHEET['A100 SXM 80GB']['HBM TB/s']:.0f} FLOP per byte")
for n in (64, 256, 1024, 4096):
    intensity = 2 * n**3 / (2 * 3 * n * n)  # FLOPs / bytes, bfloat16
    print(f"(n, n) @ (n, n) in bfloat16: intensity {intensity:7.1f} FLOP/byte -> "
          f"{'compute' if intensity > ridge else 'memory'}-bound on an H100")

# %% [markdown]
# To keep an H100's tensor cores busy, a kernel must do about 300 FLOPs for every byte it reads or writes. Now apply
# this to attention, with the sizes of the GPU benchmark in `benchmarks/flash_gpu.py`: $B = 4$, $H = 32$,
# $L = S = 4096$, $D = 64$, 16-bit numbers. Naive attention runs three kernels, each a round trip through memory:
#
# 1. scores $= QK^\top$: $2LSD$ FLOPs per head; reads $Q$ and $K$ ($2LD$ numbers), **writes** the $(L, S)$ scores;
# 2. softmax: about 5 FLOPs per score (max, subtract, exponential, sum, divide); **reads** the scores and **writes**
#    the weights, $2LS$ numbers (real code often adds more passes: scaling, masking, type conversions);
# 3. weights $\cdot V$: $2LSD$ FLOPs; **reads** the weights and $V$, writes the output.
#
# A fused kernel (FlashAttention) does the same arithmetic but keeps scores and weights on the chip: it reads $Q$,
# $K$, $V$ and writes the output, $4LD$ numbers. (Counting each input as read once is the ideal; a real kernel reads
# $K$ and $V$ again for each tile of queries, mostly from the on-chip L2 cache. Notebook 12 builds one.)
# `attention_flops` from `attn_course.bench` counts the two products, $4BHLSD$; the table adds the softmax.

# %%
B, H, L, D, nbytes = 4, 32, 4096, 64, 2
heads = B * H
steps = {  # name: (FLOPs, bytes moved to and from memory), all heads together
    "1. Q Kᵀ -> scores": (heads * 2 * L * L * D, heads * nbytes * (L * D + L * D + L * L)),
    "2. softmax": (heads * 5 * L * L, heads * nbytes * (L * L + L * L)),
    "3. weights V -> out": (heads * 2 * L * L * D, heads * nbytes * (L * L + L * D + L * D)),
}
steps["fused (FlashAttention)"] = (sum(f for f, _ in steps.values()), heads * nbytes * 4 * L * D)
assert steps["1. Q Kᵀ -> scores"][0] + steps["3. weights V -> out"][0] == attention_flops(B, H, L, L, D)


def roofline_seconds(flops, nbytes_moved):
    return max(flops / peak, nbytes_moved / bandwidth)


print(f"{'step':<24} {'GFLOP':>8} {'GB moved':>9} {'FLOP/byte':>10} {'bound':>8} {'time at H100 roofline':>22}")
for name, (flops, moved) in steps.items():
    print(f"{name:<24} {flops / 1e9:>8.1f} {moved / 1e9:>9.3f} {flops / moved:>10.1f} "
          f"{'compute' if flops / moved > ridge else 'memory':>8} {roofline_seconds(flops, moved) * 1e3:>19.3f} ms")
naive_total = sum(roofline_seconds(*steps[name]) for name in list(steps)[:3])
fused_total = roofline_seconds(*steps["fused (FlashAttention)"])
naive_bytes = sum(moved for name, (_, moved) in steps.items() if name != "fused (FlashAttention)")
print(f"\nbytes moved: naive {naive_bytes / 1e9:.2f} GB, fused {steps['fused (FlashAttention)'][1] / 1e9:.3f} GB "
      f"({naive_bytes / steps['fused (FlashAttention)'][1]:.0f} times fewer); the FLOPs are the same")
print(f"naive, three kernels: {naive_total * 1e3:.2f} ms;  fused: {fused_total * 1e3:.3f} ms;  "
      f"the model predicts the fused kernel {naive_total / fused_total:.1f}x faster")
print(f"fused at the roofline: {tflops(attention_flops(B, H, L, L, D), fused_total):.0f} TFLOP/s by attention_flops' count")

# %% [markdown]
# All three naive steps sit below the ridge point of 295: the two products because writing or reading the $(L, S)$
# matrix outweighs their arithmetic ($D = 64$ is small), and the softmax hopelessly so, at a little over 1 FLOP per
# byte. Together they would take 5.2 ms even on a perfect H100, almost all of it moving scores and weights through
# memory. The fused kernel does the same arithmetic, moves 65 times fewer bytes, is compute-bound, and the model gives
# it 0.57 ms: 9 times faster. That explains where FlashAttention's speed comes from: not from fewer FLOPs (it does
# exactly as many), but from fewer bytes.
#
# This is a model, not a measurement, and for the fused kernel an optimistic one (section 8.1 says why): read the red
# star below as an upper limit, not a forecast.
#
# The roofline picture puts these numbers on the two datasheet rooflines, with a third, measured on this machine:
# its peak is the best float32 rate of section 1, its bandwidth the speed of copying a 64 MiB tensor (read once,
# written once).

# %%
src = torch.randn(16 * 2**20, generator=g).to(DEVICE)  # 16 Mi float32 numbers: 64 MiB
dst = torch.empty_like(src)
copy_seconds = best_time(lambda: dst.copy_(src), repeats=5, warmup=1, device=DEVICE)
here_bandwidth = 2 * src.numel() * 4 / copy_seconds  # bytes/s: read src and write dst
here_peak = max(gflops.values()) * 1e9  # FLOP/s: the fastest float32 product of section 1

# %% tags=["nbval-ignore-output"]
print(f"{WHERE}: float32 peak {here_peak / 1e9:.1f} GFLOP/s (best of section 1), copy bandwidth "
      f"{here_bandwidth / 1e9:.1f} GB/s -> ridge point {here_peak / here_bandwidth:.1f} FLOP/byte")

# %%
intensity = np.logspace(-1, 4, 200)  # FLOP/byte
fig, ax = plt.subplots(figsize=(10, 5.5))
for (name, spec), colour in zip(DATASHEET.items(), ("tab:blue", "tab:orange")):
    roof = np.minimum(spec["bf16 TFLOP/s"], spec["HBM TB/s"] * intensity)  # TFLOP/s
    ax.loglog(intensity, roof, color=colour, lw=2, label=f"{name}: {spec['bf16 TFLOP/s']} TFLOP/s bf16, "
              f"{spec['HBM TB/s']} TB/s (datasheet)")
here_roof = np.minimum(here_peak, here_bandwidth * intensity) / 1e12
ax.loglog(intensity, here_roof, color="tab:gray", ls="--", label=f"{WHERE}, float32 (measured above)")
points = {  # steps 1 and 3 have the same intensity: one point
    "1 and 3. Q Kᵀ, weights V": ("o", "black", steps["1. Q Kᵀ -> scores"]),
    "2. softmax": ("s", "black", steps["2. softmax"]),
    "fused (FlashAttention)": ("*", "tab:red", steps["fused (FlashAttention)"]),
}
for name, (marker, colour, (flops, moved)) in points.items():
    ax.loglog(flops / moved, min(peak, bandwidth * flops / moved) / 1e12, marker, ms=14 if marker == "*" else 9,
              color=colour, label=f"{name}: {flops / moved:.1f} FLOP/byte")
ax.axvline(ridge, color="tab:blue", ls=":", lw=1)
ax.text(ridge * 1.1, 2, f"H100 ridge point\n{ridge:.0f} FLOP/byte", color="tab:blue", fontsize=9)
ax.text(0.12, 4, "memory-bound:\nrate = bandwidth × intensity", fontsize=9, rotation=27)
ax.text(700, 1400, "compute-bound: rate = peak", fontsize=9)
ax.set_xlabel("arithmetic intensity (FLOP per byte moved to or from memory)")
ax.set_ylabel("attainable TFLOP/s")
ax.set_title("Roofline: attention's steps at L = 4096, D = 64 (points placed on the H100 roof)")
ax.legend(fontsize=8, loc="lower right")
fig.tight_layout()
plt.show()

# %% [markdown]
# Read the picture from left to right. Under the slanted part of a roof, speed is set by bandwidth: the softmax
# (square) sits near the far left, the two products (circle) further right but still on the slope. The fused kernel
# (red star) sits on the flat part, limited only by arithmetic. The A100's roof is lower in both parts
# and its ridge point further left; this machine's dashed roof is far lower still, and its ridge point (printed
# above) is at a different intensity, so the same kernel can be compute-bound on one device and memory-bound on
# another. The recipe for a fast kernel follows from the picture: move fewer bytes per FLOP. That means fusing steps
# so intermediates never touch memory, keeping tiles on the chip and reusing them, and using 16-bit numbers (half
# the bytes for the same FLOPs).

# %% [markdown]
# ### 8.1 Why the roofline flatters attention (optional)
#
# The roofline counts the softmax's exponentials at the tensor cores' rate, but they run on far slower units, so the
# fused kernel's roofline time is a bound that real kernels approach only by overlapping the two. The model counts
# every FLOP at the tensor cores' peak, the softmax's 5 per score included. But tensor cores only multiply matrices.
# The softmax runs on the ordinary float32 lanes (the datasheet's 67 TFLOP/s, which counts a fused multiply-add as two
# FLOPs, so half that in single operations such as a max; not 989), and its exponential on the
# **special-function units**, which compute $2^x$, $\log$ and the like: 16 results per SM per clock on an H100 (the
# throughput table of NVIDIA's CUDA C++ Programming Guide), about 3.9 T exponentials per second in all, against
# 989 TFLOP/s of float16 matrix products (Shah et al. 2024, FlashAttention-3, section 3.1). Attention needs one
# exponential per score against $4D$ FLOPs of products, so the exponentials alone take about as long as the products
# at $D = 64$:

# %%
EXP_PER_S = 3.9e12  # H100 SXM special-function throughput, exponentials per second (Shah et al. 2024, section 3.1)
matmul_flops = attention_flops(B, H, L, L, D)  # the two products: 4 B H L S D
print(f"{'D':>4} {'products at tensor-core peak':>29} {'exponentials (B H L S of them)':>31} {'3 more operations per score':>29}")
for D_exp in (64, 128):
    products_s = attention_flops(B, H, L, L, D_exp) / peak
    exp_s = B * H * L * L / EXP_PER_S
    # max, subtract, add on the float32 lanes: single operations, at half the datasheet rate (which counts an FMA as 2)
    other_s = 3 * B * H * L * L / (H100["fp32 TFLOP/s"] / 2 * 1e12)
    print(f"{D_exp:>4} {products_s * 1e3:>26.3f} ms {exp_s * 1e3:>28.3f} ms {other_s * 1e3:>26.3f} ms")
print("3 more operations per score: max, subtract, add (the divide is once per row), each a single float32 operation")
exp_s = B * H * L * L / EXP_PER_S
print(f"\nD = {D}: roofline (every FLOP at tensor-core peak) {fused_total * 1e3:.3f} ms; "
      f"products, then exponentials, not overlapped: {(matmul_flops / peak + exp_s) * 1e3:.3f} ms "
      f"-> {tflops(matmul_flops, matmul_flops / peak + exp_s):.0f} TFLOP/s")
print(f"FlashAttention-3's best reported float16 rate, 740 TFLOP/s, is {740e12 / peak:.0%} of the 989 TFLOP/s peak")

# %% [markdown]
# So the fused roofline time is a bound no kernel can beat, but not one a kernel can simply reach: done one after the
# other, products and exponentials at $D = 64$ would run at only about half the peak, and the softmax's three other
# operations per score (last column: max, subtract, add; a flash kernel divides once per row, not per score) add a
# little more. The exponentials' time does not depend on $D$ while the products'
# grows with it, so at $D = 128$ they take half as long as the products, as the FlashAttention-3 paper computes. Real
# kernels hide them by overlapping: while the tensor cores multiply one tile, the special-function units exponentiate
# another. FlashAttention-3 (Shah et al. 2024), built around that overlap on the H100, reports up to 740 TFLOP/s in
# float16, 75% of the peak (its best case, at long sequences); FlashAttention-2 reaches about 35% on the same GPU by
# the same paper's measurement.

# %% [markdown]
# ### 8.2 Recorded GPU results (optional)
#
# The script `benchmarks/flash_gpu.py` measures the real thing on a CUDA GPU (float16, $B = 4$, $H = 32$, $D = 64$
# and 128, $L$ up to 16,384): naive attention, PyTorch's flash backend, and the Triton kernel of notebook 12, in
# TFLOP/s. It writes its table to `benchmarks/results/<gpu-name>.json`, and the cell below shows every such file in
# the repository.

# %% tags=["nbval-ignore-output"]
def show_recorded(paths):
    """Print each recorded benchmark table and plot its TFLOP/s against L (D = 64 and 128, not causal)."""
    for path in paths:
        run = json.loads(Path(path).read_text())
        print(f"{run['gpu']}: {run['dtype']}, B = {run['batch']}, H = {run['heads']}, torch {run['torch']}, "
              f"triton {run['triton']}")
        print(f"{'D':>4} {'causal':>6} {'L':>6} {'naive':>8} {'sdpa flash':>11} {'triton':>8}   TFLOP/s")
        for row in run["rows"]:
            naive = f"{row['tflops_naive']:8.1f}" if row["tflops_naive"] else f"{'--':>8}"
            print(f"{row['D']:>4} {row['causal']!s:>6} {row['L']:>6} {naive} {row['tflops_sdpa_flash']:>11.1f} "
                  f"{row['tflops_triton']:>8.1f}")
        fig, axes = plt.subplots(1, 2, figsize=(12, 4), sharey=True)
        for ax, D in zip(axes, (64, 128)):
            rows = [r for r in run["rows"] if r["D"] == D and not r["causal"]]
            for key, label in (("tflops_naive", "naive"), ("tflops_sdpa_flash", "SDPA flash"), ("tflops_triton", "Triton")):
                points = [(r["L"], r[key]) for r in rows if r[key]]
                ax.plot(*zip(*points), "o-", label=label)
            ax.set_xscale("log", base=2)
            ax.set_xlabel("sequence length L")
            ax.set_title(f"{run['gpu']}, D = {D}, not causal (measured)")
        axes[0].set_ylabel("TFLOP/s")
        axes[0].legend()
        fig.tight_layout()
        plt.show()


# The repository's benchmarks/ folder sits next to the attn_course package when it is installed from a clone with
# `pip install -e .`, as the README says (notebook 12 finds it the same way).
results_folder = Path(attn_course.__file__).resolve().parent.parent / "benchmarks" / "results"
recorded = sorted(results_folder.glob("*.json")) if results_folder.is_dir() else []
if recorded:
    show_recorded(recorded)
elif not results_folder.parent.is_dir():
    print("The benchmarks/ folder is not next to the attn_course package: it was installed from somewhere other than "
          "a clone of the repository. Clone it and install with `pip install -e .` (README) to see recorded results.")
else:
    print("No GPU results are recorded yet: benchmarks/results/ holds no JSON file. To record them, run "
          "`python benchmarks/flash_gpu.py` on a machine with a CUDA GPU and Triton (a few minutes): it writes "
          "benchmarks/results/<gpu-name>.json, which this cell then shows.")

# %% [markdown]
# When results are there, compare them with the roofline: the flash kernels should approach a good fraction of the
# datasheet peak at long $L$, and naive attention should stay far below it, memory-bound as predicted, until its
# scores no longer fit.

# %% [markdown]
# <a id="appendix-a"></a>
#
# ## Appendix A. TF32 rounding on the bits of a float32 (optional)
#
# Rounding a float32 to TF32 takes two integer operations on its bits, and within float16's range it costs what
# rounding to float16 costs, since both keep 10 mantissa bits. PyTorch has no TF32 dtype, so we emulate the rounding
# with the float32's bits, read as a 32-bit integer: 1 sign bit, 8 exponent bits, 23 mantissa bits. To keep the top
# 10 mantissa bits, rounded to the nearest, add half of the last kept bit (`0x1000`, bit 12) and then clear the 13
# dropped bits (mask `0x1FFF`). If the dropped bits were at least half a unit, the addition carries into the kept
# ones: that is rounding up. (A tensor core may instead simply cut the 13 bits off, which can land up to twice as
# far away.) One number, $e = 2.71828\ldots$, step by step:

# %%
def mantissa(bits):
    """The 23 mantissa bits of a float32's integer view, split as 10 kept | 13 dropped."""
    m = f"{bits & 0x7FFFFF:023b}"
    return f"{m[:10]} | {m[10:]}"


e32 = torch.tensor([math.e], dtype=torch.float32)
steps_e = {"float32 e": e32.view(torch.int32).item()}
steps_e["+ 0x1000 (half a kept unit)"] = steps_e["float32 e"] + 0x1000  # dropped bits 1100001010100 >= half: carry
steps_e["& ~0x1FFF (clear 13 bits)"] = steps_e["+ 0x1000 (half a kept unit)"] & ~0x1FFF
steps_e["cut off, no rounding"] = steps_e["float32 e"] & ~0x1FFF  # what plain truncation would keep
print(f"{'step':<28} {'bits (hex)':>10}   {'mantissa: kept | dropped':<26} {'value':>13} {'rel. error':>10}")
for label, bits in steps_e.items():
    value = torch.tensor([bits], dtype=torch.int32).view(torch.float32).item()
    print(f"{label:<28} {bits:>#10x}   {mantissa(bits):<26} {value:>13.9f} {abs(value - math.e) / math.e:>10.2e}")

# %% [markdown]
# The 13 dropped bits of $e$ start with a 1, so they are more than half a unit of the last kept bit: adding `0x1000`
# carries into the kept bits, and clearing the dropped ones leaves $2.71875$, the nearest TF32 number. Cutting the
# bits off instead would leave the TF32 number just below $e$, further away (compare the last column). The function
# below applies the same two integer operations to a whole tensor; we use it on section 6's 100,000 numbers and on its
# attention inputs.

# %%
def round_to_tf32(x):
    """x (float64) rounded to the nearest TF32 number (float32's exponent, 10 mantissa bits), returned as float64."""
    bits = x.to(torch.float32).view(torch.int32)  # the float32's 32 bits, read as an integer
    bits = (bits + 0x1000) & ~0x1FFF  # round the magnitude to 10 mantissa bits, clear the other 13 (as for e)
    return bits.view(torch.float32).to(torch.float64)


relative_tf32 = (round_to_tf32(x64) - x64).abs() / x64.abs()  # (100000,)
worst["tf32"] = relative_tf32[x64.abs() >= limits("tf32")[2]].max().item()
stored_error["tf32"] = relative_error(scaled_dot_product_attention(*(round_to_tf32(t) for t in (q64, k64, v64))))
print(f"{'format':<9} {'max relative error':>19} {'/ (eps/2)':>10} {'attention, inputs stored':>25}")
for name in ("tf32", "float16"):
    print(f"{name:<9} {worst[name]:>19.3g} {worst[name] / (limits(name)[0] / 2):>10.3f} {stored_error[name]:>25.2g}")

# %% [markdown]
# TF32 and float16 tie, in storing numbers and in attention's output. The difference between them is range: TF32
# keeps float32's 8 exponent bits, so it neither overflows at 65,504 nor runs into subnormals at
# $6.1 \times 10^{-5}$.

# %% [markdown]
# ## Exercises
#
# How the exercises work (a stub to complete, a check cell that names common mistakes, `check.hint("name")`
# for one hint at a time, a hidden solution) is explained once, in [00 · Welcome](00_welcome.ipynb).
#
# ### Exercise 1: the bytes of the score matrix
#
# Write `my_score_matrix_bytes(batch, heads, L, S, bytes_per_value)`: the number of bytes one attention layer's
# score matrix takes, for `batch` sequences, `heads` heads, `L` queries and `S` keys, each score stored in
# `bytes_per_value` bytes. Then use it to answer for yourself: how many GB would the float32 scores of one layer take
# for 8 sequences of 8192 tokens with 16 heads?

# %% tags=["exercise"] keep_output=false
def my_score_matrix_bytes(batch, heads, L, S, bytes_per_value):
    raise NotImplementedError("your code here")


# %% tags=["check"] keep_output=false
check.score_matrix_bytes(my_score_matrix_bytes)

# %% tags=["solution"] jupyter={"source_hidden": true}
def my_score_matrix_bytes(batch, heads, L, S, bytes_per_value):
    return batch * heads * L * S * bytes_per_value  # one score per (sequence, head, query, key)


# %% tags=["solution"]
# record=False: the course's own solution does not count in your progress (see attn_course.progress()).
check.score_matrix_bytes(my_score_matrix_bytes, record=False)

# %% [markdown] tags=["solution"]
# The answer to the question, in GB of $10^9$ bytes:

# %% tags=["solution"]
print(f"8 sequences x 16 heads x 8192 x 8192 float32 scores: {my_score_matrix_bytes(8, 16, 8192, 8192, 4) / 1e9:.1f} GB")

# %% [markdown]
# The hints, one at a time, for the exercise you just finished (each call shows the next; after the last one the
# checker points to the solution):

# %%
check.hint("score_matrix_bytes")

# %% [markdown]
# ### Exercise 2: the arithmetic intensity of a matrix product
#
# Write `my_arithmetic_intensity(M, N, K, bytes_per_value)`: the FLOPs per byte of $C = AB$ with $A$ of shape
# $(M, K)$ and $B$ of shape $(K, N)$, reading $A$ and $B$ once and writing $C$ once. Then try it on attention's first
# product for one head, $QK^\top$ with $M = L$, $N = S$, $K = D$, at the sizes of section 8: $L = S = 4096$, 2 bytes
# per value (float16 or bfloat16), with $D = 64$ and with $D = 128$. Which is closer to an H100's ridge point of 295
# FLOP per byte (section 8), and is either compute-bound?

# %% tags=["exercise"] keep_output=false
def my_arithmetic_intensity(M, N, K, bytes_per_value):
    raise NotImplementedError("your code here")


# %% tags=["check"] keep_output=false
check.arithmetic_intensity(my_arithmetic_intensity)

# %% tags=["solution"] jupyter={"source_hidden": true}
def my_arithmetic_intensity(M, N, K, bytes_per_value):
    flops = 2 * M * N * K  # M·N dot products of length K: a multiply and an add per step
    moved = bytes_per_value * (M * K + K * N + M * N)  # read A and B, write C
    return flops / moved


# %% tags=["solution"]
# record=False: the course's own solution does not count in your progress (see attn_course.progress()).
check.arithmetic_intensity(my_arithmetic_intensity, record=False)

# %% [markdown] tags=["solution"]
# The answers, against the ridge point computed in section 8:

# %% tags=["solution"]
for D_ex in (64, 128):
    intensity_ex = my_arithmetic_intensity(4096, 4096, D_ex, 2)
    print(f"Q Kᵀ for one head, L = S = 4096, D = {D_ex:>3}, 2 bytes: {intensity_ex:6.1f} FLOP/byte "
          f"({intensity_ex / ridge:.0%} of the H100 ridge point, {ridge:.0f}) -> "
          f"{'compute' if intensity_ex > ridge else 'memory'}-bound")

# %% [markdown]
# ## Summary
#
# You can now
# - explain why a GPU is a throughput machine: each call has a fixed cost, so tiny operations are all overhead and
#   only large or batched work reaches its speed (measured: the time of a product hardly moves until the work
#   outgrows the cost of the call);
# - move tensors and models with `.to(DEVICE)` or `device=` at creation, remembering that `Tensor.to` returns a new
#   tensor and `Module.to` moves in place, and that all inputs of an operation must share a device;
# - time GPU code correctly: warm up, synchronise before reading the clock (`torch.cuda.synchronize`, CUDA events,
#   `best_time(..., device=DEVICE)`, `median_time`), and distrust any rate above the datasheet peak;
# - replace loops over heads by one batched product;
# - name PyTorch's SDPA backends, say which inputs each accepts, restrict them with `sdpa_kernel`, and check that they
#   agree;
# - pick a precision: float32 for reference, bfloat16 for float32's range at 2 bytes, float16 for more precision but
#   a range that overflows at 65,504, TF32 for float32 products on tensor cores;
# - compute the score matrix's memory, $B H L S$ times the bytes per value, and the $L$ at which it outgrows a GPU;
# - compute arithmetic intensity, read a roofline, and explain why a fused kernel beats naive attention by moving
#   fewer bytes, not by doing fewer FLOPs; and (section 8.1) say why the roofline is optimistic for attention (its
#   exponentials run on special-function units far slower than the tensor cores).
#
# ## Common pitfalls
# - **Timing without synchronising.** A GPU call returns before the work is done; without `synchronize` (or events,
#   or `torch.utils.benchmark`) you time the launch. Also time after a warm-up, never the first call.
# - **Mixing devices.** "Expected all tensors to be on the same device": move the input to the model's device
#   (`x.to(next(model.parameters()).device)`), and remember `t = t.to(DEVICE)`, with the assignment.
# - **Different random numbers on a GPU.** The same seed gives different numbers on CUDA than on the CPU; make data on
#   the CPU when results must match across machines.
# - **float16 overflow.** Scores above 65,504 become `inf` and the softmax NaN. Scale before multiplying, use
#   PyTorch's SDPA, or use bfloat16.
# - **TF32 surprises.** With TF32 on, float32 products on a GPU keep only 10 mantissa bits: results differ from the
#   CPU's in the fourth significant digit. Turn it on for speed in training, off for tests that compare with a
#   reference.
# - **A silent fallback to the math backend.** A float32 input, an explicit mask or an odd head width can push SDPA
#   off the flash kernel, onto a slower one that may store the scores; restrict to `SDPBackend.FLASH_ATTENTION` to
#   see why.
# - **Loops over heads or sequences.** Each iteration pays the launch cost and leaves the GPU mostly idle; batch them.
#
# ## Further reading
# - PyTorch, [CUDA semantics](https://pytorch.org/docs/stable/notes/cuda.html): asynchronous execution, streams,
#   TF32 and its settings.
# - PyTorch, [`scaled_dot_product_attention`](https://pytorch.org/docs/stable/generated/torch.nn.functional.scaled_dot_product_attention.html)
#   and [`torch.nn.attention`](https://pytorch.org/docs/stable/nn.attention.html) (`sdpa_kernel`, `SDPBackend`).
# - PyTorch, [benchmarking recipe](https://pytorch.org/tutorials/recipes/recipes/benchmark.html):
#   `torch.utils.benchmark`, the tool behind `median_time`.
# - S. Williams, A. Waterman, D. Patterson, [*Roofline: an insightful visual performance model for multicore
#   architectures*](https://doi.org/10.1145/1498765.1498785), Communications of the ACM 52(4), 2009.
# - NVIDIA, [H100 Tensor Core GPU datasheet](https://resources.nvidia.com/en-us-tensor-core/nvidia-tensor-core-gpu-datasheet)
#   and [A100 datasheet](https://www.nvidia.com/content/dam/en-zz/Solutions/Data-Center/a100/pdf/nvidia-a100-datasheet-us-nvidia-1758950-r4-web.pdf):
#   the peak rates, bandwidths and memory sizes used above; the
#   [Hopper architecture whitepaper](https://resources.nvidia.com/en-us-tensor-core/gtc22-whitepaper-hopper) for the
#   streaming multiprocessors; the [CUDA C++ Programming Guide](https://docs.nvidia.com/cuda/cuda-c-programming-guide/index.html#arithmetic-instructions)
#   for the special-function units' throughput per SM.
# - P. Micikevicius et al., [*Mixed Precision Training*](https://arxiv.org/abs/1710.03740) (2018): float16 training
#   with float32 master weights and loss scaling.
# - T. Dao, D. Fu, S. Ermon, A. Rudra, C. Ré, [*FlashAttention: Fast and Memory-Efficient Exact Attention with
#   IO-Awareness*](https://arxiv.org/abs/2205.14135) (2022): attention analysed by memory traffic; notebook 12.
# - J. Shah, G. Bikshandi, Y. Zhang, V. Thakkar, P. Ramani, T. Dao, [*FlashAttention-3: Fast and Accurate Attention
#   with Asynchrony and Low-precision*](https://arxiv.org/abs/2407.08608) (2024): section 3.1 gives the H100's
#   special-function throughput used in section 8.1, and overlaps the softmax with the matrix products to reach 75% of
#   the peak.
# - H. He, [*Making Deep Learning Go Brrrr From First Principles*](https://horace.io/brrr_intro.html) (2022): compute,
#   memory bandwidth and overhead, the three costs this notebook measured.
