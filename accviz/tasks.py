"""The task registry (GLUE conventions) and the task metrics (scikit-learn / scipy).

Metrics are in percent (0..100), as GLUE papers report them.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from accviz.errors import DataError


@dataclass(frozen=True)
class TaskSpec:
    name: str
    display_name: str
    glue_dir_name: str | None  # folder in a GLUE TSV layout, None if not GLUE
    text_columns: tuple[str, ...]  # one (single sentence) or two (pair) columns
    num_labels: int  # 1 = regression
    label_names: tuple[str, ...]  # index = label id; () for regression
    metric_names: tuple[str, ...]
    primary_metric: str
    hub_dataset: str
    hub_config: str | None

    @property
    def is_pair(self) -> bool:
        return len(self.text_columns) == 2

    @property
    def is_regression(self) -> bool:
        return self.num_labels == 1


TASKS: dict[str, TaskSpec] = {
    spec.name: spec
    for spec in (
        TaskSpec("sst2", "SST-2 (sentiment)", "SST-2", ("sentence",), 2, ("negative", "positive"), ("accuracy",), "accuracy", "nyu-mll/glue", "sst2"),
        TaskSpec("cola", "CoLA (acceptability)", "CoLA", ("sentence",), 2, ("unacceptable", "acceptable"), ("matthews_corr", "accuracy"), "matthews_corr", "nyu-mll/glue", "cola"),
        TaskSpec("mrpc", "MRPC (paraphrase)", "MRPC", ("sentence1", "sentence2"), 2, ("not_equivalent", "equivalent"), ("f1", "accuracy"), "f1", "nyu-mll/glue", "mrpc"),
        TaskSpec("stsb", "STS-B (similarity)", "STS-B", ("sentence1", "sentence2"), 1, (), ("pearson", "spearman"), "pearson", "nyu-mll/glue", "stsb"),
        TaskSpec("rte", "RTE (entailment)", "RTE", ("sentence1", "sentence2"), 2, ("entailment", "not_entailment"), ("accuracy",), "accuracy", "nyu-mll/glue", "rte"),
        TaskSpec("qnli", "QNLI (question entailment)", "QNLI", ("question", "sentence"), 2, ("entailment", "not_entailment"), ("accuracy",), "accuracy", "nyu-mll/glue", "qnli"),
        TaskSpec("rotten_tomatoes", "Rotten Tomatoes polarity (not GLUE)", None, ("text",), 2, ("negative", "positive"), ("accuracy",), "accuracy", "cornell-movie-review-data/rotten_tomatoes", None),
    )
}  # fmt: skip

_ALIASES = {"sst-2": "sst2", "sts-b": "stsb", "rotten-tomatoes": "rotten_tomatoes", "rt": "rotten_tomatoes"}


def get_task(name: str) -> TaskSpec:
    key = str(name).strip().lower()
    key = _ALIASES.get(key, key)
    if key not in TASKS:
        raise DataError(f"Unknown task {name!r}; known tasks: {', '.join(TASKS)}.")
    return TASKS[key]


def predictions_from_logits(task: str, logits) -> np.ndarray:
    spec = get_task(task)
    array = np.asarray(
        logits.detach().cpu().float() if hasattr(logits, "detach") else logits, dtype=np.float64
    )
    return array[:, 0] if spec.is_regression else array.argmax(axis=-1)


def _safe_correlation(function, predictions, references) -> float:
    if np.std(predictions) == 0 or np.std(references) == 0:
        return 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = float(function(predictions, references)[0])
    return 0.0 if math.isnan(value) else value


def compute_metrics(task: str, predictions, references) -> dict[str, float]:
    """The task's metrics in percent: accuracy, F1 (positive class), Matthews, Pearson, Spearman."""
    from scipy.stats import pearsonr, spearmanr
    from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

    spec = get_task(task)
    predictions = np.asarray(predictions)
    references = np.asarray(references)
    if len(predictions) != len(references) or len(predictions) == 0:
        raise DataError(
            f"Metrics need as many predictions as references (got {len(predictions)} and {len(references)})."
        )
    results = {}
    for metric in spec.metric_names:
        if metric == "accuracy":
            value = accuracy_score(references, predictions)
        elif metric == "f1":
            value = f1_score(references, predictions, zero_division=0)
        elif metric == "matthews_corr":
            value = matthews_corrcoef(references, predictions) if len(set(predictions)) > 1 else 0.0
        elif metric == "pearson":
            value = _safe_correlation(pearsonr, predictions, references)
        elif metric == "spearman":
            value = _safe_correlation(spearmanr, predictions, references)
        else:  # pragma: no cover - the registry only names the metrics above
            raise DataError(f"Unknown metric {metric!r}.")
        results[metric] = 100.0 * float(value)
    return results
