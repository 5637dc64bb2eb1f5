"""Model definitions: the flat MLP and the WaveNet, plus named presets from the lecture.

>>> model = build_preset("wavenet-76k", vocab_size=27)
>>> model.n_params()
76579
"""

from __future__ import annotations

from interp.errors import ConfigError
from models.levelled import Level, LevelInfo, LevelledModel
from models.mlp import FlatMLP
from models.wavenet import WaveNet

MODEL_KINDS: dict[str, type[LevelledModel]] = {"mlp": FlatMLP, "wavenet": WaveNet}

#: name -> (kind, n_embd, n_hidden). Parameter counts at vocab 27, block size 8.
PRESETS: dict[str, tuple[str, int, int]] = {
    "mlp-22k": ("mlp", 10, 200),  # 22,097 (lecture)
    "wavenet-22k": ("wavenet", 10, 68),  # 22,397 (lecture)
    "wavenet-76k": ("wavenet", 24, 128),  # 76,579 (lecture)
    "mlp-76k": ("mlp", 24, 343),  # 76,478: flat, same embedding, within 0.2% of wavenet-76k
}

#: (flat, hierarchical) presets with matched parameter counts, for flat-vs-WaveNet comparisons.
PAIRS: tuple[tuple[str, str], ...] = (("mlp-22k", "wavenet-22k"), ("mlp-76k", "wavenet-76k"))


def build(kind: str, vocab_size: int, block_size: int, n_embd: int, n_hidden: int) -> LevelledModel:
    """Build a model of ``kind`` ('mlp' or 'wavenet')."""
    if kind not in MODEL_KINDS:
        raise ConfigError(f"unknown model kind {kind!r}; choose one of {sorted(MODEL_KINDS)}")
    return MODEL_KINDS[kind](vocab_size, block_size, n_embd, n_hidden)


def build_preset(name: str, vocab_size: int = 27, block_size: int = 8) -> LevelledModel:
    """Build a named preset (see :data:`PRESETS`)."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    kind, n_embd, n_hidden = PRESETS[name]
    return build(kind, vocab_size, block_size, n_embd, n_hidden)


__all__ = [
    "MODEL_KINDS",
    "PRESETS",
    "FlatMLP",
    "Level",
    "LevelInfo",
    "LevelledModel",
    "WaveNet",
    "build",
    "build_preset",
]
