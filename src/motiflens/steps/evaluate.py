"""The evaluate step (``motiflens test``): per-target metrics and curves of a trained run.

The run's own dataset is scored into ``metrics/`` (``Run.evaluation_dir(None)``); any
other file into ``metrics/evaluations/<file name>/``, so it never overwrites the run's own
metrics, and its rows keep the run's target names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import torch

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
        One row per target (``target, n, positives, auroc, auprc`` or
        ``target, n, mean, pearson, spearman``), named by the run's targets.
    summary
        One line: mean and median of the main metric.
    paths
        The files written (table, summary and, for binary targets, the curves).
    data
        The file scored.
    split
        Its split (for a dataset file).
    step
        The manifest step recorded: ``test`` (the run's own dataset) or
        ``test:<file name>``.
    """

    metrics: pd.DataFrame
    summary: str
    paths: list[Path] = field(default_factory=list)
    data: Path | None = None
    split: str = "test"
    step: str = "test"

    def __str__(self) -> str:
        lines = []
        for row in self.metrics.itertuples(index=False):
            if "auroc" in self.metrics:
                lines.append(f"  {row.target:<24} AUROC {row.auroc:.4f}  AUPRC {row.auprc:.4f}")
            else:
                lines.append(f"  {row.target:<24} r {row.pearson:.4f}  rho {row.spearman:.4f}")
        lines.append(self.summary)
        if self.paths:
            lines.append(f"metrics written to {self.paths[0]}")
        return "\n".join(lines)


def evaluate(
    run: Run | str | Path,
    data: str | Path | None = None,
    *,
    split: str = "test",
    reverse_complement: bool = False,
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
        Default: the dataset the run was trained on.
    split
        Split of a dataset file.
    reverse_complement
        Average forward and reverse-complement predictions (Basset's ``-rc``).
    batch_size, device, verbose
        Prediction settings (``verbose``: a progress bar).

    Returns
    -------
    EvaluationResult

    Raises
    ------
    InputError
        No data given and none recorded; data with another number of targets or another
        length than the model.

    Examples
    --------
    >>> result = evaluate("runs/basset")                 # metrics/test.tsv
    >>> result = evaluate("runs/basset", "other.fa")     # metrics/evaluations/other.fa/
    """
    run = as_run(run)
    model = run.model(device)
    own = run.dataset_or_none()
    if data is None:
        data, other = run.dataset(), False
    else:
        data = Path(data)
        other = own is None or data.resolve() != own.resolve()
    scored = evaluate_model(
        model,
        data,
        split=split,
        reverse_complement=reverse_complement,
        batch_size=batch_size,
        device=device,
        verbose=verbose,
    )
    folder = run.evaluation_dir(data if other else None)
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(folder / TABLE) as tmp:
        scored.metrics.to_csv(tmp, sep="\t", index=False, float_format="%.6g")
    paths = [
        folder / TABLE,
        write_text_atomic(folder / SUMMARY, f"{data} [{split}]: {scored.summary}\n"),
    ]
    if "auroc" in scored.metrics:
        paths.append(
            plot_roc_pr(scored.y_true, scored.y_pred, scored.target_labels, folder / CURVES)
        )
    step = f"test:{data.name}" if other else "test"
    run.record_step(step, paths, data=str(data), split=split, rc=reverse_complement)
    return EvaluationResult(scored.metrics, scored.summary, paths, data, split, step)
