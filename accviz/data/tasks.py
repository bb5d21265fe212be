"""The task registry (GLUE conventions) and the task metrics (scikit-learn / scipy).

Every metric is reported in percent (0..100), as GLUE papers report them:

- accuracy      = 100 · (1/N) Σ_i [ŷ_i = y_i]
- f1            = 100 · 2·TP / (2·TP + FP + FN), positive class 1 (MRPC: "equivalent")
- matthews_corr = 100 · (TP·TN − FP·FN) / √((TP+FP)(TP+FN)(TN+FP)(TN+FN))   (CoLA)
- pearson       = 100 · cov(ŷ, y) / (σ_ŷ · σ_y)                                  (STS-B)
- spearman      = pearson of the ranks of ŷ and y                               (STS-B)

A correlation whose denominator is zero (constant predictions or references) is reported
as 0.0, not NaN: a model that always predicts the same score carries no signal.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

from accviz.errors import DataError


@dataclass(frozen=True)
class GlueTsv:
    """Which fields of the task's GLUE TSV file hold the texts and the label."""

    text_fields: tuple[str | int, ...]  # header names, or 0-based indices when the file has no header
    label_field: str | int
    n_fields: int | None = None  # fields per line for a header-less file (with a header: the header's)
    score_range: tuple[float, float] | None = None  # regression: the label's valid interval


@dataclass(frozen=True)
class TaskSpec:
    """One task: where its data lives, what its labels mean, how it is scored."""

    name: str  # registry key: "sst2", "cola", ..., "rotten_tomatoes"
    display_name: str  # what the app and the CLI show
    glue_dir_name: str | None  # folder in the official GLUE TSV layout ("SST-2"); None when not GLUE
    text_columns: tuple[str, ...]  # the hub's text columns: one (single sentence) or two (a pair)
    num_labels: int  # classifier outputs; 1 = a regression head (STS-B)
    label_names: tuple[str, ...]  # label_names[i] is what label id i means; () for regression
    is_regression: bool  # True: labels and predictions are floats, not class ids
    metric_names: tuple[str, ...]  # every metric compute_metrics reports, primary first
    primary_metric: str  # the one number a speed/accuracy trade-off is plotted with
    hub_dataset: str  # Hugging Face hub dataset id
    hub_config: str | None  # its config name (None when the dataset has a single config)
    glue_tsv: GlueTsv | None = None  # the layout of <glue_dir_name>/<split>.tsv; None when not GLUE

    @property
    def is_pair(self) -> bool:
        """True when each example is a sentence pair (``texts_b`` is set)."""
        return len(self.text_columns) == 2


TASKS: dict[str, TaskSpec] = {
    spec.name: spec
    for spec in (
        TaskSpec(
            name="sst2",
            display_name="SST-2 (sentiment)",
            glue_dir_name="SST-2",
            text_columns=("sentence",),
            num_labels=2,
            label_names=("negative", "positive"),
            is_regression=False,
            metric_names=("accuracy",),
            primary_metric="accuracy",
            hub_dataset="nyu-mll/glue",
            hub_config="sst2",
            glue_tsv=GlueTsv(("sentence",), "label"),
        ),
        TaskSpec(
            name="cola",
            display_name="CoLA (acceptability)",
            glue_dir_name="CoLA",
            text_columns=("sentence",),
            num_labels=2,
            label_names=("unacceptable", "acceptable"),
            is_regression=False,
            metric_names=("matthews_corr", "accuracy"),
            primary_metric="matthews_corr",
            hub_dataset="nyu-mll/glue",
            hub_config="cola",
            glue_tsv=GlueTsv((3,), 1, n_fields=4),  # source, label, original mark, sentence; no header
        ),
        TaskSpec(
            name="mrpc",
            display_name="MRPC (paraphrase)",
            glue_dir_name="MRPC",
            text_columns=("sentence1", "sentence2"),
            num_labels=2,
            label_names=("not_equivalent", "equivalent"),
            is_regression=False,
            metric_names=("f1", "accuracy"),
            primary_metric="f1",
            hub_dataset="nyu-mll/glue",
            hub_config="mrpc",
            glue_tsv=GlueTsv(("#1 String", "#2 String"), "Quality"),
        ),
        TaskSpec(
            name="stsb",
            display_name="STS-B (similarity)",
            glue_dir_name="STS-B",
            text_columns=("sentence1", "sentence2"),
            num_labels=1,
            label_names=(),
            is_regression=True,
            metric_names=("pearson", "spearman"),
            primary_metric="pearson",
            hub_dataset="nyu-mll/glue",
            hub_config="stsb",
            glue_tsv=GlueTsv(("sentence1", "sentence2"), "score", score_range=(0.0, 5.0)),
        ),
        TaskSpec(
            name="rte",
            display_name="RTE (entailment)",
            glue_dir_name="RTE",
            text_columns=("sentence1", "sentence2"),
            num_labels=2,
            label_names=("entailment", "not_entailment"),  # as in HF glue: 0 = entailment
            is_regression=False,
            metric_names=("accuracy",),
            primary_metric="accuracy",
            hub_dataset="nyu-mll/glue",
            hub_config="rte",
            glue_tsv=GlueTsv(("sentence1", "sentence2"), "label"),
        ),
        TaskSpec(
            name="qnli",
            display_name="QNLI (question entailment)",
            glue_dir_name="QNLI",
            text_columns=("question", "sentence"),
            num_labels=2,
            label_names=("entailment", "not_entailment"),
            is_regression=False,
            metric_names=("accuracy",),
            primary_metric="accuracy",
            hub_dataset="nyu-mll/glue",
            hub_config="qnli",
            glue_tsv=GlueTsv(("question", "sentence"), "label"),
        ),
        TaskSpec(
            name="rotten_tomatoes",
            display_name="Rotten Tomatoes polarity (not GLUE)",
            glue_dir_name=None,
            text_columns=("text",),
            num_labels=2,
            label_names=("negative", "positive"),  # 0 = rotten, 1 = fresh
            is_regression=False,
            metric_names=("accuracy",),
            primary_metric="accuracy",
            hub_dataset="cornell-movie-review-data/rotten_tomatoes",
            hub_config=None,
        ),
    )
}

_ALIASES: dict[str, str] = {
    alias.lower(): spec.name
    for spec in TASKS.values()
    for alias in (spec.glue_dir_name, spec.hub_config)
    if alias
} | {"sts-b": "stsb", "rotten-tomatoes": "rotten_tomatoes", "rt": "rotten_tomatoes"}


def get_task(name: str) -> TaskSpec:
    """The task called ``name``, case-insensitive; GLUE folder names ("SST-2", "STS-B") work too.

    Called once where a name is typed or read (a command line, the sidebar, a stored card); the
    ``TaskSpec`` is what every other function takes."""
    key = str(name).strip().lower()
    key = _ALIASES.get(key, key)
    if key not in TASKS:
        raise DataError(f"Unknown task {name!r}; known tasks: {', '.join(TASKS)}.")
    return TASKS[key]


def predictions_from_logits(spec: TaskSpec, logits) -> np.ndarray:
    """Class ids ``argmax_c logits[:, c]`` (int64), or the scores ``logits[:, 0]`` for regression.

    ``logits`` is (N, num_labels) as a torch tensor, numpy array or nested list; (N,) is accepted
    for regression.
    """
    if hasattr(logits, "detach"):
        logits = logits.detach().float().cpu().numpy()
    array = np.asarray(logits, dtype=np.float64)
    if spec.is_regression and array.ndim == 1:
        return array
    if array.ndim != 2 or array.shape[1] != spec.num_labels:
        raise DataError(
            f"{spec.display_name} needs logits of shape (N, {spec.num_labels}); got {tuple(array.shape)}. "
            f"Use a model with {spec.num_labels} output(s) for this task."
        )
    return array[:, 0] if spec.is_regression else array.argmax(axis=-1).astype(np.int64)


def _as_class_ids(values, spec: TaskSpec, what: str) -> np.ndarray:
    array = np.asarray(values)
    if array.dtype.kind == "f":
        if not np.all(np.isfinite(array)) or not np.all(array == np.round(array)):
            raise DataError(f"{spec.name} {what} must be class ids (integers); got non-integer values.")
    elif array.dtype.kind not in "iub":
        raise DataError(f"{spec.name} {what} must be class ids (integers); got dtype {array.dtype}.")
    array = array.astype(np.int64)
    outside = array[(array < 0) | (array >= spec.num_labels)]
    if outside.size:
        raise DataError(
            f"{spec.name} {what} must be class ids in 0..{spec.num_labels - 1} "
            f"({', '.join(spec.label_names)}); got {int(outside[0])}."
        )
    return array


def _as_scores(values, spec: TaskSpec, what: str) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise DataError(f"{spec.name} {what} must be numbers: {error}") from None
    if not np.all(np.isfinite(array)):
        raise DataError(f"{spec.name} {what} contain NaN or infinite values; the model may have diverged.")
    return array


def _correlation(function, predictions: np.ndarray, references: np.ndarray) -> float:
    """``function``'s statistic, or 0.0 when either side is constant (the statistic is undefined)."""
    if len(predictions) < 2 or np.ptp(predictions) == 0 or np.ptp(references) == 0:
        return 0.0
    with warnings.catch_warnings():
        warnings.simplefilter(
            "ignore"
        )  # scipy warns on near-constant input; the guard above covers the undefined case
        value = float(function(predictions, references)[0])
    return 0.0 if np.isnan(value) else value


def compute_metrics(spec: TaskSpec, predictions, references) -> dict[str, float]:
    """The task's metrics in percent, keyed by ``spec.metric_names`` (formulas in the module docstring).

    ``predictions`` are class ids (floats for a regression task), ``references`` the gold labels.
    """
    if len(predictions) != len(references) or len(predictions) == 0:
        raise DataError(
            f"Metrics need as many predictions as references, at least one "
            f"(got {len(predictions)} predictions and {len(references)} references)."
        )
    if spec.is_regression:
        predictions = _as_scores(predictions, spec, "predictions")
        references = _as_scores(references, spec, "references")
    else:
        predictions = _as_class_ids(predictions, spec, "predictions")
        references = _as_class_ids(references, spec, "references")

    results = {}
    for metric in spec.metric_names:
        if metric == "accuracy":
            value = accuracy_score(references, predictions)
        elif metric == "f1":
            value = f1_score(references, predictions, labels=[0, 1], pos_label=1, zero_division=0)
        elif metric == "matthews_corr":
            # MCC is 0/0 when either side holds one class; report 0 (no signal) without sklearn's warning
            one_class = len(np.unique(predictions)) < 2 or len(np.unique(references)) < 2
            value = 0.0 if one_class else matthews_corrcoef(references, predictions)
        elif metric == "pearson":
            value = _correlation(pearsonr, predictions, references)
        elif metric == "spearman":
            value = _correlation(spearmanr, predictions, references)
        else:  # pragma: no cover - the registry only names the metrics above
            raise DataError(f"Unknown metric {metric!r}.")
        results[metric] = 100.0 * float(value)
    return results
