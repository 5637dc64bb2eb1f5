"""One exception family for every problem a user can fix.

The CLI prints these as a single line (no traceback) and exits with status 2. Each message names
what is wrong (the file, the line), and how to fix it.
"""

from __future__ import annotations


class InterpError(Exception):
    """Base class: a problem with the user's input, files or arguments."""


class CorpusError(InterpError):
    """A corpus file is missing, unreadable or has a bad line."""


class CheckpointError(InterpError):
    """A run directory or checkpoint file is missing, truncated or inconsistent."""


class HookNameError(InterpError, KeyError):
    """A hook name or filter matches no hook point."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ConfigError(InterpError):
    """An invalid model or training configuration."""


class TrainingDiverged(InterpError):
    """The loss became NaN or infinite during training."""


class TrainingInterrupted(InterpError):
    """Ctrl-C during training: the step was finished and checkpointed first."""
