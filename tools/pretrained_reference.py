"""Compute the reference outputs that notebook 13 compares the course's rebuilt models with.

The references are the libraries the models were published for, reading the very same files:
sentence-transformers for all-MiniLM-L6-v2 and transformers' ``LlamaForCausalLM`` (loaded from the same GGUF
file, dequantized the same way) for SmolLM2-135M-Instruct. Neither is something a learner installs, so their
outputs on a few inputs are stored in ``attn_course/pretrained_reference.json``, which the notebook reads;
``tests/integration/test_pretrained_reference.py`` recomputes them with both libraries on every run, so the file cannot go stale.

Run: ``pip install -e ".[test]" && python tools/pretrained_reference.py`` (about half a minute, offline).
"""

from __future__ import annotations

import json
import os
import sys
from importlib.metadata import version
from pathlib import Path

import torch

from attn_course.pretrained import MINILM, SMOLLM2, model_file

OUT = Path(__file__).resolve().parent.parent / "attn_course" / "pretrained_reference.json"
MINILM_TEXTS = ["A man is eating food.", "A man is eating a piece of bread.", "The girl is carrying a baby.",
                "Attention is all you need.", "Héllo wörld: 2026 ☃"]
SMOLLM2_PROMPTS = ["The capital of France is", "def fibonacci(n):\n   ",
                   "Once upon a time, in a small village by the sea, there lived"]
TOP, NEW_TOKENS = 10, 20  # logits kept per position; greedy tokens generated per prompt


def sentence_transformer():
    """sentence-transformers' model from the package's folder (found, not imported), on the CPU, offline."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(model_file(MINILM, "model/model.safetensors").parent), device="cpu")


def llama_for_causal_lm():
    """transformers' LlamaForCausalLM from the same GGUF file, in float32, offline."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import transformers
    from transformers import AutoModelForCausalLM

    transformers.logging.set_verbosity_error()
    path = model_file(SMOLLM2, "SmolLM2-135M-Instruct.Q4_1.gguf")
    return AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name, dtype=torch.float32).eval()


@torch.no_grad()
def reference_outputs(st_model, hf_model, tokenizer) -> dict:
    """The stored file's content: embeddings, top logits at every position and greedy continuations."""
    embeddings = st_model.encode(MINILM_TEXTS, convert_to_tensor=True).cpu()
    prompts = []
    for text in SMOLLM2_PROMPTS:
        ids = torch.tensor([tokenizer.encode(text)])
        top = hf_model(ids).logits[0].topk(TOP, dim=-1)  # (T, TOP)
        greedy = hf_model.generate(ids, max_new_tokens=NEW_TOKENS, do_sample=False)  # stops after <|im_end|>, if any
        prompts.append({"text": text, "ids": ids[0].tolist(), "top_ids": top.indices.tolist(),
                        "top_logits": top.values.tolist(), "greedy": greedy[0, ids.size(1):].tolist()})
    return {
        "made_by": "tools/pretrained_reference.py",
        "libraries": {name: version(name) for name in ("sentence-transformers", "transformers", "torch")},
        "minilm": {"texts": MINILM_TEXTS, "embeddings": embeddings.tolist()},
        "smollm2": {"prompts": prompts},
    }


def main() -> None:
    torch.set_num_threads(1)
    from attn_course.pretrained import load_smollm2

    tokenizer = load_smollm2().tokenizer  # ids only; the reference model reads ids, so tokenizers cannot differ
    outputs = reference_outputs(sentence_transformer(), llama_for_causal_lm(), tokenizer)
    OUT.write_text(json.dumps(outputs, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {OUT.relative_to(Path.cwd()) if OUT.is_relative_to(Path.cwd()) else OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
