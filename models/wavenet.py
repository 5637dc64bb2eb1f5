"""The WaveNet of makemore part 5: fuse neighbours, then pairs of pairs, hierarchically.

Embedding -> ``log2(block_size)`` levels of [fuse consecutive pairs -> Linear (no bias) ->
BatchNorm -> tanh] -> Linear. Every level applies the same weights to each pair: a dilated
convolution with kernel size 2 and stride 2.
"""

from __future__ import annotations

from interp.errors import ConfigError
from models.levelled import LevelledModel


class WaveNet(LevelledModel):
    """Hierarchical model: ``log2(block_size)`` levels, each fusing consecutive pairs."""

    kind = "wavenet"

    def __init__(self, vocab_size: int, block_size: int, n_embd: int, n_hidden: int):
        if block_size < 2 or block_size & (block_size - 1):
            raise ConfigError(
                f"WaveNet needs a block size that is a power of two >= 2 (2, 4, 8, 16, ...), "
                f"got {block_size}; choose --block-size 8 or use an MLP preset"
            )
        n_levels = block_size.bit_length() - 1
        super().__init__(vocab_size, block_size, n_embd, n_hidden, fuses=[2] * n_levels)
