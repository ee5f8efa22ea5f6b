"""The evaluate step (``motiflens test``): per-target metrics and curves of a trained run.

The test split of the run's own dataset is scored into ``metrics/``
(``Run.evaluation_dir(None)``); any other file, or another split, into
``metrics/evaluations/<file name>/``, so it never overwrites the run's own metrics. The
data's columns are matched to the run's targets by name, and its rows keep the run's
target names. Beside the model, the k-mer baseline (:mod:`motiflens.baseline`), fitted
once on the run's training split and kept in the run, is scored on the same sequences.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import torch

from motiflens.baseline import DEFAULT_K, MAX_TRAIN, KmerBaseline, kmer_baseline
from motiflens.errors import InputError
from motiflens.evaluation import evaluate_model
from motiflens.files import atomic_path, write_text_atomic
from motiflens.plots.training import plot_roc_pr
from motiflens.runs import Run, as_run

#: File names inside an evaluation's folder.
TABLE = "test.tsv"
SUMMARY = "test_summary.txt"
CURVES = "test_curves.png"


@dataclass
class EvaluationResult:
    """What :func:`evaluate` wrote.

    Attributes
    ----------
    metrics
        One row per target (``target, n, positives, auroc, auprc`` and, with the
        baseline, ``baseline_auroc, baseline_auprc``; or ``target, n, mean, pearson,
        spearman``), named by the run's targets.
    summary
        One line: mean and median of the main metric (and the baseline's mean).
    paths
        The files written (table, summary and, for binary targets, the curves).
    data
        The file scored.
    split
        Its split (for a dataset file).
    step
        The manifest step recorded: ``test`` (the run's own dataset) or
        ``test:<file name>``.
    columns
        The data's column scored as each target (same order as ``metrics``).
    baseline
        Why there is no baseline, or ``None`` when there is one.
    """

    metrics: pd.DataFrame
    summary: str
    paths: list[Path] = field(default_factory=list)
    data: Path | None = None
    split: str = "test"
    step: str = "test"
    columns: list[str] = field(default_factory=list)
    baseline: str | None = None

    def __str__(self) -> str:
        lines = []
        base = "baseline_auroc" in self.metrics
        for row in self.metrics.itertuples(index=False):
            if "auroc" in self.metrics:
                line = f"  {row.target:<24} AUROC {row.auroc:.4f}  AUPRC {row.auprc:.4f}"
                if base:
                    line += (
                        f"   k-mer baseline AUROC {row.baseline_auroc:.4f}  "
                        f"AUPRC {row.baseline_auprc:.4f}"
                    )
                lines.append(line)
            else:
                lines.append(f"  {row.target:<24} r {row.pearson:.4f}  rho {row.spearman:.4f}")
        renamed = [
            f"{c} as {t}"
            for c, t in zip(self.columns, self.metrics["target"], strict=False)
            if c != t
        ]
        if renamed:
            lines.append(f"columns scored as the run's targets: {', '.join(renamed)}")
        lines.append(self.summary)
        if self.baseline:
            lines.append(f"no k-mer baseline: {self.baseline}")
        if self.paths:
            lines.append(f"metrics written to {self.paths[0]}")
        return "\n".join(lines)


def run_baseline(
    run: Run | str | Path,
    *,
    k: int = DEFAULT_K,
    max_train: int | None = MAX_TRAIN,
    refit: bool = False,
    verbose: bool = False,
) -> KmerBaseline:
    """The run's k-mer baseline: read from ``Run.baseline_path``, or fitted and kept there.

    It is fitted (:func:`motiflens.baseline.kmer_baseline`) on the training split of the
    dataset the run was trained on, C chosen on its validation split; a kept baseline is
    reused while the dataset file (path, size, modification time) and the options are
    unchanged.

    Parameters
    ----------
    run
        A trained run (or its directory).
    k, max_train
        As for :func:`motiflens.baseline.kmer_baseline`.
    refit
        Fit again even when a kept baseline fits.
    verbose
        A progress bar over targets.

    Raises
    ------
    InputError
        The run does not record its dataset, the file is gone, or its targets are
        continuous.
    """
    run = as_run(run)
    with run.lock(create=False):  # fitted and kept in the run: one writer at a time
        dataset = run.dataset()
        if not dataset.is_file():
            raise InputError("the run's training dataset is not there any more", path=dataset)
        stat = dataset.stat()
        source = {
            "dataset": str(dataset.resolve()),
            "dataset_size": stat.st_size,
            "dataset_mtime_ns": stat.st_mtime_ns,
            "k": k,
            "max_train": max_train,
        }
        path = run.baseline_path
        if path.is_file() and not refit:
            try:
                kept = KmerBaseline.load(path)
            except InputError:
                kept = None  # unreadable or an older format: fit again
            if kept is not None and all(kept.info.get(key) == v for key, v in source.items()):
                return kept
        baseline = kmer_baseline(dataset, k=k, max_train=max_train, verbose=verbose)
        baseline.info.update(source)
        baseline.save(path)
        run.record_step(
            "baseline",
            [path],
            dataset=str(dataset),
            k=k,
            C=[None if math.isnan(c) else float(c) for c in baseline.C],
            valid_auroc=[
                None if math.isnan(a) else round(float(a), 4) for a in baseline.valid_auroc
            ],
            seconds=baseline.info.get("seconds"),
        )
        return baseline


def evaluate(
    run: Run | str | Path,
    data: str | Path | None = None,
    *,
    split: str = "test",
    label_columns: Sequence[str] | None = None,
    reverse_complement: bool = True,
    baseline: bool = True,
    batch_size: int = 512,
    device: str | torch.device | None = None,
    verbose: bool = True,
) -> EvaluationResult:
    """Score a trained run per target and write the metrics table, summary and curves.

    Parameters
    ----------
    run
        A trained run (or its directory).
    data
        Dataset file (its ``split`` is used) or a labelled FASTA / TSV / DeepBind file.
        Default: the dataset the run was trained on. Its columns are matched to the
        run's targets by name (a table's label columns default to the run's target
        names); names that do not match are refused.
    split
        Split of a dataset file.
    label_columns
        Columns of a table (targets of a dataset file) to score, one per run target:
        matched by name when they are the run's target names, else taken in the order
        given.
    reverse_complement
        Average forward and reverse-complement predictions (Basset's ``-rc``); on by
        default, as it raised test AUROC for every model that learned on the ENCODE sets
        (+0.002 on easy ones, +0.010 to +0.019 on hard ones).
    baseline
        Also score the k-mer baseline (:func:`run_baseline`, fitted once on the run's
        training split) on the same sequences: ``baseline_auroc`` and ``baseline_auprc``
        columns. Skipped, with the reason in the result, for continuous targets or when
        the run's dataset is not there.
    batch_size, device, verbose
        Prediction settings (``verbose``: a progress bar).

    Returns
    -------
    EvaluationResult

    Raises
    ------
    InputError
        No data given and none recorded; data whose target names (or number) do not
        match the run's, or with another length than the model.

    Examples
    --------
    >>> result = evaluate("runs/basset")                 # metrics/test.tsv
    >>> result = evaluate("runs/basset", "other.fa")     # metrics/evaluations/other.fa/
    """
    run = as_run(run)
    with run.lock(create=False):  # its files and the manifest: one writer at a time
        model = run.model(device)
        own = run.dataset_or_none()
        if data is None:
            data = run.dataset()
            other = split != "test"
        else:
            data = Path(data)
            # another split of the run's own dataset is "another file" too: metrics/test.tsv
            # holds the test split only
            other = own is None or data.resolve() != own.resolve() or split != "test"
        fitted, why_not = None, None
        if not baseline:
            why_not = "not asked for"
        elif model.config.task != "binary":
            why_not = (
                f"the targets are continuous ({model.config.task}); the baseline is for 0/1 targets"
            )
        elif own is None:
            why_not = "the run's training dataset is not recorded or not there"
        else:
            fitted = run_baseline(run, verbose=verbose)
        scored = evaluate_model(
            model,
            data,
            split=split,
            label_columns=label_columns,
            match_names=run.target_labels_path.is_file(),
            reverse_complement=reverse_complement,
            baseline=fitted,
            batch_size=batch_size,
            device=device,
            verbose=verbose,
        )
        folder = run.evaluation_dir(data if other else None)
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(folder / TABLE) as tmp:
            scored.metrics.to_csv(tmp, sep="\t", index=False, float_format="%.6g")
        summary = scored.summary + (f"; no k-mer baseline: {why_not}" if why_not else "")
        paths = [
            folder / TABLE,
            write_text_atomic(folder / SUMMARY, f"{data} [{split}]: {summary}\n"),
        ]
        if "auroc" in scored.metrics:
            paths.append(
                plot_roc_pr(scored.y_true, scored.y_pred, scored.target_labels, folder / CURVES)
            )
        step = f"test:{data.name}" if other else "test"
        run.record_step(
            step,
            paths,
            data=str(data),
            split=split,
            rc=reverse_complement,
            columns=scored.columns,
            baseline=why_not is None,
        )
        return EvaluationResult(
            scored.metrics, scored.summary, paths, data, split, step, scored.columns, why_not
        )
