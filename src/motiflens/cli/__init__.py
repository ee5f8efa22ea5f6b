"""The motiflens command line: a thin layer over the Python API.

Each module registers its verbs on the one Typer ``app``; importing them here is what
makes the verbs exist.
"""

# isort: off
# Registration order is the order `motiflens --help` lists the verbs in: pipeline order.
from motiflens.cli import data  # noqa: F401
from motiflens.cli import training  # noqa: F401
from motiflens.cli import tune  # noqa: F401
from motiflens.cli import explain  # noqa: F401
from motiflens.cli import motifs  # noqa: F401
from motiflens.cli import modisco  # noqa: F401
from motiflens.cli import variants  # noqa: F401
from motiflens.cli import scan  # noqa: F401
from motiflens.cli import tracks  # noqa: F401
from motiflens.cli import dashboard  # noqa: F401

# isort: on
from motiflens.cli.common import app


def main() -> None:
    """Console-script entry point."""
    app()


__all__ = ["app", "main"]
