"""Run-level motif jobs: ``filters`` (Basset's motif analysis) and ``insert`` (motif insertion).

Each takes a run (or its path) and options, samples sequences (by default from the
run's training dataset), computes through :mod:`motiflens.explain.filters` or
:mod:`motiflens.explain.insertion`, clears what an earlier run left in its folder
(``explain/filters/``, ``explain/insertion/``), writes tables and figures, records the
step and returns a small result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import h5py
import numpy as np
import pandas as pd
import torch

from motiflens.data.simulate import read_ground_truth
from motiflens.errors import InputError
from motiflens.explain.filters import (
    FilterReport,
    analyze_filters,
    first_conv_model,
    planted_recovery,
)
from motiflens.explain.inputs import TargetSelection, sample_sequences
from motiflens.explain.insertion import insert_motifs, insertion_backgrounds, top_motifs
from motiflens.files import atomic_path, staged_folder
from motiflens.motifs.databases import jaspar_motif, load_database
from motiflens.motifs.meme import write_meme
from motiflens.motifs.pwm import Motif
from motiflens.plots.motifs import clustered_heatmap, filter_figures
from motiflens.plots.style import save_figure
from motiflens.runs import Run, as_run, holding_run
from motiflens.steps.explain import clear_outputs
from motiflens.steps.filter_tracks import (
    sequence_coordinates,
    write_filter_hits,
    write_motif_hits,
)

__all__ = [
    "DEFAULT_DB",
    "FiltersStepResult",
    "InsertStepResult",
    "filters",
    "insert",
    "write_filter_tables",
]

#: The motif database both steps compare with by default.
DEFAULT_DB = "jaspar:2024:CORE:vertebrates"

Source = str | Path


def _tsv(table: pd.DataFrame, path: Path) -> Path:
    with atomic_path(path) as tmp:
        table.to_csv(tmp, sep="\t", index=False, float_format="%.6g")
    return path


def write_filter_tables(report: FilterReport, out: str | Path) -> list[Path]:
    """``filters.tsv``, ``filters.meme``, ``matches.tsv``, ``matched.meme`` and (with
    influence) ``influence_targets.tsv`` into ``out``, atomically."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = [_tsv(report.table, out / "filters.tsv")]
    names = dict(zip(report.table["filter"], report.table["match_name"], strict=True))
    named = [
        Motif(m.id, names.get(int(m.id[len("filter") :])) or m.id, m.probs, m.nsites)
        for m in report.motifs
    ]
    written.append(write_meme(named, out / "filters.meme", background=report.stats.background))
    cols = ["filter", "target_id", "target_name", "offset", "overlap", "strand"]
    cols += ["p_value", "e_value", "q_value"]
    matches = report.matches[cols] if len(report.matches) else pd.DataFrame(columns=cols)
    written.append(_tsv(matches, out / "matches.tsv"))
    written.append(write_meme(report.database, out / "matched.meme"))
    if report.influence is not None:
        infl = pd.DataFrame(report.influence.targets, columns=report.target_labels)
        infl.insert(0, "filter", np.arange(len(infl)))
        written.append(_tsv(infl, out / "influence_targets.tsv"))
    return written


def planted_motifs(source: Source, split: str) -> list[Motif]:
    """The JASPAR motifs planted in a simulated dataset (empty for any other input)."""
    if not h5py.is_hdf5(source):
        return []
    with h5py.File(source, "r") as h5:
        if "simulation" not in h5:
            return []
    ids = sorted(set(read_ground_truth(source, split)["motif_id"]))
    return [jaspar_motif(i) for i in ids]


# -------------------------------------------------------------------------- filters


@dataclass(frozen=True)
class FiltersStepResult:
    """What :func:`filters` wrote into ``explain/filters/``, and its key numbers.

    Attributes
    ----------
    folder
        ``explain/filters/``.
    files
        The tables and MEME files written (see :func:`write_filter_tables`), and the
        BED tracks ``filter_hits.bed`` (and ``motif_hits.bed``).
    figures
        Logos, the IC-influence scatter and the influence heat map.
    source
        Where the sequences came from.
    n_sequences, n_database
        Sequences analysed; motifs in the database.
    n_filters, n_pwms, n_annotated, n_few_sites, n_silent
        Filters; with a PWM; matching a known motif; with activating sites but fewer
        than ``min_sites``; never activating.
    recovery
        Simulated data only: which planted motifs a filter recovered
        (:func:`~motiflens.explain.filters.planted_recovery`), else None.
    db, q, min_sites
        The database, q-value threshold and site minimum used.
    n_filter_hits, n_motif_hits
        Lines of ``filter_hits.bed`` and of ``motif_hits.bed`` (None when not scanned).
    """

    folder: Path
    files: list[Path]
    figures: list[Path]
    source: Path
    n_sequences: int
    n_database: int
    n_filters: int
    n_pwms: int
    n_annotated: int
    n_few_sites: int
    n_silent: int
    recovery: pd.DataFrame | None
    db: str
    q: float
    min_sites: int
    n_filter_hits: int = 0
    n_motif_hits: int | None = None

    def summary(self) -> str:
        """What a person reads after the step: counts, planted motifs recovered, files."""
        lines = [
            f"{self.n_sequences} sequences from {self.source}; {self.n_database} motifs in "
            f"{self.db}",
            f"{self.n_filters} filters: {self.n_pwms} with a PWM, {self.n_annotated} match a "
            f"known motif at q < {self.q}; {self.n_few_sites} with < {self.min_sites} sites, "
            f"{self.n_silent} never activate",
        ]
        if self.recovery is not None:
            found, total = int(self.recovery["recovered"].sum()), len(self.recovery)
            lines.append(
                f"planted motifs recovered by a filter: {found}/{total} "
                f"({100 * found / total:.0f}%)"
            )
            for r in self.recovery.itertuples():
                how = f"filter {r.filter} ~ {r.match_name} (q = {r.q_value:.2g})"
                lines.append(f"  {r.motif_id:<10} {r.motif_name:<14} {how if r.recovered else '-'}")
        lines.append(f"filters -> {self.folder} (filters.tsv, filters.meme, matches.tsv, figures)")
        tracks = f"filter_hits.bed: {self.n_filter_hits:,} filter sites"
        if self.n_motif_hits is not None:
            tracks += f"; motif_hits.bed: {self.n_motif_hits:,} known-motif matches"
        lines.append(tracks)
        return "\n".join(lines)


@holding_run
def filters(
    run: Run | str | Path,
    source: Source | None = None,
    *,
    db: str | Path = DEFAULT_DB,
    n: int | None = 1000,
    split: str = "test",
    genome: Source | None = None,
    q: float = 0.1,
    threshold: float = 0.5,
    min_sites: int = 10,
    trim: bool = True,
    influence: bool = True,
    logos: bool = True,
    batch_size: int = 100,
    device: str | torch.device | None = None,
    verbose: bool = True,
    random_state: int | None = 0,
    motif_hits: bool = False,
    motif_p: float = 1e-4,
) -> FiltersStepResult:
    """First-layer filters -> PWMs -> TomTom matches -> influence (Basset's motif analysis).

    Parameters
    ----------
    run
        A trained run whose model has a first convolution.
    source
        Dataset, FASTA or BED (with ``genome``); default the run's training dataset.
    db
        Motif database: ``jaspar:<release>[:<collection>[:<tax_group>]]`` or a MEME file.
    n, split, random_state
        A seeded random sample of ``n`` sequences of the split (a dataset file) or the
        first ``n`` records.
    q, threshold, min_sites, trim, influence, batch_size, device, verbose
        As in :func:`motiflens.explain.filters.analyze_filters` (``trim``: cut PWM ends
        below 0.2 bits).
    logos
        Draw a logo per filter (and per match).
    motif_hits, motif_p
        Also scan the sequences for the database's motifs with FIMO at p-value
        ``<= motif_p`` into ``motif_hits.bed``.

    Notes
    -----
    ``filter_hits.bed`` (always) and ``motif_hits.bed`` are in genome coordinates for a
    BED source and for sequences named ``chrom:start-end(strand)``; other sequences are
    their own chromosome, from 0 (see :mod:`motiflens.steps.filter_tracks`).
    """
    if motif_hits and not 0 < motif_p <= 1:  # before the analysis, not after it
        raise InputError(f"--motif-p must be in (0, 1], got {motif_p}", hint="e.g. 1e-4")
    run = as_run(run)
    model = run.model()
    first_conv_model(model)  # fail before sampling when there are no filters
    source = Path(run.dataset() if source is None else source)
    database = load_database(db)
    names, X, y = sample_sequences(
        source,
        length=model.config.length,
        n=n,
        random_state=random_state,
        genome=genome,
        split=split,
    )
    report = analyze_filters(
        model,
        X,
        y,
        database=database,
        q_threshold=q,
        threshold=threshold,
        min_sites=min_sites,
        trim_ic=0.2 if trim else None,
        influence=influence,
        batch_size=batch_size,
        device=device,
        verbose=verbose,
    )
    folder = run.analysis_dir("filters")
    where = sequence_coordinates(source, names, length=model.config.length, genome=genome)
    planted = planted_motifs(source, split)
    recovery = planted_recovery(report, planted) if planted else None
    # Built in a sibling folder and swapped in whole: a failure (a full disk) half-way
    # through the logos left a folder of this run's tables beside the last run's figures.
    # Starting empty also drops optional outputs of an earlier run.
    with staged_folder(folder) as stage:
        files = write_filter_tables(report, stage)
        figures = filter_figures(report, stage, logos=logos, verbose=verbose)
        if recovery is not None:
            files.append(_tsv(recovery, stage / "recovery.tsv"))
        bed, n_filter_hits = write_filter_hits(
            model,
            X,
            report.stats,
            report.table,
            where,
            stage / "filter_hits.bed",
            batch_size=batch_size,
            device=device,
        )
        files.append(bed)
        n_motif_hits = None
        if motif_hits:
            bed, n_motif_hits = write_motif_hits(
                database, X, where, stage / "motif_hits.bed", p=motif_p
            )
            files.append(bed)
    files = [folder / p.relative_to(stage) for p in files]
    figures = [folder / p.relative_to(stage) for p in figures]
    stats, table = report.stats, report.table
    result = FiltersStepResult(
        folder=folder,
        files=files,
        figures=figures,
        source=source,
        n_sequences=len(names),
        n_database=len(database),
        n_filters=len(table),
        n_pwms=len(report.motifs),
        n_annotated=int(table["match_id"].astype(bool).sum()),
        n_few_sites=int(((stats.sites < min_sites) & (stats.max > 0)).sum()),
        n_silent=int((stats.max <= 0).sum()),
        recovery=recovery,
        db=str(db),
        q=q,
        min_sites=min_sites,
        n_filter_hits=n_filter_hits,
        n_motif_hits=n_motif_hits,
    )
    info: dict[str, object] = {"n": len(names), "db": str(db), "q": q}
    info["annotated"] = result.n_annotated
    if recovery is not None:
        info["recovered"] = f"{int(recovery['recovered'].sum())}/{len(recovery)}"
    run.record_step("filters", [folder], **info)
    return result


# --------------------------------------------------------------------------- insert


@dataclass(frozen=True)
class InsertStepResult:
    """What :func:`insert` wrote into ``explain/insertion/``.

    Attributes
    ----------
    table
        ``insertion.tsv``: the long table of
        :func:`~motiflens.explain.insertion.insert_motifs`.
    heatmap
        ``insertion_heatmap.png`` (motifs x targets, clustered).
    scores
        The table as a DataFrame.
    top
        The motif with the largest mean change per target.
    n_motifs, n_backgrounds
        Motifs inserted; background sequences.
    """

    table: Path
    heatmap: Path | None
    scores: pd.DataFrame
    top: pd.DataFrame
    n_motifs: int
    n_backgrounds: int


def _select(motifs: list[Motif], wanted: Sequence[str] | None, db: str | Path) -> list[Motif]:
    """Motifs whose id (with or without version) or name is in ``wanted`` (all when None)."""
    if not wanted:
        return motifs
    keys = {m.upper() for m in wanted}
    chosen = [
        m
        for m in motifs
        if m.id.upper() in keys or m.name.upper() in keys or m.id.split(".")[0].upper() in keys
    ]
    if not chosen:
        raise InputError(
            f"none of {', '.join(wanted)} is in {db}",
            hint="give JASPAR ids (MA0139.2) or TF names (CTCF)",
        )
    return chosen


@holding_run
def insert(
    run: Run | str | Path,
    source: Source | None = None,
    *,
    db: str | Path = DEFAULT_DB,
    motifs: Sequence[str] | None = None,
    n: int | None = 256,
    background: Literal["shuffle", "sequences"] = "shuffle",
    centers: Sequence[int] | None = None,
    targets: TargetSelection = None,
    split: str = "test",
    genome: Source | None = None,
    batch_size: int = 256,
    device: str | torch.device | None = None,
    verbose: bool = True,
    random_state: int | None = 0,
) -> InsertStepResult:
    """Motif insertion: the mean change of each target when each motif is written in.

    Parameters
    ----------
    source, db, n, split, genome
        As in :func:`filters`.
    motifs
        Motif ids or names of ``db`` to insert (default all).
    background
        ``"shuffle"`` (a dinucleotide shuffle of each sampled sequence) or
        ``"sequences"`` (the sequences themselves).
    centers
        0-based positions of the motif centre (default the middle).
    targets
        Targets to report (default all).
    random_state
        Seed of the sample, the shuffles and the sampled instances.
    """
    run = as_run(run)
    model = run.model()
    source = Path(run.dataset() if source is None else source)
    chosen = _select(load_database(db), motifs, db)
    _, X, _ = sample_sequences(
        source,
        length=model.config.length,
        n=n,
        random_state=random_state,
        genome=genome,
        split=split,
    )
    bg = insertion_backgrounds(X, background, random_state=random_state)
    table = insert_motifs(
        model,
        bg,
        chosen,
        targets=targets,
        centers=centers,
        batch_size=batch_size,
        device=device,
        verbose=verbose,
        random_state=random_state,
    )
    if table.empty:
        raise InputError(
            f"no motif fits at the chosen position(s) in {model.config.length} bp",
            hint="choose centre positions further from the ends",
        )
    folder = run.analysis_dir("insertion")
    clear_outputs(folder)
    path = _tsv(table, folder / "insertion.tsv")
    labels = list(dict.fromkeys(table["target"]))
    wide = table.pivot_table(
        index=["motif_id", "motif_name"], columns="target", values="delta_score", sort=False
    )[labels]
    heatmap = None
    if len(wide):
        fig = clustered_heatmap(
            wide.to_numpy(),
            [f"{i} {name}" for i, name in wide.index],
            labels,
            title=f"motif insertion ({background} backgrounds, n = {len(bg)})",
            colorbar="mean change of the score (logit)",
        )
        heatmap = save_figure(fig, folder / "insertion_heatmap.png")
    run.record_step(
        "insertion",
        [folder],
        n=len(bg),
        db=str(db),
        background=background,
        motifs=len(chosen),
        targets=labels,
    )
    return InsertStepResult(path, heatmap, table, top_motifs(table, 1), len(chosen), len(bg))
