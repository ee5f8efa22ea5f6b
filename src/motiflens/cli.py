"""The motiflens command line: a thin layer over the Python API."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
dataset_app = typer.Typer(no_args_is_help=True, help="Build and inspect dataset files.")
app.add_typer(dataset_app, name="dataset")
