"""Linear probes: how well can a label be read linearly from a set of activations?

Standardise, then multinomial logistic regression (scikit-learn), trained on one part of the
examples and scored on the rest; always reported next to the majority-class baseline.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

#: Inverse regularisation strength (scikit-learn's default), fixed so results are comparable.
DEFAULT_C = 1.0


def _quiet_fit(model, x: np.ndarray, y: np.ndarray) -> None:
    """Fit without scikit-learn's per-fit warnings (an iteration cap reached on a few of
    hundreds of fits, rare classes in small online-code blocks): at this scale they would bury
    the output, and the held-out score already says how good each fit is."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", UserWarning)
        model.fit(x, y)


@dataclass
class ProbeResult:
    accuracy: float
    macro_f1: float
    majority: float  # accuracy of always predicting the most frequent training label
    n_train: int
    n_test: int

    def to_dict(self) -> dict[str, float | int]:
        return self.__dict__.copy()


def probe(
    features: np.ndarray,
    labels: np.ndarray,
    train_fraction: float = 0.7,
    seed: int = 0,
    C: float = DEFAULT_C,
    max_iter: int = 200,
) -> ProbeResult:
    """Fit a probe on a random ``train_fraction`` of (examples, d) ``features`` and score it on
    the rest. Labels seen only in the test part count as errors."""
    features = np.asarray(features, dtype=np.float32).reshape(len(labels), -1)
    labels = np.asarray(labels)
    order = np.random.default_rng(seed).permutation(len(labels))
    n_train = int(train_fraction * len(labels))
    train, test = order[:n_train], order[n_train:]
    values, counts = np.unique(labels[train], return_counts=True)
    majority = float(np.mean(labels[test] == values[np.argmax(counts)]))
    if len(values) < 2:  # nothing to learn: every training example has the same label
        return ProbeResult(majority, 0.0, majority, n_train, len(test))
    model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=max_iter))
    _quiet_fit(model, features[train], labels[train])
    predicted = model.predict(features[test])
    return ProbeResult(
        accuracy=float(accuracy_score(labels[test], predicted)),
        macro_f1=float(f1_score(labels[test], predicted, average="macro", zero_division=0)),
        majority=majority,
        n_train=n_train,
        n_test=len(test),
    )


#: Voita & Titov's block boundaries, as fractions of the training portion.
MDL_FRACTIONS = (0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.0625, 0.125, 0.25, 0.5, 1.0)


@dataclass
class OnlineCode:
    """Minimum description length of the labels given the features (online code, in bits),
    beside two references: the uniform code, and the *prior* code that learns only how often
    each label occurs (online, from the same blocks) and ignores the features."""

    uniform_bits: float
    online_bits: float
    prior_bits: float

    @property
    def compression(self) -> float:
        """Uniform codelength / online codelength (Voita & Titov's figure). A probe that learns
        only the label frequencies already reaches ``uniform_bits / prior_bits``."""
        return self.uniform_bits / self.online_bits if self.online_bits > 0 else 1.0

    @property
    def gain_over_prior(self) -> float:
        """Prior codelength / online codelength: 1 when the features add nothing to the label
        frequencies."""
        return self.prior_bits / self.online_bits if self.online_bits > 0 else 1.0

    def to_dict(self) -> dict[str, float]:
        return {
            "uniform_bits": self.uniform_bits,
            "online_bits": self.online_bits,
            "prior_bits": self.prior_bits,
            "compression": self.compression,
            "gain_over_prior": self.gain_over_prior,
        }


def online_codelength(
    features: np.ndarray,
    labels: np.ndarray,
    seed: int = 0,
    C: float = DEFAULT_C,
    fractions: tuple[float, ...] = MDL_FRACTIONS,
    max_iter: int = 200,
) -> OnlineCode:
    """Voita & Titov (2020) online code: the first block is sent with a uniform code over the
    classes, each later block with a probe trained on all blocks before it. A class the probe
    has not seen yet gets a small share of probability (1e-3 mixed with uniform). The prior code
    sends each block with the previous blocks' label frequencies (add-one smoothing)."""
    features = np.asarray(features, dtype=np.float32).reshape(len(labels), -1)
    labels = np.asarray(labels)
    order = np.random.default_rng(seed).permutation(len(labels))
    x, y = features[order], labels[order]
    classes = np.unique(y)
    k = len(classes)
    index = np.searchsorted(classes, y)
    bounds = sorted({max(1, int(f * len(y))) for f in fractions})
    uniform = len(y) * np.log2(k) if k > 1 else 0.0
    bits = prior = bounds[0] * np.log2(k) if k > 1 else 0.0
    eps = 1e-3
    for start, stop in zip(bounds[:-1], bounds[1:], strict=True):
        seen = np.unique(y[:start])
        rows = np.arange(stop - start)
        truth = index[start:stop]
        counts = np.bincount(index[:start], minlength=k) + 1.0
        prior += float(-np.log2(counts[truth] / counts.sum()).sum())
        probs = np.full((stop - start, k), 1.0 / k)
        if len(seen) > 1:
            model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=max_iter))
            _quiet_fit(model, x[:start], y[:start])
            learned = np.zeros((stop - start, k))
            learned[:, np.searchsorted(classes, model.classes_)] = model.predict_proba(
                x[start:stop]
            )
            probs = (1 - eps) * learned + eps / k
        elif len(seen) == 1:
            learned = np.zeros((stop - start, k))
            learned[:, np.searchsorted(classes, seen[0])] = 1.0
            probs = (1 - eps) * learned + eps / k
        bits += float(-np.log2(probs[rows, truth]).sum())
    return OnlineCode(float(uniform), float(bits), float(prior))
