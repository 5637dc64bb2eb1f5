"""Linear probes: how well can a label be read linearly from a set of activations?

Standardise, then multinomial logistic regression (scikit-learn), trained on one part of the
examples and scored on the rest; always reported next to the majority-class baseline.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

#: Inverse regularisation strength (scikit-learn's default), fixed so results are comparable.
DEFAULT_C = 1.0


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
    model.fit(features[train], labels[train])
    predicted = model.predict(features[test])
    return ProbeResult(
        accuracy=float(accuracy_score(labels[test], predicted)),
        macro_f1=float(f1_score(labels[test], predicted, average="macro", zero_division=0)),
        majority=majority,
        n_train=n_train,
        n_test=len(test),
    )
