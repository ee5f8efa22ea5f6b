"""The motiflens command line: a thin layer over the Python API."""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import numpy as np
import typer

from motiflens.errors import InputError

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="Deep learning on regulatory DNA: build datasets, train models, see what they learned.",
)
dataset_app = typer.Typer(no_args_is_help=True, help="Build and inspect dataset files.")
app.add_typer(dataset_app, name="dataset")

F = TypeVar("F", bound=Callable[..., Any])

# Options shared by the verbs that read a run and sequences: one definition each.
RunDir = Annotated[Path, typer.Argument(help="Trained run directory.")]
Source = Annotated[Path, typer.Argument(help="FASTA, BED (with --genome) or dataset file.")]
Targets = Annotated[list[str] | None, typer.Option(help="Target name (repeatable; default all).")]
GenomeOpt = Annotated[Path | None, typer.Option(help="Genome FASTA for BED input.")]
SplitOpt = Annotated[str, typer.Option(help="Split of a dataset file.")]


def _friendly(fn: F) -> F:
    """Show bad-input errors as a message and exit code 2 instead of a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        logging.basicConfig(level=logging.WARNING, format="warning: %(message)s")
        try:
            return fn(*args, **kwargs)
        except (InputError, ValueError) as err:
            if os.environ.get("MOTIFLENS_DEBUG"):
                raise
            typer.secho(f"error: {err}", fg=typer.colors.RED, err=True)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


class SplitMode(StrEnum):
    chrom = "chrom"
    random = "random"


class SeqFormat(StrEnum):
    auto = "auto"
    fasta = "fasta"
    table = "table"
    deepbind = "deepbind"


class Negatives(StrEnum):
    none = "none"
    shuffle = "shuffle"


@app.command()
@_friendly
def simulate(
    out: Annotated[Path, typer.Argument(help="Dataset file to write (.h5).")],
    n_sequences: Annotated[int, typer.Option(help="Number of sequences.")] = 30000,
    length: Annotated[int, typer.Option(help="Sequence length (bp).")] = 200,
    gc: Annotated[float, typer.Option(help="GC content of the iid background.")] = 0.41,
    markov_order: Annotated[
        int | None,
        typer.Option(help="Use a Markov background of this order instead of iid GC."),
    ] = None,
    decoys: Annotated[bool, typer.Option(help="Plant lone halves of pairs in negatives.")] = True,
    valid: Annotated[float, typer.Option(help="Validation fraction or count.")] = 0.1,
    test: Annotated[float, typer.Option(help="Test fraction or count.")] = 0.1,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same file).")] = 1,
) -> None:
    """Simulate a multi-task dataset with planted JASPAR motifs and recorded ground truth."""
    from motiflens.data.simulate import simulate as run

    summary = run(
        out,
        n_sequences=n_sequences,
        length=length,
        background="gc" if markov_order is None else "markov",
        gc=gc,
        markov_order=markov_order or 1,
        decoys=decoys,
        valid=valid,
        test=test,
        seed=seed,
    )
    typer.echo(str(summary))


@dataset_app.command("peaks")
@_friendly
def dataset_peaks(
    targets: Annotated[Path, typer.Argument(help="Table of 'label  BED-path' lines.")],
    genome: Annotated[Path, typer.Argument(help="Genome FASTA (plain or bgzip).")],
    out: Annotated[Path, typer.Argument(help="Dataset file to write (.h5).")],
    size: Annotated[int, typer.Option(help="Region width (bp).")] = 600,
    merge_overlap: Annotated[int, typer.Option(help="Merge windows overlapping this much.")] = 200,
    drop_chrom: Annotated[
        list[str] | None, typer.Option(help="Chromosome to drop (repeatable), e.g. chrY.")
    ] = None,
    canonical_only: Annotated[
        bool, typer.Option(help="Keep only numbered chromosomes, X and Y.")
    ] = False,
    split: Annotated[SplitMode, typer.Option(help="Held-out chromosomes or random.")] = (
        SplitMode.chrom
    ),
    valid_chrom: Annotated[
        list[str] | None, typer.Option(help="Validation chromosome (repeatable). Default chr8.")
    ] = None,
    test_chrom: Annotated[
        list[str] | None, typer.Option(help="Test chromosome (repeatable). Default chr9.")
    ] = None,
    valid: Annotated[float, typer.Option(help="Random split: validation fraction/count.")] = 0.1,
    test: Annotated[float, typer.Option(help="Random split: test fraction/count.")] = 0.1,
    seed: Annotated[int, typer.Option(help="Seed for the split and the order.")] = 1,
) -> None:
    """Peaks (one BED per target) + genome -> merged regions, activity table, dataset."""
    from motiflens.data.preprocess import preprocess_peaks

    report = preprocess_peaks(
        targets,
        genome,
        out,
        size=size,
        merge_overlap=merge_overlap,
        drop_chroms=drop_chrom or (),
        canonical_only=canonical_only,
        split=split.value,
        valid_chroms=valid_chrom or ("chr8",),
        test_chroms=test_chrom or ("chr9",),
        valid=valid,
        test=test,
        seed=seed,
    )
    typer.echo(str(report))


@dataset_app.command("sequences")
@_friendly
def dataset_sequences(
    sources: Annotated[
        list[Path],
        typer.Argument(help="Labelled FASTA, TSV/CSV or DeepBind file(s); several are joined."),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Dataset file to write (.h5).")],
    fmt: Annotated[SeqFormat, typer.Option("--format", help="Input format.")] = SeqFormat.auto,
    test_file: Annotated[
        Path | None, typer.Option("--test-file", help="Separate test set (same format).")
    ] = None,
    length: Annotated[
        int | None, typer.Option(help="Centre-pad/trim to this length (default: most common).")
    ] = None,
    negatives: Annotated[
        Negatives, typer.Option(help="Add a dinucleotide shuffle of each positive as negative.")
    ] = Negatives.none,
    sequence_column: Annotated[str, typer.Option(help="Table: sequence column.")] = "sequence",
    label_column: Annotated[
        list[str] | None, typer.Option(help="Table: label column (repeatable).")
    ] = None,
    name_column: Annotated[str | None, typer.Option(help="Table: name column.")] = None,
    continuous: Annotated[bool, typer.Option(help="Labels are continuous values.")] = False,
    valid: Annotated[float, typer.Option(help="Validation fraction or count.")] = 0.1,
    test: Annotated[float, typer.Option(help="Test fraction/count (without --test-file).")] = 0.1,
    seed: Annotated[int, typer.Option(help="Seed for shuffles and splits.")] = 1,
) -> None:
    """Labelled sequences (DeMo FASTA, TSV/CSV, DeepBind ENCODE) -> dataset."""
    from motiflens.data.labelled import build_sequence_dataset, concat_labelled, read_sequences

    def read(path: Path):
        return read_sequences(
            path,
            fmt.value,
            continuous=continuous,
            sequence_column=sequence_column,
            label_columns=label_column,
            name_column=name_column,
        )

    train = concat_labelled([read(p) for p in sources])
    report = build_sequence_dataset(
        out,
        train,
        test=read(test_file) if test_file else None,
        length=length,
        negatives=None if negatives is Negatives.none else negatives.value,
        valid=valid,
        test_fraction=test,
        seed=seed,
        continuous=continuous,
    )
    typer.echo(str(report))


@dataset_app.command("info")
@_friendly
def dataset_info(
    path: Annotated[Path, typer.Argument(help="Dataset file (.h5).")],
) -> None:
    """Print a dataset file's splits, shapes, targets and positive rates."""
    from motiflens.data.hdf5 import dataset_info as info_of

    info = info_of(path)
    typer.echo(f"{info['path']}")
    typer.echo(f"  layout {info.get('layout', '?')}, length {info.get('length', '?')} bp")
    for split, entry in info["splits"].items():
        typer.echo(f"  {split:<6} {entry['n']:>9,} sequences  shape {entry['shape']}")
    targets = info["targets"]
    typer.echo(f"  {len(targets)} targets")
    splits = list(info["splits"])
    key = "positive_rate" if all("positive_rate" in info["splits"][s] for s in splits) else "mean"
    width = max([len(t) for t in targets] + [6])
    typer.echo(f"    {'target':<{width}}  " + "  ".join(f"{s:>7}" for s in splits))
    shown = targets if len(targets) <= 40 else targets[:40]
    for i, name in enumerate(shown):
        vals = "  ".join(f"{info['splits'][s][key][i]:>7.3f}" for s in splits)
        typer.echo(f"    {name:<{width}}  {vals}")
    if len(targets) > len(shown):
        typer.echo(f"    ... {len(targets) - len(shown)} more")
    typer.echo(f"  ({'positive rate' if key == 'positive_rate' else 'mean'} per split)")


class ModelName(StrEnum):
    basset = "basset"
    cnn = "cnn"
    rnn = "rnn"
    cnn_rnn = "cnn-rnn"


class Preset(StrEnum):
    basset = "basset"
    demo = "demo"


@app.command()
@_friendly
def train(
    dataset: Annotated[Path, typer.Argument(help="Dataset file (.h5) with train/valid splits.")],
    run_dir: Annotated[Path, typer.Argument(help="Run directory to write.")],
    config: Annotated[
        Path | None, typer.Option(help="YAML config (model + training); options override it.")
    ] = None,
    model: Annotated[ModelName | None, typer.Option(help="Architecture.")] = None,
    preset: Annotated[
        Preset | None, typer.Option(help="Optimizer preset: Basset's RMSprop or DeMo's Adam.")
    ] = None,
    max_epochs: Annotated[int | None, typer.Option(help="Most epochs to run.")] = None,
    patience: Annotated[int | None, typer.Option(help="Early-stopping patience.")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Batch size.")] = None,
    lr: Annotated[float | None, typer.Option(help="Learning rate.")] = None,
    rc: Annotated[
        bool | None, typer.Option("--rc/--no-rc", help="Reverse-complement augmentation.")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed.")] = None,
    resume: Annotated[bool, typer.Option(help="Continue from checkpoints/last.ckpt.")] = False,
    devices: Annotated[str, typer.Option(help="Lightning devices (auto, 1, 2, ...).")] = "auto",
    num_nodes: Annotated[int, typer.Option(help="Lightning nodes.")] = 1,
    strategy: Annotated[str, typer.Option(help="Lightning strategy (auto, ddp, ...).")] = "auto",
    accelerator: Annotated[str, typer.Option(help="auto, cpu, gpu.")] = "auto",
    progress: Annotated[bool, typer.Option(help="Show the progress bar.")] = True,
) -> None:
    """Train a model on a dataset; writes weights, config and metrics into RUN_DIR."""
    from motiflens.config import RunConfig
    from motiflens.training import train as run

    if resume and config is None and (run_dir / "config.yaml").exists():
        config = run_dir / "config.yaml"
    base = RunConfig.load_yaml(config).to_dict() if config else RunConfig().to_dict()
    if model is not None and model.value != base["model"]["name"]:
        base["model"] = {"name": model.value, "task": base["model"]["task"]}
    overrides = {
        "preset": preset.value if preset else None,
        "max_epochs": max_epochs,
        "patience": patience,
        "batch_size": batch_size,
        "lr": lr,
        "reverse_complement": rc,
        "seed": seed,
    }
    training = base["training"]
    if preset is not None:
        # a new preset brings its own optimizer settings, not the old preset's
        training = {k: v for k, v in training.items() if k in ("patience", "monitor", "seed")}
    training.update({k: v for k, v in overrides.items() if v is not None})
    cfg = RunConfig.from_dict({"model": base["model"], "training": training})
    result = run(
        dataset,
        run_dir,
        cfg,
        resume=resume,
        devices=int(devices) if devices.isdigit() else devices,
        num_nodes=num_nodes,
        strategy=strategy,
        accelerator=accelerator,
        progress=progress,
    )
    typer.echo(str(result))


@app.command("test")
@_friendly
def test_cmd(
    run_dir: RunDir,
    data: Annotated[
        Path | None,
        typer.Argument(help="Dataset file or labelled FASTA/TSV/DeepBind (default: training set)."),
    ] = None,
    split: SplitOpt = "test",
    rc: Annotated[bool, typer.Option(help="Average forward and reverse complement.")] = False,
    batch_size: Annotated[int, typer.Option(help="Prediction batch size.")] = 512,
    progress: Annotated[bool, typer.Option(help="Show the progress bar.")] = True,
) -> None:
    """Per-target AUROC/AUPRC (or Pearson/Spearman) into RUN_DIR/metrics/test.tsv."""
    from motiflens.evaluation import evaluate_run

    metrics, summary = evaluate_run(
        run_dir, data, split=split, reverse_complement=rc, batch_size=batch_size, progress=progress
    )
    with_auc = "auroc" in metrics
    for row in metrics.itertuples(index=False):
        if with_auc:
            typer.echo(f"  {row.target:<24} AUROC {row.auroc:.4f}  AUPRC {row.auprc:.4f}")
        else:
            typer.echo(f"  {row.target:<24} r {row.pearson:.4f}  rho {row.spearman:.4f}")
    typer.echo(summary)
    typer.echo(f"metrics written to {run_dir / 'metrics' / 'test.tsv'}")


@app.command()
@_friendly
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
    batch_size: Annotated[int, typer.Option(help="Sequences per batch.")] = 1024,
    progress: Annotated[bool, typer.Option(help="Show the progress bar.")] = True,
) -> None:
    """Predict every target for sequences; one TSV row per sequence, one column per target."""
    from motiflens.prediction import predict_file

    report = predict_file(
        run_dir,
        source,
        out or run_dir / "predictions.tsv",
        genome=genome,
        split=split,
        batch_size=batch_size,
        reverse_complement=rc,
        raw=raw,
        pad=pad,
        progress=progress,
    )
    typer.echo(str(report))


class OptimizeMethod(StrEnum):
    demo = "demo"
    sequence = "sequence"


def _safe(name: str) -> str:
    """A target or sequence name usable as a file name."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:80]


@app.command()
@_friendly
def ism(
    run_dir: RunDir,
    source: Source,
    target: Targets = None,
    window: Annotated[
        int | None, typer.Option(help="Mutate only the central WINDOW positions.")
    ] = None,
    rc: Annotated[bool, typer.Option(help="Average forward and reverse complement.")] = False,
    genome: GenomeOpt = None,
    split: SplitOpt = "test",
    n: Annotated[int, typer.Option("-n", help="Number of sequences.")] = 10,
    figures: Annotated[int, typer.Option(help="Figures for the first this many.")] = 10,
    method: Annotated[str, typer.Option(help="auto, fast or naive.")] = "auto",
) -> None:
    """In-silico saturation mutagenesis: every single-base change, scored per target."""
    from motiflens.explain.inputs import explain_dir, load_sequences, resolve_targets
    from motiflens.explain.ism import (
        ism_chunks,
        ism_output_bytes,
        loss_gain,
        saturation_mutagenesis,
        write_ism,
        write_ism_table,
    )
    from motiflens.models import load_model
    from motiflens.plots.ism import plot_ism
    from motiflens.prediction import read_target_labels
    from motiflens.runs import record_step
    from motiflens.sequence.onehot import decode

    model, config = load_model(run_dir)
    labels = read_target_labels(run_dir, config.n_targets)
    targets = resolve_targets(target, labels)
    names, X = load_sequences(source, length=config.length, genome=genome, split=split, limit=n)
    width = window or config.length
    size = ism_output_bytes(len(names), width, len(targets))
    typer.echo(f"ISM of {len(names)} sequence(s) x {width} positions x {len(targets)} target(s): "
               f"{size / 1e6:,.1f} MB of output")  # fmt: skip
    out = explain_dir(run_dir, "ism")
    kw = dict(window=window, targets=targets, reverse_complement=rc, method=method)
    chosen = [labels[t] for t in targets]
    write_ism(out / "ism.h5", ism_chunks(model, X, verbose=True, **kw), names, chosen)
    first = saturation_mutagenesis(model, X[:figures], **kw)
    write_ism_table(out / "ism.tsv", first, names[:figures], chosen)
    loss, gain = loss_gain(first.delta)
    seqs = decode(X[:figures])
    for i in range(len(seqs)):
        region = "".join(seqs[i][p] for p in first.positions)
        for k, name in enumerate(chosen):
            plot_ism(
                first.delta[i, :, :, k], loss[i, :, k], gain[i, :, k], region,
                out / f"{i:04d}_{_safe(names[i])}_{_safe(name)}.png",
                title=f"{names[i]} | {name}", positions=first.positions,
            )  # fmt: skip
    record_step(run_dir, "ism", ["explain/ism/"], n=len(names), method=first.method_used)
    typer.echo(f"ISM ({first.method_used}) -> {out} (ism.h5, ism.tsv, figures)")


class SaliencyMethod(StrEnum):
    gradient = "gradient"
    gradient_x_input = "gradient_x_input"
    demo = "demo"
    integrated_gradients = "integrated_gradients"
    deeplift_shap = "deeplift_shap"


@app.command()
@_friendly
def saliency(
    run_dir: RunDir,
    source: Source,
    method: Annotated[SaliencyMethod, typer.Option(help="Attribution method.")] = (
        SaliencyMethod.gradient_x_input
    ),
    target: Targets = None,
    genome: GenomeOpt = None,
    split: SplitOpt = "test",
    n: Annotated[int, typer.Option("-n", help="Number of sequences.")] = 10,
    shuffles: Annotated[int, typer.Option(help="Shuffled references (IG, DeepLIFT/SHAP).")] = 20,
    steps: Annotated[int, typer.Option(help="Integrated-gradients steps.")] = 50,
    figures: Annotated[int, typer.Option(help="Logos for the first this many.")] = 10,
    seed: Annotated[int, typer.Option(help="Seed of the shuffled references.")] = 1,
) -> None:
    """Attributions (gradient x input, DeMo saliency, IG, DeepLIFT/SHAP) with logos."""
    import h5py

    from motiflens.explain.inputs import explain_dir, load_sequences, resolve_targets
    from motiflens.explain.saliency import attribute
    from motiflens.models import load_model
    from motiflens.plots.attribution import plot_attribution_heatmap, plot_attribution_logo
    from motiflens.prediction import read_target_labels
    from motiflens.runs import atomic_path, record_step

    model, config = load_model(run_dir)
    labels = read_target_labels(run_dir, config.n_targets)
    targets = resolve_targets(target, labels)
    names, X = load_sequences(source, length=config.length, genome=genome, split=split, limit=n)
    result = attribute(
        model, X, target=targets, method=method.value, n_shuffles=shuffles, n_steps=steps,
        verbose=True, random_state=seed,
    )  # fmt: skip
    out = explain_dir(run_dir, "saliency")
    with atomic_path(out / f"{method.value}.h5") as tmp, h5py.File(tmp, "w") as h5:
        h5["attributions"] = result.attributions  # (N, T_sel, 4, L)
        h5["onehot"] = X
        h5["names"] = np.asarray(names, dtype=object).astype("S")
        h5["targets"] = np.asarray([labels[t] for t in targets], dtype="S")
        if result.convergence_delta is not None:
            h5["convergence_delta"] = result.convergence_delta
    for i in range(min(figures, len(names))):
        for k, t in enumerate(targets):
            stem = out / f"{method.value}_{i:04d}_{_safe(names[i])}_{_safe(labels[t])}"
            attr = result.attributions[i, k]
            plot_attribution_logo(attr, f"{stem}_logo.png", title=f"{names[i]} | {labels[t]}")
            plot_attribution_heatmap(attr, f"{stem}_heat.png", title=f"{names[i]} | {labels[t]}")
    record_step(run_dir, "saliency", ["explain/saliency/"], method=method.value, n=len(names))
    text = f"{method.value} attributions for {len(names)} sequence(s) x {len(targets)} target(s)"
    if result.max_delta is not None:
        text += f"; completeness error at most {100 * result.max_delta:.2f}%"
    typer.echo(f"{text} -> {out}")


@app.command()
@_friendly
def temporal(
    run_dir: Annotated[Path, typer.Argument(help="Trained rnn or cnn-rnn run directory.")],
    source: Source,
    target: Targets = None,
    genome: GenomeOpt = None,
    split: SplitOpt = "test",
    n: Annotated[int, typer.Option("-n", help="Number of sequences.")] = 10,
    figures: Annotated[int, typer.Option(help="Heat maps for the first this many.")] = 10,
) -> None:
    """Temporal output scores: the prediction on every prefix and suffix (DeMo)."""
    import h5py

    from motiflens.explain.inputs import explain_dir, load_sequences, resolve_targets
    from motiflens.explain.temporal import temporal_scores
    from motiflens.models import load_model
    from motiflens.plots.explain import temporal_heatmap
    from motiflens.plots.style import save_figure
    from motiflens.prediction import read_target_labels
    from motiflens.runs import atomic_path, record_step
    from motiflens.sequence.onehot import decode

    model, config = load_model(run_dir)
    labels = read_target_labels(run_dir, config.n_targets)
    targets = resolve_targets(target, labels)
    names, X = load_sequences(source, length=config.length, genome=genome, split=split, limit=n)
    scores = temporal_scores(model, X, target=targets, verbose=True)
    out = explain_dir(run_dir, "temporal")
    with atomic_path(out / "temporal.h5") as tmp, h5py.File(tmp, "w") as h5:
        h5["forward"] = scores.forward
        h5["backward"] = scores.backward
        h5["names"] = np.asarray(names, dtype=object).astype("S")
        h5["targets"] = np.asarray([labels[t] for t in targets], dtype="S")
    seqs = decode(X)
    for i in range(min(figures, len(names))):
        for k, t in enumerate(targets):
            fig = temporal_heatmap(
                scores.forward[i, :, k], scores.backward[i, :, k], sequence=seqs[i],
                target_name=labels[t], title=names[i],
            )  # fmt: skip
            save_figure(fig, out / f"{i:04d}_{_safe(names[i])}_{_safe(labels[t])}.png")
    record_step(run_dir, "temporal", ["explain/temporal/"], source=str(source), n=len(names))
    typer.echo(f"temporal scores for {len(names)} sequence(s) x {len(targets)} target(s) -> {out}")


@app.command()
@_friendly
def optimize(
    run_dir: RunDir,
    target: Targets = None,
    method: Annotated[
        OptimizeMethod, typer.Option(help="demo: DeMo's continuous input; sequence: valid DNA.")
    ] = OptimizeMethod.demo,
    steps: Annotated[int, typer.Option(help="Optimization steps.")] = 1000,
    n: Annotated[int, typer.Option("-n", help="Independent starts per target.")] = 1,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 1,
) -> None:
    """Class optimization: the input each target likes most (logo, MEME, FASTA)."""
    import pandas as pd

    from motiflens.explain.inputs import explain_dir, resolve_targets
    from motiflens.explain.optimize import optimize_class, write_fasta, write_meme
    from motiflens.models import load_model
    from motiflens.plots.explain import class_optimization_logo
    from motiflens.plots.style import save_figure
    from motiflens.prediction import read_target_labels
    from motiflens.runs import atomic_path, record_step

    model, config = load_model(run_dir)
    labels = read_target_labels(run_dir, config.n_targets)
    out = explain_dir(run_dir, "optimize")
    rows, fasta_seqs, fasta_names = [], [], []
    for t in resolve_targets(target, labels):
        res = optimize_class(
            model, t, method=method.value, n_steps=steps, n_sequences=n, random_state=seed,
            verbose=True,
        )  # fmt: skip
        stem = _safe(labels[t])
        write_meme(res.matrix, out / f"{stem}.meme", f"{stem}_optimized")
        save_figure(class_optimization_logo(res.matrix[0], title=labels[t]), out / f"{stem}.png")
        for k, (seq, score) in enumerate(zip(res.sequences, res.scores, strict=True)):
            fasta_names.append(f"{stem}_{k}")
            fasta_seqs.append(seq)
            rows.append({"target": labels[t], "start": k, "score": float(np.ravel(score)[0]),
                         "sequence": seq})  # fmt: skip
    write_fasta(fasta_seqs, out / "designed.fa", names=fasta_names)
    with atomic_path(out / "optimize.tsv") as tmp:
        pd.DataFrame(rows).to_csv(tmp, sep="\t", index=False)
    record_step(run_dir, "optimize", ["explain/optimize/"], method=method.value, steps=steps)
    typer.echo(f"class optimization ({method.value}) for {len({r['target'] for r in rows})} "
               f"target(s) -> {out}")  # fmt: skip


def main() -> None:
    """Console-script entry point."""
    app()
