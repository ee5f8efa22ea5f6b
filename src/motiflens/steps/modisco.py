"""Run-level TF-MoDISco: ``modisco`` (motifs from attributions, named with TomTom) and
``hits`` (those motifs, or any MEME file, scanned in sequences with FIMO).

``modisco`` takes, per target, the positives of the test split (or the first sequences of a
FASTA/BED source), attributes the target's logit with DeepLIFT/SHAP (or ISM), runs
:func:`motiflens.explain.modisco.discover_motifs`, compares each pattern with a motif
database and writes ``explain/modisco/``:

``patterns.meme``   the patterns' PWMs, ids ``<target>/<pattern>``
``patterns.tsv``    target, pattern, kind, n_seqlets, consensus, width, match_id, match_name,
                    q_value, offset, strand (the best database match at ``q``)
``seqlets.bed``     each seqlet (genome coordinates when the sequences have them)
``seqlets.fa``      the seqlets' bases, read on the pattern's strand
``logos/``          ``<target>__<pattern>.png``
``recovery.tsv``    simulated data: which planted motifs a pattern recovered
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import torch

from motiflens.data.sources import source_kind
from motiflens.errors import InputError
from motiflens.explain.filters import same_family
from motiflens.explain.inputs import (
    TargetSelection,
    model_targets,
    sample_sequences,
    target_names,
)
from motiflens.explain.ism import saturation_mutagenesis
from motiflens.explain.modisco import Pattern, discover_motifs
from motiflens.explain.saliency import attribute
from motiflens.files import atomic_path, safe_name, staged_folder, write_text_atomic
from motiflens.motifs.compare import best_matches, tomtom
from motiflens.motifs.databases import load_database
from motiflens.motifs.meme import read_meme, write_meme
from motiflens.motifs.pwm import Motif, trim
from motiflens.motifs.scan import motif_hits_bed, scan_motifs
from motiflens.plots.motifs import LogoWriter
from motiflens.runs import Run, as_run, holding_run
from motiflens.sequence.bed_write import write_bed
from motiflens.sequence.onehot import decode
from motiflens.steps.filter_tracks import sequence_coordinates
from motiflens.steps.motifs import DEFAULT_DB, planted_motifs

__all__ = [
    "PATTERN_COLUMNS",
    "RECOVERY_COLUMNS",
    "HitsStepResult",
    "ModiscoStepResult",
    "hits",
    "modisco",
    "pattern_recovery",
]

Source = str | Path
Method = Literal["deeplift_shap", "ism"]

#: Columns of ``patterns.tsv`` (the dashboard reads them).
PATTERN_COLUMNS = [
    "target",
    "pattern",
    "kind",
    "n_seqlets",
    "consensus",
    "width",
    "match_id",
    "match_name",
    "q_value",
    "offset",
    "strand",
]
#: Columns of ``recovery.tsv`` (the filters' ``recovery`` with ``pattern`` for ``filter``).
RECOVERY_COLUMNS = [
    "motif_id",
    "motif_name",
    "recovered",
    "pattern",
    "match_id",
    "match_name",
    "q_value",
    "n_patterns",
]
NO_MATCHES = pd.DataFrame(columns=["query_id", "target_id", "target_name", "q_value"])
#: Pattern ends below this information content (bits) are cut before TomTom, as filters do.
TRIM_IC = 0.2


def _tsv(table: pd.DataFrame, path: Path) -> Path:
    with atomic_path(path) as tmp:
        table.to_csv(tmp, sep="\t", index=False, float_format="%.6g")
    return path


def _hypothetical_ism(
    model: torch.nn.Module, X: np.ndarray, target: int, batch_size: int, device, verbose: bool
) -> tuple[np.ndarray, np.ndarray]:
    """ISM as attributions: hypothetical = the deltas centred per position; projection =
    that on the observed bases."""
    res = saturation_mutagenesis(
        model, X, targets=[target], batch_size=batch_size, device=device, verbose=verbose
    )
    delta = res.delta[..., 0]
    hyp = (delta - delta.mean(axis=1, keepdims=True)).astype(np.float32)
    return hyp * X, hyp


def _attributions(
    model: torch.nn.Module,
    X: np.ndarray,
    target: int,
    method: Method,
    *,
    batch_size: int,
    device,
    verbose: bool,
    random_state: int | None,
) -> tuple[np.ndarray, np.ndarray]:
    if method == "ism":
        return _hypothetical_ism(model, X, target, batch_size, device, verbose)
    a = attribute(
        model,
        X,
        targets=[target],
        method="deeplift_shap",
        batch_size=batch_size,
        device=device,
        verbose=verbose,
        random_state=random_state,
    )
    return a.attributions[..., 0], a.hypothetical[..., 0]


def _positives(
    X: np.ndarray, y: np.ndarray | None, t: int, n: int | None, random_state: int | None
) -> np.ndarray:
    """Rows to analyse for target ``t``: a seeded sample of ``n`` of its positives, in input
    order (labelled input), or every row (unlabelled input, already its first ``n``)."""
    if y is None:
        return np.arange(len(X))
    rows = np.flatnonzero(y[:, t] > 0.5)
    if n is not None and len(rows) > n:
        rows = np.sort(np.random.default_rng(random_state).choice(rows, size=n, replace=False))
    return rows


def _name_patterns(
    motifs: list[Motif], database: list[Motif], q: float
) -> tuple[dict[int, pd.Series], pd.DataFrame]:
    """Every database match of each motif at ``q`` (a :func:`tomtom` table) and the best
    one (its row, by motif index)."""
    if not motifs or not database:
        return {}, NO_MATCHES
    table = tomtom(motifs, database, thresh=q)
    best = best_matches(table, q=q)
    return {int(r["query_index"]): r for _, r in best.iterrows()}, table


def pattern_recovery(
    matches: pd.DataFrame, database: Sequence[Motif], planted: Sequence[Motif]
) -> pd.DataFrame:
    """Which planted motifs some pattern recovered (simulated data).

    A planted motif is recovered when a pattern matches it, or one of its family
    (:func:`~motiflens.explain.filters.same_family`, as for the filters), at the TomTom
    q-value threshold. Every significant match counts, not only a pattern's best: a
    composite pattern (SOX2-OCT4) holds both halves, and its best match names one.

    Parameters
    ----------
    matches
        TomTom rows at the threshold: ``query_id`` (``<target>/<pattern>``),
        ``target_id``, ``target_name``, ``q_value``.
    database
        The database the matches refer to.
    planted
        The planted motifs.

    Returns
    -------
    pandas.DataFrame
        One row per planted motif, columns :data:`RECOVERY_COLUMNS`: ``pattern`` is the
        pattern of the lowest-q such match, ``n_patterns`` how many patterns matched it.
    """
    by_id = {m.id: m for m in database}
    rows = []
    for motif in planted:
        found = [
            r
            for r in matches.itertuples()
            if r.target_id in by_id and same_family(by_id[r.target_id], motif)
        ]
        best = min(found, key=lambda r: r.q_value) if found else None
        rows.append(
            {
                "motif_id": motif.id,
                "motif_name": motif.name,
                "recovered": best is not None,
                "pattern": best.query_id if best else "",
                "match_id": best.target_id if best else "",
                "match_name": best.target_name if best else "",
                "q_value": best.q_value if best else np.nan,
                "n_patterns": len({r.query_id for r in found}),
            }
        )
    return pd.DataFrame(rows, columns=RECOVERY_COLUMNS)


@dataclass(frozen=True)
class ModiscoStepResult:
    """What :func:`modisco` wrote into ``explain/modisco/``.

    Attributes
    ----------
    folder
        ``explain/modisco/``.
    files
        Tables, MEME, BED, FASTA and logos written.
    table
        ``patterns.tsv`` as a DataFrame (columns :data:`PATTERN_COLUMNS`).
    recovery
        ``recovery.tsv`` (simulated data), else None.
    n_sequences
        Sequences analysed per target.
    source, db, q, attributions
        Where the sequences came from; the database, q-value threshold and attribution
        method used.
    """

    folder: Path
    files: list[Path]
    table: pd.DataFrame
    recovery: pd.DataFrame | None
    n_sequences: dict[str, int]
    source: Path
    db: str
    q: float
    attributions: str

    def summary(self) -> str:
        """Patterns per target, their names, planted motifs recovered, the folder."""
        lines = []
        for target, n in self.n_sequences.items():
            sub = self.table[self.table["target"] == target]
            lines.append(f"{target}: {n} sequences -> {len(sub)} patterns")
            for r in sub.itertuples():
                named = f"{r.match_name} (q = {r.q_value:.2g})" if r.match_id else "-"
                lines.append(
                    f"  {r.pattern:<26} {r.n_seqlets:>6} seqlets  {r.consensus:<22} {named}"
                )
        if self.recovery is not None:
            found, total = int(self.recovery["recovered"].sum()), len(self.recovery)
            lines.append(f"planted motifs recovered by a pattern: {found}/{total}")
            for r in self.recovery.itertuples():
                how = f"{r.pattern} ~ {r.match_name} (q = {r.q_value:.2g})"
                lines.append(f"  {r.motif_id:<10} {r.motif_name:<14} {how if r.recovered else '-'}")
        lines.append(f"modisco -> {self.folder} (patterns.tsv, patterns.meme, seqlets.bed)")
        return "\n".join(lines)


def _pattern_rows(
    target: str, patterns: list[Pattern], names: dict[int, pd.Series], queries: list[Motif]
) -> list[dict]:
    rows = []
    for i, (p, m) in enumerate(zip(patterns, queries, strict=True)):
        match = names.get(i)
        rows.append(
            {
                "target": target,
                "pattern": p.name,
                "kind": p.kind,
                "n_seqlets": p.n_seqlets,
                "consensus": m.consensus(),
                "width": p.probs.shape[1],
                "match_id": "" if match is None else match["target_id"],
                "match_name": "" if match is None else match["target_name"],
                "q_value": np.nan if match is None else float(match["q_value"]),
                "offset": np.nan if match is None else int(match["offset"]),
                "strand": "" if match is None else match["strand"],
            }
        )
    return rows


def _seqlet_tables(
    target: str,
    patterns: list[Pattern],
    rows: np.ndarray,
    X: np.ndarray,
    names: list[str],
    coords,
) -> tuple[pd.DataFrame, list[str]]:
    """BED rows and FASTA records of every seqlet (rows index the analysed subset)."""
    bed, fasta = [], []
    for p in patterns:
        s = p.seqlets
        for i, a, b, strand in zip(s.index, s.start, s.end, s.strand, strict=True):
            seq_row = int(rows[i])
            chroms, starts, strands = coords
            window_minus = strands[seq_row] == "-"
            offset = int(starts[seq_row])
            length = X.shape[-1]
            # a reverse-complemented window flips the seqlet on the genome
            g_start = offset + (length - b if window_minus else a)
            g_strand = ("-" if strand == "+" else "+") if window_minus else strand
            label = f"{target}/{p.name}"
            bed.append(
                {
                    "chrom": chroms[seq_row],
                    "start": g_start,
                    "end": g_start + (b - a),
                    "name": label,
                    "score": 0,
                    "strand": g_strand,
                    "sequence": names[seq_row],
                }
            )
            bases = decode(X[seq_row, :, a:b])
            if strand == "-":
                bases = bases[::-1].translate(str.maketrans("ACGTN", "TGCAN"))
            fasta.append(f">{label}|{names[seq_row]}:{a}-{b}({strand})\n{bases}\n")
    return pd.DataFrame(bed, columns=["chrom", "start", "end", "name", "score", "strand",
                                      "sequence"]), fasta  # fmt: skip


@holding_run
def modisco(
    run: Run | str | Path,
    source: Source | None = None,
    *,
    targets: TargetSelection = None,
    n: int | None = 2000,
    split: str = "test",
    genome: Source | None = None,
    attributions: Method = "deeplift_shap",
    db: str | Path = DEFAULT_DB,
    q: float = 0.05,
    max_seqlets: int = 2000,
    n_leiden_runs: int = 10,
    logos: bool = True,
    batch_size: int = 64,
    device: str | torch.device | None = None,
    verbose: bool = True,
    random_state: int | None = 0,
) -> ModiscoStepResult:
    """TF-MoDISco motifs from attributions, named with TomTom (``explain/modisco/``).

    Parameters
    ----------
    run
        A trained run.
    source
        Dataset, FASTA or BED (with ``genome``); default the run's training dataset. A
        dataset gives each target's positives in ``split``; FASTA/BED give their first
        ``n`` sequences to every target.
    targets
        Targets to analyse (names or indices); default all.
    n, random_state
        Up to ``n`` sequences per target, a seeded sample; the seed also drives the
        DeepLIFT/SHAP shuffled references and modisco-lite's input order.
    attributions
        ``"deeplift_shap"`` (motiflens' DeepLIFT/SHAP, 20 dinucleotide shuffles) or
        ``"ism"`` (hypothetical = the ISM deltas centred per position).
    db, q
        Motif database (``jaspar:...`` spec or a MEME file) and the TomTom q-value a match
        needs.
    max_seqlets, n_leiden_runs
        Seqlets per metacluster given to modisco-lite; Leiden clusterings whose best is
        kept (see :func:`~motiflens.explain.modisco.discover_motifs`).
    logos, batch_size, device, verbose
        Draw a logo per pattern; forward-pass batch, device, progress.

    Returns
    -------
    ModiscoStepResult
    """
    if attributions not in ("deeplift_shap", "ism"):
        raise InputError(
            f"unknown attribution method {attributions!r}", hint="use deeplift_shap or ism"
        )
    if not 0 < q <= 1:
        raise InputError(f"--q must be in (0, 1], got {q}", hint="e.g. 0.05")
    run = as_run(run)
    model = run.model(device)
    source = Path(run.dataset() if source is None else source)
    database = load_database(db)
    # a dataset: the whole split, its positives sampled per target; FASTA/BED: first n
    labelled = source_kind(source) == "dataset"
    names, X, y = sample_sequences(
        source, length=model.config.length, n=None if labelled else n, genome=genome, split=split
    )
    n_out = len(run.target_labels())
    labels = target_names(model, n_out)
    chosen = model_targets(model, targets, n_out)
    coords = sequence_coordinates(source, names, length=model.config.length, genome=genome)

    table_rows: list[dict] = []
    motifs: list[Motif] = []
    beds: list[pd.DataFrame] = []
    fasta: list[str] = []
    figures: list[tuple[str, np.ndarray]] = []
    n_sequences: dict[str, int] = {}
    all_matches: list[pd.DataFrame] = []
    for t in chosen:
        target = labels[t]
        rows = _positives(X, y, t, n, random_state)
        n_sequences[target] = len(rows)
        if len(rows) == 0:
            continue
        Xt = X[rows]
        proj, hyp = _attributions(
            model,
            Xt,
            t,
            attributions,
            batch_size=batch_size,
            device=device,
            verbose=verbose,
            random_state=random_state,
        )
        patterns = discover_motifs(
            Xt,
            proj,
            hyp,
            max_seqlets=max_seqlets,
            n_leiden_runs=n_leiden_runs,
            random_state=random_state,
        )
        queries = []
        for p in patterns:
            a, b = trim(p.probs, min_ic=TRIM_IC)
            probs = p.probs[:, a:b] if b > a else p.probs
            queries.append(Motif(f"{target}/{p.name}", f"{target}/{p.name}", probs))
        named, significant = _name_patterns(queries, database, q)
        all_matches.append(significant)
        rows_t = _pattern_rows(target, patterns, named, queries)
        table_rows.extend(rows_t)
        for p, r in zip(patterns, rows_t, strict=True):
            motif_id = f"{target}/{p.name}"
            motifs.append(Motif(motif_id, r["match_name"] or motif_id, p.probs, p.n_seqlets))
            figures.append((f"{safe_name(target)}__{p.name}", p.probs))
        bed, fa = _seqlet_tables(target, patterns, rows, X, names, coords)
        beds.append(bed)
        fasta.extend(fa)

    table = pd.DataFrame(table_rows, columns=PATTERN_COLUMNS)
    planted = planted_motifs(source, split)
    recovery = None
    if planted:
        matches = pd.concat(all_matches, ignore_index=True) if all_matches else NO_MATCHES
        recovery = pattern_recovery(matches, database, planted)
    folder = run.analysis_dir("modisco")
    files: list[Path] = []
    with staged_folder(folder) as stage:
        written = [
            _tsv(table, stage / "patterns.tsv"),
            write_meme(motifs, stage / "patterns.meme"),
            write_bed(
                pd.concat(beds, ignore_index=True)
                if beds
                else pd.DataFrame(
                    columns=["chrom", "start", "end", "name", "score", "strand", "sequence"]
                ),
                stage / "seqlets.bed",
                header=["TF-MoDISco seqlets; name <target>/<pattern>; last column: sequence"],
            ),
            write_text_atomic(stage / "seqlets.fa", "".join(fasta)),
        ]
        if recovery is not None:
            written.append(_tsv(recovery, stage / "recovery.tsv"))
        if logos and figures:
            (stage / "logos").mkdir()
            writer = LogoWriter()
            for stem, probs in figures:
                written.append(writer.save(probs, stage / "logos" / f"{stem}.png", title=stem))
        files = [folder / p.relative_to(stage) for p in written]
    run.record_step(
        "modisco",
        files,
        source=str(source),
        targets=[labels[t] for t in chosen],
        n=n,
        attributions=attributions,
        db=str(db),
        q=q,
        random_state=random_state,
    )
    return ModiscoStepResult(
        folder=folder,
        files=files,
        table=table,
        recovery=recovery,
        n_sequences=n_sequences,
        source=source,
        db=str(db),
        q=q,
        attributions=attributions,
    )


# ---------------------------------------------------------------------------- hits


@dataclass(frozen=True)
class HitsStepResult:
    """What :func:`hits` wrote: ``hits.tsv`` and ``hits.bed`` in ``out``."""

    files: list[Path]
    table: pd.DataFrame
    n_sequences: int
    n_motifs: int
    p: float

    def summary(self) -> str:
        """Hits per motif and the files."""
        lines = [f"{len(self.table):,} hits of {self.n_motifs} motifs in {self.n_sequences} "
                 f"sequences at p <= {self.p:g}"]  # fmt: skip
        for motif, k in self.table["motif_id"].value_counts().sort_index().items():
            lines.append(f"  {motif:<40} {k:>7,}")
        lines.extend(f"-> {f}" for f in self.files)
        return "\n".join(lines)


@holding_run
def hits(
    run: Run | str | Path,
    source: Source,
    out: str | Path,
    *,
    motifs: str | Path | None = None,
    genome: Source | None = None,
    p: float = 1e-4,
    n: int | None = None,
    split: str = "test",
) -> HitsStepResult:
    """Scan sequences for motifs with FIMO: ``hits.tsv`` and ``hits.bed`` in ``out``.

    Parameters
    ----------
    run
        The run whose ``explain/modisco/patterns.meme`` is scanned by default (and whose
        model length the sequences are read at).
    source
        Dataset (its ``split``), FASTA, or BED with ``genome``.
    out
        Output folder.
    motifs
        A MEME file; default the run's ``explain/modisco/patterns.meme``.
    p
        FIMO p-value threshold.
    n
        Only the first ``n`` sequences; default all.

    Returns
    -------
    HitsStepResult
        The hit table (:data:`motiflens.motifs.scan.HIT_COLUMNS`, ``sequence`` replaced by
        the sequence name) and the files.
    """
    if not 0 < p <= 1:
        raise InputError(f"--p must be in (0, 1], got {p}", hint="e.g. 1e-4")
    run = as_run(run)
    if motifs is None:
        motifs = run.analysis_dir("modisco", create=False) / "patterns.meme"
        if not motifs.is_file():
            raise InputError(
                "the run has no modisco patterns", path=motifs, hint="run `motiflens modisco` first"
            )
    found, _ = read_meme(motifs)
    length = run.model("cpu").config.length
    names, X, _ = sample_sequences(source, length=length, n=n, genome=genome, split=split,
                                   random_state=0)  # fmt: skip
    coords = sequence_coordinates(source, names, length=length, genome=genome)
    chroms, starts, strands = coords
    table = scan_motifs(found, X, chroms, starts, strands=strands, p=p)
    table["sequence"] = [names[i] for i in table["sequence"].astype(int)]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = [_tsv(table, out / "hits.tsv"), motif_hits_bed(table, out / "hits.bed", p=p)]
    return HitsStepResult(files=files, table=table, n_sequences=len(names), n_motifs=len(found),
                          p=p)  # fmt: skip
