# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 06 · Self-attention and positions
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/attn-course/attention-step-by-step/blob/main/notebooks/06_self_attention_and_positions.ipynb)
#
# In notebooks 03 to 05 the queries came from one place and the keys and values from another: a new film asked the
# films a user had rated, a decoder asked the states of an encoder. **Self-attention** lets a sentence ask *itself*:
# every token produces a query, a key and a value, and every token's output is an average over the whole sentence,
# weighted by how well its query matches each key. That one step, repeated in layer after layer, is how a
# transformer lets "bites" find its subject and "hungry" the noun it describes. This notebook builds it from one
# token up, shows why it needs three learned projections, and then meets its blind spot: on its own, self-attention
# does not know the order of the words, so "dog bites man" and "man bites dog" look the same to it. The cure is to
# give it positions. We build the sinusoidal encodings of the original transformer, the rotary embeddings (RoPE) of
# today's large language models (Meta's Llama and the many models built like it), and ALiBi, a bias on the scores,
# and measure which of them still work on sequences longer than those trained on. Last, we see what self-attention
# gained over the recurrent networks of notebook 05.
#
# **Learning goals.** After this notebook you can
# - **compute** self-attention by hand for one token, then for all tokens with one matrix product;
# - **explain** why queries, keys and values are three different projections of the same token, and scale the
#   scores by the head width $D$;
# - **use** the progression `SelfAttentionLoops` → `SelfAttention` → `CausalSelfAttention` and show that each
#   gives the same result as the one before;
# - **prove** by computation that self-attention without positions is permutation-equivariant;
# - **build** sinusoidal position encodings and rotary embeddings, and show why a fixed offset between two
#   positions acts on them as a rotation;
# - **add** ALiBi's distance bias to the scores as a float mask, and **measure** how each position scheme does on
#   sequences longer than the training ones;
# - **compare** self-attention with a recurrent layer: cost per layer, sequential steps, path length.
#
# **Prerequisites.** [03 · Attention as a soft lookup](03_attention_as_soft_lookup.ipynb) (queries, keys and
# values) and [04 · Scaled dot-product attention and masks](04_scaled_dot_product_attention_and_masks.ipynb)
# ($\mathrm{softmax}(QK^\top/\sqrt{D})\,V$, causal masks, float masks, `plot_attention`), and
# [05 · Attention in RNN encoder-decoders](05_attention_in_rnn_encoder_decoders.ipynb) for section 7.
#
# **Time.** About 65 minutes of study.

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
from torch import nn

from attn_course import causal_mask, device, plot_attention, scaled_dot_product_attention, set_seed, softmax
from attn_course.bench import best_time
from attn_course.exercises import self_attention as check
from attn_course.positions import (
    RelativePositionBias,
    alibi_bias,
    alibi_slopes,
    apply_rotary,
    relative_position_bucket,
    rotary_angles,
    sinusoidal_positions,
)
from attn_course.self_attention import CausalSelfAttention, SelfAttention, SelfAttentionLoops

set_seed(0)
torch.set_num_threads(1)  # the same summation order on every machine, so stored outputs match
torch.set_printoptions(precision=4, sci_mode=False)
np.set_printoptions(precision=4, suppress=True)
DEVICE = device()

# %% [markdown]
# The sentences here have seven tokens, so everything runs on the CPU; `DEVICE` is set up as in every notebook
# but not used.
#
# ## 1. One token attends to its sentence (core)
#
# A model sees a sentence as a matrix $X$ of shape $(L, E)$: one row, an **embedding**, per token. A trained model
# learns its embeddings; to see what attention does with them we write them by hand, with six features whose
# meaning we know. A 2 means "yes"; the 1s say that "hungry" is usually said of animals, "old" of people, and that
# the subject of "bites" is usually an animal. (Why 2s? A score is a dot product, so doubling the main features
# multiplies their part of a score by 4, and softmax turns larger score differences into clearer weights. The 1s
# stay small on purpose: a preference should count less than what a word is.)

# %%
FEATURES = ["noun", "verb", "adjective", "determiner", "animal", "human"]
EMBEDDING = {  # word -> its E = 6 features
    "the": [0, 0, 0, 2, 0, 0],
    "hungry": [0, 0, 2, 0, 1, 0],
    "old": [0, 0, 2, 0, 0, 1],
    "dog": [2, 0, 0, 0, 2, 0],
    "man": [2, 0, 0, 0, 0, 2],
    "bites": [0, 2, 0, 0, 1, 0],
}
words = "the hungry dog bites the old man".split()
x = torch.tensor([EMBEDDING[w] for w in words], dtype=torch.float32)  # (L, E): one row per token
L, E = x.shape
print(f"x has shape (L, E) = {tuple(x.shape)}\n")
print(" " * 8 + "".join(f"{f:>11}" for f in FEATURES))
for w, row in zip(words, x):
    print(f"{w:>8}" + "".join(f"{v:>11.0f}" for v in row))

# %% [markdown]
# **The simplest self-attention** uses each embedding as its own query, key and value: $q_i = k_i = v_i = x_i$.
# Take the verb, "bites" (token 3). It asks the sentence: its scores are its dot products with every token,
# scaled by $1/\sqrt{D}$ as in notebook 04, where $D$ is the width of $q$ and $k$ (here $q = k = x$, so $D = E = 6$);
# softmax turns them into weights; its output is the weighted average of the tokens:
#
# $$s_{j} = \frac{x_3 \cdot x_j}{\sqrt{D}}, \qquad w_{j} = \frac{e^{s_j}}{\sum_{j'} e^{s_{j'}}}, \qquad
# \text{out}_3 = \sum_{j} w_{j}\, x_j .$$

# %%
i = words.index("bites")
D = E  # q = k = x, so D = E
scores_i = torch.stack([x[i] @ x[j] for j in range(L)]) / math.sqrt(D)  # (L,): one score per token j
weights_i = softmax(scores_i, dim=0)  # (L,): sums to 1
out_i = sum(weights_i[j] * x[j] for j in range(L))  # (E,): the weighted average of the tokens

print(f"query: {words[i]!r}\n")
print(f"{'key':>8} {'x_i · x_j':>10} {'score':>8} {'weight':>8}")
for j, w in enumerate(words):
    print(f"{w:>8} {float(x[i] @ x[j]):>10.0f} {float(scores_i[j]):>8.4f} {float(weights_i[j]):>8.4f}")
print(f"\nweights sum to {float(weights_i.sum()):.4f}")
print(f"weight on 'dog' and 'hungry' together: {float(weights_i[1] + weights_i[2]):.4f},  "
      f"on the other four tokens together: {float(weights_i[[0, 4, 5, 6]].sum()):.4f}")
print("input of 'bites': ", dict(zip(FEATURES, [round(float(v), 3) for v in x[i]])))
print("output of 'bites':", dict(zip(FEATURES, [round(float(v), 3) for v in out_i])))

# %% [markdown]
# "bites" gives about half its weight (0.4978) to itself. "dog" (0.1463) and "hungry" (0.0973), the only tokens
# that share a feature with it, get more than any other token, but together (0.2435) less than the four unrelated
# tokens, 0.0647 each (0.2586 together): a score of 0 still gets weight. So the output is a blur: its "verb" feature
# falls from 2 to 0.996, and every feature "bites" lacks (noun 0.422, adjective 0.324, ...) now has some weight.
#
# **Every token at once.** Each token does the same, with its own row. A loop over the tokens says it plainly;
# then, exactly as in notebook 04, all $L \times L$ scores are one matrix product $XX^\top$, and all outputs a
# second one.

# %%
out_loop = torch.stack([softmax(x[i] @ x.T / math.sqrt(D), dim=0) @ x for i in range(L)])  # L times (L,) @ (L, E)

scores = x @ x.T / math.sqrt(D)  # (L, E) @ (E, L) -> (L, L): scores[i, j] = x_i · x_j / sqrt(D)
weights = softmax(scores, dim=-1)  # (L, L): row i is token i's weights over the sentence
out = weights @ x  # (L, L) @ (L, E) -> (L, E)

torch.testing.assert_close(out, out_loop)
torch.testing.assert_close(out[words.index("bites")], out_i)
torch.testing.assert_close(out, scaled_dot_product_attention(x, x, x))  # q = k = v = x
print("out", tuple(out.shape), "= the loop over tokens = row 'bites' by hand = scaled_dot_product_attention(x, x, x)")

# %% [markdown]
# That is all self-attention is: the attention of notebook 04 with queries, keys and values that all come from
# the same sequence. The output has one row per token, like the input, so the step can be repeated, layer after
# layer.
#
# ## 2. Why learned projections (core)
#
# ### 2.1 Without them, every token looks at itself
#
# Look at the score matrix $XX^\top$ (before the scale). Its diagonal holds $x_i \cdot x_i = \lVert x_i \rVert^2$,
# and by the Cauchy–Schwarz inequality $x_i \cdot x_j \le \lVert x_i \rVert \lVert x_j \rVert$: if all tokens had
# the same length, no other token could score higher with $x_i$ than $x_i$ itself, and with similar lengths one
# rarely does.

# %%
dots = x @ x.T  # (L, L)
print(dots)
print(f"\n{'token':>8} {'x_i · x_i':>10} {'best other':>11}")
for i, w in enumerate(words):
    print(f"{w:>8} {float(dots[i, i]):>10.0f} {float(dots[i].masked_fill(torch.arange(L) == i, -1e9).max()):>11.0f}")

# %% [markdown]
# In every row the diagonal is the largest entry; the only tie is "the" with the other "the", the same word. This
# is not a quirk of our hand-made features. With random embeddings in a realistic width the diagonal wins every
# row, and by a wide margin, because $x_i \cdot x_i$ grows like $E$ while the other dot products are sums of
# terms of random sign:

# %%
g = torch.Generator().manual_seed(1)
x_rand = torch.randn(50, 64, generator=g, dtype=torch.float64)  # 50 random tokens, E = 64
d_rand = x_rand @ x_rand.T  # (50, 50)
off_diagonal = d_rand[~torch.eye(50, dtype=torch.bool)]
print("rows whose largest score is the diagonal:", int((d_rand.argmax(dim=-1) == torch.arange(50)).sum()), "of 50")
print(f"mean diagonal score: {float(d_rand.diag().mean()):.1f},  largest off-diagonal score: {float(off_diagonal.max()):.1f}")
print(f"average weight a token gives itself: {float(softmax(d_rand / 8, dim=-1).diag().mean()):.4f}")  # scaled by 1/sqrt(64)

# %% [markdown]
# The diagonal scores are about 63, the largest of all the others about 24: a token gives nearly all its weight to
# itself (0.9543 on average here) and learns little from the others. There is a deeper problem than the diagonal:
# with $q = k = v = x$ the **question equals the answer**. What a token looks for, what it offers to be found by,
# and what it hands over are all the same vector. A verb cannot ask "where is my subject?", because the only
# question a verb's vector can ask is "who looks like a verb?".
#
# ### 2.2 Three projections: what to ask, what to offer, what to give
#
# Self-attention therefore gives each token three different vectors, made from its embedding by three matrices
# that the model learns, each of shape $(D, E)$:
#
# $$q_i = W_q\, x_i \;\;\text{(what } i \text{ looks for)}, \qquad k_i = W_k\, x_i \;\;\text{(what } i \text{ is
# found by)}, \qquad v_i = W_v\, x_i \;\;\text{(what } i \text{ hands over)}.$$
#
# The **head width** $D$ need not equal the model width $E$. We write the three matrices by hand, with $D = 4$:
# the keys say "I am a noun / a verb / an animal / a person", and the queries translate each token's grammar into
# what it needs. Verbs, adjectives and determiners look for a noun, nouns look for a verb, and the animal and
# person features are kept as a preference. In code, a row vector times the transpose, `x @ W_q.T`, does the same
# for all tokens at once, the convention of `torch.nn.Linear`.

# %%
W_q = torch.tensor([  # columns: noun verb adjective determiner animal human
    [0, 2, 2, 2, 0, 0],  # q[0] "I look for a noun": asked by verbs, adjectives and determiners
    [2, 0, 0, 0, 0, 0],  # q[1] "I look for a verb": asked by nouns
    [0, 0, 0, 0, 1, 0],  # q[2] "... preferably an animal"
    [0, 0, 0, 0, 0, 1],  # q[3] "... preferably a person"
], dtype=torch.float32)  # (D, E) = (4, 6)
W_k = torch.tensor([
    [1, 0, 0, 0, 0, 0],  # k[0] "I am a noun"
    [0, 1, 0, 0, 0, 0],  # k[1] "I am a verb"
    [0, 0, 0, 0, 1, 0],  # k[2] "I am an animal"
    [0, 0, 0, 0, 0, 1],  # k[3] "I am a person"
], dtype=torch.float32)  # (D, E)
W_v = W_k.clone()  # values: hand over those same four facts, (D, E)
D = W_q.shape[0]

q, k, v = x @ W_q.T, x @ W_k.T, x @ W_v.T  # (L, E) @ (E, D) -> (L, D), three times
weights_proj = softmax(q @ k.T / math.sqrt(D), dim=-1)  # (L, D) @ (D, L) -> (L, L), scaled by the head width
out_proj = weights_proj @ v  # (L, L) @ (L, D) -> (L, D)
print("q, k, v:", tuple(q.shape), "  weights:", tuple(weights_proj.shape), "  out:", tuple(out_proj.shape))
for w in ("bites", "hungry", "dog"):
    i = words.index(w)
    top = int(weights_proj[i].argmax())
    print(f"{w!r:>9} without projections attends most to {words[int(weights[i].argmax())]!r} ({float(weights[i].max()):.3f}), "
          f"with projections to {words[top]!r} ({float(weights_proj[i, top]):.3f})")
print("'the' with projections gives 'dog'", round(float(weights_proj[0, 2]), 3), "and 'man'", round(float(weights_proj[0, 6]), 3))

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 5))
plot_attention(weights, words, words, ax=axes[0], title="q = k = v = x: each token asks for itself")
plot_attention(weights_proj, words, words, ax=axes[1], title="q = W_q x, k = W_k x: each token asks for a partner")
fig.suptitle("Self-attention weights of the same sentence, without and with projections")
fig.tight_layout()
plt.show()

# %% [markdown]
# On the left the bright cells sit on the diagonal: every token mostly looks at itself. On the right they leave it:
# "bites" and "hungry" look at "dog" (the animal-loving ones), "old" looks at "man", and "dog" and "man" look at the
# verb. Nothing about the words changed, only the questions they ask. Row "the" is telling: it wants a noun and
# gives "dog" and "man" the same weight (0.478 each), because nothing in the embeddings
# says *which* noun comes after each "the". Section 3 shows that self-attention cannot know, and sections 4–5 fix
# it.
#
# In a real model nobody writes $W_q, W_k, W_v$: they start random and training shapes them, and the questions
# they learn are rarely this tidy. What the hand-made ones show is the *capacity*: separate projections let a
# token ask for something other than itself.
#
# ### 2.3 The named progression: loops, matrices, causal
#
# The package keeps self-attention as three small classes, each one step further than the last, like the
# `SelfAttention_v1` → `CausalAttention` progression of S. Raschka's *Build a Large Language Model (From
# Scratch)*. They share the same three
# parameters, `W_q`, `W_k`, `W_v` (`nn.Linear(E, D, bias=False)` layers, whose `.weight` has shape $(D, E)$), so one
# can load another's weights:
#
# - `SelfAttentionLoops(E, head_dim=D)`: explicit Python loops over batch, queries and keys, section 1 written out;
# - `SelfAttention(E, head_dim=D)`: the same with matrix products, through `scaled_dot_product_attention`;
# - `CausalSelfAttention(E, head_dim=D)`: token $i$ sees tokens $0..i$ only.
#
# Each takes `x` of shape `(B, L, E)` and returns the output `(B, L, D)` and the weights `(B, L, L)`. We load our
# hand-made matrices into the first, and pass its weights along the chain.

# %%
loops = SelfAttentionLoops(E, head_dim=D)
loops.load_state_dict({"W_q.weight": W_q, "W_k.weight": W_k, "W_v.weight": W_v})
fast = SelfAttention(E, head_dim=D)
fast.load_state_dict(loops.state_dict())  # the same parameters
causal = CausalSelfAttention(E, head_dim=D)
causal.load_state_dict(fast.state_dict())
for name, p in fast.state_dict().items():
    print(f"{name:10} {tuple(p.shape)}")

xb = x[None]  # (B, L, E) = (1, 7, 6): a batch of one sentence
with torch.no_grad():
    out_loops, w_loops = loops(xb)  # (B, L, D), (B, L, L)
    out_fast, w_fast = fast(xb)
    out_causal, w_causal = causal(xb)
    out_masked, w_masked = fast(xb, attn_mask=causal_mask(L))  # SelfAttention with an explicit causal mask

torch.testing.assert_close(out_fast, out_loops)
torch.testing.assert_close(w_fast, w_loops)
torch.testing.assert_close(out_fast[0], out_proj)  # = our hand computation of section 2.2
torch.testing.assert_close(out_causal, out_masked)
torch.testing.assert_close(w_causal, w_masked)
print("\nout", tuple(out_fast.shape), " weights", tuple(w_fast.shape))
print("SelfAttentionLoops = SelfAttention = section 2.2 by hand")
print("CausalSelfAttention = SelfAttention(attn_mask=causal_mask(L))")

# %% [markdown]
# **The scale is $1/\sqrt{D}$, the head width, not $1/\sqrt{E}$.** Notebook 04's argument was about the vectors
# inside the dot product: $q \cdot k$ is a sum of as many products as $q$ has coordinates. After the projections
# that is $D$, whatever the width $E$ of the embeddings. With several heads (notebook 07) $D$ is typically $E/H$,
# so mixing them up is a real bug, and a silent one: both versions run. Here $D = 4$ and $E = 6$, and only one
# matches the package and PyTorch's own function, which divides by the width of the query it is given:

# %%
with torch.no_grad():
    q_b, k_b, v_b = fast.W_q(xb), fast.W_k(xb), fast.W_v(xb)  # (B, L, E) @ (E, D) -> (B, L, D), three times
by_D = softmax(q_b @ k_b.transpose(-2, -1) / math.sqrt(D), dim=-1) @ v_b  # weights (B, L, L) @ (B, L, D) -> (B, L, D)
by_E = softmax(q_b @ k_b.transpose(-2, -1) / math.sqrt(E), dim=-1) @ v_b  # the bug: scaled by the model width
print(f"D = {D}, E = {E}")
print("package equals the version scaled by 1/sqrt(D):", torch.allclose(out_fast, by_D, atol=1e-6))
print("package equals the version scaled by 1/sqrt(E):", torch.allclose(out_fast, by_E, atol=1e-6))
print("PyTorch's F.scaled_dot_product_attention equals it:", torch.allclose(F.scaled_dot_product_attention(q_b, k_b, v_b),
                                                                           out_fast, atol=1e-6))
print(f"largest difference made by the wrong scale: {float((by_E - by_D).abs().max()):.4f}")

# %% [markdown]
# **Causal self-attention.** A language model predicts each next word from the words before it, so token $i$ may
# only attend to tokens $0..i$: the causal mask of notebook 04, applied inside self-attention.

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 5))
plot_attention(w_fast[0], words, words, ax=axes[0], title="SelfAttention: every token sees the sentence")
plot_attention(w_causal[0], words, words, ax=axes[1], title="CausalSelfAttention: token i sees tokens 0..i")
fig.suptitle("The same projections, without and with the causal mask")
fig.tight_layout()
plt.show()
print("causal weights above the diagonal are all 0:", bool((w_causal[0].triu(1) == 0).all()))
print(f"\n{'token':>10} {'without the mask':>21} {'with the causal mask':>21}")
for i, w in enumerate(words):
    top, top_c = int(w_fast[0, i].argmax()), int(w_causal[0, i].argmax())  # the key each row attends to most
    print(f"{i} {w!r:>8} {words[top]!r:>13} ({float(w_fast[0, i, top]):.3f})"
          f" {words[top_c]!r:>13} ({float(w_causal[0, i, top_c]):.3f})")
print("\nrow 'man' (the last token) is unchanged:", torch.allclose(w_causal[0, -1], w_fast[0, -1]))

# %% [markdown]
# The right-hand panel is the left one with everything above the diagonal removed and each row renormalised. The
# table lists, for every row, the token it attends to most. Only "man", the last token, sees the whole sentence
# and keeps its row. "bites" keeps its partner "dog", which comes before it, and even gains weight (0.709 → 0.972)
# because "man" is out of reach. Three tokens lose their partner, which is in their future, and fall back on what
# they can see: "hungry" wanted "dog" and now looks at itself (0.622), "dog" wanted "bites" and looks at itself
# (0.665), "old" wanted "man" and takes "dog" (0.906), the only noun before it. The two "the"s, which split their
# weight between "dog" and "man", change too: the first can only see itself (1.000), the second gives "dog" 0.932.
# A causal model has to carry such information forward instead: the later token ("man") can look back at "old".
#
# ## 3. Self-attention alone ignores order (core)
#
# Shuffle the tokens of a sentence. Every token still has the same embedding, so the same query, key and value; it
# meets the same set of keys, only listed in another order; and a sum does not care about order. So each token's
# output is unchanged, it just moves with its token. In symbols, for any permutation matrix $P$:
#
# $$\mathrm{SelfAttention}(PX) = P\,\mathrm{SelfAttention}(X).$$
#
# Self-attention is **permutation-equivariant**. We check it with a random shuffle, for our hand-made projections
# and for random ones.

# %%
g = torch.Generator().manual_seed(2)
perm = torch.randperm(L, generator=g)
random_sa = SelfAttention(E, head_dim=D)  # random projections, from the seeded default initialisation
print("shuffled:", " ".join(words[p] for p in perm))
with torch.no_grad():
    for name, model in (("hand-made projections", fast), ("random projections", random_sa)):
        o, w = model(xb)
        o_p, w_p = model(xb[:, perm])  # the shuffled sentence
        print(f"{name:22} outputs move with their tokens: {torch.allclose(o_p, o[:, perm], atol=1e-6)},"
              f"  weights too (rows and columns): {torch.allclose(w_p, w[:, perm][:, :, perm], atol=1e-6)}")

# %% [markdown]
# Now the shuffle that matters. "the old man bites the hungry dog" has exactly the words of "the hungry dog bites
# the old man", in another order, and the opposite meaning. Self-attention gives every word the same output in
# both sentences, so whatever is built on top, even a classifier reading the average of all outputs, cannot
# tell who bit whom:

# %%
words2 = "the old man bites the hungry dog".split()
x2 = torch.tensor([EMBEDDING[w] for w in words2], dtype=torch.float32)[None]  # (1, L, E)
with torch.no_grad():
    o1, o2 = fast(xb)[0][0], fast(x2)[0][0]  # (L, D) each
for w in ("hungry", "dog", "bites", "old", "man"):
    same = torch.allclose(o1[words.index(w)], o2[words2.index(w)], atol=1e-6)
    print(f"{w!r:>9} has the same output in both sentences: {same}")
print("the averages of the outputs are equal:", torch.allclose(o1.mean(0), o2.mean(0), atol=1e-6))

# %% [markdown]
# For a bag of words that would be fine; for language it is not. (One honest exception: the *causal* mask is itself
# a source of order, since token $i$ sees exactly $i + 1$ tokens. Causal self-attention is not
# permutation-equivariant, and language models without any position encoding can learn something about positions
# from it (Haviv et al., 2022). Most models still give positions explicitly.)

# %%
with torch.no_grad():
    c1, c2 = causal(xb)[0][0], causal(x2)[0][0]
print("causal: 'dog' has the same output in both sentences:",
      torch.allclose(c1[words.index("dog")], c2[words2.index("dog")], atol=1e-6))

# %% [markdown]
# ## 4. Sinusoidal position encodings (core)
#
# The fix of Vaswani et al. (2017) is to **add** to each token's embedding a vector that depends only on its
# position $p$, the same for every sentence:
#
# $$\mathrm{PE}[p, 2i] = \sin\!\left(\frac{p}{10000^{2i/E}}\right), \qquad
# \mathrm{PE}[p, 2i+1] = \cos\!\left(\frac{p}{10000^{2i/E}}\right), \qquad i = 0, 1, \dots, E/2 - 1 .$$
#
# Each pair of dimensions $(2i, 2i+1)$ is a point on a circle that turns by $\omega_i = 10000^{-2i/E}$ radians per
# position, like the hand of a clock. The first pair turns by 1 radian per position; each later pair turns more
# slowly, by a constant factor, towards $1/10000$ radian per position (0.0002 for the last pair when $E = 32$, as
# the next cell prints): the frequencies are a **geometric** sequence. We derive it, then check the package's
# `sinusoidal_positions(L, E)`.

# %%
def my_sinusoidal_positions(L, E, base=10_000.0):
    """(L, E): sin and cos of p * base^(-2i/E), interleaved; E even."""
    p = torch.arange(L, dtype=torch.float64)[:, None]  # (L, 1)
    omega = base ** (-torch.arange(0, E, 2, dtype=torch.float64) / E)  # (E/2,): 1 down to ~1/base
    pe = torch.zeros(L, E, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(p * omega)  # (L, 1) * (E/2,) -> (L, E/2)
    pe[:, 1::2] = torch.cos(p * omega)
    return pe.float()


L_pe, E_pe = 64, 32
pe = sinusoidal_positions(L_pe, E_pe)  # (L, E)
torch.testing.assert_close(pe, my_sinusoidal_positions(L_pe, E_pe))
omega = 10_000 ** (-torch.arange(0, E_pe, 2, dtype=torch.float64) / E_pe)  # (E/2,)
print("pe", tuple(pe.shape), "= my_sinusoidal_positions")
print("turn per position of each pair (radians):", np.round(omega.numpy(), 4))
print("wavelength of each pair (positions):     ", np.round((2 * math.pi / omega).numpy(), 1))

# %%
fig, axes = plt.subplots(1, 2, figsize=(13, 4.5), gridspec_kw={"width_ratios": [1, 1.3]})
image = axes[0].imshow(pe.T, cmap="RdBu", vmin=-1, vmax=1, aspect="auto")
fig.colorbar(image, ax=axes[0], fraction=0.046, pad=0.04)
axes[0].set_xlabel("position p")
axes[0].set_ylabel("dimension (sin at even, cos at odd)")
axes[0].set_title(f"sinusoidal_positions({L_pe}, {E_pe})")
for dim in (0, 4, 8, 16):
    axes[1].plot(pe[:, dim], label=f"dimension {dim}: wavelength {2 * math.pi / float(omega[dim // 2]):.1f}")
axes[1].set_xlabel("position p")
axes[1].set_ylabel("PE[p, dimension]")
axes[1].set_title("A few dimensions: the frequency falls geometrically")
axes[1].legend(loc="lower left", fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# In the heatmap (left, dimensions down, positions across) the top rows flicker from one position to the next
# and the rows further down change ever more slowly; the bottom rows are almost constant over 64 positions. The
# curves (right) are four of those rows: dimension 0 repeats every 6.3 positions (jagged, because it is only
# sampled at whole positions), dimension 16 has a wavelength of 628.3 positions and is still rising at position 63.
#
# **Why many frequencies: each position gets its own code.** One pair alone would be a single clock hand: it
# comes back almost where it started whenever a whole number of steps of one radian is close to a whole number of
# turns of $2\pi$, so two far-apart positions can get almost the same code. The fast pairs tell neighbours apart,
# the slow ones tell far-apart positions apart, like the hands of a clock or the digits of a counter. The next cell
# finds the closest two positions for the first pair alone, then compares the distances between all 64 codes
# when all the pairs are used:

# %%
def closest_pair(code):
    """The two distinct positions whose codes are closest, and their distance."""
    dist = torch.cdist(code.double(), code.double()).fill_diagonal_(float("inf"))  # (L, L)
    a, b = divmod(int(dist.argmin()), dist.shape[1])
    return a, b, float(dist[a, b])


a, b, d = closest_pair(pe[:, :2])
turns = (b - a) / (2 * math.pi)  # how many times the first pair went round between them
print(f"first pair only (sin p, cos p): positions {a} and {b} are {d:.4f} apart;  {b - a} / 2π = {turns:.4f} turns")

dist = torch.cdist(pe.double(), pe.double())  # (L, L): distance between the codes of positions p and p'
neighbours = dist.diagonal(1)  # (L - 1,): distance between PE[p] and PE[p + 1]
distinct = dist[~torch.eye(L_pe, dtype=torch.bool)]  # (L * (L - 1),): all pairs of distinct positions
print(f"all {E_pe} dimensions: neighbours are from {float(neighbours.min()):.4f} to {float(neighbours.max()):.4f} apart;"
      f"  the closest two distinct positions are {float(distinct.min()):.4f} apart")
print("pairs of positions closer than neighbours:", int((distinct < neighbours.min() - 1e-6).sum()))

# %% [markdown]
# The single hand brings positions 4 and 48 within 0.0177 of each other: 44 steps of one radian are 7.0028 turns,
# so the hand is back almost where it was. With all 32 dimensions every pair of neighbours is the same distance
# apart, 1.1716, and no two positions are closer. That every step has the same length, wherever it starts, is no
# accident: one step is the same rotation at every position, as we now show.
#
# **Why sines and cosines: a fixed offset is a rotation.** Adding the angles inside a pair gives
#
# $$\begin{pmatrix} \sin((p+k)\omega) \\ \cos((p+k)\omega) \end{pmatrix} =
# \begin{pmatrix} \cos k\omega & \sin k\omega \\ -\sin k\omega & \cos k\omega \end{pmatrix}
# \begin{pmatrix} \sin p\omega \\ \cos p\omega \end{pmatrix},$$
#
# a rotation that depends on the offset $k$ and not on $p$. So for every offset $k$ there is one matrix $M_k$ (a
# rotation in each pair) with $\mathrm{PE}[p+k] = M_k\, \mathrm{PE}[p]$ for **every** position $p$: "three tokens
# further on" is the same linear map wherever you are, which is easy for a linear layer to learn. We build $M_k$
# and check it on all positions at once.

# %%
def offset_matrix(k, omega):
    """(E, E): rotates each (sin, cos) pair by k * omega_i, so that PE[p + k] = M_k @ PE[p]."""
    M = torch.zeros(2 * len(omega), 2 * len(omega), dtype=torch.float64)
    for i, w in enumerate(omega):
        c, s = math.cos(k * w), math.sin(k * w)
        M[2 * i: 2 * i + 2, 2 * i: 2 * i + 2] = torch.tensor([[c, s], [-s, c]])
    return M


pe64 = my_sinusoidal_positions(L_pe, E_pe).double()  # float64, for exact comparisons
for k_off in (1, 3, 10):
    M = offset_matrix(k_off, omega)  # (E, E)
    shifted = pe64[:-k_off] @ M.T  # (L - k, E) @ (E, E): M_k applied to every PE[p]
    print(f"k = {k_off:>2}: PE[p + k] = M_k PE[p] for all {L_pe - k_off} positions p:",
          torch.allclose(shifted, pe64[k_off:], atol=1e-6))

# %% [markdown]
# A consequence: the dot product of two encodings depends only on how far apart they are, since rotations keep dot
# products, $\mathrm{PE}[p] \cdot \mathrm{PE}[p+k] = \sum_i \cos(k\,\omega_i)$. Rows are positions $p$, columns
# offsets $k$: each column is constant.

# %%
print("PE[p] · PE[p + k]")
print("p \\ k " + "".join(f"{k_off:>8}" for k_off in range(6)))
for p in range(6):
    print(f"{p:>5} " + "".join(f"{float(pe64[p] @ pe64[p + k_off]):>8.3f}" for k_off in range(6)))
print("formula" + "".join(f"{float(torch.cos(k_off * omega).sum()):>7.3f} " for k_off in range(6)))

# %% [markdown]
# Every column has a single value, the same as the formula: $E/2 = 16$ at $k = 0$, then smaller (15.314 at $k = 1$,
# 11.662 at $k = 4$). Nearby positions have more alike encodings than distant ones, though not strictly in order:
# the value rises again a little at $k = 5$ (11.777), because the cosines of the fast pairs swing back.
#
# **Adding positions breaks the symmetry.** The model adds `sinusoidal_positions(L, E)` to the embeddings before the
# first layer. The two sentences now give different outputs for the same word, and even the two "the"s of one
# sentence are told apart:

# %%
pos = sinusoidal_positions(L, E)  # (L, E): one row per position, the same for every sentence
with torch.no_grad():
    p1 = fast(xb + pos)[0][0]  # (L, D): "the hungry dog bites the old man", with positions
    p2 = fast(x2 + pos)[0][0]  # "the old man bites the hungry dog"
for w in ("dog", "bites", "man"):
    same = torch.allclose(p1[words.index(w)], p2[words2.index(w)], atol=1e-6)
    print(f"{w!r:>7} has the same output in both sentences: {same}")
print("the two 'the's have the same output:", torch.allclose(p1[0], p1[4], atol=1e-6))

# %% [markdown]
# Adding works, but it mixes what and where in one vector. A query is now $W_q(x_p + \mathrm{PE}[p])$ and a key
# $W_k(x_n + \mathrm{PE}[n])$, so their score has four terms: content–content, two content–position cross terms,
# and the position–position term, for the offset $k = n - p$,
#
# $$(W_q \mathrm{PE}[p]) \cdot (W_k \mathrm{PE}[p+k]) = \mathrm{PE}[p]^\top W_q^\top W_k\, \mathrm{PE}[p+k] .$$
#
# The table above had no matrix between the two encodings. With random projections ($D = 8$) in between, at the
# fixed offset $k = 1$:

# %%
g = torch.Generator().manual_seed(6)
W_q_pe, W_k_pe = torch.randn(2, 8, E_pe, generator=g, dtype=torch.float64) / math.sqrt(E_pe)  # (D, E) each, D = 8
before = [float(pe64[p] @ pe64[p + 1]) for p in range(6)]  # PE[p] · PE[p + 1]
after = [float((W_q_pe @ pe64[p]) @ (W_k_pe @ pe64[p + 1])) for p in range(6)]  # (D, E) @ (E,) -> (D,), twice
print("p:                               ", list(range(6)))
print("PE[p] · PE[p + 1]:               ", [round(t, 3) for t in before])
print("(W_q PE[p]) · (W_k PE[p + 1]):   ", [round(t, 3) for t in after])
print("after the projections the term changes with p:", max(after) - min(after) > 0.1)

# %% [markdown]
# Before the projections the term is the same at every $p$; after them it changes with $p$. The rotations of
# $\mathrm{PE}[p]$ and $\mathrm{PE}[p+k]$ cancel down to the offset only when nothing sits between them, and
# $W_q^\top W_k$ is in general not built from those same rotations. That is the motivation for RoPE, next: it
# rotates $q$ and $k$ *after* the projections, so the score depends on position only through the offset.
# (GPT-2 and BERT *learn* the added vectors instead, one per position up to a fixed maximum.)
#
# ## 5. Rotary position embeddings (RoPE) (core)
#
# Su et al. (2021) put the rotation where the comparison happens. Instead of adding anything to $x$, they **rotate
# the query and the key** of a token at position $p$, pair of coordinates by pair: pair $i$ turns by $p\,\theta_i$,
# with $\theta_i = 10000^{-2i/D}$, the frequencies of section 4 over the head width $D$. Rotations keep lengths,
# and rotating back by $m\theta$ and forward by $n\theta$ is a rotation by $(n - m)\theta$, so the score of a query
# at position $m$ and a key at position $n$ depends only on the offset $n - m$:
#
# $$\big(R(m\theta)\, q\big) \cdot \big(R(n\theta)\, k\big) = q^\top R(m\theta)^\top R(n\theta)\, k
# = q^\top R\big((n - m)\theta\big)\, k .$$
#
# `apply_rotary(x, positions)` pairs coordinate $i$ with coordinate $i + D/2$ (the "rotate half" layout of Llama in
# Hugging Face's `transformers`, the most used library of pretrained models; RoFormer pairs neighbours
# $(2i, 2i+1)$, the same rotation with the coordinates stored in another order). By hand, pair $i$ is rotated by the
# $2 \times 2$ matrix `R` of the next cell, with $-\sin$ at the top right.
# In section 4 the $-\sin$ was at the bottom left only because each pair was stored as $(\sin, \cos)$, that is
# $(y, x)$, instead of $(x, y)$: both turn the point the same way.

# %%
D_r = 8
g = torch.Generator().manual_seed(3)
u = torch.randn(D_r, generator=g, dtype=torch.float64)  # one query (or key) of width D = 8
p_r = 5  # its position
theta = 10_000 ** (-torch.arange(0, D_r, 2, dtype=torch.float64) / D_r)  # (D/2,): the turn per position of each pair
print("theta:", theta.numpy().round(4), "  same as rotary_angles(1):",
      torch.allclose(theta, rotary_angles(torch.tensor([1]), D_r)[0]))

by_hand = torch.empty_like(u)
for i in range(D_r // 2):  # pair i is (u[i], u[i + D/2])
    c, s = math.cos(p_r * theta[i]), math.sin(p_r * theta[i])
    R = torch.tensor([[c, -s], [s, c]], dtype=torch.float64)  # rotation by p * theta_i
    by_hand[[i, i + D_r // 2]] = R @ u[[i, i + D_r // 2]]
rotated = apply_rotary(u[None], torch.tensor([p_r]))[0]  # (1, D) -> (D,) = (8,): one token at position 5
torch.testing.assert_close(rotated, by_hand)
print("apply_rotary = the pair-by-pair rotation by hand")
print(f"length before {float(u.norm()):.4f}, after {float(rotated.norm()):.4f}")

# %% [markdown]
# Here is one vector placed at positions 0 to 7, watched in two of its pairs: the fastest, which turns by
# $\theta_0 = 1$ radian per position, and the next, which turns by $\theta_1 = 0.1$.

# %%
positions8 = torch.arange(8)
u8 = apply_rotary(u.expand(8, D_r), positions8)  # (L, D): the same vector at positions 0..7
print("length at positions 0..7:", u8.norm(dim=-1).numpy().round(4))
fig, axes = plt.subplots(1, 2, figsize=(10, 4.8))
for ax, i in zip(axes, (0, 1)):
    a_i, b_i = u8[:, i].numpy(), u8[:, i + D_r // 2].numpy()  # pair i at every position
    radius = math.hypot(a_i[0], b_i[0])
    ax.add_patch(plt.Circle((0, 0), radius, fill=False, ls=":", color="grey"))
    ax.plot(a_i, b_i, "o-", color=f"C{i}")
    for p in range(8):
        ax.annotate(str(p), (a_i[p], b_i[p]), textcoords="offset points", xytext=(5, 5))
    ax.set_aspect("equal")
    ax.set_xlim(-1.3 * radius, 1.3 * radius)
    ax.set_ylim(-1.3 * radius, 1.3 * radius)
    ax.set_xlabel(f"coordinate {i}")
    ax.set_ylabel(f"coordinate {i + D_r // 2}")
    ax.set_title(f"pair {i}: turns {float(theta[i]):.1f} rad per position")
fig.suptitle("apply_rotary: one vector at positions 0..7 (labels), two of its pairs")
fig.tight_layout()
plt.show()

# %% [markdown]
# The points stay on their circle (the lengths printed above are all equal): position only changes the direction.
# Pair 0 jumps a full radian per step and has gone more than once around by position 7; pair 1 creeps a tenth of a
# radian per step. The fast pairs are sensitive to small offsets, the slow ones to large offsets.
#
# **The score depends only on the offset.** Put a query $q$ at position $m$ and a key $k$ at position $n$, for
# $m, n = 0..5$, and compute all the scores. If the claim holds, the table is constant along every diagonal
# ($n - m$ fixed).

# %%
g = torch.Generator().manual_seed(4)
q_r, k_r = torch.randn(2, D_r, generator=g, dtype=torch.float64)  # one query and one key, D = 8
six = torch.arange(6)
table = apply_rotary(q_r.expand(6, D_r), six) @ apply_rotary(k_r.expand(6, D_r), six).T  # (6, D) @ (D, 6) -> (6, 6)
print("score of q at position m (rows) with k at position n (columns)")
print(table.numpy().round(4))
diagonals = [table.diagonal(off) for off in range(-5, 6)]  # one diagonal per offset n - m
print("every diagonal is constant:", all(torch.allclose(dg, dg[0].expand_as(dg), atol=1e-12) for dg in diagonals))
print(f"without RoPE the score is q · k = {float(q_r @ k_r):.4f} at every position")

# %% [markdown]
# Each diagonal holds one value, whatever the positions: $-6.4833$ on the main diagonal (offset 0), $-7.6852$ one
# step to its right (the key one position after the query), $-3.3894$ one step to its left. Offset 0 gives the
# plain $q \cdot k$ back, since a rotation by $0$ changes nothing. Now the same over offsets $-20..20$, for queries
# at three very different positions:

# %%
offsets = torch.arange(-20, 21)
curves = {}
for m in (20, 100, 1000):
    q_m = apply_rotary(q_r.expand(len(offsets), D_r), torch.full((len(offsets),), m))  # q at position m, (N, D)
    k_n = apply_rotary(k_r.expand(len(offsets), D_r), m + offsets)  # k at positions m - 20 .. m + 20, (N, D)
    curves[m] = (q_m * k_n).sum(dim=-1)  # (N,): one score per offset
spread = max(float((curves[m] - curves[20]).abs().max()) for m in curves)
print(f"largest difference between the three curves: {spread:.1e}")
print("score at offsets -2..2:", curves[20][18:23].numpy().round(4))

fig, ax = plt.subplots(figsize=(8, 4))
for (m, s), style in zip(curves.items(), ("-", "--", ":")):
    ax.plot(offsets, s, style, lw=2.5 if m == 20 else 1.5, label=f"query at position m = {m}")
ax.axhline(float(q_r @ k_r), color="grey", lw=0.8, label="q · k without RoPE")
ax.set_xlabel("offset n − m (key position − query position)")
ax.set_ylabel("score of rotated q and k")
ax.set_title("RoPE: the score depends on the offset, not on where the pair sits")
ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=4)
plt.show()

# %% [markdown]
# The three curves lie on top of each other (they differ by about $10^{-14}$, float64 rounding): a query at
# position 1000 scores a key three tokens away exactly as a query at position 20 does. At offset 0 the curves
# meet the grey line, the plain $q \cdot k$; elsewhere the score swings with the offset, in a pattern set by $q$ and
# $k$, which training shapes.
#
# **In self-attention.** RoPE rotates the queries and keys after the projections and before the scores, in every
# layer; the values are not rotated, and nothing is added to $x$. With it, our two sentences are told apart:

# %%
def rope_self_attention(model, x):
    """model's projections, with RoPE on queries and keys: (B, L, E) -> (B, L, D)."""
    q, k, v = model.W_q(x), model.W_k(x), model.W_v(x)  # (B, L, E) @ (E, D) -> (B, L, D), three times
    return scaled_dot_product_attention(apply_rotary(q), apply_rotary(k), v)  # positions 0..L-1


with torch.no_grad():
    r1, r2 = rope_self_attention(fast, xb)[0], rope_self_attention(fast, x2)[0]  # (L, D) each
for w in ("dog", "bites", "man"):
    same = torch.allclose(r1[words.index(w)], r2[words2.index(w)], atol=1e-6)
    print(f"{w!r:>7} has the same output in both sentences: {same}")

# %% [markdown]
# RoPE is the position scheme of Llama and the models built like it (Mistral, Qwen, Gemma, and many more);
# [notebook 13](13_attention_in_pretrained_models.ipynb) runs it inside a real pretrained model. Its relative form
# also makes tricks for longer contexts possible, such as rescaling the angles to stretch a trained model to longer
# inputs.

# %% [markdown]
# ## 6. Biases on the scores: ALiBi (core)
#
# Sinusoidal and learned encodings put positions into the token vectors, where they mix with content (section 4).
# RoPE moved them into the comparison of $q$ and $k$. A third family goes one step further and leaves $q$ and $k$
# alone: it **adds a number to each score that depends only on the offset** $i - j$ between query and key. That is
# notebook 04's float mask with finite entries, so nothing new is needed to apply it, and since only the offset
# enters, the same rule works at any position and, in principle, at any length.
#
# ### 6.1 ALiBi: a penalty that grows with distance
#
# ALiBi, "attention with linear biases" (Press, Smith and Lewis, 2022), subtracts $m_h \cdot (i - j)$ from the score
# of query $i$ and an earlier key $j$, with a fixed slope $m_h$ per head (notebook 07 splits attention into $H$
# heads, each with its own scores; ALiBi gives each head its own slope): far keys score lower, near ones are
# preferred. The slopes are not learned; for $H$ heads they are the geometric sequence $m_h = 2^{-8h/H}$,
# $h = 1..H$, so some heads look very locally and others almost uniformly. (For $H$ not a power of two the paper's
# code takes the slopes of the nearest smaller power of two and fills in every other slope of the next larger one.)
# `alibi_slopes(H)` gives them and `alibi_bias(H, L, S)` the $(H, L, S)$ bias, with `causal=True` also blocking
# future keys with $-\infty$. Without `causal=True` the bias is symmetric, $-m_h |i - j|$, so later keys are
# penalised too (an extension for encoders; the paper covers causal models only). Queries sit top-left, at
# $0..L-1$, like `causal_mask(L, S)`. When a model generates text one token at a time and keeps the keys of the
# earlier tokens (notebook 08's KV cache), the $L$ new queries are the last positions, query $i$ at $S - L + i$:
# use `align="bottom-right"`.

# %%
print("slopes, H = 8:", alibi_slopes(8).tolist())
print("slopes, H = 6:", alibi_slopes(6).tolist())
print("slopes, H = 1:", alibi_slopes(1).tolist())
bias_ex = alibi_bias(8, 5, 7)  # (H, L, S) = (8, 5, 7): 5 queries, 7 keys
print("alibi_bias(8, 5, 7):", tuple(bias_ex.shape), " head 0, query 4:", bias_ex[0, 4].tolist())
print('align="bottom-right", head 0, query 4:', alibi_bias(8, 5, 7, align="bottom-right")[0, 4].tolist())

L_b = 10
bias_c = alibi_bias(8, L_b, causal=True)  # (H, L, L): -slope · (i - j), -inf above the diagonal
g = torch.Generator().manual_seed(5)
q_b, k_b = torch.randn(2, L_b, 16, generator=g)  # (L, D): D = 16
by_hand = softmax(q_b @ k_b.T / math.sqrt(16) + bias_c[0], dim=-1)  # (L, D) @ (D, L) -> (L, L), plus the bias
_, w_alibi = scaled_dot_product_attention(q_b, k_b, k_b, attn_mask=bias_c[0], return_weights=True)
print("bias as notebook 04's float mask = scores + bias by hand:", torch.allclose(w_alibi, by_hand, atol=1e-6))
print(f"head 0, query 9, key 0: bias {float(bias_c[0, 9, 0])}, a factor exp({float(bias_c[0, 9, 0])}) = "
      f"{math.exp(float(bias_c[0, 9, 0])):.4f} on the weight")

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
for ax, h in zip(axes, (0, 3)):
    shown = bias_c[h].masked_fill(bias_c[h] == float("-inf"), float("nan"))  # blank the blocked keys
    image = ax.imshow(shown, cmap="viridis", vmin=-L_b / 2, vmax=0)
    ax.set_xlabel("key position j")
    ax.set_ylabel("query position i")
    ax.set_title(f"head {h}: slope {float(alibi_slopes(8)[h]):.4f}")
fig.colorbar(image, ax=axes, fraction=0.03, label="bias added to the score")
fig.suptitle("alibi_bias(8, 10, causal=True): two heads (blank: future keys, -inf)")
plt.show()

# %% [markdown]
# Each row is the bias one query adds to its scores: 0 on itself, falling by the slope per step back. Head 0
# (slope 1/2) subtracts 4.5 from the key 9 steps back, a factor $e^{-4.5} \approx 0.01$ in the weight, so it is
# nearly a local window; head 3 (slope 1/16) only tilts the scores gently. (BLOOM, trained with ALiBi, adds
# $m_h \cdot j$ instead: it differs from $-m_h (i - j)$ by $m_h i$, the same for every key of row $i$, and softmax
# ignores such a shift.)
#
# ### 6.2 Beyond the training length: a measurement
#
# The promise of ALiBi's paper is its title, *Train Short, Test Long*. We test it on two small tasks, each with a
# model of one causal self-attention layer and a linear readout, trained on sequences of 32 tokens and tested on
# 32, 64 and 128:
#
# - **latest letter**: tokens are 4 letters and 8 digits, about a quarter letters; at every position, name the most
#   recent letter so far. It needs relative position ("the nearest one back"), not absolute.
# - **two back**: at every position, name the token two positions back.
#
# Four position schemes: learned absolute vectors added to the tokens (one per position, as in GPT-2), sinusoidal
# encodings added, RoPE on $q$ and $k$, and ALiBi. Here we use one head, with the slope an 8-head model gives its
# first head (head 0), 1/2 (the one-head slope, $2^{-8} = 1/256$, would hardly bias anything).

# %%
N_LETTERS, VOCAB = 4, 12  # tokens 0..3 are letters, 4..11 digits


def latest_letter_batch(B, L, g):
    """(B, L) tokens, about a quarter letters (the first always one); target: the latest letter at or before i."""
    is_letter = torch.rand(B, L, generator=g) < 0.25
    is_letter[:, 0] = True
    x = torch.where(is_letter, torch.randint(0, N_LETTERS, (B, L), generator=g),
                    torch.randint(N_LETTERS, VOCAB, (B, L), generator=g))
    latest = torch.where(is_letter, torch.arange(L), 0).cummax(dim=1).values  # (B, L): position of the latest letter
    return x, x.gather(1, latest), torch.ones(B, L, dtype=torch.bool)  # tokens, targets, which targets count


def two_back_batch(B, L, g):
    """(B, L) random tokens; target at i: token i - 2 (positions 0 and 1 have none)."""
    x = torch.randint(0, VOCAB, (B, L), generator=g)
    return x, x.roll(2, dims=1), (torch.arange(L) >= 2).expand(B, L)


class OneLayer(nn.Module):
    """Embedding -> one causal self-attention layer with a position scheme -> linear readout over the vocabulary."""

    def __init__(self, scheme, E=32, max_len=32):
        super().__init__()
        self.scheme = scheme
        self.embed = nn.Embedding(VOCAB, E)
        self.position = nn.Embedding(max_len, E) if scheme == "learned" else None  # one vector per position < 32
        self.W_q, self.W_k, self.W_v = nn.Linear(E, E), nn.Linear(E, E), nn.Linear(E, E)
        self.readout = nn.Linear(E, VOCAB)

    def forward(self, tokens):  # (B, L) -> (B, L, V)
        L = tokens.shape[1]
        x = self.embed(tokens)  # (B, L, E)
        if self.scheme == "learned":
            x = x + self.position(torch.arange(L))  # fails for L > 32: there is no vector for position 32
        if self.scheme == "sinusoidal":
            x = x + sinusoidal_positions(L, x.shape[-1])
        q, k, v = self.W_q(x), self.W_k(x), self.W_v(x)  # (B, L, E) each; one head, D = E
        if self.scheme == "rope":
            q, k = apply_rotary(q), apply_rotary(k)
        mask = torch.zeros(L, L).masked_fill(~causal_mask(L), float("-inf"))  # (L, L) float causal mask
        if self.scheme == "alibi":
            mask = alibi_bias(8, L, causal=True)[0]  # head 0 of 8: slope 1/2
        return self.readout(scaled_dot_product_attention(q, k, v, attn_mask=mask))  # (B, L, E) -> (B, L, V)


def train_and_test(task, scheme, seed=0, steps=150, lengths=(32, 64, 128)):
    """Train at length 32, return the accuracy at each test length (None where the model cannot run)."""
    set_seed(seed)
    g, g_test = torch.Generator().manual_seed(seed), torch.Generator().manual_seed(seed + 100)
    model = OneLayer(scheme)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(steps):
        x, y, counts = task(32, 32, g)  # a batch of 32 sequences of length 32
        loss = F.cross_entropy(model(x)[counts], y[counts])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    accuracy, failure = {}, None
    with torch.no_grad():
        for L_test in lengths:
            x, y, counts = task(256, L_test, g_test)
            try:
                accuracy[L_test] = (model(x).argmax(-1) == y)[counts].float().mean().item()
            except IndexError as error:  # the learned table has no row for positions >= 32
                accuracy[L_test], failure = None, f"{type(error).__name__}: {error}"
    return accuracy, failure


# %%
SCHEMES = ("learned", "sinusoidal", "rope", "alibi")
results, failures = {}, {}
for scheme in SCHEMES:
    results["latest letter", scheme], failures[scheme] = train_and_test(latest_letter_batch, scheme)
for scheme in ("rope", "alibi"):
    results["two back", scheme], _ = train_and_test(two_back_batch, scheme)
print("learned absolute positions at length 64:", failures["learned"])

# %% tags=["nbval-ignore-output"]
print(f"{'task':>14} {'scheme':>11} " + "".join(f"{'L = ' + str(n):>12}" for n in (32, 64, 128)) + "   (accuracy)")
for (task, scheme), acc in results.items():
    print(f"{task:>14} {scheme:>11} " + "".join(f"{'cannot run' if a is None else f'{a:.3f}':>12}" for a in acc.values()))

# %%
letter = {scheme: results["latest letter", scheme] for scheme in SCHEMES}
print("latest letter: every scheme learns it at L = 32 (accuracy > 0.9):", all(letter[s][32] > 0.9 for s in SCHEMES))
print("learned absolute positions cannot run at L = 64 or 128:", letter["learned"][64] is None and letter["learned"][128] is None)
print("sinusoidal falls below 0.85 at L = 64 and 128:", max(letter["sinusoidal"][64], letter["sinusoidal"][128]) < 0.85)
print("RoPE keeps more than sinusoidal at L = 128 (by > 0.2):", letter["rope"][128] > letter["sinusoidal"][128] + 0.2,
      "  but less than its own L = 32 accuracy:", letter["rope"][128] < letter["rope"][32])
print("ALiBi stays within 0.02 of its L = 32 accuracy at 64 and 128:",
      all(abs(letter["alibi"][n] - letter["alibi"][32]) < 0.02 for n in (64, 128)))
two_back = {scheme: results["two back", scheme] for scheme in ("rope", "alibi")}
print("two back: RoPE learns it at L = 32 (> 0.95):", two_back["rope"][32] > 0.95,
      "  and loses some at L = 128:", two_back["rope"][128] < two_back["rope"][32])
print("two back: ALiBi stays below 0.3 at every length:", all(a < 0.3 for a in two_back["alibi"].values()))
print(f"two back: chance level, 1 / {VOCAB} possible answers: {1 / VOCAB:.3f}")

# %% [markdown]
# What the table shows (the exact accuracies vary a little between machines; the statements above hold across
# seeds):
#
# - **Learned absolute positions** cannot even run past the training length: there is no vector for position 32.
# - **Sinusoidal** encodings run at any length, but the model only ever saw positions 0..31; at 64 and 128 its
#   accuracy on "latest letter" drops far below its near-perfect score at 32.
# - **RoPE** lets position enter the score only through the offset, so it degrades much less; but offsets beyond
#   31 were never trained either, and its accuracy slips as they grow.
# - **ALiBi** is as good at 128 as at 32. Its bias *is* the rule "prefer the nearest", which is what "latest
#   letter" asks for, so nothing about it changes with length.
# - The other side of the same coin: on "two back" one ALiBi layer fails at every length, even the trained one:
#   below 0.3, against chance 0.083 (guessing one of the 12 tokens) and RoPE's more than 0.95 at 32. Its bias only
#   falls with distance, so a key two back can never beat the key one back on position alone, and the query cannot
#   know the random token two back, so content cannot single it out either. RoPE, which can favour any offset,
#   learns it (and again loses part of it at unseen lengths).
#
# So ALiBi extrapolates where its built-in recency is the right prior, as it largely is for language modelling
# (the paper's tasks); that is a bias, not a free lunch. Deeper models with several heads may combine layers to
# reach a fixed offset; here we measured one layer with one head.
#
# ## 7. Why self-attention replaced recurrence (core)
#
# The RNN of notebook 05 reads a sequence one token after another: step $t$ needs the hidden state of step
# $t - 1$. Self-attention computes every output from all the inputs in one step. Vaswani et al. (2017, section 4
# and Table 1) compare the two layers, for a sequence of length $L$ and width $E$:
#
# | layer | cost per layer | sequential operations | longest path between two positions |
# |---|---|---|---|
# | self-attention | $O(L^2 \cdot E)$ | $O(1)$ | $O(1)$ |
# | recurrent | $O(L \cdot E^2)$ | $O(L)$ | $O(L)$ |
#
# Counting operations, the cost favours self-attention when $L < E$ (the paper's $n < d$), as for the sentences of
# machine translation, the paper's task; the other two columns favour it always. *Sequential operations* is what a
# parallel machine cannot spread out: an RNN's $L$ steps run one after another however many cores there are. The
# *path length* is how many steps information needs to get from one position to another; short paths make
# long-range dependencies easier to learn. We count it: which positions has the information of position 0 reached
# after each step?

# %%
def steps_from_first_to_last(one_step):
    """How many applications of a layer carry information from position 0 to position L-1.

    one_step[i, j] is True when one layer passes information from position i to position j.
    """
    reached = torch.zeros(one_step.shape[0], dtype=torch.bool)
    reached[0] = True  # (L,): where position 0's information has arrived
    steps = 0
    while not reached[-1]:
        reached = (reached.float() @ one_step.float()) > 0  # (L,) @ (L, L) -> (L,): one more step
        steps += 1
    return steps


for L_path in (16, 64):
    rnn_step = torch.ones(L_path, L_path, dtype=torch.bool).triu().tril(1)  # i -> i, i + 1
    attention_step = causal_mask(L_path).T  # i -> every j >= i: a causal layer (without the mask: every j)
    print(f"L = {L_path}: RNN {steps_from_first_to_last(rnn_step)} steps, "
          f"causal self-attention {steps_from_first_to_last(attention_step)} step")

# %% [markdown]
# An RNN needs $L - 1$ steps to carry the first token to the last, one self-attention layer one step, whatever $L$.
# The cost column we can time. One GRU layer (PyTorch's `nn.GRU`, the gated RNN of notebook 05) against one self-attention layer
# (the three projections and PyTorch's `F.scaled_dot_product_attention`), both of width $E = 64$, on a batch of
# $B = 8$ sequences, on one CPU thread:

# %%
E_t, B_t = 64, 8
gru = nn.GRU(E_t, E_t, batch_first=True)
sa_t = SelfAttention(E_t)


def self_attention_layer(x):  # (B, L, E) -> (B, L, E)
    return F.scaled_dot_product_attention(sa_t.W_q(x), sa_t.W_k(x), sa_t.W_v(x))


times = {}
with torch.no_grad():
    for L_t in (16, 64, 256, 1024):
        x_t = torch.randn(B_t, L_t, E_t)
        times[L_t] = (best_time(lambda x=x_t: gru(x)), best_time(lambda x=x_t: self_attention_layer(x)))  # seconds

# %% tags=["nbval-ignore-output"]
print(f"{'L':>6} {'GRU (ms)':>10} {'self-attention (ms)':>20} {'attention / GRU':>16}")
for L_t, (t_gru, t_att) in times.items():
    print(f"{L_t:>6} {1e3 * t_gru:>10.2f} {1e3 * t_att:>20.2f} {t_att / t_gru:>16.2f}")
growth_gru, growth_att = times[1024][0] / times[256][0], times[1024][1] / times[256][1]
print(f"from L = 256 to 1024 (4 times longer): GRU time x{growth_gru:.1f}, self-attention time x{growth_att:.1f}")

# %%
ratio = {L_t: t_att / t_gru for L_t, (t_gru, t_att) in times.items()}
print("at L = 64 = E the self-attention layer is faster than the GRU:", ratio[64] < 1)
print("from L = 256 to 1024, attention's time grows more than 4 times (faster than linear):", growth_att > 4)
print("attention / GRU is larger at L = 1024 than at L = 16:", ratio[1024] > ratio[16])

# %% [markdown]
# At short lengths (64 tokens here) the attention layer wins even on one CPU thread: it is a few large matrix
# products, while the GRU takes $L$ small steps one after another, each with a fixed overhead that an operation
# count leaves out. So attention is faster even at $L = E = 64$, where the two operation counts are of the same
# order; where the measured times cross depends on the machine, and the printed table shows it for this one. As $L$
# grows, attention's $L^2$ term takes over and its time grows faster than the GRU's: the GRU's work is linear in
# $L$, attention's quadratic (measured CPU times are noisy, so the printed growth factors need not be exactly 4 and
# 16). On a GPU the sequential steps hurt the RNN far more, since thousands of cores wait for each step. What made
# self-attention win is the other two columns: every position is one step from every other, and the whole sequence
# is processed at once. Its $L^2$ cost is the subject of [notebook 10](10_local_and_global_attention.ipynb) (attend
# to fewer keys) and [notebook 12](12_flash_attention.ipynb) (never store the $L \times L$ scores).

# %% [markdown]
# ## 8. Appendix: T5's learned buckets (optional)
#
# T5 learns one bias per head for each bucket of offsets; the buckets widen on a log scale, so any length runs.
#
# T5 (Raffel et al., 2020) also adds a number to each score that depends on the offset $j - i$, but **learns** it:
# one number per head for each of 32 buckets of offsets. Small distances get a bucket each; larger ones share
# buckets whose width grows on a log scale up to `max_distance` (128), and everything farther falls into the last
# bucket, so any length can be handled. In the encoder, keys before and after the query use separate halves.

# %%
offsets_t5 = torch.tensor([0, -1, -2, -7, -8, -12, -20, -50, -127, -128, -1000, 1, 2, 8, 50, 1000])  # j - i
buckets_enc = relative_position_bucket(offsets_t5)  # encoder: bidirectional, 32 buckets, max_distance 128
buckets_dec = relative_position_bucket(offsets_t5, bidirectional=False)  # decoder: keys after the query are masked
print(f"{'offset j - i':>13} {'encoder':>8} {'decoder':>8}")
for n, b_e, b_d in zip(offsets_t5.tolist(), buckets_enc.tolist(), buckets_dec.tolist()):
    print(f"{n:>13} {b_e:>8} {b_d:>8}")
distance = torch.arange(300)
back = relative_position_bucket(-distance)  # (300,): encoder buckets of keys 0..299 positions before the query
spans = [(k, int(distance[back == k].min()), int(distance[back == k].max())) for k in back.unique().tolist()]
print("encoder, keys before the query, bucket: distances")
print("  " + ", ".join(f"{k}: {lo}" if lo == hi else f"{k}: {lo}-{hi}" for k, lo, hi in spans[:-1])
      + f", {spans[-1][0]}: {spans[-1][1]} and more")
t5_bias = RelativePositionBias(num_heads=3)  # its table: (32 buckets, H = 3), learned with the model
print("RelativePositionBias(3)(5, 7):", tuple(t5_bias(5, 7).shape), "= (H, L, S), added to the scores like ALiBi's")

# %% [markdown]
# In the encoder, distances 0..7 get a bucket each; then the buckets widen by a factor $16^{1/8} \approx 1.4$ each
# (8-11, 12-15, 16-22, ...), and every key 91 or more positions back lands in bucket 15. The last bucket starts at
# 91, not at `max_distance` = 128: 128 is where a next bucket would begin. Keys after the query use buckets 17..31
# the same way (offset 1 is bucket 17; bucket 16 is never used, since offset 0 counts as before the query). The
# decoder, whose future keys are masked anyway, spends all 32 buckets on keys before the query (16 exact). Unlike
# ALiBi's fixed slope, the learned numbers can favour any offset the buckets tell apart (so "two back" is within
# reach); beyond the last boundary all keys look equally far, which is how T5 runs on any length.

# %% [markdown]
# ## Exercises
#
# How the exercises work (a stub to complete, a check cell that names common mistakes, `check.hint("name")`
# for one hint at a time, a hidden solution) is explained once, in [00 · Welcome](00_welcome.ipynb).
# For example:

# %%
check.hint("self_attention")

# %% [markdown]
# ### Exercise 1: self-attention with projections
#
# Write `my_self_attention(x, W_q, W_k, W_v)` for `x` of shape `(B, L, E)` and three projection matrices of shape
# `(D, E)` (the layout of `nn.Linear.weight`). It returns the output of shape `(B, L, D)`:
#
# $$\mathrm{softmax}\!\left(\frac{(xW_q^\top)(xW_k^\top)^\top}{\sqrt{D}}\right) xW_v^\top .$$
#
# The checker uses $D \ne E$, so a scale by the wrong width shows. Write it with tensor operations, without
# `attn_course`.

# %% tags=["exercise"] keep_output=false
def my_self_attention(x, W_q, W_k, W_v):
    raise NotImplementedError("your code here")


# %% tags=["check"] keep_output=false
check.self_attention(my_self_attention)

# %% tags=["solution"] jupyter={"source_hidden": true}
def my_self_attention(x, W_q, W_k, W_v):
    q, k, v = x @ W_q.T, x @ W_k.T, x @ W_v.T  # (B, L, E) @ (E, D) -> (B, L, D), three times
    scores = q @ k.transpose(-2, -1) / math.sqrt(W_q.shape[0])  # (B, L, D) @ (B, D, L) -> (B, L, L); the head width D
    return torch.softmax(scores, dim=-1) @ v  # (B, L, L) @ (B, L, D) -> (B, L, D)


# %% tags=["solution"]
# record=False: the course's own solution does not count in your progress (see attn_course.progress()).
check.self_attention(my_self_attention, record=False)

# %% [markdown]
# ### Exercise 2: causal self-attention
#
# Write `my_causal_self_attention(x, W_q, W_k, W_v)`, with the same arguments and output, in which token $i$
# attends only to itself and the tokens before it. Remember the convention of the course: a boolean mask is True
# where a query **may** attend. `scores.masked_fill(m, float("-inf"))` fills the entries where `m` is True, so pass
# it the negation `~mask`, the entries that may *not* be attended. As in exercise 1, write it with tensor
# operations, without `attn_course`.

# %% tags=["exercise"] keep_output=false
def my_causal_self_attention(x, W_q, W_k, W_v):
    raise NotImplementedError("your code here")


# %% tags=["check"] keep_output=false
check.causal_self_attention(my_causal_self_attention)

# %% tags=["solution"] jupyter={"source_hidden": true}
def my_causal_self_attention(x, W_q, W_k, W_v):
    L = x.shape[-2]
    q, k, v = x @ W_q.T, x @ W_k.T, x @ W_v.T  # (B, L, E) @ (E, D) -> (B, L, D), three times
    scores = q @ k.transpose(-2, -1) / math.sqrt(W_q.shape[0])  # (B, L, D) @ (B, D, L) -> (B, L, L)
    allowed = torch.ones(L, L, dtype=torch.bool).tril()  # (L, L): True where key j <= query i
    scores = scores.masked_fill(~allowed, float("-inf"))  # block the future, before softmax
    return torch.softmax(scores, dim=-1) @ v  # (B, L, L) @ (B, L, D) -> (B, L, D)


# %% tags=["solution"]
# record=False: the course's own solution does not count in your progress (see attn_course.progress()).
check.causal_self_attention(my_causal_self_attention, record=False)

# %% [markdown]
# ## Summary
#
# You can now
# - compute self-attention by hand for one token and for all tokens at once: $\mathrm{softmax}(QK^\top/\sqrt{D})V$
#   with $Q$, $K$, $V$ all made from the same sequence;
# - explain why $q = k = v = x$ is not enough (every token looks at itself, and what it asks for is what it is), and
#   what the three projections $W_q, W_k, W_v$ of shape $(D, E)$ add;
# - scale the scores by the head width $D$, the width of $q$ and $k$, not by the model width $E$;
# - use `SelfAttentionLoops` → `SelfAttention` → `CausalSelfAttention`, which share their weights, and check each
#   against the next with `load_state_dict` and `torch.testing.assert_close`;
# - show that self-attention without positions is permutation-equivariant, so "dog bites man" and "man bites
#   dog" give the same outputs;
# - build sinusoidal encodings (added to $x$, a fixed offset is a rotation, the dot product of two encodings
#   depends only on their distance) and rotary embeddings (queries and keys rotated, the score depends only on
#   $n - m$, lengths unchanged);
# - add ALiBi's bias $-m_h (i - j)$ to the scores as a float mask, and read T5's bucketed, learned bias
#   (appendix, section 8);
# - say what each scheme does past the training length: learned positions cannot run, sinusoidal ones degrade,
#   RoPE degrades less, and ALiBi holds where "prefer the nearest" is the right rule (and only there);
# - compare self-attention with recurrence: $O(L^2 E)$ against $O(L E^2)$ per layer, but one sequential step and a
#   path of length 1 instead of $L$.
#
# ## Common pitfalls
# - **Scaling by $\sqrt{E}$.** The scale belongs to the dot product of $q$ and $k$, whose width is the head width
#   $D$. With several heads $D = E/H$, and the wrong scale runs without error.
# - **`W @ x` versus `x @ W.T`.** `nn.Linear` stores its weight as $(D, E)$ (out, in); on a batch of row vectors the
#   projection is `x @ W.T`, shape `(B, L, E) @ (E, D)`.
# - **Forgetting positions.** Without them a transformer encoder cannot tell word orders apart: to it a sentence is
#   a bag of words.
# - **Positions added twice, or to the wrong tensor.** Sinusoidal or learned encodings are added once, to the input
#   embeddings. RoPE rotates the queries and keys in every layer, after the projections, and never the values.
# - **Mixing RoPE layouts.** "Rotate half" pairs $(i, i + D/2)$, the original RoFormer pairs $(2i, 2i+1)$. Both
#   are correct, but weights trained with one give wrong results with the other (a classic bug when converting
#   checkpoints, a model's saved weights, from one library to another).
# - **ALiBi's slopes for the wrong number of heads.** The slopes depend on $H$ ($2^{-8h/H}$), and for $H$ not a
#   power of two they interleave; computing them for another $H$ runs silently with weaker or stronger biases.
# - **Expecting any scheme to extrapolate for free.** Past the training length, learned tables end, sinusoidal
#   inputs are new to the model, and RoPE meets unseen offsets; ALiBi's fixed recency only helps where recency is
#   what the task needs.
# - **Counting on the causal mask for positions.** A causal language model without position encodings can infer
#   some order from its mask (Haviv et al., 2022), but an encoder has no such mask; most models give positions
#   explicitly.
#
# ## Further reading
# - A. Vaswani et al., [*Attention Is All You Need*](https://arxiv.org/abs/1706.03762) (2017): section 3.2 (scaled
#   dot-product and self-attention), section 3.5 (sinusoidal position encodings, and the offset as a linear map)
#   and section 4 with Table 1 (self-attention against recurrent and convolutional layers).
# - J. Su, Y. Lu, S. Pan, A. Murtadha, B. Wen, Y. Liu, [*RoFormer: Enhanced Transformer with Rotary Position
#   Embedding*](https://arxiv.org/abs/2104.09864) (2021): rotary embeddings and their relative-position property.
# - O. Press, N. A. Smith, M. Lewis, [*Train Short, Test Long: Attention with Linear Biases Enables Input Length
#   Extrapolation*](https://arxiv.org/abs/2108.12409) (ICLR 2022): ALiBi, its slopes and its length tests; the
#   slopes for any $H$ follow [the authors' code](https://github.com/ofirpress/attention_with_linear_biases).
# - C. Raffel et al., [*Exploring the Limits of Transfer Learning with a Unified Text-to-Text
#   Transformer*](https://arxiv.org/abs/1910.10683) (JMLR 2020), section 2.1: T5's bucketed relative position
#   bias; P. Shaw, J. Uszkoreit, A. Vaswani, [*Self-Attention with Relative Position
#   Representations*](https://arxiv.org/abs/1803.02155) (2018), the first relative scheme.
# - J. Alammar, [*The Illustrated Transformer*](https://jalammar.github.io/illustrated-transformer/): self-attention
#   and positional encodings in pictures.
# - S. Raschka, *Build a Large Language Model (From Scratch)* (Manning, 2024), chapter 3 and
#   [its code](https://github.com/rasbt/LLMs-from-scratch/tree/main/ch03): self-attention from `SelfAttention_v1`
#   to causal and multi-head attention.
# - A. Haviv, O. Ram, O. Press, P. Izsak, O. Levy, [*Transformer Language Models without Positional Encodings
#   Still Learn Positional Information*](https://arxiv.org/abs/2203.16634) (2022): what a causal mask alone gives.
# - EleutherAI, [*Rotary Embeddings: A Relative Revolution*](https://blog.eleuther.ai/rotary-embeddings/) (2021):
#   RoPE explained, with the "rotate half" implementation.
