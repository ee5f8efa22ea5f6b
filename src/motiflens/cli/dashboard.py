"""Verbs that show a run: serve (the web dashboard) and report (one HTML file)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from motiflens.cli.common import ProgressOpt, RunDir, Targets, app, friendly
from motiflens.dashboard.pool import DEFAULT_QUEUE, DEFAULT_WORKERS


@app.command()
@friendly
def serve(
    run_dir: RunDir,
    host: Annotated[str, typer.Option(help="Address to bind (127.0.0.1: this machine only).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="Port to listen on (0: any free one).")] = 8000,
    genome: Annotated[
        Path | None, typer.Option(help="Genome FASTA, for chrom:start-end in the explorer.")
    ] = None,
    allow_host: Annotated[
        list[str] | None,
        typer.Option(
            help="Another host name the server answers to (repeatable; the loopback names "
            "and --host always work). Requests naming any other host are refused."
        ),
    ] = None,
    workers: Annotated[
        int, typer.Option(min=1, help="Explain/predict computations run at once.")
    ] = DEFAULT_WORKERS,
    queue: Annotated[
        int,
        typer.Option(min=0, help="Requests that may wait for a worker; more get 503 (busy)."),
    ] = DEFAULT_QUEUE,
) -> None:
    """The dashboard in the browser: overview, filters, explorer, stored results, variants."""
    from motiflens.dashboard.app import serve as run_server  # heavy: only when it runs

    run_server(
        run_dir,
        host=host,
        port=port,
        genome=genome,
        allow_hosts=allow_host or (),
        workers=workers,
        queue=queue,
        announce=typer.echo,
    )


@app.command()
@friendly
def report(
    run_dir: RunDir,
    out: Annotated[
        Path | None, typer.Option("-o", "--out", help="HTML file [default: RUN/report.html].")
    ] = None,
    top: Annotated[int, typer.Option(min=0, help="Precomputed test sequences per target.")] = 2,
    target: Targets = None,
    max_targets: Annotated[
        int, typer.Option(help="Targets with precomputed sequences, without --target.")
    ] = 12,
    sequences: Annotated[int, typer.Option(help="Stored sequences per result file.")] = 3,
    verbose: ProgressOpt = True,
) -> None:
    """One self-contained HTML report (opens offline) of the run, for sharing."""
    from motiflens.dashboard.export import report as write_report  # heavy: only when it runs

    path = write_report(
        run_dir,
        out,
        top=top,
        targets=target,
        max_targets=max_targets,
        sequences=sequences,
        verbose=verbose,
    )
    typer.echo(f"report -> {path} ({path.stat().st_size / 1e6:.1f} MB; opens offline)")
