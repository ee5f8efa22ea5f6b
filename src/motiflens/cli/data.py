"""Verbs that make datasets: simulate and dataset peaks|sequences|info."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from motiflens.cli.common import (
    ProgressOpt,
    app,
    dataset_app,
    friendly,
)
from motiflens.errors import InputError


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
@friendly
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
    progress: ProgressOpt = True,
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
        progress=progress,
    )
    typer.echo(str(summary))


@dataset_app.command("peaks")
@friendly
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
    progress: ProgressOpt = True,
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
        progress=progress,
    )
    typer.echo(str(report))


@dataset_app.command("sequences")
@friendly
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
    chrom_column: Annotated[
        str | None,
        typer.Option(
            help="Table: chromosome column (default: a column named chr, chrom or chromosome, "
            "any case). FASTA names give it as chr1:100-200 or name::chr1:100-200."
        ),
    ] = None,
    valid_chrom: Annotated[
        list[str] | None,
        typer.Option(
            help="Split by chromosome: validation chromosome (repeatable; chr8 matches 8). "
            "Default chr8 when only --test-chrom is given."
        ),
    ] = None,
    test_chrom: Annotated[
        list[str] | None,
        typer.Option(
            help="Split by chromosome: test chromosome (repeatable). Default chr9 when only "
            "--valid-chrom is given (none with --test-file)."
        ),
    ] = None,
    split_column: Annotated[
        str | None,
        typer.Option(
            help="Table: column giving each row's split (train/training, valid/validation/val, "
            "test/testing; any case)."
        ),
    ] = None,
    continuous: Annotated[bool, typer.Option(help="Labels are continuous values.")] = False,
    valid: Annotated[
        float | None, typer.Option(help="Random split: validation fraction or count (default 0.1).")
    ] = None,
    test: Annotated[
        float | None,
        typer.Option(
            help="Random split: test fraction or count (default 0.1; not with --test-file)."
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed for shuffles and splits.")] = 1,
) -> None:
    """Labelled sequences (DeMo FASTA, TSV/CSV, DeepBind ENCODE) -> dataset.

    Splits at random unless --valid-chrom/--test-chrom or --split-column is given.
    """
    from motiflens.data.labelled_build import build_from_files

    by_chrom = bool(valid_chrom or test_chrom)
    if test_chrom and test_file is not None:
        raise InputError(
            "--test-chrom and --test-file were both given; the test file is the test set",
            hint="drop --test-chrom, or drop --test-file to hold out test chromosomes",
        )
    if (by_chrom or split_column is not None) and (valid is not None or test is not None):
        raise InputError(
            "--valid/--test set the sizes of a random split; they do not apply to a split by "
            "chromosome or by split column"
        )
    report = build_from_files(
        out,
        sources,
        format=fmt.value,
        test_file=test_file,
        continuous=continuous,
        sequence_column=sequence_column,
        label_columns=label_column,
        name_column=name_column,
        chrom_column=chrom_column,
        split_column=split_column,
        split="chrom" if by_chrom else None,
        valid_chroms=valid_chrom or ("chr8",),
        test_chroms=test_chrom or ("chr9",),
        length=length,
        negatives=None if negatives is Negatives.none else negatives.value,
        valid=0.1 if valid is None else valid,
        test_fraction=0.1 if test is None else test,
        seed=seed,
    )
    typer.echo(str(report))


@dataset_app.command("info")
@friendly
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
    for problem in info.get("problems", []):
        typer.secho(f"warning: {problem}", fg=typer.colors.YELLOW, err=True)
