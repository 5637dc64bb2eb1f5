"""The flat MLP of makemore part 5: the whole context goes through one Linear layer.

Embedding -> concatenate all ``block_size`` positions -> Linear (no bias) -> BatchNorm -> tanh
-> Linear. Written as a :class:`~models.levelled.LevelledModel` with a single level that fuses
the whole context into one group.
"""

from __future__ import annotations

from models.levelled import LevelledModel


class FlatMLP(LevelledModel):
    """Flat MLP: one level fusing all ``block_size`` positions into one group."""

    kind = "mlp"

    def __init__(self, vocab_size: int, block_size: int, n_embd: int, n_hidden: int):
        super().__init__(vocab_size, block_size, n_embd, n_hidden, fuses=[block_size])
