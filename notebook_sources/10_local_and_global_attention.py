# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 10 · Long sequences: local and global attention
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/attn-course/attention-step-by-step/blob/main/notebooks/10_local_and_global_attention.ipynb)
#
# Every query of dense attention scores every key, so a sequence twice as long costs four times the work and, if the
# scores are stored, four times the memory. At a few hundred tokens nobody notices; at a book, a code base or an
# hour of audio, the score matrix alone no longer fits in any machine. Yet in many layers of trained models a token
# spends most of its attention on nearby tokens. **Local attention** builds that into the architecture: each token
# attends only to a window of nearby tokens, so the cost grows with $L$ instead of $L^2$, and stacking layers
# lets information still travel far. What a window cannot do is connect two distant tokens in one step, and a few
# **global tokens**, which see and are seen by everyone, repair exactly that. This notebook draws the patterns,
# derives an implementation that computes only the band of the score matrix, measures it against dense attention,
# and trains a tiny model on a task that a window alone cannot solve.
#
# **Learning goals.** After this notebook you can
# - **compute** what a dense score matrix costs in bytes and FLOPs at long lengths, and at what length it outgrows
#   the projections and the MLP, the rest of the layer;
# - **build** sliding-window, dilated, global-token and block-sparse masks, and **predict** how far information
#   travels through a stack of local layers;
# - **derive** a blockwise implementation that computes only the band, and **check** it against dense masked
#   attention;
# - **measure** time and memory against $L$ for dense attention, dense attention with a band mask, and the band
#   implementation, and explain why the band mask alone saves nothing;
# - **recognise** a task that local attention cannot solve, and fix it with a global token.
#
# **Prerequisites.** [04 · Scaled dot-product attention and masks](04_scaled_dot_product_attention_and_masks.ipynb)
# (boolean masks, True = may attend; the $L \cdot S$ cost) and [07 · Multi-head attention](07_multi_head_attention.ipynb)
# (the `MultiHeadAttention` module, whose heads its section 6 sets by hand). Notebook 08 (the transformer block)
# helps for section 3, which stacks layers.
#
# **Time.** About 50 minutes of study (the notebook runs in about half a minute on a laptop CPU).

# %%
# Only in Google Colab: install the course's helper package, attn_course, from GitHub. --no-deps keeps
# Colab's own torch, NumPy and matplotlib as they are. Anywhere else (your laptop, Binder, CI) this does nothing.
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "attn_course @ git+https://github.com/attn-course/attention-step-by-step"], check=True)

# %%
import math

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.patches import Rectangle
from torch import nn

from attn_course import causal_mask, device, scaled_dot_product_attention, set_seed, softmax
from attn_course.bench import best_times, peak_memory_mb
from attn_course.exercises import local as check
from attn_course.local import local_global_attention, sliding_window_attention
from attn_course.masks import block_sparse_mask, dilated_window_mask, sliding_window_mask, with_global_tokens
from attn_course.multihead import MultiHeadAttention
from attn_course.plotting import plot_mask

set_seed(0)
torch.set_num_threads(1)  # the same summation order on every machine, so stored outputs match
torch.set_printoptions(precision=4, sci_mode=False)
np.set_printoptions(precision=4, suppress=True)
DEVICE = device()

# %% [markdown]
# Everything here runs on the CPU, on one thread (set above), so that the timings of section 5 compare methods
# rather than thread counts; notebook 11 moves attention to a GPU.
#
# ## 1. Why long inputs hurt (core)
#
# Take a document of 100,000 tokens: a long report, a novel, a mid-sized code base. One attention layer scores every
# pair of tokens, in every head. Let us count for a layer the size of Llama-2-7B's: $H = 32$ heads of width $D = 128$,
# so $E = H \cdot D = 4096$, scores in float32 (4 bytes each).
#
# - **Memory.** One layer's scores are $H \cdot L^2$ numbers, $4 H L^2$ bytes, if they are stored (as the code of
#   notebook 04 stores them).
# - **Compute.** Per head, $QK^\top$ is $L \cdot L \cdot D$ multiply-adds and weights $\cdot V$ another $L \cdot L
#   \cdot D$. A multiply-add is 2 floating-point operations (FLOPs), so all heads together cost $4 L^2 E$ FLOPs.
#
# For scale, the rest of the layer is linear in $L$. The four projections ($W_q, W_k, W_v, W_o$, each $E \to E$) cost
# $4 \cdot 2 L E^2 = 8 L E^2$ FLOPs. The MLP that follows attention in a transformer block (notebook 08) widens each
# token to $4E$ and narrows it back, two products of $2 \cdot L \cdot E \cdot 4E$ FLOPs each: $16 L E^2$. The ratios
# say when attention takes over: $4L^2E / 8LE^2 = L / (2E)$ against the projections, so beyond $L = 2E$ tokens, and
# $4L^2E / 24LE^2 = L / (6E)$ against projections and MLP together, so beyond $L = 6E$.

# %%
H_big, D_big = 32, 128  # a Llama-2-7B-sized layer
E_big = H_big * D_big  # 4096


def human_bytes(n):
    """A byte count with a binary unit, three significant digits."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.3g} {unit}"
        n /= 1024


print(f"{'L':>8} {'scores (float32)':>17} {'attention':>15} {'projections':>15} {'MLP':>15} "
      f"{'attention / projections':>24} {'attention / (proj. + MLP)':>26}")
for L in [1024 * 2**p for p in range(8)]:  # 1k ... 128k tokens
    score_bytes = 4 * H_big * L * L  # (H, L, L) float32
    attn_flops = 4 * L * L * E_big  # QKᵀ and weights·V, all heads
    proj_flops = 8 * L * E_big**2  # four (L, E) @ (E, E) projections
    mlp_flops = 2 * (2 * L * E_big * 4 * E_big)  # (L, E) @ (E, 4E), then (L, 4E) @ (4E, E)
    print(f"{L:>8,} {human_bytes(score_bytes):>17} {attn_flops / 1e12:>9.3g} TFLOP {proj_flops / 1e12:>9.3g} TFLOP "
          f"{mlp_flops / 1e12:>9.3g} TFLOP {attn_flops / proj_flops:>24.3g} {attn_flops / (proj_flops + mlp_flops):>26.3g}")
print(f"\nattention overtakes the projections at L = 2E = {2 * E_big:,}, projections and MLP together at "
      f"L = 6E = {6 * E_big:,}")
print(f"(Llama-2-7B's own MLP is gated, three E x 11008 matrices: {3 * 2 * 11008 / E_big:.1f}·L·E² FLOPs "
      f"instead of 16·L·E²)")
doc = 100_000
print(f"a 100,000-token document: {human_bytes(4 * H_big * doc * doc)} of scores for ONE layer "
      f"({4 * H_big * doc * doc / (8 * 80e9):.1f} times the memory of eight 80 GB GPUs), "
      f"{4 * doc * doc * E_big / 1e12:.0f} TFLOP of attention per layer")

# %% [markdown]
# Every doubling of $L$ multiplies the score matrix by 4. At 8192 tokens it is already 8 GiB per layer, and at
# 100,000 tokens it is over a tebibyte, twice what a server of eight 80 GB GPUs holds. The memory problem has an
# exact fix that keeps dense attention: never store the matrix, compute it tile by tile (FlashAttention, notebook 12).
# The compute problem has no such fix. In the last two columns, attention costs 1/8 of what the projections cost at
# 1k tokens, as much at 8k, and 16 times as much at 128k; against the whole rest of the layer, projections and MLP,
# it costs 1/24 at 1k tokens, catches up at $L = 6E$ (between 16k and 32k tokens here) and costs over 5 times as much
# at 128k. To spend less compute, attention itself must score fewer pairs.
#
# Which pairs can we drop? Look at what trained models do. Child et al. (2019) drew the attention of a 128-layer
# transformer trained on images: many layers learned local patterns that look like convolutions, some learned
# row-and-column patterns, and a few attended globally, depending on the input. Longformer (Beltagy et al. 2020)
# makes the same bet for text: most of what a word needs is nearby, and a few tokens (a `[CLS]` token for
# classification, the question in question answering) matter everywhere. That suggests two ingredients: a
# **window** of neighbours for every token, and a handful of **global** tokens connected to everything.
#
# ## 2. Patterns as masks (core)
#
# In the course's convention (notebook 04) a mask is a boolean $(L, L)$ matrix, True where query $i$ may attend to
# key $j$. A local pattern depends only on the distance between the two tokens, so it is built from the offset
# matrix $i - j$. Here it is for $L = 8$:

# %%
L8 = 8
offset = torch.arange(L8)[:, None] - torch.arange(L8)[None, :]  # (L, 1) - (1, L) -> (L, L): offset[i, j] = i - j
print(offset)

# %% [markdown]
# A **sliding window** of $w$ lets token $i$ see every $j$ with $|i - j| \le w$: itself and $w$ neighbours on each
# side, $2w + 1$ keys, a band around the diagonal. A **causal** window (for a language model, which must not see the
# future) also requires $j \le i$: itself and the $w$ tokens before it, $w + 1$ keys. `sliding_window_mask` builds
# both (printed as 0/1 to fit):

# %%
print("window 2:\n", sliding_window_mask(L8, 2).int())
print("causal window 2:\n", sliding_window_mask(L8, 2, causal=True).int())

# %% [markdown]
# Row 4 of the first mask has ones at keys 2–6: $|4 - j| \le 2$. Row 0 has only three ones, because there is nothing
# to its left; edge tokens see fewer keys.
#
# A **dilated** window (Longformer) keeps the same number of keys but spreads them out: token $i$ sees $i + k\delta$
# for $|k| \le w$, with a dilation $\delta$. In offsets: $|i - j| \le w\delta$ and $i - j$ divisible by $\delta$. We
# write that rule directly and check it against the package's `dilated_window_mask`.

# %%
def my_dilated_mask(L, window, dilation):
    offset = torch.arange(L)[:, None] - torch.arange(L)[None, :]  # (L, L): i - j
    return (offset.abs() <= window * dilation) & (offset % dilation == 0)  # as far as w·δ, every δ-th token


dilated = my_dilated_mask(L8, 2, 2)
print(dilated.int())
print("equals dilated_window_mask(8, 2, 2):", torch.equal(dilated, dilated_window_mask(L8, 2, 2)))

# %% [markdown]
# A **global token** is the opposite of local: it attends to every key, and every query attends to it, so its
# whole row and its whole column are True. `with_global_tokens(mask, positions)` adds them to any mask. In a causal
# model the future stays forbidden (`causal=True`), so a global token at position 0 can be read by everyone but
# itself reads only position 0: it is an anchor that every later token can reach, not a summary of the whole text.

# %%
local_1 = sliding_window_mask(L8, 1)
print("window 1 + global token 0:\n", with_global_tokens(local_1, [0]).int())
print("causal window 1 + global token 0:\n", with_global_tokens(sliding_window_mask(L8, 1, causal=True), [0], causal=True).int())

# %% [markdown]
# The same patterns at $L = 32$, as pictures. BigBird (Zaheer et al. 2020) adds a third ingredient, a few **random**
# keys per query, and works with blocks of tokens instead of single tokens, because hardware multiplies dense tiles
# much faster than scattered entries: `block_sparse_mask` with blocks of 4 tokens lets each block see its neighbour
# blocks, the first block (global) and one random block. `plot_mask` draws a mask, dark = may attend, and puts the
# share of allowed pairs under the title.

# %%
L32 = 32
patterns = {
    "dense causal": causal_mask(L32),
    "sliding window, w = 3": sliding_window_mask(L32, 3),
    "causal sliding window, w = 3": sliding_window_mask(L32, 3, causal=True),
    "dilated, w = 3, dilation 2": dilated_window_mask(L32, 3, 2),
    "window w = 3 + global tokens 0, 16": with_global_tokens(sliding_window_mask(L32, 3), [0, 16]),
    "block-sparse (BigBird), blocks of 4": block_sparse_mask(L32, 4, window_blocks=1, global_blocks=1, random_blocks=1),
}
fig, axes = plt.subplots(2, 3, figsize=(12, 9))
for ax, (name, mask) in zip(axes.flat, patterns.items()):
    plot_mask(mask, ax=ax, title=name)
fig.suptitle(f"Attention patterns for L = {L32} tokens (dark = query i may attend to key j)")
fig.tight_layout()
plt.show()

# %% [markdown]
# The window is a band along the diagonal; the causal window keeps its lower half; the dilated window is a band with
# holes, twice as wide; global tokens add full rows and columns (a cross at 0 and 16); BigBird's pattern is made of
# $4 \times 4$ tiles: the block diagonal band, the first block's row and column, and scattered random tiles.
#
# The percentages are the share of the $L^2$ scores each pattern uses. Here they are with the number of keys per
# query, at $L = 32$ and at $L = 4096$:

# %%
def describe(mask):
    keys = mask.sum(dim=-1)  # (L,): keys each query may attend to
    return f"{mask.float().mean().item():>8.2%} {int(keys.min()):>5} {int(keys.max()):>5}"


print(f"{'pattern':<38} {'L':>5} {'allowed':>8} {'min':>5} {'max':>5}   keys per query")
for name, mask in patterns.items():
    print(f"{name:<38} {L32:>5} {describe(mask)}")
print(f"{'sliding window, w = 3':<38} {4096:>5} {describe(sliding_window_mask(4096, 3))}")
print(f"{'dense causal':<38} {4096:>5} {describe(causal_mask(4096))}")
print(f"{'block-sparse (BigBird), blocks of 64':<38} {4096:>5} {describe(block_sparse_mask(4096, 64))}")

# %% [markdown]
# A query of the window sees at most $2w + 1 = 7$ keys whatever the length, so the work per query is constant and
# the total is linear in $L$: at 4096 tokens the window keeps 0.17% of the pairs, while causal attention still keeps
# half of them, and its last query scores all 4096 keys. Each query of the dilated window also sees 7 keys, over a
# span of 13.
#
# Do not be misled by BigBird's 58% at $L = 32$, more than dense causal attention: a fixed number of blocks per
# query is a lot of a short sequence. Its cost per query is fixed too (except for the global rows, which read
# everything), so its share falls as $L$ grows: with blocks of 64 tokens at $L = 4096$ it keeps 9.1% of the pairs.
#
# ## 3. How far information travels through stacked layers (core)
#
# One local layer moves information at most $w$ positions. But a model stacks layers (notebook 08): after layer 1,
# token $k$ holds a mixture of the tokens within $w$ of it; in layer 2, token $i$ reads token $k$, which already
# carries what $k$ read. So after $n$ layers information can arrive from up to $n \cdot w$ positions away, like the
# receptive field of stacked convolutions.
#
# We can compute that exactly. Token $i$'s output after one layer depends on token $j$'s input when `mask[i, j]`. It
# depends on it after two layers when some $k$ has `mask[i, k]` and `mask[k, j]`: that is the boolean matrix
# product of the mask with itself. After $n$ layers it is the $n$-th boolean power, computed below as a float matrix
# product of 0s and 1s followed by `> 0`. (It says whether information *can* arrive; how much survives on the way
# is up to the trained weights.)

# %%
def reach(mask, layers):
    """reach[i, j]: can token j's input influence token i's output after `layers` layers with this mask?"""
    step, r = mask.float(), mask.clone()
    for _ in range(layers - 1):
        r = (r.float() @ step) > 0  # (L, L) @ (L, L): i reaches j if i reaches some k that reads j
    return r


L64, w = 64, 2
window_2 = sliding_window_mask(L64, w)
middle = L64 // 2
seen = [int(reach(window_2, n)[middle].sum()) for n in range(1, 16)]
print(f"tokens that can influence token {middle} after n = 1..15 layers of window {w}:", seen)
print("= 2·n·w + 1 for every n:", seen == [2 * n * w + 1 for n in range(1, 16)])

# %% [markdown]
# Exactly $2nw + 1$: $nw$ tokens on each side. That linear growth is slow when the window is small compared to
# the sequence: with $w = 2$ it takes 32 layers before every token of 64 can influence every other. Two ways to
# speed it up:
#
# - **Dilation** spreads the keys out, but on its own it is a trap: with dilation 4, token $i$ only ever sees tokens
#   whose distance from it is a multiple of 4, so the sequence splits into 4 interleaved groups that never exchange
#   information, however many layers we stack. Longformer therefore uses dilation in *some* heads only. Heads are
#   parallel paths for information, so a layer with a plain head and a dilated head passes information along the
#   union of their masks, `mask_a | mask_b`.
# - **Global tokens** reach everything in two layers: in layer 1 the global token reads every token, in layer 2
#   every token reads the global token.
#
# The cell below computes, for each pattern, the share of all $(i, j)$ pairs connected after $n$ layers, and the
# first $n$ at which every pair is connected.

# %%
stacks = {
    "window w = 2": window_2,
    "dilated w = 2, dilation 4 (alone)": dilated_window_mask(L64, 2, 4),
    "two heads: window w = 2 | dilated w = 2, dilation 5": window_2 | dilated_window_mask(L64, 2, 5),
    "window w = 2 + global token 0": with_global_tokens(window_2, [0]),
}
layers = list(range(1, 41))
connected = {name: [reach(m, n).float().mean().item() for n in layers] for name, m in stacks.items()}
for name, shares in connected.items():
    full = next((n for n, s in zip(layers, shares) if s == 1.0), None)
    print(f"{name:<52} 1 layer: {shares[0]:.3f}  4 layers: {shares[3]:.3f}  "
          f"all pairs after: {full if full else 'never (' + f'{shares[-1]:.3f} at {layers[-1]} layers)'}")

# %%
cone = torch.stack([reach(window_2, n)[middle] for n in range(1, 17)])  # (16 layers, L): what reaches token 32
fig, axes = plt.subplots(1, 2, figsize=(13, 4.4), gridspec_kw={"width_ratios": [1, 1.15]})
axes[0].imshow(cone.numpy(), cmap="Greys", aspect="auto", interpolation="nearest", extent=(-0.5, L64 - 0.5, 16.5, 0.5))
axes[0].axvline(middle, color="tab:red", lw=1)
axes[0].set_xlabel("input token j")
axes[0].set_ylabel("number of layers n")
axes[0].set_yticks([1, 4, 8, 12, 16])
axes[0].set_title(f"Inputs that can reach token {middle} (red), window w = {w}")
for (name, shares), style in zip(connected.items(), ("o-", "s-", "^-", "D-")):
    axes[1].plot(layers, shares, style, ms=3, label=name)
axes[1].set_xlabel("number of layers n")
axes[1].set_ylabel("share of (i, j) pairs connected")
axes[1].set_title(f"How fast stacked layers connect all {L64} tokens")
axes[1].set_ylim(0, 1.05)
axes[1].legend(fontsize=8, loc="center right")
fig.tight_layout()
plt.show()

# %% [markdown]
# On the left, the receptive field of the middle token is a cone that widens by $w = 2$ on each side per layer. On
# the right, the plain window (blue) needs 32 layers; dilation alone (orange) stalls at a quarter of the pairs (each
# token reaches only its own group, one of 4 groups of 16 tokens); a plain head and a dilated head together (green)
# connect everything in 8 layers; one global token (red) does it in 2.
#
# Real models use the same arithmetic. The first Mistral 7B (v0.1; Jiang et al. 2023) gives each of its 32 layers a
# causal window of 4096 tokens, so in principle the last layer can draw on information from about
# $32 \times 4096 = 131{,}072$ tokens back (the paper's own figure), while no layer scores more than 4096 keys per
# query. Later Mistral releases (v0.2 onward) dropped the window for full attention over a 32k-token context
# (`"sliding_window": null` in their configurations). Gemma 2 (Gemma Team 2024) mixes the two kinds of layer
# instead: every other layer is local, with a 4096-token window, and the rest attend globally over the whole
# 8192-token context; Gemma 3 (Gemma Team 2025) has five local layers, with a 1024-token window, per global one. The
# global layers connect any two tokens in one step; the local ones keep most layers' cost linear in $L$.
#
# ## 4. Computing only the band (core)
#
# A mask says *which* scores to ignore; it does not make them cheaper. Dense attention with a window mask still
# computes all $L^2$ scores, then overwrites most of them with $-\infty$. To save work, we must not compute them in
# the first place.
#
# **The idea.** Row $i$ of a window mask is one contiguous run of keys, $[i - w, i + w]$. Computing each row on its
# own would waste nothing, but it is $L$ tiny matrix products, and the overhead of each call would dominate. So take
# the queries in blocks of $b$. Block $[i_0, i_1)$ needs the keys from $i_0 - w$ up to $(i_1 - 1) + w$, that is
# $[i_0 - w,\ i_1 + w)$, clipped to $[0, L)$. That is one dense $(b, D) \times (D, b + 2w)$ product per block: a
# rectangular tile of the score matrix that covers the band's rows $i_0 \dots i_1 - 1$. A causal window needs only
# $[i_0 - w,\ i_1)$. The tile still holds a few pairs outside the band (its two corners), which we mask with $-\infty$.
#
# Here is one block by hand: $L = 10$, $w = 2$, blocks of $b = 4$; the second block holds queries 4–7.

# %%
L10, w10, b10 = 10, 2, 4
i0, i1 = 4, 8  # the second block of queries
j0, j1 = max(0, i0 - w10), min(L10, i1 + w10)  # the keys this block can reach: [2, 10)
tile_offset = torch.arange(i0, i1)[:, None] - torch.arange(j0, j1)[None, :]  # (b, j1 - j0): i - j
print(f"queries [{i0}, {i1}) need keys [{j0}, {j1}): a ({i1 - i0}, {j1 - j0}) tile instead of ({i1 - i0}, {L10}) rows")
print(tile_offset.abs() <= w10)
same = torch.equal(tile_offset.abs() <= w10, sliding_window_mask(L10, w10)[i0:i1, j0:j1])
print("equals the same part of the full mask:", same)

# %% [markdown]
# The tile is $4 \times 8$, and 20 of its 32 entries are in the band; the two triangles of False are the corners.
# Over the whole matrix, the tiles cover the band like this ($L = 48$, $w = 6$, blocks of $b = 12$):

# %%
def tiles(L, window, block, causal=False):
    """The (query block, key range) tiles that blockwise local attention computes: a list of (i0, i1, j0, j1)."""
    out = []
    for i0 in range(0, L, block):
        i1 = min(i0 + block, L)
        j0, j1 = max(0, i0 - window), (i1 if causal else min(L, i1 + window))
        out.append((i0, i1, j0, j1))
    return out


L48, w48, b48 = 48, 6, 12
fig, axes = plt.subplots(1, 2, figsize=(11, 5.2))
counts = {}
for ax, causal in zip(axes, (False, True)):
    band = sliding_window_mask(L48, w48, causal=causal)
    name = f"{'causal ' if causal else ''}window w = {w48}"
    plot_mask(band, ax=ax, title=f"{name}, query blocks of b = {b48}", show_density=False)
    computed = 0
    for i0, i1, j0, j1 in tiles(L48, w48, b48, causal):
        ax.add_patch(Rectangle((j0 - 0.5, i0 - 0.5), j1 - j0, i1 - i0, facecolor="tab:orange", alpha=0.3,
                               edgecolor="tab:orange", lw=2))
        computed += (i1 - i0) * (j1 - j0)  # one (block, keys) matrix product
    counts[name] = (computed, int(band.sum()))
    ax.set_title(f"{ax.get_title()}\ncomputed {computed} scores, {int(band.sum())} in the band, dense {L48 * L48}")
fig.suptitle("Blockwise local attention computes only the orange tiles; the band (dark) lies inside them")
fig.tight_layout()
plt.show()
for name, (computed, in_band) in counts.items():
    print(f"{name:<22} tiles: {computed} scores computed, {in_band} of them in the band "
          f"({in_band / computed:.0%}); dense: {L48 * L48}")

# %% [markdown]
# Each orange rectangle is one matrix product. Together they cover the band and little else: 1008 of the 2304
# dense scores without the causal constraint, 792 with it, of which the band uses 582 and 315. The leftover (orange
# over white) is the price of multiplying dense tiles instead of single rows; smaller blocks waste less but make more
# (and smaller) matrix products.
#
# Now the general code. It loops over query blocks; each block scores its tile, masks the corners, applies softmax
# over the tile's keys only (the keys outside the tile would get weight $e^{-\infty} = 0$ anyway, so leaving them
# out changes nothing) and averages the tile's values.

# %%
def band_attention(q, k, v, window, block_size, causal=False):
    """Attention with |i - j| <= window (and j <= i if causal), one (block_size, keys) tile at a time."""
    L, D = q.shape[-2], q.shape[-1]
    out = q.new_empty(*q.shape[:-1], v.shape[-1])  # (..., L, Dv), filled block by block
    for i0, i1, j0, j1 in tiles(L, window, block_size, causal):
        offset = torch.arange(i0, i1)[:, None] - torch.arange(j0, j1)[None, :]  # (b, kw): i - j
        allowed = (offset.abs() <= window) & ((offset >= 0) if causal else True)  # (b, kw)
        scores = q[..., i0:i1, :] @ k[..., j0:j1, :].transpose(-2, -1) / math.sqrt(D)  # (..., b, D) @ (..., D, kw)
        weights = softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1)  # (..., b, kw)
        out[..., i0:i1, :] = weights @ v[..., j0:j1, :]  # (..., b, kw) @ (..., kw, Dv) -> (..., b, Dv)
    return out


# %% [markdown]
# The reference is dense attention with the window mask (notebook 04's `scaled_dot_product_attention`). We compare in
# float64, where the two ways of summing agree to about $10^{-15}$, on a length that the block size does not divide,
# with several heads and a value width different from the key width.

# %%
g = torch.Generator().manual_seed(10)
B, H, L, D, Dv = 2, 3, 50, 8, 5
q, k, v = torch.randn(B, H, L, D, generator=g, dtype=torch.float64), torch.randn(B, H, L, D, generator=g, dtype=torch.float64), \
    torch.randn(B, H, L, Dv, generator=g, dtype=torch.float64)
for window, causal in ((4, False), (4, True), (0, False), (60, True)):
    dense = scaled_dot_product_attention(q, k, v, attn_mask=sliding_window_mask(L, window, causal=causal))  # (B, H, L, Dv)
    ours = band_attention(q, k, v, window, block_size=8, causal=causal)
    package = sliding_window_attention(q, k, v, window, causal=causal, block_size=8)
    torch.testing.assert_close(ours, dense, atol=1e-12, rtol=0)
    torch.testing.assert_close(package, dense, atol=1e-12, rtol=0)
    print(f"window {window:>2}, causal {causal!s:5}: band_attention = sliding_window_attention = dense masked, "
          f"out {tuple(ours.shape)}")

# %% [markdown]
# Window 0 (each token sees only itself, so the output is its own value) and a window wider than the sequence
# (plain causal attention) are included as edge cases. The block size is a speed knob, not part of the answer: any
# size gives the same result, from one query per block to one block for everything.

# %%
reference = scaled_dot_product_attention(q, k, v, attn_mask=sliding_window_mask(L, 5, causal=True))
for block in (1, 3, 7, 16, 49, 50, 64):
    torch.testing.assert_close(band_attention(q, k, v, 5, block, causal=True), reference, atol=1e-12, rtol=0)
    for use_sdpa in (True, False):
        torch.testing.assert_close(sliding_window_attention(q, k, v, 5, causal=True, block_size=block,
                                                            use_sdpa=use_sdpa), reference, atol=1e-12, rtol=0)
print("block sizes 1, 3, 7, 16, 49, 50, 64: all equal dense masked attention")

# %% [markdown]
# `attn_course.local.sliding_window_attention(q, k, v, window, causal=..., block_size=None)` is this function with
# input checks and a default block size (half the window, clamped to 64–512: smaller blocks waste fewer scores
# outside the band, larger ones pay less per-block overhead). By default it hands each tile to PyTorch's fused
# `scaled_dot_product_attention` with the tile's small mask (`use_sdpa=True`): the same four steps in one call,
# faster on a CPU; `use_sdpa=False` runs the four steps as written above. From here on we use it.
#
# **What it saves.** Each block of $b$ queries scores at most $b + 2w$ keys, so the total is about $L(b + 2w)$
# instead of $L^2$: linear in $L$. The exact counts, with $w = 256$ and $b = 256$ (about what a long-document
# model uses):

# %%
def scores_computed(L, window, block, causal=False):
    return sum((i1 - i0) * (j1 - j0) for i0, i1, j0, j1 in tiles(L, window, block, causal))


w_long = b_long = 256
print(f"{'L':>8} {'dense L²':>15} {'band tiles':>13} {'L·(b + 2w)':>13} {'dense / band':>13}")
for L_long in [1024 * 2**p for p in range(8)]:
    band_count = scores_computed(L_long, w_long, b_long)
    print(f"{L_long:>8,} {L_long**2:>15,} {band_count:>13,} {L_long * (b_long + 2 * w_long):>13,} "
          f"{L_long**2 / band_count:>12.1f}x")

# %% [markdown]
# The tiles cost a little less than $L(b + 2w)$ because the first and last blocks are clipped at the ends of the
# sequence. At 1k tokens the saving is small (1.6×); at 128k tokens the band computes 171 times fewer scores. The
# memory shrinks even more: only one block's tile, $(b, b + 2w)$, exists at a time, instead of the whole $(L, L)$.
#
# ## 5. Measured: time and memory against $L$ (core)
#
# Counting scores is a prediction; a measurement is the test. We time three ways to get causal attention out of
# `(1, 1, L, 64)` float32 inputs, for $L$ from 512 to 8192, on one thread:
#
# - **dense causal**: PyTorch's `F.scaled_dot_product_attention(..., is_causal=True)`, full causal attention, no
#   window. For scale: it is the thing local attention replaces;
# - **dense + band mask**: PyTorch's SDPA with the $(L, L)$ causal window mask of $w = 64$ (built before the clock
#   starts);
# - **band**: `sliding_window_attention` with the same window, computing only the band.
#
# The last two give the same output (the cell checks it). Each time is the best of 7 calls after a warm-up, the three
# methods taking turns so that a busy moment on the machine slows all alike (`attn_course.bench.best_times`, which
# notebook 08 used). Memory is the rise of the process's peak resident memory during one call, after a warm-up call
# (`peak_memory_mb`, Linux only; appendix A, at the end, says why a reading after a warm-up is honest).

# %%
def extra_memory_mb(fn):
    """Peak memory rise of fn() in MB, after a warm-up call; None where it cannot be measured (not Linux)."""
    fn()  # one-time set-up is not the method's memory
    return peak_memory_mb(fn)


def methods_for(q, k, v, band_mask):
    """The three causal attentions we time, as calls without arguments (what best_times expects)."""
    return {
        "dense causal": lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True),
        "dense + band mask": lambda: F.scaled_dot_product_attention(q, k, v, attn_mask=band_mask),
        "band": lambda: sliding_window_attention(q, k, v, W_bench, causal=True),
    }


W_bench, D_bench = 64, 64
lengths = [512, 1024, 2048, 4096, 8192]
times = {"dense causal": [], "dense + band mask": [], "band": []}
memory = {name: [] for name in times}
for L_b in lengths:
    g = torch.Generator().manual_seed(L_b)
    qb, kb, vb = (torch.randn(1, 1, L_b, D_bench, generator=g) for _ in range(3))  # (B, H, L, D)
    methods = methods_for(qb, kb, vb, sliding_window_mask(L_b, W_bench, causal=True))  # the mask is built off the clock
    torch.testing.assert_close(methods["band"](), methods["dense + band mask"](), atol=1e-5, rtol=1e-4)
    for name, fn in methods.items():
        memory[name].append(extra_memory_mb(fn))  # also warms each method up
    best = best_times(methods, rounds=7, warmup=0)  # in turn, keeping the best of each (warmed up just above)
    for name in methods:
        times[name].append(best[name])
print("band = dense + band mask at every length (atol 1e-5)")

# %% [markdown]
# The tables below are this machine's; yours will differ, so they are not compared when the notebook is tested. The
# claims drawn from them are, in the cell after the figure.

# %% tags=["nbval-ignore-output"]
print(f"{'L':>6} {'dense causal':>13} {'dense + mask':>13} {'band':>9} {'(dense + mask) / band':>22}"
      f"   growth per doubling: {'dense causal':>12} {'dense + mask':>12} {'band':>6}")
for i, L_b in enumerate(lengths):
    t = {name: 1000 * times[name][i] for name in times}
    grow = "".join(f" {times[name][i] / times[name][i - 1]:>{width}.1f}x" for name, width in
                   (("dense causal", 11), ("dense + band mask", 11), ("band", 5))) if i else ""
    print(f"{L_b:>6} {t['dense causal']:>10.2f} ms {t['dense + band mask']:>10.2f} ms {t['band']:>6.2f} ms "
          f"{t['dense + band mask'] / t['band']:>21.1f}x {'':>22}{grow}".rstrip())
if memory["band"][0] is None:
    print("\npeak memory cannot be measured on this system (peak_memory_mb needs Linux)")
else:
    print(f"\n{'L':>6} {'dense causal':>13} {'dense + mask':>13} {'band':>9}   (peak extra memory)   L² floats")
    for i, L_b in enumerate(lengths):
        m = {name: memory[name][i] for name in memory}
        print(f"{L_b:>6} {m['dense causal']:>10.2f} MB {m['dense + band mask']:>10.2f} MB {m['band']:>6.2f} MB"
              f" {4 * L_b**2 / 1e6:>28.1f} MB")

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 4.4))
styles = {"dense causal": "o-", "dense + band mask": "s-", "band": "^-"}
for name, style in styles.items():
    axes[0].loglog(lengths, [1000 * t for t in times[name]], style, label=name)
    if memory[name][0] is not None:
        axes[1].loglog(lengths, [max(m, 1e-2) for m in memory[name]], style, label=name)
x = np.array(lengths, dtype=float)
axes[1].loglog(x, 4 * x**2 / 1e6, "k:", label="4·L² bytes: one float32 (L, L) matrix")
axes[0].set_ylabel("time per call (ms, best of 5)")
axes[0].set_title(f"Time, causal attention (band and band mask: window {W_bench}; 1 thread)")
axes[1].set_ylabel("peak extra memory (MB)")
axes[1].set_title("Memory during one call")
for ax in axes:
    ax.set_xscale("log", base=2)
    ax.set_xlabel("sequence length L")
    ax.legend(fontsize=9)
fig.tight_layout()
plt.show()

# %% [markdown]
# Read the right panel first. The band (green) needs a few MB, growing linearly: its output plus one tile at a time.
# Dense causal attention (blue) needs little memory too: PyTorch's fused CPU kernel, like FlashAttention (notebook 12),
# never stores the scores, and with `is_causal` it skips the tiles above the diagonal. Its memory is linear, but its
# time is not: it still computes about $L^2/2$ scores. Dense attention with the band mask (orange) is the one whose
# memory grows like $L^2$. With the PyTorch this notebook was built with it follows the dotted line of one float32
# $(L, L)$ matrix: a float copy of the mask, not the scores (appendix B, at the end, looks inside). That depends on
# the PyTorch version, so only the band's memory is checked below.
#
# In the left panel, the band gains little at 512 tokens (a Python loop over blocks has overhead, and there are
# few scores to save). A linear cost doubles when $L$ doubles, a quadratic one quadruples; the timing table prints
# each method's growth per doubling on your machine. The checks below test the band's growth against both: less than
# 32× over the 16× from 512 to 8192 tokens (quadratic would be 256×), and less than 3× over the last doubling
# (quadratic would be 4×). The checked claims:

# %%
first, mid, last = lengths.index(512), lengths.index(2048), lengths.index(8192)
growth = {name: times[name][last] / times[name][first] for name in times}  # 16 times the length
print("at L = 8192 the band is faster than dense + band mask:", times["band"][last] < times["dense + band mask"][last])
print("at L = 8192 the band is faster than dense causal:", times["band"][last] < times["dense causal"][last])
print("at L = 4096 and 8192 dense + band mask is the slowest of the three:",
      all(times["dense + band mask"][i] > max(times["dense causal"][i], times["band"][i]) for i in (last - 1, last)))
print("from 512 to 8192 tokens (16x; linear 16x, quadratic 256x): the band's time grows less than 32x:",
      growth["band"] < 32, "  dense + band mask more than 64x:", growth["dense + band mask"] > 64)
print("from 4096 to 8192 tokens (linear 2x, quadratic 4x): the band's time grows less than 3x:",
      times["band"][last] / times["band"][last - 1] < 3)
measured = memory["band"][0] is not None  # peak_memory_mb needs Linux
square_mb = 4 * lengths[last] ** 2 / 1e6  # one float32 (L, L) matrix at L = 8192
band_claims = None if not measured else {  # the band's own memory: no PyTorch internals involved
    f"at L = 8192 the band needs less than a tenth of one float32 (L, L) matrix ({square_mb:.0f} MB)":
        memory["band"][last] < square_mb / 10,
    "2048 -> 8192 (4x; linear 4x, quadratic 16x): the band's memory grows less than 8x":
        memory["band"][last] / memory["band"][mid] < 8,
}
# Where memory can be measured (Linux, as in CI) the claims must hold: an assert, so the printed output stays the
# same on every system and the claims are still tested.
assert band_claims is None or all(band_claims.values()), band_claims

# %% tags=["nbval-ignore-output"]
print("\n".join(f"{claim}: {holds}" for claim, holds in band_claims.items()) if measured
      else "memory not measured here (peak_memory_mb needs Linux)")

# %% [markdown]
# So the lesson of the section: **a band mask on dense attention saves nothing**. It still costs $L^2$ time, and
# $L^2$ memory for the booleans of the mask itself (with this notebook's PyTorch, a float copy of the mask on top),
# and at 4096 and 8192 tokens it is the slowest of the three. The saving comes only from an implementation that
# skips the tiles outside the band. Fused kernels go one step further: FlexAttention in PyTorch
# (`torch.nn.attention.flex_attention`) takes the pattern as a small function of $(i, j)$, finds which tiles are
# empty, and skips them inside one compiled kernel, without a Python loop.
#
# For larger sizes run `python benchmarks/local_attention.py` (a minute or two): $L$ = 4096, 8192 and 16384 with
# 8 heads of width 64 and a window of 256, each memory measurement in a fresh process. It shows the same two things
# at a realistic scale: the band's time about doubles when $L$ doubles (it prints that ratio), and its memory stays
# far below that of dense attention with the mask.
#
# ## 6. What a window cannot do, and how a global token fixes it (core)
#
# Local attention assumes what matters is nearby. Here is a task where that fails completely: each input is 32
# random digits, and the label is the **first** digit, to be predicted at the **last** position (as a language model
# reads out its next-token prediction from the last position). A single causal layer with a window of 4 lets the last
# position see positions 27–31 only; they are independent of the first digit, so no training can beat guessing,
# 10%. Give position 0 a global column (`with_global_tokens(..., causal=True)`) and the last position can read it
# directly.
#
# The model is as small as the task allows: a digit embedding plus a learned position embedding, one
# `MultiHeadAttention` layer (notebook 07) with 2 heads and the fixed mask, and a linear classifier on the last
# position's output. The two models differ only in their mask.

# %%
V, L_task, E_task, W_task = 10, 32, 24, 4  # vocabulary, length, width, window: all different


def digit_batch(n, generator):
    x = torch.randint(0, V, (n, L_task), generator=generator)  # (B, L): random digits
    return x, x[:, 0]  # the label: the first digit


class FirstDigitReader(nn.Module):
    """Embeddings, one masked multi-head attention layer, a classifier on the last position."""

    def __init__(self, mask):
        super().__init__()
        self.token = nn.Embedding(V, E_task)
        self.position = nn.Embedding(L_task, E_task)
        self.attn = MultiHeadAttention(E_task, num_heads=2)
        self.classify = nn.Linear(E_task, V)
        self.register_buffer("mask", mask)  # (L, L), True = may attend

    def forward(self, x, need_weights=False):
        h = self.token(x) + self.position.weight  # (B, L, E) + (L, E) -> (B, L, E)
        out, weights = self.attn(h, h, h, attn_mask=self.mask, need_weights=need_weights)  # (B, L, E), (B, L, L)
        return self.classify(out[:, -1]), weights  # (B, E) -> (B, V): read out at the last position


def train(mask, steps=150, seed=0):
    torch.manual_seed(seed)  # the initial weights
    g = torch.Generator().manual_seed(seed)  # the training batches
    model = FirstDigitReader(mask)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(steps):
        x, y = digit_batch(128, g)
        loss = F.cross_entropy(model(x)[0], y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return model, losses


task_masks = {
    f"causal window w = {W_task}": sliding_window_mask(L_task, W_task, causal=True),
    f"causal window w = {W_task} + global token 0": with_global_tokens(sliding_window_mask(L_task, W_task, causal=True), [0],
                                                                      causal=True),
}
print("the last position may see:", {name: torch.nonzero(m[-1]).flatten().tolist() for name, m in task_masks.items()})
trained = {name: train(m) for name, m in task_masks.items()}

# %% [markdown]
# Accuracy on 2000 new sequences, the final training loss ($\ln 10 = 2.303$ is the loss of a uniform guess), and
# where the last position looks: its attention weights, averaged over the heads and the test sequences. Training
# results can differ in the last digits between machines, so this cell is not compared; the claims are, below.

# %% tags=["nbval-ignore-output"]
x_test, y_test = digit_batch(2000, torch.Generator().manual_seed(2024))
accuracy, last_row = {}, {}
with torch.no_grad():
    for name, (model, losses) in trained.items():
        logits, weights = model(x_test, need_weights=True)  # (N, V), (N, L, L) averaged over heads
        accuracy[name] = (logits.argmax(-1) == y_test).float().mean().item()
        last_row[name] = weights[:, -1].mean(0)  # (L,): the last query's weights, averaged over sequences
        print(f"{name:<38} accuracy {accuracy[name]:6.1%}   final loss {np.mean(losses[-20:]):.4f}   "
              f"weight of the last position on token 0: {last_row[name][0].item():.3f}")

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 4))
for (name, (_, losses)), colour, shift in zip(trained.items(), ("tab:blue", "tab:red"), (-0.2, 0.2)):
    axes[0].plot(losses, color=colour, lw=1.5, zorder=3, label=name)
    axes[1].bar(np.arange(L_task) + shift, last_row[name].numpy(), width=0.4, color=colour, label=name)
axes[0].axhline(math.log(V), color="0.5", ls="--", lw=0.8, zorder=1, label="ln 10: a uniform guess (behind the blue line)")
axes[0].set_xlabel("training step")
axes[0].set_ylabel("cross-entropy loss")
axes[0].set_title("Training: predict the first digit at the last position")
axes[1].set_xlabel("key position j")
axes[1].set_ylabel("mean attention weight of the last query")
axes[1].set_title("Where the last position looks (test set)")
for ax in axes:
    ax.legend(fontsize=9)
fig.tight_layout()
plt.show()

# %% [markdown]
# The window-only model (blue) never gets below the loss of a uniform guess and stays near 10% accuracy: its
# attention is spread over positions 27–31, where the answer is not. With the global token (red) the loss falls to
# almost zero in under a hundred steps, and the last position puts nearly all its weight on token 0. The
# checked claims (they held for each of the 8 seeds we tried):

# %%
window_name, global_name = task_masks
final_loss = {name: np.mean(losses[-20:]) for name, (_, losses) in trained.items()}
print("window only: no better than guessing (accuracy < 20%):", accuracy[window_name] < 0.2,
      "  final loss > 2.2 (uniform: 2.303):", final_loss[window_name] > 2.2)
print("with the global token: solved (accuracy > 90%):", accuracy[global_name] > 0.9,
      "  final loss < 0.1:", final_loss[global_name] < 0.1)
print("the last position attends mainly to token 0 (weight > 0.5):", last_row[global_name][0].item() > 0.5)
solved_at = next((step for step, loss in enumerate(trained[global_name][1]) if loss < 0.1), None)
print("with the global token the loss is below 0.1 within 100 steps:", solved_at is not None and solved_at < 100)

# %% [markdown]
# The task is extreme on purpose, but its failure is real: a language model with a sliding window cannot use a
# fact from beyond its reach in one step, and stacking layers only helps when something along the way carries the
# fact forward. Xiao et al. (2023) found a related effect in trained models: they park a lot of attention on the
# first tokens, and a sliding-window cache that evicts them breaks down, while keeping just those few first tokens
# ("attention sinks") beside the window restores it; [notebook 13](13_attention_in_pretrained_models.ipynb) measures
# this in a real model.
#
# ### 6.1 Local and global, without the dense matrix (optional)
#
# Section 4 computed the band without the $(L, L)$ matrix. Global tokens fit the same scheme: each block of queries
# scores its tile **and** the $G$ global keys, in one softmax over both, and the $G$ global queries get ordinary
# dense rows, $(G, L)$, cheap because $G$ is small. There is one trap. A global key that lies inside a query's
# window is in the tile already; add it again as a global key and that key enters the softmax twice, with twice
# its weight. The example below makes the naive version for $L = 12$, window 2 and global token 0, and compares the
# rows of the ordinary (non-global) queries with the dense masked reference.

# %%
g = torch.Generator().manual_seed(12)
L12, w12, glob = 12, 2, [0]
q12, k12, v12 = (torch.randn(L12, 4, generator=g, dtype=torch.float64) for _ in range(3))  # (L, D) each
mask12 = with_global_tokens(sliding_window_mask(L12, w12), glob)  # (L, L)
ref12, ref_w = scaled_dot_product_attention(q12, k12, v12, attn_mask=mask12, return_weights=True)

band_scores = (q12 @ k12.T / 2).masked_fill(~sliding_window_mask(L12, w12), float("-inf"))  # (L, D) @ (D, L) -> (L, L); √4 = 2
glob_scores = q12 @ k12[glob].T / 2  # (L, D) @ (D, G) -> (L, G): every query scores the global key again
naive_w = softmax(torch.cat([band_scores, glob_scores], dim=-1), dim=-1)  # (L, L + G)
naive = naive_w @ torch.cat([v12, v12[glob]])  # (L, L + G) @ (L + G, D) -> (L, D)

rows = [i for i in range(L12) if i not in glob]
wrong_rows = [i for i in rows if not torch.allclose(naive[i], ref12[i])]
print("ordinary queries whose output the naive version gets wrong:", wrong_rows, f"(those within w = {w12} of token 0)")
print(f"query 1's total weight on token 0: naive {(naive_w[1, 0] + naive_w[1, L12]).item():.4f}, "
      f"reference {ref_w[1, 0].item():.4f}")

# %% [markdown]
# Only queries 1 and 2 go wrong, the ones whose window already contains token 0, and there token 0 gets a larger
# share of the weight than it should. `local_global_attention` counts a global key in the global part only for
# queries whose window does not already hold it. It equals the dense masked version, causal or not, for any block
# size, with global tokens at the edge or in the middle:

# %%
g = torch.Generator().manual_seed(13)
q, k, v = (torch.randn(2, 3, 45, 6, generator=g, dtype=torch.float64) for _ in range(3))  # (B, H, L, D)
for causal in (False, True):
    for positions, block in (([0], 8), ([0, 20, 44], 7), ([3, 21], 45)):
        mask = with_global_tokens(sliding_window_mask(45, 3, causal=causal), positions, causal=causal)  # (L, L)
        dense = scaled_dot_product_attention(q, k, v, attn_mask=mask)
        fast = local_global_attention(q, k, v, 3, positions, causal=causal, block_size=block)
        torch.testing.assert_close(fast, dense, atol=1e-12, rtol=0)
        print(f"causal {causal!s:5}, global tokens {str(positions):12} blocks of {block:>2}: "
              "local_global_attention = dense masked")

# %% [markdown]
# <a id="appendix-a"></a>
#
# ## Appendix A. Measuring memory after a warm-up (optional)
#
# A memory reading taken after a warm-up is honest only if the measured call must ask the operating system for its
# memory afresh, and `peak_memory_mb` makes sure it must. The C memory allocator (`malloc`) keeps the memory a call
# frees and hands it out again without asking the operating system, so the call measured after a warm-up would find
# the warm-up's memory waiting and the process's peak would hardly rise. `peak_memory_mb` therefore first asks the
# allocator to return what it kept (`malloc_trim`), then resets the process's recorded peak (Linux's `VmHWM`) and
# runs the call.

# %% [markdown]
# <a id="appendix-b"></a>
#
# ## Appendix B. What a band mask costs inside PyTorch's SDPA (optional)
#
# The memory of dense attention with a band mask is a float copy of the mask, not the scores, at least in the PyTorch
# this notebook was built with. On a CPU, SDPA first turns the boolean mask into a float mask of 0 and $-\infty$, one
# float per pair, then runs a fused kernel (`_scaled_dot_product_flash_attention_for_cpu`, which you can see with
# `torch.profiler`) that computes every tile of scores, including the tiles the mask blanks out entirely. So in
# section 5 its memory follows the dotted line of one float32 $(L, L)$ matrix, for one head of one sequence. The
# boolean mask itself, $L^2$ bytes, was built before the measurement and comes on top. At the longest length:

# %%
print(f"at L = {lengths[-1]}: one float32 (L, L) matrix takes {4 * lengths[-1]**2 / 1e6:.0f} MB, "
      f"the boolean (L, L) mask {lengths[-1]**2 / 1e6:.0f} MB")

# %% [markdown]
# Another PyTorch version may keep the mask boolean, or choose another kernel, so what the dense versions needed is
# printed for your version and not compared:

# %% tags=["nbval-ignore-output"]
if measured:
    print(f"dense + band mask: {memory['dense + band mask'][last]:.0f} MB at L = 8192, "
          f"{memory['dense + band mask'][last] / square_mb:.2f} of one float32 (L, L) matrix; "
          f"{memory['dense + band mask'][last] / memory['dense + band mask'][mid]:.1f}x from 2048 to 8192 "
          "(quadratic: 16x)")
    print(f"dense causal: {memory['dense causal'][last]:.1f} MB at L = 8192, "
          f"{memory['dense causal'][last] / memory['dense causal'][mid]:.1f}x from 2048 to 8192")
    print("this PyTorch turns the boolean mask into a float (L, L) matrix (dense + band mask above 0.5 of one):",
          memory["dense + band mask"][last] > 0.5 * square_mb)
else:
    print("memory not measured here (peak_memory_mb needs Linux)")

# %% [markdown]
# ## Exercises
#
# How the exercises work (a stub to complete, a check cell that names common mistakes, `check.hint("name")`
# for one hint at a time, a hidden solution) is explained once, in [00 · Welcome](00_welcome.ipynb).
# For example:

# %%
check.hint("sliding_window_mask")

# %% [markdown]
# ### Exercise 1: a sliding-window mask
#
# Write `my_sliding_window_mask(L, window, causal=False)` returning a boolean `(L, L)` tensor, True where query $i$
# may attend to key $j$: when $|i - j| \le$ `window`, and, if `causal`, also $j \le i$. A window of 0 means each
# token sees only itself. Try it without scrolling up; the checker names the off-by-one and causal mix-ups.

# %% tags=["exercise"] keep_output=false
def my_sliding_window_mask(L, window, causal=False):
    raise NotImplementedError("your code here")


# %% tags=["check"] keep_output=false
check.sliding_window_mask(my_sliding_window_mask)

# %% tags=["solution"] jupyter={"source_hidden": true}
def my_sliding_window_mask(L, window, causal=False):
    offset = torch.arange(L)[:, None] - torch.arange(L)[None, :]  # (L, L): i - j
    allowed = offset.abs() <= window  # the band: window neighbours on each side, and the token itself
    return allowed & (offset >= 0) if causal else allowed  # causal: only j <= i


# %% tags=["solution"]
# record=False: the course's own solution does not count in your progress (see attn_course.progress()).
check.sliding_window_mask(my_sliding_window_mask, record=False)

# %% [markdown]
# ### Exercise 2: add a global token
#
# Write `my_add_global_token(mask, position)`: `mask` is a boolean `(L, L)` mask and `position` an int. Return a
# **new** mask in which token `position` may attend to every key and every query may attend to it. The caller's mask
# must not change.

# %% tags=["exercise"] keep_output=false
def my_add_global_token(mask, position):
    raise NotImplementedError("your code here")


# %% tags=["check"] keep_output=false
check.add_global_token(my_add_global_token)

# %% tags=["solution"] jupyter={"source_hidden": true}
def my_add_global_token(mask, position):
    out = mask.clone()  # a copy: the caller's mask stays as it was
    out[position, :] = True  # its row: the global token reads every key
    out[:, position] = True  # its column: every query reads the global token
    return out


# %% tags=["solution"]
# record=False: the course's own solution does not count in your progress (see attn_course.progress()).
check.add_global_token(my_add_global_token, record=False)

# %% [markdown]
# ## Summary
#
# You can now
# - compute the cost of dense attention at long lengths: $4HL^2$ bytes of float32 scores and $4L^2E$ FLOPs per
#   layer, which overtake the projections' $8LE^2$ beyond $L = 2E$, and the projections and MLP together
#   ($24LE^2$ with a $4E$ hidden layer) beyond $L = 6E$;
# - build sliding-window, causal-window, dilated, global-token and BigBird-style block-sparse masks from the offset
#   $i - j$ (`sliding_window_mask`, `dilated_window_mask`, `with_global_tokens`, `block_sparse_mask`);
# - compute how far information travels through $n$ stacked layers with boolean matrix powers: $n \cdot w$ for a
#   window, never across the groups of a dilated window alone, everywhere in 2 layers with one global token;
# - derive blockwise local attention, which computes tiles of about $b + 2w$ keys per block of $b$ queries, check it
#   against dense masked attention, and use `sliding_window_attention` and `local_global_attention`;
# - measure time and memory honestly (best of several calls after a warm-up; peak memory after giving freed memory
#   back) and read a log-log plot: slope 1 for the band, slope 2 for dense;
# - spot a task that a window cannot solve, and fix it with a global token.
#
# ## Common pitfalls
# - **Off-by-one windows.** In this course a window of $w$ means $|i - j| \le w$: $2w + 1$ keys, or $w + 1$ when
#   causal. Libraries count in their own ways: FlashAttention's `window_size=(left, right)` counts each side as
#   here, while Hugging Face's Longformer `attention_window` is the total width, $w$ = `attention_window // 2`.
#   Read the docs before you compare numbers.
# - **Causal and window confused.** A causal window is the lower half of the band, $0 \le i - j \le w$; a window
#   alone lets a language model see the future, and a causal mask alone is not local.
# - **Global tokens counted twice.** A global key inside a query's window must enter that query's softmax once.
# - **A band mask on dense attention saves nothing.** It computes all $L^2$ scores and adds an $(L, L)$ mask; only
#   an implementation that skips the empty tiles is faster.
# - **Dilation alone.** A dilated window with dilation $\delta$ splits the sequence into $\delta$ groups that never
#   talk; mix it with plain windows (other heads or layers) or global tokens.
# - **Trusting one memory reading.** Allocators reuse memory; warm up, give freed memory back, and measure large
#   effects only.
#
# ## Further reading
# - R. Child, S. Gray, A. Radford, I. Sutskever, [*Generating Long Sequences with Sparse
#   Transformers*](https://arxiv.org/abs/1904.10509) (2019): the attention patterns of a trained model, strided and
#   fixed sparse patterns.
# - I. Beltagy, M. Peters, A. Cohan, [*Longformer: The Long-Document Transformer*](https://arxiv.org/abs/2004.05150)
#   (2020): sliding, dilated and global attention, and the receptive field of stacked windows.
# - M. Zaheer et al., [*Big Bird: Transformers for Longer Sequences*](https://arxiv.org/abs/2007.14062) (2020):
#   window, global and random blocks, and why global tokens matter in theory.
# - A. Jiang et al., [*Mistral 7B*](https://arxiv.org/abs/2310.06825) (2023): a 4096-token causal window in every
#   layer and a rolling key/value cache. That is v0.1; the
#   [v0.2 model card](https://huggingface.co/mistralai/Mistral-7B-Instruct-v0.2) lists "no sliding-window attention".
# - Gemma Team, [*Gemma 2: Improving Open Language Models at a Practical Size*](https://arxiv.org/abs/2408.00118)
#   (2024) and [*Gemma 3 Technical Report*](https://arxiv.org/abs/2503.19786) (2025): local and global layers
#   interleaved, 1:1 with 4096-token windows, then 5:1 with 1024-token windows.
# - G. Xiao et al., [*Efficient Streaming Language Models with Attention Sinks*](https://arxiv.org/abs/2309.17453)
#   (2023): why a sliding window breaks without the first tokens, and how keeping them fixes it.
# - PyTorch, [FlexAttention blog post](https://pytorch.org/blog/flexattention/) and
#   [`torch.nn.attention.flex_attention`](https://pytorch.org/docs/stable/nn.attention.flex_attention.html):
#   sliding windows, global tokens and document masks as a `mask_mod`, compiled to a kernel that skips empty blocks.
#
# **Next:** [11 · GPU acceleration](11_gpu_acceleration.ipynb) moves attention to a GPU: devices, timing, and the memory
# wall; then [12 · FlashAttention](12_flash_attention.ipynb).
