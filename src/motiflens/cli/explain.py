"""Verbs that explain predictions: ism, saliency, temporal, optimize.

Each parses its options, calls one step of :mod:`motiflens.steps.explain` and prints what
it wrote. The steps are imported inside the verbs so that ``motiflens --help`` does not
load torch.
"""

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
    ProgressOpt,
    RunDir,
    Source,
    SplitOpt,
    StrategyOpt,
    Targets,
    app,
    friendly,
)

N = Annotated[int, typer.Option("-n", min=1, help="Number of sequences.")]


class OptimizeMethod(StrEnum):
    demo = "demo"
    sequence = "sequence"


class SaliencyMethod(StrEnum):
    gradient = "gradient"
    gradient_x_input = "gradient_x_input"
    demo = "demo"
    integrated_gradients = "integrated_gradients"
    deeplift_shap = "deeplift_shap"


@app.command()
@friendly
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
    n: N = 10,
    figures: Annotated[int, typer.Option(help="Figures for the first this many.")] = 10,
    method: Annotated[str, typer.Option(help="auto, fast or naive.")] = "auto",
    devices: DevicesOpt = "1",
    num_nodes: NumNodesOpt = 1,
    strategy: StrategyOpt = "auto",
    accelerator: AcceleratorOpt = "auto",
    verbose: ProgressOpt = True,
) -> None:
    """In-silico saturation mutagenesis: every single-base change, scored per target.

    Writes ism.h5 and ism.tsv (every sequence) and Basset's figure for the first
    --figures sequences. With --devices N (and --num-nodes) the sequences are shared
    among N processes in chunks and the first writes the files in input order.
    """
    from motiflens.distributed import Launch
    from motiflens.steps import explain as steps

    result = steps.ism(
        run_dir,
        source,
        targets=target,
        window=window,
        reverse_complement=rc,
        genome=genome,
        split=split,
        n=n,
        figures=figures,
        method=method,  # type: ignore[arg-type]
        launch=Launch.from_cli(devices, num_nodes, strategy, accelerator),
        verbose=verbose,
    )
    if result is None:
        return  # another process of a multi-process run: rank 0 reports
    drawn = min(figures, result.n_sequences)
    typer.echo(
        f"ISM ({result.method_used}) of {result.n_sequences} sequence(s) -> {result.path.parent}"
        f" (ism.h5 and ism.tsv: all sequences; figures: the first {drawn})"
    )
    if result.tracks:
        typer.echo(f"genome tracks (bigWig) -> {result.tracks[0].parent}")


@app.command()
@friendly
def saliency(
    run_dir: RunDir,
    source: Source,
    method: Annotated[SaliencyMethod, typer.Option(help="Attribution method.")] = (
        SaliencyMethod.gradient_x_input
    ),
    target: Targets = None,
    genome: GenomeOpt = None,
    split: SplitOpt = "test",
    n: N = 10,
    shuffles: Annotated[int, typer.Option(help="Shuffled references (IG, DeepLIFT/SHAP).")] = 20,
    steps: Annotated[int, typer.Option(help="Integrated-gradients steps.")] = 50,
    figures: Annotated[int, typer.Option(help="Logos for the first this many.")] = 10,
    hypothetical: Annotated[
        bool,
        typer.Option(
            "--hypothetical",
            help="Draw the hypothetical contributions of every base instead of their "
            "projection on the sequence (gradient_x_input, integrated_gradients, "
            "deeplift_shap).",
        ),
    ] = False,
    correct_gradient: Annotated[
        bool,
        typer.Option(
            help="Remove the gradient's component off the one-hot simplex (Majdandzic et "
            "al. 2023) for gradient and gradient_x_input.",
        ),
    ] = True,
    seed: Annotated[int, typer.Option(help="Seed of the shuffled references.")] = 1,
    verbose: ProgressOpt = True,
) -> None:
    """Attributions (gradient x input, DeMo saliency, IG, DeepLIFT/SHAP) with logos.

    The file keeps both the contributions of the observed bases (attributions) and the
    hypothetical contributions of every base (hypothetical); the logos show the former
    unless --hypothetical is given.
    """
    from motiflens.steps import explain as explain_steps

    result = explain_steps.saliency(
        run_dir,
        source,
        method=method.value,
        targets=target,
        genome=genome,
        split=split,
        n=n,
        n_shuffles=shuffles,
        n_steps=steps,
        correct_gradient=correct_gradient,
        figures=figures,
        hypothetical=hypothetical,
        random_state=seed,
        verbose=verbose,
    )
    text = (
        f"{result.method} attributions for {result.n_sequences} sequence(s) x "
        f"{len(result.target_labels)} target(s)"
    )
    if result.hypothetical:
        text += " (figures: hypothetical contributions)"
    if result.max_delta is not None:
        text += f"; completeness error at most {100 * result.max_delta:.2f}%"
    typer.echo(f"{text} -> {result.path}")
    if result.tracks:
        typer.echo(f"genome tracks (bigWig) -> {result.tracks[0].parent}")


@app.command()
@friendly
def temporal(
    run_dir: Annotated[Path, typer.Argument(help="Trained rnn or cnn-rnn run directory.")],
    source: Source,
    target: Targets = None,
    genome: GenomeOpt = None,
    split: SplitOpt = "test",
    n: N = 10,
    figures: Annotated[int, typer.Option(help="Heat maps for the first this many.")] = 10,
    verbose: ProgressOpt = True,
) -> None:
    """Temporal output scores: the prediction on every prefix and suffix (DeMo)."""
    from motiflens.steps import explain as steps

    result = steps.temporal(
        run_dir,
        source,
        targets=target,
        genome=genome,
        split=split,
        n=n,
        figures=figures,
        verbose=verbose,
    )
    typer.echo(
        f"temporal scores for {result.n_sequences} sequence(s) x "
        f"{len(result.target_labels)} target(s) -> {result.path}"
    )


@app.command()
@friendly
def optimize(
    run_dir: RunDir,
    target: Targets = None,
    method: Annotated[
        OptimizeMethod,
        typer.Option(
            help="sequence: valid DNA and the model's preference around it (default); "
            "demo: DeMo's continuous input. Each method writes its own folder."
        ),
    ] = OptimizeMethod.sequence,
    steps: Annotated[int, typer.Option(help="Optimization steps.")] = 1000,
    n: Annotated[int, typer.Option("-n", min=1, help="Independent starts per target.")] = 4,
    db: Annotated[
        str | None,
        typer.Option(
            help="Motif database to name each motif with: jaspar:<release>[:<collection>"
            "[:<tax_group>]] or a MEME file. Default JASPAR 2024 CORE vertebrates."
        ),
    ] = None,
    match: Annotated[
        bool, typer.Option(help="Name each motif with its best TomTom match in --db.")
    ] = True,
    q: Annotated[float, typer.Option(min=0.0, max=1.0, help="TomTom q-value threshold.")] = 0.1,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 1,
    verbose: ProgressOpt = True,
) -> None:
    """Class optimization: the input each target likes most and its motif (logo, MEME, FASTA)."""
    from motiflens.steps.motifs import DEFAULT_DB
    from motiflens.steps.optimize import optimize as optimize_step

    result = optimize_step(
        run_dir,
        targets=target,
        method=method.value,  # type: ignore[arg-type]
        n_steps=steps,
        n=n,
        db=(db or DEFAULT_DB) if match else None,
        q=q,
        random_state=seed,
        verbose=verbose,
    )
    typer.echo(result.summary())
