"""What every verb shares: the app, option types and the bad-input handler."""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

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

# Where predict / ism / variants run: Lightning's arguments, as `train` takes them. One
# process by default (a GPU machine does not start a process per GPU unasked).
DevicesOpt = Annotated[
    str, typer.Option(help="Devices per node (1, 2, ..., auto, or a list such as 0,1).")
]
NumNodesOpt = Annotated[int, typer.Option(help="Nodes (machines), e.g. under SLURM.")]
StrategyOpt = Annotated[
    str, typer.Option(help="Lightning strategy: auto, ddp (several processes), ddp_spawn.")
]
AcceleratorOpt = Annotated[str, typer.Option(help="auto, cpu, gpu.")]


def friendly(fn: F) -> F:
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
