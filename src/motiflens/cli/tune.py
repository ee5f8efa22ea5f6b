"""The tune verb: Bayesian hyperparameter search over a YAML search space."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from motiflens.cli.common import app, friendly


class SamplerName(StrEnum):
    tpe = "tpe"
    gp = "gp"
    random = "random"


class PrunerName(StrEnum):
    median = "median"
    hyperband = "hyperband"
    none = "none"


@app.command()
@friendly
def tune(
    dataset: Annotated[Path, typer.Argument(help="Dataset file (.h5) with train/valid splits.")],
    out: Annotated[Path, typer.Argument(help="Tune directory (trials, study.db, best config).")],
    space: Annotated[
        Path, typer.Argument(help="Search-space YAML: a run config plus search: (docs/tuning.md).")
    ],
    n_trials: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Trials this worker runs (default 20, or none with --timeout/--max-total).",
        ),
    ] = None,
    timeout: Annotated[
        float | None, typer.Option(help="Seconds after which this worker starts no new trial.")
    ] = None,
    max_total: Annotated[
        int | None,
        typer.Option(help="Stop once the study has this many finished trials (all workers)."),
    ] = None,
    storage: Annotated[
        str | None,
        typer.Option(
            help="Optuna storage URL (postgresql://..., mysql+pymysql://...); "
            "default sqlite:///OUT/study.db."
        ),
    ] = None,
    study_name: Annotated[str, typer.Option(help="Study name within the storage.")] = "motiflens",
    sampler: Annotated[
        SamplerName, typer.Option(help="tpe, gp (Gaussian process, as Basset's Spearmint), random.")
    ] = SamplerName.tpe,
    pruner: Annotated[
        PrunerName, typer.Option(help="Stop poor trials early from the per-epoch metric.")
    ] = PrunerName.median,
    seed: Annotated[
        int | None, typer.Option(help="Sampler seed (give each worker its own, or none).")
    ] = None,
    startup_trials: Annotated[
        int, typer.Option(help="Random trials before TPE/GP model the results.")
    ] = 10,
    baseline: Annotated[
        bool, typer.Option(help="First trial of a new study: the base config itself.")
    ] = True,
    accelerator: Annotated[str, typer.Option(help="auto, cpu, gpu.")] = "auto",
    verbose: Annotated[
        bool, typer.Option("--progress/--no-progress", help="Show the progress bar over trials.")
    ] = True,
) -> None:
    """Search hyperparameters with Optuna; running it again continues the study."""
    from motiflens.progress import interactive, tqdm
    from motiflens.steps import tune as tune_step

    if n_trials is None and timeout is None and max_total is None:
        n_trials = 20
    result = tune_step(
        dataset,
        out,
        space,
        n_trials=n_trials,
        timeout=timeout,
        max_total=max_total,
        storage=storage,
        study_name=study_name,
        sampler=sampler.value,
        pruner=pruner.value,
        random_state=seed,
        startup_trials=startup_trials,
        baseline=baseline,
        accelerator=accelerator,
        # Optuna draws its own tqdm bar on stderr: in a log (batch job, nohup) it would be
        # a carriage-return frame per update, so there only the per-trial lines are shown.
        verbose=verbose and interactive(sys.stderr),
        echo=tqdm.write,  # keeps the progress bar intact
    )
    typer.echo(str(result))
