"""Verbs that explain predictions: ism, saliency, temporal, optimize."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import numpy as np
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
    Targets,
    _friendly,
    app,
)
from motiflens.files import safe_name as _safe


class OptimizeMethod(StrEnum):
    demo = "demo"
    sequence = "sequence"


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
    devices: DevicesOpt = "1",
    num_nodes: NumNodesOpt = 1,
    strategy: StrategyOpt = "auto",
    accelerator: AcceleratorOpt = "auto",
) -> None:
    """In-silico saturation mutagenesis: every single-base change, scored per target.

    With --devices N (and --num-nodes) the sequences are shared among N processes in chunks
    and the first writes ism.h5 in input order, the table and the figures.
    """
    from motiflens.distributed import Launch, env_rank
    from motiflens.explain.inputs import explain_dir, load_sequences, resolve_targets
    from motiflens.explain.ism import (
        ism_output_bytes,
        loss_gain,
        saturation_mutagenesis,
        write_ism_table,
    )
    from motiflens.explain.ism_sharded import write_ism_sharded
    from motiflens.plots.ism import plot_ism
    from motiflens.runs import Run
    from motiflens.sequence.onehot import decode

    model = Run(run_dir).model()

    config = model.config
    labels = Run(run_dir).target_labels(config.n_targets)
    targets = resolve_targets(target, labels)
    names, X = load_sequences(source, length=config.length, genome=genome, split=split, limit=n)
    width = window or config.length
    size = ism_output_bytes(len(names), width, len(targets))
    if env_rank() == 0:
        typer.echo(f"ISM of {len(names)} sequence(s) x {width} positions x {len(targets)} "
                   f"target(s): {size / 1e6:,.1f} MB of output")  # fmt: skip
    out = explain_dir(run_dir, "ism")
    kw = dict(window=window, targets=targets, reverse_complement=rc, method=method)
    chosen = [labels[t] for t in targets]
    launch = Launch.from_cli(devices, num_nodes, strategy, accelerator)
    if write_ism_sharded(out / "ism.h5", model, X, names, chosen, launch=launch, verbose=True,
                         **kw) is None:  # fmt: skip
        return  # another process of a multi-process run: rank 0 writes the rest
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
    Run(run_dir).record_step("ism", ["explain/ism/"], n=len(names), method=first.method_used)
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
    from motiflens.files import atomic_path
    from motiflens.plots.attribution import plot_attribution_heatmap, plot_attribution_logo
    from motiflens.runs import Run

    model = Run(run_dir).model()

    config = model.config
    labels = Run(run_dir).target_labels(config.n_targets)
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
    Run(run_dir).record_step("saliency", ["explain/saliency/"], method=method.value, n=len(names))
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
    from motiflens.files import atomic_path
    from motiflens.plots.explain import temporal_heatmap
    from motiflens.plots.style import save_figure
    from motiflens.runs import Run
    from motiflens.sequence.onehot import decode

    model = Run(run_dir).model()

    config = model.config
    labels = Run(run_dir).target_labels(config.n_targets)
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
    Run(run_dir).record_step("temporal", ["explain/temporal/"], source=str(source), n=len(names))
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
    from motiflens.files import atomic_path
    from motiflens.plots.explain import class_optimization_logo
    from motiflens.plots.style import save_figure
    from motiflens.runs import Run

    model = Run(run_dir).model()

    config = model.config
    labels = Run(run_dir).target_labels(config.n_targets)
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
    Run(run_dir).record_step("optimize", ["explain/optimize/"], method=method.value, steps=steps)
    typer.echo(f"class optimization ({method.value}) for {len({r['target'] for r in rows})} "
               f"target(s) -> {out}")  # fmt: skip
