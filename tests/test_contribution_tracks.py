"""Contribution tracks: saliency and ISM scores of BED windows as per-base bigWigs.

The expectation is built by hand from the stored result file: every window position is
mapped to its genomic base with a plain loop (``start + p`` on ``+``, ``start + L - 1 - p``
on ``-``) and the values of overlapping windows are averaged in a dict.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from motiflens.cli import app
from motiflens.config import RunConfig
from motiflens.models import build_model
from motiflens.runs import Run
from motiflens.sequence.tracks import read_bigwig
from motiflens.steps import explain as steps
from motiflens.steps.contribution_tracks import GenomeWindows, window_tracks
from tests.toy_models import TOY_ARCHS

LENGTH = 60
SIZES = {"chr1": 300, "chr2": 200}
# BED intervals of exactly LENGTH bp, so each window is the interval itself:
# two overlapping windows on chr1 (one on -), a lone - window on chr2, a lone + window.
BED = [
    ("chr1", 10, 70, "+"),
    ("chr1", 40, 100, "-"),
    ("chr2", 100, 160, "-"),
    ("chr1", 200, 260, "+"),
]
COMPLEMENT = str.maketrans("ACGT", "TGCA")


@pytest.fixture(scope="module")
def genome_run(tmp_path_factory):
    """A toy Basset run (untrained, seeded), a two-chromosome genome and a BED file."""
    root = tmp_path_factory.mktemp("tracks")
    rng = np.random.default_rng(3)
    seqs = {c: "".join(rng.choice(list("ACGT"), n)) for c, n in SIZES.items()}
    genome = root / "genome.fa"
    genome.write_text("".join(f">{c}\n{s}\n" for c, s in seqs.items()))
    bed = root / "regions.bed"
    bed.write_text(
        "".join(f"{c}\t{s}\t{e}\tr{i}\t0\t{st}\n" for i, (c, s, e, st) in enumerate(BED))
    )
    config = RunConfig.from_dict(
        {"model": {"name": "basset", "n_targets": 2, "length": LENGTH, "arch": TOY_ARCHS["basset"]}}
    )
    torch.manual_seed(0)
    run = Run(root / "run")
    run.save_model(build_model(config.model), config)
    return run, genome, bed, seqs


def by_hand(values: np.ndarray, positions: np.ndarray) -> dict[tuple[str, int], float]:
    """Genomic base -> mean over the windows scoring it; ``values (N, W)``."""
    hits: dict[tuple[str, int], list[float]] = defaultdict(list)
    for (chrom, start, _, strand), row in zip(BED, values, strict=True):
        for p, v in zip(positions.tolist(), row.tolist(), strict=True):
            base = start + LENGTH - 1 - p if strand == "-" else start + p
            hits[(chrom, base)].append(v)
    return {k: float(np.mean(v)) for k, v in hits.items()}


def check_track(path, expected: dict[tuple[str, int], float]) -> None:
    """Every base of the bigWig: the expected value, or no data where none is expected."""
    for chrom, size in SIZES.items():
        got = read_bigwig(path, chrom, 0, size)
        want = np.array([expected.get((chrom, b), np.nan) for b in range(size)])
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, equal_nan=True)


def test_saliency_tracks_hold_the_observed_base_attribution(genome_run):
    run, genome, bed, seqs = genome_run
    result = steps.saliency(run, bed, genome=genome, figures=0, verbose=False)
    labels = ["target_0", "target_1"]
    folder = run.analysis_dir("saliency") / "gradient_x_input" / "tracks"
    assert sorted(result.tracks) == sorted(folder / f"{t}.bw" for t in labels)
    assert sorted(p.name for p in folder.iterdir()) == ["target_0.bw", "target_1.bw"]
    assert "explain/saliency/gradient_x_input/tracks/" in run.steps()["saliency"]["outputs"]
    with h5py.File(result.path, "r") as h5:
        attributions = h5["attributions"][:]  # (N, 4, L, T)
        onehot = h5["onehot"][:]
    # the loader reverse-complemented the - windows: the stored bases say so
    for i, (chrom, start, end, strand) in enumerate(BED):
        window = seqs[chrom][start:end]
        if strand == "-":
            window = window.translate(COMPLEMENT)[::-1]
        assert "".join("ACGT"[b] for b in onehot[i].argmax(0)) == window
    for k, label in enumerate(labels):
        # the projection: the observed base's value, zero elsewhere
        observed = np.array(
            [
                [attributions[i, onehot[i, :, p].argmax(), p, k] for p in range(LENGTH)]
                for i in range(4)
            ]
        )
        check_track(folder / f"{label}.bw", by_hand(observed, np.arange(LENGTH)))


def test_ism_tracks_hold_mean_loss_and_gain(genome_run):
    run, genome, bed, _ = genome_run
    result = steps.ism(run, bed, genome=genome, window=40, figures=0, verbose=False)
    folder = run.analysis_dir("ism") / "tracks"
    names = {f"target_{k}.{kind}.bw" for k in range(2) for kind in ("mean", "loss", "gain")}
    assert {p.name for p in folder.iterdir()} == names
    assert {p.name for p in result.tracks} == names
    with h5py.File(result.path, "r") as h5:
        delta = h5["delta"][:]  # (N, 4, W, T), 0 at the reference base
        positions = h5["positions"][:]
        onehot = h5["onehot"][:]
    assert positions.tolist() == list(range(10, 50))  # the central 40 of 60
    n, _, width, _ = delta.shape
    for k in range(2):
        mean, loss, gain = (np.empty((n, width)) for _ in range(3))
        for i in range(n):
            for w, p in enumerate(positions.tolist()):
                reference = int(onehot[i, :, p].argmax())
                changes = [float(delta[i, b, w, k]) for b in range(4) if b != reference]
                mean[i, w] = sum(changes) / 3
                # Basset's (ism.tsv's) loss and gain: the largest drop and rise, >= 0
                loss[i, w] = max(-min(changes), 0.0)
                gain[i, w] = max(max(changes), 0.0)
        for kind, values in (("mean", mean), ("loss", loss), ("gain", gain)):
            check_track(folder / f"target_{k}.{kind}.bw", by_hand(values, positions))


def test_no_tracks_for_fasta_input(genome_run, tmp_path):
    run, _, _, seqs = genome_run
    fasta = tmp_path / "seqs.fa"
    fasta.write_text(f">a\n{seqs['chr1'][:LENGTH]}\n")
    result = steps.ism(run, fasta, figures=0, verbose=False)
    assert result.tracks == []
    assert not (run.analysis_dir("ism") / "tracks").exists()
    assert run.steps()["ism"]["genome"] is None


def test_cli_ism_and_saliency_write_tracks_for_bed_input(genome_run):
    run, genome, bed, _ = genome_run
    cli = CliRunner()
    for verb in ("saliency", "ism"):
        args = [verb, str(run.path), str(bed), "--genome", str(genome), "--figures", "0"]
        done = cli.invoke(app, [*args, "--no-progress"])
        assert done.exit_code == 0, done.output
        assert "genome tracks (bigWig) ->" in done.output
    assert (run.analysis_dir("ism") / "tracks" / "target_1.gain.bw").is_file()
    assert (run.analysis_dir("saliency") / "gradient_x_input" / "tracks" / "target_1.bw").is_file()


def test_window_tracks_average_chains_of_overlapping_windows():
    # length-4 windows on one chromosome: a chain at 2, 3, 3 (a duplicate start), 5 and a
    # lone window at 12 on -, given out of order; worked out base by base below
    windows = GenomeWindows(
        chroms=np.array(["c"] * 5, dtype=object),
        starts=np.array([12, 3, 2, 5, 3]),
        strands=np.array(["-", "+", "+", "+", "+"], dtype=object),
        length=4,
        chrom_sizes={"a": 50, "c": 30},
        genome=Path("unused.fa"),
    )
    values = np.array(
        [
            [1.0, 2.0, 3.0, 4.0],  # at 12 on -: bases 15, 14, 13, 12
            [10.0, 20.0, 30.0, 40.0],  # bases 3..6
            [100.0, 200.0, 300.0, np.nan],  # bases 2..5, no score at 5
            [5.0, 6.0, 7.0, 8.0],  # bases 5..8
            [0.0, 0.0, 0.0, 0.0],  # bases 3..6 again
        ]
    )
    want = np.full(30, np.nan)
    want[2] = 100
    want[3] = (200 + 10 + 0) / 3
    want[4] = (300 + 20 + 0) / 3
    want[5] = (30 + 0 + 5) / 3
    want[6] = (40 + 0 + 6) / 3
    want[7], want[8] = 7, 8
    want[12:16] = [4, 3, 2, 1]
    got = np.full(30, np.nan)
    last_end = 0
    for chrom, start, v in window_tracks(values, windows):
        assert chrom == "c" and start >= last_end  # in order, not overlapping
        got[start : start + len(v)] = v
        last_end = start + len(v)
    np.testing.assert_allclose(got, want, equal_nan=True, rtol=1e-6)
