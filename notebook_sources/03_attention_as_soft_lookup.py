# %% [markdown]
# # 03 · Attention as a soft lookup
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/attn-course/attention-step-by-step/blob/main/notebooks/03_attention_as_soft_lookup.ipynb)
#
# A Python dictionary answers a question only when you ask it with the exact key it stores.
# Attention is what you get when you relax that rule: compare the question with *every* key,
# turn the comparisons into weights, and return a weighted average of the stored values. This
# notebook builds that idea from the ordinary dictionary up, shows that a 1964 method for
# smoothing noisy data is the same computation, learns its one parameter by gradient descent,
# and uses it to explain a film recommendation. Every attention layer in the rest of the course
# is this soft lookup with learned queries, keys and values.
#
# **Learning goals.** After this notebook you can
# - **explain** why an exact (hard) lookup cannot be trained by gradient descent;
# - **compute** a soft lookup by hand: score every key, softmax, average the values;
# - **name** the roles of query, key and value in a concrete example;
# - **fit** a Nadaraya–Watson kernel regression and learn its bandwidth with leave-one-out training;
# - **read** attention weights as an explanation of an output.
#
# **Prerequisites.** [01 · Dot products and similarity](01_dot_products_and_similarity.ipynb)
# (scores as relevance) and [02 · Softmax](02_softmax.ipynb) (from scores to weights, temperature).
#
# **Time.** About 45 minutes of study.

# %%
# Only in Google Colab: install the course's helper package, attn_course, from GitHub. --no-deps keeps
# Colab's own torch, NumPy and matplotlib as they are. Anywhere else (your laptop, Binder, CI) this does nothing.
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "attn_course @ git+https://github.com/attn-course/attention-step-by-step"], check=True)

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch

from attn_course import (
    KernelRegression,
    cosine_scores,
    device,
    gaussian_kernel_weights,
    plot_attention,
    scaled_dot_product_attention,
    set_seed,
    softmax,
)
from attn_course.exercises import lookup as check

set_seed(0)
torch.set_num_threads(1)  # the same summation order on every machine, so stored outputs match
torch.set_printoptions(precision=4, sci_mode=False)
np.set_printoptions(precision=4, suppress=True)
DEVICE = device()

# %% [markdown]
# Everything in this notebook is tiny (at most about 10,000 numbers per tensor), so it runs on the
# CPU in a few seconds; `DEVICE` is set up as in every notebook but not needed here.
#
# ## 1. Hard lookup: a dictionary (core)
#
# A dictionary stores pairs *key → value*. You hand it a key, it hands back the value stored
# under exactly that key. Here is a greengrocer's price list (euros per kilogram):

# %%
price = {"apple": 2.5, "lemon": 3.0, "banana": 1.8, "carrot": 1.2, "cherry": 8.0}
print(price["apple"])

# %% [markdown]
# Ask for something that is not *exactly* a key and the dictionary has nothing to say, even when
# the question is obviously close to one of the keys:

# %% tags=["raises-exception"]
price["apples"]

# %% [markdown]
# ### The same table as tensors
#
# To make the lookup a piece of tensor arithmetic we describe every item by numbers. Each
# **key** is a vector of three taste ratings from 0 to 3: *sweet*, *sour*, *crunchy*. Each
# **value** is what we want to get back about the item: its price (€/kg) and its energy
# (kcal per 100 g, rounded textbook figures). Five items, so $S = 5$ keys of width $E = 3$ and
# five values of width $E_v = 2$.

# %%
items = ["apple", "lemon", "banana", "carrot", "cherry"]
keys = torch.tensor([  # (S, E) = (5, 3): sweet, sour, crunchy
    [2.0, 1.0, 3.0],   # apple
    [0.0, 3.0, 0.0],   # lemon
    [3.0, 0.0, 0.0],   # banana
    [1.0, 0.0, 3.0],   # carrot
    [2.0, 2.0, 0.0],   # cherry
])
values = torch.tensor([  # (S, Ev) = (5, 2): price in €/kg, kcal per 100 g
    [2.5, 52.0],
    [3.0, 29.0],
    [1.8, 89.0],
    [1.2, 41.0],
    [8.0, 50.0],
])
print("keys:", tuple(keys.shape), " values:", tuple(values.shape))

# %% [markdown]
# A hard lookup in tensor form gives each key a weight of 1 if it equals the query in every
# coordinate and 0 otherwise, then returns `weights @ values`. With exactly one matching key the
# weights are *one-hot* and the product picks out that key's value row.

# %%
def hard_lookup(query, keys, values):
    """Exact-match lookup: (E,), (S, E), (S, Ev) -> output (Ev,), weights (S,)."""
    weights = (keys == query).all(dim=-1).float()  # (S,): 1 where the whole key equals the query
    return weights @ values, weights                # (S,) @ (S, Ev) -> (Ev,)


out, w = hard_lookup(torch.tensor([2.0, 1.0, 3.0]), keys, values)  # exactly apple's key
print("exact apple:      weights", w, "-> output", out)
out, w = hard_lookup(torch.tensor([2.0, 1.0, 2.9]), keys, values)  # an apple a shade less crunchy
print("almost an apple:  weights", w, "-> output", out)

# %% [markdown]
# The second query misses every key, so all its weights are 0 and the output is a vector of
# zeros: worse than the dictionary's `KeyError`, because it fails silently.
#
# A first repair is to return the *most similar* key instead of an equal one: score every key
# with a dot product (notebook 01) and take the `argmax`. Now every query gets an answer:

# %%
def argmax_lookup(query, keys, values):
    """Nearest-key lookup: (E,), (S, E), (S, Ev) -> output (Ev,), one-hot weights (S,)."""
    scores = keys @ query                                                  # (S, E) @ (E,) -> (S,)
    weights = torch.nn.functional.one_hot(scores.argmax(), len(keys)).float()  # (S,) one-hot
    return weights @ values, weights                                       # (S,) @ (S, Ev) -> (Ev,)


query = torch.tensor([2.0, 1.0, 2.9], requires_grad=True)  # ask autograd to track the query
out, w = argmax_lookup(query, keys, values)
print("weights", w.detach(), "-> output", out.detach())
print("can autograd reach the query from the output?", out.requires_grad)

# %% [markdown]
# It found the apple, but the answer is **not differentiable**. In a neural network the queries
# and keys are produced by learned layers, and training needs to know *how the output would
# change if the query moved a little*. Here there is no answer to that question, for two reasons:
#
# 1. `argmax` returns an integer index; autograd has no path from the output back to the query
#    (`requires_grad` is `False` above).
# 2. Even in principle, the output is piecewise constant: nudge the query and either nothing
#    changes (gradient 0) or the answer jumps to another item (no gradient at all). Section 2 draws
#    this staircase.
#
# So a hard lookup fails twice: an exact match finds nothing for a new query, and a nearest match
# cannot be trained.
#
# ## 2. Soft lookup: score, softmax, average (core)
#
# The fix is to stop choosing. Let every key contribute, in proportion to how well it matches:
#
# $$
# \text{scores } s_j = \mathbf q \cdot \mathbf k_j, \qquad
# \alpha_j = \operatorname{softmax}(\mathbf s)_j = \frac{e^{s_j}}{\sum_{i=1}^{S} e^{s_i}}, \qquad
# \text{output} = \sum_{j=1}^{S} \alpha_j \mathbf v_j .
# $$
#
# The weights $\alpha_j$ are positive and sum to 1, so the output is a weighted average of the
# values, and every step is smooth in $\mathbf q$, the keys and the values.
#
# The three roles, in the greengrocer's table:
#
# | role | what it is | here |
# |---|---|---|
# | **query** $\mathbf q$ | what you are looking for | "something sweet and crunchy": $(1, 0, 1)$ |
# | **key** $\mathbf k_j$ | how item $j$ is described, to be *matched* against the query | the taste ratings of each item |
# | **value** $\mathbf v_j$ | what item $j$ hands back when it matches | price and kcal of each item |
#
# Keys and values are separate on purpose: what you search *by* need not be what you get *back*.
# The query and keys must have the same width $E$ (they are compared); the values may have any
# width $E_v$.

# %%
def soft_lookup_one(query, keys, values):
    """Soft lookup of one query: (E,), (S, E), (S, Ev) -> output (Ev,), weights (S,)."""
    scores = keys @ query               # (S, E) @ (E,) -> (S,): one score per key
    weights = softmax(scores, dim=-1)   # (S,): positive, sum to 1
    return weights @ values, weights    # (S,) @ (S, Ev) -> (Ev,): weighted average of the values


query = torch.tensor([1.0, 0.0, 1.0])  # sweet and crunchy
out, w = soft_lookup_one(query, keys, values)
print("scores :", keys @ query)
print("weights:", w, " sum =", round(float(w.sum()), 4))
print("output :", out, " (price €/kg, kcal)")

# %% [markdown]
# Reading the numbers: the apple scores highest (sweet *and* crunchy) and takes most of the
# weight, the carrot (crunchy, a little sweet) comes second, the lemon (neither) gets almost
# nothing. The output is a blend of their price and kcal rows, dominated by the apple's. No item
# is the answer; the answer is a mixture.
#
# Unlike the argmax, this output has a gradient with respect to the query. Which direction of
# "taste" would raise the kcal of the answer?

# %%
query = torch.tensor([1.0, 0.0, 1.0], requires_grad=True)
out, w = soft_lookup_one(query, keys, values)
out[1].backward()  # d(kcal of the answer) / d(query)
print("d kcal / d (sweet, sour, crunchy):", query.grad)

# %% [markdown]
# Asking for *sweeter* raises the kcal; asking for *crunchier* lowers it. Where does that come
# from? The query moves the **weights**, and the weights move the answer. The weights always sum
# to 1, so weight gained by one item is lost by others, and the gradient splits into one term per
# item:
#
# $$
# \frac{\partial\, \text{kcal}}{\partial q_\text{crunchy}}
#   = \sum_{j} \frac{\partial \alpha_j}{\partial q_\text{crunchy}}
#     \bigl(\text{kcal}_j - \text{kcal of the answer}\bigr).
# $$
#
# Weight moved onto an item whose kcal is close to the answer's changes little. The next cell
# computes the five terms; they add up to the gradient above.

# %%
weight_grad = torch.autograd.functional.jacobian(
    lambda q: soft_lookup_one(q, keys, values)[1], query.detach())  # (S, E): d alpha_j / d query
effect = weight_grad[:, 2] * (values[:, 1] - out[1].detach())       # (S,): contribution to d kcal / d crunchy
print(f"{'item':<8}{'kcal':>6}{'d weight / d crunchy':>22}{'effect on d kcal':>18}")
for name, kcal, dw, e in zip(items, values[:, 1], weight_grad[:, 2], effect):
    print(f"{name:<8}{kcal:>6.0f}{dw:>+22.3f}{e:>+18.2f}")
weight_change = round(float(weight_grad[:, 2].sum()), 3) + 0.0  # the weights still sum to 1; + 0.0 avoids "-0.000"
print(f"{'sum':<8}{'':>6}{weight_change:>+22.3f}{float(effect.sum()):>+18.2f}"
      f"   (autograd above: {float(query.grad[2]):+.2f})")

# %% [markdown]
# Asking for crunchier moves weight from the banana, which is not crunchy at all, to the apple
# and the carrot. The apple has about the kcal of the answer already, so its gain changes little;
# almost all of the drop comes from moving **away from the banana**, the most energetic item.
# That is exactly the signal gradient descent needs: which way to move the query, and why.
#
# ### Several queries at once
#
# Each query gets its own row of weights. Stacking the rows of $L$ queries gives an $L \times S$
# matrix, the picture you will see in every notebook from here on, drawn by
# `attn_course.plot_attention`: queries down, keys across.

# %%
query_names = ["sweet & crunchy", "sour", "sweet", "sweet & sour"]
queries = torch.tensor([  # (L, E) = (4, 3)
    [1.0, 0.0, 1.0],
    [0.0, 1.0, 0.0],
    [1.0, 0.0, 0.0],
    [1.0, 1.0, 0.0],
])
results = [soft_lookup_one(q, keys, values) for q in queries]
outputs = torch.stack([o for o, _ in results])  # (L, Ev)
weights = torch.stack([w for _, w in results])  # (L, S)
print("outputs (price €/kg, kcal):")
print(outputs)
print("scores of 'sweet & sour':", ", ".join(f"{n} {sc:.3g}" for n, sc in zip(items, keys @ queries[3])))

# %%
ax = plot_attention(weights, query_names, items, title="Soft lookup in the greengrocer's table")
ax.set_xlabel("item (key)")
ax.set_ylabel("query")
plt.show()

# %% [markdown]
# Each row sums to 1. "Sour" goes mostly to the lemon, "sweet" mostly to the banana, and
# "sweet & sour" finds the cherry but spreads the other half of its weight evenly over apple,
# lemon and banana, which match it equally well (score 3 each, against the cherry's 4).
#
# ### Sharpening: soft lookup approaches hard lookup
#
# Multiply all scores by a factor $c \ge 0$ (a temperature of $1/c$, notebook 02). At $c = 0$
# every key gets the same weight $1/S$ and the output is the plain average of all values; as $c$
# grows the largest score takes over and the weights approach the one-hot weights of the argmax
# lookup. Because the scores are linear in the query, multiplying the scores by $c$ is the same
# as multiplying the **query** by $c$: a longer query makes a sharper lookup. (Keep this in mind
# for notebook 04, where the width of the vectors changes their length.)

# %%
query = torch.tensor([1.0, 0.0, 1.0])
factors = [0.0, 0.5, 1.0, 2.0, 5.0, 20.0]
sharp = torch.stack([softmax(c * (keys @ query), dim=-1) for c in factors])  # (6, S)
same = torch.stack([soft_lookup_one(c * query, keys, values)[1] for c in factors])
print("scaling the scores == scaling the query:", torch.allclose(sharp, same))
print("weights at c = 0 are all 1/S:", torch.allclose(sharp[0], torch.full((5,), 1 / 5)))
hard_out, hard_w = argmax_lookup(query, keys, values)
for c, w in zip(factors, sharp):
    print(f"c = {c:4}: largest weight {w.max():.3f}, output {(w @ values).numpy()}")
print("argmax lookup:               output", hard_out.numpy())

# %% [markdown]
# The figure below shows the same thing twice. Left: the weights of this one query as $c$ grows.
# Right: the query walks in a straight line from "sour" $(0, 1, 0)$ to "sweet" $(1, 0, 0)$, and we
# plot the kcal of the answer along the way. The argmax lookup is a staircase (lemon, then cherry,
# then banana); the soft lookup is a smooth curve that hugs the staircase more closely as $c$ grows.

# %%
t = torch.linspace(0, 1, 201)
path = (1 - t)[:, None] * torch.tensor([0.0, 1.0, 0.0]) + t[:, None] * torch.tensor([1.0, 0.0, 0.0])  # (201, E)

fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(12, 3.8), gridspec_kw={"width_ratios": [1, 1.2]})
plot_attention(sharp, [f"c = {c:g}" for c in factors], items, ax=ax0,
               title="Weights of 'sweet & crunchy' as the scores sharpen")
ax0.set_xlabel("item (key)")
ax0.set_ylabel("score factor c")
for c in [1.0, 3.0, 10.0]:
    kcal = torch.stack([soft_lookup_one(c * q, keys, values)[0][1] for q in path])
    ax1.plot(t, kcal, label=f"soft, c = {c:g}")
hard_kcal = torch.stack([argmax_lookup(q, keys, values)[0][1] for q in path])
ax1.plot(t, hard_kcal, "k--", label="hard (argmax)")
ax1.set_xlabel("position on the path: 0 = 'sour', 1 = 'sweet'")
ax1.set_ylabel("kcal of the answer")
ax1.set_title("Soft lookup is smooth; hard lookup jumps")
ax1.legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 3. Attention pooling as kernel regression (Nadaraya–Watson, 1964) (core)
#
# The same recipe, *score every key, softmax, average the values*, was used in statistics long
# before neural networks, to smooth noisy measurements. Nadaraya and Watson (independently, in
# 1964) estimated an unknown function $f$ from pairs $(x_i, y_i)$ by answering a query $x$ with a
# weighted average of the $y_i$, giving more weight to the $x_i$ near $x$. In attention language:
# the **query** is the new input $x$, the **keys** are the training inputs $x_i$, the **values**
# are the training outputs $y_i$. Only the score changes: closeness on a line instead of a dot
# product.
#
# ### The data
#
# We draw $S = 50$ training inputs uniformly from $[0, 5]$, with outputs
# $y = 2\sin x + x^{0.8} + \varepsilon$, where the noise $\varepsilon$ has standard deviation 0.5.
# A separate **held-out** set of 200 points, never used to fit or choose anything, measures how
# well each method generalises. Since its targets carry the same noise, no method can expect a
# held-out mean squared error (MSE) below the noise variance $0.5^2 = 0.25$; on this particular
# sample even the true function scores a little differently, as the table in the next section shows.

# %%
def f(x):
    """The true function, unknown to the methods."""
    return 2 * torch.sin(x) + x**0.8


gen = torch.Generator().manual_seed(0)  # a private generator: the data never depends on cell order
n_train, n_test, noise = 50, 200, 0.5
x_train = torch.sort(5 * torch.rand(n_train, generator=gen)).values  # (S,), sorted so heatmaps read left to right
y_train = f(x_train) + noise * torch.randn(n_train, generator=gen)    # (S,)
x_test = 5 * torch.rand(n_test, generator=gen)                        # held out
y_test = f(x_test) + noise * torch.randn(n_test, generator=gen)
x_grid = torch.linspace(0, 5, 41)                                     # (L,) = (41,) queries for the pictures


def mse(prediction, target):
    """Mean squared error as a Python float."""
    return float(((prediction - target) ** 2).mean())


print("train:", tuple(x_train.shape), " held out:", tuple(x_test.shape), " grid:", tuple(x_grid.shape))
print("first training pairs:", x_train[:3], y_train[:3])

# %% [markdown]
# ### No attention: the average of all values
#
# The simplest pooling ignores the query altogether: every prediction is the mean of all
# training outputs. That is the soft lookup with all scores equal ($c = 0$ above): uniform
# weights $1/S$.

# %%
y_mean = y_train.mean()
print(f"prediction everywhere: {y_mean:.3f}")
print(f"held-out MSE of the average: {mse(y_mean.expand(n_test), y_test):#.3g}")

# %%
fig, ax = plt.subplots(figsize=(7, 3.5))
ax.plot(x_grid, f(x_grid), "k-", lw=1, label="true f(x)")
ax.plot(x_train, y_train, "o", ms=4, alpha=0.6, label="training data")
ax.axhline(y_mean, color="C3", label="average of all values")
ax.set_xlabel("x")
ax.set_ylabel("y")
ax.set_title("Training data and the query-blind baseline")
ax.legend()
plt.show()

# %% [markdown]
# The flat line misses the whole shape of the function: without a query-dependent weighting,
# the output cannot depend on where you ask.
#
# ### Gaussian kernel weights
#
# Let the score be minus the squared distance, divided by $2h^2$:
#
# $$
# s_i(x) = -\frac{(x - x_i)^2}{2h^2}, \qquad
# \alpha_i(x) = \operatorname{softmax}_i\bigl(s(x)\bigr)
#   = \frac{\exp\!\bigl(-(x - x_i)^2 / (2h^2)\bigr)}{\sum_{j} \exp\!\bigl(-(x - x_j)^2 / (2h^2)\bigr)}, \qquad
# \hat f(x) = \sum_i \alpha_i(x)\, y_i .
# $$
#
# The exponential of the score is a Gaussian bell centred on the query, so the softmax is the
# Nadaraya–Watson estimator with a Gaussian kernel. The **bandwidth** $h$ is the width of the
# bell: training points within about $h$ of the query share the weight, points several $h$ away
# get almost none. A key exactly at the query would score 0, the highest possible score.
#
# First, one query by hand:

# %%
def kernel_weights_one(x_query, x_keys, h):
    """Gaussian-kernel weights of one query: scalar, (S,), h -> (S,)."""
    scores = -((x_query - x_keys) ** 2) / (2 * h**2)  # (S,): the closer the key, the higher (max 0)
    return softmax(scores, dim=-1)                     # (S,): sum to 1


w = kernel_weights_one(torch.tensor(2.5), x_train, h=0.5)
top = w.argsort(descending=True)[:4]
print("query x = 2.5, h = 0.5; the four heaviest keys:")
for i in top:
    print(f"  x_i = {x_train[i]:.3f}   weight {w[i]:.3f}   y_i = {y_train[i]:.3f}")
print(f"prediction {w @ y_train:.3f}   (true f(2.5) = {f(torch.tensor(2.5)):.3f})")

# %% [markdown]
# The package's `gaussian_kernel_weights(queries, keys, bandwidth)` computes all $L$ queries at
# once, an $(L, S)$ matrix. It equals our derivation stacked query by query:

# %%
mine = torch.stack([kernel_weights_one(xq, x_train, 0.5) for xq in x_grid])  # (L, S)
theirs = gaussian_kernel_weights(x_grid, x_train, 0.5)                        # (L, S)
torch.testing.assert_close(theirs, mine)
print("gaussian_kernel_weights matches the derivation:", tuple(theirs.shape))

# %% [markdown]
# ### Choosing the bandwidth by hand
#
# Three bandwidths, from too small to too large. We predict on the grid for the pictures and on
# the held-out points for the score.

# %%
bandwidths = [0.05, 0.5, 2.0]
heldout = {}
for h in bandwidths:
    heldout[h] = mse(gaussian_kernel_weights(x_test, x_train, h) @ y_train, y_test)  # (L, S) @ (S,) -> (L,)
    print(f"h = {h:4}: held-out MSE {heldout[h]:#.3g}")

# %%
fig, axes = plt.subplots(2, 3, figsize=(15, 8.5), gridspec_kw={"height_ratios": [1, 1.3]})
xticks, yticks = list(range(0, n_train, 10)), list(range(0, len(x_grid), 8))  # keys 0, 10, ...; queries 0, 8, ...
for col, h in enumerate(bandwidths):
    w_grid = gaussian_kernel_weights(x_grid, x_train, h)  # (L, S)
    ax = axes[0, col]
    ax.plot(x_grid, f(x_grid), "k-", lw=1, label="true f(x)")
    ax.plot(x_train, y_train, "o", ms=3, alpha=0.5, label="training data")
    ax.plot(x_grid, w_grid @ y_train, "C3-", lw=2, label="prediction")  # (L, S) @ (S,) -> (L,)
    ax.set_title(f"h = {h}: held-out MSE {heldout[h]:#.3g}")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.legend(fontsize=8)
    ax = plot_attention(w_grid, ax=axes[1, col], annotate=False, vmax=float(w_grid.max()),  # own colour scale
                        title=f"weights, h = {h} (colours up to {w_grid.max():.2f})")
    ax.set_xticks(xticks, [f"{x_train[i]:.1f}" for i in xticks], rotation=0)
    ax.set_yticks(yticks, [f"{x_grid[i]:.1f}" for i in yticks])
    ax.set_xlabel("training input $x_i$ (key, sorted)")
    ax.set_ylabel("query x")
fig.suptitle("Gaussian attention pooling: too narrow, about right, too wide")
fig.tight_layout()
plt.show()

# %% [markdown]
# (Each heatmap has its own colour scale: with a wide bell no single weight comes near 1.)
# With $h = 0.05$ each query listens almost only to its nearest training point: the heatmap is a
# thin staircase, and the prediction copies the noise. With $h = 2$ each query spreads its
# attention over most of the data: the heatmap is a broad smear, and the prediction flattens
# towards the overall average. In between, a band of moderate width follows the curve. The
# diagonal band is what "attention to nearby inputs" looks like.
#
# ### Learning the bandwidth, and why we must leave one out
#
# `attn_course.KernelRegression` is the same model with $h$ as a trainable parameter (stored as
# $\log h$, so $h$ stays positive). Its `forward(queries, keys, values, attn_mask=None)` returns the predictions
# and keeps the weights in `model.weights`.
#
# The obvious training loss is the error on the training points themselves:
# `model(x_train, x_train, y_train)` versus `y_train`. **That loss is minimised by $h \to 0$.**
# Each training input is also one of the keys, at distance 0; as $h$ shrinks, its own weight
# goes to 1 and the prediction at $x_i$ becomes $y_i$ itself, noise included. The training error
# reaches zero and the model is the wiggliest possible one.
#
# The fix is **leave-one-out**: predict each $y_i$ from all the *other* points. In attention terms,
# we forbid each query to attend to its own key with a **mask** that is False on the diagonal
# (True = may attend, the convention of the whole course). The forbidden scores become $-\infty$
# before the softmax, so they get exactly zero weight and the other weights still sum to 1 — the
# same as zeroing the diagonal of the weights and renormalising each row, as the next cell checks.
# `gaussian_kernel_weights` and `KernelRegression` take such a mask as `attn_mask`. Now a point's
# own noisy value cannot help predict it, and a tiny $h$ is punished instead of rewarded.

# %%
others = ~torch.eye(n_train, dtype=torch.bool)  # (S, S) True = may attend: every point but itself


def loo_predict(x, y, h):
    """Leave-one-out Nadaraya–Watson predictions: each y_i from the other points. (S,), (S,) -> (S,)."""
    w = gaussian_kernel_weights(x, x, h, attn_mask=others)  # (S, S), the diagonal exactly 0
    return w @ y                                            # (S, S) @ (S,) -> (S,)


w_renorm = gaussian_kernel_weights(x_train, x_train, 0.5).masked_fill(~others, 0.0)  # zero the diagonal...
w_renorm = w_renorm / w_renorm.sum(dim=-1, keepdim=True)                            # ...and renormalise
print("masking the scores with -inf == renormalising the weights:",
      torch.allclose(loo_predict(x_train, y_train, 0.5), w_renorm @ y_train))
print(f"h = 0.5: training MSE with itself {mse(gaussian_kernel_weights(x_train, x_train, 0.5) @ y_train, y_train):#.3g}, "
      f"leave-one-out {mse(loo_predict(x_train, y_train, 0.5), y_train):#.3g}")

# %% [markdown]
# Now train two models from $h = 1$ with Adam, one on each loss: 150 steps of a $50 \times 50$
# attention matrix, well under a second each.

# %%
def train_bandwidth(leave_one_out, steps=150, lr=0.05):
    """Fit KernelRegression's bandwidth on the training set; return the model and the bandwidth after each step."""
    model = KernelRegression(bandwidth=1.0)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history = []
    for _ in range(steps):
        if leave_one_out:
            prediction = model(x_train, x_train, y_train, attn_mask=others)  # (S,): each point sees the others
        else:
            prediction = model(x_train, x_train, y_train)                          # (S,): each point sees itself
        loss = ((prediction - y_train) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        history.append(model.bandwidth)
    return model, history


model_naive, naive_history = train_bandwidth(leave_one_out=False)
model_loo, loo_history = train_bandwidth(leave_one_out=True)

# %% [markdown]
# The bandwidth after every 30 steps, for both models:

# %%
print(f"{'step':>6}{'h, with itself':>17}{'h, leave-one-out':>19}")
for step in range(29, 150, 30):
    print(f"{step + 1:>6}{naive_history[step]:>17.3g}{loo_history[step]:>19.3g}")

# %% [markdown]
# The naive bandwidth keeps shrinking, because every
# step towards 0 lowers its training loss; the leave-one-out bandwidth settles. Which one learned
# the function? Only data the training never saw can say:

# %%
with torch.no_grad():
    h_naive, h_loo = naive_history[-1], loo_history[-1]
    mse_naive_train = mse(model_naive(x_train, x_train, y_train), y_train)
    mse_naive = mse(model_naive(x_test, x_train, y_train), y_test)
    mse_loo = mse(model_loo(x_test, x_train, y_train), y_test)  # KernelRegression.forward: no mask needed for new queries
print(f"learned bandwidth (leave-one-out): h = {h_loo:.3g}")
mse_truth = mse(f(x_test), y_test)  # the true function itself: the error no model can beat on average
print(f"the naive model's own training MSE: {mse_naive_train:#.3g}; below the noise variance {noise**2:.2f}:",
      bool(mse_naive_train < noise**2))
print()
print(f"{'method':<26}{'h':>8}{'held-out MSE':>15}")
print(f"{'average of all values':<26}{'-':>8}{mse(y_mean.expand(n_test), y_test):>#15.3g}")
for h in bandwidths:
    print(f"{'fixed bandwidth':<26}{h:>8.3g}{heldout[h]:>#15.3g}")
print(f"{'learned, with itself':<26}{h_naive:>8.3g}{mse_naive:>#15.3g}")
print(f"{'learned, leave-one-out':<26}{h_loo:>8.3g}{mse_loo:>#15.3g}")
print(f"{'the true f (noise floor)':<26}{'-':>8}{mse_truth:>#15.3g}")

# %% [markdown]
# The leave-one-out bandwidth beats every hand-picked one on data it never saw, although no
# held-out point was used to choose it. The naive model is on its way to a nearest-neighbour
# lookup: better than the noise allows on its own training points, on new data worse than two of
# the three hand-picked bandwidths. The last row is the floor: even the true function $f$ misses
# the noisy held-out values by that much.
#
# The left panel below shows why, with both losses as functions of $h$: the loss "with itself"
# only ever decreases as $h \to 0$, so gradient descent slides down to 0; the leave-one-out loss
# has a valley. Right: the fit with the learned bandwidth.

# %%
h_range = torch.logspace(-1.5, 0.5, 60)  # 0.03 ... 3.2
with torch.no_grad():
    curve_self = [mse(gaussian_kernel_weights(x_train, x_train, h) @ y_train, y_train) for h in h_range]
    curve_loo = [mse(loo_predict(x_train, y_train, h), y_train) for h in h_range]
    curve_test = [mse(gaussian_kernel_weights(x_test, x_train, h) @ y_train, y_test) for h in h_range]
    fit = model_loo(x_grid, x_train, y_train)  # (L,)
print("every curve finite:", all(np.isfinite(curve_self + curve_loo + curve_test)))
print(f"h at the bottom of the leave-one-out curve: {h_range[int(np.argmin(curve_loo))]:.2f}; "
      f"of the held-out curve: {h_range[int(np.argmin(curve_test))]:.2f}")

fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(13, 4))
ax0.plot(h_range, curve_self, label="training, each point sees itself")
ax0.plot(h_range, curve_loo, label="training, leave-one-out")
ax0.plot(h_range, curve_test, "--", label="held out (never trained on)")
ax0.axvline(h_loo, color="gray", lw=1, label=f"learned h = {h_loo:.3g}")
ax0.axhline(noise**2, color="gray", lw=1, ls=":", label=f"noise variance {noise**2:.2f}")
ax0.set_xscale("log")
ax0.set_xlabel("bandwidth h (log scale)")
ax0.set_ylabel("mean squared error")
ax0.set_title("The training loss with itself always prefers a smaller h")
ax0.legend(fontsize=8)
ax1.plot(x_grid, f(x_grid), "k-", lw=1, label="true f(x)")
ax1.plot(x_train, y_train, "o", ms=4, alpha=0.5, label="training data")
ax1.plot(x_grid, fit, "C3-", lw=2, label=f"learned h = {h_loo:.3g}")
ax1.set_xlabel("x")
ax1.set_ylabel("y")
ax1.set_title("Nadaraya–Watson with the leave-one-out bandwidth")
ax1.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# The leave-one-out valley bottoms out at $h = 0.26$ on this grid, next to the bottom of the
# held-out curve at $h = 0.28$, a curve training never sees.
#
# Two things carry over to every attention layer. The output is always a weighted average of
# the values, so it stays inside their range: note how the fit bends inwards at both ends of the
# data, where all the neighbours lie on one side. And a query that may attend to a copy of its
# own answer will learn to copy it, so training must keep the answer out of reach.
#
# How depends on where the answer sits. Here it sits on the **diagonal**: query $i$ is $x_i$,
# identical to key $i$, whose value is $y_i$, the very number query $i$ must predict, so
# leave-one-out hides the diagonal and nothing else.
# A language model is arranged differently. Its target at position $t$ is the *next* token,
# $t + 1$ (inputs and targets are the same text shifted by one), so the answer sits in the
# future. Its **causal mask** (notebook 04) hides the future and *keeps* the diagonal: token $t$
# is input, not answer, and may attend to itself. The two masks are not interchangeable:
# hiding the diagonal in a language model is the off-by-one bug that notebook 04's checker
# names, and keeping it here brings back the collapse to $h \to 0$.
#
# ## 4. A recommendation, explained by its weights (core)
#
# A user has rated eight films. Each film has a small hand-made embedding with five features,
# *sci-fi, action, romance, comedy, animation*, each 0 to 2. To guess how the user would rate a
# new film, let the new film be the **query**, the embeddings of the rated films the **keys**,
# and the user's ratings the **values**: the prediction is a weighted average of the user's own
# ratings, weighted by how similar each rated film is to the candidate.

# %%
rated_films = ["Alien", "Blade Runner", "The Matrix", "Die Hard", "Titanic", "Notting Hill", "Toy Story", "Shrek"]
rated_keys = torch.tensor([  # (S, E) = (8, 5): sci-fi, action, romance, comedy, animation
    [2.0, 1.0, 0.0, 0.0, 0.0],  # Alien
    [2.0, 1.0, 1.0, 0.0, 0.0],  # Blade Runner
    [2.0, 2.0, 0.0, 0.0, 0.0],  # The Matrix
    [0.0, 2.0, 0.0, 1.0, 0.0],  # Die Hard
    [0.0, 1.0, 2.0, 0.0, 0.0],  # Titanic
    [0.0, 0.0, 2.0, 1.0, 0.0],  # Notting Hill
    [0.0, 0.0, 0.0, 2.0, 2.0],  # Toy Story
    [0.0, 0.0, 1.0, 2.0, 2.0],  # Shrek
])
ratings = torch.tensor([[5.0], [4.0], [5.0], [4.0], [2.0], [2.0], [3.0], [3.0]])  # (S, Ev) = (8, 1): stars
candidates = ["Interstellar", "Love Actually"]
candidate_queries = torch.tensor([  # (L, E) = (2, 5)
    [2.0, 1.0, 1.0, 0.0, 0.0],  # Interstellar: sci-fi, some action, some romance
    [0.0, 0.0, 2.0, 2.0, 0.0],  # Love Actually: romance and comedy
])
rec = [soft_lookup_one(q, rated_keys, ratings) for q in candidate_queries]
rec_weights = torch.stack([w for _, w in rec])  # (L, S)
for name, (pred, w) in zip(candidates, rec):
    top = w.argsort(descending=True)[:3]
    because = ", ".join(f"{rated_films[i]} ({w[i]:.2f} × {ratings[i, 0]:.0f}★)" for i in top)
    print(f"{name:<14} predicted {pred.item():.2f}★  mostly from {because}")

# %%
labels = [f"{name} {r:.0f}★" for name, r in zip(rated_films, ratings[:, 0])]
fig, ax = plt.subplots(figsize=(7, 3))
plot_attention(rec_weights, candidates, labels, ax=ax, title="Which rated films explain each prediction")
ax.set_xlabel("film the user rated (key), with the rating (value)")
ax.set_ylabel("candidate (query)")
plt.show()

# %% [markdown]
# The weights *are* the explanation. Interstellar is predicted high because it looks like Blade
# Runner and The Matrix, which the user loved. Love Actually is predicted low because its
# attention lands on Notting Hill (2★), and equally on Shrek (3★), which shares its romance and
# comedy. A recommender built this way can always say *because you rated ...*.
#
# Two limits are visible too. The prediction can never leave the range of the user's own ratings
# (a convex combination of values between 2 and 5). And the dot product only adds up what the query
# and a key have in common: it does not penalise a key for features the query lacks, and a longer
# key scores more. The next cell prints each film's key length, its dot-product score and, for
# comparison, notebook 01's cosine score, which divides out both lengths.

# %%
dot = candidate_queries @ rated_keys.T                  # (L, E) @ (E, S) -> (L, S), the scores used above
cosine = cosine_scores(candidate_queries, rated_keys)   # (L, S): dot products of unit vectors
print(f"{'':<14}{'':>6}{'Interstellar':>16}{'Love Actually':>17}")
print(f"{'rated film':<14}{'|key|':>6}{'dot':>7}{'cosine':>9}{'dot':>8}{'cosine':>9}")
for i, name in enumerate(rated_films):
    print(f"{name:<14}{rated_keys[i].norm():>6.2f}{dot[0, i]:>7.0f}{cosine[0, i]:>9.3f}"
          f"{dot[1, i]:>8.0f}{cosine[1, i]:>9.3f}")

# %% [markdown]
# Love Actually (romance 2, comedy 2) gives Shrek the same score as Notting Hill, 6, although it
# has nothing animated about it. Shrek's animation feature meets a 0 in the query, so it adds
# nothing to the dot product, but it takes nothing away either. Cosine does take it into account,
# through the key's length, and ranks Notting Hill (0.949) clearly above Shrek (0.707).
#
# The length effect on its own shows in Interstellar's columns. Its query is *identical* to Blade
# Runner's key, the best match there can be, yet The Matrix ties with it at 6: the Matrix's key is
# longer (2.83 against 2.45), and a longer key buys a larger dot product. Cosine separates them,
# 1.000 against 0.866. Cosine scores, or learned embeddings whose lengths carry meaning, address
# both effects; notebook 04 meets length again, when the vectors get wider.
#
# ## 5. Why this is called attention (core)
#
# Everything in this notebook had the same three parts: a **query** says what is wanted, **keys**
# are compared with it to give weights, and **values** are averaged with those weights. Only the
# score changed: a dot product for the greengrocer and the films, minus a squared distance for
# the kernel regression. In a neural network the queries, keys and values are not hand-made;
# they are computed from the data by learned layers, and gradient descent shapes them through the
# smooth soft lookup. Bahdanau et al. (2014) did exactly this to let a translation model look
# back at the relevant source words (notebook 05).
#
# Stack the $L$ queries as the rows of a matrix $Q$ $(L \times E)$, the keys as $K$ $(S \times E)$ and
# the values as $V$ $(S \times E_v)$, and all the lookups of this notebook become one formula:
#
# $$
# \operatorname{Attention}(Q, K, V) = \operatorname{softmax}\bigl(Q K^\top\bigr)\, V, \qquad
# (L \times E)(E \times S) \to (L \times S), \quad (L \times S)(S \times E_v) \to (L \times E_v),
# $$
#
# with the softmax along each row. Notebook 04 adds one factor, $1/\sqrt{D}$, in front of
# $Q K^\top$, where $D$ is the width of the queries and keys ($D = E$ here: they are the raw
# feature vectors). It is one constant per width: it keeps the typical size of the scores from
# growing with $D$, but it cannot undo length differences between individual keys (section 4's
# films rank the same under any constant scale). Notebook 04 adds batching and masks too. The
# package's `scaled_dot_product_attention` with that factor switched off (`scale=1.0`) is our
# soft lookup, for all queries at once:

# %%
out_all, w_all = scaled_dot_product_attention(queries, keys, values, scale=1.0, return_weights=True)
torch.testing.assert_close(out_all, outputs)  # (L, Ev), the greengrocer's four queries
torch.testing.assert_close(w_all, weights)    # (L, S)
print("scaled_dot_product_attention(scale=1) == soft lookup of every query:", tuple(out_all.shape))

# %% [markdown]
# ## Exercises
#
# How the exercises work (a stub to complete, a check cell that names common mistakes, `check.hint("name")`
# for one hint at a time, a hidden solution) is explained once, in [00 · Welcome](00_welcome.ipynb).
# For example:

# %%
check.hint("soft_lookup")

# %% [markdown]
# ### Exercise 1 · Soft lookup for many queries at once
#
# Write `my_soft_lookup(queries, keys, values)` for queries $(L, E)$, keys $(S, E)$ and values
# $(S, E_v)$, returning the $(L, E_v)$ outputs $\operatorname{softmax}(Q K^\top) V$, with no
# scaling and no Python loop. You may use `softmax` from `attn_course` or `torch.softmax`.

# %% tags=["exercise"] keep_output=false
def my_soft_lookup(queries, keys, values):
    """(L, E), (S, E), (S, Ev) -> (L, Ev)."""
    raise NotImplementedError("your code here")


check.soft_lookup(my_soft_lookup)

# %% tags=["solution"] jupyter={"source_hidden": true}
def my_soft_lookup(queries, keys, values):
    """(L, E), (S, E), (S, Ev) -> (L, Ev)."""
    scores = queries @ keys.T          # (L, E) @ (E, S) -> (L, S)
    weights = softmax(scores, dim=-1)  # (L, S): each query's row sums to 1
    return weights @ values            # (L, S) @ (S, Ev) -> (L, Ev)


# %% tags=["solution"]
# record=False: the course's own solution does not count in your progress (see attn_course.progress()).
check.soft_lookup(my_soft_lookup, record=False)

# %% [markdown]
# ### Exercise 2 · Gaussian kernel weights for many queries
#
# Write `my_kernel_weights(x_query, x_keys, bandwidth)` for query positions $(L,)$, key
# positions $(S,)$ and a bandwidth $h > 0$, returning the $(L, S)$ matrix with rows
# $\operatorname{softmax}_j\bigl(-(x_\ell - x_j)^2 / (2h^2)\bigr)$, with explicit parentheses around
# $2h^2$ (in Python, `/ 2*h**2` would *multiply* by $h^2$), without a Python loop
# (`kernel_weights_one` above does one query).

# %% tags=["exercise"] keep_output=false
def my_kernel_weights(x_query, x_keys, bandwidth):
    """(L,), (S,), h -> (L, S)."""
    raise NotImplementedError("your code here")


check.kernel_weights(my_kernel_weights)

# %% tags=["solution"] jupyter={"source_hidden": true}
def my_kernel_weights(x_query, x_keys, bandwidth):
    """(L,), (S,), h -> (L, S)."""
    distance = x_query[:, None] - x_keys[None, :]           # (L, 1) - (1, S) -> (L, S)
    scores = -(distance**2) / (2 * bandwidth**2)            # (L, S): nearer keys score higher
    return softmax(scores, dim=-1)                          # (L, S): each row sums to 1


# %% tags=["solution"]
# record=False: the course's own solution does not count in your progress (see attn_course.progress()).
check.kernel_weights(my_kernel_weights, record=False)

# %% [markdown]
# **To explore (no checker).** Train the leave-one-out model again starting from
# `KernelRegression(bandwidth=0.05)` instead of 1.0: does it reach the same bandwidth? Then
# double the noise and predict whether the learned bandwidth grows or shrinks before you run it.
#
# ## Summary
#
# You can now
# - say why a hard lookup (exact match or argmax) gives no answer to a new query or no gradient;
# - compute a soft lookup: scores $\mathbf q \cdot \mathbf k_j$, softmax, weighted average of the
#   values, and read its weights as a heatmap;
# - explain the roles of query (what is wanted), key (what is matched) and value (what is returned);
# - sharpen a soft lookup towards a hard one by scaling the scores (or the query);
# - fit Nadaraya–Watson kernel regression as Gaussian attention pooling and learn its bandwidth
#   with a leave-one-out mask;
# - use attention weights to explain a prediction, as in the film recommendation.
#
# ## Common pitfalls
#
# - **Softmax over the wrong axis.** Each *query's* weights over the keys sum to 1: softmax along
#   the key axis (`dim=-1` of the $(L, S)$ scores), never over the queries.
# - **Averaging the keys instead of the values.** Keys decide *how much*; values decide *what*.
# - **Training a kernel on its own training points without a mask.** Every point attends to
#   itself, the bandwidth collapses to 0 and the model memorises the noise. Leave one out.
# - **Renormalising instead of masking with $-\infty$ when weights underflow.** Both are equal in
#   exact arithmetic, but at a very small bandwidth a row's only non-zero weight may be the
#   masked one, and renormalising then divides 0 by 0. Masking the scores before the softmax
#   is the robust order (notebook 04).
# - **Unscaled dot products of wide vectors.** The scores of wider vectors are typically larger,
#   so the softmax sharpens towards an argmax with vanishing gradients; notebook 04's
#   $1/\sqrt{D}$ keeps their typical size from growing with $D$. Being one constant, it does not
#   undo length differences between individual keys (section 4): cosine scores or learned
#   lengths do.
# - **Expecting extrapolation.** A weighted average of the values never leaves their range.
#
# ## Further reading
#
# - E. A. Nadaraya (1964), *On estimating regression*, Theory of Probability & Its Applications
#   9(1): 141–142. [doi:10.1137/1109020](https://doi.org/10.1137/1109020)
# - G. S. Watson (1964), *Smooth regression analysis*, Sankhyā, Series A 26(4): 359–372.
#   [JSTOR](https://www.jstor.org/stable/25049340)
# - A. Zhang, Z. C. Lipton, M. Li, A. J. Smola, *Dive into Deep Learning*, §11.2
#   [Attention pooling by similarity](https://d2l.ai/chapter_attention-mechanisms-and-transformers/attention-pooling.html):
#   the same estimator with several kernels.
# - D. Bahdanau, K. Cho, Y. Bengio (2014), *Neural machine translation by jointly learning to
#   align and translate*. [arXiv:1409.0473](https://arxiv.org/abs/1409.0473): the soft lookup
#   inside a neural network, with learned queries and keys (notebook 05).
# - A. Graves, G. Wayne, I. Danihelka (2014), *Neural Turing machines*.
#   [arXiv:1410.5401](https://arxiv.org/abs/1410.5401): a differentiable memory read by exactly
#   this content-based soft lookup.
#
# **Next:** [04 · Scaled dot-product attention and masks](04_scaled_dot_product_attention_and_masks.ipynb) turns the
# soft lookup into the matrix operation every transformer uses, with batching and masks.
