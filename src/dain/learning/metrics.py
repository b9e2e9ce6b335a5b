"""How good a model is on labelled rows: accuracy, balanced accuracy, ROC AUC and log loss
for a classifier; mean squared error, mean absolute error and R^2 for a regression model.

Accuracy alone flatters a model on an imbalanced task: one that answers "no fraud" for every
row of a set with 2% fraud is 98% accurate, yet its balanced accuracy (the mean recall over
classes) and its AUC (how often it ranks a positive above a negative) are both 0.5, a coin's.
So a classifier's scores always carry all four.

Scores made on several parties' rows combine by examples (`combine`): federated evaluation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields

import numpy as np
import torch

from dain.learning.errors import MetricsError
from dain.learning.models import ModelSpec, build_model, load_params
from dain.learning.params import Params
from dain.learning.training import predicted_values

CLASSIFICATION = ("accuracy", "balanced_accuracy", "roc_auc", "log_loss")
REGRESSION = ("mse", "mae", "r2")
BOUNDED = ("accuracy", "balanced_accuracy", "roc_auc", "r2")  # at most 1; the rest at least 0
MAX_EXAMPLES = 2**32  # what one party can score on; bounds what a report may claim


@dataclass(frozen=True)
class Metrics:
    """Scores on `examples` rows; those that do not apply to the task, or are undefined on
    these rows (AUC when a class is absent, R^2 when every target is the same), are None."""

    examples: int
    accuracy: float | None = None
    balanced_accuracy: float | None = None
    roc_auc: float | None = None  # binary; macro one-vs-rest for more classes
    log_loss: float | None = None
    mse: float | None = None
    mae: float | None = None
    r2: float | None = None

    def __post_init__(self) -> None:
        examples = self.examples
        if (
            isinstance(examples, bool)
            or not isinstance(examples, int)
            or not (0 < examples < MAX_EXAMPLES)
        ):
            raise MetricsError(f"Metrics need 1 to {MAX_EXAMPLES - 1} examples, not "
                               f"{self.examples!r}.")  # fmt: skip
        for name, value in self.scores().items():
            if isinstance(value, bool) or not isinstance(value, float) or not math.isfinite(value):
                raise MetricsError(f"Metric '{name}' must be a finite number, not {value!r}.")
            if not _in_range(name, value):
                raise MetricsError(f"Metric '{name}' is out of its range ({value}).")

    def scores(self) -> dict[str, float]:
        """The scores that are defined, by name."""
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.name != "examples" and getattr(self, f.name) is not None
        }

    def to_dict(self) -> dict[str, int | float]:
        return {"examples": self.examples, **self.scores()}

    @classmethod
    def from_dict(cls, raw: Mapping[str, object]) -> Metrics:
        """Metrics as `to_dict` wrote them; anything else (unknown names, scores that are
        not finite numbers in their range) is refused with a MetricsError."""
        if not isinstance(raw, Mapping):
            raise MetricsError("Metrics must be a JSON object.")
        unknown = set(raw) - {"examples", *CLASSIFICATION, *REGRESSION}
        if unknown:
            raise MetricsError(f"Unknown metrics: {', '.join(sorted(map(str, unknown)))}.")
        found = {k: _number(k, v) for k, v in raw.items() if k != "examples"}
        if set(found) - set(CLASSIFICATION) and set(found) - set(REGRESSION):
            raise MetricsError("Metrics mix classification and regression scores.")
        return cls(raw.get("examples"), **found)  # type: ignore[arg-type]


def _number(name: str, value: object) -> object:
    """JSON's whole numbers as floats (the rest is judged by the constructor)."""
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:
            raise MetricsError(f"Metric '{name}' is out of its range.") from None
    return value


def _in_range(name: str, value: float) -> bool:
    if name in ("accuracy", "balanced_accuracy", "roc_auc"):
        return 0.0 <= value <= 1.0
    if name == "r2":
        return value <= 1.0
    return value >= 0.0


def evaluate(spec: ModelSpec, params: Params, x: np.ndarray, y: np.ndarray) -> Metrics:
    """The model's scores on (x, y): `classification_metrics` of its class probabilities,
    or `regression_metrics` of its predictions."""
    if len(y) == 0:
        raise MetricsError("There are no rows to score the model on.")
    if tuple(x.shape[1:]) != spec.example_shape or len(x) != len(y):
        raise MetricsError(
            f"The rows do not fit the model: {len(x)} examples of shape {list(x.shape[1:])} "
            f"and {len(y)} labels for a model reading {list(spec.example_shape)}."
        )
    model = build_model(spec)
    load_params(model, params)
    model.eval()
    with torch.no_grad():
        out = model(torch.from_numpy(spec.standardize(x))).numpy().astype(np.float64)
    if spec.is_regression:
        return regression_metrics(y, predicted_values(spec, out[:, 0]))
    out -= out.max(axis=1, keepdims=True)  # softmax without overflow
    probabilities = np.exp(out)
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    return classification_metrics(y, probabilities)


def classification_metrics(y: np.ndarray, probabilities: np.ndarray) -> Metrics:
    """Scores of class probabilities (rows x classes, each row summing to 1) against class
    indices `y`. Log loss clips probabilities to [eps, 1 - eps] as scikit-learn does."""
    n, k = probabilities.shape
    labels = _labels(y, k)
    predicted = probabilities.argmax(axis=1)
    right = predicted == labels
    support = np.bincount(labels, minlength=k)
    recalls = np.bincount(labels[right], minlength=k)[support > 0] / support[support > 0]
    eps = np.finfo(probabilities.dtype).eps
    chosen = np.clip(probabilities[np.arange(n), labels], eps, 1 - eps)
    return Metrics(
        examples=n,
        accuracy=float(right.mean()),
        balanced_accuracy=float(recalls.mean()),
        roc_auc=roc_auc(labels, probabilities),
        log_loss=float(-np.log(chosen).mean()),
    )


def regression_metrics(y: np.ndarray, predicted: np.ndarray) -> Metrics:
    """Scores of predicted values against targets `y`; R^2 is None for a constant target
    (nothing to explain)."""
    if len(y) == 0:
        raise MetricsError("There are no rows to score the model on.")
    target = np.asarray(y, dtype=np.float64)
    error = target - np.asarray(predicted, dtype=np.float64)
    total = float(np.sum((target - target.mean()) ** 2))
    residual = float(np.sum(error**2))
    return Metrics(
        examples=len(target),
        mse=float(np.mean(error**2)),
        mae=float(np.mean(np.abs(error))),
        # not `total > 0`: the mean of equal values may differ from them by a rounding
        r2=1.0 - residual / total if np.ptp(target) > 0 and total > 0 else None,
    )


def roc_auc(labels: np.ndarray, probabilities: np.ndarray) -> float | None:
    """The area under the ROC curve: for two classes, of class 1's probability; for more,
    the unweighted mean over classes of each one against the rest (macro one-vs-rest).
    Ties count half, as the ROC curve's trapezoids do. None when a class is absent from
    `labels`: then some pair of classes cannot be ranked at all."""
    k = probabilities.shape[1]
    scores = probabilities[:, 1:] if k == 2 else probabilities
    positive = labels[:, None] == (np.arange(1, 2) if k == 2 else np.arange(k))[None, :]
    n_pos = positive.sum(axis=0)
    n_neg = len(labels) - n_pos
    if np.any(n_pos == 0) or np.any(n_neg == 0):
        return None
    # Mann-Whitney: the positives' rank sum, less its least possible value, over all pairs
    rank_sum = np.sum(_average_ranks(scores) * positive, axis=0)
    per_class = (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    return float(np.clip(per_class.mean(), 0.0, 1.0))


def _average_ranks(scores: np.ndarray) -> np.ndarray:
    """1-based ranks of each column's values, tied values sharing the mean of their ranks."""
    n = len(scores)
    order = np.argsort(scores, axis=0, kind="stable")
    ordered = np.take_along_axis(scores, order, axis=0)
    starts = np.ones(ordered.shape, dtype=bool)  # where a run of equal values begins
    starts[1:] = ordered[1:] != ordered[:-1]
    ends = np.ones(ordered.shape, dtype=bool)  # where one ends
    ends[:-1] = starts[1:]
    position = np.broadcast_to(np.arange(n)[:, None], ordered.shape)
    first = np.maximum.accumulate(np.where(starts, position, 0), axis=0)
    last = np.minimum.accumulate(np.where(ends, position, n - 1)[::-1], axis=0)[::-1]
    ranks = np.empty(ordered.shape, dtype=np.float64)
    np.put_along_axis(ranks, order, (first + last) / 2 + 1, axis=0)
    return ranks


def _labels(y: np.ndarray, num_classes: int) -> np.ndarray:
    labels = np.asarray(y)
    if len(labels) == 0:
        raise MetricsError("There are no rows to score the model on.")
    whole = labels.astype(np.int64)
    if np.any(whole != labels) or whole.min() < 0 or whole.max() >= num_classes:
        raise MetricsError(
            f"Labels must be class indices 0 to {num_classes - 1}.",
            hint="Use rows whose target takes only the job's classes.",
        )
    return whole


def combine(results: Sequence[Metrics]) -> Metrics:
    """Scores made on several parties' rows as one: each score the mean of the parties'
    scores weighted by their examples (among the parties that have that score defined).

    For accuracy, log loss, MSE and MAE, which are means over rows, this is exactly the score
    of all the rows together. For balanced accuracy, ROC AUC and R^2 it is an approximation:
    they are not means over rows (AUC ranks pairs of rows, and the pairs across parties are
    never compared; a party without both classes has no AUC at all), so the pooled score may
    differ, most where the parties' class mixes differ."""
    if not results:
        raise MetricsError("There are no metrics to combine.")
    combined: dict[str, float] = {}
    for name in (*CLASSIFICATION, *REGRESSION):
        pairs = [(getattr(m, name), m.examples) for m in results if getattr(m, name) is not None]
        if pairs:
            values, weights = np.array(pairs, dtype=np.float64).T
            mean = float(np.dot(values, weights) / weights.sum())
            # a mean of scores within their range stays there, but for rounding
            combined[name] = min(mean, 1.0) if name in BOUNDED else max(mean, 0.0)
    examples = sum(m.examples for m in results)
    if examples >= MAX_EXAMPLES:
        raise MetricsError(f"The combined metrics claim {examples} examples, too many.")
    return Metrics(examples, **combined)
