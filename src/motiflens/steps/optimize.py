"""Class optimization as a run step: for each target the input the model likes most."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import torch

from motiflens.explain.inputs import TargetSelection, target_names
from motiflens.explain.optimize import optimize_class, write_fasta, write_meme
from motiflens.files import atomic_path, safe_name
from motiflens.plots.explain import class_optimization_logo
from motiflens.plots.style import save_figure
from motiflens.runs import Run, as_run
from motiflens.steps.explain import clear_outputs

__all__ = ["OptimizeStepResult", "optimize"]


@dataclass(frozen=True)
class OptimizeStepResult:
    """What :func:`optimize` wrote into ``explain/optimize/<method>/``.

    Attributes
    ----------
    folder
        ``explain/optimize/<method>/``: ``<target>.meme`` and ``<target>.png`` per
        target, ``designed.fa`` and ``optimize.tsv``.
    table
        ``optimize.tsv``: ``target``, ``start``, ``score``, ``sequence``.
    fasta
        ``designed.fa``: every start's sequence, named ``<target>_<start>``.
    method
        ``"demo"`` or ``"sequence"``.
    scores
        The table as a DataFrame.
    """

    folder: Path
    table: Path
    fasta: Path
    method: str
    scores: pd.DataFrame


def optimize(
    run: Run | str | Path,
    *,
    targets: TargetSelection = None,
    method: Literal["demo", "sequence"] = "demo",
    n_steps: int = 1000,
    n: int = 1,
    device: str | torch.device | None = None,
    verbose: bool = True,
    random_state: int | None = 1,
) -> OptimizeStepResult:
    """Class optimization: for each target the input the model likes most.

    Each method writes its own folder, so ``demo`` and ``sequence`` results sit side by
    side. Options as in :func:`motiflens.explain.optimize.optimize_class` (``n`` is its
    ``n_sequences``: independent starts per target).
    """
    run = as_run(run)
    model = run.model()
    result = optimize_class(
        model,
        targets=targets,
        method=method,
        n_steps=n_steps,
        n_sequences=n,
        device=device,
        verbose=verbose,
        random_state=random_state,
    )
    labels = [target_names(model, model.config.n_targets)[t] for t in result.targets]
    folder = run.analysis_dir("optimize") / safe_name(method)
    folder.mkdir(parents=True, exist_ok=True)
    clear_outputs(folder)
    rows: list[dict[str, Any]] = []
    for k, label in enumerate(labels):
        stem = safe_name(label)
        write_meme(result.matrix[..., k], folder / f"{stem}.meme", f"{stem}_optimized")
        logo = class_optimization_logo(result.matrix[0, :, :, k], title=label)
        save_figure(logo, folder / f"{stem}.png")
        for i in range(n):
            score = float(result.scores[i, k])
            rows.append(
                {"target": label, "start": i, "score": score, "sequence": result.sequences[i][k]}
            )
    table = pd.DataFrame(rows, columns=["target", "start", "score", "sequence"])
    fasta = write_fasta(
        list(table["sequence"]),
        folder / "designed.fa",
        names=[f"{safe_name(t)}_{s}" for t, s in zip(table["target"], table["start"], strict=True)],
    )
    with atomic_path(folder / "optimize.tsv") as tmp:
        table.to_csv(tmp, sep="\t", index=False)
    run.record_step("optimize", [folder], method=method, steps=n_steps, targets=labels, starts=n)
    return OptimizeStepResult(folder, folder / "optimize.tsv", fasta, method, table)
