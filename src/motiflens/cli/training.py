"""Verbs that train and use a model: train, test, predict."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from motiflens.cli.common import (
    AcceleratorOpt,
    DevicesOpt,
    GenomeOpt,
    NumNodesOpt,
    RunDir,
    Source,
    SplitOpt,
    StrategyOpt,
    app,
    friendly,
)
from motiflens.config import OPTIMIZER_PRESETS

# The optimizer presets offered are those of the config: one list of names.
Preset = StrEnum("Preset", {name: name for name in OPTIMIZER_PRESETS})


@app.command()
@friendly
def train(
    dataset: Annotated[Path, typer.Argument(help="Dataset file (.h5) with train/valid splits.")],
    run_dir: Annotated[Path, typer.Argument(help="Run directory to write.")],
    config: Annotated[
        Path | None, typer.Option(help="YAML config (model + training); options override it.")
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            help="basset, cnn, rnn, cnn-rnn, DeMo's exact rnn-demo / cnn-rnn-demo, "
            "or a registered model."
        ),
    ] = None,
    preset: Annotated[
        Preset | None,
        typer.Option(
            help="Optimizer preset: Basset's RMSprop or DeMo's Adam "
            "[default: the model's own paper's]."
        ),
    ] = None,
    max_epochs: Annotated[int | None, typer.Option(help="Most epochs to run.")] = None,
    patience: Annotated[int | None, typer.Option(help="Early-stopping patience.")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Batch size.")] = None,
    lr: Annotated[float | None, typer.Option(help="Learning rate.")] = None,
    rc: Annotated[
        bool | None, typer.Option("--rc/--no-rc", help="Reverse-complement augmentation.")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed.")] = None,
    resume: Annotated[bool, typer.Option(help="Continue from the run's last checkpoint.")] = False,
    overwrite: Annotated[
        bool,
        typer.Option(
            help="Replace the run already in RUN_DIR (kept until the new training writes its "
            "first checkpoint; put back if it fails before)."
        ),
    ] = False,
    devices: Annotated[str, typer.Option(help="Lightning devices (auto, 1, 2, ...).")] = "auto",
    num_nodes: Annotated[int, typer.Option(help="Lightning nodes.")] = 1,
    strategy: Annotated[str, typer.Option(help="Lightning strategy (auto, ddp, ...).")] = "auto",
    accelerator: Annotated[str, typer.Option(help="auto, cpu, gpu.")] = "auto",
    resource_check: Annotated[
        bool,
        typer.Option(
            "--resource-check/--no-resource-check",
            help="Refuse a model whose parameters or activations would not fit in memory.",
        ),
    ] = True,
    verbose: Annotated[
        bool,
        typer.Option(
            "--progress/--no-progress",
            help="Progress bar (one line per epoch is still printed without it).",
        ),
    ] = True,
) -> None:
    """Train a model on a dataset; writes weights, config and metrics into RUN_DIR.

    A run already in RUN_DIR is refused unless --resume continues it or --overwrite
    replaces it. RUN_DIR is locked while training: a second command writing there fails
    at once, naming this one.
    """
    from motiflens.distributed import Launch
    from motiflens.runs import Run
    from motiflens.steps import run_config
    from motiflens.steps import train as train_step

    run = Run(run_dir)
    if resume and config is None and run.config_path.exists():
        config = run.config_path  # resuming continues with the run's own config
    cfg = run_config(
        config,
        model=model,
        preset=preset.value if preset else None,
        max_epochs=max_epochs,
        patience=patience,
        batch_size=batch_size,
        lr=lr,
        reverse_complement=rc,
        seed=seed,
    )
    result = train_step(
        dataset,
        run,
        cfg,
        resume=resume,
        overwrite=overwrite,
        devices=Launch.from_cli(devices, num_nodes).devices,  # checked: 0, abc refused
        num_nodes=num_nodes,
        strategy=strategy,
        accelerator=accelerator,
        verbose=verbose,
        check_resources=resource_check,
    )
    typer.echo(str(result))


@app.command("test")
@friendly
def test_cmd(
    run_dir: RunDir,
    data: Annotated[
        Path | None,
        typer.Argument(help="Dataset file or labelled FASTA/TSV/DeepBind (default: training set)."),
    ] = None,
    split: SplitOpt = "test",
    label_column: Annotated[
        list[str] | None,
        typer.Option(
            help="Table: label column to score (repeatable, one per run target; default the "
            "columns named as the run's targets)."
        ),
    ] = None,
    rc: Annotated[
        bool,
        typer.Option(
            "--rc/--no-rc",
            help="Average forward and reverse-complement predictions (on by default: it "
            "raised test AUROC for every model that learned on the ENCODE sets, +0.002 on "
            "easy ones, +0.010 to +0.019 on hard ones).",
        ),
    ] = True,
    baseline: Annotated[
        bool,
        typer.Option(
            "--baseline/--no-baseline",
            help="Also score a logistic regression on k-mer counts (k <= 6, both strands), "
            "fitted once on the run's training split and kept in the run.",
        ),
    ] = True,
    batch_size: Annotated[int, typer.Option(min=1, help="Prediction batch size.")] = 512,
    verbose: Annotated[bool, typer.Option("--progress/--no-progress", help="Progress bar.")] = True,
) -> None:
    """Per-target AUROC/AUPRC (or Pearson/Spearman) of a trained run, beside a k-mer baseline.

    The data's label columns are matched to the run's targets by name (reordered as
    needed; names that do not match are refused, listing both). The run's own test split
    is scored into RUN_DIR/metrics/test.tsv; another file (or split) into
    RUN_DIR/metrics/evaluations/<file name>/, beside the run's own metrics. Binary targets
    also get baseline_auroc and baseline_auprc: a logistic regression on k-mer counts,
    trained on the run's training split (regularization chosen on its validation split).
    """
    from motiflens.steps.evaluate import evaluate

    result = evaluate(
        run_dir,
        data,
        split=split,
        label_columns=label_column,
        reverse_complement=rc,
        baseline=baseline,
        batch_size=batch_size,
        verbose=verbose,
    )
    typer.echo(str(result))


@app.command()
@friendly
def predict(
    run_dir: RunDir,
    source: Source,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="TSV to write (default RUN_DIR/predictions.tsv)."),
    ] = None,
    genome: GenomeOpt = None,
    split: SplitOpt = "test",
    rc: Annotated[bool, typer.Option(help="Average forward and reverse complement.")] = False,
    raw: Annotated[bool, typer.Option(help="Write logits instead of probabilities.")] = False,
    pad: Annotated[
        bool, typer.Option(help="Centre-pad/trim sequences of another length (else refuse).")
    ] = True,
    batch_size: Annotated[int, typer.Option(min=1, help="Sequences per batch.")] = 1024,
    verbose: Annotated[bool, typer.Option("--progress/--no-progress", help="Progress bar.")] = True,
    devices: DevicesOpt = "1",
    num_nodes: NumNodesOpt = 1,
    strategy: StrategyOpt = "auto",
    accelerator: AcceleratorOpt = "auto",
) -> None:
    """Predict every target for sequences; one TSV row per sequence, one column per target.

    With --devices N (and --num-nodes) each process predicts every N-th batch and the
    first writes the rows back in input order: the same file as one process writes.
    """
    from motiflens.distributed import Launch
    from motiflens.steps.predict import predict as predict_step

    launch = Launch.from_cli(devices, num_nodes, strategy, accelerator)
    report = predict_step(
        run_dir,
        source,
        out=out,
        genome=genome,
        split=split,
        batch_size=batch_size,
        reverse_complement=rc,
        raw=raw,
        pad=pad,
        verbose=verbose,
        devices=launch.devices,
        num_nodes=launch.num_nodes,
        strategy=launch.strategy,
        accelerator=launch.accelerator,
    )
    if report is not None:  # None in the other processes of a multi-process run
        typer.echo(str(report))
