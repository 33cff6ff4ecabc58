"""Cross-attention: one sequence asks, another answers; and images cut into patch tokens (notebook 09).

Self-attention takes queries, keys and values from the same sequence. Cross-attention takes the
queries from one (the decoder's text, a question) and the keys and values from another (the
encoder's source sentence, an image's patches), so ``L`` and ``S`` differ and the source may be
padded. It is the multi-head attention of notebook 07 called with two inputs, not a new mechanism.
"""

from __future__ import annotations

import torch
from torch import nn

from .multihead import MultiHeadAttention
from .runtime import check_shape, require_int, require_same_dtype, require_tensor

__all__ = ["CrossAttention", "PatchEmbedding", "patchify", "unpatchify"]


class CrossAttention(nn.Module):
    """Multi-head attention from ``x`` (queries) to ``context`` (keys and values), batch-first (notebook 09).

    Args:
        embed_dim: ``E``, the width of ``x`` and of the output.
        num_heads: ``H``; each head is ``D = E / H`` wide.
        context_dim: the width of ``context`` (default ``E``): an image encoder and a text decoder
            need not agree on a width, the key and value projections translate.
        bias, dropout, use_sdpa: as in :class:`attn_course.multihead.MultiHeadAttention`.

    ``forward(x (B, L, E), context (B, S, context_dim), context_mask=None, need_weights=False,
    average_attn_weights=True)`` returns ``(output (B, L, E), weights)``: weights ``(B, L, S)``
    averaged over heads, ``(B, H, L, S)`` per head, or None. ``context_mask (B, S)`` is boolean,
    True at real source tokens and False at padding, which then gets exactly zero weight.
    """

    def __init__(self, embed_dim: int, num_heads: int, context_dim: int | None = None, *, bias: bool = True,
                 dropout: float = 0.0, use_sdpa: bool = False) -> None:
        super().__init__()
        require_int("embed_dim", embed_dim, 1)
        require_int("num_heads", num_heads, 1)
        if context_dim is not None:
            require_int("context_dim", context_dim, 1)
        self.attn = MultiHeadAttention(embed_dim, num_heads, bias=bias, kdim=context_dim, vdim=context_dim,
                                       dropout=dropout, use_sdpa=use_sdpa)

    def forward(self, x: torch.Tensor, context: torch.Tensor, context_mask: torch.Tensor | None = None,
                need_weights: bool = False, average_attn_weights: bool = True
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        dtype = self.attn.q_proj.weight.dtype
        for name, t in (("x", x), ("context", context)):
            require_tensor(name, t, floating=True)
        B = check_shape(x, "B L E", name="x", E=self.attn.embed_dim)["B"]
        S = check_shape(context, "B S C", name="context", B=B, C=self.attn.k_proj.in_features)["S"]
        for name, t in (("x", x), ("context", context)):
            require_same_dtype(name, t, dtype, "the module's", autocast_ok=True)
        mask = None
        if context_mask is not None:
            if require_tensor("context_mask", context_mask).dtype != torch.bool:
                raise TypeError(f"context_mask: expected torch.bool (True = real token, False = padding), "
                                f"got {context_mask.dtype}")
            check_shape(context_mask, "B S", name="context_mask", B=B, S=S)
            mask = context_mask[:, None, :]  # (B, S) -> (B, 1, S): every query sees the same source tokens
        return self.attn(x, context, context, attn_mask=mask, need_weights=need_weights,
                         average_attn_weights=average_attn_weights)


def patchify(images: torch.Tensor, patch_size: int) -> torch.Tensor:
    """Cut images ``(B, C, H, W)`` into ``S = (H/p)·(W/p)`` patches, row by row: ``(B, S, p·p·C)``.

    Patch ``s`` is at row ``s // (W/p)`` and column ``s % (W/p)``. Introduced in notebook 09.
    """
    B, C, Hi, Wi = check_shape(require_tensor("images", images), "B C H W", name="images").values()
    if require_int("patch_size", patch_size, 1) and (Hi % patch_size or Wi % patch_size):
        raise ValueError(f"patch_size: expected a divisor of the image size {(Hi, Wi)}, got {patch_size}")
    p = patch_size
    x = images.reshape(B, C, Hi // p, p, Wi // p, p)  # (B, C, rows, p, cols, p)
    x = x.permute(0, 2, 4, 3, 5, 1)  # (B, rows, cols, p, p, C)
    return x.reshape(B, (Hi // p) * (Wi // p), p * p * C)  # (B, S, p·p·C)


def unpatchify(patches: torch.Tensor, patch_size: int, image_size: tuple[int, int], channels: int) -> torch.Tensor:
    """The inverse of :func:`patchify`: ``(B, S, p·p·C)`` back to ``(B, C, H, W)``."""
    p, channels = require_int("patch_size", patch_size, 1), require_int("channels", channels, 1)
    if not isinstance(image_size, (tuple, list)) or len(image_size) != 2:
        raise TypeError(f"image_size: expected a pair (H, W), got {image_size!r}")
    Hi, Wi = (require_int("image_size", n, 1) for n in image_size)
    if Hi % p or Wi % p:
        raise ValueError(f"patch_size: expected a divisor of image_size {(Hi, Wi)}, got {p}")
    require_tensor("patches", patches)
    B = check_shape(patches, "B S P", name="patches", S=(Hi // p) * (Wi // p), P=p * p * channels)["B"]
    x = patches.reshape(B, Hi // p, Wi // p, p, p, channels)  # (B, rows, cols, p, p, C)
    return x.permute(0, 5, 1, 3, 2, 4).reshape(B, channels, Hi, Wi)


class PatchEmbedding(nn.Module):
    """Images to a sequence of patch tokens: cut into patches, project each to ``E``, add its position.

    Args:
        image_size: the side of the square images.
        patch_size: the side of a patch; ``S = (image_size / patch_size)²`` tokens per image.
        channels: colour channels ``C``.
        embed_dim: ``E``.
        hidden_dim: None projects each patch with one linear layer (as ViT); a width makes the
            projection a two-layer MLP, which sees edges and corners inside a patch.

    ``forward(images (B, C, H, W))`` returns ``(B, S, E)``. The positions are learned, one vector
    per patch: without them attention could tell what is in the image but not where.
    Introduced in notebook 09.
    """

    def __init__(self, image_size: int, patch_size: int, channels: int, embed_dim: int,
                 hidden_dim: int | None = None) -> None:
        super().__init__()
        for name, n in (("image_size", image_size), ("patch_size", patch_size), ("channels", channels),
                        ("embed_dim", embed_dim)):
            require_int(name, n, 1)
        if hidden_dim is not None:
            require_int("hidden_dim", hidden_dim, 1)
        if image_size % patch_size:
            raise ValueError(f"patch_size: expected a divisor of image_size {image_size}, got {patch_size}")
        self.image_size, self.patch_size, self.channels = image_size, patch_size, channels
        self.num_patches = (image_size // patch_size) ** 2
        width = patch_size * patch_size * channels  # p·p·C numbers per patch
        self.proj = nn.Linear(width, embed_dim) if hidden_dim is None else nn.Sequential(
            nn.Linear(width, hidden_dim), nn.GELU(), nn.Linear(hidden_dim, embed_dim))
        self.position = nn.Parameter(torch.randn(self.num_patches, embed_dim))  # as large as the content at the start

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        check_shape(require_tensor("images", images, floating=True), "B C H W", name="images", C=self.channels,
                    H=self.image_size, W=self.image_size)
        require_same_dtype("images", images, self.position.dtype, "the module's", autocast_ok=True)
        return self.proj(patchify(images, self.patch_size)) + self.position  # (B, S, E) + (S, E)
