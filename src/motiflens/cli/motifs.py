"""Verbs about what the filters learned: filters (PWMs, TomTom, influence) and insert."""

from __future__ import annotations

import shutil
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from motiflens.cli.common import GenomeOpt, RunDir, SplitOpt, Targets, _friendly, app

DEFAULT_DB = "jaspar:2024:CORE:vertebrates"

SourceOpt = Annotated[
    Path | None,
    typer.Argument(help="Dataset, FASTA or BED (with --genome); default the training dataset."),
]
DbOpt = Annotated[
    str,
    typer.Option(
        "--db", help="Motif database: jaspar:<release>[:<collection>[:<tax_group>]] or a MEME file."
    ),
]


def _planted(source: Path, split: str) -> list:
    """The JASPAR motifs planted in a simulated dataset (empty for any other input)."""
    import h5py

    from motiflens.data.simulate import read_ground_truth
    from motiflens.motifs.databases import jaspar_motif

    if not h5py.is_hdf5(source):
        return []
    with h5py.File(source, "r") as h5:
        if "simulation" not in h5:
            return []
    ids = sorted(set(read_ground_truth(source, split)["motif_id"]))
    return [jaspar_motif(i) for i in ids]


@app.command()
@_friendly
def filters(
    run_dir: RunDir,
    source: SourceOpt = None,
    db: DbOpt = DEFAULT_DB,
    n: Annotated[int, typer.Option("-n", help="Sequences to sample.")] = 1000,
    split: SplitOpt = "test",
    genome: GenomeOpt = None,
    q: Annotated[float, typer.Option(help="TomTom q-value threshold.")] = 0.1,
    threshold: Annotated[
        float, typer.Option(help="Activation threshold: mean + THRESHOLD * (max - mean).")
    ] = 0.5,
    min_sites: Annotated[int, typer.Option(help="Fewer sites: no PWM, not matched.")] = 10,
    trim: Annotated[bool, typer.Option(help="Trim PWM ends below 0.2 bits.")] = True,
    influence: Annotated[bool, typer.Option(help="Filter influence by nullification.")] = True,
    logos: Annotated[bool, typer.Option(help="A logo per filter.")] = True,
    seed: Annotated[int, typer.Option(help="Seed of the sequence sample.")] = 0,
    batch_size: Annotated[int, typer.Option(help="Sequences per pass.")] = 100,
) -> None:
    """First-layer filters -> PWMs -> TomTom matches -> influence (Basset's motif analysis)."""
    from motiflens.explain.filters import (
        analyze_filters,
        first_conv_model,
        planted_recovery,
        write_filter_tables,
    )
    from motiflens.explain.inputs import explain_dir, sample_sequences
    from motiflens.files import atomic_path
    from motiflens.motifs.databases import load_database
    from motiflens.plots.motifs import filter_figures
    from motiflens.runs import Run

    model = Run(run_dir).model()

    config = model.config
    first_conv_model(model)  # fail before sampling when there are no filters
    labels = Run(run_dir).target_labels(config.n_targets)
    source = Run(run_dir).dataset() if source is None else source
    database = load_database(db)
    names, X, y = sample_sequences(
        source, length=config.length, n=n, seed=seed, genome=genome, split=split
    )
    typer.echo(f"{len(names)} sequences from {source}; {len(database)} motifs in {db}")
    report = analyze_filters(
        model, X, y, target_labels=labels, database=database, q_threshold=q,
        threshold=threshold, min_sites=min_sites, trim_ic=0.2 if trim else None,
        influence=influence, batch_size=batch_size,
    )  # fmt: skip
    out = explain_dir(run_dir, "filters")
    # Optional outputs of an earlier run would pass for this run's.
    for stale in ("influence_targets.tsv", "recovery.tsv", "ic_influence.png", "ic_influence.svg",
                  "influence_heatmap.png", "influence_heatmap.svg"):  # fmt: skip
        (out / stale).unlink(missing_ok=True)
    shutil.rmtree(out / "logos", ignore_errors=True)
    write_filter_tables(report, out)
    filter_figures(report, out, logos=logos)
    table = report.table
    silent = int((report.stats.max <= 0).sum())
    few = int(((report.stats.sites < min_sites) & (report.stats.max > 0)).sum())
    annotated = int(table["match_id"].astype(bool).sum())
    typer.echo(f"{len(table)} filters: {len(report.motifs)} with a PWM, {annotated} match a "
               f"known motif at q < {q}; {few} with < {min_sites} sites, {silent} never "
               "activate")  # fmt: skip
    info: dict = {"n": len(names), "db": db, "annotated": annotated, "q": q}
    planted = _planted(Path(source), split)
    if planted:
        recovery = planted_recovery(report, planted)
        with atomic_path(out / "recovery.tsv") as tmp:
            recovery.to_csv(tmp, sep="\t", index=False, float_format="%.6g")
        found = int(recovery["recovered"].sum())
        info["recovered"] = f"{found}/{len(recovery)}"
        typer.echo(f"planted motifs recovered by a filter: {found}/{len(recovery)} "
                   f"({100 * found / len(recovery):.0f}%)")  # fmt: skip
        for r in recovery.itertuples():
            how = (
                f"filter {r.filter} ~ {r.match_name} (q = {r.q_value:.2g})" if r.recovered else "-"
            )
            typer.echo(f"  {r.motif_id:<10} {r.motif_name:<14} {how}")
    Run(run_dir).record_step("filters", ["explain/filters/"], **info)
    typer.echo(f"filters -> {out} (filters.tsv, filters.meme, matches.tsv, figures)")


class Background(StrEnum):
    shuffle = "shuffle"
    sequences = "sequences"


@app.command()
@_friendly
def insert(
    run_dir: RunDir,
    source: SourceOpt = None,
    db: DbOpt = DEFAULT_DB,
    motif: Annotated[
        list[str] | None, typer.Option(help="Motif id or name to insert (repeatable; default all).")
    ] = None,
    n: Annotated[int, typer.Option("-n", help="Background sequences.")] = 256,
    background: Annotated[
        Background, typer.Option(help="Dinucleotide shuffles of the sequences, or themselves.")
    ] = Background.shuffle,
    center: Annotated[
        list[int] | None,
        typer.Option(help="0-based position of the motif centre (repeatable; default middle)."),
    ] = None,
    target: Targets = None,
    split: SplitOpt = "test",
    genome: GenomeOpt = None,
    seed: Annotated[int, typer.Option(help="Seed of backgrounds and sampled instances.")] = 0,
) -> None:
    """Motif insertion: the mean change of each target when each motif is written in."""
    from motiflens.errors import InputError
    from motiflens.explain.inputs import explain_dir, resolve_targets, sample_sequences
    from motiflens.explain.insertion import insert_motifs, insertion_backgrounds, top_motifs
    from motiflens.files import atomic_path
    from motiflens.motifs.databases import load_database
    from motiflens.plots.motifs import clustered_heatmap
    from motiflens.plots.style import save_figure
    from motiflens.runs import Run

    model = Run(run_dir).model()

    config = model.config
    labels = Run(run_dir).target_labels(config.n_targets)
    chosen_targets = [labels[t] for t in resolve_targets(target, labels)]
    source = Run(run_dir).dataset() if source is None else source
    motifs = load_database(db)
    if motif:
        wanted = {m.upper() for m in motif}
        motifs = [m for m in motifs if m.id.upper() in wanted or m.name.upper() in wanted
                  or m.id.split(".")[0].upper() in wanted]  # fmt: skip
        if not motifs:
            raise InputError(f"none of {', '.join(motif)} is in {db}",
                             hint="give JASPAR ids (MA0139.2) or TF names (CTCF)")  # fmt: skip
    _, X, _ = sample_sequences(
        source, length=config.length, n=n, seed=seed, genome=genome, split=split
    )
    bg = insertion_backgrounds(X, background.value, seed=seed)
    table = insert_motifs(model, bg, motifs, labels, centers=center, seed=seed)
    table = table[table["target"].isin(chosen_targets)].reset_index(drop=True)
    if table.empty:
        raise InputError(f"no motif fits at the chosen position(s) in {config.length} bp",
                         hint="choose --center positions further from the ends")  # fmt: skip
    out = explain_dir(run_dir, "insertion")
    with atomic_path(out / "insertion.tsv") as tmp:
        table.to_csv(tmp, sep="\t", index=False, float_format="%.6g")
    wide = table.pivot_table(index=["motif_id", "motif_name"], columns="target",
                             values="delta_score", sort=False)[chosen_targets]  # fmt: skip
    if len(wide):
        fig = clustered_heatmap(
            wide.to_numpy(), [f"{i} {name}" for i, name in wide.index], chosen_targets,
            title=f"motif insertion ({background.value} backgrounds, n = {len(bg)})",
            colorbar="mean change of the score (logit)",
        )  # fmt: skip
        save_figure(fig, out / "insertion_heatmap.png")
    for r in top_motifs(table, 1).itertuples():
        typer.echo(f"  {r.target:<24} top motif {r.motif_id} {r.motif_name} "
                   f"(score {r.delta_score:+.3f}, prediction {r.delta_pred:+.3f})")  # fmt: skip
    Run(run_dir).record_step("insertion", ["explain/insertion/"], n=len(bg), db=db,
                background=background.value, motifs=len(motifs))  # fmt: skip
    typer.echo(f"insertion of {len(motifs)} motif(s) -> {out} (insertion.tsv, heat map)")
