# %% [markdown]
# # 02 · Softmax: from scores to weights
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/attn-course/attention-step-by-step/blob/main/notebooks/02_softmax.ipynb)
#
# Notebook 01 gave every query a row of scores, one per key: any real numbers, positive or
# negative, small or huge. Attention needs something else: **weights** that are positive and
# add up to 1, so that it can take a weighted average of the values. Softmax is the function
# that turns one into the other, and it sits in the middle of every attention layer. It
# looks like a one-liner, but written naively it returns NaN as soon as the scores reach
# about 89 in float32 (just above 11 in float16), and it has a knob, the temperature, that decides
# whether a query spreads its attention over many keys or stares at one. This notebook
# builds softmax from its reasons, makes it numerically safe, and shows how sharp or flat it
# can be.
#
# **Learning goals.** By the end of this notebook you can
# - **explain** why softmax uses exponentials, and why only the *differences* between scores matter;
# - **implement** a softmax that cannot overflow, and log-sum-exp, its companion;
# - **control** how sharp the weights are with a temperature, and **measure** it with entropy;
# - **describe** softmax as a differentiable "soft argmax", and what happens to its gradient as it gets sharp.
#
# **Prerequisites.** Notebook 01 (scores and the score matrix $QK^\top$, one row per query).
#
# **Time.** About 40 minutes of study.

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

from attn_course import device, logsumexp, set_seed, softmax
from attn_course.exercises import softmax as check

set_seed(0)
torch.set_num_threads(1)  # the same summation order on every machine, so stored outputs match
torch.set_printoptions(precision=4, sci_mode=False)
np.set_printoptions(precision=4, suppress=True)
DEVICE = device()

# %% [markdown]
# ## 1. Why exponentials? (core)
#
# Take one query's scores against $S = 3$ keys. We want weights $w_1, \dots, w_S$ with three
# properties:
#
# 1. every weight is **positive**, so the result is a real average of the values;
# 2. the weights **sum to 1**;
# 3. a higher score gets a higher weight (the map is **monotone**).
#
# The first idea, dividing each score by the sum of the scores, already fails on property 1
# (and divides by zero when the scores sum to 0). The exponential fixes all three at once:
# $e^x$ is positive for every real $x$ and increases with $x$, and dividing by the total
# makes the weights sum to 1. That is softmax:
#
# $$\operatorname{softmax}(x)_i \;=\; \frac{e^{x_i}}{\sum_{j=1}^{S} e^{x_j}} .$$

# %%
s = torch.tensor([2.0, 1.0, -1.0])  # one query's scores against S = 3 keys

print("score / sum of scores:", s / s.sum(), "<- a negative weight")
e = torch.exp(s)
print("exp(score)           :", e)
print(f"sum of exp(score)    : {float(e.sum()):.2f}")
print("exp(score) / its sum :", e / e.sum())
print(f"weight of key 0 / weight of key 1 = {float(e[0] / e[1]):.4f} = e^(2 - 1) = {math.e:.4f}")

# %% [markdown]
# The last line shows the property that matters most. The exponential turns a *difference*
# of scores into a *ratio* of weights: $e^{x_i}/e^{x_j} = e^{x_i - x_j}$. A key one point
# ahead gets $e \approx 2.7$ times the weight, two points ahead $e^2 \approx 7.4$ times.
# Because only differences matter, adding the same constant $c$ to every score changes
# nothing:
#
# $$\operatorname{softmax}(x + c)_i = \frac{e^{c}\,e^{x_i}}{e^{c}\sum_j e^{x_j}} = \operatorname{softmax}(x)_i .$$
#
# Multiplying the scores, on the other hand, *does* change the weights: it stretches the
# differences. Section 6 turns that into the temperature.

# %%
def weights(x):
    """exp(x) divided by its sum: the softmax of one row of scores."""
    e = torch.exp(x)
    return e / e.sum()


print("softmax(s)      :", weights(s))
print("softmax(s + 10) :", weights(s + 10), "<- the same:", torch.allclose(weights(s + 10), weights(s)))
print("softmax(s - 50) :", weights(s - 50), "<- the same:", torch.allclose(weights(s - 50), weights(s)))
print("softmax(2 * s)  :", weights(2 * s), f"<- sharper: largest weight {weights(2 * s).max():.4f}, "
      f"was {weights(s).max():.4f}")

# %%
fig, axes = plt.subplots(1, 3, figsize=(11, 3.4), layout="constrained")
key_labels = [f"key {j}" for j in range(len(s))]
steps = [(s, "1. scores: any real numbers", "score", "%.1f"),
         (torch.exp(s), "2. exp: positive, same order", "exp(score)", "%.3f"),
         (weights(s), "3. divide by the sum: weights", "weight", "%.4f")]  # 4 decimals: labels add up to 1.0000
for ax, (values, title, ylabel, fmt) in zip(axes, steps):
    bars = ax.bar(key_labels, values.numpy(), color=["tab:blue", "tab:orange", "tab:green"])
    ax.bar_label(bars, fmt=fmt)
    ax.axhline(0, color="black", lw=0.6)
    ax.set_title(title)
    ax.set_xlabel("key")
    ax.set_ylabel(ylabel)
    ax.margins(y=0.2)
fig.suptitle("From scores to weights in two steps")
plt.show()

# %% [markdown]
# **What to see.** The negative score becomes a small positive number (0.368), the order of
# the keys is kept, and after dividing by the total (10.48) the three bars add up to 1
# (0.7054 + 0.2595 + 0.0351; rounded to fewer decimals the labels would seem not to). The
# key with the top score gets 71% of the weight although its score is only 1 point ahead.

# %% [markdown]
# ## 2. A naive softmax for whole score matrices (core)
#
# Attention applies softmax to a score matrix of shape $(B, L, S)$: one row per query, and
# each row must sum to 1. So the sum runs over the **last axis**, and `keepdim=True` keeps it
# as a size-1 axis so that the division broadcasts back over the $S$ keys.

# %%
def naive_softmax(x, dim=-1):
    """exp(x) over its sum along `dim`: the right formula, but fragile numbers (section 3)."""
    e = torch.exp(x)
    return e / e.sum(dim=dim, keepdim=True)  # (B, L, S) / (B, L, 1) -> (B, L, S)


scores_batch = torch.randn(2, 3, 5)  # (B, L, S): 2 sequences, 3 queries, 5 keys
w_batch = naive_softmax(scores_batch)  # (B, L, S)
print("weights of sequence 0:\n", w_batch[0])
print("every row sums to 1:", torch.allclose(w_batch.sum(dim=-1), torch.ones(2, 3)))
torch.testing.assert_close(w_batch, torch.softmax(scores_batch, dim=-1))
print("equal to torch.softmax:", torch.allclose(w_batch, torch.softmax(scores_batch, dim=-1)))
print("shift invariant:", torch.allclose(naive_softmax(scores_batch + 5.0), w_batch))

# %% [markdown]
# ## 3. Overflow, and the one-line fix (core)
#
# The formula is right; the trouble is the numbers. A float32 cannot hold anything above
# about $3.4\times10^{38} \approx e^{88.7}$, so $e^{89}$ is already `inf`, and
# $\infty/\infty$ is NaN. Scores of 100 are not exotic: two aligned vectors with 64 features
# of size about 1.3 have a dot product near $64 \times 1.3^2 \approx 108$. In float16, the
# half precision common on GPUs, the limit is $65504 \approx e^{11.1}$: a score of 12 overflows. Very
# negative scores fail the other way: every exponential rounds to 0 and the division is
# $0/0$.

# %%
for dtype in (torch.float16, torch.float32, torch.float64):
    largest = torch.finfo(dtype).max
    print(f"{str(dtype):14s} largest number {largest:.4g} = e^{math.log(largest):.1f}")

cases = {
    "float32, scores near 100  ": torch.tensor([100.0, 101.0, 102.0]),
    "float64, scores near 1000 ": torch.tensor([1000.0, 1001.0, 1002.0], dtype=torch.float64),
    "float16, scores near 11   ": torch.tensor([10.0, 11.0, 12.0], dtype=torch.float16),
    "float32, scores near -1000": torch.tensor([-1000.0, -1001.0, -1002.0]),
}
print()
for name, x_case in cases.items():
    print(f"{name}: exp = {torch.exp(x_case)}  softmax = {naive_softmax(x_case)}")

# %% [markdown]
# Every one of these rows should have the same answer, `softmax([0, 1, 2])` (or its mirror
# image for the negative row), because shifting the scores changes nothing. That is also the
# fix: **subtract each row's maximum before the exponential.** Then the largest exponent is
# exactly $e^0 = 1$ and every other one lies in $[0, 1]$ (a term far below the maximum
# rounds to 0), so nothing can overflow, and the
# sum is at least 1, so the division never meets 0. Terms that now round to 0 had true
# weights below about $10^{-45}$ relative to the winner in float32 (about $6 \cdot 10^{-8}$ in float16):
# losing them changes nothing you can see.
#
# $$\operatorname{softmax}(x)_i = \frac{e^{x_i - m}}{\sum_j e^{x_j - m}}, \qquad m = \max_j x_j .$$

# %%
def stable_softmax(x, dim=-1):
    """Softmax along `dim` that cannot overflow: shift each row so that its maximum is 0."""
    m = x.amax(dim=dim, keepdim=True)  # (..., 1): each row's largest score
    e = torch.exp(x - m)               # (..., S): every exponent <= 0, the largest exactly 1
    return e / e.sum(dim=dim, keepdim=True)


for name, x_case in cases.items():
    print(f"{name}: {stable_softmax(x_case)}")
print()
print("softmax([0, 1, 2]) =", stable_softmax(torch.tensor([0.0, 1.0, 2.0])))
for x_case in cases.values():
    torch.testing.assert_close(stable_softmax(x_case), torch.softmax(x_case, dim=-1))
torch.testing.assert_close(stable_softmax(scores_batch), torch.softmax(scores_batch, dim=-1))
print("equal to torch.softmax on every case (assert_close picks its tolerance by dtype, looser for float16)")

# %% [markdown]
# The float16 row agrees with the others to about three decimals, all that half precision
# holds, and it is finite. PyTorch's own `torch.softmax` subtracts the maximum too; that is why it agreed
# with our stable version above and never returns NaN for large finite scores.

# %% [markdown]
# ## 4. Log-sum-exp (core)
#
# The denominator of softmax has a name of its own. The **log-sum-exp** of a row is
#
# $$\operatorname{LSE}(x) = \log \sum_{j} e^{x_j} = m + \log\sum_j e^{x_j - m}, \qquad m=\max_j x_j ,$$
#
# where the second form, by the same shift, never overflows. It matters for three reasons:
#
# - **It gives softmax in one step:** $\operatorname{softmax}(x)_i = e^{x_i - \operatorname{LSE}(x)}$,
#   and the log of the weights, $\log \operatorname{softmax}(x)_i = x_i - \operatorname{LSE}(x)$,
#   without ever taking the log of a number that has rounded to 0. Cross-entropy losses are
#   built on this.
# - **It is a smooth maximum:** $\max_j x_j \le \operatorname{LSE}(x) \le \max_j x_j + \log S$.
#   It sits just above the largest score, by $\log S$ when all scores tie.
# - **It summarises a row in one number.** FlashAttention (notebook 12) keeps one LSE per
#   query instead of the whole $(L, S)$ weight matrix, and merges partial rows with it.

# %%
def naive_logsumexp(x, dim=-1):
    return torch.log(torch.exp(x).sum(dim=dim))


def stable_logsumexp(x, dim=-1):
    """log(sum(exp(x))) along `dim` without overflow; `dim` is reduced away, as in torch.logsumexp."""
    m = x.amax(dim=dim, keepdim=True)                               # (..., 1)
    out = m + torch.log(torch.exp(x - m).sum(dim=dim, keepdim=True))  # (..., 1)
    return out.squeeze(dim)                                          # (...)


big = torch.tensor([100.0, 101.0, 102.0])
print("naive LSE of [100, 101, 102]:", naive_logsumexp(big))
print("stable LSE                  :", stable_logsumexp(big))
print("torch.logsumexp             :", torch.logsumexp(big, dim=-1))
print()
for row in ([3.0, -10.0, -10.0], [1.0, 2.0, 3.0], [3.0, 3.0, 3.0]):
    x_row = torch.tensor(row)
    print(f"x = {row}: max {x_row.max():.4f} <= LSE {stable_logsumexp(x_row):.4f} "
          f"<= max + log 3 = {x_row.max() + math.log(3):.4f}")

# %% [markdown]
# Now the two identities, on a fresh random batch of $(B, L, S)$ scores, and the case where taking the
# log of softmax goes wrong. A score 200 below the winner gets a weight of $e^{-200}$, which
# rounds to 0 in float32, and $\log 0 = -\infty$; $x - \operatorname{LSE}(x)$ gives the
# right answer, $-200$.

# %%
scores_lse = torch.randn(2, 3, 5)  # (B, L, S)
lse = stable_logsumexp(scores_lse)  # (B, L): one number per query
print("LSE shape:", tuple(lse.shape))
torch.testing.assert_close(lse, torch.logsumexp(scores_lse, dim=-1))
torch.testing.assert_close(torch.exp(scores_lse - lse[..., None]), torch.softmax(scores_lse, dim=-1))  # (B, L, S) - (B, L, 1)
torch.testing.assert_close(scores_lse - lse[..., None], torch.log_softmax(scores_lse, dim=-1))
print("softmax = exp(x - LSE):", torch.allclose(torch.exp(scores_lse - lse[..., None]), torch.softmax(scores_lse, dim=-1)))
print("log_softmax = x - LSE :", torch.allclose(scores_lse - lse[..., None], torch.log_softmax(scores_lse, dim=-1)))

x_far = torch.tensor([0.0, -200.0])  # the second score is 200 below the first
print("log(softmax(x)) :", torch.log(stable_softmax(x_far)))
print("x - LSE(x)      :", x_far - stable_logsumexp(x_far))

# %% [markdown]
# ## 5. The package: `softmax` and `logsumexp` (core)
#
# From now on the course uses `attn_course.softmax(x, dim=-1, temperature=1.0)` and
# `attn_course.logsumexp(x, dim=-1, keepdim=False)`. They do what we derived, subtracting
# each row's maximum, and work on torch tensors and NumPy arrays alike. `logsumexp` reduces
# `dim` away unless `keepdim=True`, exactly like `torch.logsumexp`. We check them against
# PyTorch on random inputs along every axis, against our derivations, and at magnitude
# $10^4$, where a naive version gives NaN.

# %%
x_demo = torch.randn(4, 3, 7)  # (B, L, S)
for dim in (0, 1, 2, -1):
    torch.testing.assert_close(softmax(x_demo, dim=dim), torch.softmax(x_demo, dim=dim))
    torch.testing.assert_close(logsumexp(x_demo, dim=dim), torch.logsumexp(x_demo, dim=dim))
torch.testing.assert_close(logsumexp(x_demo, keepdim=True), torch.logsumexp(x_demo, dim=-1, keepdim=True))
torch.testing.assert_close(softmax(x_demo), stable_softmax(x_demo))
torch.testing.assert_close(logsumexp(x_demo), stable_logsumexp(x_demo))
torch.testing.assert_close(softmax(x_demo), torch.exp(x_demo - logsumexp(x_demo, keepdim=True)))
print("logsumexp(x) shape:", tuple(logsumexp(x_demo).shape),
      "| with keepdim=True:", tuple(logsumexp(x_demo, keepdim=True).shape))

x_np = x_demo.numpy()  # the same numbers as a NumPy array
np.testing.assert_allclose(softmax(x_np), torch.softmax(x_demo, dim=-1).numpy(), rtol=1e-5, atol=1e-7)
np.testing.assert_allclose(logsumexp(x_np, dim=1), torch.logsumexp(x_demo, dim=1).numpy(), rtol=1e-5, atol=1e-6)
print("NumPy in, NumPy out:", type(softmax(x_np)).__name__, type(logsumexp(x_np)).__name__)

huge = 1e4 * torch.randn(3, 6)  # float32 scores of size 10,000
print("naive softmax at 1e4 finite :", bool(torch.isfinite(naive_softmax(huge)).all()))
print("package softmax at 1e4 finite:", bool(torch.isfinite(softmax(huge)).all()),
      "| logsumexp finite:", bool(torch.isfinite(logsumexp(huge)).all()))
torch.testing.assert_close(softmax(huge), torch.softmax(huge, dim=-1))
torch.testing.assert_close(logsumexp(huge), torch.logsumexp(huge, dim=-1))
torch.testing.assert_close(softmax(x_demo.to(DEVICE)).cpu(), torch.softmax(x_demo, dim=-1))  # a GPU too, if there is one
print("every assert above passed: the package agrees with torch.softmax, torch.logsumexp and our derivations")

# %% [markdown]
# Two more things the package does. Its `temperature=` argument (next section) divides the
# scores before the softmax. And a row in which *every* score is $-\infty$ (a query that may
# attend to nothing, which masks produce in notebook 04) gives weights of 0 instead of NaN,
# as PyTorch's `scaled_dot_product_attention` does. Plain `torch.softmax` returns NaN there,
# because the shift is $-\infty - (-\infty)$.

# %%
torch.testing.assert_close(softmax(x_demo, temperature=2.0), torch.softmax(x_demo / 2.0, dim=-1))
print("softmax(x, temperature=2) == softmax(x / 2):",
      torch.allclose(softmax(x_demo, temperature=2.0), softmax(x_demo / 2.0)))

nothing_allowed = torch.full((1, 4), float("-inf"))  # (L, S) = (1, 4): every key masked out
print("torch.softmax  :", torch.softmax(nothing_allowed, dim=-1))
print("attn_course    :", softmax(nothing_allowed))

# %% [markdown]
# A temperature must be positive. The package says so, naming the argument:

# %% tags=["raises-exception"]
softmax(x_demo, temperature=0.0)

# %% [markdown]
# ## 6. Temperature: how sharp should the weights be? (core)
#
# Dividing the scores by a **temperature** $T > 0$ before the softmax stretches or squeezes
# their differences:
#
# $$\operatorname{softmax}(x / T)_i = \frac{e^{x_i/T}}{\sum_j e^{x_j/T}},\qquad
# \frac{w_i}{w_j} = e^{(x_i - x_j)/T}.$$
#
# A low temperature ($T < 1$) magnifies the gaps: the weights get **sharper** and, as
# $T \to 0$, all the weight goes to the top score. A high temperature ($T > 1$) shrinks the
# gaps: the weights get **flatter** and, as $T\to\infty$, every key gets $1/S$. You have
# met temperature in disguise: in notebook 01, stretching a query by 3 multiplied all its
# scores by 3, which is $T = 1/3$; and scaled dot-product attention (notebook 04) divides
# by $\sqrt{D}$, $D$ being the width of the queries and keys, which is $T = \sqrt{D}$.
#
# To measure "how spread out" in one number we use the **entropy** of the weights, in nats
# (natural log):
#
# $$H(w) = -\sum_i w_i \log w_i , \qquad 0 \le H \le \log S .$$
#
# It is 0 when one key has all the weight, and $\log S$ when all $S$ keys share it equally.
# $e^{H}$ reads as the *effective number of keys* a query attends to, from 1 to $S$.

# %%
scores5 = torch.tensor([2.0, 1.0, 0.5, 0.0, -1.0], dtype=torch.float64)  # one query, S = 5 keys


def entropy(w, dim=-1):
    """Entropy in nats of weights that sum to 1 along `dim`; 0 · log 0 counts as 0."""
    return -torch.special.xlogy(w, w).sum(dim=dim)


print(f"scores: {scores5.numpy()}    log S = log 5 = {math.log(5):.4f} nats\n")
for T in (0.1, 0.5, 1.0, 2.0, 10.0, 30.0):
    w_T = softmax(scores5, temperature=T)  # (S,)
    ent = float(entropy(w_T))
    print(f"T = {T:4.1f}: weights {w_T.numpy()}  entropy {ent:.3f} nats, e^H = {math.exp(ent):.2f} keys")

# %% [markdown]
# The figure sweeps the temperature over four orders of magnitude, on a log scale, for the
# same five scores. Its drawing code is a helper of its own, so that the cell after it shows
# only the computation.

# %%
def plot_temperature_sweep(temperatures, sweep, entropies, scores):
    """Left: each key's weight against the temperature; right: the entropy of the weights."""
    S = len(scores)
    fig, (ax_w, ax_h) = plt.subplots(1, 2, figsize=(12, 4.2))
    for j, score in enumerate(scores.tolist()):
        ax_w.plot(temperatures, sweep[:, j], lw=2, label=f"key {j}, score {score:+.1f}")
    ax_w.axvline(1.0, color="gray", ls=":", lw=1)
    ax_w.text(1.1, 0.9, "T = 1", color="gray")
    ax_w.set_xscale("log")
    ax_w.set_xlabel("temperature T (log scale)")
    ax_w.set_ylabel("weight")
    ax_w.set_title("Each key's weight as the temperature rises")
    ax_w.legend(loc="center right")

    ax_h.plot(temperatures, entropies, color="black", lw=2, label="entropy of the weights")
    ax_h.axhline(0.0, color="tab:red", ls="--", lw=1, label="one-hot: 0 nats")
    ax_h.axhline(math.log(S), color="tab:green", ls="--", lw=1, label=f"uniform: log {S} = {math.log(S):.3f} nats")
    ax_h.axvline(1.0, color="gray", ls=":", lw=1)
    ax_h.set_xscale("log")
    ax_h.set_ylim(-0.1, 1.8)
    ax_h.set_xlabel("temperature T (log scale)")
    ax_h.set_ylabel("entropy (nats)")
    ax_h.set_title("Entropy rises from 0 to log S")
    ax_h.legend(loc="center right")
    fig.tight_layout()


# %%
temperatures = torch.logspace(-2, 2, 201, dtype=torch.float64)  # T from 0.01 to 100
sweep = softmax(scores5[None, :], temperature=temperatures[:, None])  # (1, S) / (201, 1) -> (201, S)
entropies = entropy(sweep)                                           # (201,): one entropy per T
print(f"entropy at T = 0.01: {entropies[0]:.4f} nats; at T = 1: {entropies[100]:.4f}; "
      f"at T = 100: {entropies[-1]:.4f} (log 5 = {math.log(5):.4f})")
print("entropy never decreases as T grows:", bool((entropies.diff() >= -1e-12).all()))

plot_temperature_sweep(temperatures, sweep, entropies, scores5)
plt.show()

# %% [markdown]
# **What to see.** Left: below $T \approx 0.1$ key 0, the top score, holds all the weight;
# above $T \approx 30$ all five curves approach $1/5$ (at $T = 30$ the table above has every
# weight between 0.19 and 0.21, while at $T = 10$ they still spread from 0.17 to 0.23); the
# interesting range, where several keys share the weight, spans only about two powers of ten
# around $T = 1$. Key 1's weight is not monotone: it first grows while key 0 gives up its
# lead, then shrinks towards $1/5$ with the others. Right: the entropy climbs smoothly from 0
# (one-hot) to $\log 5 \approx 1.609$ (uniform) and never goes down. Temperature does not
# change *which* key wins, only by how much.
#
# The slider below redraws the weights for one temperature at a time. It needs a running
# kernel with `ipywidgets`; the figure above carries the same lesson where no kernel runs.

# %% tags=["nbval-ignore-output"]
try:
    from ipywidgets import FloatLogSlider, interact
except ImportError:
    print("The slider needs ipywidgets: `pip install ipywidgets` (it is in requirements.txt), "
          "then restart the kernel. The static figure above shows the same thing.")
else:
    def show_weights(temperature=1.0):
        w_T = softmax(scores5, temperature=temperature)
        ent = float(entropy(w_T))
        fig, ax = plt.subplots(figsize=(6, 3.2))
        bars = ax.bar([f"key {j}\n({score:+.1f})" for j, score in enumerate(scores5.tolist())], w_T.numpy(),
                      color="tab:blue")
        ax.bar_label(bars, fmt="%.3f")
        ax.set_ylim(0, 1.1)
        ax.set_xlabel("key (score)")
        ax.set_ylabel("weight")
        ax.set_title(f"T = {temperature:.3g}: entropy {ent:.3f} nats, about {math.exp(ent):.2f} keys")
        plt.show()

    interact(show_weights, temperature=FloatLogSlider(value=1.0, base=10, min=-2, max=2, step=0.05,
                                                      description="temperature",
                                                      style={"description_width": "initial"}))  # the whole label

# %% [markdown]
# ## 7. Softmax as a soft argmax (core)
#
# The hard way to "attend" would be to pick the single best key: `argmax`. As a function of
# the scores it is a staircase: nudging a score changes nothing until the winner flips, and
# then the choice jumps. Its gradient is zero wherever it exists, so training gets no signal
# about which key *should* have won. Softmax is the smooth version of the same choice (a
# more accurate name would be *softargmax*): it returns a probability-like weight for every
# key, it moves a little when any score moves a little, and as $T \to 0$ it becomes the
# one-hot vector of the argmax.

# %%
scores4 = torch.tensor([1.0, 3.0, 2.5, 0.0], dtype=torch.float64)  # the winner is key 1, with key 2 close behind
positions = torch.arange(4, dtype=torch.float64)                    # 0, 1, 2, 3
print("one-hot of argmax:", torch.nn.functional.one_hot(scores4.argmax(), num_classes=4).double())
for T in (1.0, 0.3, 0.1, 0.01):
    w_T = softmax(scores4, temperature=T)  # (S,)
    print(f"T = {T:4}: weights {w_T}   soft position Σ w_i·i = {float(w_T @ positions):.4f}")
print("ties share the weight, even at T = 0.01:", softmax(torch.tensor([2.0, 2.0, 0.0]), temperature=0.01))

# %% [markdown]
# The weighted average of the positions, $\sum_i w_i\, i$, slides towards the argmax, 1, as
# the temperature falls: attention's weighted average of *values* (notebook 03) works the
# same way. When two scores tie, softmax splits the weight between them, where `argmax`
# would pick one arbitrarily.
#
# How does a weight respond to a score? The derivative of softmax has a tidy form,
#
# $$\frac{\partial w_i}{\partial x_j} = w_i\,(\delta_{ij} - w_j), \quad\text{i.e.}\quad J = \operatorname{diag}(w) - w\,w^\top,$$
#
# where $\delta_{ij}$, the Kronecker delta, is 1 when $i = j$ and 0 otherwise. Each row of $J$
# sums to 0: the weights always add up to 1, so raising one pulls the others down. We check
# the formula with autograd, PyTorch's automatic differentiation, which computes exact
# derivatives of the code it runs, then watch what temperature does to it.

# %%
J = torch.autograd.functional.jacobian(lambda z: softmax(z), scores4)  # (S, S): J[i, j] = d w_i / d x_j
w4 = softmax(scores4)                                                  # (S,)
torch.testing.assert_close(J, torch.diag(w4) - torch.outer(w4, w4))   # diag(w) - w wᵀ
print("Jacobian at T = 1 (equal to diag(w) - w wᵀ):\n", J)
print("rows sum to 0:", torch.allclose(J.sum(dim=1), torch.zeros(4, dtype=torch.float64)))
print()
for T in (1.0, 0.3, 0.1, 0.03, 0.01):
    J_T = torch.autograd.functional.jacobian(lambda z, T=T: softmax(z, temperature=T), scores4)  # T=T: this loop's T
    print(f"T = {T:4}: largest |d w_i / d x_j| = {float(J_T.abs().max()):.2e}")

# %% [markdown]
# At moderate temperatures the gradient is healthy (and dividing by a small $T$ even makes it
# larger, as long as the top two keys still share the weight). But once the weights saturate
# to nearly one-hot, the gradient collapses: at $T = 0.01$ it is about $10^{-20}$. A softmax
# that is too sharp is as hard to train as an argmax. That is exactly why scaled dot-product
# attention divides the scores by $\sqrt{D}$ (notebook 04): to keep softmax out of its
# saturated corner when the width $D$ of the queries and keys is large.

# %% [markdown]
# ## Exercises
#
# How the exercises work (a stub to complete, a check cell that names common mistakes, `check.hint("name")`
# for one hint at a time, a hidden solution) is explained once, in [00 · Welcome](00_welcome.ipynb).
#
# ### Exercise 1: a stable softmax
#
# Write `my_softmax(x)` for a torch tensor `x` of shape `(..., S)`: the softmax over the last
# axis, so that every row sums to 1, without overflow for scores of any finite size.
# Use only `torch.exp`, sums and maxima (not `torch.softmax`).

# %% tags=["exercise"] keep_output=false
def my_softmax(x):
    """x: torch tensor (..., S) -> weights (..., S) that sum to 1 along the last axis."""
    raise NotImplementedError("your code here")


# %% tags=["check"] keep_output=false
check.softmax(my_softmax)

# %% tags=["check"] keep_output=false
check.hint("softmax")

# %% tags=["solution"] jupyter={"source_hidden": true}
def my_softmax(x):
    """x: torch tensor (..., S) -> weights (..., S) that sum to 1 along the last axis."""
    m = x.amax(dim=-1, keepdim=True)        # (..., 1): each row's maximum
    e = torch.exp(x - m)                    # (..., S): every exponent <= 0
    return e / e.sum(dim=-1, keepdim=True)  # (..., S) / (..., 1)


# %% tags=["solution"]
# record=False: the course's own solution does not count in your progress (see attn_course.progress()).
check.softmax(my_softmax, record=False)

# %% [markdown]
# ### Exercise 2: softmax with a temperature
#
# Write `my_softmax_t(x, temperature)`: the softmax over the last axis of the scores at the
# given temperature, so that a high temperature flattens the weights and a low one sharpens
# them. You may use your `my_softmax`.
#
# Exercises 2 and 3 have no hint cell of their own, but hints exist for them too:
# `check.hint("softmax_temperature")` and `check.hint("logsumexp")`.

# %% tags=["exercise"] keep_output=false
def my_softmax_t(x, temperature):
    """x: torch tensor (..., S), temperature > 0 -> weights (..., S)."""
    raise NotImplementedError("your code here")


# %% tags=["check"] keep_output=false
check.softmax_temperature(my_softmax_t)

# %% tags=["solution"] jupyter={"source_hidden": true}
def my_softmax_t(x, temperature):
    """x: torch tensor (..., S), temperature > 0 -> weights (..., S)."""
    return my_softmax(x / temperature)  # divide: T > 1 shrinks the gaps between scores


# %% tags=["solution"]
# record=False: the course's own solution does not count in your progress (see attn_course.progress()).
check.softmax_temperature(my_softmax_t, record=False)

# %% [markdown]
# ### Exercise 3: log-sum-exp
#
# Write `my_logsumexp(x)` for a torch tensor `x` of shape `(..., S)`: $\log\sum_j e^{x_j}$ over
# the last axis, one number per row (shape `(...)`, like `torch.logsumexp(x, dim=-1)`), finite
# for scores near $\pm 10^4$.

# %% tags=["exercise"] keep_output=false
def my_logsumexp(x):
    """x: torch tensor (..., S) -> log(sum(exp(x))) over the last axis, shape (...)."""
    raise NotImplementedError("your code here")


# %% tags=["check"] keep_output=false
check.logsumexp(my_logsumexp)

# %% tags=["solution"] jupyter={"source_hidden": true}
def my_logsumexp(x):
    """x: torch tensor (..., S) -> log(sum(exp(x))) over the last axis, shape (...)."""
    m = x.amax(dim=-1, keepdim=True)                                # (..., 1)
    out = m + torch.log(torch.exp(x - m).sum(dim=-1, keepdim=True))  # (..., 1): add m back
    return out.squeeze(-1)                                           # (...)


# %% tags=["solution"]
# record=False: the course's own solution does not count in your progress (see attn_course.progress()).
check.logsumexp(my_logsumexp, record=False)

# %% [markdown]
# ## Summary
#
# You can now
# - explain softmax as "exponentiate, then normalise": positive, order-keeping weights that
#   sum to 1, where only the *differences* between scores matter;
# - see overflow coming ($e^{x}$ is `inf` above 88.7 in float32 and 11.1 in float16) and
#   prevent it by subtracting each row's maximum;
# - compute log-sum-exp stably and use it: $\operatorname{softmax}(x) = e^{x - \operatorname{LSE}(x)}$,
#   $\log\operatorname{softmax}(x) = x - \operatorname{LSE}(x)$;
# - sharpen or flatten weights with a temperature and measure the result by entropy, from
#   0 (one key) to $\log S$ (all keys);
# - describe softmax as a differentiable soft argmax whose gradient vanishes when it is too
#   sharp, the reason for attention's $1/\sqrt{D}$;
# - use `attn_course.softmax` (with `temperature=`) and `attn_course.logsumexp` on tensors and arrays.
#
# Next, notebook 03 puts scores, softmax and a weighted average together: attention as a
# soft lookup.
#
# ## Common pitfalls
#
# - **No max-subtraction.** Fine in tests with small random scores, NaN in a real model with
#   large ones, and much sooner in float16.
# - **One maximum for the whole tensor** instead of one per row: a row far below the global
#   maximum underflows to $0/0$. Use `amax(dim=-1, keepdim=True)`.
# - **The wrong axis.** Attention's weights sum to 1 over the *keys*, the last axis of
#   $(B, L, S)$; softmax over the queries gives numbers that look plausible and mean nothing.
# - **Forgetting `keepdim=True`**, so that the row sums no longer broadcast against the rows.
# - **`torch.log(torch.softmax(x))`** instead of `torch.log_softmax(x)` (that is, $x - \operatorname{LSE}$):
#   tiny weights round to 0 and their log is $-\infty$.
# - **Multiplying by the temperature** instead of dividing: a high temperature must flatten.
# - **Fully masked rows**: `torch.softmax` of a row of $-\infty$ is NaN; decide what it should
#   be (the course's answer, zeros, comes in notebook 04).
#
# ## Further reading
#
# - Goodfellow, Bengio, Courville, *Deep Learning*, section 4.1,
#   [Overflow and underflow](https://www.deeplearningbook.org/contents/numerical.html): the
#   max-subtraction trick, and section 6.2.2.3 on softmax units.
# - Blanchard, Higham, Higham (2021), [*Accurately computing the log-sum-exp and softmax
#   functions*](https://doi.org/10.1093/imanum/draa038), IMA Journal of Numerical Analysis:
#   the rounding-error analysis behind the shift.
# - Hinton, Vinyals, Dean (2015), [*Distilling the Knowledge in a Neural
#   Network*](https://arxiv.org/abs/1503.02531): temperature to soften a softmax on purpose.
# - Vaswani et al. (2017), [*Attention Is All You Need*](https://arxiv.org/abs/1706.03762),
#   section 3.2.1: the scaling by $1/\sqrt{d_k}$ (their $d_k$ is our $D$), against softmax saturation.
# - Jang, Gu, Poole (2017), [*Categorical Reparameterization with
#   Gumbel-Softmax*](https://arxiv.org/abs/1611.01144): softmax with a temperature as a
#   trainable stand-in for a hard choice.
# - Milakov, Gimelshein (2018), [*Online normalizer calculation for
#   softmax*](https://arxiv.org/abs/1805.02867): computing the maximum and the sum in one pass,
#   the idea behind FlashAttention (notebook 12).
# - PyTorch documentation: [`torch.nn.functional.softmax`](https://pytorch.org/docs/stable/generated/torch.nn.functional.softmax.html),
#   [`torch.logsumexp`](https://pytorch.org/docs/stable/generated/torch.logsumexp.html),
#   [`torch.nn.functional.log_softmax`](https://pytorch.org/docs/stable/generated/torch.nn.functional.log_softmax.html).
