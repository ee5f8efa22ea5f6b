"""Genome tracks of the ``filters`` step: filter sites and known-motif matches as BED.

The sequences the step analysed are placed on the genome (:func:`sequence_coordinates`):
the windows of a BED file's intervals, the ``chrom:start-end(strand)`` a FASTA or
dataset header holds (bedtools getfasta, or motiflens' own window names), else the
sequence's own name as the chromosome, starting at 0. The last case is a BED over
sequence names, which IGV shows against a FASTA of those sequences (load it as the
genome); it is written rather than nothing so that every input gets its track.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from motiflens.data.sources import bed_windows, source_kind
from motiflens.explain.filter_activations import FilterStats
from motiflens.explain.filter_hits import filter_hits
from motiflens.motifs.pwm import Motif
from motiflens.motifs.scan import motif_hits_bed, scan_motifs
from motiflens.sequence.bed_write import bed_name, bed_scores, write_bed
from motiflens.sequence.fasta import Genome

__all__ = ["Coordinates", "sequence_coordinates", "write_filter_hits", "write_motif_hits"]

Coordinates = tuple[list[str], np.ndarray, np.ndarray]
"""``(chroms, starts, strands)`` of each analysed sequence."""

# chr1:100-200, chr1:100-200(+), name::chr1:100-200 (bedtools getfasta; motiflens windows)
_WINDOW = re.compile(r"^(?:.*::)?(?P<chrom>\S+?):(?P<start>\d+)-(?P<end>\d+)(?:\((?P<s>[+.-])\))?$")


def sequence_coordinates(
    source: str | Path, names: list[str], *, length: int, genome: str | Path | None
) -> Coordinates:
    """Where on the genome each analysed sequence lies.

    Parameters
    ----------
    source
        The file the sequences came from (its first ``len(names)`` records for a BED).
    names
        The sequences' names, in order.
    length
        The model's sequence length.
    genome
        The genome FASTA (needed for a BED source).

    Returns
    -------
    Coordinates
        ``chroms`` (list of str), ``starts`` (int64, 0-based window start) and
        ``strands`` (``"+"``/``"-"``; ``-`` windows were reverse-complemented).
    """
    if source_kind(source) == "bed" and genome is not None:
        with Genome(genome) as fasta:
            chroms, starts, strands, _ = bed_windows(source, fasta.sizes, length)
        n = len(names)
        return [str(c) for c in chroms[:n]], starts[:n].astype(np.int64), strands[:n]
    chroms, starts, strands = [], [], []
    for name in names:
        match = _WINDOW.match(name)
        if match and int(match["end"]) - int(match["start"]) == length:
            chroms.append(match["chrom"])
            starts.append(int(match["start"]))
            strands.append("-" if match["s"] == "-" else "+")
        else:
            chroms.append(bed_name(name))
            starts.append(0)
            strands.append("+")
    return chroms, np.asarray(starts, np.int64), np.asarray(strands, dtype=object)


def write_filter_hits(
    model: nn.Module,
    X: np.ndarray,
    stats: FilterStats,
    table: pd.DataFrame,
    where: Coordinates,
    path: str | Path,
    *,
    batch_size: int = 100,
    device: str | torch.device | None = None,
) -> tuple[Path, int]:
    """``filter_hits.bed``: every activating window of every filter, on the genome.

    One BED6+1 line per window whose activation exceeds the filter's threshold (the
    threshold its PWM was built with): name ``filter<f>`` plus ``_<match name>`` when
    TomTom annotated the filter, score the activation over the filter's maximum scaled to
    0-1000, strand ``.``, then the raw ``activation``. Sorted by chrom, start, filter.

    Returns
    -------
    (path, lines)
    """
    hits = filter_hits(model, X, stats, batch_size=batch_size, device=device)
    width = int(model.conv1.weight.shape[-1])
    chroms, starts, strands = where
    seq = hits["sequence"].to_numpy(np.int64)
    pos = hits["position"].to_numpy(np.int64)
    f = hits["filter"].to_numpy(np.int64)
    # a '-' window is the reverse complement of genome [start, start + L)
    minus = strands[seq] == "-"
    g_start = starts[seq] + np.where(minus, X.shape[-1] - pos - width, pos)
    matched = dict(zip(table["filter"], table["match_name"], strict=True))
    label = {
        k: bed_name(f"filter{k}_{matched[k]}" if matched.get(k) else f"filter{k}")
        for k in np.unique(f).tolist()
    }
    bed = pd.DataFrame(
        {
            "chrom": [chroms[i] for i in seq],
            "start": g_start,
            "end": g_start + width,
            "name": [label[k] for k in f.tolist()],
            "score": bed_scores(hits["activation"].to_numpy(), stats.max[f]),
            "strand": ".",
            "activation": hits["activation"].to_numpy(np.float64),
        }
    )
    # overlapping input windows can hold the same genome window twice
    bed = bed.drop_duplicates(["chrom", "start", "end", "name"])
    bed = bed.sort_values(["chrom", "start", "name"], kind="stable", ignore_index=True)
    header = [
        "motiflens filters: first-layer filter sites (activation above the filter's "
        "PWM threshold, mean + threshold * (max - mean))",
        "BED6+1: name = filter id (_TomTom match name); score = activation / filter max "
        "* 1000; strand '.'; activation = raw first-layer activation",
    ]
    return write_bed(bed, path, header=header), len(bed)


def write_motif_hits(
    motifs: list[Motif], X: np.ndarray, where: Coordinates, path: str | Path, *, p: float
) -> tuple[Path, int]:
    """``motif_hits.bed``: FIMO matches of ``motifs`` in the analysed sequences.

    Returns
    -------
    (path, lines)
    """
    chroms, starts, strands = where
    hits = scan_motifs(motifs, X, chroms, starts, strands=list(strands), p=p)
    path = motif_hits_bed(hits, path, p=p)
    n = len(hits.drop_duplicates(["chrom", "start", "end", "motif_id", "strand"]))
    return path, n
