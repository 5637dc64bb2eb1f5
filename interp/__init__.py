"""interp: does a flat Linear layer "squash" a character context that a WaveNet keeps apart?

Core toolkit: corpora (:mod:`interp.data`), the hooks wrapper (:mod:`interp.hooks`), activation
recording (:mod:`interp.recording`), training (:mod:`interp.training`), run directories
(:mod:`interp.checkpoint`) and the ``interp`` command line (:mod:`interp.cli`).
"""

from interp.checkpoint import Run, load_run
from interp.data import Corpus, Dataset, Vocab, load_corpus, make_dataset, read_corpus
from interp.errors import InterpError
from interp.hooks import HookedModel, HookPoint
from interp.recording import ActivationCache, record

__version__ = "0.1.0"

__all__ = [
    "ActivationCache",
    "Corpus",
    "Dataset",
    "HookPoint",
    "HookedModel",
    "InterpError",
    "Run",
    "Vocab",
    "load_corpus",
    "load_run",
    "make_dataset",
    "read_corpus",
    "record",
]
