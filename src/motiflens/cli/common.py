"""What every verb shares: the app, option types and the error handler."""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import click
import typer

from motiflens.files import disk_full, disk_full_target, open_hdf5_temp_files
from motiflens.memory import keep_freed_memory

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
ProgressOpt = Annotated[
    bool,
    typer.Option(
        "--progress/--no-progress",
        help="Progress bars (without a terminal: a plain line every 5%).",
    ),
]


def debugging() -> bool:
    """Whether errors show their traceback (``--debug`` or ``MOTIFLENS_DEBUG=1``)."""
    return os.environ.get("MOTIFLENS_DEBUG", "").strip().lower() not in ("", "0", "false", "no")


@app.callback()
def _options(
    ctx: typer.Context,
    debug: Annotated[
        bool,
        typer.Option(
            "--debug",
            help="Show the full traceback of an error (same as MOTIFLENS_DEBUG=1).",
        ),
    ] = False,
) -> None:
    """Options for every verb."""
    if debug:
        os.environ["MOTIFLENS_DEBUG"] = "1"
    if ctx.invoked_subcommand != "serve":
        # A verb allocates and frees large arrays many times, then ends: freed memory kept
        # for reuse instead of being unmapped and faulted in again (filter influence on the
        # demo: 3.3 -> 2.0 s). The dashboard server runs for days: it keeps the default.
        keep_freed_memory()


#: Exit code of a failure the user can fix (bad input, full disk, missing permission).
USER_ERROR = 2
#: Exit code of a bug in motiflens (an exception nobody expected).
INTERNAL_ERROR = 1
#: Exit code after Ctrl-C, as a shell reports SIGINT (128 + 2).
INTERRUPTED = 130


def describe(err: BaseException) -> tuple[str, int]:
    """The one message (without ``error:``) and the exit code for an exception."""
    if isinstance(err, ValueError):  # InputError included: file, line, what, hint
        return str(err), USER_ERROR
    if disk_full(err):
        target = disk_full_target(err)
        what = "disk quota exceeded" if "quota" in str(err).lower() else "no space left on device"
        where = f" writing {target}" if target else ""
        hint = "free some space there (or write somewhere else) and run the command again"
        return f"{what}{where}\n  hint: {hint}", USER_ERROR
    if isinstance(err, OSError):
        if err.filename is None:
            return str(err), USER_ERROR
        name = str(err.filename)
        if err.filename2 is not None:
            name = f"{name} -> {err.filename2}"
        reason = (err.strerror or str(err)).rstrip(".")
        return f"{name}: {reason[:1].lower()}{reason[1:]}", USER_ERROR
    if isinstance(err, MemoryError) or type(err).__name__ == "OutOfMemoryError":
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        text = "out of memory" + (f" ({first[:200]})" if first else "")
        return f"{text}\n  hint: use a smaller --batch-size or a smaller model", USER_ERROR
    first = (str(err).strip().splitlines() or [""])[0][:500]
    text = f"internal error: {type(err).__name__}: {first}".rstrip(": ")
    return f"{text}\n  rerun with --debug for the traceback", INTERNAL_ERROR


def _fail(message: str, code: int) -> NoReturn:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    stuck = open_hdf5_temp_files()
    if stuck:
        # An HDF5 writer failed (a full disk) with its file still open: closing it, even
        # at interpreter exit, can crash the process (exit 139). The file is a temporary
        # one, so remove it and end here, without that close.
        for name in stuck:
            Path(name).unlink(missing_ok=True)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    raise typer.Exit(code)


def friendly(fn: F) -> F:
    """End any failure in one message and an exit code instead of a traceback.

    Bad input (:class:`~motiflens.errors.InputError`, ``ValueError``), a full disk and
    other file-system errors exit with 2 (:data:`USER_ERROR`) and name the file; Ctrl-C
    exits with 130; anything else is a bug: one line naming the exception, exit code 1.
    With ``--debug`` or ``MOTIFLENS_DEBUG=1`` the exception propagates with its traceback.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        logging.basicConfig(level=logging.WARNING, format="warning: %(message)s")
        try:
            return fn(*args, **kwargs)
        except (
            typer.Exit,
            typer.Abort,
            typer.TyperException,  # typer's own (vendored) click errors: BadParameter, ...
            click.exceptions.Exit,
            click.exceptions.Abort,
            click.ClickException,
        ):
            raise  # typer's own way out (exit codes, bad option values): already handled
        except KeyboardInterrupt:
            if debugging():
                raise
            _fail("interrupted", INTERRUPTED)
        except Exception as err:
            if debugging():
                raise
            _fail(*describe(err))

    return wrapper  # type: ignore[return-value]
