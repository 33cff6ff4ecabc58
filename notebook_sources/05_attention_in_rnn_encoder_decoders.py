# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 05 · Attention in RNN encoder-decoders
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/attn-course/attention-step-by-step/blob/main/notebooks/05_attention_in_rnn_encoder_decoders.ipynb)
#
# Attention did not start with transformers. It entered neural machine translation in 2014, to fix a specific
# weakness of the translation models of the time: a recurrent *encoder* read the whole source sentence and squeezed
# it into one fixed-size vector, and a recurrent *decoder* had to write the translation from that vector alone.
# Short sentences survived the squeeze; long ones did not. Bahdanau, Cho and Bengio let the decoder look back at
# *every* encoder state at every output step, through the soft lookup of notebook 03, and learned where to look from
# the translation loss alone. (Learned attention is older: models that choose where to look in an image
# (Larochelle and Hinton 2010; Mnih et al. 2014), and a soft window sliding over the text in Graves's handwriting
# synthesis (2013); see Further reading.) This notebook rebuilds that story on a task small enough to train on a
# laptop CPU in seconds: reading dates written by humans ("on saturday the 21st of november 2026") and writing them
# in ISO form ("2026-11-21"). You will measure the bottleneck, derive the additive score and the multiplicative
# scores that followed it, train four variants side by side and watch the model learn which characters to read.
#
# **Learning goals.** After this notebook you can
# - **explain**, with a measurement, why a fixed summary vector fails as inputs carry more information;
# - **compute** Bahdanau's additive score $v^\top \tanh(W_q q + W_k k)$ by hand and relate it to the dot product;
# - **relate** Luong's dot, general and concat scores to scaled dot-product attention (notebook 04) and to the
#   additive score;
# - **train** and **compare** encoder-decoders with and without attention on held-out data;
# - **read** an alignment heatmap and check with numbers what it seems to show.
#
# **Prerequisites.** [02 · Softmax](02_softmax.ipynb) (scores into weights) and
# [04 · Scaled dot-product attention and masks](04_scaled_dot_product_attention_and_masks.ipynb) (queries, keys,
# values in batches, padding masks, the $1/\sqrt{D}$ scale). No recurrent networks needed: section 2 opens with
# one screen on the GRU, bidirectional reading and teacher forcing.
#
# **Time.** About 60 minutes of study (the notebook itself runs in under a minute on a laptop CPU).

# %%
# Only in Google Colab: install the course's helper package, attn_course, from GitHub. --no-deps keeps
# Colab's own torch, NumPy and matplotlib as they are. Anywhere else (your laptop, Binder, CI) this does nothing.
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "attn_course @ git+https://github.com/attn-course/attention-step-by-step"], check=True)

# %%
import datetime as dt
import math

import matplotlib.pyplot as plt
import numpy as np
import torch

from attn_course import device, padding_mask, plot_attention, scaled_dot_product_attention, set_seed
from attn_course.data import DATE_FORMATS, SOURCE_CHARACTERS, format_date, make_copy_task, make_date_task
from attn_course.exercises import seq2seq as check
from attn_course.rnn import AdditiveAttention, Decoder, Encoder, LuongAttention, Seq2Seq, attend
from attn_course.training import exact_match, fit

set_seed(0)
torch.set_num_threads(1)  # the same summation order on every machine, so stored outputs match
torch.set_printoptions(precision=4, sci_mode=False)
np.set_printoptions(precision=4, suppress=True)
DEVICE = device()

# %% [markdown]
# The models here are tiny (tens of thousands of parameters, counted in section 2 and compared in section 5) and
# recurrent, so they stay on the CPU, where a training run takes a few seconds; `DEVICE` is set up as in every
# notebook but not used.
#
# ## 1. The task: dates written by humans, to ISO (core)
#
# `make_date_task()` generates the data; nothing is downloaded. Each example is a calendar day between 1950 and
# 2049, written in one of ten formats and in lower, title or upper case. The target is always the same ten
# characters, `yyyy-mm-dd`. Here is one day in every format:

# %%
day = dt.date(2026, 11, 21)
print(f"{'format':<34}{'written':<40}{'characters':>10}")
for fmt in DATE_FORMATS:
    text = format_date(day, fmt)
    print(f"{fmt:<34}{text!r:<40}{len(text):>10}")
print("title case:", format_date(day, "d mon yyyy", "title"), "   upper case:", format_date(day, "d mon yyyy", "upper"))
print("target:", day.isoformat())

# %% [markdown]
# The same ten characters of output, from inputs between 8 and 37 characters long here. To get the answer right
# the model must find the day, the month and the year wherever the format puts them, turn month *names* into
# numbers, expand two-digit years, and ignore everything else (the weekday, "on", "the", the "st" of "21st").
#
# The task has 10,000 training pairs and 1,000 held-out test pairs. The test pairs use calendar days that never
# occur in training, so a model cannot pass by memorising dates; it has to learn the formats.

# %%
task = make_date_task()
print("training pairs:", len(task.train), "  held-out pairs:", len(task.test))
for source, target in task.train.pairs[:6]:
    print(f"  {source!r:<30} -> {target!r}")
train_days = {target for _, target in task.train.pairs}
print("held-out days that also occur in training:", sum(target in train_days for _, target in task.test.pairs))

# %% [markdown]
# The model reads and writes characters, so each side has a vocabulary of characters with three special tokens in
# front: `<pad>` (id 0) fills short sentences up to the length of a batch, `<bos>` (id 1) starts the output, and
# `<eos>` (id 2) ends it. The source vocabulary holds every character a learner may type (`SOURCE_CHARACTERS`:
# letters, digits, space and `,./-`); the target needs only digits and the hyphen.

# %%
n_special = 3  # <pad>, <bos>, <eos>
print(f"source vocabulary: {len(task.src_vocab)} tokens = {n_special} special {task.src_vocab.tokens[:n_special]}"
      f" + {len(task.src_vocab) - n_special} characters {''.join(task.src_vocab.tokens[n_special:])!r}")
print("target vocabulary:", len(task.tgt_vocab), "tokens:", task.tgt_vocab.tokens)
print("encode '21 nov':", task.src_vocab.encode("21 nov"))
print("a target with EOS:", task.train.tgt[0].tolist(), "->", repr(task.tgt_vocab.decode(task.train.tgt[0])))

# %% [markdown]
# Sentences have different lengths, but a batch is a rectangle. `task.train.src` stores every source padded with
# id 0 to the longest one, and `task.train.lengths` the real lengths; during training each mini-batch is cut to
# its own longest sentence. Here are four training sources, cut the same way, each followed by its row of notebook
# 04's `padding_mask` (True, drawn █, at real characters):

# %%
src4, lengths4 = task.train.src[:4], task.train.lengths[:4]
src4 = src4[:, : int(lengths4.max())]  # (B, S) = (4, longest of the four)
mask4 = padding_mask(lengths4)  # (B, S): True at real characters
print("src", tuple(src4.shape), " lengths", lengths4.tolist())
for row, keep in zip(src4, mask4):
    print(" ".join(f"{i:2d}" for i in row.tolist()), "  ", "".join("█" if k else "·" for k in keep.tolist()))

# %% [markdown]
# Each row is one source as ids, zeros at the end; on the right, its mask, with dots at the padding. Attention
# must give those positions exactly zero weight, as in notebook 04.
#
# How long are the sources? The formats differ a lot, so the lengths cluster; section 5 sorts the test results
# into the three length buckets marked by dashed lines.

# %%
BUCKETS = {"short (≤12)": (0, 12), "medium (13-24)": (13, 24), "long (≥25)": (25, 99)}  # source characters


def bucket_of(lengths, name):
    """Boolean (N,): which examples fall into length bucket ``name``."""
    low, high = BUCKETS[name]
    return (lengths >= low) & (lengths <= high)


lens = task.train.lengths
print(f"source lengths: {int(lens.min())} to {int(lens.max())} characters, median {int(lens.median())}")
for name in BUCKETS:
    n_train, n_test = int(bucket_of(lens, name).sum()), int(bucket_of(task.test.lengths, name).sum())
    print(f"  {name:<15} training {n_train:>5}   held-out {n_test:>4}")

fig, ax = plt.subplots(figsize=(7, 2.8))
ax.hist(lens.numpy(), bins=np.arange(int(lens.min()) - 0.5, int(lens.max()) + 1.5), color="C0")
for edge in (12.5, 24.5):
    ax.axvline(edge, color="gray", ls="--", lw=1)
ax.set_xlabel("source length (characters)")
ax.set_ylabel("training pairs")
ax.set_title(f"Dates are written in {int(lens.min())} to {int(lens.max())} characters")
plt.show()

# %% [markdown]
# ## 2. An encoder-decoder without attention, and its bottleneck (core)
#
# ### Recurrent networks in one screen
#
# A recurrent network reads a sequence one element at a time and carries a **state** $h_t$, a vector of
# `hidden_dim` numbers, from step to step: $h_t = f(h_{t-1}, x_t)$, with the same weights at every step, so after
# step $t$ the state summarises $x_1, \dots, x_t$. The **GRU** (gated recurrent unit; Cho et al. 2014) is the $f$
# used here. With $\sigma$ the logistic sigmoid, $\odot$ the element-wise product and biases left out:
#
# $$\begin{aligned}
# z_t &= \sigma(W_z x_t + U_z h_{t-1}) && \text{update gate: how much of the old state to keep} \\
# r_t &= \sigma(W_r x_t + U_r h_{t-1}) && \text{reset gate: how much of the old state the candidate sees} \\
# n_t &= \tanh\big(W_n x_t + r_t \odot (U_n h_{t-1})\big) && \text{candidate state} \\
# h_t &= (1 - z_t) \odot n_t + z_t \odot h_{t-1} && \text{a per-coordinate mix of the two}
# \end{aligned}$$
#
# This is PyTorch's form (`nn.GRU`, as in cuDNN). Cho et al. apply the reset gate before the product,
# $U_n (r_t \odot h_{t-1})$; the two train about equally well, and PyTorch's lets $U_n h_{t-1}$ be computed before
# $r_t$ is known, so the three products $U_z h_{t-1}$, $U_r h_{t-1}$, $U_n h_{t-1}$ can be done as one (faster)
# matrix product per step.
# Each coordinate of $h_t$ is a weighted average of a $\tanh$ output and the old state, so a state that starts inside
# $(-1, 1)$ stays there; section 8 will need that.
#
# **Bidirectional.** A forward GRU's state $\overrightarrow{h}_j$ at position $j$ has read characters $1..j$; a
# second GRU reading right to left gives $\overleftarrow{h}_j$, which has read $j..S$. Side by side,
# $[\overrightarrow{h}_j; \overleftarrow{h}_j]$ has seen the whole sentence, from the point of view of position $j$.
#
# **Teacher forcing.** A decoder writes one character per step and reads the previous character as its next input.
# In training it is fed the *true* previous character, not its own guess: the whole target is known, so all $T$
# steps run in one GRU call. At test time it has only its own guesses to feed back, one step at a time; since it
# never saw its own mistakes in training, one early error can lead it where it never learned to go
# (*exposure bias*; Ranzato et al. 2016).
#
# The cell checks the equations against PyTorch's `nn.GRU` (without biases), and shows the shapes of a
# bidirectional one: per position both directions' states side by side, and each direction's final state.

# %%
B, S, E, hidden = 4, 7, 5, 3  # batch, sequence length, input width, GRU units: all different
gru = torch.nn.GRU(E, hidden, batch_first=True, bidirectional=True, bias=False)
x = torch.randn(B, S, E)  # (B, S, E): a batch of input sequences
states, final = gru(x)  # (B, S, 2 * hidden): both directions at each position; (2, B, hidden): each one's last
print("input", tuple(x.shape), "  states", tuple(states.shape), "  final", tuple(final.shape))

W_r, W_z, W_n = gru.weight_ih_l0.chunk(3)  # forward direction, (hidden, E) each; PyTorch stacks r, z, n
U_r, U_z, U_n = gru.weight_hh_l0.chunk(3)  # (hidden, hidden) each
h = torch.zeros(B, hidden)  # (B, hidden): the state before the first step
with torch.no_grad():
    for t in range(S):  # the equations above, one step at a time, left to right
        z = torch.sigmoid(x[:, t] @ W_z.T + h @ U_z.T)  # (B, E) @ (E, hidden) + (B, hidden) @ (hidden, hidden)
        r = torch.sigmoid(x[:, t] @ W_r.T + h @ U_r.T)  # (B, hidden)
        n = torch.tanh(x[:, t] @ W_n.T + r * (h @ U_n.T))  # (B, hidden)
        h = (1 - z) * n + z * h  # (B, hidden)
torch.testing.assert_close(h, states[:, -1, :hidden])
print("the equations, step by step, give PyTorch's forward state at the last position:", tuple(h.shape))
print("forward half at the last position == forward final:", torch.equal(states[:, -1, :hidden], final[0]))
print("backward half at the first position == backward final:", torch.equal(states[:, 0, hidden:], final[1]))

# %% [markdown]
# ### The model
#
# **The encoder** embeds each source character and reads the sequence with two GRUs, one left to right and one
# right to left (two separate GRUs rather than `bidirectional=True`, so that the backward one can start at each
# sentence's own last character; see below). At each position $j$ their two states side by side form one vector
# $k_j = [\overrightarrow{h}_j; \overleftarrow{h}_j]$ that describes character $j$ *in its context*: 32 numbers
# from each direction, 64 in all. These will be the keys and values of the attention. The encoder also returns a
# **summary** of the whole sentence: the forward state after the last character next to the backward state after
# the first, $c = [\overrightarrow{h}_S; \overleftarrow{h}_1]$, again 64 numbers.
#
# **The decoder** is a GRU that writes the output one character at a time. It starts from a state computed from
# the summary, reads `<bos>`, and predicts the first character; then it reads that character and predicts the
# next, and so on until `<eos>`. Training uses teacher forcing; at test time the model's `translate` method feeds
# back its own guesses. Without attention, the only thing the decoder ever knows about the source is the summary
# $c$, fed in at every step:
#
# $$s_t = \mathrm{GRU}\big([y_{t-1}; c],\ s_{t-1}\big), \qquad p(y_t) = \mathrm{softmax}\big(W_o [s_t; c]\big).$$
#
# $W_o [s_t; c]$ are the **logits**: unnormalised scores, one per target vocabulary entry, that the softmax turns
# into probabilities.
#
# Everything the decoder will ever write must pass through those 64 numbers: the **bottleneck**.
# `Decoder(..., attention=None)` is this model. The helper `build` below names every size: the encoder's
# `embed_dim` (numbers per source character) and `hidden_dim` (GRU units in each direction, so the keys and the
# summary are twice as wide), and the decoder's `embed_dim` (numbers per previous output character), `hidden_dim`
# (the width of its state $s_t$), `encoder_dim` (the width of what it reads from the encoder, which must match)
# and `attention` (None here). Let us build one, untrained, and follow the shapes on the four sources above.

# %%
def build(task, make_attention=lambda: None):
    """A fresh encoder-decoder for ``task``; every variant starts from the same random numbers (seed 0)."""
    torch.manual_seed(0)
    encoder = Encoder(
        vocab_size=len(task.src_vocab),  # one embedding row per source token
        embed_dim=32,  # each source character becomes 32 numbers
        hidden_dim=32,  # 32 GRU units each way: keys and summary 2 x 32 = 64 wide
    )
    decoder = Decoder(
        vocab_size=len(task.tgt_vocab),  # embeddings in, and one logit out, per target token
        embed_dim=16,  # each previous output character becomes 16 numbers
        hidden_dim=64,  # the decoder state s_t: 64 GRU units
        encoder_dim=64,  # the width of the keys, values and summary it reads: 2 x 32
        attention=make_attention(),  # None: the baseline with the bottleneck
    )
    return Seq2Seq(encoder, decoder)


baseline = build(task)
outputs4, summary4 = baseline.encoder(src4, lengths4)  # (B, S, 64), (B, 64)
tgt4 = task.train.tgt[:4]  # (B, T): 10 characters and EOS
logits4, weights4 = baseline(src4, lengths4, tgt4)  # teacher forcing: all output steps at once
print("encoder outputs (keys)", tuple(outputs4.shape), "  summary", tuple(summary4.shape))
print("decoder logits", tuple(logits4.shape), "(B, T, target vocabulary)   attention weights:", weights4)
print("parameters:", sum(p.numel() for p in baseline.parameters()))

# %% [markdown]
# Padding must not change what the encoder says about a sentence. The backward GRU starts at each sentence's own
# last character, not at the end of the padded batch, so the shortest of the four gives the same outputs alone
# as inside the batch:

# %%
i = int(lengths4.argmin())
alone, _ = baseline.encoder(src4[i:i + 1, : int(lengths4[i])], lengths4[i:i + 1])  # (1, length, 64)
torch.testing.assert_close(alone[0], outputs4[i, : int(lengths4[i])])
print(f"sentence {i} ({int(lengths4[i])} characters): the same encoder outputs alone and in the padded batch")

# %% [markdown]
# ### Measuring the bottleneck: the copy task
#
# Does the summary really limit the model? Dates are a poor test of that, and it is worth seeing why. There are
# 36,525 days between 1950 and 2049, so *any* date, however many characters it is written in, carries only
# $\log_2 36{,}525 \approx 15$ bits. A long date is long because of filler, not because it says more. To see a
# bottleneck we need inputs whose content grows with their length.
#
# `make_copy_task(max_len=16)` provides that: random digit strings of 4 to 16 characters, and the target is the
# same string. Every digit has to reach the output, so a string of $n$ digits carries $n \log_2 10$ bits.

# %%
copy_task = make_copy_task(max_len=16)
print("copy pairs:", copy_task.train.pairs[:3], "...")
print("training", len(copy_task.train), " held-out", len(copy_task.test),
      f" lengths {int(copy_task.test.lengths.min())} to {int(copy_task.test.lengths.max())}")
n_days = (dt.date(2049, 12, 31) - dt.date(1950, 1, 1)).days + 1
print(f"days from 1950 to 2049: {n_days:,}")
print(f"information in one date:             {math.log2(n_days):.1f} bits")
for n in (4, 8, 16):
    print(f"information in {n:2d} random digits:     {n * math.log2(10):.1f} bits")

# %% [markdown]
# Sixty-four float32 numbers could in principle store far more than 53 bits. The trouble is not storage but
# learning: a GRU trained for a few hundred steps must write every digit, in order, into one vector and read them
# back out. We train the baseline and a model with additive attention (derived in section 3; here take it on
# trust) on the same data, with the same settings and the same seed, for 300 steps each.

# %% tags=["nbval-ignore-output"]
copy_models = {
    "no attention": build(copy_task),
    "additive attention": build(copy_task, lambda: AdditiveAttention(64, 64, 32)),
}
for name, model in copy_models.items():
    fit(model, copy_task.train, steps=300, batch_size=64, lr=5e-3, label=f"copy, {name}")

# %% [markdown]
# Now exact match on the held-out strings (every character and the end right), by input length. The exact
# numbers can differ slightly on your machine; the claims we draw from them are checked in the cell after the
# figure.

# %% tags=["nbval-ignore-output"]
copy_lengths = copy_task.test.lengths
n_digits = list(range(int(copy_lengths.min()), int(copy_lengths.max()) + 1))
copy_acc = {}
for name, model in copy_models.items():
    correct = exact_match(model, copy_task.test)  # (N,) booleans
    copy_acc[name] = [float(correct[copy_lengths == n].float().mean()) for n in n_digits]
print(f"{'digits':<20}" + "".join(f"{n:>5}" for n in n_digits))
for name, acc in copy_acc.items():
    print(f"{name:<20}" + "".join(f"{a:>5.0%}" for a in acc))

# %%
fig, ax = plt.subplots(figsize=(6.5, 3.5))
for (name, acc), style in zip(copy_acc.items(), ("o-", "s-")):
    ax.plot(n_digits, [100 * a for a in acc], style, label=name)
ax.set_xlabel("input length (digits to copy)")
ax.set_ylabel("held-out exact match (%)")
ax.set_ylim(-3, 103)
ax.set_title("Copying digit strings: the fixed summary runs out")
ax.legend()
plt.show()

# %% [markdown]
# Both models copy short strings. As the strings grow, the baseline falls off a cliff: a few more digits than it
# can hold and it hardly ever gets a whole string right. The attention model declines too, but gently: at every
# output step it can look up the digit it needs instead of recalling it from a summary. The claims, computed:

# %%
def mean_acc(name, lo, hi):
    """Mean held-out exact match of copy model ``name`` over input lengths lo..hi."""
    return float(np.mean([a for n, a in zip(n_digits, copy_acc[name]) if lo <= n <= hi]))


base, attn = "no attention", "additive attention"
print("baseline copies short strings (4-6 digits, >= 75%):", mean_acc(base, 4, 6) >= 0.75)
print("baseline collapses on long strings (12-16 digits, <= 5%):", mean_acc(base, 12, 16) <= 0.05)
print("attention degrades gently (12-16 digits, >= 60%):", mean_acc(attn, 12, 16) >= 0.6)
print("attention ahead of the baseline at every length from 8 digits:",
      all(a > b for n, a, b in zip(n_digits, copy_acc[attn], copy_acc[base]) if n >= 8))

# %% [markdown]
# On dates the picture will be different (section 5): there the baseline loses to attention everywhere, but it
# does not collapse with length, for the reason above: a long date does not carry more than a short one.
#
# ## 3. Additive (Bahdanau) attention, derived (core)
#
# With attention, the decoder asks a question at every step $t$: its state $s_t$ is the **query**, and the encoder
# outputs $k_1, \dots, k_S$ are the **keys** and also the **values**. Bahdanau et al. scored each key with a tiny
# neural network of one hidden layer, which they called the *alignment model*:
#
# $$\mathrm{score}(q, k_j) = v^\top \tanh\big(W_q\, q + W_k\, k_j\big), \qquad
# \alpha_{tj} = \mathrm{softmax}_j\big(\mathrm{score}(s_t, k_j)\big), \qquad c_t = \sum_j \alpha_{tj}\, k_j .$$
#
# (Bahdanau used $s_{t-1}$; section 5 explains why we use $s_t$.)
#
# $W_q$ ($A \times E_q$) and $W_k$ ($A \times E_k$) project query and key into a shared space of width $A$, where
# they are *added*, squashed by $\tanh$, and read out by $v$ ($A$ numbers) into one score. Two things make it
# different from the dot product of notebook 04: query and key may have **different widths**, and the score is
# **bounded**, $|\mathrm{score}| \le \sum_a |v_a|$, whatever the inputs.
#
# By hand, for one query of width $E_q = 3$ and $S = 4$ keys of width $E_k = 5$, with $A = 2$:

# %%
g = torch.Generator().manual_seed(5)
q = torch.randn(3, generator=g)  # (Eq,): one decoder state
K = torch.randn(4, 5, generator=g)  # (S, Ek): four encoder outputs
W_q = torch.randn(2, 3, generator=g)  # (A, Eq)
W_k = torch.randn(2, 5, generator=g)  # (A, Ek)
v = torch.randn(2, generator=g)  # (A,)

q_proj = W_q @ q  # (A, Eq) @ (Eq,) -> (A,)
k_proj = K @ W_k.T  # (S, Ek) @ (Ek, A) -> (S, A)
hidden = torch.tanh(q_proj[None, :] + k_proj)  # (1, A) + (S, A) -> (S, A), every entry in (-1, 1)
scores = hidden @ v  # (S, A) @ (A,) -> (S,)
print("W_q q", tuple(q_proj.shape), "  K W_kᵀ", tuple(k_proj.shape), "  tanh(...)", tuple(hidden.shape),
      "  scores", tuple(scores.shape))
print("scores:", scores)
print("bound sum|v| =", round(float(v.abs().sum()), 4))

# %% [markdown]
# `AdditiveAttention(query_dim, key_dim, hidden_dim)` holds the same three matrices as bias-free linear layers
# (`W_q.weight` is $A \times E_q$, `v.weight` is $1 \times A$). Its `score` takes a batch of queries
# $(B, L, E_q)$ and keys $(B, S, E_k)$; we add the two axes of size 1 and copy our matrices in:

# %%
additive = AdditiveAttention(3, 5, 2)
with torch.no_grad():
    additive.W_q.weight.copy_(W_q)
    additive.W_k.weight.copy_(W_k)
    additive.v.weight.copy_(v[None, :])  # (1, A)
package_scores = additive.score(q[None, None, :], K[None])  # (B, L, Eq) = (1, 1, 3), (B, S, Ek) = (1, 4, 5) -> (1, 1, 4)
torch.testing.assert_close(package_scores[0, 0], scores)
print("AdditiveAttention.score equals the hand computation:", tuple(package_scores.shape))

# %% [markdown]
# ### What the additive score looks like
#
# Fix a 2-D query and ask how each score rates every 2-D key on a grid. The dot product $q \cdot k$ is a tilted
# **plane**: it grows without limit in the query's direction. The additive score with $A = 3$ is a sum of three
# $\tanh$ **steps**, one per row of $W_k$: term $a$, $v_a \tanh\big((W_q q + W_k k)_a\big)$, climbs (or drops) by
# $2|v_a|$ across the line in key space where its $\tanh$ input is zero and is nearly flat far from it, so the
# whole surface lives between $-\sum|v_a|$ and $+\sum|v_a|$. The matrices below are hand-picked so that the three
# steps run in three different directions: across a vertical, a horizontal and a diagonal line, drawn dashed.

# %%
q2 = torch.tensor([1.0, 0.5])  # (Eq,) = (2,): the fixed query
demo = AdditiveAttention(2, 2, 3)
with torch.no_grad():
    demo.W_q.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]]))  # (A, Eq)
    demo.W_k.weight.copy_(torch.tensor([[1.5, 0.0], [0.0, 1.5], [1.0, -1.0]]))  # (A, Ek): the ridges' directions
    demo.v.weight.copy_(torch.tensor([[1.0, -0.8, 0.6]]))  # (1, A): bound 1 + 0.8 + 0.6 = 2.4
axis = torch.linspace(-4, 4, 121)
grid = torch.stack(torch.meshgrid(axis, axis, indexing="xy"), dim=-1).reshape(-1, 2)  # (121 * 121, 2): keys
with torch.no_grad():
    additive_grid = demo.score(q2[None, None, :], grid[None])[0, 0]  # (1, 1, 2), (1, N, 2) -> (N,)
    tanh_input = demo.W_q(q2)[None, :] + demo.W_k(grid)  # (1, A) + (N, A) -> (N, A): zero on each step's line
dot_grid = grid @ q2  # (N, 2) @ (2,) -> (N,)
print(f"additive score over the grid: {additive_grid.min():.3f} to {additive_grid.max():.3f}"
      f"  (bound ±{demo.v.weight.abs().sum():.1f})")
print(f"dot score over the grid:      {dot_grid.min():.3f} to {dot_grid.max():.3f}  (grows with the grid)")

side = len(axis)
fig, axes = plt.subplots(1, 2, figsize=(11, 4.3))
for ax, values, title in ((axes[0], additive_grid, "Additive: vᵀ tanh(W_q q + W_k k), three bounded tanh steps"),
                          (axes[1], dot_grid, "Dot product: q · k, an unbounded plane (arrow: q)")):
    image = ax.contourf(axis, axis, values.reshape(side, side), levels=21, cmap="RdBu_r")
    fig.colorbar(image, ax=ax, label="score")
    ax.set_xlabel("key coordinate 1")
    ax.set_ylabel("key coordinate 2")
    ax.set_title(title, fontsize=10)
    ax.set_aspect("equal")
for a in range(tanh_input.size(1)):  # additive panel: where each tanh input crosses zero
    axes[0].contour(axis, axis, tanh_input[:, a].reshape(side, side), levels=[0], colors="k", linestyles="--",
                    linewidths=1)
axes[0].plot([], [], "k--", lw=1, label="a tanh input = 0")  # an empty line, only for the legend
axes[0].legend(loc="lower left", fontsize=8)
# Query and key share one space only in the dot product: there the score grows fastest along q.
axes[1].arrow(0, 0, float(q2[0]), float(q2[1]), color="k", width=0.05, length_includes_head=True)
fig.suptitle("Scores of every key on a grid, for the fixed query q = (1, 0.5)")
fig.tight_layout()
plt.show()

# %% [markdown]
# Left, the score changes mostly near the three dashed lines, where one $\tanh$ switches sign, and levels off
# away from them, within its bound; right, it keeps growing in the direction of $q$, towards the top right. (The
# left panel has no arrow: there the query is not a point of key space, it only shifts where the three lines
# lie.) Because of the $\tanh$, no single key can grab all the weight just by being
# large, and the score can prefer a region of key space, not only a direction. The price is a hidden layer of
# width $A$ for every (query, key) pair: $B \cdot L \cdot S \cdot A$ numbers instead of the $B \cdot L \cdot S$ of
# a dot product.
#
# ### Masking the padding
#
# The scores become weights exactly as in notebook 04: padded keys are set to $-\infty$ before the softmax, so
# they get weight exactly 0 and the real keys share all of it. `attend(scores, values, mask)` does that and
# returns the context and the weights. Two sentences of lengths 5 and 3, padded to 5:

# %%
g = torch.Generator().manual_seed(6)
pad_scores = torch.randn(2, 5, generator=g)  # (B, S): one decoder step of two sentences
pad_values = torch.randn(2, 5, 3, generator=g)  # (B, S, Ev)
pad_mask = padding_mask([5, 3])  # (B, S): True at real tokens
context, weights = attend(pad_scores, pad_values, pad_mask)  # (B, Ev), (B, S)
print("weights:\n", weights)
print("weight on padding exactly 0:", bool((weights[~pad_mask] == 0).all()), "  row sums:", weights.sum(-1))
print("context", tuple(context.shape))

# %% [markdown]
# ## 4. Multiplicative (Luong) scores (core)
#
# A year after Bahdanau et al., Luong, Pham and Manning compared simpler scores. With query $q$ (the decoder
# state) and key $k$ (an encoder output):
#
# | name | score | parameters |
# |---|---|---|
# | **dot** | $q^\top k$ | none; needs $E_q = E_k$ |
# | **general** | $q^\top W k$ | $W$: $E_q \times E_k$ |
# | **concat** | $v^\top \tanh\big(W [q; k]\big)$ | $W$: $A \times (E_q + E_k)$, $v$: $A$ |
#
# The first two are *multiplicative*: a dot product, directly or after a linear map of the key. They are notebook
# 04's attention without the $1/\sqrt{D}$, and `LuongAttention` computes them with
# `attn_course.scaled_dot_product_attention(..., scale=1.0)`. We check both on a batch with padding, three
# decoder steps at once ($L = 3$); the mask of shape $(B, S)$ gets an axis for the queries, $(B, 1, S)$:

# %%
g = torch.Generator().manual_seed(7)
B, L, S, E = 2, 3, 5, 4
query = torch.randn(B, L, E, generator=g)  # (B, L, Eq): three decoder steps
keys = torch.randn(B, S, E, generator=g)  # (B, S, Ek): encoder outputs, also the values
mask = padding_mask([5, 2])  # (B, S)

dot = LuongAttention(E, E, "dot")
out_dot, w_dot = dot(query, keys, keys, mask)  # (B, L, E), (B, L, S)
ref_dot, ref_w = scaled_dot_product_attention(query, keys, keys, mask[:, None, :], scale=1.0, return_weights=True)
torch.testing.assert_close(out_dot, ref_dot)
torch.testing.assert_close(w_dot, ref_w)
print("dot     == scaled_dot_product_attention(q, k, v, mask, scale=1):", tuple(out_dot.shape))

general = LuongAttention(E, E, "general")
out_general, _ = general(query, keys, keys, mask)
Wk = general.W(keys)  # (B, S, Ek) @ (Ek, Eq) -> (B, S, Eq): q · (W k) = qᵀ W k
torch.testing.assert_close(out_general, scaled_dot_product_attention(query, Wk, keys, mask[:, None, :], scale=1.0))
print("general == the same on W k:", tuple(out_general.shape))

# %% [markdown]
# **Concat is additive attention in disguise.** Split $W$'s columns into the part that multiplies $q$ and the
# part that multiplies $k$: $W [q; k] = [W_q \mid W_k] \begin{bmatrix} q \\ k \end{bmatrix} = W_q q + W_k k$.
# So Luong's concat score *is* Bahdanau's. Copy an `AdditiveAttention`'s two matrices side by side into a concat
# `LuongAttention` and the two agree:

# %%
bahdanau = AdditiveAttention(E, E, 6)
concat = LuongAttention(E, E, "concat", hidden_dim=6)
with torch.no_grad():
    concat.W.weight.copy_(torch.cat([bahdanau.W_q.weight, bahdanau.W_k.weight], dim=1))  # (A, Eq) | (A, Ek) -> (A, Eq + Ek)
    concat.v.weight.copy_(bahdanau.v.weight)  # (1, A)
out_concat, w_concat = concat(query, keys, keys, mask)
out_additive, w_additive = bahdanau(query, keys, keys, mask)
torch.testing.assert_close(out_concat, out_additive)
torch.testing.assert_close(w_concat, w_additive)
print("concat with W = [W_q | W_k] == additive:", tuple(w_concat.shape))
print("weight on the padding of sentence 1:", float(w_concat[1, :, 2:].sum().detach()))

# %% [markdown]
# (In practice the package never builds $[q; k]$ for every pair: it applies the two halves of $W$ separately,
# as above, which costs $L + S$ projections instead of $L \cdot S$.)
#
# **What about $1/\sqrt{D}$?** Here $D$ is the width of the queries and keys (64 in the models below). Luong's
# scores have no such factor, and the models here train well without it: a GRU's states are bounded, so the
# scores start small. Optional section 8 measures this, before and after training.
#
# ## 5. Training every variant (core)
#
# Now the comparison. Four models made by `build` (section 2), so with the same encoder (`embed_dim=32`,
# `hidden_dim=32`) and the same decoder (`embed_dim=16`, `hidden_dim=64`, `encoder_dim=64`), differing only in the
# `attention` module: none (the baseline), additive, and Luong's dot and general. (Luong's concat is not trained
# again: section 4 showed that it computes exactly the additive score.) Each starts from
# `torch.manual_seed(0)` and trains for 250 steps of 64 examples (1.6 passes over the data) with Adam at a learning
# rate of $8 \cdot 10^{-3}$.
#
# One design choice keeps the comparison fair: the decoder arranges its step the same way for every score, so that
# only the score differs. It uses **Luong's arrangement**: the GRU first reads the previous output character, and
# its new state $s_t$ asks the question; the context $c_t$ then goes with $s_t$ into the output layer,
# $p(y_t) = \mathrm{softmax}(W_o [s_t; c_t])$ (Luong et al. put one more layer, $\tanh(W_c [c_t; s_t])$, in
# between). Bahdanau's original decoder asked with the *previous* state
# $s_{t-1}$ and fed the context into the GRU. There, $c_t$ depends on $s_{t-1}$, and $c_t$ is an input of the GRU
# step that makes $s_t$: the attention sits inside the recurrence, so each step must wait for the one before, and
# even training needs a Python loop over the output steps. In Luong's arrangement the GRU's only inputs are the
# previous characters, which teacher forcing knows in advance, so one GRU call computes every $s_t$, and the
# attention then runs on all steps at once.

# %% tags=["nbval-ignore-output"]
VARIANTS = {
    "no attention": lambda: None,
    "additive": lambda: AdditiveAttention(64, 64, 32),
    "dot": lambda: LuongAttention(64, 64, "dot"),
    "general": lambda: LuongAttention(64, 64, "general"),
}
models, losses = {}, {}
for name, make_attention in VARIANTS.items():
    models[name] = build(task, make_attention)  # torch.manual_seed(0) inside
    losses[name] = fit(models[name], task.train, steps=250, batch_size=64, lr=8e-3, label=name)

# %% [markdown]
# Held-out exact match: the whole ten-character date and the end must be right, decoded greedily: at each step the
# model takes its most likely character and feeds it back in as the next input (`model.translate`; no teacher
# forcing). Also by length bucket, and, for the baseline, which part of the date it gets wrong and how it does on each
# format. For the last, every held-out day is written in one format at a time: `task.split(pairs)` encodes and pads
# new (source, target) pairs with the task's vocabularies, into the same kind of split as `task.test`.

# %% tags=["nbval-ignore-output"]
correct = {name: exact_match(model, task.test) for name, model in models.items()}  # (N,) booleans each
test_lengths = task.test.lengths
acc = {name: {"all": float(c.float().mean()), **{b: float(c[bucket_of(test_lengths, b)].float().mean()) for b in BUCKETS}}
       for name, c in correct.items()}
print(f"{'variant':<14}{'held-out':>10}" + "".join(f"{b:>16}" for b in BUCKETS) + f"{'final loss':>12}")
for name, a in acc.items():
    print(f"{name:<14}{a['all']:>10.1%}" + "".join(f"{a[b]:>16.1%}" for b in BUCKETS) + f"{losses[name][-1]:>12.4f}")

predicted, _ = models["no attention"].translate(task.test.src, task.test.lengths, max_len=task.test.tgt.size(1))  # (N, T)
wrong = predicted != task.test.tgt  # (N, T): wrong characters
fields = {"year": slice(0, 4), "month": slice(5, 7), "day": slice(8, 10)}  # in yyyy-mm-dd
field_errors = {f: float(wrong[:, s].any(-1).float().mean()) for f, s in fields.items()}
print("no attention, held-out dates with a wrong", ", ".join(f"{f}: {e:.1%}" for f, e in field_errors.items()))

held_out_days = [dt.date.fromisoformat(target) for _, target in task.test.pairs]  # the 1,000 held-out days
format_acc = {}  # the baseline's exact match when every held-out day is written in one format (lower case)
for fmt in DATE_FORMATS:
    one_format = task.split([(format_date(d, fmt), d.isoformat()) for d in held_out_days])
    format_acc[fmt] = float(exact_match(models["no attention"], one_format).float().mean())
print("no attention, by format, worst first:")
for fmt, a in sorted(format_acc.items(), key=lambda item: item[1]):
    print(f"  {fmt:<34}{a:>7.1%}")

# %% [markdown]
# The table is stored from the run on the machine that built this notebook; yours may differ by an example or two.
# The claims it supports, computed:

# %%
attention_names = [name for name in models if name != "no attention"]
print("every attention model >= 95% on held-out dates:", all(acc[n]["all"] >= 0.95 for n in attention_names))
print("baseline below every attention model overall:",
      all(acc["no attention"]["all"] < acc[n]["all"] for n in attention_names))
print("baseline below every attention model on long inputs:",
      all(acc["no attention"]["long (≥25)"] < acc[n]["long (≥25)"] for n in attention_names))
print("baseline no worse on long dates than on short ones (within 5 points):",
      acc["no attention"]["long (≥25)"] >= acc["no attention"]["short (≤12)"] - 0.05)
print("baseline's most frequent wrong field is the day:", max(field_errors, key=field_errors.get) == "day")
print("baseline's year almost never wrong (< 2% of dates):", field_errors["year"] < 0.02)
other_formats = [a for fmt, a in format_acc.items() if fmt != "m/d/yy"]
print("baseline's worst format is m/d/yy, at least 10 points below every other format:",
      min(format_acc, key=format_acc.get) == "m/d/yy" and format_acc["m/d/yy"] <= min(other_formats) - 0.10)
n_params = {name: sum(p.numel() for p in model.parameters()) for name, model in models.items()}
print("parameters:", ", ".join(f"{name} {n:,}" for name, n in n_params.items()))

# %% [markdown]
# Every attention model gets at least 95% of the held-out dates right after 250 steps. The baseline, with the same encoder,
# decoder, data and training, gets most of them right but clearly fewer than any attention model (see the table), and
# it is not for lack of size: it has *more* parameters than any attention model, because its GRU reads the 64-number
# summary at every step. Its most frequent wrong field is the day (see the line of wrong fields under the table),
# while the year is hardly ever wrong: one summary vector keeps some details better than others, and nothing lets the
# decoder go back for the rest. As promised, its accuracy does **not** fall with length. If anything its worst inputs
# are the *shortest*: by far its worst format is m/d/yy ("11/21/26" in section 1), which gives the least to go on:
# the century must be inferred from two digits, and the month and the day have one or two digits each, so the model
# must work out where each ends before it can write it with two. A long date is harder to *read* (more filler to
# skip) but not harder to *carry*. The three scores end close together; if one lags, the likely one is *general*,
# which must first learn a full $64 \times 64$ matrix before its dot products mean anything.
#
# Learning curves tell the same story step by step (the loss is the cross-entropy per output character under
# teacher forcing, smoothed over 20 steps):

# %%
fig, ax = plt.subplots(figsize=(7, 3.6))
for name, curve in losses.items():
    smooth = np.convolve(curve, np.ones(20) / 20, mode="valid")
    ax.plot(np.arange(20, len(curve) + 1), smooth, label=name)
ax.set_yscale("log")
ax.set_xlabel("training step")
ax.set_ylabel("training loss (log scale)")
ax.set_title("All attention variants pull away from the baseline")
ax.legend()
plt.show()
print("every attention model ends with a lower training loss than the baseline:",
      all(losses[n][-1] < losses["no attention"][-1] for n in attention_names))

# %% [markdown]
# ## 6. Alignments: where the model reads (core)
#
# The weights $\alpha_{tj}$ say, for each output character $t$, how much of the context came from source
# character $j$. Stacked, they form an **alignment** matrix; Bahdanau et al. drew them as heatmaps to show that
# their model had learned word alignments between English and French without ever being told about them. Here is
# one held-out day, one that training never saw, written in three formats and read by the trained additive model
# with greedy decoding: output characters down, source characters across (a space shows as ␣).
#
# The helper `read_dates` runs a model on strings. `task.encode_sources(texts)` turns source strings into padded
# ids and lengths, like `task.test.src` and `task.test.lengths`; the model's `translate` method then decodes
# greedily.

# %%
def read_dates(model, texts):
    """The model's greedy answers to source strings, and their attention weights (B, T, S) (None without attention)."""
    src, lengths = task.encode_sources(texts)  # (B, S) padded ids, (B,) lengths
    ids, weights = model.translate(src, lengths, max_len=task.test.tgt.size(1))  # (B, T): 10 characters and EOS
    return [task.tgt_vocab.decode(row) for row in ids], weights


# held_out_days: the 1,000 held-out calendar days (section 5), none of them in training
example_day = next(d for d in held_out_days if d.day >= 13 and d.month >= 10)  # every field looks different
in_training = any(target == example_day.isoformat() for _, target in task.train.pairs)
print("held-out day:", example_day, "  in training:", in_training)
examples = [format_date(example_day, fmt) for fmt in ("on weekday the dth of month yyyy", "d month yyyy", "m/d/yy")]
answers, example_weights = read_dates(models["additive"], examples)
fig = plt.figure(figsize=(13, 8))
panels = fig.subplot_mosaic([["long", "long"], ["medium", "short"]], height_ratios=[1, 1.05], width_ratios=[1.6, 1])
for panel, text, answer, w in zip(("long", "medium", "short"), examples, answers, example_weights):
    out_labels = list(answer.ljust(10, "?")[:10]) + ["<eos>"]  # the characters the model wrote
    ax = plot_attention(w[:, : len(text)], out_labels, list(text.replace(" ", "␣")), ax=panels[panel],
                        title=f"{text!r} → {answer!r}", annotate=False)
    ax.images[0].colorbar.set_label("attention weight")
    ax.set_xlabel("source character (key)")
    ax.set_ylabel("output character (query)")
fig.suptitle("Alignments of the additive model on three dates")
fig.tight_layout()
plt.show()

# %% [markdown]
# Read each heatmap row by row. The year digits look at the year (in every format pictured the first two, the
# century, are spread more thinly: "19" or "20" is an inference, not a copy), the two month digits
# look at the month, whether a number or a name (for a name, at its first three letters, all that the abbreviated
# formats write, and most of all at the third, the "v" of "nov"), and the day digits at the day, wherever the format
# puts them. The weekday, "on", "the" and "of" get almost no weight at all. The hyphen rows are spread out: a hyphen
# is the same in every answer, so it does not matter where it looks. (In these pictures the `<eos>` row is not spread
# out: it looks mostly at the day, the last field written.)
#
# Pictures of three examples can mislead, so let us measure. Take all 1,000 held-out days, write each in the
# format "d month yyyy" ("21 november 2026"), and average, over the dates, the weight that the output digits of
# each field put on the source characters of the same field. For comparison: the share of the source characters
# that field occupies, which is what a uniform spread of attention would give it.

# %%
# 1. Every held-out day as "d month yyyy", and the additive model's weights on it.
written = task.split([(format_date(d, "d month yyyy"), d.isoformat()) for d in held_out_days])  # N = 1,000 pairs
_, w_written = models["additive"].translate(written.src, written.lengths, max_len=written.tgt.size(1))  # (N, T, S)

# 2. Which source characters belong to each field: "21 november 2026" is day, space, month, space, year.
pos = torch.arange(written.src.size(1))[None, :]  # (1, S): character positions
day_len = torch.tensor([len(str(d.day)) for d in held_out_days])[:, None]  # (N, 1): "21" is 2 characters
month_len = torch.tensor([len(d.strftime("%B")) for d in held_out_days])[:, None]  # (N, 1): "november" is 8
month_start = day_len + 1  # (N, 1): after the day and a space
year_start = month_start + month_len + 1  # (N, 1): after the month and a space
source_fields = {  # (N, 1) vs (1, S) -> (N, S) booleans: True at the field's characters
    "year": (pos >= year_start) & (pos < written.lengths[:, None]),
    "month": (pos >= month_start) & (pos < month_start + month_len),
    "day": pos < day_len,
}
output_fields = {"year": [0, 1, 2, 3], "month": [5, 6], "day": [8, 9]}  # output positions in yyyy-mm-dd

# 3. Uniform attention would give each field its share of the characters.
share = {}
for f, in_field in source_fields.items():
    n_in_field = in_field.sum(-1)  # (N, S) -> (N,): the field's characters in each date
    share[f] = float((n_in_field / written.lengths).mean())  # (N,) -> mean over the dates

# 4. The weight that the field's output digits put on the field's source characters.
on_field = {}
for f, in_field in source_fields.items():
    w_digits = w_written[:, output_fields[f]]  # (N, T, S) -> (N, D, S): the rows of the field's D output digits
    w_on = (w_digits * in_field[:, None, :]).sum(-1)  # (N, D, S) * (N, 1, S) -> sum over S -> (N, D)
    on_field[f] = float(w_on.mean())  # (N, D) -> mean over the dates and the digits

# %% tags=["nbval-ignore-output"]
print(f"{'output digits':<15}{'weight on the same field':>26}{'share of the characters':>26}")
for f in source_fields:
    print(f"{f:<15}{on_field[f]:>26.3f}{share[f]:>26.3f}")

# %%
print(f"uniform shares: year {share['year']:.3f}, month {share['month']:.3f}, day {share['day']:.3f}")
print("year digits look mostly at the year (> 0.5 of their weight):", on_field["year"] > 0.5)
print("month digits look mostly at the month name:", on_field["month"] > 0.5)
print("day digits look mostly at the day:", on_field["day"] > 0.5)
print("every field gets more weight than a uniform spread would give it:", all(on_field[f] > share[f] for f in share))
print("year and day digits get more than twice their share:", all(on_field[f] > 2 * share[f] for f in ("year", "day")))

# %% [markdown]
# The alignments are real: each group of output digits puts most of its weight on its own field, more than its
# share of the characters would give it (for the year and the day, more than twice as much).
#
# **What an alignment map does not prove.** It shows where the decoder reads, not what it reads there: the keys
# are bidirectional GRU states, so the key at a month letter also carries information from the rest of the
# sentence, most of all its neighbours. Nor does it say by itself which inputs *caused* the answer. Jain and
# Wallace (2019), with recurrent encoders on text classification, question answering and inference, found that
# attention weights often agree poorly with gradient and leave-one-out measures of which words matter, and that
# very different weights can often give the same prediction. Wiegreffe and Pinter (2019) answered that whether
# attention "explains" depends on what one means by an explanation, and that testing it needs proper baselines
# (uniform weights, the spread across random seeds); their tests found the learned weights informative in several
# of the same settings. The practical lesson: treat an alignment map as
# evidence to test, by intervention (mask the characters it points at, or move the weights, and see whether the
# answer changes), not as an explanation by itself.
#
# ## 7. Try it (optional)
#
# Edit the list below and run the cell: each date goes through the baseline and the additive model. Use only
# the characters of `SOURCE_CHARACTERS`; years outside 1950-2049 and formats the models never saw are fair game,
# but do not expect miracles there.

# %%
print(repr(SOURCE_CHARACTERS))

# %% tags=["nbval-ignore-output"]
my_dates = [
    "21 november 2026",
    "Thursday, July 4, 1985",
    "the 3rd of march, 2049",
    "12.08.1961",
    "9/1/99",
    "1 JAN 2000",
    "31 feb 2021",  # a day that does not exist
    "2026-11-21",  # already ISO: a format never seen in training
]
base_answers, _ = read_dates(models["no attention"], my_dates)
additive_answers, _ = read_dates(models["additive"], my_dates)
print(f"{'input':<26}{'no attention':>14}{'additive':>14}")
for text, a, b in zip(my_dates, base_answers, additive_answers):
    print(f"{text:<26}{a:>14}{b:>14}")

# %% [markdown]
# Questions to ask of your table: does either model know that February has no 31st day, or does it copy the
# fields it finds? What does each make of a format it never saw, such as ISO itself? Where the two models
# disagree, which one is right? An empty answer means that the model wrote `<eos>` as its very first character.
#
# A character outside the vocabulary cannot be encoded at all. The vocabulary raises a `ValueError` that names the
# offending characters instead of silently dropping them (a model never trained on `!` or `é` could not know what
# to do with them anyway). The message counts only the characters, not the 3 special tokens (section 1):

# %% tags=["raises-exception"]
read_dates(models["additive"], ["21 november 2026!"])

# %% [markdown]
# ## 8. Appendix: why these models need no $1/\sqrt{D}$ (optional)
#
# **Takeaway:** a GRU's states are bounded, so unscaled dot scores start small and the softmax starts soft;
# training then makes the scores as large as the task needs.
#
# Notebook 04 showed that the dot product of two vectors of width $D$, with independent entries of mean 0 and
# variance 1, has variance $D$, so wide vectors saturate the softmax from the start and stop its gradient. Here
# $D = 64$, the width of both the decoder state (the query) and the encoder outputs (the keys), as the dot score
# requires. But these vectors are GRU states: every coordinate lies strictly between $-1$ and $1$ (section 2), and
# at initialisation most are much smaller than that. The helper below recomputes, for teacher-forced targets, the
# decoder states that ask the questions and the encoder outputs they are compared with; we measure them in an
# **untrained** dot model on 256 held-out dates.

# %%
def decoder_queries(model, split, n=256):
    """Queries (B, T, Eq), keys (B, S, Ek) and mask (B, S) of an attention model, teacher-forced on ``split[:n]``.

    Eq = 64 is the decoder state's width (its GRU units); Ek = 64 = 2 x 32 the encoder outputs' (both directions).
    """
    src, lengths, tgt = split.src[:n], split.lengths[:n], split.tgt[:n]
    src = src[:, : int(lengths.max())]  # (B, S)
    with torch.no_grad():
        keys, summary = model.encoder(src, lengths)  # (B, S, Ek), (B, Ek)
        tokens = torch.cat([torch.full_like(tgt[:, :1], model.bos_id), tgt[:, :-1]], dim=1)  # (B, T): BOS, then shifted
        queries, _ = model.decoder.gru(model.decoder.embed(tokens), model.decoder.start(summary))  # (B, T, Eq)
    return queries, keys, padding_mask(lengths, src.size(1))


def score_stats(model, split):
    """How large a dot model's queries, keys, scores and weights are, teacher-forced on ``split[:256]``."""
    queries, keys, mask = decoder_queries(model, split)
    scores = queries @ keys.transpose(-2, -1)  # (B, T, D) @ (B, D, S) -> (B, T, S); the dot score needs Eq = Ek = D
    weights = attend(scores, keys, mask)[1]  # (B, T, S)
    real_scores = scores.masked_select(mask[:, None, :])  # the scores of real characters only
    real_keys = keys[mask]  # (number of real characters, Ek): the padding left out
    return {
        "mean |query|": float(queries.abs().mean()),
        "largest |query|": float(queries.abs().max()),
        "mean |key|": float(real_keys.abs().mean()),
        "largest |key|": float(real_keys.abs().max()),
        "score std": float(real_scores.std()),
        "largest weight": float(weights.amax(-1).mean()),  # each row's largest weight, averaged over rows
        "uniform weight": float((1 / mask.sum(-1).float()).mean()),  # the same if every row were uniform
    }


untrained = score_stats(build(task, lambda: LuongAttention(64, 64, "dot")), task.test)
print("untrained dot model, size of a coordinate:")
print(f"  queries: mean {untrained['mean |query|']:.3f}, largest {untrained['largest |query|']:.3f}")
print(f"  keys:    mean {untrained['mean |key|']:.3f}, largest {untrained['largest |key|']:.3f}")
print(f"std of the scores {untrained['score std']:.3f}; mean largest weight {untrained['largest weight']:.3f}"
      f" (uniform would be {untrained['uniform weight']:.3f},"
      f" so {untrained['largest weight'] / untrained['uniform weight']:.1f} times uniform)")
print("scores could never exceed the width:", 64, "  scaled by 1/sqrt(64) they could never exceed", 64 / math.sqrt(64))

# %% [markdown]
# Every query and key coordinate lies inside $(-1, 1)$, as it must, and a typical one is far inside: the mean sizes
# are well below the bound, even though the largest key coordinate already comes close to it. The scores have a
# standard deviation well below 1, and the softmax starts soft: the largest weight of a row averages 0.125, far from 1
# and only 1.6 times the 0.077 of a uniform spread. That is exactly the safe start that $1/\sqrt{D}$ is there to
# provide, here provided by the bounded GRU states instead. With a scale of $1/\sqrt{64} = 1/8$ no score could exceed
# 8, and the model would have to push its states harder towards $\pm 1$ to attend as sharply. In a transformer nothing
# squashes the queries and keys: they are linear maps of vectors whose entries are typically of size about 1, their
# dot products grow with $D$ as in notebook 04, and the scale matters (notebooks 06 and 07).
#
# The same measurements on the **trained** dot model of section 5:

# %% tags=["nbval-ignore-output"]
trained = score_stats(models["dot"], task.test)  # `untrained`: the same numbers before training
print("trained dot model, size of a coordinate:")
print(f"  queries: mean {trained['mean |query|']:.3f}, largest {trained['largest |query|']:.3f}")
print(f"  keys:    mean {trained['mean |key|']:.3f}, largest {trained['largest |key|']:.3f}")
print(f"std of the scores {trained['score std']:.3f} (untrained {untrained['score std']:.3f});"
      f" mean largest weight {trained['largest weight']:.3f} (untrained {untrained['largest weight']:.3f})")

# %%
print("training made the dot scores at least 10x more spread out:",
      trained["score std"] >= 10 * untrained["score std"])
print("and the trained weights much sharper (mean largest weight > 0.5):", trained["largest weight"] > 0.5)

# %% [markdown]
# The model learned to make its own scores large, within the bound the GRU states allow, to sharpen attention
# onto a few characters; no fixed scale was needed to get there.
#
# ## Exercises
#
# How the exercises work (a stub to complete, a check cell that names common mistakes, `check.hint("name")`
# for one hint at a time, a hidden solution) is explained once, in [00 · Welcome](00_welcome.ipynb).
# For example:

# %%
check.hint("additive_scores")

# %% [markdown]
# ### Exercise 1 · Additive scores for a batch
#
# Section 3 scored one query against its keys. Write `my_additive_scores(query, keys, W_q, W_k, v)` for a batch:
# `query` of shape $(B, E_q)$ (one decoder step per sentence), `keys` $(B, S, E_k)$, `W_q` $(A, E_q)$, `W_k`
# $(A, E_k)$ and `v` $(A,)$, returning the scores $v^\top \tanh(W_q q_b + W_k k_{bj})$ of shape $(B, S)$, without a
# Python loop.

# %% tags=["exercise"] keep_output=false
def my_additive_scores(query, keys, W_q, W_k, v):
    """(B, Eq), (B, S, Ek), (A, Eq), (A, Ek), (A,) -> (B, S)."""
    raise NotImplementedError("your code here")


# %% tags=["check"] keep_output=false
check.additive_scores(my_additive_scores)

# %% tags=["solution"] jupyter={"source_hidden": true}
def my_additive_scores(query, keys, W_q, W_k, v):
    """(B, Eq), (B, S, Ek), (A, Eq), (A, Ek), (A,) -> (B, S)."""
    q_proj = query @ W_q.T  # (B, Eq) @ (Eq, A) -> (B, A)
    k_proj = keys @ W_k.T  # (B, S, Ek) @ (Ek, A) -> (B, S, A)
    hidden = torch.tanh(q_proj[:, None, :] + k_proj)  # (B, 1, A) + (B, S, A) -> (B, S, A)
    return hidden @ v  # (B, S, A) @ (A,) -> (B, S)


# %% tags=["solution"]
# record=False: the course's own solution does not count in your progress (see attn_course.progress()).
check.additive_scores(my_additive_scores, record=False)

# %% [markdown]
# ### Exercise 2 · Weights over the source, padding excluded
#
# Write `my_source_softmax(scores, mask)` for scores of shape $(B, S)$ (one decoder step of $B$ sentences) and a
# boolean `mask` $(B, S)$, True at real source characters. Return weights $(B, S)$: each row a softmax over its
# own real characters, and exactly 0 at the padding. (Every sentence has at least one real character.)

# %% tags=["exercise"] keep_output=false
def my_source_softmax(scores, mask):
    """(B, S), (B, S) bool -> (B, S)."""
    raise NotImplementedError("your code here")


# %% tags=["check"] keep_output=false
check.source_softmax(my_source_softmax)

# %% tags=["solution"] jupyter={"source_hidden": true}
def my_source_softmax(scores, mask):
    """(B, S), (B, S) bool -> (B, S)."""
    blocked = scores.masked_fill(~mask, float("-inf"))  # (B, S): padding can never win
    return torch.softmax(blocked, dim=-1)  # (B, S): over the source steps; exp(-inf) = 0 exactly


# %% tags=["solution"]
# record=False: the course's own solution does not count in your progress (see attn_course.progress()).
check.source_softmax(my_source_softmax, record=False)

# %% [markdown]
# ### Exercise 3 · One decoder step of dot-product attention
#
# Put it together, as Luong's *dot* score does at one decoder step. Write `my_attention_context(query, keys,
# values, mask)` for `query` $(B, E)$, `keys` $(B, S, E)$, `values` $(B, S, E_v)$ and `mask` $(B, S)$ (True at
# real characters): score every key by its dot product with the query (no scaling), turn the scores into weights
# over the real characters, and return the context, the weighted average of the values, of shape $(B, E_v)$.

# %% tags=["exercise"] keep_output=false
def my_attention_context(query, keys, values, mask):
    """(B, E), (B, S, E), (B, S, Ev), (B, S) bool -> (B, Ev)."""
    raise NotImplementedError("your code here")


# %% tags=["check"] keep_output=false
check.attention_context(my_attention_context)

# %% tags=["solution"] jupyter={"source_hidden": true}
def my_attention_context(query, keys, values, mask):
    """(B, E), (B, S, E), (B, S, Ev), (B, S) bool -> (B, Ev)."""
    scores = (keys @ query[:, :, None])[:, :, 0]  # (B, S, E) @ (B, E, 1) -> (B, S, 1) -> (B, S)
    weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)  # (B, S)
    return (weights[:, None, :] @ values)[:, 0]  # (B, 1, S) @ (B, S, Ev) -> (B, 1, Ev) -> (B, Ev)


# %% tags=["solution"]
# record=False: the course's own solution does not count in your progress (see attn_course.progress()).
check.attention_context(my_attention_context, record=False)

# %% [markdown]
# **To explore (no checker).** Train the copy models of section 2 on `make_copy_task(max_len=24)` and plot the
# same curves: where does the attention model start to fail, and does more training (`fit`'s `steps`) move that
# point? Or give the baseline a wider summary: in a copy of `build`, set the encoder's `hidden_dim=64` and the
# decoder's `encoder_dim=128`. How far does that move its cliff?
#
# ## Summary
#
# You can now
# - describe an RNN encoder-decoder: what a GRU step computes, a bidirectional encoder whose states are the keys
#   and values, and a decoder whose state asks a question at every output step, trained with teacher forcing;
# - measure the bottleneck of a fixed summary vector, and explain why the copy task shows it and the date task
#   hardly does: what matters is how much information must pass, not how many characters carry it;
# - compute the additive score $v^\top \tanh(W_q q + W_k k)$, and say what its $\tanh$ does (bounded scores,
#   regions rather than directions) and what it costs ($A$ numbers per query-key pair);
# - relate Luong's *dot* and *general* scores to `scaled_dot_product_attention` with `scale=1`, and *concat* to
#   the additive score with $W = [W_q \mid W_k]$;
# - explain why these GRU models train without $1/\sqrt{D}$: bounded states make small scores at initialisation
#   (optional section 8);
# - train and compare attention variants fairly (same seed, same data, only the score differs) on held-out data,
#   and check what an alignment heatmap seems to show with an average over many examples, knowing that an alignment
#   is evidence to test, not an explanation.
#
# ## Common pitfalls
#
# - **Attending to padding.** Without the mask, padded positions take weight and their (meaningless) encoder
#   outputs leak into the context; the model's answer then depends on what else is in the batch.
# - **Running a backward RNN over the padding.** A right-to-left GRU that starts at the end of the padded batch
#   reads pads before the sentence; the encoder here reverses each sentence within its own length.
# - **Judging on training data.** Dates repeat; a test set made of unseen calendar days is what shows that the
#   model learned the formats and not the examples.
# - **Teacher forcing is not decoding.** Training feeds the right previous character; at test time the model
#   feeds its own guesses (`model.translate`), and one mistake can derail the rest. Measure with greedy decoding.
# - **Unfair comparisons.** Change one thing at a time: same seed, data, steps and sizes, only the score.
# - **Reading too much into a heatmap.** One example can mislead, and bidirectional keys mix in the rest of the
#   sentence; average over many examples before claiming an alignment, and test by intervention before claiming
#   that the model *uses* what it attends to.
#
# ## Further reading
#
# - D. Bahdanau, K. Cho, Y. Bengio (2014), *Neural machine translation by jointly learning to align and translate*.
#   [arXiv:1409.0473](https://arxiv.org/abs/1409.0473): the additive score, the bidirectional encoder and the
#   alignment heatmaps.
# - M.-T. Luong, H. Pham, C. D. Manning (2015), *Effective approaches to attention-based neural machine
#   translation*. [arXiv:1508.04025](https://arxiv.org/abs/1508.04025): the dot, general and concat scores, and
#   local attention.
# - K. Cho et al. (2014), *Learning phrase representations using RNN encoder-decoder for statistical machine
#   translation*. [arXiv:1406.1078](https://arxiv.org/abs/1406.1078): the encoder-decoder with a fixed summary,
#   and the GRU.
# - I. Sutskever, O. Vinyals, Q. V. Le (2014), *Sequence to sequence learning with neural networks*.
#   [arXiv:1409.3215](https://arxiv.org/abs/1409.3215): the fixed-vector encoder-decoder with LSTMs, and the trick
#   of reversing the source to shorten the paths.
# - A. Graves (2013), *Generating sequences with recurrent neural networks*.
#   [arXiv:1308.0850](https://arxiv.org/abs/1308.0850): handwriting synthesis with a soft window over the text, a
#   year before attention reached translation.
# - H. Larochelle, G. E. Hinton (2010), *Learning to combine foveal glimpses with a third-order Boltzmann machine*.
#   [NeurIPS 2010](https://papers.nips.cc/paper_files/paper/2010/hash/677e09724f0e2df9b6c000b75b5da10d-Abstract.html);
#   V. Mnih, N. Heess, A. Graves, K. Kavukcuoglu (2014), *Recurrent models of visual attention*.
#   [arXiv:1406.6247](https://arxiv.org/abs/1406.6247): visual attention, choosing where in an image to look.
# - M. Ranzato, S. Chopra, M. Auli, W. Zaremba (2016), *Sequence level training with recurrent neural networks*.
#   [arXiv:1511.06732](https://arxiv.org/abs/1511.06732): names *exposure bias*, the cost of teacher forcing.
# - S. Jain, B. C. Wallace (2019), *Attention is not explanation*.
#   [arXiv:1902.10186](https://arxiv.org/abs/1902.10186); S. Wiegreffe, Y. Pinter (2019), *Attention is not not
#   explanation*. [arXiv:1908.04626](https://arxiv.org/abs/1908.04626): the debate on reading attention weights as
#   explanations, and how to test them.
# - PyTorch tutorial, [*NLP from scratch: translation with a sequence to sequence network and
#   attention*](https://pytorch.org/tutorials/intermediate/seq2seq_translation_tutorial.html): a GRU
#   encoder-decoder with Bahdanau attention on French-English sentence pairs.
#
# **Next:** 06 · Self-attention and positions drops the recurrence: every position of one sequence attends to every
# other, and positions must be told to the model.
