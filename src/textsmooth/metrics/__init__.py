"""Metrics for "did this smoothing help?": accuracy, balanced accuracy, macro-F1, minority recall, NLL, Brier
score, calibration errors and reliability diagrams, Recall@k, a paired bootstrap test and seed summaries.

Conventions shared by every function (details and formulas in each docstring and in
``docs/metrics-and-models.md``):

* numpy first: inputs may be numpy arrays, torch tensors (any device; detached) or lists; results are
  Python floats or numpy arrays. Only numpy is imported (matplotlib inside :func:`reliability_diagram`).
* argument order ``(preds or probs, labels)``, as torchmetrics (the reverse of scikit-learn);
* ``probs`` rows must be distributions (values in [0, 1], rows summing to 1 within ``PROB_ATOL``);
  label metrics also take 1-D predicted classes or 2-D scores (arg-max);
* bad shapes, empty input, labels out of range and non-distributions raise
  :class:`~textsmooth.errors.InputError`; bad option values raise :class:`~textsmooth.errors.ConfigError`.

Example:
    >>> from textsmooth.metrics import accuracy, expected_calibration_error, macro_f1
    >>> probs = [[0.8, 0.2], [0.3, 0.7], [0.6, 0.4]]
    >>> accuracy(probs, [0, 1, 1]), round(macro_f1(probs, [0, 1, 1]), 4)
    (0.6666666666666666, 0.6667)
"""

from textsmooth.metrics._inputs import PROB_ATOL
from textsmooth.metrics.calibration import (
    Binning,
    CalibrationBins,
    brier_score,
    calibration_bins,
    expected_calibration_error,
    maximum_calibration_error,
    nll,
    reliability_diagram,
)
from textsmooth.metrics.classification import (
    accuracy,
    balanced_accuracy,
    confusion_matrix,
    macro_f1,
    minority_recall,
    per_class_f1,
    per_class_precision,
    per_class_recall,
)
from textsmooth.metrics.report import classification_report
from textsmooth.metrics.retrieval import recall_at_k, recall_at_k_per_query
from textsmooth.metrics.significance import (
    Alternative,
    BootstrapResult,
    SeedSummary,
    paired_bootstrap,
    summarize_seeds,
)

__all__ = [
    "PROB_ATOL",
    "Alternative",
    "Binning",
    "BootstrapResult",
    "CalibrationBins",
    "SeedSummary",
    "accuracy",
    "balanced_accuracy",
    "brier_score",
    "calibration_bins",
    "classification_report",
    "confusion_matrix",
    "expected_calibration_error",
    "macro_f1",
    "maximum_calibration_error",
    "minority_recall",
    "nll",
    "paired_bootstrap",
    "per_class_f1",
    "per_class_precision",
    "per_class_recall",
    "recall_at_k",
    "recall_at_k_per_query",
    "reliability_diagram",
    "summarize_seeds",
]
