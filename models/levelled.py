"""The shape both models share: embed, then levels of [fuse groups -> Linear -> BatchNorm -> tanh].

A *level* cuts its input sequence into consecutive groups of ``fuse`` items, concatenates each
group (the lecture's ``FlattenConsecutive``), and applies one Linear (no bias), BatchNorm and tanh
to every group with the same weights. The flat MLP is one level that fuses the whole context; the
WaveNet is ``log2(block_size)`` levels that each fuse pairs. Analyses only use this description,
so they work on either model.

Shapes: ``idx`` (batch, positions) -> embeddings (batch, positions, d_embd) -> each level
(batch, groups, d_hidden) -> logits (batch, vocab).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from einops import rearrange
from torch import nn

from interp.errors import ConfigError

#: ``tap(name, activation) -> activation``: called at each hook point when instrumented.
Tap = Callable[[str, torch.Tensor], torch.Tensor]

HOOK_SUFFIXES = ("hook_in", "hook_pre", "hook_norm", "hook_post")


class _SigmoidTanh(torch.autograd.Function):
    """tanh(x) computed as 2 sigmoid(2x) - 1, with tanh's own derivative, 1 - tanh(x)^2.

    Any shape, float32. The same function to within 2e-7 (float32 rounding; relative error
    grows for |x| < 0.01, where float32 rounding of 2 sigmoid(2x) - 1 dominates), and on CPU
    faster: torch's CPU ``tanh`` kernel runs about 10x slower than its ``sigmoid``. Works under
    ``torch.func`` transforms (vmap, jacrev, jvp) and double backward.
    """

    generate_vmap_rule = True

    @staticmethod
    def forward(x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(x * 2).mul_(2).sub_(1)

    @staticmethod
    def setup_context(ctx, inputs: tuple[torch.Tensor], output: torch.Tensor) -> None:
        ctx.save_for_backward(output)
        ctx.save_for_forward(output)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (y,) = ctx.saved_tensors
        return torch.ops.aten.tanh_backward(grad, y)

    @staticmethod
    def jvp(ctx, tangent: torch.Tensor) -> torch.Tensor:
        (y,) = ctx.saved_tensors
        return torch.ops.aten.tanh_backward(tangent, y)


#: Below this many elements the Python-level autograd Function costs more than it saves.
SIGMOID_TANH_MIN = 65_536


def tanh(x: torch.Tensor) -> torch.Tensor:
    """Elementwise tanh of ``x`` (any shape): through :class:`_SigmoidTanh` for float32 CPU
    tensors of at least :data:`SIGMOID_TANH_MIN` elements (a batch-1024 training step runs
    about 5% faster), ``torch.tanh`` otherwise (for small tensors, where the Python-level
    Function would cost more than it saves, and for other dtypes and devices, which keep
    torch's own rounding)."""
    if x.device.type == "cpu" and x.dtype == torch.float32 and x.numel() >= SIGMOID_TANH_MIN:
        return _SigmoidTanh.apply(x)
    return torch.tanh(x)


@dataclass(frozen=True)
class LevelInfo:
    """What one level sees: ``groups[g]`` is the (start, stop) range of input positions."""

    index: int
    fuse: int
    fan_in: int
    d_hidden: int
    groups: tuple[tuple[int, int], ...]

    @property
    def n_groups(self) -> int:
        return len(self.groups)

    @property
    def receptive_field(self) -> int:
        start, stop = self.groups[0]
        return stop - start


class Level(nn.Module):
    """Fuse ``fuse`` consecutive items, then Linear (no bias) -> BatchNorm -> tanh per group.

    BatchNorm statistics are taken over the batch *and* group axes (the lecture's fixed version).
    Input (batch, items, d_in); output (batch, items // fuse, d_hidden).
    """

    def __init__(self, index: int, fuse: int, d_in: int, d_hidden: int, momentum: float = 0.1):
        super().__init__()
        self.fuse = fuse
        self.linear = nn.Linear(d_in * fuse, d_hidden, bias=False)
        self.norm = nn.BatchNorm1d(d_hidden, momentum=momentum)
        self.hook_names = tuple(f"levels.{index}.{s}" for s in HOOK_SUFFIXES)

    def forward(self, x: torch.Tensor, tap: Tap | None = None) -> torch.Tensor:
        n_in, n_pre, n_norm, n_post = self.hook_names
        x = rearrange(x, "b (g k) d -> b g (k d)", k=self.fuse)
        if tap is not None:
            x = tap(n_in, x)
        x = self.linear(x)
        if tap is not None:
            x = tap(n_pre, x)
        groups = x.shape[1]
        x = self.norm(rearrange(x, "b g h -> (b g) h"))
        x = rearrange(x, "(b g) h -> b g h", g=groups)
        if tap is not None:
            x = tap(n_norm, x)
        x = tanh(x)
        if tap is not None:
            x = tap(n_post, x)
        return x


class LevelledModel(nn.Module):
    """Embedding -> levels -> Linear head. Subclasses choose the fuse factor of each level.

    ``forward(idx)`` takes (batch, block_size) int64 and returns logits (batch, vocab_size).
    """

    kind: str = "levelled"

    def __init__(
        self,
        vocab_size: int,
        block_size: int,
        n_embd: int,
        n_hidden: int,
        fuses: list[int],
    ):
        super().__init__()
        if math.prod(fuses) != block_size:
            raise ConfigError(f"fuse factors {fuses} do not multiply to block size {block_size}")
        self.vocab_size, self.block_size = vocab_size, block_size
        self.n_embd, self.n_hidden = n_embd, n_hidden
        self.embed = nn.Embedding(vocab_size, n_embd)
        d_ins = [n_embd] + [n_hidden] * (len(fuses) - 1)
        self.levels = nn.ModuleList(
            Level(i, f, d, n_hidden) for i, (f, d) in enumerate(zip(fuses, d_ins, strict=True))
        )
        self.head = nn.Linear(n_hidden, vocab_size)
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """The lecture's initialisation: N(0, 1) embeddings, W ~ N(0, 1/fan_in), head x 0.1."""
        nn.init.normal_(self.embed.weight)
        for level in self.levels:
            w = level.linear.weight
            w.normal_().div_(w.shape[1] ** 0.5)
            level.norm.reset_parameters()
        self.head.weight.normal_().div_(self.n_hidden**0.5).mul_(0.1)
        self.head.bias.zero_()

    def config(self) -> dict:
        """Constructor arguments, enough to rebuild the model with :func:`models.build`."""
        return {
            "kind": self.kind,
            "vocab_size": self.vocab_size,
            "block_size": self.block_size,
            "n_embd": self.n_embd,
            "n_hidden": self.n_hidden,
        }

    def structure(self) -> list[LevelInfo]:
        """Each level's fuse factor, sizes and the input positions each of its groups covers."""
        infos, span = [], 1
        for i, level in enumerate(self.levels):
            span *= level.fuse
            groups = tuple((s, s + span) for s in range(0, self.block_size, span))
            infos.append(LevelInfo(i, level.fuse, level.linear.in_features, self.n_hidden, groups))
        return infos

    def forward(self, idx: torch.Tensor, tap: Tap | None = None) -> torch.Tensor:
        x = self.embed(idx)  # (batch, positions, d_embd)
        if tap is not None:
            x = tap("hook_embed", x)
        for level in self.levels:
            x = level(x, tap)  # (batch, groups, d_hidden)
        logits = self.head(rearrange(x, "b 1 h -> b h"))
        if tap is not None:
            logits = tap("hook_logits", logits)
        return logits

    def n_params(self) -> int:
        return sum(p.numel() for p in self.parameters())
