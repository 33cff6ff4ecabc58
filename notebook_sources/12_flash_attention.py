# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 12 · FlashAttention: online softmax, tiling, a Triton kernel
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/attn-course/attention-step-by-step/blob/main/notebooks/12_flash_attention.ipynb)
#
# Every attention layer in this course so far has built the whole score matrix, $L \times S$ numbers per head, then
# turned it into weights and multiplied the weights by the values. Notebook 10 showed what that costs in memory at
# long lengths. On a GPU it also costs time, even when it fits: the matrix is written to the GPU's main memory, read
# back by the softmax, written again as weights and read once more by the product with $V$, and moving those numbers
# takes longer than the arithmetic done on them. **FlashAttention** (Dao et al. 2022) computes exactly the same
# output, not an approximation, without ever storing the scores. It walks over the keys one tile at a time and keeps
# three small running quantities per query. What makes that possible is an **online softmax**, a softmax that can
# start before it has seen the whole row. This notebook derives the online softmax in NumPy, builds FlashAttention
# from it in PyTorch, measures the memory it saves, and then reads a real GPU kernel, written in Triton, line by line
# and runs it (in Triton's interpreter if you have no GPU).
#
# **Learning goals.** After this notebook you can
# - **derive** the online softmax (a running maximum, a running sum, and the rescale by $e^{m_\text{old} -
#   m_\text{new}}$) and **prove** it equals softmax;
# - **build** FlashAttention from tiles of queries and keys in FlashAttention-2's loop order, **check** it against
#   PyTorch's `scaled_dot_product_attention`, and **skip** the tiles a causal mask hides;
# - **measure** the extra memory of naive attention and of FlashAttention, and **explain** why one grows as $L^2$ and
#   the other as $L$ at inference, and why training needs FlashAttention's own backward pass;
# - **read** a Triton kernel (programs, tiles, masked loads, `exp2`) and **run** it on a GPU or in the interpreter;
# - **interpret** a GPU benchmark in TFLOP/s.
#
# **Prerequisites.** [02 · Softmax](02_softmax.ipynb) (the max trick and log-sum-exp),
# [04 · Scaled dot-product attention and masks](04_scaled_dot_product_attention_and_masks.ipynb) (causal masks, top-left
# alignment) and [10 · Local and global attention](10_local_and_global_attention.ipynb) (computing attention in tiles;
# `best_time` and `peak_memory_mb`). Notebook 11 (GPU acceleration) helps for sections 1, 6 and 7.
#
# **Time.** About 60 minutes of study (the notebook runs in under half a minute on a laptop CPU).

# %%
# Only in Google Colab: install the course's helper package, attn_course, from GitHub. --no-deps keeps
# Colab's own torch, NumPy and matplotlib as they are. Anywhere else (your laptop, Binder, CI) this does nothing.
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "attn_course @ git+https://github.com/attn-course/attention-step-by-step"], check=True)

# %%
import inspect
import json
import math
import os
import textwrap
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.patches import Rectangle

import attn_course
from attn_course import device, logsumexp, set_seed, softmax, triton_flash
from attn_course.bench import attention_flops, best_time, best_times, peak_memory_mb, tflops
from attn_course.exercises import flash as check
from attn_course.flash import flash_attention, online_softmax

set_seed(0)
torch.set_num_threads(1)  # the same summation order on every machine, so stored outputs match
torch.set_printoptions(precision=4, sci_mode=False)
np.set_printoptions(precision=4, suppress=True)
DEVICE = device()
# No GPU: Triton kernels run in Triton's interpreter, on CPU tensors (section 6). This must happen before anything
# imports triton, and nothing above does: attn_course.triton_flash imports it only when the kernel first runs.
if DEVICE.type != "cuda":
    os.environ.setdefault("TRITON_INTERPRET", "1")

# %% [markdown]
# Sections 1 to 5 run on the CPU, on one thread, whatever machine you have; sections 6 and 7 use the GPU if there is
# one. Queries and keys have width $D$ throughout (the head width; there are no projections here), so the scale is
# $1/\sqrt{D}$.
#
# ## 1. Why: the score matrix is traffic (core)
#
# Follow naive attention through a GPU. A GPU has two kinds of memory: a large main memory (HBM, tens of GB, a few
# TB/s) and a small, much faster memory on the chip itself (registers and shared memory, a few hundred KB per
# streaming multiprocessor). Arithmetic happens on chip; the big tensors live in main memory. Naive attention runs as
# three separate operations, and each one sends the $(L, S)$ matrix through main memory:
#
# 1. $A = QK^\top / \sqrt{D}$ reads $Q$ and $K$ and **writes** the scores $A$;
# 2. $P = \operatorname{softmax}(A)$ **reads** $A$ and **writes** the weights $P$;
# 3. $O = PV$ **reads** $P$ and $V$ and writes $O$.
#
# That is four trips of $L \cdot S$ numbers per head, against $4 L S D$ floating-point operations (FLOPs) for the two
# matrix products. Is the moving or the multiplying slower? A quick estimate with an H100's datasheet figures
# (NVIDIA H100 SXM: 989 TFLOP/s dense float16 on the tensor cores, 3.35 TB/s of HBM3 bandwidth; datasheet numbers,
# not measurements) and float16 scores of 2 bytes:

# %%
PEAK_FLOPS, BANDWIDTH = 989e12, 3.35e12  # NVIDIA H100 SXM datasheet: dense FP16 tensor-core FLOP/s, HBM3 bytes/s
print(f"H100 SXM (datasheet): {PEAK_FLOPS / 1e12:.0f} TFLOP/s, {BANDWIDTH / 1e12:.2f} TB/s")
for D in (64, 128):
    compute_s = 4 * D / PEAK_FLOPS  # per score: 2D FLOPs in QKᵀ and 2D in PV, at peak speed
    traffic_s = 4 * 2 / BANDWIDTH  # per score: four trips of a 2-byte number through HBM, at full bandwidth
    print(f"D = {D:>3}: per score {compute_s * 1e12:.3f} ps of arithmetic, {traffic_s * 1e12:.3f} ps of traffic; "
          f"traffic / arithmetic = {traffic_s / compute_s:.1f}")
for L in (4096, 16384):
    print(f"L = S = {L:>5}: one head's float16 score matrix is {2 * L * L / 2**20:,.0f} MiB; "
          f"for 4 sequences of 32 heads, {4 * 32 * 2 * L * L / 2**30:,.0f} GiB")

# %% [markdown]
# Even with these generous assumptions (every number moved at full bandwidth, every FLOP at peak), naive attention
# spends about 9 times as long moving the score matrix as multiplying (head width 64), and it needs gigabytes for a
# matrix that is used once and thrown away. The arithmetic is fine; the **traffic** is the problem. (Notebook 11 draws
# this as a roofline.)
#
# FlashAttention removes the trips. It computes one tile of scores on chip, turns it into weights and multiplies them
# by the matching tile of $V$ right there, before the next tile is computed: the scores never reach main memory.
# There is one obstacle. Softmax divides by the sum of the **whole** row, and subtracts the row's maximum first (the
# max trick of notebook 02), so a tile cannot be turned into final weights until every tile of its row has been
# seen. The online softmax removes that obstacle.
#
# ## 2. Online softmax (core)
#
# Recall the stable softmax of a row $x_1, \dots, x_S$:
#
# $$\operatorname{softmax}(x)_i = \frac{e^{x_i - m}}{\ell}, \qquad m = \max_j x_j, \qquad \ell = \sum_j e^{x_j - m}.$$
#
# The usual code reads the row three times: once for $m$, once for $\ell$, once to write the weights. Now suppose the
# row arrives in blocks that we cannot keep. We can keep a running maximum, but the running sum is the difficulty:
# its terms $e^{x_j - m}$ were computed with the maximum *so far*, and when a later block brings a larger value, every
# term is too large.
#
# Not by a mystery amount, though. If the maximum rises from $m_\text{old}$ to $m_\text{new}$, each old term needs
# $e^{x_j - m_\text{new}} = e^{x_j - m_\text{old}} \cdot e^{m_\text{old} - m_\text{new}}$: **one** common factor. So
# we can correct the whole sum at once by multiplying it by $e^{m_\text{old} - m_\text{new}}$. A small example by
# hand: $x = [1, 2, 3, 6, 4, 5]$ in two blocks of three.

# %%
x_hand = np.array([1.0, 2.0, 3.0, 6.0, 4.0, 5.0])
block_1, block_2 = x_hand[:3], x_hand[3:]

m1 = block_1.max()
l1 = np.exp(block_1 - m1).sum()
print(f"block 1 {block_1}: m = {m1:g}, l = e^(1-3) + e^(2-3) + e^(3-3) = {l1:.4f}")

m2 = max(m1, block_2.max())
alpha = np.exp(m1 - m2)  # how much every old term shrinks under the new maximum
new_terms = np.exp(block_2 - m2).sum()
l2 = l1 * alpha + new_terms
print(f"block 2 {block_2}: the maximum rises to {m2:g}, so the old sum is multiplied by e^({m1:g} - {m2:g}) = {alpha:.4f}")
print(f"    l = {l1:.4f} * {alpha:.4f} + (e^(6-6) + e^(4-6) + e^(5-6)) = {l1 * alpha:.4f} + {new_terms:.4f} = {l2:.4f}")
print(f"the sum of e^(x - 6) over all six numbers, computed directly: {np.exp(x_hand - x_hand.max()).sum():.4f}")
print("weights from m and l:", np.exp(x_hand - m2) / l2)
print("softmax             :", softmax(x_hand))

# %% [markdown]
# The first block's sum, 1.5032, was measured against a maximum of 3. The second block raises the maximum to 6, so
# that sum shrinks by $e^{-3} = 0.0498$ before the new terms are added, and the result, 1.5781, is exactly the sum
# we would have computed had we known the maximum from the start. The weights come out equal to softmax.
#
# In general, with $m_0 = -\infty$ and $\ell_0 = 0$, for each block $B_k$:
#
# $$m_k = \max\Big(m_{k-1},\ \max_{j \in B_k} x_j\Big), \qquad
#   \ell_k = \ell_{k-1}\, e^{m_{k-1} - m_k} + \sum_{j \in B_k} e^{x_j - m_k},$$
#
# and at the end $\operatorname{softmax}(x)_i = e^{x_i - m}/\ell$. Why it is exact: if $\ell_{k-1}$ is the sum over
# everything seen so far measured against $m_{k-1}$, then after the update $\ell_k$ is the sum over everything seen
# so far measured against $m_k$; by induction, after the last block it is the true $\ell$. The start is harmless:
# $e^{-\infty} \cdot 0 = 0$, as long as the first block has a finite value (the end of this section shows the case
# where it has none).
#
# Here it is for one row, a loop over blocks whose last block may be shorter:

# %%
def online_softmax_row(x, block_size):
    """Softmax of a 1-D array read block_size numbers at a time: one pass for m and l, one to write the weights."""
    m, l = -np.inf, 0.0  # nothing seen yet
    for start in range(0, len(x), block_size):  # the last block may be shorter: slicing handles it
        block = x[start:start + block_size]
        m_new = max(m, block.max())
        l = l * np.exp(m - m_new) + np.exp(block - m_new).sum()  # rescale the old sum, then add the block's terms
        m = m_new
    return np.exp(x - m) / l


rng = np.random.default_rng(12)
for n, block, shift in ((10, 4, 0.0), (10, 10, 0.0), (37, 8, 0.0), (37, 1, 0.0), (25, 6, 800.0), (25, 6, -800.0)):
    x_test = rng.normal(size=n) * 5 + shift  # shift 800: exp(800) overflows even in float64
    np.testing.assert_allclose(online_softmax_row(x_test, block), softmax(x_test), rtol=1e-12, atol=1e-15)
    print(f"n = {n:>2}, blocks of {block:>2}, values near {shift:>6g}: online softmax = softmax")

# %% [markdown]
# The package holds the same algorithm for arrays of any shape (softmax over the last axis):
# `attn_course.flash.online_softmax(x, block_size)`. It equals ours row by row and `softmax` on a whole batch:

# %%
x_batch = rng.normal(size=(4, 29)) * 4  # 4 rows of 29 numbers
package = online_softmax(x_batch, 8)
np.testing.assert_allclose(package, softmax(x_batch), rtol=1e-12, atol=1e-15)
for row, x_row in zip(package, x_batch):
    np.testing.assert_allclose(row, online_softmax_row(x_row, 8), rtol=1e-12, atol=1e-15)
print("online_softmax(x, 8) = softmax(x) = online_softmax_row on each of the", len(x_batch), "rows, shape", package.shape)

# %% [markdown]
# The two differ in one case: a row whose first block holds only $-\infty$ (keys masked out, for example by left
# padding). After that block $m$ is still $-\infty$, the rescale computes $e^{-\infty - (-\infty)}$, which is NaN, and
# the NaN spreads to every weight of the row. `online_softmax_row` returns NaN (NumPy also warns "invalid value
# encountered in subtract", silenced below). The package's `online_softmax` shifts by 0 while the maximum is still
# $-\infty$, so it returns the right weights, and zeros for a row of only $-\infty$, as the course's `softmax` does
# (notebook 04, section 8):

# %%
x_masked = np.array([-np.inf, -np.inf, -np.inf, 1.0, 2.0])  # the first block of 3 holds only masked keys
with np.errstate(invalid="ignore"):  # silence NumPy's warning: the NaN is the point
    print("online_softmax_row(x, 3):", online_softmax_row(x_masked, 3))
print("online_softmax(x, 3)    :", online_softmax(x_masked, 3))
print("softmax(x)              :", softmax(x_masked))
print("online_softmax of a row of only -inf:", online_softmax(np.full(5, -np.inf), 3))

# %% [markdown]
# The package's attention functions need no such guard inside their loops. `attn_course.flash.flash_attention` and
# the Triton kernel of section 6 take no mask, only `is_causal`, and with top-left alignment every query sees key 0,
# which lies in the first key tile each query tile visits, so the running maximum is finite from the first tile on
# (with no keys at all, $S = 0$, they return zeros, as PyTorch's SDPA does). Masks that can hide every key of a row
# are the business of `attn_course.scaled_dot_product_attention` (notebook 04), whose `softmax` gives such rows zeros.

# %% [markdown]
# The two running numbers also summarise the row. $m + \log \ell$ is the row's log-sum-exp (notebook 02), since
# $\log \sum_j e^{x_j} = m + \log \sum_j e^{x_j - m}$. FlashAttention-2 keeps exactly this one number per query for
# its backward pass, instead of the whole row of weights.

# %%
def running_stats(x, block_size):
    """The running maximum and running sum after each block of a 1-D array (what the loop above keeps)."""
    m, l, ms, ls = -np.inf, 0.0, [], []
    for start in range(0, len(x), block_size):
        block = x[start:start + block_size]
        m_new = max(m, block.max())
        l = l * np.exp(m - m_new) + np.exp(block - m_new).sum()
        m = m_new
        ms.append(m)
        ls.append(l)
    return np.array(ms), np.array(ls)


ms_hand, ls_hand = running_stats(x_hand, 3)
print(f"m + log(l) = {ms_hand[-1] + np.log(ls_hand[-1]):.6f}   logsumexp(x) = {logsumexp(x_hand):.6f}")

# %% [markdown]
# A picture of the running quantities, for a row of 24 numbers that tends to rise (so that later blocks keep raising
# the maximum), read in blocks of 6:

# %%
x_fig = np.round(np.random.default_rng(23).normal(size=24) * 1.2 + np.linspace(0, 4, 24), 2)  # (24,): one row
block_fig = 6
ms_fig, ls_fig = running_stats(x_fig, block_fig)
ends = np.arange(block_fig, len(x_fig) + 1, block_fig)  # positions where each block ends
in_final_units = ls_fig * np.exp(ms_fig - ms_fig[-1])  # each running sum re-measured against the final maximum

fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
colours = plt.cm.tab10(np.arange(len(ends)))
for k, end in enumerate(ends):
    idx = np.arange(end - block_fig, end)
    axes[0].scatter(idx, x_fig[idx], color=colours[k], label=f"block {k + 1}", zorder=3)
    axes[0].hlines(ms_fig[k], end - block_fig - 0.5, end - 0.5, color=colours[k], lw=3, alpha=0.5)  # m after block k
    if k:
        axes[0].axvline(end - block_fig - 0.5, color="grey", ls=":", lw=1)
axes[0].set_xlabel("position j in the row")
axes[0].set_ylabel("value x_j")
axes[0].set_title("The values (dots) and the running maximum m\nafter each block (bar over the block)")
axes[0].legend(fontsize=9, loc="upper left")
blocks = np.arange(1, len(ends) + 1)
axes[1].bar(blocks - 0.2, ls_fig, width=0.4, label="l as stored: measured against the current maximum")
axes[1].bar(blocks + 0.2, in_final_units, width=0.4, label="the same sum measured against the final maximum")
axes[1].axhline(np.exp(x_fig - x_fig.max()).sum(), color="k", ls=":", label="the full row's sum (softmax's denominator)")
axes[1].set_xticks(blocks)
axes[1].set_xlabel("blocks read")
axes[1].set_ylabel("running sum")
axes[1].set_title("The running sum l after each block")
axes[1].set_ylim(0, 1.45 * ls_fig.max())  # room for the legend above the bars
axes[1].legend(fontsize=8, loc="upper left")
fig.tight_layout()
plt.show()
print("running maximum after each block:", ms_fig)
print("running sum as stored            :", ls_fig.round(4))
print("the same, against the final max  :", in_final_units.round(4))

# %% [markdown]
# On the left, each block's values (colours) and the running maximum after it (the bar in the same colour over the
# block): blocks 2, 3 and 4 each raise it, block 3 by the most. On the right, the stored sum (blue) **falls** after
# block 3 although six terms were added: the jump of the maximum shrank the old part by more than the new terms
# brought. Measured against the final maximum (orange), the same sums only grow, block by block, up to softmax's
# denominator (dotted). The rescale is a change of units, nothing more.
#
# ## 3. From online softmax to attention (core)
#
# ### One query
#
# Attention does not want the weights themselves, only their weighted sum of values. The row $x$ of section 2 is now
# one query's scores:
#
# $$o = \sum_j \operatorname{softmax}(x)_j\, v_j = \frac{\sum_j e^{x_j - m}\, v_j}{\ell}, \qquad x_j = \frac{q \cdot
#   k_j}{\sqrt{D}} .$$
#
# The numerator is a sum of the same kind as $\ell$, just with a vector $v_j$ in each term. So it can be carried
# along the same way, in an **accumulator** $a$ that gets the same rescale:
#
# $$a_k = a_{k-1}\, e^{m_{k-1} - m_k} + \sum_{j \in B_k} e^{x_j - m_k}\, v_j, \qquad o = a / \ell \text{ at the end}.$$
#
# Three running quantities per query, $m$, $\ell$ and $a$ (a vector of width $D_v$), whatever the number of keys.
# In PyTorch, in float64 so that the comparison is exact to rounding:

# %%
g = torch.Generator().manual_seed(12)
D1, S1, Dv1, b1 = 8, 23, 5, 6
q1 = torch.randn(D1, generator=g, dtype=torch.float64)  # (D,): one query
k1 = torch.randn(S1, D1, generator=g, dtype=torch.float64)  # (S, D)
v1 = torch.randn(S1, Dv1, generator=g, dtype=torch.float64)  # (S, Dv)

m, l, acc = -math.inf, 0.0, torch.zeros(Dv1, dtype=torch.float64)
for j0 in range(0, S1, b1):  # key tiles of 6; the last has 5
    scores = k1[j0:j0 + b1] @ q1 / math.sqrt(D1)  # (bk, D) @ (D,) -> (bk,): this tile's scores
    m_new = max(m, scores.max().item())
    alpha = math.exp(m - m_new)  # the rescale, as in section 2
    p = torch.exp(scores - m_new)  # (bk,): unnormalised weights of this tile
    l = l * alpha + p.sum().item()
    acc = acc * alpha + p @ v1[j0:j0 + b1]  # (bk,) @ (bk, Dv) -> (Dv,)
    m = m_new
o_online = acc / l  # divide once, at the end

o_reference = torch.softmax(k1 @ q1 / math.sqrt(D1), dim=0) @ v1  # (S,) @ (S, Dv) -> (Dv,): all scores at once
torch.testing.assert_close(o_online, o_reference, atol=1e-12, rtol=0)
print("online output   :", o_online)
print("softmax(x) @ V  :", o_reference)

# %% [markdown]
# ### Why dividing at the end matters, and what one number per row buys
#
# A tempting shortcut is to finish each tile on its own: softmax the tile's scores, multiply by its values, and
# average the tiles' outputs. That is wrong, because each tile's weights were normalised by that tile's sum only: a
# tile of weak keys counts as much as a tile of strong ones. The right combination weighs each tile's output by its
# share of the total, and that share is exactly what the log-sum-exp of each part records:
# $o = \sum_t e^{\text{LSE}_t - \text{LSE}}\, o_t$ with $\text{LSE} = \log \sum_t e^{\text{LSE}_t}$. Split the 23
# keys above into two parts:

# %%
def partial_attention(q, k, v):
    """One query over some of the keys: the normalised output and the log-sum-exp of its scores."""
    scores = k @ q / math.sqrt(q.shape[-1])  # (S_part, D) @ (D,) -> (S_part,)
    return torch.softmax(scores, dim=0) @ v, torch.logsumexp(scores, dim=0)  # (Dv,), a scalar


o_a, lse_a = partial_attention(q1, k1[:12], v1[:12])
o_b, lse_b = partial_attention(q1, k1[12:], v1[12:])
lse = torch.logaddexp(lse_a, lse_b)  # log(e^lse_a + e^lse_b): the whole row's log-sum-exp
merged = torch.exp(lse_a - lse) * o_a + torch.exp(lse_b - lse) * o_b  # each part weighted by its share
averaged = (o_a + o_b) / 2  # the shortcut
print(f"shares of the two parts: {torch.exp(lse_a - lse).item():.4f} and {torch.exp(lse_b - lse).item():.4f}")
print("merged with the log-sum-exp weights = softmax(x) @ V:", torch.allclose(merged, o_reference, atol=1e-12))
print("plain average of the two parts      = softmax(x) @ V:", torch.allclose(averaged, o_reference, atol=1e-12),
      f"(largest error {(averaged - o_reference).abs().max().item():.3f})")

# %% [markdown]
# The plain average is off in the second decimal place; the merge is exact. The flash loop avoids the question by never
# normalising early: it divides by $\ell$ once, at the very end. The merge rule is still worth remembering: it is how
# FlashAttention combines the work of several GPU programs that each took part of the keys (the "split-KV" or
# Flash-Decoding trick, Dao et al. 2023), and how ring attention (Liu et al. 2023) combines keys held by different
# processes (both in Further reading).
#
# ### Tiles of queries and tiles of keys
#
# Queries do not interact: each row of the output depends only on its own query. So we can take a **tile** of $b$
# queries at a time, and $m$ and $\ell$ become columns of shape $(b, 1)$, $a$ a $(b, D_v)$ matrix, and each step
# scores a $(b, b)$ tile $A_{ij} = Q_i K_j^\top / \sqrt{D}$ with one matrix product. Two loops remain, and their order
# matters:
#
# - FlashAttention (2022) put the **key tiles outside**: for each tile of keys it visited every query tile, so it had
#   to write each query tile's partial $m$, $\ell$ and $a$ back to main memory and read them again for the next key
#   tile.
# - FlashAttention-2 (Dao 2023) put the **query tiles outside**: a query tile loads its queries once, runs through all
#   key tiles with $m$, $\ell$ and $a$ kept on chip, and writes its output once. The query tiles are independent, so
#   on a GPU each becomes its own program, running in parallel (section 6).
#
# Here is FlashAttention in the second order, for any leading axes $(\dots, L, D)$, with an optional causal mask
# (query $i$ sees keys $j \le i$, top-left aligned as in PyTorch). With the mask, a query tile stops at its last
# query's position; section 4 looks at that.

# %%
def my_flash_attention(q, k, v, is_causal=False, block_size=64):
    """Attention one (query tile, key tile) at a time: running maximum m, running sum l, running output acc."""
    L, S, D = q.shape[-2], k.shape[-2], q.shape[-1]
    out = q.new_empty(*q.shape[:-1], v.shape[-1])  # (..., L, Dv), written once per query tile
    for i0 in range(0, L, block_size):  # outer loop: query tiles, independent of each other
        i1 = min(i0 + block_size, L)  # the last tile may be shorter
        qi = q[..., i0:i1, :] / math.sqrt(D)  # (..., bq, D), scaled once for all its key tiles
        m = q.new_full((*q.shape[:-2], i1 - i0, 1), -math.inf)  # (..., bq, 1) running maximum
        l = q.new_zeros((*q.shape[:-2], i1 - i0, 1))  # (..., bq, 1) running sum of exp(score - m)
        acc = q.new_zeros((*q.shape[:-2], i1 - i0, v.shape[-1]))  # (..., bq, Dv) running sum of exp(score - m) · v
        stop = min(S, i1) if is_causal else S  # causal: no key after the tile's last query is ever needed
        for j0 in range(0, stop, block_size):  # inner loop: key tiles, in order
            j1 = min(j0 + block_size, stop)
            scores = qi @ k[..., j0:j1, :].transpose(-2, -1)  # (..., bq, D) @ (..., D, bk) -> (..., bq, bk)
            if is_causal and j1 - 1 > i0:  # the tile crosses the diagonal: hide each query's future keys
                future = torch.arange(i0, i1, device=q.device)[:, None] < torch.arange(j0, j1, device=q.device)
                scores = scores.masked_fill(future, -math.inf)  # (bq, bk) mask broadcast over the leading axes
            m_new = torch.maximum(m, scores.amax(dim=-1, keepdim=True))  # (..., bq, 1)
            alpha = torch.exp(m - m_new)  # (..., bq, 1): rescale what was summed under the old maximum
            p = torch.exp(scores - m_new)  # (..., bq, bk)
            l = alpha * l + p.sum(dim=-1, keepdim=True)
            acc = alpha * acc + p @ v[..., j0:j1, :]  # (..., bq, bk) @ (..., bk, Dv) -> (..., bq, Dv)
            m = m_new
        out[..., i0:i1, :] = acc / l  # divide once, at the end
    return out


# %% [markdown]
# The mask test `j1 - 1 > i0` asks whether the tile's last key comes after its first query: only then can some
# query of the tile see a future key. Tiles entirely below the diagonal need no mask at all.
#
# The reference is PyTorch's `F.scaled_dot_product_attention`, in float32, on lengths that the block size does not
# divide, with $L \ne S$ and a value width different from the key width. The two sum the same numbers in a different
# order, so they agree to float32 rounding: we ask for $10^{-5}$.

# %%
g = torch.Generator().manual_seed(3)
for L, S, causal in ((100, 100, False), (100, 100, True), (37, 80, False), (37, 80, True), (80, 37, True)):
    q = torch.randn(2, 3, L, 16, generator=g)  # (B, H, L, D)
    k = torch.randn(2, 3, S, 16, generator=g)  # (B, H, S, D)
    v = torch.randn(2, 3, S, 24, generator=g)  # (B, H, S, Dv)
    ours = my_flash_attention(q, k, v, is_causal=causal, block_size=32)
    reference = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    torch.testing.assert_close(ours, reference, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(flash_attention(q, k, v, is_causal=causal, block_size=32), ours)
    print(f"L = {L:>3}, S = {S:>3}, causal {causal!s:5}, tiles of 32: my_flash_attention = SDPA within 1e-5 "
          f"= attn_course.flash.flash_attention, out {tuple(ours.shape)}")

# %% [markdown]
# The package's `attn_course.flash.flash_attention(q, k, v, *, is_causal=False, block_size=256, scale=None)` is this
# function with input checks, and with in-place updates when no gradient is needed (fewer temporary tensors, so
# faster on a CPU); we use it from here on. As with the band of notebook 10, the block size is a speed knob, not part
# of the answer. In float64, every block size from one key at a time to one tile for everything gives the same
# output to $10^{-12}$:

# %%
g = torch.Generator().manual_seed(4)
q64, k64, v64 = (torch.randn(2, 45, 8, generator=g, dtype=torch.float64) for _ in range(3))  # (B, L, D)
for causal in (False, True):
    reference = F.scaled_dot_product_attention(q64, k64, v64, is_causal=causal)
    for block in (1, 4, 16, 44, 45, 64):
        torch.testing.assert_close(my_flash_attention(q64, k64, v64, causal, block), reference, atol=1e-12, rtol=0)
        torch.testing.assert_close(flash_attention(q64, k64, v64, is_causal=causal, block_size=block), reference,
                                   atol=1e-12, rtol=0)
    print(f"causal {causal!s:5}: block sizes 1, 4, 16, 44, 45, 64 all equal SDPA to 1e-12 (float64)")

# %% [markdown]
# ## 4. Causal attention: skip the tiles above the diagonal (core)
#
# With a causal mask, query $i$ sees keys $0, \dots, i$. A key tile that starts after the last query of a query
# tile is entirely masked: every weight in it would be $e^{-\infty} = 0$, so it contributes nothing, and the loop
# simply stops before it (`stop = min(S, i1)`). Tiles that straddle the diagonal are computed with the mask; tiles
# below it need none. Here is the map for $L = S = 1000$ in tiles of 128 (the last tile holds only 104 rows and
# columns), with each visited tile numbered in the order its query tile's inner loop reaches it:

# %%
def tile_map(L, S, block, causal):
    """For each (query tile, key tile): 'full', 'masked' (crosses the diagonal) or 'skipped'."""
    kinds = {}
    for i0 in range(0, L, block):
        i1 = min(i0 + block, L)
        stop = min(S, i1) if causal else S  # the same rule as in my_flash_attention
        for j0 in range(0, S, block):
            j1 = min(j0 + block, S)
            kinds[i0, j0] = "skipped" if j0 >= stop else "masked" if causal and j1 - 1 > i0 else "full"
    return kinds


L_map, b_map = 1000, 128
colour_of = {"full": "tab:blue", "masked": "tab:orange", "skipped": "white"}
fig, axes = plt.subplots(1, 2, figsize=(11, 5.4))
for ax, causal in zip(axes, (False, True)):
    kinds = tile_map(L_map, L_map, b_map, causal)
    for (i0, j0), kind in kinds.items():
        h, w = min(b_map, L_map - i0), min(b_map, L_map - j0)
        ax.add_patch(Rectangle((j0, i0), w, h, facecolor=colour_of[kind], alpha=0.55, edgecolor="grey",
                               hatch="//" if kind == "skipped" else None))
        if kind != "skipped":  # the visit order; on diagonal tiles, below the diagonal line
            x_text, y_text = (j0 + 0.3 * w, i0 + 0.7 * h) if kind == "masked" else (j0 + w / 2, i0 + h / 2)
            ax.text(x_text, y_text, str(j0 // b_map + 1), ha="center", va="center", fontsize=9)
    if causal:
        ax.plot([0, L_map], [0, L_map], color="k", lw=1, label="diagonal: query i sees keys j <= i")
        ax.legend(loc="upper right", fontsize=8)
    counts = {kind: list(kinds.values()).count(kind) for kind in colour_of}
    ax.set_xlim(0, L_map)
    ax.set_ylim(L_map, 0)  # query 0 at the top, as in a matrix
    ax.set_aspect("equal")
    ax.set_xlabel("key position j")
    ax.set_ylabel("query position i")
    ax.set_title(f"{'causal' if causal else 'not causal'}: {counts['full']} full tiles (blue), "
                 f"{counts['masked']} masked (orange),\n{counts['skipped']} skipped (hatched)")
fig.suptitle(f"Tiles of {b_map} computed by flash attention, L = S = {L_map}")
fig.tight_layout()
plt.show()

# %% [markdown]
# Without a mask, each of the 8 query tiles (rows) walks through all 8 key tiles. With it, query tile $r$ stops at
# tile $r$: 36 tiles instead of 64, of which only the 8 on the diagonal pay for a mask. The share visited is
# $\tfrac{n(n+1)/2}{n^2} = \tfrac{n+1}{2n}$ for $n$ tiles per side, which tends to one half as $L$ grows:

# %%
print(f"{'L':>6} {'tiles per side':>15} {'computed, not causal':>21} {'causal':>7} {'share':>6}  (blocks of 256)")
for L in (1024, 2048, 4096, 8192, 16384):
    kinds = list(tile_map(L, L, 256, causal=True).values())
    visited = len(kinds) - kinds.count("skipped")
    print(f"{L:>6} {math.ceil(L / 256):>15} {len(kinds):>21} {visited:>7} {visited / len(kinds):>6.1%}")

# %% [markdown]
# At $L = 4096$ with the package's default block of 256, causal attention computes 136 of 256 tiles, 53%, so it
# should take a little more than half the time. The measurement, on one thread, 2 heads of width 64 (times are this
# machine's and change from run to run, so this cell is not compared; the claim after it is):

# %%
g = torch.Generator().manual_seed(4096)
q4k, k4k, v4k = (torch.randn(1, 2, 4096, 64, generator=g) for _ in range(3))  # (B, H, L, D), float32
# in turn, so that a busy moment on the machine slows both alike; the best of 5 calls of each, after a warm-up
time_full, time_causal = best_times({"full": lambda: flash_attention(q4k, k4k, v4k),
                                     "causal": lambda: flash_attention(q4k, k4k, v4k, is_causal=True)}).values()

# %% tags=["nbval-ignore-output"]
print(f"L = 4096: not causal {1000 * time_full:.1f} ms, causal {1000 * time_causal:.1f} ms, "
      f"speed-up {time_full / time_causal:.2f}x (tile count predicts {256 / 136:.2f}x; "
      f"measured / predicted {time_full / time_causal / (256 / 136):.2f}, short of the prediction: "
      f"{time_full / time_causal < 256 / 136})")

# %%
print("causal flash attention is more than 1.1x faster than non-causal at L = 4096:", time_full / time_causal > 1.1)
print(f"its speed-up is within 25% of the {256 / 136:.2f}x the tile count predicts:",
      abs(time_full / time_causal / (256 / 136) - 1) < 0.25)

# %% [markdown]
# The speed-up is close to what the tile count predicts; the 16 diagonal tiles' masks and the fixed cost per tile
# explain a shortfall where there is one; timings this small also vary by a few percent. Section 7 says how to measure the same skip on a GPU.
#
# ## 5. Memory and time, measured (core)
#
# The point of the loop is memory: naive attention holds the $(L, S)$ scores and, while softmax runs, the $(L, S)$
# weights too, two float32 matrices per head. The flash loop holds a $(b, b)$ tile of scores at a time (two,
# briefly), plus its output and the small running quantities. We measure three ways to compute the same attention,
# float32, one sequence of 2 heads of width 64, on one thread:
#
# - **naive**: `softmax(Q Kᵀ / √D) V`, the whole score matrix at once (written out below);
# - **flash**: `attn_course.flash.flash_attention`, tiles of 256;
# - **SDPA**: PyTorch's `F.scaled_dot_product_attention`, which on a CPU is itself a fused, tiled kernel in C++
#   (`_scaled_dot_product_flash_attention_for_cpu`, as notebook 10's appendix B found), so it also never stores the scores.
#
# Memory is the rise of the process's peak resident memory during one call (`peak_memory_mb`, Linux only), measured
# after a warm-up call; `peak_memory_mb` first hands the memory freed by earlier calls back to the operating system,
# so the measured call must ask for its own. Times are the best of 3 calls after a warm-up.

# %%
def naive_attention(q, k, v):
    """softmax(Q Kᵀ / √D) V with the whole score matrix in memory."""
    scores = (q / math.sqrt(q.size(-1))) @ k.transpose(-2, -1)  # (B, H, L, D) @ (B, H, D, S) -> (B, H, L, S)
    return torch.softmax(scores, dim=-1) @ v  # (B, H, L, S) @ (B, H, S, Dv) -> (B, H, L, Dv)


def extra_memory_mb(fn):
    """Peak memory rise of fn() in MB after a warm-up call; None where it cannot be measured (not Linux)."""
    fn()  # one-time set-up is not the method's memory
    return peak_memory_mb(fn)


def methods_for(q, k, v):
    """The three attentions we measure, as calls without arguments (what best_time and peak_memory_mb expect)."""
    return {"naive": lambda: naive_attention(q, k, v), "flash": lambda: flash_attention(q, k, v, block_size=BLOCK),
            "SDPA": lambda: F.scaled_dot_product_attention(q, k, v)}


H_mem, D_mem, BLOCK = 2, 64, 256
lengths = [512, 1024, 2048, 4096]
memory = {"naive": [], "flash": [], "SDPA": []}
times = {name: [] for name in memory}
for L in lengths:
    g = torch.Generator().manual_seed(L)
    q, k, v = (torch.randn(1, H_mem, L, D_mem, generator=g) for _ in range(3))  # (B, H, L, D)
    methods = methods_for(q, k, v)
    torch.testing.assert_close(methods["flash"](), methods["naive"](), atol=1e-5, rtol=1e-5)
    for name, fn in methods.items():
        memory[name].append(extra_memory_mb(fn))
        times[name].append(best_time(fn, repeats=3))
print("flash = naive within 1e-5 at every length")

# %% [markdown]
# What we expect, in bytes (4 per float32), counting the tensors each function's code holds at its busiest moment.
# Naive holds two $(H, L, L)$ matrices, the scores and the weights: $2 \cdot 4 H L^2$. Flash holds its output,
# $4 H L D$; **two** $(H, b, b)$ tiles of scores, $2 \cdot 4 H b^2$, because each new tile is computed while the
# previous one still exists; and two $(H, b, D)$ pieces, the scaled query tile and the accumulator. At $b = 256$ the
# tiles dominate at short lengths, the output at long ones:

# %%
tile_mb = 4 * H_mem * BLOCK**2 / 1e6  # one (H, b, b) float32 tile of scores
predicted = {"naive": [2 * 4 * H_mem * L * L / 1e6 for L in lengths],
             "flash": [(4 * H_mem * L * D_mem + 2 * 4 * H_mem * BLOCK**2 + 2 * 4 * H_mem * BLOCK * D_mem) / 1e6
                       for L in lengths]}
print(f"one (H, b, b) tile of scores at b = {BLOCK}: {tile_mb:.2f} MB")
for i, L in enumerate(lengths):
    print(f"L = {L:>4}: naive {predicted['naive'][i]:>6.1f} MB   flash {predicted['flash'][i]:>4.2f} MB   "
          f"ratio {predicted['naive'][i] / predicted['flash'][i]:>5.1f}   "
          f"(the output alone: {4 * H_mem * L * D_mem / 1e6:.2f} MB)")

# %% [markdown]
# The measurements (this machine's; not compared when the notebook is tested, the claims below are):

# %% tags=["nbval-ignore-output"]
if memory["naive"][0] is None:
    print("peak memory cannot be measured on this system (peak_memory_mb needs Linux)")
else:
    print(f"{'L':>5} {'naive':>10} {'flash':>9} {'SDPA':>9}   peak extra memory")
    for i, L in enumerate(lengths):
        print(f"{L:>5} {memory['naive'][i]:>7.1f} MB {memory['flash'][i]:>6.2f} MB {memory['SDPA'][i]:>6.2f} MB")
    print("flash, measured - predicted:", "  ".join(f"{m - p:.1f} MB" for m, p in zip(memory["flash"], predicted["flash"])))
print(f"\n{'L':>5} {'naive':>10} {'flash':>10} {'SDPA':>10} {'flash / SDPA':>13} {'naive / flash':>14}   time per call")
for i, L in enumerate(lengths):
    t = {name: 1000 * times[name][i] for name in times}
    print(f"{L:>5} {t['naive']:>7.2f} ms {t['flash']:>7.2f} ms {t['SDPA']:>7.2f} ms {t['flash'] / t['SDPA']:>12.2f}x "
          f"{t['naive'] / t['flash']:>13.2f}x")
naive_wins = [L for L, tn, tf in zip(lengths, times["naive"], times["flash"]) if tn < tf]
flash_wins = [L for L in lengths if L not in naive_wins]
print(f"\non this machine naive attention was faster than our flash loop at L = {naive_wins or 'none'}, "
      f"and slower at L = {flash_wins or 'none'}")

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 4.4))
styles = {"naive": "o-", "flash": "s-", "SDPA": "^-"}
for name, style in styles.items():
    if memory[name][0] is not None:
        axes[0].loglog(lengths, [max(mb, 1e-2) for mb in memory[name]], style, label=f"{name}, measured")
    axes[1].loglog(lengths, [1000 * t for t in times[name]], style, label=name)
axes[0].loglog(lengths, predicted["naive"], "C0:", label="naive, predicted: 2 (H, L, L) matrices")
axes[0].loglog(lengths, predicted["flash"], "C1:", label="flash, predicted: output + 2 score tiles + 2 (b, D) pieces")
axes[0].set_ylabel("peak extra memory (MB)")
axes[0].set_title(f"Memory of one call, H = {H_mem}, D = {D_mem}, float32")
axes[1].set_ylabel("time per call (ms, best of 3)")
axes[1].set_title("Time of one call (1 thread)")
for ax in axes:
    ax.set_xscale("log", base=2)
    ax.set_xlabel("sequence length L = S")
    ax.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# On the left, naive attention's memory follows its prediction (dotted blue), the slope of $L^2$: every doubling of
# $L$ quadruples it. Flash attention's memory stays at a few MB at every length, so the gap widens with each
# doubling: at $L = 4096$ naive needs dozens of times more (the checked claim below asks for ten).
#
# Flash's measured memory (solid orange) lies above its prediction (dotted orange) by up to a few MB (the "measured -
# predicted" line): memory the C allocator keeps, not tensors the algorithm holds (section 8, optional, explains it).
# PyTorch's fused SDPA (green) needs little more than its output.
#
# On the right, time grows as $L^2$ for all three: FlashAttention saves memory and traffic, not arithmetic. On a CPU
# the traffic matters less than on a GPU (a CPU's caches and a smaller gap between compute and memory speed), and our
# flash loop pays Python's cost for every tile. So at short lengths the plain naive call, one matrix product, one
# softmax and another product, can be **faster** than our flash loop on a CPU; the line under the timing table names
# the lengths at which it was on the machine that ran this notebook. Flash tends to pull ahead at longer lengths,
# where naive's score matrices (tens of MB) outgrow the CPU's caches; the table also compares both with PyTorch's
# C++ kernel. The checked claims, from the measured memory:

# %%
largest, smallest = lengths.index(4096), lengths.index(1024)
memory_claims = None if memory["naive"][0] is None else {
    "naive needs more than 10x the memory of flash at L = 4096": memory["naive"][largest] > 10 * memory["flash"][largest],
    "naive's memory grows more than 8x from L = 1024 to 4096 (quadratic: 16x)":
        memory["naive"][largest] / memory["naive"][smallest] > 8,
    "naive's memory at L = 4096 is within 20% of two (H, L, L) float32 matrices":
        abs(memory["naive"][largest] / predicted["naive"][largest] - 1) < 0.2,
}
# Where memory can be measured (Linux, as in CI) the claims must hold; the assert keeps the printed output the same
# on every system.
assert memory_claims is None or all(memory_claims.values()), memory_claims
print(f"predicted: naive needs {predicted['naive'][largest] / predicted['flash'][largest]:.0f}x the memory of flash "
      "at L = 4096")

# %% tags=["nbval-ignore-output"]
print("measured claims:", memory_claims or "not measured here (peak_memory_mb needs Linux)")

# %% [markdown]
# For the full CPU table, $L$ from 512 to 8192 with 8 heads, causal and not, each memory measurement in a fresh
# process, run `python benchmarks/flash_cpu.py` (about two minutes).
#
# ### Training: what autograd keeps, and what a real kernel keeps
#
# Everything measured so far is **inference**: no tensor required a gradient. Under autograd our loop loses its
# advantage. Autograd records every operation on a tensor that requires a gradient and keeps what that operation's
# backward pass will need: for every (query tile, key tile) pair, the tile of scores (the backward of the maximum
# needs it) and the tile of weights `p` (the backward of `exp` and of the product with $V$ need it). Over the whole
# loop that is two $(H, L, S)$ matrices, held until the backward pass runs; naive attention keeps one, its weights.
# We count the tiles autograd keeps from one call at $L = 1024$, then measure the peak memory of one forward call
# with `requires_grad=True` ($H = 2$, $D = 64$, tiles of 256, as above):

# %%
def tiles_kept_for_backward(L):
    """The distinct (H, b, b) tiles autograd keeps for the backward pass of one flash_attention call: count, MB."""
    kept = {}

    def pack(t):  # called for every tensor that an operation saves for its backward pass
        if t.shape[-2:] == (BLOCK, BLOCK):
            kept[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()  # views of one tile count once
        return t

    q, k, v = (torch.randn(1, H_mem, L, D_mem, requires_grad=True) for _ in range(3))  # (B, H, L, D)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        flash_attention(q, k, v, block_size=BLOCK)
    return len(kept), sum(kept.values()) / 1e6


n_kept, mb_kept = tiles_kept_for_backward(1024)
print(f"L = 1024: autograd keeps {n_kept} tiles of (H, {BLOCK}, {BLOCK}) = {mb_kept:.1f} MB for the backward pass, "
      f"{n_kept / math.ceil(1024 / BLOCK) ** 2:.0f} per (query tile, key tile) pair: "
      f"{mb_kept / (4 * H_mem * 1024**2 / 1e6):.0f} (H, L, S) float32 matrices")

grad_lengths = [1024, 2048]
grad_memory = {"flash": [], "flash, requires_grad": [], "naive, requires_grad": []}
for L in grad_lengths:
    g = torch.Generator().manual_seed(L)
    q, k, v = (torch.randn(1, H_mem, L, D_mem, generator=g).requires_grad_() for _ in range(3))  # (B, H, L, D)
    grad_memory["flash"].append(memory["flash"][lengths.index(L)])  # measured above, without gradients
    methods = methods_for(q, k, v)  # the calls of section 5, now on inputs that require gradients
    grad_memory["flash, requires_grad"].append(extra_memory_mb(methods["flash"]))
    grad_memory["naive, requires_grad"].append(extra_memory_mb(methods["naive"]))
at_2048 = grad_lengths.index(2048)
grad_claims = None if grad_memory["flash"][0] is None else {
    "with requires_grad, flash needs more than 10x its memory without, at L = 2048":
        grad_memory["flash, requires_grad"][at_2048] > 10 * grad_memory["flash"][at_2048],
    "with requires_grad, flash needs at least 0.8x the memory of naive (also with requires_grad), at L = 2048":
        grad_memory["flash, requires_grad"][at_2048] >= 0.8 * grad_memory["naive, requires_grad"][at_2048],
}
assert grad_claims is None or all(grad_claims.values()), grad_claims  # must hold wherever memory can be measured

# %% tags=["nbval-ignore-output"]
if grad_claims is None:
    print("peak memory cannot be measured on this system (peak_memory_mb needs Linux)")
else:
    for name, values in grad_memory.items():
        print(f"{name:>21}: " + "   ".join(f"L = {L}: {mb:5.1f} MB" for L, mb in zip(grad_lengths, values)))
    print("claims:", grad_claims)

# %% [markdown]
# With gradients, our flash loop needs over ten times its inference memory, about as much as naive attention or more:
# its memory grows as $L^2$ again. A real FlashAttention kernel does not let autograd see its tiles. Besides its inputs
# $Q$, $K$, $V$, its forward pass saves only the output $O$ and one number per query, the log-sum-exp $m + \log \ell$ of section 2 (the first paper
# saved $m$ and $\ell$; FlashAttention-2 saves their log-sum-exp), and its own backward pass recomputes each tile of
# scores and weights on chip from $Q$, $K$ and those numbers, tile by tile (Dao et al. 2022, *FlashAttention*,
# [arXiv:2205.14135](https://arxiv.org/abs/2205.14135), section 3.1). The recomputation costs FLOPs but saves traffic,
# and the paper measures forward plus backward several times faster than standard attention; the extra memory stays
# $O(L)$ per head. This notebook builds only the forward pass; for training, PyTorch's
# `F.scaled_dot_product_attention` runs fused kernels (the CPU one of this section included) with a backward pass of
# their own.
#
# Training also applies **dropout** to the attention weights (notebook 07): each weight is zeroed with probability
# $p$, the others are scaled by $1/(1-p)$, and the backward pass must use the same mask. Stored, that mask would be
# $L \times S$ numbers per head again. FlashAttention never stores it: each tile's mask is drawn on chip from a
# counter-based random-number generator, whose numbers depend only on a seed, an offset and the element's position
# (Philox, in the CUDA implementation). The forward pass saves only that generator state, and the backward pass
# regenerates exactly the same mask, tile by tile (Dao et al. 2022, Appendix B: Algorithms 2 and 4).
#
# On a GPU, where traffic is what costs, a real kernel is needed for speed as well: the next section reads one.
#
# ## 6. A FlashAttention kernel in Triton (core)
#
# Our PyTorch loop still sends every tile through main memory: each `@`, `exp` and `masked_fill` is a separate
# operation that reads its inputs from memory and writes its result back. To keep a tile on chip from its scores to
# its contribution to the output, the whole inner loop must be **one** GPU program. Writing that in CUDA means
# managing threads, shared memory and tensor-core layouts by hand. **Triton** (Tillet, Kung and Cox 2019, developed
# since at OpenAI) lets you write it in Python syntax, at the level of tiles:
#
# - you write one **program**; Triton compiles it and launches many copies of it at once, one per point of a
#   **grid** you choose, and `tl.program_id(axis)` tells a copy which one it is;
# - inside a program, values are **blocks**: `tl.arange(0, 64)` is a vector of 64 indices, and arithmetic on blocks
#   is elementwise with broadcasting, as in NumPy; the blocks live in registers and shared memory, on chip;
# - `tl.load` and `tl.store` move a block between main memory and the program, with a **mask** saying which
#   elements exist; `tl.dot` multiplies two tiles (on the tensor cores);
# - Triton decides how the threads inside a program share the work.
#
# The package's kernel is `attn_course.triton_flash`. It is the loop of section 3, with the outer loop over query
# tiles turned into the grid. Here is its source, printed from the package in five parts. (Without CUDA, Triton can
# run the same program in an **interpreter** that executes it with NumPy on CPU tensors: slow, but the same code.
# The set-up cell switched it on with `TRITON_INTERPRET=1` before anything imported Triton. The order matters:
# `@triton.jit` reads the variable when it decorates a function, and `import triton` already decorates Triton's own
# library functions, such as `tl.zeros`; set it later and the kernel fails with "Cannot call @triton.jit'd outside
# of the scope of a kernel".)

# %%
def show_source(function, first, last):
    """Print the source of `function` from the line containing `first` to the next line containing `last`."""
    lines = inspect.getsource(function).splitlines()
    start = next(i for i, line in enumerate(lines) if first in line)
    stop = next(i for i in range(start, len(lines)) if last in lines[i])
    print(textwrap.dedent("\n".join(lines[start:stop + 1])))


show_source(triton_flash._kernel, "@triton.jit", "d_ok = ")

# %% [markdown]
# **Part 1: who am I?** `@triton.jit` marks a function to compile. Its arguments are pointers to the first element
# of `Q`, `K`, `V` and `O`, each tensor's **strides** (how many elements to skip to move one step along each axis),
# the sizes, and the scale. The arguments typed `tl.constexpr` are compile-time constants: Triton compiles a separate
# version for each value, so `if IS_CAUSAL:` costs nothing at run time, and the tile sizes are fixed numbers the
# compiler can plan registers for.
#
# The grid is `(cdiv(L, BLOCK_M), B * H)`, with `cdiv` rounding the division up: one program per query tile per head.
# `tl.program_id(0)` is the query tile, `tl.program_id(1)` the (batch, head) pair. `rows` are this program's query
# positions, `cols0` the offsets within a key tile, `dims` the feature indices. `tl.arange` needs a power of two, so
# a head width such as 24 is padded to `BLOCK_D = 32`, and `d_ok` marks the real features. For the tiny example we
# run below:

# %%
B_tri, H_tri, L_tri, D_tri, BLOCK_M = 1, 2, 64, 32, 16
grid = (math.ceil(L_tri / BLOCK_M), B_tri * H_tri)
print(f"L = {L_tri}, BLOCK_M = {BLOCK_M}, B = {B_tri}, H = {H_tri}: grid {grid}, {grid[0] * grid[1]} programs")
print("program (2, 1) handles batch", 1 // H_tri, "head", 1 % H_tri, "queries", list(range(2 * BLOCK_M, 3 * BLOCK_M)))
print("a head width of 24 is padded to BLOCK_D =", max(16, 1 << (24 - 1).bit_length()), "(the launcher's rule, below)")

# %%
show_source(triton_flash._kernel, "q = tl.load", "acc = tl.zeros")

# %% [markdown]
# **Part 2: load the query tile once.** The address expression is broadcasting, as in NumPy:
# `rows[:, None] * sqm + dims[None, :] * sqd` is a `(BLOCK_M, BLOCK_D)` grid of offsets, one per element of the tile.
# The mask says which of them exist: rows past $L$ (the last, ragged query tile) and features past $D$ are not read
# at all, and come back as `other=0.0`. The query tile then stays on chip for the whole key loop; that is what
# FlashAttention-2's loop order buys. `m_i`, `l_i` and `acc` are the running maximum, sum and output of section 3,
# always in float32, whatever the input type.
#
# Strides are what let the kernel read any layout without a copy. A common case: projections produce $(B, L, H, D)$
# and attention wants $(B, H, L, D)$; `transpose(1, 2)` gives that as a view, with unusual strides. Here is what
# `tl.load` computes for a small view, emulated in PyTorch ($B = 2$, $L = 6$, $H = 3$, $D = 5$ padded to 8; query
# tile 1 of 4 rows, so rows 6 and 7 do not exist):

# %%
x_mem = torch.arange(2 * 6 * 3 * 5).reshape(2, 6, 3, 5)  # (B, L, H, D): how the numbers lie in memory
q_view = x_mem.transpose(1, 2)  # (B, H, L, D): a view of the same memory, no copy
sqb, sqh, sqm, sqd = q_view.stride()
print("shape", tuple(q_view.shape), "strides", q_view.stride(), " contiguous:", q_view.is_contiguous())

b_ex, h_ex, start_m, BM, BD, L_ex, D_ex = 1, 2, 1, 4, 8, 6, 5
rows = start_m * BM + torch.arange(BM)  # (BM,): query positions 4, 5, 6, 7
dims = torch.arange(BD)  # (BD,): features 0..7, of which 0..4 exist
offsets = b_ex * sqb + h_ex * sqh + rows[:, None] * sqm + dims[None, :] * sqd  # (BM, 1) + (1, BD) -> (BM, BD)
ok = (rows[:, None] < L_ex) & (dims[None, :] < D_ex)  # (BM, BD): which addresses exist
tile = torch.where(ok, x_mem.flatten()[offsets.clamp(max=x_mem.numel() - 1)], 0)  # what tl.load(..., mask=ok, other=0) gives
print("offsets into memory:\n", offsets)
print("loaded tile:\n", tile)
print("equals q_view[1, 2, 4:6], zero-padded:",
      torch.equal(tile[:2, :D_ex], q_view[b_ex, h_ex, 4:6]) and not tile[~ok].any())

# %% [markdown]
# (The emulation clamps the offsets so that PyTorch can index; the real `tl.load` never touches a masked address,
# which is why masks matter on a GPU: reading past the end of a tensor is reading someone else's memory.)

# %%
show_source(triton_flash._kernel, "end = ", "s = tl.where")

# %% [markdown]
# **Part 3: the key loop and the scores.** `end` is the causal skip of section 4: a causal program stops after the
# key tile holding its last query, `min(S, (start_m + 1) * BLOCK_M)`, like `stop = min(S, i1)`. The key tile is
# loaded **transposed**, as `(BLOCK_D, BLOCK_N)`, simply by putting `dims` on the rows of the address grid; then
# `tl.dot(q, k, ...)` is $Q_i K_j^\top$, accumulated in float32 (on the tensor cores). Note `qk_scale`: it is the softmax
# scale $1/\sqrt{D}$ times $\log_2 e$, for the reason of part 4.
#
# Then two masks. `cols < S` hides the padding of the last key tile, and this one is essential: a padded key was
# loaded as zeros, so its score is $q \cdot 0 = 0$, not $-\infty$, and without the mask it would get the weight
# $e^{0 - m}$. With $S = 10$ keys in tiles of 8, the second tile holds 6 phantom keys:

# %%
g = torch.Generator().manual_seed(10)
q_r = torch.randn(1, 16, generator=g, dtype=torch.float64)  # (1, D): one query
k_r, v_r = torch.randn(10, 16, generator=g, dtype=torch.float64), torch.randn(10, 4, generator=g, dtype=torch.float64)
k_pad = torch.cat([k_r, torch.zeros(6, 16, dtype=torch.float64)])  # (16, D): two tiles of 8, as tl.load fills them
v_pad = torch.cat([v_r, torch.zeros(6, 4, dtype=torch.float64)])
scores_pad = q_r @ k_pad.T / 4  # (1, D) @ (D, 16) -> (1, 16); √16 = 4
exists = torch.arange(16) < 10  # the `cols < S` mask
w_unmasked = torch.softmax(scores_pad, dim=-1)
w_masked = torch.softmax(scores_pad.masked_fill(~exists, -math.inf), dim=-1)
reference = torch.softmax(q_r @ k_r.T / 4, dim=-1) @ v_r
print(f"without the mask the 6 phantom keys take {w_unmasked[0, 10:].sum().item():.1%} of the weight; "
      f"output correct: {torch.allclose(w_unmasked @ v_pad, reference)}")
print(f"with the mask they take {w_masked[0, 10:].sum().item():.0%}; "
      f"output correct: {torch.allclose(w_masked @ v_pad, reference)}")

# %% [markdown]
# The causal test `cols <= rows` is applied to every visited tile, not only the diagonal ones as in our PyTorch
# loop: on a GPU one comparison per score is cheap next to the matrix product, and the code stays simpler. The
# expensive part, the tiles above the diagonal, is skipped by `end`.

# %%
show_source(triton_flash._kernel, "m_new = ", "m_i = m_new")

# %% [markdown]
# **Part 4: the online softmax, in base 2.** These lines are section 3's update, with one change: `tl.exp2`
# instead of `exp`. GPUs compute $2^x$ in one fast instruction, and $e^x = 2^{x \log_2 e}$. Multiplying the scores by
# $\log_2 e$ (folded into `qk_scale`, so it costs nothing) puts them in base-2 units; the maximum, the rescale
# `alpha` and the weights `p` are then all computed with `exp2`, and since the softmax only ever divides these by
# each other, the base cancels:

# %%
LOG2E = math.log2(math.e)
dots_demo = torch.tensor([[2.0, -1.0, 0.5, 3.0]])  # one query's raw dot products q·k, D = 16
scale_demo = 1 / math.sqrt(16)
scores2 = dots_demo * (scale_demo * LOG2E)  # what the kernel holds: scores in base-2 units
w_exp2 = torch.exp2(scores2 - scores2.amax(dim=-1, keepdim=True))
w_exp2 = w_exp2 / w_exp2.sum(dim=-1, keepdim=True)
print(f"log2(e) = {LOG2E:.16f}  (the constant the launcher multiplies into the scale)")
print("softmax with exp :", torch.softmax(dots_demo * scale_demo, dim=-1))
print("softmax with exp2:", w_exp2, " equal:", torch.allclose(w_exp2, torch.softmax(dots_demo * scale_demo, dim=-1)))

# %% [markdown]
# The value tile is loaded only now, after the scores, as `(BLOCK_N, BLOCK_D)`. `p.to(v.dtype)` turns the weights
# into float16 when the inputs are float16, so that the second product runs on the tensor cores as float16 ×
# float16 with a float32 sum.

# %%
show_source(triton_flash._kernel, "out = acc", "mask=(rows[:, None] < L)")

# %% [markdown]
# **Part 5: divide once, store once.** After the last key tile, each row is divided by its sum, converted to the
# output's type and written with the same kind of mask as the load: rows past $L$ and padded features are not
# written. That is the program's only write to main memory: no scores, no weights.
#
# Finally, the Python function that launches it: a grid of programs, every stride passed explicitly, the scale
# multiplied by $\log_2 e$, and the head width rounded up to a power of two (at least 16, the smallest tile
# `tl.dot` accepts):

# %%
show_source(triton_flash.triton_flash_attention, "kernel = _kernel()", "PRECISION=")

# %% [markdown]
# The tile sizes must be powers of two, at least 16; the package says so before Triton is ever involved:

# %% tags=["raises-exception"]
triton_flash.triton_flash_attention(*(torch.randn(1, 1, 32, 16) for _ in range(3)), block_m=24)

# %% [markdown]
# ### Running it
#
# On a GPU the kernel is compiled on its first call (a few seconds), then runs from the cache. Without one, it runs
# in the interpreter, one program after another in NumPy, so we keep the sizes tiny: $B = 1$, $H = 2$, $L \le 64$,
# tiles of 16. We compare with PyTorch's SDPA computed in float64 from the same inputs (the exact answer, to
# float64's rounding), for float32 and float16 inputs, causal and not,
# with $L \ne S$ and a head width that is not a power of two. Which machine ran it, and how fast, differs between
# machines (and without Triton nothing runs), so the cell is not compared; its asserts must pass wherever it runs.
#
# What tolerance is honest? In float32 the kernel sums the same products in another order: about $10^{-6}$. In
# float16 the inputs, the weights `p` and the output are each rounded to 11 significant bits; for outputs of size
# about 1 that is an error of order $10^{-3}$:

# %%
eps16 = torch.finfo(torch.float16).eps
print(f"float16: 11 significant bits, spacing of numbers near 1 = {eps16:.2e}, largest rounding error near 1 = {eps16 / 2:.2e}")
print(f"float32: spacing of numbers near 1 = {torch.finfo(torch.float32).eps:.2e}")
print("float16 exp overflows without the max trick:", torch.exp(torch.tensor([11.0, 12.0], dtype=torch.float16)))

# %% [markdown]
# The last line is why the running maximum is not optional in a float16 kernel: a score of 12 already gives
# infinity. (Our kernel keeps the scores in float32, but the principle stands: subtract the maximum before `exp`.)
# We allow $2 \cdot 10^{-5}$ for float32 and $3 \cdot 10^{-3}$ for float16, as the package's tests do. One trap on
# a GPU: `tl.dot` multiplies float32 inputs in TF32 by default (11 significant bits, like float16), which would need a
# tolerance near $10^{-2}$. That is why the launcher passes `PRECISION="ieee"` for float32 inputs: true float32
# products, slower but exact to rounding (for float16 inputs the setting changes nothing).

# %% tags=["nbval-ignore-output"]
RUN_KERNEL = triton_flash.triton_available() and (DEVICE.type == "cuda" or triton_flash.interpreting())
if not triton_flash.triton_available():
    print("Triton is not installed, so the kernel cannot run here. Install it with `pip install triton` (wheels exist "
          "for Linux on x86-64); on a CPU the notebook then runs the kernel in Triton's interpreter.")
elif not RUN_KERNEL:
    print("No CUDA and TRITON_INTERPRET is not 1: restart the kernel and run the set-up cell first, so that the "
          "interpreter is switched on before anything imports Triton.")
else:
    where = "compiled, on " + torch.cuda.get_device_name() if DEVICE.type == "cuda" else "in Triton's interpreter, on the CPU"
    print(f"running the Triton kernel {where}")
    tolerance = {torch.float32: 2e-5, torch.float16: 3e-3}  # float32 runs with input_precision="ieee", not TF32
    g = torch.Generator(device=DEVICE).manual_seed(6)
    for dtype in (torch.float32, torch.float16):
        for causal in (False, True):
            for L, S, D in ((L_tri, L_tri, D_tri), (50, 37, 24)):
                q, k, v = (torch.randn(B_tri, H_tri, n, D, generator=g, device=DEVICE).to(dtype) for n in (L, S, S))
                out = triton_flash.triton_flash_attention(q, k, v, is_causal=causal, block_m=16, block_n=16)
                reference = F.scaled_dot_product_attention(q.double(), k.double(), v.double(), is_causal=causal)
                error = (out.double() - reference).abs().max().item()
                storage = (reference.to(dtype).double() - reference).abs().max().item()  # rounding the exact answer
                assert out.dtype == dtype and out.shape == reference.shape
                torch.testing.assert_close(out.double(), reference, atol=tolerance[dtype], rtol=tolerance[dtype])
                print(f"{str(dtype):13} causal {causal!s:5} L = {L}, S = {S}, D = {D}: largest error {error:.1e} "
                      f"(storing the exact answer in this dtype alone: {storage:.1e})")
    seconds = best_time(lambda: triton_flash.triton_flash_attention(q, k, v, block_m=16, block_n=16), repeats=3,
                        device=DEVICE)
    print(f"one call at the last shape: {1000 * seconds:.1f} ms"
          + ("" if DEVICE.type == "cuda" else " (the interpreter's time says nothing about GPU speed)"))

# %% [markdown]
# In both dtypes the cell prints two numbers per case: the kernel's largest error against the float64 answer, and the
# error of merely storing that exact answer in the kernel's dtype, the best any output in that dtype can do. Expect
# them to be of the same order in float16 (the kernel loses little beyond the unavoidable rounding) and the kernel's
# error to be larger in float32 (its float32 sums round too); the asserts allow $3 \cdot 10^{-3}$ and $2 \cdot 10^{-5}$.
# The same program, unchanged, is what runs on a GPU; how fast it runs there is the subject of the
# next section.
#
# ## 7. Recorded GPU results (optional)
#
# `benchmarks/flash_gpu.py` times the Triton kernel on a CUDA GPU against PyTorch's own FlashAttention backend
# (`SDPBackend.FLASH_ATTENTION`) and naive attention, in float16 with 4 sequences of 32 heads, head widths 64 and
# 128, $L$ from 1024 to 16384, causal and not, and writes `benchmarks/results/<gpu-name>.json`. The speed is reported
# in TFLOP/s: the $4 B H L S D$ FLOPs of the two matrix products (halved when causal, since half the scores are
# skipped) divided by the time, computed by `attn_course.bench.attention_flops` and `tflops`:

# %%
flops_example = attention_flops(4, 32, 4096, 4096, 64)
print(f"B = 4, H = 32, L = S = 4096, D = 64: {flops_example / 1e12:.2f} TFLOP per call "
      f"({attention_flops(4, 32, 4096, 4096, 64, causal=True) / 1e12:.2f} when causal)")
print(f"a call taking 3 ms would run at {tflops(flops_example, 3e-3):.0f} TFLOP/s")

# %% [markdown]
# What to expect, from published figures (not measured here): the FlashAttention-3 paper (Shah et al. 2024) reports
# FlashAttention-2 reaching about 35% of an H100's peak, and FlashAttention-3, which uses
# Hopper-only features, up to 740 TFLOP/s in float16. Against the datasheet peak:

# %%
print(f"H100 SXM datasheet peak, dense float16: {PEAK_FLOPS / 1e12:.0f} TFLOP/s")
tiles = inspect.signature(triton_flash.triton_flash_attention).parameters
print(f"our kernel's default tiles: block_m = {tiles['block_m'].default}, block_n = {tiles['block_n'].default}")
print(f"35% of it (FlashAttention-2, as reported): {0.35 * PEAK_FLOPS / 1e12:.0f} TFLOP/s;  "
      f"740 TFLOP/s (FlashAttention-3, as reported) is {740e12 / PEAK_FLOPS:.0%} of it")

# %% [markdown]
# Our kernel is the plain algorithm: fixed $64 \times 64$ tiles, no tuning of how many warps or pipeline stages each
# program uses, no special path for the tiles that need no mask. A **warp** is NVIDIA's unit of execution: 32
# threads that run the same instruction together on one streaming multiprocessor; Triton runs each program with a
# few warps (`num_warps`, 4 by default), and more warps split a tile's work further. **Pipeline stages**
# (`num_stages`) are how many key and value tiles a program loads ahead into on-chip memory while it computes on the
# current one, so that the copy from main memory overlaps the arithmetic instead of waiting for it. Tuned kernels,
# such as Triton's fused-attention tutorial, try several settings of both per GPU and keep the fastest. The course's
# goals for it on an H100 are at least 200 TFLOP/s in float16 at $L \ge 4096$, and causal attention about twice as
# fast in time as non-causal (the same TFLOP/s on half the work). Those are goals, not results: the cell below shows
# what has been measured, with the GPU named, if anything has.

# %%
# The repository's benchmarks/ folder sits next to the attn_course package when it is installed from a clone with
# `pip install -e .`, as the README says (notebook 11 finds it the same way).
RESULTS_FOLDER = Path(attn_course.__file__).resolve().parent.parent / "benchmarks" / "results"


def load_gpu_results(folder=RESULTS_FOLDER):
    """Every JSON file written by benchmarks/flash_gpu.py into `folder` (none if the folder does not exist)."""
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))] if folder.is_dir() else []


def plot_gpu_results(result):
    """TFLOP/s against L for the Triton kernel, PyTorch's flash backend and naive attention, one panel per D."""
    widths = sorted({row["D"] for row in result["rows"]})
    fig, axes = plt.subplots(1, len(widths), figsize=(6 * len(widths), 4.4), squeeze=False)
    for ax, D in zip(axes[0], widths):
        for causal, style in ((False, "-"), (True, "--")):
            rows = sorted((r for r in result["rows"] if r["D"] == D and r["causal"] == causal), key=lambda r: r["L"])
            for key, name, colour in (("tflops_triton", "Triton kernel", "C0"), ("tflops_sdpa_flash", "SDPA flash", "C1"),
                                      ("tflops_naive", "naive", "C2")):
                points = [(r["L"], r[key]) for r in rows if r[key] is not None]
                if points:
                    ax.plot(*zip(*points), style, marker="o", color=colour,
                            label=f"{name}, {'causal' if causal else 'not causal'}")
        if "H100" in result["gpu"]:
            ax.axhline(200, color="k", ls=":", label="goal: 200 TFLOP/s")
        ax.set_xscale("log", base=2)
        ax.set_ylim(bottom=0)
        ax.set_xlabel("sequence length L = S")
        ax.set_ylabel("TFLOP/s (float16)")
        ax.set_title(f"{result['gpu']}: B = {result['batch']}, H = {result['heads']}, D = {D}")
        ax.legend(fontsize=8)
    fig.tight_layout()
    plt.show()


def goal_report(result):
    """The course's goals, checked against one recorded result."""
    for D in sorted({row["D"] for row in result["rows"]}):
        rows = [r for r in result["rows"] if r["D"] == D]
        long = [r["tflops_triton"] for r in rows if not r["causal"] and r["L"] >= 4096]
        ms = {r["causal"]: r["ms_triton"] for r in rows if r["L"] == max(x["L"] for x in rows)}
        print(f"D = {D}: Triton at L >= 4096, not causal: at least {min(long):.0f} TFLOP/s "
              f"({'meets' if min(long) >= 200 else 'misses'} the 200 TFLOP/s goal, which is set for an H100); "
              f"causal speed-up in time at L = {max(r['L'] for r in rows)}: {ms[False] / ms[True]:.2f}x")


# %% tags=["nbval-ignore-output"]
gpu_results = load_gpu_results()
if not gpu_results and not RESULTS_FOLDER.parent.is_dir():
    print("The benchmarks/ folder is not next to the attn_course package: it was installed from somewhere other than "
          "a clone of the repository. Clone it and install with `pip install -e .` (README) to see recorded results.")
elif not gpu_results:
    print("No GPU results are recorded yet: benchmarks/results/ holds no JSON file. On a machine with a CUDA GPU and "
          "Triton, run `python benchmarks/flash_gpu.py` from the repository's root (a few minutes); it writes "
          "benchmarks/results/<gpu-name>.json, and this cell then plots it.")
for result in gpu_results:
    print(f"{result['gpu']}: torch {result['torch']}, triton {result['triton']}, {result['dtype']}")
    goal_report(result)
    plot_gpu_results(result)

# %% [markdown]
# When results are there, read them like this: each panel is one head width; solid lines are non-causal, dashed
# causal; the Triton kernel (blue) should rise with $L$ (longer loops amortise each program's start and end) and
# level off; PyTorch's flash backend (orange) is the bar to reach; naive attention (green) stays far below and stops
# where its score matrix no longer fits. If you have a GPU, this cell measures one point of that table live:

# %% tags=["nbval-ignore-output"]
if DEVICE.type == "cuda" and RUN_KERNEL:
    qg, kg, vg = (torch.randn(4, 32, 4096, 64, device=DEVICE, dtype=torch.float16) for _ in range(3))
    for causal in (False, True):
        seconds = best_time(lambda causal=causal: triton_flash.triton_flash_attention(qg, kg, vg, is_causal=causal),
                            repeats=10, warmup=3, device=DEVICE)
        rate = tflops(attention_flops(4, 32, 4096, 4096, 64, causal=causal), seconds)
        print(f"{torch.cuda.get_device_name()}, float16, B = 4, H = 32, L = 4096, D = 64, causal {causal!s:5}: "
              f"{1000 * seconds:.2f} ms, {rate:.0f} TFLOP/s")
else:
    print("no CUDA GPU with Triton here: nothing to measure (the interpreter's speed says nothing about a GPU's)")

# %% [markdown]
# ## 8. Appendix: where flash's unpredicted memory goes (optional)
#
# The MB by which flash's measured memory in section 5 exceeds its prediction belong to glibc's C allocator
# (`malloc`), not to the algorithm. The prediction counts only the tensors our code holds. Inside one call the loop
# allocates and frees a fresh tile of scores (0.52 MB, printed in section 5) for every (query tile, key tile) pair.
# glibc serves the first tile with `mmap`, memory of its own that goes back to the system when freed; but freeing it
# raises glibc's dynamic mmap threshold above that size, so later tiles come from the heap, and heap memory freed
# there stays resident for reuse (the "measured - predicted" line of section 5 shows how much). Fixing the threshold
# removes it: with the environment variable `MALLOC_MMAP_THRESHOLD_=65536` every tile is `mmap`-ed and returned, and
# in fresh processes the readings at $L = 4096$ were 3.38, 3.37 and 3.24 MB against the 3.41 MB predicted (measured
# by the course's reviewer on Linux; this notebook does not run it). PyTorch's fused SDPA needs little more than its
# output (compare section 5's SDPA column with the output sizes printed there): its C++ kernel keeps each
# thread's tile in one buffer for the whole call. (The dotted orange line of the memory plot is our loop's estimate,
# not SDPA's.)
#
# ## Exercises
#
# How the exercises work (a stub to complete, a check cell that names common mistakes, `check.hint("name")`
# for one hint at a time, a hidden solution) is explained once, in [00 · Welcome](00_welcome.ipynb).
#
# ### Exercise 1: online softmax for any array
#
# Section 2's `online_softmax_row` handles one row. Write `my_online_softmax(x, block_size)` for a NumPy array `x` of
# any shape `(..., n)`: the softmax over the last axis, reading the last axis `block_size` numbers at a time, with a
# running maximum and a running sum of shape `(..., 1)` (use `keepdims=True`). The checker uses values near 800, so
# the maximum must be subtracted, and lengths that the block size does not divide.

# %% tags=["exercise"] keep_output=false
def my_online_softmax(x, block_size):
    """Softmax over the last axis of x (..., n), reading it in blocks; returns an array shaped like x."""
    raise NotImplementedError("your code here")


# %% tags=["check"] keep_output=false
check.online_softmax(my_online_softmax)

# %% tags=["solution"] jupyter={"source_hidden": true}
def my_online_softmax(x, block_size):
    m = np.full(x.shape[:-1] + (1,), -np.inf)  # (..., 1) running maximum
    total = np.zeros(x.shape[:-1] + (1,))  # (..., 1) running sum of exp(x - m)
    for start in range(0, x.shape[-1], block_size):  # the last block may be shorter
        block = x[..., start:start + block_size]  # (..., b)
        m_new = np.maximum(m, block.max(axis=-1, keepdims=True))
        total = total * np.exp(m - m_new) + np.exp(block - m_new).sum(axis=-1, keepdims=True)  # rescale, then add
        m = m_new
    return np.exp(x - m) / total  # divide once, at the end


# %% tags=["solution"]
# record=False: the course's own solution does not count in your progress (see attn_course.progress()).
check.online_softmax(my_online_softmax, record=False)

# %% [markdown]
# The hints, one at a time, for the exercise you just finished (each call shows the next; after the last one the
# checker points to the solution):

# %%
check.hint("online_softmax")

# %% [markdown]
# ### Exercise 2: one step of the flash loop
#
# Write the body of the inner loop of section 3 for one tile of keys, for 2-D tensors: `q` is `(L, D)` (all the
# queries, unscaled), `k_tile` is `(b, D)`, `v_tile` is `(b, Dv)`, and the running `m`, `l` are `(L, 1)` and `acc` is
# `(L, Dv)`. Scale the scores by $1/\sqrt{D}$ inside the step, and return the updated `(m_new, l_new, acc_new)`. The
# checker starts from $m = -\infty$, $\ell = 0$, $a = 0$, runs your step over every key tile, and compares
# `acc / l` with softmax attention.

# %% tags=["exercise"] keep_output=false
def my_flash_step(q, k_tile, v_tile, m, l, acc):
    """One key tile of the flash loop: q (L, D), k_tile (b, D), v_tile (b, Dv), m and l (L, 1), acc (L, Dv).

    Returns (m_new, l_new, acc_new), shaped like (m, l, acc).
    """
    raise NotImplementedError("your code here")


# %% tags=["check"] keep_output=false
check.flash_step(my_flash_step)

# %% tags=["solution"] jupyter={"source_hidden": true}
def my_flash_step(q, k_tile, v_tile, m, l, acc):
    scores = q @ k_tile.T / math.sqrt(q.shape[-1])  # (L, D) @ (D, b) -> (L, b)
    m_new = torch.maximum(m, scores.amax(dim=-1, keepdim=True))  # (L, 1)
    alpha = torch.exp(m - m_new)  # (L, 1): rescale what was summed under the old maximum
    p = torch.exp(scores - m_new)  # (L, b)
    return m_new, alpha * l + p.sum(dim=-1, keepdim=True), alpha * acc + p @ v_tile  # (L, b) @ (b, Dv) -> (L, Dv)


# %% tags=["solution"]
# record=False: the course's own solution does not count in your progress (see attn_course.progress()).
check.flash_step(my_flash_step, record=False)

# %% [markdown]
# ## Summary
#
# You can now
# - explain why naive attention is limited by traffic: four trips of the $(L, S)$ matrix through main memory, about
#   9 times the time of the arithmetic on an H100 by its datasheet, and $L^2$ memory;
# - derive the online softmax (running maximum, running sum, rescale by $e^{m_\text{old} - m_\text{new}}$), use
#   `attn_course.flash.online_softmax`, and read $m + \log \ell$ as the row's log-sum-exp;
# - carry the weighted sum of values the same way, divide once at the end, and merge partial results with their
#   log-sum-exps;
# - write FlashAttention with FlashAttention-2's loop order (query tiles outside, key tiles inside), check it against
#   SDPA within $10^{-5}$ in float32, and skip the key tiles above a causal diagonal (`attn_course.flash.flash_attention`);
# - measure memory that grows as $L$ instead of $L^2$ at inference, and explain why autograd brings $L^2$ back and
#   how a real kernel avoids it: it saves $O$ and the log-sum-exp, recomputes the tiles in its backward pass, and
#   regenerates the dropout mask from the random generator's state;
# - read a Triton kernel: a grid of programs, masked tile loads with strides, `tl.dot`, `exp2` with $\log_2 e$ folded
#   into the scale, one store; and run it with `attn_course.triton_flash.triton_flash_attention`, on a GPU or in the
#   interpreter.
#
# ## Common pitfalls
# - **Forgetting the rescale.** When the maximum rises, both $\ell$ and the accumulator must be multiplied by
#   $e^{m_\text{old} - m_\text{new}}$. Forget it and the answer is wrong only when a later tile raises the maximum,
#   which a test with random inputs may miss; test with rising values.
# - **Dividing too early.** Normalising each tile on its own and averaging gives the wrong weights; divide by $\ell$
#   once at the end, or merge parts with their log-sum-exps.
# - **Dropping the ragged tile.** `range(0, L - L % b, b)` silently loses the last keys or queries; `range(0, L, b)`
#   with slicing keeps them.
# - **Padding without a mask.** A zero-padded key scores 0, not $-\infty$, and takes weight; mask padded keys to
#   $-\infty$ before the softmax, and never store padded rows.
# - **Float16 without the max.** $e^{12}$ already overflows float16; keep the running maximum and the sums in float32.
# - **Timing a GPU without synchronising.** Kernel launches return at once; use `best_time(..., device=...)`,
#   `median_time` or `triton.testing.do_bench`, which wait for the GPU.
# - **Float32 on tensor cores is not float32.** `tl.dot` (and PyTorch with TF32 allowed) rounds float32 inputs to
#   TF32 unless asked for `input_precision="ieee"`, as our launcher does; compare TF32 results with float16-like
#   tolerances.
# - **Causal alignment when $L \ne S$.** PyTorch and this course align the causal mask top-left (query $i$ sees keys
#   $j \le i$); the `flash_attn` library aligns it bottom-right, for decoding with a cache (notebook 04). Check which
#   one a kernel uses before comparing.
#
# ## Further reading
# - M. Milakov, N. Gimelshein, [*Online normalizer calculation for softmax*](https://arxiv.org/abs/1805.02867)
#   (2018): the running maximum and rescaled sum, in one pass.
# - M. Rabe, C. Staats, [*Self-attention Does Not Need O(n²) Memory*](https://arxiv.org/abs/2112.05682) (2021): the
#   same idea applied to attention, with memory measurements on TPUs.
# - T. Dao, D. Fu, S. Ermon, A. Rudra, C. Ré, [*FlashAttention: Fast and Memory-Efficient Exact Attention with
#   IO-Awareness*](https://arxiv.org/abs/2205.14135) (2022): tiling, recomputation in the backward pass, and the
#   count of memory traffic.
# - T. Dao, [*FlashAttention-2: Faster Attention with Better Parallelism and Work
#   Partitioning*](https://arxiv.org/abs/2307.08691) (2023): query tiles outside, fewer non-matmul FLOPs, one
#   program per query tile.
# - T. Dao, D. Haziza, F. Massa, G. Sizov, [*Flash-Decoding for long-context
#   inference*](https://crfm.stanford.edu/2023/10/12/flashdecoding.html) (2023, blog post): split the keys among
#   programs, then merge the parts with their log-sum-exps.
# - H. Liu, M. Zaharia, P. Abbeel, [*Ring Attention with Blockwise Transformers for Near-Infinite
#   Context*](https://arxiv.org/abs/2310.01889) (2023): the same merge across devices that each hold part of the keys.
# - J. Shah, G. Bikshandi, Y. Zhang, V. Thakkar, P. Ramani, T. Dao, [*FlashAttention-3: Fast and Accurate Attention
#   with Asynchrony and Low-precision*](https://arxiv.org/abs/2407.08608) (2024): Hopper's asynchronous copies and
#   tensor cores, FP8.
# - P. Tillet, H. T. Kung, D. Cox, [*Triton: An Intermediate Language and Compiler for Tiled Neural Network
#   Computations*](https://www.eecs.harvard.edu/~htk/publication/2019-mapl-tillet-kung-cox.pdf) (MAPL 2019): the
#   idea of programming GPUs tile by tile.
# - Triton, [*Fused Attention* tutorial](https://triton-lang.org/main/getting-started/tutorials/06-fused-attention.html):
#   a tuned FlashAttention-2 kernel, forward and backward, in Triton; and the
#   [Triton documentation](https://triton-lang.org/main/index.html) for `tl.load`, `tl.dot` and the interpreter.
# - PyTorch, [`torch.nn.functional.scaled_dot_product_attention`](https://pytorch.org/docs/stable/generated/torch.nn.functional.scaled_dot_product_attention.html)
#   and [`torch.nn.attention.sdpa_kernel`](https://pytorch.org/docs/stable/generated/torch.nn.attention.sdpa_kernel.html):
#   the fused kernels PyTorch picks from, FlashAttention among them.
