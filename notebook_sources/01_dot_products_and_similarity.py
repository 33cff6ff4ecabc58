# %% [markdown]
# # 01 · Dot products and similarity: scores as relevance
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/attn-course/attention-step-by-step/blob/main/notebooks/01_dot_products_and_similarity.ipynb)
#
# Attention lets every position in a sequence look things up in the others. Before a query
# can take anything from a key, it has to say how much that key matters to it, and it says
# so with one number: a **score**. Almost every attention layer in use today computes that
# number the same way, with a dot product. This notebook is about that one operation: what
# it measures in a picture, when the length of a vector should count and when it should not,
# and how a single matrix product scores every query against every key at once. Everything
# later in the course (softmax, scaled dot-product attention, multi-head attention,
# FlashAttention) starts from the score matrix $QK^\top$ that you build here.
#
# **Learning goals.** By the end of this notebook you can
# - **explain** the dot product as *length × length × cosine of the angle* and read scores off a picture;
# - **choose** between dot-product and cosine scores, and predict when the two disagree;
# - **compute** all query–key scores at once as $QK^\top$, in NumPy and in PyTorch, with a batch axis;
# - **use** `attn_course.dot_scores` and `attn_course.cosine_scores`, knowing exactly what they compute.
#
# **Prerequisites.** Notebook 00 (how the course works, the shape letters B, L, S, E).
# Vectors and the matrix product at the level of a first linear-algebra course.
#
# **Time.** About 35 minutes of study.

# %%
# Only in Google Colab: install the course's helper package, attn_course, from GitHub. --no-deps keeps
# Colab's own torch, NumPy and matplotlib as they are. Anywhere else (your laptop, Binder, CI) this does nothing.
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "attn_course @ git+https://github.com/attn-course/attention-step-by-step"], check=True)

# %%
import timeit

import matplotlib.pyplot as plt
import numpy as np
import torch

from attn_course import cosine_scores, device, dot_scores, plot_attention, set_seed
from attn_course.exercises import similarity as check

set_seed(0)
torch.set_num_threads(1)  # the same summation order on every machine, so stored outputs match
torch.set_printoptions(precision=4, sci_mode=False)
np.set_printoptions(precision=4, suppress=True)
DEVICE = device()

# %% [markdown]
# ## 1. Why one number per pair? (core)
#
# In attention, a **query** $q$ describes what one position is looking for and a **key**
# $k_j$ describes what position $j$ offers. Each (query, key) pair gets a score. Notebook 02
# turns a query's scores into weights that sum to 1, and notebook 03 uses those weights to
# average the **values**. So the score function decides *where a query looks*. We want it to
# be
#
# - **large** when the key matches the query, and small or negative when it does not;
# - **cheap**, because a sequence of length 1,000 already has a million pairs;
# - **differentiable**, so that a network can learn the vectors that produce good scores.
#
# The dot product of two vectors with $E$ features each does all three:
#
# $$q \cdot k \;=\; \sum_{e=1}^{E} q_e\, k_e .$$
#
# Each term $q_e k_e$ is large and positive when both vectors are large in feature $e$ with
# the same sign, and negative when they disagree in sign. The sum adds up the agreement
# over all features. Here it is by hand, with $E = 3$:

# %%
q_hand = np.array([2.0, 1.0, -1.0])  # a query with E = 3 features
k_hand = np.array([1.0, 3.0, 2.0])   # a key with the same 3 features

terms = q_hand * k_hand              # feature by feature: (E,) * (E,) -> (E,)
print("q * k         =", terms)
print("sum of terms  =", terms.sum())
print("q @ k         =", q_hand @ k_hand, "   np.dot(q, k) =", np.dot(q_hand, k_hand))

# %% [markdown]
# The first two features agree (+2 and +3); the third disagrees in sign and takes 2 back:
# the score is 3. `q @ k` and `np.dot` compute the same sum.

# %% [markdown]
# ## 2. The geometry: length × length × cos θ (core)
#
# The same number has a geometric meaning. For two vectors $a$ and $b$ at an angle $\theta$,
#
# $$a \cdot b \;=\; \lVert a\rVert\,\lVert b\rVert \cos\theta ,
# \qquad \lVert a\rVert = \sqrt{a\cdot a}.$$
#
# *Why it holds:* the side $a-b$ of the triangle spanned by $a$ and $b$ has, on the one hand,
# $\lVert a-b\rVert^2 = \lVert a\rVert^2 + \lVert b\rVert^2 - 2\,a\cdot b$ (expand the dot
# product), and on the other hand, by the law of cosines,
# $\lVert a\rVert^2 + \lVert b\rVert^2 - 2\lVert a\rVert\lVert b\rVert\cos\theta$. Compare the two.
#
# Two ways to read it:
# - **Direction times size.** $\cos\theta$ is 1 when the arrows point the same way, 0 when
#   they are at right angles and $-1$ when they point in opposite directions. The two lengths
#   scale that agreement up or down.
# - **Shadow.** $\lVert b\rVert\cos\theta$ is the length of $b$'s shadow on the line through $a$
#   (its projection). So $a\cdot b$ is $\lVert a\rVert$ times how far $b$ reaches along $a$.
#
# Let us check the formula on two arrows in the plane, measuring the angle on its own with
# `arctan2` (the angle of each arrow from the x-axis), not from the dot product:

# %%
a = np.array([3.0, 1.0])
b = np.array([1.0, 2.0])
theta = np.arctan2(b[1], b[0]) - np.arctan2(a[1], a[0])   # angle from a to b, in radians
length_a, length_b = np.linalg.norm(a), np.linalg.norm(b)  # sqrt(a · a), sqrt(b · b)

print(f"sum of products   a · b        = {a @ b:.4f}")
print(f"lengths and angle |a| |b| cos θ = {length_a * length_b * np.cos(theta):.4f}")
print(f"|a| = {length_a:.4f}, |b| = {length_b:.4f}, θ = {np.degrees(theta):.1f}°")

# %% [markdown]
# ### One query, four keys
#
# Now a query $q$ and four keys that differ in angle *and* length. For each key we compute
# the dot product and the **cosine similarity**
#
# $$\cos(q, k) \;=\; \frac{q\cdot k}{\lVert q\rVert\,\lVert k\rVert},$$
#
# which is the dot product with both lengths divided out: only the direction is left.

# %%
q_plane = np.array([0.75, 0.25])  # a query in the plane (E = 2)
keys_plane = {
    "A": np.array([1.2, 0.4]),    # the same direction as q
    "B": np.array([1.0, 2.6]),    # about 50° away from q, but long
    "C": np.array([-0.5, 1.5]),   # at a right angle to q
    "D": np.array([-1.2, -0.4]),  # pointing the opposite way
}


def cosine(u, v):
    """Cosine of the angle between two vectors: their dot product over their lengths."""
    return u @ v / (np.linalg.norm(u) * np.linalg.norm(v))


print(f"query q = {q_plane}, |q| = {np.linalg.norm(q_plane):.3f}\n")
print("key   |k|    angle     dot   cosine")
for name, key in keys_plane.items():
    angle = np.degrees(np.arccos(np.clip(cosine(q_plane, key), -1, 1)))  # clip: rounding can give 1.0000000002
    print(f" {name}   {np.linalg.norm(key):.3f}  {angle:5.1f}°  {q_plane @ key:6.2f}  {cosine(q_plane, key):6.3f}")

# %% [markdown]
# To see the *shadow* reading, project every key onto the line through $q$: the shadow's
# length is $k\cdot\hat q$, where $\hat q = q/\lVert q\rVert$ is $q$'s direction, and the dot
# product is $\lVert q\rVert$ times that length.

# %%
unit_q = q_plane / np.linalg.norm(q_plane)  # q's direction, length 1
shadows = {name: key @ unit_q for name, key in keys_plane.items()}  # how far each key reaches along q
print("shadow on q:", ", ".join(f"{name} {length:.2f}" for name, length in shadows.items()))
print(f"dot of B = |q| × B's shadow = {np.linalg.norm(q_plane):.2f} × {shadows['B']:.2f} = {q_plane @ keys_plane['B']:.2f}")


# %% [markdown]
# The drawing itself is plain matplotlib, so it lives in a helper; skip it unless you are
# curious about arrows and labels.

# %%
def draw_query_and_keys(ax, q, keys, colours, shadow_of="B"):
    """Draw q and the keys as arrows labelled with dot and cosine, and shade one key's shadow on q."""
    def arrow(vector, colour, width=2.0):
        ax.annotate("", xy=vector, xytext=(0, 0),
                    arrowprops=dict(arrowstyle="-|>", color=colour, lw=width, mutation_scale=16))

    unit = q / np.linalg.norm(q)            # q's direction, length 1
    normal = np.array([-unit[1], unit[0]])  # at a right angle to q
    ax.plot(*np.outer([-2.5, 2.5], unit).T, "--", color="tab:blue", lw=0.7)  # the line through q
    for name, key in keys.items():
        arrow(key, colours[name])
    arrow(q, "tab:blue", width=3.5)
    label_at = {"A": (0.75, 0.62), "B": (1.05, 2.55), "C": (-1.25, 1.55), "D": (-2.0, -0.8)}
    for name, key in keys.items():
        ax.text(*label_at[name], f"{name}: dot {q @ key:.2f}\n    cos {cosine(q, key):.2f}",
                color=colours[name], fontsize=10)
    ax.text(0.28, 0.33, "query q", color="tab:blue", fontsize=10, weight="bold")

    key = keys[shadow_of]
    shadow = key @ unit
    foot = shadow * unit  # the end of the shadow, on the line through q
    colour = colours[shadow_of]
    ax.plot(*np.stack([key, foot]).T, ":", color=colour)
    band = np.stack([-0.3 * normal, foot - 0.3 * normal])  # drawn beside the line, not on it
    ax.plot(*band.T, color=colour, lw=5, alpha=0.35, solid_capstyle="butt")
    ax.text(*(0.1 * foot - 0.42 * normal), f"{shadow_of}'s shadow on q: {shadow:.2f}\n"
            f"dot = |q| × shadow = {np.linalg.norm(q):.2f} × {shadow:.2f}",
            color=colour, fontsize=9, rotation=np.degrees(np.arctan2(q[1], q[0])),
            rotation_mode="anchor", va="top")
    ax.axhline(0, color="black", lw=0.5)
    ax.axvline(0, color="black", lw=0.5)
    ax.set_xlim(-2.1, 2.6)
    ax.set_ylim(-1.1, 3.0)
    ax.set_aspect("equal")


# %%
fig, ax = plt.subplots(figsize=(7.5, 6))
draw_query_and_keys(ax, q_plane, keys_plane,
                    colours={"A": "tab:green", "B": "tab:orange", "C": "tab:gray", "D": "tab:red"})
ax.set_xlabel("feature 1")
ax.set_ylabel("feature 2")
ax.set_title("One query, four keys: dot product and cosine")
plt.show()

# %% [markdown]
# **What to see.** Key A points exactly along $q$, so its cosine is a perfect 1.000, and its
# dot product is 1.00. Key B is 50.5° off, but it is so long that its shadow on the line
# through $q$ (the orange band, 1.77) reaches further than A's (1.26, all of A's length):
# its dot product, $0.79 \times 1.77 = 1.40$, is the highest. Key C is at a right angle and
# scores 0 under both; key D points away and scores negative under both. **Cosine ranks by
# direction alone; the dot product ranks by how far a key reaches along the query.**

# %% [markdown]
# ## 3. Dot or cosine: should length count? (core)
#
# Cosine similarity is the dot product of **unit vectors**,
# $\cos(q,k) = \frac{q}{\lVert q\rVert}\cdot\frac{k}{\lVert k\rVert}$, so it always lies in
# $[-1, 1]$ and ignores length. Two experiments with the four keys make the difference
# concrete: stretch one **key**, then stretch the **query**.

# %%
K_plane = np.stack(list(keys_plane.values()))  # (S, E) = (4, 2): the keys A, B, C, D as rows


def dots(q, K):
    return K @ q  # (S, E) @ (E,) -> (S,): one score per key


def cosines(q, K):
    K_unit = K / np.linalg.norm(K, axis=-1, keepdims=True)  # (S, E): every key scaled to length 1
    return K_unit @ (q / np.linalg.norm(q))                 # (S, E) @ (E,) -> (S,)


K_long_A = K_plane.copy()
K_long_A[0] *= 3  # key A, three times as long, same direction


def show(label, scores, note=""):
    numbers = "".join(f"{s:7.2f}" for s in np.round(scores, 2) + 0.0)  # + 0.0 turns -0.0 into 0.0
    print(f"{label:17s}{numbers} {note}".rstrip())


print(" " * 17 + "".join(f"{name:>7s}" for name in keys_plane))
show("dot", dots(q_plane, K_plane))
dot_A = dots(q_plane, K_long_A)
show("dot, A stretched", dot_A, f"<- A beats B: {dot_A[0] > dot_A[1]}")
show("cos", cosines(q_plane, K_plane))
show("cos, A stretched", cosines(q_plane, K_long_A),
     f"<- unchanged: {np.allclose(cosines(q_plane, K_long_A), cosines(q_plane, K_plane))}")
print()
show("dot, q stretched", dots(3 * q_plane, K_plane),
     f"<- every score x3: {np.allclose(dots(3 * q_plane, K_plane), 3 * dots(q_plane, K_plane))}")
show("cos, q stretched", cosines(3 * q_plane, K_plane),
     f"<- unchanged: {np.allclose(cosines(3 * q_plane, K_plane), cosines(q_plane, K_plane))}")

# %% [markdown]
# Stretching a **key** changes its rank under the dot product (A overtakes B) and changes
# nothing under cosine. Stretching the **query** multiplies all its dot scores by the same
# factor: the order of the keys stays, but the gaps between them grow. Notebook 02 shows
# that softmax turns bigger gaps into sharper weights, so the length of a query works like
# a *sharpness knob* on where it looks.
#
# Which one should you use?
#
# - **Length should count: the dot product.** Use it when length carries a signal the model
#   can learn: how salient a key is, how strongly a query wants something. That is the
#   Transformer's scaled dot-product attention ($QK^\top/\sqrt{D}$ in notebook 04, $D$ being the
#   width of the queries and keys): queries and keys are learned projections, so the network is
#   free to use length as a volume knob.
#   Cost: one multiply-add per feature.
# - **Length should not count: cosine.** Use it when length is an accident of the data: word
#   frequency, document length, the scale of one encoder's outputs. That is search and
#   retrieval with embeddings; contrastive models such as CLIP, which divide by a learned
#   temperature to get sharpness back; and "QK-norm" and cosine attention (Swin Transformer
#   V2), which normalise $q$ and $k$ to stop scores from growing without bound in training.
#   Cost: also the two lengths and a division.
#
# Attention layers use the dot product: it is cheaper, and the network *learns* the lengths,
# so it can make them mean something. Where lengths are not under your control, cosine is
# the safer comparison.

# %% [markdown]
# ## 4. Words as hand-made vectors (core)
#
# Real word embeddings have hundreds of learned features that nobody can name. To see the
# idea, we build eight word vectors by hand, with four features we *can* name. Each entry
# says how strongly the word is tied to that feature, from 0 to 1, except one deliberately
# long vector: "feast" is *very* much about food.

# %%
features = ["animal", "royal", "food", "human"]
word_vectors = {          # animal royal food human
    "cat":   np.array([1.0, 0.0, 0.0, 0.3]),
    "dog":   np.array([1.0, 0.0, 0.0, 0.5]),
    "lion":  np.array([1.0, 0.6, 0.0, 0.0]),  # "the king of the beasts"
    "king":  np.array([0.0, 1.0, 0.0, 1.0]),
    "queen": np.array([0.0, 1.0, 0.0, 1.0]),  # our four features cannot tell her from the king
    "crown": np.array([0.0, 1.0, 0.0, 0.2]),
    "apple": np.array([0.0, 0.0, 1.0, 0.0]),
    "feast": np.array([0.0, 0.5, 2.0, 1.0]),  # long: twice as much "food" as anything else
}
words = list(word_vectors)
W = np.stack(list(word_vectors.values()))  # (8, 4): one word per row, one feature per column
print("words:", words)
print("W shape:", W.shape)


def rank(query_word, score, top=3):
    """Score every word against one query word; return the best `top` as 'word score' strings."""
    query = word_vectors[query_word]
    scored = sorted(((score(query, v), w) for w, v in word_vectors.items()), reverse=True)
    return ", ".join(f"{w} {s:.2f}" for s, w in scored[:top])


for query_word in ["cat", "king", "apple"]:
    print(f"\nquery '{query_word}'")
    print("  dot   :", rank(query_word, lambda u, v: u @ v))
    print("  cosine:", rank(query_word, cosine))

# %% [markdown]
# The query "cat" finds the animals first under both scores, but under the dot product
# "dog" (1.15) edges out "cat" itself (1.09): dog's vector is a little longer. The query
# "apple" shows the quirk at full size: **"feast" beats "apple" itself**, because feast's long
# vector reaches twice as far along the food direction. Under cosine every word is most
# similar to itself (score 1), though not always alone: for the query "king", queen ties with
# king itself (1.00 under cosine, 2.00 under the dot product), because the two words have
# identical vectors on our four features; the tie is listed in reverse alphabetical order.
# King and queen get identical scores from every query: when two vectors are equal, no score
# function can tell them apart, so the features decide what can be distinguished.
#
# Now every word against every word, as a heatmap. For the moment we fill the table with a
# double loop, one dot product per cell; section 5 replaces the loop with one matrix product.

# %%
dot_all = np.array([[u @ v for v in W] for u in W])           # (8, 8): row = query word, column = key word
cos_all = np.array([[cosine(u, v) for v in W] for u in W])    # (8, 8)
print("dot product of every pair (row = query word, column = key word):")
print(" " * 6 + "".join(f"{w:>7s}" for w in words))
for w, row in zip(words, dot_all):
    print(f"{w:6s}" + "".join(f"{value:7.2f}" for value in row))
print("\ndiagonal of the cosine table:", np.diag(cos_all))

fig, axes = plt.subplots(1, 2, figsize=(13, 5.5))
plot_attention(dot_all, words, words, ax=axes[0], title="dot product of every pair of words")
plot_attention(cos_all, words, words, ax=axes[1], title="cosine similarity of every pair of words")
plt.tight_layout()
plt.show()

# %% [markdown]
# **What to see.** Both tables are symmetric ($u\cdot v = v\cdot u$). The cosine table shows
# three clear blocks: animals, royalty and food, with a diagonal of all 1. In the dot table the
# diagonal holds each word's squared length, and the long "feast" takes over: its own cell
# (5.25) stretches the colour scale so far that the animal block (1.00 to 1.36) is hard to see;
# it scores 2.00 with apple, twice apple's own 1.00, and 1.50 with king and queen, although it
# shares only two of its three features with them. (The other 2.00 off the diagonal is king
# with queen, whose vectors are identical.) Under the dot product a long vector is loud towards
# everyone. In attention, queries and keys are *different* learned projections of the words
# (notebook 06), so the score table is no longer symmetric.

# %% [markdown]
# ## 5. All pairs at once: $QK^\top$ (core)
#
# Put $L$ queries in the rows of a matrix $Q$ of shape $(L, E)$, and $S$ keys in the rows of
# $K$ of shape $(S, E)$. The score of query $i$ with key $j$ is
#
# $$\text{scores}_{ij} = q_i\cdot k_j = \sum_{e} Q_{ie}K_{je} = \sum_e Q_{ie}\,(K^\top)_{ej} = (QK^\top)_{ij},$$
#
# which is the definition of the matrix product $QK^\top$. Row $i$ of the result holds query
# $i$'s scores for every key; the shapes are $(L, E) \times (E, S) \to (L, S)$.
#
# ### NumPy
# First the loops, straight from the definition, then one matrix product:

# %%
rng = np.random.default_rng(0)
L, S, E = 3, 5, 4
Q_rand = rng.normal(size=(L, E))  # (L, E): one random query per row
K_rand = rng.normal(size=(S, E))  # (S, E): one random key per row

scores_loop = np.zeros((L, S))
for i in range(L):
    for j in range(S):
        scores_loop[i, j] = sum(Q_rand[i, e] * K_rand[j, e] for e in range(E))  # one number per pair

scores_matmul = Q_rand @ K_rand.T                          # (L, E) @ (E, S) -> (L, S)
scores_einsum = np.einsum("le,se->ls", Q_rand, K_rand)     # the same sum, with the summed letter e named

print("scores shape:", scores_matmul.shape)
print(scores_matmul)
np.testing.assert_allclose(scores_matmul, scores_loop, rtol=1e-12, atol=1e-12)
np.testing.assert_allclose(scores_einsum, scores_loop, rtol=1e-12, atol=1e-12)
print("loops == Q @ K.T == einsum:", np.allclose(scores_loop, scores_matmul) and np.allclose(scores_loop, scores_einsum))

# %% [markdown]
# The einsum string `"le,se->ls"` reads as the formula: multiply along the shared letter `e`,
# sum it away, keep `l` and `s`. Besides being one line, the matrix product is many times
# faster here; the exact factor depends on the machine. It runs in compiled code that keeps
# the numbers in the CPU's caches, while the loop pays Python's overhead for every pair. The
# cell below runs each version once to warm up (the first call pays one-off costs), then
# keeps the best of five timings with `timeit`. Timings differ between machines, so this
# cell's output is not compared:

# %% tags=["nbval-ignore-output"]
Q_big = rng.normal(size=(128, 64))  # (L, E)
K_big = rng.normal(size=(128, 64))  # (S, E)


def pairs_loop():
    return np.array([[q_i @ k_j for k_j in K_big] for q_i in Q_big])  # 128 × 128 separate dot products


def one_matmul():
    return Q_big @ K_big.T  # (L, E) @ (E, S) -> (L, S)


scores_big_loop, scores_big_matmul = pairs_loop(), one_matmul()  # warm-up, and the results to compare
t_loop = min(timeit.repeat(pairs_loop, number=1, repeat=5))              # best of 5 runs
t_matmul = min(timeit.repeat(one_matmul, number=100, repeat=5)) / 100    # best of 5 runs of 100 calls

print(f"Python loop over pairs: {t_loop * 1e3:8.3f} ms")
print(f"one matrix product    : {t_matmul * 1e3:8.3f} ms   ({t_loop / t_matmul:.0f}x faster on this machine)")
print("same numbers:", np.allclose(scores_big_loop, scores_big_matmul))

# %% [markdown]
# ### Transposing a batch, and PyTorch
#
# With a batch axis in front, $K$ has shape $(B, S, E)$, and we want each sequence's $K$
# transposed to $(B, E, S)$, not the batch axis moved to the end. NumPy's `.T` reverses
# *all* axes of a 3-D array; `swapaxes(-2, -1)` swaps only the last two. PyTorch spells the
# same thing `transpose(-2, -1)`, or `.mT` for short; its `.T` on anything but a matrix is
# deprecated, so keep `.T` for 2-D arrays. In PyTorch the product itself is the same `@`.

# %%
K_batch_np = np.ones((2, 5, 4))  # (B, S, E) = (2, 5, 4)
print("NumPy  K.T                :", K_batch_np.T.shape, "<- all axes reversed, not (2, 4, 5)")
print("NumPy  K.swapaxes(-2, -1) :", K_batch_np.swapaxes(-2, -1).shape)
K_batch_t = torch.ones(2, 5, 4)  # (B, S, E)
print("torch  K.transpose(-2, -1):", tuple(K_batch_t.transpose(-2, -1).shape))
print("torch  K.mT               :", tuple(K_batch_t.mT.shape))
print()

Q_t = torch.from_numpy(Q_rand)  # the same numbers as above, as float64 tensors
K_t = torch.from_numpy(K_rand)
scores_t = Q_t @ K_t.transpose(-2, -1)  # (L, E) @ (E, S) -> (L, S)
torch.testing.assert_close(scores_t, torch.from_numpy(scores_loop))
print("torch Q @ K^T equals the NumPy loops:", torch.allclose(scores_t, torch.from_numpy(scores_loop)))

# %% [markdown]
# Attention works on a **batch** of $B$ sequences at once, each with its own queries and
# keys: $Q$ of shape $(B, L, E)$ and $K$ of shape $(B, S, E)$. The `@` operator treats every
# axis before the last two as a batch axis and multiplies the matrices pairwise. We check
# that against a loop over the batch, and against a key matrix shared by the whole batch,
# which broadcasts:

# %%
B = 2
Qb = torch.randn(B, L, E)  # (B, L, E)
Kb = torch.randn(B, S, E)  # (B, S, E)

scores_b = Qb @ Kb.transpose(-2, -1)  # (B, L, E) @ (B, E, S) -> (B, L, S)
scores_per_item = torch.stack([Qb[n] @ Kb[n].T for n in range(B)])  # B separate (L, E) @ (E, S) products
torch.testing.assert_close(scores_b, scores_per_item)
print("batched scores:", tuple(scores_b.shape), "equal to a loop over the batch:", torch.allclose(scores_b, scores_per_item))

K_shared = torch.randn(S, E)                    # (S, E): one set of keys for every sequence
scores_shared = Qb @ K_shared.transpose(-2, -1)  # (B, L, E) @ (E, S) -> (B, L, S), K broadcast over B
torch.testing.assert_close(scores_shared[1], Qb[1] @ K_shared.T)
print("shared keys:", tuple(scores_shared.shape))

# %% [markdown]
# ### Cosine scores for all pairs
#
# Cosine similarity is the dot product of unit vectors, so the all-pairs version normalises
# every row of $Q$ and of $K$ to length 1 and then takes the same product. The length is
# measured along the last axis (the $E$ features of each vector). PyTorch's
# `torch.nn.functional.cosine_similarity` compares vectors pair by pair, so as an independent
# reference we let it broadcast queries against keys:

# %%
def my_cosine(Q, K):
    """Cosine similarity of every query with every key: (..., L, E), (..., S, E) -> (..., L, S)."""
    Q_unit = Q / Q.norm(dim=-1, keepdim=True)  # (..., L, E): each query now has length 1
    K_unit = K / K.norm(dim=-1, keepdim=True)  # (..., S, E): each key now has length 1
    return Q_unit @ K_unit.transpose(-2, -1)   # (..., L, E) @ (..., E, S) -> (..., L, S)


cos_b = my_cosine(Qb, Kb)  # (B, L, S)
reference = torch.nn.functional.cosine_similarity(
    Qb[:, :, None, :], Kb[:, None, :, :], dim=-1)  # (B, L, 1, E) with (B, 1, S, E) -> (B, L, S)
torch.testing.assert_close(cos_b, reference)
print("cosine scores:", tuple(cos_b.shape), "| equal to F.cosine_similarity:", torch.allclose(cos_b, reference, atol=1e-6))
print("all within [-1, 1]:", bool((cos_b.abs() <= 1 + 1e-6).all()))
print(cos_b[0])

# %% [markdown]
# ## 6. The package: `dot_scores` and `cosine_scores` (core)
#
# From now on the course uses `attn_course.dot_scores(q, k)` and
# `attn_course.cosine_scores(q, k)`. They compute exactly what we derived, for NumPy arrays
# or torch tensors, with any leading batch axes (which broadcast), and they check their
# inputs. First, they equal our derivations:

# %%
# NumPy, one sequence (the random Q_rand, K_rand of section 5): (L, E), (S, E) -> (L, S)
np.testing.assert_allclose(dot_scores(Q_rand, K_rand), scores_loop, rtol=1e-12, atol=1e-12)
# torch, a batch: (B, L, E), (B, S, E) -> (B, L, S)
torch.testing.assert_close(dot_scores(Qb, Kb), scores_per_item)
torch.testing.assert_close(cosine_scores(Qb, Kb), reference)
# a batch of queries against one shared set of keys: (B, L, E), (S, E) -> (B, L, S)
torch.testing.assert_close(dot_scores(Qb, K_shared), scores_shared)
# NumPy batches work too
np.testing.assert_allclose(cosine_scores(Qb.numpy(), Kb.numpy()), reference.numpy(), rtol=1e-5, atol=1e-6)
# and the words of section 4
np.testing.assert_allclose(dot_scores(W, W), dot_all, rtol=1e-12, atol=1e-12)
np.testing.assert_allclose(cosine_scores(W, W), cos_all, rtol=1e-12, atol=1e-12)
# on whichever device this machine has (a GPU if there is one)
on_device = dot_scores(Qb.to(DEVICE), Kb.to(DEVICE)).cpu()
torch.testing.assert_close(on_device, scores_b)

print("dot_scores on a batch   :", tuple(dot_scores(Qb, Kb).shape))
print("cosine_scores on a batch:", tuple(cosine_scores(Qb, Kb).shape))
print("every assert above passed: the package computes what we derived")

# %% [markdown]
# Two things the package adds. A vector of zeros has no direction, so its cosine with
# anything is $0/0$: our `my_cosine` returns NaN, while `cosine_scores` bounds each length
# below by a tiny `eps` and returns 0. And a shape mistake gets an error that names the
# argument and both shapes, instead of a bare matmul error:

# %%
Q_with_zero = torch.tensor([[0.0, 0.0, 0.0], [1.0, 1.0, 0.0]])  # (L, E) = (2, 3); the first query is all zeros
K_small = torch.tensor([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 3.0], [1.0, 1.0, 1.0]])  # (S, E) = (4, 3)
print("my_cosine     :\n", my_cosine(Q_with_zero, K_small))
print("cosine_scores :\n", cosine_scores(Q_with_zero, K_small))

# %% tags=["raises-exception"]
dot_scores(torch.randn(3, 4), torch.randn(5, 6))  # E = 4 for the queries but 6 for the keys

# %% [markdown]
# ## Exercises
#
# How the exercises work (a stub to complete, a check cell that names common mistakes, `check.hint("name")`
# for one hint at a time, a hidden solution) is explained once, in [00 · Welcome](00_welcome.ipynb).
#
# ### Exercise 1: dot-product scores in NumPy
#
# Write `my_dot_scores(Q, K)` for NumPy arrays `Q` of shape `(..., L, E)` and `K` of shape
# `(..., S, E)`. It returns the scores of every query against every key, shape `(..., L, S)`,
# and must work with a leading batch axis.

# %% tags=["exercise"] keep_output=false
def my_dot_scores(Q, K):
    """Q: (..., L, E), K: (..., S, E) NumPy arrays -> scores (..., L, S)."""
    raise NotImplementedError("your code here")


# %% tags=["check"] keep_output=false
check.dot_scores(my_dot_scores)

# %% tags=["check"] keep_output=false
check.hint("dot_scores")

# %% tags=["solution"] jupyter={"source_hidden": true}
def my_dot_scores(Q, K):
    """Q: (..., L, E), K: (..., S, E) NumPy arrays -> scores (..., L, S)."""
    return Q @ K.swapaxes(-2, -1)  # (..., L, E) @ (..., E, S) -> (..., L, S)


# %% tags=["solution"]
# record=False: the course's own solution does not count in your progress (see attn_course.progress()).
check.dot_scores(my_dot_scores, record=False)

# %% [markdown]
# ### Exercise 2: cosine scores in PyTorch
#
# Write `my_cosine_scores(Q, K)` for torch tensors `Q` of shape `(..., L, E)` and `K` of shape
# `(..., S, E)`: the cosine similarity of every query with every key, shape `(..., L, S)`.
# (You may assume no vector is all zeros.)

# %% tags=["exercise"] keep_output=false
def my_cosine_scores(Q, K):
    """Q: (..., L, E), K: (..., S, E) torch tensors -> cosine similarities (..., L, S)."""
    raise NotImplementedError("your code here")


# %% tags=["check"] keep_output=false
check.cosine_scores(my_cosine_scores)

# %% tags=["solution"] jupyter={"source_hidden": true}
def my_cosine_scores(Q, K):
    """Q: (..., L, E), K: (..., S, E) torch tensors -> cosine similarities (..., L, S)."""
    Q_unit = Q / Q.norm(dim=-1, keepdim=True)  # (..., L, E), every row of length 1
    K_unit = K / K.norm(dim=-1, keepdim=True)  # (..., S, E)
    return Q_unit @ K_unit.transpose(-2, -1)   # (..., L, E) @ (..., E, S) -> (..., L, S)


# %% tags=["solution"]
# record=False: the course's own solution does not count in your progress (see attn_course.progress()).
check.cosine_scores(my_cosine_scores, record=False)

# %% [markdown]
# ## Summary
#
# You can now
# - compute a dot product as a sum of feature-by-feature products and read it as
#   $\lVert q\rVert\,\lVert k\rVert\cos\theta$: agreement in direction, scaled by both lengths;
# - say when the dot product and cosine disagree (a long key at a worse angle wins under the
#   dot product) and which to use: dot when length is a learned signal, as in attention;
#   cosine when length is an accident of the data;
# - score $L$ queries against $S$ keys with one product, $QK^\top$ of shape $(L, S)$, batched
#   as `Q @ K.transpose(-2, -1)` in PyTorch (`Q @ K.swapaxes(-2, -1)` in NumPy) with shapes
#   $(B, L, E)\times(B, E, S)\to(B, L, S)$;
# - use `attn_course.dot_scores` and `attn_course.cosine_scores` on NumPy arrays and torch
#   tensors.
#
# Next, notebook 02 turns each row of scores into weights that are positive and sum to 1:
# softmax.
#
# ## Common pitfalls
#
# - **$KQ^\top$ instead of $QK^\top$.** Both have the same numbers, transposed. Attention needs
#   one *row per query* (softmax runs along the rows), so the shape must be $(L, S)$. When
#   $L = S$ the shapes cannot warn you.
# - **`.T` on a batch.** NumPy's `.T` reverses all axes, turning $(B, S, E)$ into $(E, S, B)$,
#   and PyTorch deprecates `.T` on tensors that are not matrices. Transpose only the last two:
#   `swapaxes(-2, -1)` in NumPy; `transpose(-2, -1)` or `.mT` in PyTorch.
# - **Normalising along the wrong axis.** For cosine scores each vector's length is taken
#   over its $E$ features: `dim=-1`, `keepdim=True` so that the division broadcasts.
# - **Zero vectors.** Cosine with a zero vector is $0/0$ = NaN unless the length is bounded
#   below, as `cosine_scores` does.
# - **Reading raw dot scores across queries.** Dot scores of a long query are larger than
#   those of a short one; only the comparison *within* a query's row is meaningful, and that
#   is all softmax uses.
#
# ## Further reading
#
# - 3Blue1Brown, [*Dot products and duality*](https://www.youtube.com/watch?v=LyGKycYT2v0),
#   Essence of Linear Algebra, chapter 9: the projection picture, animated.
# - Luong, Pham, Manning (2015), [*Effective Approaches to Attention-based Neural Machine
#   Translation*](https://arxiv.org/abs/1508.04025): the dot, "general" and concat score
#   functions side by side.
# - Vaswani et al. (2017), [*Attention Is All You Need*](https://arxiv.org/abs/1706.03762),
#   section 3.2.1: why dot-product scores, and why they are divided by $\sqrt{d_k}$ (their $d_k$ is
#   the width of queries and keys, $D$ in this course).
# - Mikolov et al. (2013), [*Efficient Estimation of Word Representations in Vector
#   Space*](https://arxiv.org/abs/1301.3781): learned word vectors compared by cosine.
# - Schakel, Wilson (2015), [*Measuring Word Significance using Distributed Representations
#   of Words*](https://arxiv.org/abs/1508.02297): the length of a word vector varies with the
#   word's frequency and significance, one reason to compare words by cosine.
# - Radford et al. (2021), [*Learning Transferable Visual Models From Natural Language
#   Supervision*](https://arxiv.org/abs/2103.00020) (CLIP): cosine scores with a learned
#   temperature.
# - Liu et al. (2022), [*Swin Transformer V2*](https://arxiv.org/abs/2111.09883): cosine
#   attention to keep scores bounded in large models.
# - The matrix product with batch axes: [`numpy.matmul`](https://numpy.org/doc/stable/reference/generated/numpy.matmul.html),
#   [`torch.matmul`](https://pytorch.org/docs/stable/generated/torch.matmul.html),
#   [`numpy.einsum`](https://numpy.org/doc/stable/reference/generated/numpy.einsum.html).
