# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 08 · The transformer block, a small model trained
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/attn-course/attention-step-by-step/blob/main/notebooks/08_the_transformer_block.ipynb)
#
# Attention lets tokens read each other, and that alone is not a model. Every transformer wraps it in the same small
# unit, the **block**: a per-token network (the MLP) next to the attention, a residual connection around each of the
# two, and a layer norm in front of each. A model is then a stack of identical blocks between an embedding table and
# an output layer. Here we build it from its parts, each with a measurement that shows what goes wrong without it
# (notebook 09 adds a cross-attention part to the same block). Then we stack two blocks into a small GPT-style model
# and train it, in seconds, to sort strings of digits; we read its attention maps as the steps of a sorting algorithm
# and test every reading on the whole test set. Last, generation: a **KV cache** keeps what earlier steps computed,
# gives the very same tokens, and pays off more the longer the text.
#
# **Learning goals.** After this notebook you can
# - **explain** what each part of a block adds (the MLP computes within a token, the residual keeps the input and
#   carries gradients through depth, layer norm gives each sub-layer an input of known scale), with a measurement
#   for each;
# - **assemble** a pre-norm block from its parts, show that it equals `TransformerBlock`, and tell it from the
#   post-norm block of the original transformer;
# - **train** a decoder-only transformer by next-token prediction and evaluate it by exact match on held-out inputs;
# - **read** trained attention maps as an algorithm, and check each reading with a statistic over the test set;
# - **generate** with a KV cache, show that it gives the same tokens, and measure what it saves in time and costs in
#   memory.
#
# **Prerequisites.** [06 · Self-attention and positions](06_self_attention_and_positions.ipynb) (causal
# self-attention, learned and fixed positions), [07 · Multi-head attention](07_multi_head_attention.ipynb) (heads,
# `MultiHeadAttention`, the size of a KV cache).
#
# **Time.** About 60 minutes of study (the notebook runs in under a minute, most of it training).

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
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from attn_course import device, plot_attention, set_seed
from attn_course.bench import best_times
from attn_course.data import make_sort_task
from attn_course.exercises import transformer as check
from attn_course.multihead import MultiHeadAttention, kv_cache_bytes
from attn_course.transformer import DecoderOnlyTransformer, FeedForward, TransformerBlock

set_seed(0)
torch.set_num_threads(1)  # the same summation order on every machine, so stored outputs match
torch.set_printoptions(precision=4, sci_mode=False)
np.set_printoptions(precision=4, suppress=True)
DEVICE = device()

# %% [markdown]
# The model of this notebook is small enough to train on a laptop CPU in seconds, so everything runs there; `DEVICE`
# is set up as in every notebook but not used. From here on, every cell that draws random numbers seeds its own:
# inputs come from a `torch.Generator().manual_seed(...)`, and a module's initial weights from `torch.manual_seed(...)`
# at the top of the cell.
#
# ## 1. Why attention needs a block around it (core)
#
# Recall what one attention layer computes for token $i$ (notebooks 06 and 07, one head, so $D = E$, biases
# included):
#
# $$\mathrm{out}_i = W_o \sum_j w_{ij}\,(W_v x_j + b_v) + b_o, \qquad w_{ij} = \mathrm{softmax}_j\!\left(
# \frac{q_i \cdot k_j}{\sqrt{D}}\right).$$
#
# Three things are missing from it.
#
# 1. **Computing within a token.** The scores (bilinear in the tokens) and the softmax are the only non-linear
#    steps, and together they decide only *how much* of each token to take. *What* is taken, $W_v x_j + b_v$, is a
#    linear map of the token. Take a sequence of one token: its single weight is 1, and the whole layer collapses to
#    an affine map of $x$. A test such as "is this digit larger than 5?" is not affine, so attention cannot compute
#    it for a token; with more tokens it can only change how much of each it takes. A small network applied to each
#    token can compute it.
# 2. **Keeping the input.** $\mathrm{out}_i$ is a blend of the tokens that $i$ looks at. If it looks elsewhere, what
#    token $i$ itself was is gone from its output.
# 3. **Stacking deep.** An average of averages is blurrier than either, and gradients that pass through many layers
#    fade. Section 2.3 measures both.
#
# The first point, checked: a `MultiHeadAttention` (notebook 07) on sequences of length 1 equals its value projection
# followed by its output projection, with no query, key or softmax left in it.

# %%
torch.manual_seed(1)  # the module's initial weights
g_why = torch.Generator().manual_seed(1)
attn = MultiHeadAttention(8, 2)
lone = torch.randn(3, 1, 8, generator=g_why)  # (B, L, E) with L = 1: each sequence is a single token
with torch.no_grad():
    out_lone, w_lone = attn(lone, lone, lone, need_weights=True)  # (B, 1, E), (B, 1, 1)
    affine = attn.out_proj(attn.v_proj(lone))  # (B, 1, E) -> (B, 1, E) -> (B, 1, E): two linear maps, nothing else
print("the weight of a lone token:", w_lone.flatten().tolist())
torch.testing.assert_close(out_lone, affine)
print("attention on one token = out_proj(v_proj(x)): an affine map of x")

# %% [markdown]
# The block adds the three missing pieces. Picture each token's vector as a **residual stream** that flows from the
# embedding at the bottom to the output at the top. A block makes two stops on it. At each stop, a sub-layer reads a
# *normalised copy* of the stream and *adds* its answer to the stream; nothing ever overwrites it (Elhage et al. 2021
# describe transformers in exactly these terms).
#
# ```
#   x ──┬────────────────────────(+)──┬─────────────────(+)──▶ y
#       │                         ▲   │                  ▲
#       └─ LN₁ ─ self-attention ──┘   └─ LN₂ ─ MLP ──────┘
#         tokens read each other        each token alone
# ```
#
# $$h = x + \mathrm{Attention}\big(\mathrm{LN}_1(x)\big), \qquad y = h + \mathrm{MLP}\big(\mathrm{LN}_2(h)\big).$$
#
# Attention moves information *between* tokens; the MLP transforms it *within* each token; the `+` keeps everything
# that was there before; the layer norms give each sub-layer an input of a known size, however much has been added to
# the stream so far. We take the pieces one at a time.
#
# ## 2. The pieces, one at a time (core)
#
# ### 2.1 Layer normalisation
#
# The stream is a running sum: embeddings plus every answer added so far. Its size grows with depth and varies from
# token to token. A sub-layer's weights are tuned to inputs of some scale, so each one reads a normalised copy.
# **Layer norm** works on each token alone: subtract the mean of its $E$ numbers, divide by their standard
# deviation, then scale and shift every feature by learned $\gamma$ and $\beta$ (which start at 1 and 0):
#
# $$\mathrm{LN}(x) = \gamma \odot \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}} + \beta, \qquad
# \mu = \frac{1}{E}\sum_{e} x_e, \qquad \sigma^2 = \frac{1}{E}\sum_{e} (x_e - \mu)^2 .$$
#
# The variance divides by $E$, not $E - 1$, and $\epsilon = 10^{-5}$ keeps a constant token from dividing by zero.
# One token by hand, $x = (2, 4, 6, 8)$: the mean is 5 and the variance is $(9 + 1 + 1 + 9)/4 = 5$.

# %%
token = torch.tensor([2.0, 4.0, 6.0, 8.0])  # one token, E = 4
mu = token.mean()
var = ((token - mu) ** 2).mean()  # divide by E, not E - 1
normed = (token - mu) / torch.sqrt(var + 1e-5)
print(f"mean {mu.item():.1f}, variance {var.item():.1f}, standard deviation {var.sqrt().item():.4f}")
print("normalised:", normed)


# %% [markdown]
# The same for every token of a batch, over the last axis, then checked against `nn.LayerNorm` (with random $\gamma$
# and $\beta$, so that the affine part is tested too) and `F.layer_norm`. The last line shows the point of it all: a
# token 100 times larger comes out the same.

# %%
def layer_norm(x, gamma, beta, eps=1e-5):
    """Normalise each token (the last axis) to mean 0 and variance 1, then scale by gamma and shift by beta."""
    mu = x.mean(dim=-1, keepdim=True)  # (B, L, 1): one mean per token
    var = ((x - mu) ** 2).mean(dim=-1, keepdim=True)  # (B, L, 1): the biased variance
    return gamma * (x - mu) / torch.sqrt(var + eps) + beta  # (E,) * (B, L, E) + (E,)


torch.manual_seed(2)  # the module's initial weights
g_ln = torch.Generator().manual_seed(2)
ln = nn.LayerNorm(16)
with torch.no_grad():
    ln.weight.normal_(1.0, 0.5)  # gamma: random, not the initial ones
    ln.bias.normal_(0.0, 0.5)  # beta
    x_ln = 3.0 + 5.0 * torch.randn(2, 5, 16, generator=g_ln)  # (B, L, E): far from mean 0 and variance 1
    ours = layer_norm(x_ln, ln.weight, ln.bias)
    torch.testing.assert_close(ours, ln(x_ln))
    torch.testing.assert_close(ours, F.layer_norm(x_ln, (16,), ln.weight, ln.bias))
    plain = layer_norm(x_ln, torch.ones(16), torch.zeros(16))  # gamma = 1, beta = 0
print("ours = nn.LayerNorm = F.layer_norm")
print("the token (2, 4, 6, 8) times 100, normalised:", layer_norm(100 * token, torch.ones(4), torch.zeros(4)))
print("with gamma = 1, beta = 0, every token has mean 0:", torch.allclose(plain.mean(-1), torch.zeros(2, 5), atol=1e-5),
      " and standard deviation 1:", torch.allclose(plain.std(-1, unbiased=False), torch.ones(2, 5), atol=1e-4))

# %% [markdown]
# Layer norm never looks across tokens or across the batch (batch norm, common in vision models, averages over the
# batch). So it behaves the same in training and at test time, for a batch of one, and for a single new token during
# generation (section 6).
#
# ### 2.2 The MLP: each token thinks alone
#
# The second sub-layer is a two-layer network applied to every token separately: widen from $E$ to $4E$, apply a
# non-linearity (GELU, a smooth ReLU, as in GPT-2), and narrow back to $E$. The factor 4 is the original paper's
# (2048 for $E = 512$), and most models since have kept something close to it. In the package it is `FeedForward`.

# %%
torch.manual_seed(3)  # the module's initial weights
E_demo = 16
mlp = FeedForward(E_demo, 4 * E_demo)
print(mlp)
n_mlp = sum(p.numel() for p in mlp.parameters())
print(f"parameters: {n_mlp:,} = 8·E² + 5·E = {8 * E_demo**2 + 5 * E_demo:,}")

# %% [markdown]
# "Per token" means that a token's output depends on that token only. Two checks: shuffle the tokens and the outputs
# are shuffled the same way; change one token and only its row of the output changes. (Self-attention passes the
# first test as well, without positions, as notebook 06 showed; it fails the second, since every token reads every
# other.)

# %%
g_mlp = torch.Generator().manual_seed(3)
x_mlp = torch.randn(1, 6, E_demo, generator=g_mlp)  # (B, L, E)
shuffle = torch.randperm(6, generator=g_mlp)
with torch.no_grad():
    y_mlp = mlp(x_mlp)  # (B, L, E): the same network on each of the L tokens
    print("MLP(shuffled tokens) = shuffled MLP(tokens):", torch.allclose(mlp(x_mlp[:, shuffle]), y_mlp[:, shuffle]))
    x_changed = x_mlp.clone()
    x_changed[0, 2] += 1.0  # change token 2 only
    rows_changed = (mlp(x_changed) - y_mlp).abs().amax(dim=-1)[0] > 0  # (L,): which output rows moved
print("output rows that changed when token 2 changed:", rows_changed.nonzero().flatten().tolist())

# %% [markdown]
# The MLP holds about two thirds of a block's parameters (section 3 counts them): attention has four $E \times E$
# projections, the MLP two $E \times 4E$ matrices. Geva et al. (2021) read the MLPs of a trained language model as
# key-value memories: rows of the first matrix respond to patterns in the input, and the matching rows of the second
# push the prediction towards the words that tend to follow them. Attention decides *where* to read, the MLP what to
# *do* with what was read.
#
# ### 2.3 The residual connection: keep the input, pass the gradient
#
# A residual connection computes $y = x + f(x)$ instead of $y = f(x)$. The sub-layer $f$ then only has to learn a
# correction to its input; whatever it does not change goes through untouched. Two things follow, both easy to
# measure on a deep stack at initialisation. (He et al. 2016 introduced residual connections to train image networks
# of more than a hundred layers.)
#
# **Tokens stay distinct.** Attention averages; a stack of attention layers averages averages, and the tokens blur
# into one. We take the self-attention (with its layer norm) of 24 fresh blocks and run a batch of random sequences
# through them, once as $x \leftarrow \mathrm{Attn}(\mathrm{LN}(x))$ and once as
# $x \leftarrow x + \mathrm{Attn}(\mathrm{LN}(x))$. After each layer we measure how different the tokens of a
# sequence still are: the size of each token's difference from the sequence's mean token, relative to the size of
# the tokens, $\lVert x - \bar{x} \rVert / \lVert x \rVert$ (1 for unrelated tokens, 0 when all tokens are equal).
#
# **Gradients reach the first layer.** By the chain rule, the gradient that reaches layer 1 is multiplied by the
# Jacobian of every layer above it. With a residual each factor is $I + \partial f/\partial x$, without it
# $\partial f/\partial x$ alone. A freshly initialised MLP shrinks the vectors that pass through it, and the gradients
# that pass back through it by a similar factor (the cell below measures both: $\lVert \mathrm{MLP}(x) \rVert /
# \lVert x \rVert$ for each MLP, and the gradient's average shrinking per layer); 24 such factors multiply to almost
# nothing. We take the MLPs of the same 24 blocks (without norms, to see the residual's effect alone), stack them with
# and without residuals, and measure the gradient of a loss with respect to each layer's first weight matrix.

# %%
torch.manual_seed(4)  # the blocks' initial weights
g_deep = torch.Generator().manual_seed(4)
depth, E_deep = 24, 64
deep = nn.ModuleList(TransformerBlock(E_deep, 4, causal=False) for _ in range(depth))
x_deep = torch.randn(8, 16, E_deep, generator=g_deep)  # (B, L, E)


def spread(x):
    """How different the tokens of each sequence are: ||x - mean token|| / ||x||, 0 when all are equal."""
    return ((x - x.mean(dim=1, keepdim=True)).norm() / x.norm()).item()  # mean over L: (B, 1, E)


spreads = {"with residual": [spread(x_deep)], "without residual": [spread(x_deep)]}
with torch.no_grad():
    for name, stream in (("with residual", True), ("without residual", False)):
        x = x_deep
        for block in deep:
            h = block.ln_self(x)
            a, _ = block.self_attn(h, h, h)  # (B, L, E)
            x = x + a if stream else a
            spreads[name].append(spread(x))

grads = {}
for name, stream in (("with residual", True), ("without residual", False)):
    deep.zero_grad()
    x = x_deep
    for block in deep:
        x = x + block.mlp(x) if stream else block.mlp(x)  # (B, L, E)
    x.pow(2).mean().backward()  # any loss will do: we only follow where its gradient goes
    grads[name] = [block.mlp[0].weight.grad.norm().item() for block in deep]  # layer 1 first

print(f"{'':<17}{'tokens distinct after 24 layers':>33}{'gradient at layer 1 / at layer 24':>36}")
for name in spreads:
    shown = f"{spreads[name][-1]:.2f}" if spreads[name][-1] > 1e-3 else "< 0.001"  # below that: rounding noise
    print(f"{name:<17}{shown:>33}{grads[name][0] / grads[name][-1]:>36.1e}")
with torch.no_grad():
    mlp_gain = torch.tensor([(block.mlp(x_deep).norm() / x_deep.norm()).item() for block in deep])  # (24,)
print(f"each fresh MLP on the input x: ||MLP(x)|| / ||x|| from {mlp_gain.min():.2f} to {mlp_gain.max():.2f}")
per_layer = (grads["without residual"][0] / grads["without residual"][-1]) ** (1 / (depth - 1))  # geometric mean
print(f"without residuals the gradient shrinks by a factor of about {per_layer:.2f} per layer on its way down")

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 4))
for name, style in (("with residual", "o-"), ("without residual", "s-")):
    axes[0].plot(range(depth + 1), spreads[name], style, ms=3, label=name)
    axes[1].plot(range(1, depth + 1), grads[name], style, ms=3, label=name)
axes[0].set_yscale("log")
axes[0].set_xlabel("attention layers applied")
axes[0].set_ylabel("||x - mean token|| / ||x||")
axes[0].set_title("Stacked attention: do the tokens stay distinct?")
axes[1].set_yscale("log")
axes[1].set_xlabel("layer (1 = nearest the input)")
axes[1].set_ylabel("gradient norm of the layer's first weight")
axes[1].set_title("Stacked MLPs: how much gradient reaches each layer?")
for ax in axes:
    ax.legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# Left: without residuals, the tokens of a sequence become identical after a few layers, down to float32's rounding
# (Dong et al. 2021 prove that pure attention loses rank doubly exponentially with depth); with residuals they stay
# clearly apart after 24 layers. Right: with residuals, every layer gets a gradient of about the same size; without
# them, the gradient shrinks at every layer on its way down, by about 18 orders of magnitude in all (the table), and
# layer 1 gets practically none, so it would never learn. The claims, computed:

# %%
print("without residual, tokens identical (spread < 1e-4) after 24 layers:", spreads["without residual"][-1] < 1e-4)
print("with residual, tokens still distinct (spread > 0.3) after 24 layers:", spreads["with residual"][-1] > 0.3)
ratio_with = grads["with residual"][0] / grads["with residual"][-1]
print("with residual, layer 1 gets a gradient like layer 24's (ratio 0.5 to 2):", 0.5 < ratio_with < 2)
print("without residual, layer 1 gets < 1e-10 of layer 24's gradient:",
      grads["without residual"][0] < 1e-10 * grads["without residual"][-1])
print("every fresh MLP shrinks the input x (||MLP(x)|| / ||x|| < 0.5):", bool((mlp_gain < 0.5).all()),
      "  and the gradient per layer by a similar factor (within 2x of it):",
      0.5 * mlp_gain.min().item() < per_layer < 2 * mlp_gain.max().item())

# %% [markdown]
# ### 2.4 Where the norm goes: pre-norm or post-norm
#
# The 2017 transformer (Vaswani et al.) put the norm *after* the addition: $x \leftarrow \mathrm{LN}(x + f(x))$, the
# **post-norm** block. The **pre-norm** block of the diagram above, $x \leftarrow x + f(\mathrm{LN}(x))$, came soon
# after; Baevski & Auli (2018), for example, used it in their language models. GPT-2 (Radford et al. 2019) did not
# invent it, but made it the standard for large language models: it moved GPT-1's norms to the input of each
# sub-layer and added one final norm after the last block (the stream itself is never normalised, so the output layer
# needs a normalised copy too). Wang et al. (2019) trained pre-norm translation encoders of 30 layers, and Xiong et
# al. (2020) analysed why pre-norm trains more easily (next paragraph). Most large language models since, GPT-3 and
# Llama among them, are pre-norm (Llama with a simpler norm, RMSNorm).
#
# The difference is in the stream. In post-norm, the stream passes through a norm at every sub-layer, so the path
# from the output back to the input is not the identity any more. Xiong et al. (2020) showed that at initialisation
# this makes the gradients of the layers near the output large, which is why post-norm transformers need a
# learning-rate *warm-up* (a few thousand steps of small learning rates) to train stably, and that pre-norm
# transformers train well without one. A post-norm block, written with a pre-norm block's parts, shows what happens to a
# stream whose tokens have grown large:

# %%
def post_norm_block(block, x):
    """The 2017 ordering: add, then normalise the stream itself."""
    x = block.ln_self(x + block.self_attn(x, x, x, is_causal=True)[0])
    return block.ln_mlp(x + block.mlp(x))


torch.manual_seed(5)  # the block's initial weights
g_norm = torch.Generator().manual_seed(5)
block_pp = TransformerBlock(16, 2)
x_pp = torch.randn(2, 5, 16, generator=g_norm)  # (B, L, E), each token of standard deviation about 1
print(f"{'stream scale':>12}{'pre-norm output std':>22}{'post-norm output std':>23}")
with torch.no_grad():
    for scale in (1, 10, 100):
        pre_out, _ = block_pp(scale * x_pp)
        post_out = post_norm_block(block_pp, scale * x_pp)
        print(f"{scale:>12}{pre_out.std(-1, unbiased=False).mean().item():>22.2f}"
              f"{post_out.std(-1, unbiased=False).mean().item():>23.2f}")

# %% [markdown]
# The pre-norm block adds a correction of a fixed size to whatever the stream holds, so a stream 100 times larger
# comes out about 100 times larger: the block is close to the identity. The post-norm block returns every token at
# standard deviation 1, whatever came in: the stream is rebuilt at every layer, not carried through. The package's
# `TransformerBlock` is pre-norm; the checker of exercise 1 names post-norm when it sees it.
#
# ### 2.5 The block, assembled
#
# Now the whole block from its parts: `ln_self`, `self_attn`, `ln_mlp` and `mlp` of a `TransformerBlock`, wired as in
# the diagram, compared with the block's own `forward`. The block is causal (token $t$ reads tokens up to $t$), as in
# every model that generates text.

# %%
def block_by_hand(block, x):
    """A pre-norm block: each sub-layer reads a normalised copy of the stream and adds its answer to it."""
    h = block.ln_self(x)  # (B, L, E): a normalised copy; x itself is left as it is
    a, _ = block.self_attn(h, h, h, is_causal=True)  # (B, L, E): the tokens read each other
    x = x + a  # residual: add, do not replace
    return x + block.mlp(block.ln_mlp(x))  # (B, L, E): each token alone, added in turn


torch.manual_seed(6)  # the block's initial weights
g_block = torch.Generator().manual_seed(6)
block = TransformerBlock(embed_dim=16, num_heads=2)
x_block = torch.randn(3, 5, 16, generator=g_block)  # (B, L, E)
with torch.no_grad():
    torch.testing.assert_close(block_by_hand(block, x_block), block(x_block)[0])
print("block_by_hand(block, x) = TransformerBlock.forward(x)")
print("parameters:", {name: sum(p.numel() for p in part.parameters())
                      for name, part in block.named_children() if part is not None})

# %% [markdown]
# And the shapes, traced through the attention ($B = 3$, $L = 5$, $E = 16$, $H = 2$, so $D = 8$). The block asks
# `MultiHeadAttention` for its fast path, PyTorch's fused `scaled_dot_product_attention`, which returns no weights,
# so no line for scores appears; with `need_weights=True` the manual path of notebook 07 runs instead. Everything
# outside the attention keeps the shape `(B, L, E)`: that is what lets blocks stack.

# %%
block.self_attn.trace = True
with torch.no_grad():
    y_block, _ = block(x_block)
block.self_attn.trace = False
print("block output", tuple(y_block.shape), "= input", tuple(x_block.shape))

# %% [markdown]
# ## 3. A small GPT: the decoder-only transformer (core)
#
# A decoder-only transformer (the GPT family) turns a sequence of token ids into, at every position, scores for the
# token that comes next:
#
# 1. each id looks up a **token embedding**, and each position a **position embedding** (a learned table of
#    `max_len` vectors, as in GPT-2; notebook 06's sinusoids and rotary embeddings are the alternatives); their sum
#    starts the stream, `(B, T, E)`;
# 2. `num_layers` causal blocks;
# 3. a final layer norm and a linear **head** from $E$ to the $V$ scores (logits) of the vocabulary.
#
# It is trained by **next-token prediction**: the logits at position $t$ are scored against the token at $t + 1$.
# The causal mask is what makes this honest and cheap: position $t$ cannot see token $t + 1$, so one forward pass
# gives a prediction at every position at once, none of them peeking at its answer.
#
# The package's `DecoderOnlyTransformer` is this model. We build the one we will train below: a vocabulary of
# $V = 14$ tokens (the task's), sequences of up to 17 tokens, $E = 64$, $H = 2$ heads, 2 blocks.

# %%
torch.manual_seed(0)  # the model's initial weights
model = DecoderOnlyTransformer(vocab_size=14, max_len=17, embed_dim=64, num_heads=2, num_layers=2)
parts = {"token embedding (V·E)": model.token, "position embedding (max_len·E)": model.position,
         "block 0": model.blocks[0], "block 1": model.blocks[1], "final layer norm (2E)": model.ln_final,
         "head (E·V, no bias)": model.head}
for name, part in parts.items():
    print(f"{name:<32}{sum(p.numel() for p in part.parameters()):>8,}")
n_params = sum(p.numel() for p in model.parameters())
print(f"{'total':<32}{n_params:>8,}")
mlp_share = sum(p.numel() for p in model.blocks[0].mlp.parameters()) / sum(p.numel() for p in model.blocks[0].parameters())
print(f"the MLP's share of a block: {mlp_share:.0%}")


# %% [markdown]
# The forward pass, written out from the model's parts and compared with `model(ids)`. The `start` argument is the
# position of the first id; it is 0 here and matters in section 6, where the model continues a sequence it has
# already read.

# %%
def forward_by_hand(model, ids, caches=None, start=0):
    """Logits (B, T, V) for ids (B, T) at positions start .. start + T - 1."""
    positions = torch.arange(start, start + ids.size(1))  # (T,)
    x = model.token(ids) + model.position(positions)  # (B, T, E) + (T, E) -> (B, T, E): the stream begins
    for i, block in enumerate(model.blocks):
        x, _ = block(x, kv_cache=caches[i] if caches is not None else None)  # (B, T, E)
    return model.head(model.ln_final(x))  # (B, T, E) -> (B, T, V)


g_model = torch.Generator().manual_seed(7)
ids = torch.randint(3, 14, (2, 17), generator=g_model)  # (B, T): any ids of the vocabulary
with torch.no_grad():
    logits, _ = model(ids)  # (B, T, V)
    torch.testing.assert_close(forward_by_hand(model, ids), logits)
    ids_changed = ids.clone()
    ids_changed[:, -1] = 3  # change the last token only
    logits_changed, _ = model(ids_changed)
print("logits", tuple(logits.shape), "(B, T, V); forward_by_hand = model(ids)")
print("changing the last token leaves the logits of every earlier position unchanged:",
      torch.allclose(logits_changed[:, :-1], logits[:, :-1], atol=1e-6))

# %% [markdown]
# ## 4. Sorting digits (core)
#
# ### 4.1 The task
#
# The model reads eight random digits and a `>`, and must write the same digits in sorted order:
# `20861091>00112689`. Sorting is a good first task for a transformer because every answer token is a fixed function
# of the input, so the model can learn it exactly; because each answer digit depends on *all* the input digits, so it
# needs attention; and because we know how to sort, we can check whether what the model learned looks like an
# algorithm we recognise (section 5).
#
# `make_sort_task` draws 20,000 distinct training strings and 1,000 held-out ones that never occur in training. The
# vocabulary holds the ten digits and `>` (ids 0 to 2 are the padding, begin and end tokens of the course's
# `CharVocab`, unused here).

# %%
task = make_sort_task()  # 20,000 training and 1,000 held-out strings of 8 digits
n = task.prompt_len  # 9: the 8 digits and ">"
print("vocabulary:", task.vocab.tokens, f" V = {len(task.vocab)}")
print("train", tuple(task.train.shape), " test", tuple(task.test.shape), " prompt_len", n)
for row in task.train[:3]:
    print(" ", task.decode(row), "  ids", row.tolist())
train_inputs = {tuple(row) for row in task.train[:, :task.length].tolist()}
test_inputs = {tuple(row) for row in task.test[:, :task.length].tolist()}
print("held-out inputs also in training:", len(train_inputs & test_inputs), " of", len(test_inputs))
print(f"training covers {len(train_inputs) / 10**task.length:.2%} of the 10^8 possible inputs")

# %% [markdown]
# The model reads the first 16 tokens, `ids[:, :-1]`, and its logits at position $t$ predict `ids[:, t + 1]`. Only
# the predictions of the sorted digits count, the 8 made at positions 8 to 15 (at `>` and at the first seven answer
# digits). The input digits are random: no model can predict them better than 1 in 10, a loss of
# $\ln 10 = 2.30$ that training cannot lower. Scoring them would only add noise to the gradient, so the loss leaves
# them out.

# %%
row = task.train[0]
reads, targets = task.decode(row[:-1]), task.decode(row[1:])
print("position      ", " ".join(f"{t:>2}" for t in range(16)))
print("model reads   ", " ".join(f"{c:>2}" for c in reads))
print("and predicts  ", " ".join(f"{c if t >= n - 1 else '·':>2}" for t, c in enumerate(targets)))

# %% [markdown]
# ### 4.2 Training
#
# AdamW with a one-cycle schedule (the learning rate rises for the first 10% of the steps, then falls to almost
# zero), batches of 64 strings drawn with a seeded generator, 800 steps. The loop is the whole of training.

# %% tags=["nbval-ignore-output"]
steps, batch_size = 800, 64
optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=3e-3, total_steps=steps, pct_start=0.1)
g_batches = torch.Generator().manual_seed(0)
losses = []
started = time.perf_counter()
model.train()
for _ in tqdm(range(steps), desc="training"):
    batch = task.train[torch.randint(len(task.train), (batch_size,), generator=g_batches)]  # (64, 17)
    logits, _ = model(batch[:, :-1])  # (64, 16, V): position t predicts token t + 1
    loss = F.cross_entropy(logits[:, n - 1:].flatten(0, 1), batch[:, n:].flatten())  # the 8 answer digits only
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    schedule.step()
    losses.append(loss.item())
model.eval()
print(f"trained {steps} steps in {time.perf_counter() - started:.1f} s; last loss {losses[-1]:.4f}")

# %%
fig, ax = plt.subplots(figsize=(7, 3.5))
ax.plot(range(1, steps + 1), losses, lw=1)
ax.axhline(math.log(10), color="gray", ls=":", label="guessing one of 10 digits (ln 10)")
ax.set_yscale("log")
ax.set_xlabel("training step")
ax.set_ylabel("cross-entropy on the answer digits")
ax.set_title("Training a 2-block transformer to sort 8 digits")
ax.legend()
plt.show()

# %% [markdown]
# The loss starts above the dotted line, the level of guessing one of the ten digits at random, drops below it within
# the first hundred steps, and then keeps falling by orders of magnitude (checked in the next cells).
#
# ### 4.3 Held-out exact match
#
# A string counts as right only if all eight digits are. The model writes them itself, greedily (`generate` feeds
# each predicted token back in, as in section 6), so one wrong digit early on cannot be rescued by the right ones
# after it. The exact numbers depend on the machine's floating-point details, so they are not compared when the
# notebook is tested; the claims drawn from them are, in the cell after.

# %% tags=["nbval-ignore-output"]
with torch.no_grad():
    predicted = model.generate(task.test[:, :n], max_new_tokens=task.length)  # (1000, 17): prompt + 8 written
right_digits = predicted[:, n:] == task.test[:, n:]  # (1000, 8)
exact = right_digits.all(dim=1).float().mean().item()
print(f"held-out exact match: {exact:.1%} ({int(right_digits.all(dim=1).sum())} of {len(task.test)} strings)")
print("digits right, by answer position:", [f"{v:.1%}" for v in right_digits.float().mean(dim=0).tolist()])
for i in range(4):
    verdict = "right" if right_digits[i].all() else f"WRONG, expected {task.decode(task.test[i, n:])}"
    print(f"  {task.decode(predicted[i])}  {verdict}")
for i in right_digits.all(dim=1).logical_not().nonzero().flatten()[:3].tolist():  # a few mistakes, if any
    print(f"  mistake: {task.decode(predicted[i])}, expected {task.decode(task.test[i, n:])}")

# %%
print("held-out exact match at least 95%:", exact >= 0.95)
print("training loss starts above ln 10 and is below it within 100 steps:", losses[0] > math.log(10) > min(losses[:100]))
print("final training loss below 0.05 (mean of the last 20 steps):", float(np.mean(losses[-20:])) < 0.05)

# %% [markdown]
# The model sorts strings it has never seen: it learned a procedure, not a table. The next section looks for that
# procedure in its attention.
#
# ## 5. Reading the attention maps as an algorithm (core)
#
# ### 5.1 One example
#
# How would you sort by hand, writing one digit at a time? Look at the digit you just wrote, find the smallest input
# digit that is not yet used up, and write it. Everything smaller than your last digit is already written, so you
# only need to look at the digits equal to it or larger, and among those the smallest. Let us see whether the model
# does something like that. Here are the weights of its four heads for the held-out string `20861091`; each label is
# a token and its position. Rows are queries (the position that reads), columns are keys (what it reads). The rows that matter
# are those below the white line: at `>` and at each digit written so far, the model decides which digit to write
# next. Left of the vertical line are the eight input digits.

# %%
example = task.test[1:2]  # (1, 17)
labels = [f"{c} ({t})" for t, c in enumerate(task.decode(example[0, :-1]))]  # the 16 tokens the model reads
with torch.no_grad():
    _, example_weights = model(example[:, :-1], need_weights=True)  # per layer: (1, H, 16, 16)
print(task.decode(example[0]), "  weights per layer:", [tuple(w.shape) for w in example_weights])
fig, axes = plt.subplots(2, 2, figsize=(14, 13))
for layer, w in enumerate(example_weights):
    for head in range(w.size(1)):
        ax = plot_attention(w[0, head], labels, labels, ax=axes[layer, head], title=f"layer {layer}, head {head}")
        ax.axhline(n - 1.5, color="white", lw=1)  # below: the answer steps
        ax.axvline(task.length - 0.5, color="white", lw=1)  # left: the input digits
fig.suptitle(f"Attention of the trained model on the held-out string {task.decode(example[0])}", fontsize=14)
fig.tight_layout()
plt.show()

# %% [markdown]
# Below the line, in the layer-1 maps (bottom row), most rows have one bright cell, on an input token. The table
# lists them: for each answer step, the token read, the digit to write, and the input token that each layer-1 head
# weights most.

# %% tags=["nbval-ignore-output"]
w_layer1 = example_weights[1][0]  # (H, 16, 16)
print(f"{'reads':>9} {'writes':>7}   {'layer 1, head 0: top input token':>34}   {'head 1':>16}")
for q in range(n - 1, 2 * task.length):  # the answer steps: query positions 8 .. 15
    tops = [int(w_layer1[head, q, :task.length].argmax()) for head in range(2)]  # the most-weighted input token
    shown = [f"{labels[j]} {'(holds it)' if example[0, j] == example[0, q + 1] else '':<11}{w_layer1[head, q, j]:.2f}"
             for head, j in enumerate(tops)]
    print(f"{labels[q]:>9} {task.decode(example[0, q + 1:q + 2]):>7}   {shown[0]:>34}   {shown[1]:>22}")

# %% [markdown]
# In most steps the most-weighted token of a layer-1 head holds exactly the digit about to be written; in the last
# rows (writing 6, 8 and 9, each of which occurs once) both heads agree on it, with most of their weight. Where one
# head misses, it looks at a digit just above, and the other head hits: the two seem to share the work. The table's
# weights move a little between machines, so these claims are checked in the next cell. Layer 0 (top row) is more
# diffuse.

# %%
example_digits = example[0] - task.vocab.index["0"]  # (17,): token ids -> digit values
answer_weights = w_layer1[:, n - 1:, :task.length]  # (H, 8 answer steps, 8 input tokens)
top_weight, top_token = answer_weights.max(dim=-1)  # (H, 8) each: each head's most-weighted input token, per step
to_write = example_digits[n:]  # (8,): the digit written at each step
hit = example_digits[top_token] == to_write  # (H, 8)
miss_gap = (example_digits[top_token] - to_write)[~hit]  # how far from the right digit a missing head looks
print("each layer-1 head: its top input token holds the digit to write in more than half of the 8 steps:",
      bool((hit.sum(dim=1) > 4).all()))
print(f"writing {to_write[-3:].tolist()}: both heads' top token holds it, with over half of their weight:",
      bool(hit[:, -3:].all() and (top_weight[:, -3:] > 0.5).all()))
print("where a head misses, its top token holds a larger digit, at most 2 above:",
      bool(((miss_gap >= 1) & (miss_gap <= 2)).all()))
print("at every step, the top token of at least one head holds the digit to write:", bool(hit.any(dim=0).all()))

# %% [markdown]
# One example is an anecdote, though; the next step measures the same things over all 1,000 held-out strings.
#
# ### 5.2 What each head does, over the whole test set
#
# For every answer step (query positions 8 to 15) of every held-out string, we ask of each head:
# - **on next digit**: the total weight on the input tokens that hold the digit the model must write next;
# - **top holds next**: how often the single most-attended input token holds that digit;
# - **on smaller digits**: the weight on input digits smaller than the one just written (already written, so a
#   sorting procedure has no use for them);
# - **on current digit**: the weight on input tokens equal to the digit just written, split by whether the next
#   digit repeats it (a second 0 after a 0) or not.
#
# For comparison, spreading the weight evenly over the 8 input tokens would put a share of `uniform` on the next
# digit.

# %%
with torch.no_grad():
    _, test_weights = model(task.test[:, :-1], need_weights=True)  # per layer: (N, H, 16, 16)
digits = task.test - task.vocab.index["0"]  # (N, 17): token ids -> digit values (">" becomes 10)
inputs = digits[:, :task.length]  # (N, 8): the digits to sort
next_digit = digits[:, n:]  # (N, 8): at answer step k, the digit to write
current = digits[:, n - 1:-1].clone()  # (N, 8): the token read at answer step k: ">", then the digits written
current[:, 0] = -1  # at ">" nothing is written yet: below every digit
holds_next = inputs[:, None, :] == next_digit[:, :, None]  # (N, 8 steps, 8 input tokens)
smaller = inputs[:, None, :] < current[:, :, None]  # (N, 8, 8): the token's digit is already written
equal = inputs[:, None, :] == current[:, :, None]  # (N, 8, 8): the token equals the digit just written
repeat = next_digit == current  # (N, 8): the next digit repeats the one just written
uniform = holds_next.float().mean().item()

stats = {}
for layer, w in enumerate(test_weights):
    for head in range(w.size(1)):
        a = w[:, head, n - 1:, :task.length]  # (N, 8, 8): answer steps (queries) x input tokens (keys)
        top = a.argmax(dim=-1, keepdim=True)  # (N, 8, 1): the most-attended input token
        on_equal = (a * equal).sum(-1)  # (N, 8)
        stats[layer, head] = {"on next digit": (a * holds_next).sum(-1).mean().item(),
                              "top holds next": holds_next.gather(-1, top).float().mean().item(),
                              "on smaller digits": (a * smaller).sum(-1).mean().item(),
                              "on current (repeat)": on_equal[repeat].mean().item(),
                              "on current (no repeat)": on_equal[~repeat].mean().item()}
tops_layer1 = test_weights[1][:, :, n - 1:, :task.length].argmax(dim=-1, keepdim=True)  # (N, H, 8, 1)
either_head = holds_next[:, None].expand(-1, 2, -1, -1).gather(-1, tops_layer1).any(dim=1)  # (N, 8, 1)
print(f"answer steps: {repeat.numel():,}, of which {repeat.float().mean().item():.1%} repeat the digit just written")
print(f"uniform (share of the 8 input tokens that hold the next digit): {uniform:.3f}")

# %% tags=["nbval-ignore-output"]
columns = list(stats[0, 0])
print(f"{'':<16}" + "".join(f"{c:>24}" for c in columns))
for (layer, head), s in stats.items():
    print(f"{f'layer {layer} head {head}':<16}" + "".join(f"{s[c]:>24.3f}" for c in columns))

# %% [markdown]
# The table's numbers move a little between machines (they come from training), so the claims we read from it are
# checked with margins:

# %%
layer1 = [stats[1, h] for h in range(2)]
layer0 = [stats[0, h] for h in range(2)]
print("layer 1, each head: weight on the next digit more than twice uniform:",
      all(s["on next digit"] > 2 * uniform for s in layer1))
print("layer 1, each head: the most-attended input token holds the next digit in over 60% of steps:",
      all(s["top holds next"] > 0.6 for s in layer1))
print("layer 1: the top token of at least one of the two heads holds the next digit in over 90% of steps:",
      either_head.float().mean().item() > 0.9)
print("layer 1, each head: less than 0.1 of the weight on digits already written:",
      all(s["on smaller digits"] < 0.1 for s in layer1))
print("layer 1, each head: on the digit just written, over twice as much weight when it repeats as when it does not:",
      all(s["on current (repeat)"] > 2 * s["on current (no repeat)"] for s in layer1))
print("layer 1 points at the next digit more sharply than layer 0 (mean weight on it, by over 0.1):",
      np.mean([s["on next digit"] for s in layer1]) > np.mean([s["on next digit"] for s in layer0]) + 0.1)

# %% [markdown]
# A picture of the same behaviour: for each layer-1 head, the mean weight an input token receives, by the digit it
# holds (across) and the digit just written (down). `bincount` sums the weights of all (just written, input digit)
# pairs in one pass.

# %%
pair = (current[:, :, None] + 1) * 10 + inputs[:, None, :]  # (N, 8, 8): pair index (just written + 1) · 10 + digit
counts = torch.bincount(pair.flatten(), minlength=110)  # how often each pair occurs
fig, axes = plt.subplots(1, 2, figsize=(12, 5.5))
for head, ax in enumerate(axes):
    a = test_weights[1][:, head, n - 1:, :task.length]  # (N, 8, 8)
    mean_weight = (torch.bincount(pair.flatten(), weights=a.flatten(), minlength=110) / counts).view(11, 10)
    plot_attention(mean_weight, [">"] + [str(d) for d in range(10)], [str(d) for d in range(10)], ax=ax,
                   title=f"layer 1, head {head}", annotate=False)
    ax.set_xlabel("digit held by the input token")
    ax.set_ylabel("digit just written (> at the start)")
fig.suptitle("Mean attention weight on an input token, by its digit and the digit just written (1,000 held-out strings)")
fig.tight_layout()
plt.show()

# %% [markdown]
# Both heads draw the same band: on and just right of the diagonal. When the last digit written is $c$, the head
# looks at input digits equal to $c$ or a little larger, and hardly ever at digits smaller than $c$: those are
# already written. That is the comparison of the sorting procedure above, "equal or larger, and among those the
# smallest", done by the scores between the position that just wrote $c$ and the input tokens.
#
# Together with the checks above, this is the reading:
# - **Layer 1 is a pointer to the next digit.** Its heads put most of their weight on the input tokens that hold the
#   digit to be written next, far more than an even spread would, and almost none on digits already written; in
#   nearly every step at least one of the two heads has its peak there. The values they read carry those digits into
#   the stream, where the MLP and the head turn them into the logits.
# - **It knows whether a digit is used up.** When the next digit repeats the one just written, the heads look back
#   at that digit; when all its copies are written, they look past it. The token at the query's position is only the
#   digit just written; how many copies of it are still needed depends on the other tokens, so that count must have
#   been gathered by layer 0's attention, the only earlier step that reads other tokens.
# - **Layer 0 is broader.** Its weight on the next digit is lower, spread over many tokens. Our statistics do not say
#   what exactly it computes (counting copies is a candidate); testing that would need other tools, such as
#   changing its outputs and watching the answers change (*activation patching*). We stop where the numbers stop.
#
# ## 6. Generating with a KV cache (core)
#
# ### 6.1 Why cache, and what
#
# `generate` writes one token at a time: run the model, take the most likely next token, append it, repeat. Without a
# cache, step $t$ runs the whole sequence so far through every layer, although only the last position's logits are
# used and every earlier position gives exactly what it gave at the step before (the causal mask guarantees that a
# position never sees what came after it). So at each step:
# - each earlier position's **query** is not needed at all: a query is used only by its own position;
# - each earlier position's **key and value** are needed, by the new token's query, but they are the same as last
#   step.
#
# A **KV cache** keeps, for every layer, the keys and values of all positions so far, each of shape `(B, H, S, D)`.
# The prompt runs once and fills it; then each step runs only the one new token, appends its key and value along the
# sequence axis (dim 2), and lets its query attend to all $S$ cached positions. The package's `KVCache` does the
# appending (`update`), and `DecoderOnlyTransformer` takes one per layer. Count the tokens that pass through the
# layers for a $P$-token prompt and $T$ new tokens: without a cache, $\sum_{t=0}^{T-1} (P + t)$; with it, $P$ for
# the prompt and $1$ for each later step.

# %%
print(f"{'prompt':>6} {'new tokens':>10} {'token passes, no cache':>23} {'with cache':>11} {'fewer':>7}")
for P, T in ((9, 8), (9, 64), (9, 256)):
    without_cache = sum(P + t for t in range(T))  # step t runs all P + t tokens
    with_cache = P + (T - 1)  # the prompt once, then the newest token at each later step
    print(f"{P:>6} {T:>10} {without_cache:>23,} {with_cache:>11,} {without_cache / with_cache:>6.1f}x")

# %% [markdown]
# The saving grows with the length: without a cache the work per step grows with the sequence, so generating $T$
# tokens costs about $T^2/2$ token passes; with it, about $T$. (Attention itself still reads all $S$ cached keys at
# every step, so its part of the work remains proportional to $S$ per step.)
#
# ### 6.2 By hand, one step at a time
#
# The prompt first: after it, each layer's cache holds 9 positions. Then each new token goes in alone, as a `(B, 1)`
# id tensor, and the cache grows by one position per step. At the end we run the finished sequence through the model
# in one pass, without a cache, and compare the logits of every step.

# %%
prompts = task.test[:4, :n]  # (B, 9)
caches = model.new_caches()  # one empty KVCache per layer
step_logits, written = [], []
with torch.no_grad():
    logits, _ = model(prompts, caches)  # (B, 9, V); every layer's cache now holds the prompt's keys and values
    print(f"after the prompt:  keys {tuple(caches[0].keys.shape)}  values {tuple(caches[0].values.shape)}  (B, H, S, D)")
    for step in range(task.length):
        step_logits.append(logits[:, -1])  # (B, V): the scores for the next token
        token = logits[:, -1:].argmax(dim=-1)  # (B, 1): greedy
        written.append(token)
        if step < task.length - 1:
            logits, _ = model(token, caches)  # (B, 1, V): one new position, attending to all cached ones
        if step == 0:
            print(f"after one step:    keys {tuple(caches[0].keys.shape)}   cached positions: {len(caches[0])}")
    print(f"after all steps:   keys {tuple(caches[0].keys.shape)}   cached positions: {len(caches[0])}")
    finished = torch.cat([prompts, *written], dim=1)  # (B, 17)
    full_logits, _ = model(finished[:, :-1])  # (B, 16, V): everything recomputed in one pass
torch.testing.assert_close(torch.stack(step_logits, dim=1), full_logits[:, n - 1:], atol=1e-5, rtol=1e-4)
print("logits step by step with the cache = logits of one full pass without it")

# %% [markdown]
# The tolerance, `atol=1e-5`: both ways compute the same numbers in float32, but in different groupings (one key
# matrix built at once versus appended piece by piece, softmax over rows of different lengths), so the last digits
# may differ.
#
# **The position of a new token.** With a cache, the model must still know *where* the new token sits. Its input is
# a single id, and a forward pass that numbers its positions from 0 would give it the position embedding of position
# 0. `DecoderOnlyTransformer` starts at `len(caches[0])`, the number of positions already cached. Here is what happens
# when `forward_by_hand` from section 3 forgets that, on all held-out strings:

# %%
def generate_by_hand(model, prompts, new_tokens, restart_positions):
    """Greedy generation with a KV cache; restart_positions=True numbers each new token's position from 0 (a bug)."""
    caches = model.new_caches()
    logits = forward_by_hand(model, prompts, caches, start=0)  # (B, P, V)
    written = []
    for step in range(new_tokens):
        token = logits[:, -1:].argmax(dim=-1)  # (B, 1)
        written.append(token)
        if step < new_tokens - 1:
            start = 0 if restart_positions else len(caches[0])
            logits = forward_by_hand(model, token, caches, start=start)  # (B, 1, V)
    return torch.cat(written, dim=1)  # (B, new_tokens)


with torch.no_grad():
    right_positions = generate_by_hand(model, task.test[:, :n], task.length, restart_positions=False)
    positions_from_0 = generate_by_hand(model, task.test[:, :n], task.length, restart_positions=True)
print("positions continue after the cache, same tokens as model.generate:", torch.equal(right_positions, predicted[:, n:]))
exact_restarted = (positions_from_0 == task.test[:, n:]).all(dim=1).float().mean().item()
print("positions restarted at 0: the first digit (from the prompt's pass) is the same as before:",
      torch.equal(positions_from_0[:, 0], right_positions[:, 0]))
print("positions restarted at 0 for each new token, exact match below 20%:", exact_restarted < 0.2)

# %% [markdown]
# The exact numbers come from the trained model, so they are printed in a cell that is not compared:

# %% tags=["nbval-ignore-output"]
right_restarted = positions_from_0 == task.test[:, n:]  # (1000, 8)
print(f"positions restarted at 0: exact match {exact_restarted:.1%}, digits right {right_restarted.float().mean():.1%}"
      f"  (positions continued: exact match {exact:.1%}, digits right {right_digits.float().mean():.1%})")
print("digits right, by answer position:", [f"{v:.0%}" for v in right_restarted.float().mean(dim=0).tolist()])

# %% [markdown]
# Restarting the positions breaks the model: the first digit, computed in the prompt's pass, is the same as before,
# but from the second on the model reads its own tokens at the wrong places, the mistakes pile up (the digits right,
# by position, above), and few strings come out sorted. Every model that caches needs the offset: learned
# position tables like this one, and rotary embeddings, which must rotate the new query and key by the new token's
# true position.
#
# ### 6.3 The same tokens, faster
#
# `model.generate(prompt, n, use_cache=True)` does what we did by hand; with `use_cache=False` it reruns the whole
# sequence at each step. On all 1,000 held-out prompts, both must write the same tokens:

# %%
with torch.no_grad():
    with_cache = model.generate(task.test[:, :n], task.length, use_cache=True)
    without_cache = model.generate(task.test[:, :n], task.length, use_cache=False)
print("with and without the cache, the same tokens on all 1,000 held-out prompts:", torch.equal(with_cache, without_cache))


# %% [markdown]
# Now the time (timings vary from run to run and machine to machine, so these cells are not compared), with
# `attn_course.bench.best_times`: each way first makes one untimed call, which pays one-off costs; then the two run
# in turn, five times each, and each keeps its fastest run, the one least disturbed by everything else on the machine
# (taking turns means a busy moment slows both alike, not one). First
# the sorting task: 1,000 prompts of 9 tokens, 8 new tokens each. Then a longer generation, where the cache matters:
# the same architecture with a position table of 512, untrained (speed does not depend on the values of the
# weights), writing up to 256 tokens after a 9-token prompt, one sequence at a time.

# %% tags=["nbval-ignore-output"]
with torch.no_grad():
    sort_without, sort_with = best_times({
        "without": lambda: model.generate(task.test[:, :n], task.length, use_cache=False),
        "with": lambda: model.generate(task.test[:, :n], task.length, use_cache=True)}).values()
print(f"sorting 1,000 strings: {1000 * sort_without:.0f} ms without the cache, {1000 * sort_with:.0f} ms with it, "
      f"{sort_without / sort_with:.1f}x")

# %% tags=["nbval-ignore-output"]
torch.manual_seed(8)  # the untrained model's weights
long_model = DecoderOnlyTransformer(vocab_size=14, max_len=512, embed_dim=64, num_heads=2, num_layers=2).eval()
long_prompt = task.test[:1, :n]  # (1, 9)
lengths = (32, 64, 128, 256)
timings, same_tokens = {}, {}
with torch.no_grad():
    for new_tokens in lengths:
        timings[new_tokens] = tuple(best_times({  # (without, with)
            cached: lambda cached=cached, k=new_tokens: long_model.generate(long_prompt, k, use_cache=cached)
            for cached in (False, True)}).values())
        same_tokens[new_tokens] = torch.equal(long_model.generate(long_prompt, new_tokens, use_cache=False),
                                              long_model.generate(long_prompt, new_tokens, use_cache=True))
print(f"{'new tokens':>10} {'no cache':>9} {'cache':>8} {'speed-up':>9} {'same tokens':>12}   per new token: "
      f"{'no cache':>9} {'cache':>8}")
for new_tokens, (t_without, t_with) in timings.items():
    print(f"{new_tokens:>10} {1000 * t_without:>6.0f} ms {1000 * t_with:>5.0f} ms {t_without / t_with:>8.1f}x "
          f"{same_tokens[new_tokens]!s:>12}   {'':>15}{1000 * t_without / new_tokens:>6.2f} ms "
          f"{1000 * t_with / new_tokens:>5.2f} ms")

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 4))
for cached, style, label in ((0, "s-", "no cache: the whole sequence every step"),
                             (1, "o-", "KV cache: one new token per step")):
    axes[0].plot(lengths, [1000 * timings[t][cached] for t in lengths], style, label=label)
    axes[1].plot(lengths, [1000 * timings[t][cached] / t for t in lengths], style, label=label)
axes[0].set_ylabel("total time (ms, best of 5 runs)")
axes[0].set_title("Time to generate")
axes[1].set_ylabel("time per new token (ms)")
axes[1].set_title("The same, per new token")
axes[1].set_ylim(bottom=0)
for ax in axes:
    ax.set_xlabel("new tokens generated (after a 9-token prompt)")
    ax.legend()
fig.suptitle("Greedy generation, batch 1, 2 blocks, E = 64, one CPU thread")
fig.tight_layout()
plt.show()

# %% [markdown]
# Compare each speed-up with the count of token passes in section 6.1. In the sorting task, a batch of 1,000 prompts
# makes every step a large computation, and the speed-up is of the order of the 6.2× fewer token passes. One sequence
# at a time, each step is tiny: the model spends much of it on fixed costs (Python, launching a few dozen small
# operations) that the cache does not remove. So even at 256 new tokens the speed-up stays far below the 132× fewer
# token passes, and at the shortest length fixed costs can make the cache no faster. The right panel shows the
# shapes of the two curves: without the cache the time per new token grows with the length, as the counts predicted
# (each step reruns a longer sequence); with the cache it stays nearly flat (each step still reads all $S$ cached
# keys, a small cost at this size). On a large model, whose steps are dominated by big matrix products, the saving
# comes closer to the count. Checked with wide margins:

# %%
passes = {T: (sum(9 + t for t in range(T)), 9 + T - 1) for T in (task.length, lengths[-1])}  # (no cache, cache)
sort_fewer, long_fewer = (without / with_ for without, with_ in passes.values())
t_without, t_with = timings[lengths[-1]]
per_token = {cached: [timings[t][cached] / t for t in (lengths[0], lengths[-1])] for cached in (0, 1)}
print(f"sorting 1,000 strings: the cache at least 2x faster ({sort_fewer:.1f}x fewer token passes):",
      sort_without > 2 * sort_with)
print(f"generating {lengths[-1]} tokens: the cache faster:", t_without > t_with)
print(f"  but by less than a quarter of the {long_fewer:.0f}x fewer token passes:", t_without < long_fewer / 4 * t_with)
print(f"from {lengths[0]} to {lengths[-1]} new tokens, the time per token grows more without the cache than with it:",
      per_token[0][1] / per_token[0][0] > per_token[1][1] / per_token[1][0])
print("  with the cache, it less than doubles:", per_token[1][1] < 2 * per_token[1][0])

# %% [markdown]
# **What the cache costs.** Memory: keys and values for every layer, position and head. `kv_cache_bytes` from
# notebook 07 gives the size, $2 \cdot \text{layers} \cdot B \cdot S \cdot H \cdot D \cdot \text{bytes per number}$;
# we check it against what the caches of a 457-token generation actually hold (float32, 4 bytes a number) and put it
# next to the size of the model's weights.

# %%
with torch.no_grad():
    long_ids = long_model.generate(long_prompt, 448)  # (1, 457): a longer generation than those timed
    long_caches = long_model.new_caches()
    long_model(long_ids, long_caches)  # fill every layer's cache with all 457 positions
held = sum(t.numel() * t.element_size() for cache in long_caches for t in (cache.keys, cache.values))
S_long = long_ids.size(1)
formula = kv_cache_bytes(num_layers=2, batch=1, seq_len=S_long, num_kv_heads=2, head_dim=32, bytes_per_value=4)
weights_bytes = sum(p.numel() * p.element_size() for p in long_model.parameters())
print(f"S = {S_long}: the caches hold {held:,} bytes; kv_cache_bytes says {formula:,}; equal: {held == formula}")
print(f"the model's weights: {weights_bytes:,} bytes; one cached sequence is {held / weights_bytes:.2f} of that, "
      f"a batch of 16 such sequences {16 * held / weights_bytes:.1f} times the weights")

# %% [markdown]
# Even for this toy, one long sequence's cache is almost as large as the weights, and a batch of 16 of them is
# fourteen times larger. For large models the same formula gives gigabytes per sequence (notebook 07's table):
# the cache trades memory for time, and grouped-query attention (notebook 07) is one way to shrink it.
#
# ## Exercises
#
# How the exercises work (a stub to complete, a check cell that names common mistakes, `check.hint("name")`
# for one hint at a time, a hidden solution) is explained once, in [00 · Welcome](00_welcome.ipynb).
# For example:

# %%
check.hint("append_to_cache")

# %% [markdown]
# ### Exercise 1: a pre-norm block from its parts
#
# Write `my_pre_norm_block(x, attn, mlp, ln1, ln2)`, where `x` is the stream `(B, L, E)`, `attn` a causal
# self-attention, `mlp` the per-token network, and `ln1`, `ln2` two layer norms. Each of the four is a plain function
# of one tensor: `attn(h)`, `mlp(h)`, `ln1(h)` and `ln2(h)` take one `(B, L, E)` tensor and return one `(B, L, E)`
# tensor. (Unlike `block.self_attn(h, h, h)` earlier in this notebook, `attn` takes `h` once and returns no weights,
# so there is nothing to unpack.) Return the block's output: the stream after the attention sub-layer, then after
# the MLP sub-layer, in the pre-norm arrangement of section 2. Try it without scrolling up. Then predict what the
# checker says if you write the post-norm block of section 2.4.

# %% tags=["exercise"] keep_output=false
def my_pre_norm_block(x, attn, mlp, ln1, ln2):
    """x (B, L, E) -> (B, L, E). attn, mlp, ln1, ln2: each maps one (B, L, E) tensor to one (B, L, E) tensor."""
    raise NotImplementedError("your code here")


# %% tags=["check"] keep_output=false
check.pre_norm_block(my_pre_norm_block)

# %% tags=["solution"] jupyter={"source_hidden": true}
def my_pre_norm_block(x, attn, mlp, ln1, ln2):
    """x (B, L, E) -> (B, L, E). attn, mlp, ln1, ln2: each maps one (B, L, E) tensor to one (B, L, E) tensor."""
    h = x + attn(ln1(x))  # (B, L, E): attention reads a normalised copy; its answer is added to the stream
    return h + mlp(ln2(h))  # (B, L, E): the MLP likewise, with its own norm


# %% tags=["solution"]
# record=False: the course's own solution does not count in your progress (see attn_course.progress()).
check.pre_norm_block(my_pre_norm_block, record=False)

# %% [markdown]
# ### Exercise 2: append to the cache
#
# Write `my_append_to_cache(cache, new)`: `cache` holds the keys (or values) of the positions seen so far,
# `(B, H, S, D)`, and `new` those of the $L$ positions that just arrived, `(B, H, L, D)`. Return all of them, in the
# order of the sequence, `(B, H, S + L, D)`. Then think about which wrong axes would still run without an error when
# $S = L$ (`torch.cat` only needs the other axes to match), and why that makes them dangerous.

# %% tags=["exercise"] keep_output=false
def my_append_to_cache(cache, new):
    """cache (B, H, S, D), new (B, H, L, D) -> (B, H, S + L, D): the cached positions first, then the new ones."""
    raise NotImplementedError("your code here")


# %% tags=["check"] keep_output=false
check.append_to_cache(my_append_to_cache)

# %% tags=["solution"] jupyter={"source_hidden": true}
def my_append_to_cache(cache, new):
    """cache (B, H, S, D), new (B, H, L, D) -> (B, H, S + L, D): the cached positions first, then the new ones."""
    return torch.cat([cache, new], dim=2)  # (B, H, S, D) + (B, H, L, D) -> (B, H, S + L, D): the past first


# %% tags=["solution"]
# record=False: the course's own solution does not count in your progress (see attn_course.progress()).
check.append_to_cache(my_append_to_cache, record=False)

# %% [markdown]
# ## Summary
#
# You can now
# - say what each part of a transformer block is for, and show it with a number: attention on a lone token is an
#   affine map (so the MLP does the per-token computing); without residuals, stacked attention makes all tokens
#   identical and gradients vanish on the way down; layer norm gives each sub-layer an input of a fixed scale;
# - write a pre-norm block, $h = x + \mathrm{Attn}(\mathrm{LN}_1(x))$, $y = h + \mathrm{MLP}(\mathrm{LN}_2(h))$,
#   and tell it from the 2017 post-norm block, which normalises the stream itself;
# - build a decoder-only transformer (embeddings, causal blocks, final norm, head), count its parameters, and
#   train it by next-token prediction on the positions that matter;
# - reach exact match on held-out strings, and read the trained attention as an algorithm: a layer-1 pointer to the
#   next digit to write, checked by statistics over the whole test set, with the limits of that reading stated;
# - generate with a KV cache of shape `(B, H, S, D)` per layer, show that it writes the same tokens as recomputing,
#   and measure its speed-up and its memory with `kv_cache_bytes`.
#
# ## Common pitfalls
# - **Post-norm where you meant pre-norm.** `ln(x + f(x))` normalises the stream itself; pre-norm is
#   `x + f(ln(x))`. Mixing them up still runs; post-norm is harder to train (it needs a warm-up, and deep stacks can
#   diverge), though when it trains it can match pre-norm.
# - **Normalising the stream in place.** `x = ln(x); x = x + f(x)` throws away the un-normalised stream: normalise a
#   copy and add to the original.
# - **A missing residual.** `x = attn(ln(x))` runs and has every shape right; deep stacks of it blur all tokens into
#   one and stop the gradient.
# - **One norm for both sub-layers**, or no final norm before the head in a pre-norm model (the stream is never
#   normalised otherwise).
# - **Scoring every position of a task with a prompt.** The input digits are random; the loss belongs on the answer.
#   And mind the shift: the logits at position $t$ predict token $t + 1$.
# - **Appending to the cache on the wrong axis.** Keys are `(B, H, S, D)`: new positions go on dim 2. On the head or
#   width axis the shapes can still line up (when $S = L$), and the results are silently wrong.
# - **Positions with a cache.** A new token sits at position `len(cache)`, not 0; forgetting the offset sent exact
#   match from at least 95% to below 20% in section 6.2.
# - **Comparing cached and uncached logits exactly.** They agree to float32 rounding, not bit for bit: use a
#   tolerance for logits and `torch.equal` only for the chosen tokens.
#
# ## Further reading
# - A. Vaswani et al., [*Attention Is All You Need*](https://arxiv.org/abs/1706.03762) (2017): the post-norm block,
#   the $4E$ feed-forward layer, the warm-up schedule.
# - J. L. Ba, J. R. Kiros, G. E. Hinton, [*Layer Normalization*](https://arxiv.org/abs/1607.06450) (2016).
# - K. He et al., [*Deep Residual Learning for Image Recognition*](https://arxiv.org/abs/1512.03385) (2016): residual
#   connections.
# - R. Xiong et al., [*On Layer Normalization in the Transformer Architecture*](https://arxiv.org/abs/2002.04745)
#   (2020): a mean-field analysis of why post-norm needs a warm-up and pre-norm does not.
# - A. Baevski, M. Auli, [*Adaptive Input Representations for Neural Language
#   Modeling*](https://arxiv.org/abs/1809.10853) (2018): an early pre-norm transformer language model.
# - A. Radford et al., [*Language Models are Unsupervised Multitask
#   Learners*](https://cdn.openai.com/better-language-models/language_models_are_unsupervised_multitask_learners.pdf)
#   (GPT-2, 2019): pre-norm, not invented there but made standard for large language models (layer norm moved to the
#   input of each sub-block relative to GPT-1), and a final layer norm.
# - Q. Wang et al., [*Learning Deep Transformer Models for Machine Translation*](https://arxiv.org/abs/1906.01787)
#   (2019): pre-norm trains much deeper encoders than post-norm.
# - Y. Dong, J.-B. Cordonnier, A. Loukas, [*Attention is Not All You Need: Pure Attention Loses Rank Doubly
#   Exponentially with Depth*](https://arxiv.org/abs/2103.03404) (2021): what section 2.3 measured.
# - M. Geva et al., [*Transformer Feed-Forward Layers Are Key-Value Memories*](https://arxiv.org/abs/2012.14913)
#   (2021): what the MLPs store.
# - N. Elhage et al., [*A Mathematical Framework for Transformer
#   Circuits*](https://transformer-circuits.pub/2021/framework/index.html) (2021): the residual stream, and reading
#   heads as algorithms.
# - A. Karpathy, [nanoGPT `model.py`](https://github.com/karpathy/nanoGPT/blob/master/model.py): `Block`, `MLP` and
#   `GPT` in about 300 lines, the same pre-norm arrangement.
# - R. Pope et al., [*Efficiently Scaling Transformer Inference*](https://arxiv.org/abs/2211.05102) (2022): the KV
#   cache, its memory, and what bounds generation speed on real hardware.
# - PyTorch, [`torch.nn.LayerNorm`](https://pytorch.org/docs/stable/generated/torch.nn.LayerNorm.html) and
#   [`torch.optim.lr_scheduler.OneCycleLR`](https://pytorch.org/docs/stable/generated/torch.optim.lr_scheduler.OneCycleLR.html).
#
# **Next:** [09 · Cross-attention](09_cross_attention.ipynb) lets one sequence read another: it adds a
# cross-attention sub-layer to this block, takes apart an encoder-decoder transformer (the original paper's design,
# with this notebook's pre-norm block), trains it to translate notebook 05's dates, then trains a model to answer
# questions about pictures.
