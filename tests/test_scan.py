"""motiflens scan: windows, per-base means, chunking, and tracks checked against predict."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from motiflens import distributed
from motiflens.cli import app
from motiflens.config import BassetConfig, ModelConfig
from motiflens.errors import InputError
from motiflens.models import build_model
from motiflens.prediction import predict_file
from motiflens.runs import Run
from motiflens.scanning import (
    per_base,
    predict_windows,
    stream_per_base,
    window_chunks,
    window_starts,
)
from motiflens.sequence.tracks import read_bigwig
from motiflens.steps import scan

LENGTH = 40
runner = CliRunner()


def random_seq(rng: np.random.Generator, n: int) -> str:
    return "".join(rng.choice(list("ACGT"), size=n))


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> tuple[Path, Path, dict[str, str]]:
    """An untrained small Basset as a run, and a genome of two chromosomes (one with Ns)."""
    root = tmp_path_factory.mktemp("scan")
    rng = np.random.default_rng(0)
    seqs = {"chr1": random_seq(rng, 1000), "chr2": random_seq(rng, 430)}
    seqs["chr2"] = seqs["chr2"][:100] + "N" * 20 + seqs["chr2"][120:]
    genome = root / "g.fa"
    genome.write_text(
        "".join(
            f">{c}\n" + "\n".join(s[i : i + 60] for i in range(0, len(s), 60)) + "\n"
            for c, s in seqs.items()
        )
    )
    torch.manual_seed(0)
    config = ModelConfig(
        name="basset",
        n_targets=2,
        length=LENGTH,
        arch=BassetConfig(filters=(6, 4), sizes=(5, 3), pools=(2, 2), hidden=(8,)),
    )
    run_dir = root / "run"
    Run(run_dir).save_model(build_model(config).eval(), config)
    (run_dir / "target_labels.txt").write_text("cell one\ncell/two\n")
    return run_dir, genome, seqs


def predicted(run_dir: Path, genome: Path, windows: list[tuple[str, int]], tmp: Path):
    """``motiflens predict`` on a BED of the windows: the independent path."""
    bed = tmp / "windows.bed"
    bed.write_text("".join(f"{c}\t{s}\t{s + LENGTH}\n" for c, s in windows))
    out = tmp / "pred.tsv"
    predict_file(run_dir, bed, out, genome=genome, verbose=False)
    return pd.read_csv(out, sep="\t").iloc[:, 1:].to_numpy()


# ------------------------------------------------------------------ windows


def test_window_starts_cover_the_region_and_end_at_its_end():
    np.testing.assert_array_equal(window_starts(10, 4, 3), [0, 3, 6])  # 6 + 4 = 10
    np.testing.assert_array_equal(window_starts(11, 4, 3), [0, 3, 6, 7])  # one more, ending at 11
    np.testing.assert_array_equal(window_starts(4, 4, 2), [0])
    np.testing.assert_array_equal(window_starts(12, 4, 4), [0, 4, 8])
    with pytest.raises(ValueError, match="shorter than the window"):
        window_starts(3, 4, 1)


def test_per_base_is_the_mean_of_the_covering_windows():
    # windows [0,4) -> 1 and [2,6) -> 3 over 6 bases; target 2 is 10x
    preds = np.array([[1.0, 10.0], [3.0, 30.0]])
    got = per_base(np.array([0, 2]), 4, preds, 6)
    np.testing.assert_allclose(got[:, 0], [1, 1, 2, 2, 3, 3])
    np.testing.assert_allclose(got[:, 1], [10, 10, 20, 20, 30, 30])


@pytest.mark.parametrize("length", [1_000, 100_000])
def test_chunks_hold_a_bounded_number_of_windows_whatever_the_region_length(length):
    window, stride, chunk = 40, 7, 64
    starts = window_starts(length, window, stride)
    chunks = list(window_chunks(starts, window, chunk))
    assert max(c.stop - c.first for c in chunks) <= chunk
    # the bases one chunk reads: (chunk - 1) * stride + window at most, not the region
    assert max(c.span_end - c.span_start for c in chunks) <= (chunk - 1) * stride + window
    assert sum(c.stop - c.first for c in chunks) == len(starts)
    # chunk by chunk, carrying the overlap, gives the naive mean at every base
    rng = np.random.default_rng(1)
    preds = rng.random((len(starts), 2))
    parts = list(stream_per_base(starts, window, (preds[c.first : c.stop] for c in chunks), chunk))
    assert [o for o, _ in parts] == [0] + [int(starts[c.stop]) for c in chunks[:-1]]
    got = np.concatenate([v for _, v in parts])
    assert got.shape == (length, 2)
    for base in [0, 5, 39, 40, 41, length // 2, length - 1]:
        covering = (starts <= base) & (starts + window > base)
        np.testing.assert_allclose(got[base], preds[covering].mean(axis=0), rtol=1e-6)


def test_predict_windows_equals_the_model_on_cut_windows(setup):
    run_dir, _, seqs = setup
    model = Run(run_dir).model("cpu")
    seq = seqs["chr1"][:200]
    x = np.zeros((4, len(seq)), np.float32)
    for j, b in enumerate(seq):
        x["ACGT".index(b), j] = 1
    starts = np.array([0, 13, 100, 160])
    got = predict_windows(model, x, starts, batch_size=3)
    batch = torch.from_numpy(np.stack([x[:, s : s + LENGTH] for s in starts]))
    with torch.no_grad():
        want = torch.sigmoid(model(batch)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------ tracks


def test_tracks_equal_predict_for_non_overlapping_windows(setup, tmp_path):
    run_dir, genome, _ = setup
    # chr1:101-500 holds ten 40 bp windows side by side (stride = window)
    report = scan(
        run_dir, "chr1:101-500", genome=genome, out=tmp_path, stride=LENGTH, verbose=False
    )
    windows = [("chr1", 100 + k * LENGTH) for k in range(10)]
    want = predicted(run_dir, genome, windows, tmp_path)
    assert report.n_windows == 10
    for t, name in enumerate(["cell_one", "cell_two"]):
        track = read_bigwig(tmp_path / f"{name}.bw", "chr1", 0, 1000)
        assert np.isnan(track[:100]).all() and np.isnan(track[500:]).all()
        for k, (_, s) in enumerate(windows):
            np.testing.assert_allclose(track[s : s + LENGTH], want[k, t], rtol=2e-5)


def test_overlapping_windows_average_by_hand(setup, tmp_path):
    run_dir, genome, _ = setup
    # chr2 is 430 bp: stride 15 gives starts 0, 15, ..., 390 and one more at 390 = 430 - 40
    scan(run_dir, "chr2", genome=genome, out=tmp_path, stride=15, bedgraph=True, verbose=False)
    starts = list(range(0, 391, 15))
    if starts[-1] != 390:
        starts.append(390)
    want = predicted(run_dir, genome, [("chr2", s) for s in starts], tmp_path)
    track = read_bigwig(tmp_path / "cell_two.bw", "chr2", 0, 430)
    for base in range(430):
        rows = [k for k, s in enumerate(starts) if s <= base < s + LENGTH]
        assert track[base] == pytest.approx(want[rows, 1].mean(), rel=2e-5), base
    # the bedGraph says the same, with the target's own name
    lines = (tmp_path / "cell_two.bedGraph").read_text().splitlines()
    assert lines[0] == 'track type=bedGraph name="cell/two"'
    chrom, lo, _, value = lines[1].split("\t")
    assert (chrom, int(lo)) == ("chr2", 0)
    assert float(value) == pytest.approx(float(track[0]), rel=1e-6)


def test_bed_regions_are_sorted_and_merged_and_manifest_records_the_step(setup, tmp_path):
    run_dir, genome, _ = setup
    bed = tmp_path / "r.bed"
    # unsorted, two overlapping regions on chr1 and one on chr2
    bed.write_text("chr2\t10\t90\tc\nchr1\t500\t600\tb\nchr1\t200\t550\ta\n")
    report = scan(run_dir, bed, genome=genome, stride=20, verbose=False)
    assert [(r.chrom, r.start, r.end) for r in report.regions] == [
        ("chr1", 200, 600),
        ("chr2", 10, 90),
    ]
    assert report.regions[0].name == "a,b"
    out = run_dir / "explain" / "scan"
    track = read_bigwig(out / "cell_one.bw", "chr1", 0, 1000)
    assert np.isnan(track[:200]).all() and np.isfinite(track[200:600]).all()
    assert np.isnan(track[600:]).all()
    step = json.loads((run_dir / "manifest.json").read_text())["steps"]["scan"]
    assert step["stride"] == 20 and step["regions"] == str(bed)
    assert sorted(step["outputs"]) == ["explain/scan/cell_one.bw", "explain/scan/cell_two.bw"]


def test_small_chunks_and_sharded_ranks_write_the_same_tracks(setup, tmp_path, monkeypatch):
    run_dir, genome, _ = setup
    scanning = importlib.import_module("motiflens.scanning")

    kw = dict(genome=genome, stride=9, verbose=False)
    scan(run_dir, "chr1", out=tmp_path / "one", **kw)

    def fake(work, merge, *, near, launch=None, device=None):
        return distributed.run_inline(work, merge, near=near, world_size=3)

    monkeypatch.setattr(scanning, "run_sharded", fake)
    report = scan(run_dir, "chr1", out=tmp_path / "three", chunk_windows=7, **kw)
    assert report.processes == 3
    for name in ["cell_one.bw", "cell_two.bw"]:
        a = read_bigwig(tmp_path / "one" / name, "chr1", 0, 1000)
        b = read_bigwig(tmp_path / "three" / name, "chr1", 0, 1000)
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_short_region_and_bad_stride_are_refused(setup, tmp_path):
    run_dir, genome, _ = setup
    with pytest.raises(InputError, match="shorter than the model's input"):
        scan(run_dir, "chr1:1-30", genome=genome, out=tmp_path, verbose=False)
    for stride in (0, LENGTH + 1):  # a stride past the window would leave bases uncovered
        with pytest.raises(InputError, match="--stride"):
            scan(run_dir, "chr1", genome=genome, out=tmp_path, stride=stride, verbose=False)


# ------------------------------------------------------------------ CLI


def test_cli_chromosome_and_region(setup, tmp_path):
    run_dir, genome, _ = setup
    args = ["scan", str(run_dir), "chr2", "--genome", str(genome), "--no-progress"]
    out = runner.invoke(app, [*args, "-o", str(tmp_path / "a")])
    assert out.exit_code == 0, out.output
    assert "430 bases" in out.output
    assert np.isfinite(read_bigwig(tmp_path / "a" / "cell_one.bw", "chr2", 0, 430)).all()
    out = runner.invoke(app, [*args[:2], "chr1:901-1,000", *args[3:], "-o", str(tmp_path / "b")])
    assert out.exit_code == 0, out.output
    track = read_bigwig(tmp_path / "b" / "cell_one.bw", "chr1", 0, 1000)
    assert np.isnan(track[:900]).all() and np.isfinite(track[900:]).all()


@pytest.mark.parametrize(
    ("regions", "message"),
    [
        ("chr9:1-100", "chr9"),
        ("chr1:901-1,200", "runs past the end of chr1"),
        ("nonsense!", "nonsense!"),
    ],
)
def test_cli_bad_regions_exit_2_naming_them(setup, tmp_path, regions, message):
    run_dir, genome, _ = setup
    out = runner.invoke(
        app, ["scan", str(run_dir), regions, "--genome", str(genome), "-o", str(tmp_path)]
    )
    assert out.exit_code == 2
    assert message in out.output
