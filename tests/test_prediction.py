"""Batch prediction: arrays, reverse-complement averaging, FASTA / BED / dataset inputs."""

from __future__ import annotations

import gzip
import inspect
import logging
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from motiflens.config import BassetConfig, CNNConfig, ModelConfig
from motiflens.data.hdf5 import read_split, write_dataset
from motiflens.errors import InputError
from motiflens.models import build_model
from motiflens.prediction import (
    PredictionReport,
    check_finite_weights,
    iter_batches,
    predict_array,
    predict_file,
    predict_sequences,
)
from motiflens.runs import Run
from motiflens.sequence.fasta import Genome

LENGTH = 40
COMPLEMENT = {"A": "T", "C": "G", "G": "C", "T": "A", "N": "N"}


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, nn.Module]:
    """A small Basset with random weights saved as a run directory, and the model itself.

    Basset's dense layers make every output depend on where things are in the sequence,
    so a window off by one base gives other numbers (a DeMo CNN's global pooling hides
    such a shift).
    """
    torch.manual_seed(0)
    config = ModelConfig(
        name="basset",
        n_targets=2,
        length=LENGTH,
        arch=BassetConfig(filters=(6, 4), sizes=(5, 3), pools=(2, 2), hidden=(8,)),
    )
    model = build_model(config).eval()
    run_dir = tmp_path_factory.mktemp("run")
    Run(run_dir).save_model(model, config)
    return run_dir, model


# ------------------------------------------------------------- references


def onehot(seq: str) -> np.ndarray:
    """Reference one-hot (4, L), 0.25 for N, written out independently of the package."""
    out = np.zeros((4, len(seq)), dtype=np.float32)
    for j, base in enumerate(seq.upper()):
        if base == "N":
            out[:, j] = 0.25
        else:
            out["ACGT".index(base), j] = 1.0
    return out


def revcomp(seq: str) -> str:
    return "".join(COMPLEMENT[b] for b in reversed(seq))


def reference(model: nn.Module, seqs: list[str], *, logits: bool = False) -> np.ndarray:
    """The model run once on all sequences, straight through ``model(x)``."""
    x = torch.from_numpy(np.stack([onehot(s) for s in seqs]))
    with torch.no_grad():
        out = model(x)
    return (out if logits else torch.sigmoid(out)).numpy()


def random_seq(rng: np.random.Generator, n: int) -> str:
    return "".join(rng.choice(list("ACGT"), size=n))


def write_fasta(path: Path, records: list[tuple[str, str]], width: int = 60) -> Path:
    with open(path, "w") as fh:
        for name, seq in records:
            fh.write(f">{name}\n")
            for i in range(0, len(seq), width):
                fh.write(seq[i : i + width] + "\n")
    return path


def read_tsv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", dtype={"name": str})


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".part"))


# ------------------------------------------------------------ predict_array


def test_predict_array_equals_direct_model_over_batch_boundaries(trained):
    _, model = trained
    rng = np.random.default_rng(1)
    seqs = [random_seq(rng, LENGTH) for _ in range(23)]
    x = np.stack([onehot(s) for s in seqs])
    want_logits = reference(model, seqs, logits=True)
    got = predict_array(model, x, batch_size=5)  # 5+5+5+5+3
    assert got.shape == (23, 2)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want_logits, rtol=1e-5, atol=1e-6)
    probs = predict_array(model, torch.from_numpy(x), transform="binary")
    np.testing.assert_allclose(probs, 1 / (1 + np.exp(-want_logits)), rtol=1e-5, atol=1e-6)
    assert predict_array(model, x[:0]).shape == (0, 2)


def test_predict_array_reverse_complement_average(trained):
    _, model = trained
    rng = np.random.default_rng(2)
    seqs = [random_seq(rng, LENGTH) for _ in range(7)]
    fwd = reference(model, seqs, logits=True)
    rev = reference(model, [revcomp(s) for s in seqs], logits=True)
    x = np.stack([onehot(s) for s in seqs])
    got = predict_array(model, x, batch_size=3, reverse_complement=True)
    np.testing.assert_allclose(got, (fwd + rev) / 2, rtol=1e-5, atol=1e-6)
    # the same with the tensor flipped by hand
    xt = torch.from_numpy(x)
    with torch.no_grad():
        by_flip = ((model(xt) + model(xt.flip(1, 2))) / 2).numpy()
    np.testing.assert_allclose(got, by_flip, rtol=1e-5, atol=1e-6)


class CountAT(nn.Module):
    """Known weights: logit 0 = number of A, logit 1 = number of T."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([x[:, 0, :].sum(-1), x[:, 3, :].sum(-1)], dim=1)


def test_reverse_complement_averages_logits_before_the_sigmoid():
    # AAAC: 3 A, 0 T; its reverse complement GTTT: 0 A, 3 T -> mean logits 1.5 and 1.5
    x = onehot("AAAC")[None]
    assert predict_array(CountAT(), x).tolist() == [[3.0, 0.0]]
    rc = predict_array(CountAT(), x, reverse_complement=True)
    assert rc.tolist() == [[1.5, 1.5]]
    prob = predict_array(CountAT(), x, reverse_complement=True, transform="binary")
    np.testing.assert_allclose(prob, [[1 / (1 + math.exp(-1.5))] * 2], rtol=1e-6)
    # not the mean of the two probabilities (Basset's -rc)
    mean_prob = (1 / (1 + math.exp(-3)) + 0.5) / 2
    assert abs(prob[0, 0] - mean_prob) > 1e-3
    poisson = predict_array(CountAT(), x, transform="poisson")
    np.testing.assert_allclose(poisson, [[math.exp(3), 1.0]], rtol=1e-6)


def test_predict_array_restores_training_mode_and_checks_shape(trained):
    _, model = trained
    model.train()
    try:
        predict_array(model, np.zeros((2, 4, LENGTH), np.float32))
        assert model.training
    finally:
        model.eval()
    with pytest.raises(ValueError, match=r"\(n, 4, length\)"):
        predict_array(model, np.zeros((2, LENGTH, 4), np.float32))


def test_predict_sequences_from_run_dir_and_model(trained):
    run_dir, model = trained
    rng = np.random.default_rng(3)
    seqs = [random_seq(rng, LENGTH) for _ in range(4)]
    want = reference(model, seqs)
    np.testing.assert_allclose(predict_sequences(run_dir, seqs, device="cpu"), want, rtol=1e-5)
    np.testing.assert_allclose(predict_sequences(model, seqs), want, rtol=1e-5)
    logits = predict_sequences(model, seqs, raw=True)
    np.testing.assert_allclose(logits, reference(model, seqs, logits=True), rtol=1e-5, atol=1e-6)
    # a shorter string is centre-padded with N
    short = seqs[0][:36]
    np.testing.assert_allclose(
        predict_sequences(model, [short]), reference(model, ["NN" + short + "NN"]), rtol=1e-5
    )


# -------------------------------------------------------------------- FASTA


def test_fasta_with_wrong_lengths_is_padded_and_trimmed_with_one_warning(trained, tmp_path, caplog):
    run_dir, model = trained
    rng = np.random.default_rng(4)
    exact, short, long = random_seq(rng, 40), random_seq(rng, 36), random_seq(rng, 45)
    fasta = write_fasta(
        tmp_path / "in.fa", [("exact", exact), ("short", short), ("long", long)], width=17
    )
    out = tmp_path / "pred.tsv"
    with caplog.at_level(logging.WARNING, logger="motiflens.prediction"):
        report = predict_file(run_dir, fasta, out, device="cpu", verbose=False)
    # by hand: 36 bp gets 2 N each side; 45 bp loses 2 on the left and 3 on the right
    expected = reference(model, [exact, "NN" + short + "NN", long[2:42]])
    table = read_tsv(out)
    assert list(table.columns) == ["name", "target_0", "target_1"]
    assert table["name"].tolist() == ["exact", "short", "long"]
    np.testing.assert_allclose(table[["target_0", "target_1"]].to_numpy(), expected, rtol=1e-5)
    assert isinstance(report, PredictionReport)
    assert (report.n, report.n_resized, report.path) == (3, 2, out)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert warnings[0].getMessage().startswith("2 of 3 sequences")
    assert "2" in str(report) and "3 sequences" in str(report)
    assert leftovers(tmp_path) == []


def test_fasta_of_wrong_length_refused_without_pad(trained, tmp_path):
    run_dir, _ = trained
    fasta = write_fasta(tmp_path / "in.fa", [("ok", "A" * 40), ("short", "C" * 36)])
    with pytest.raises(InputError, match="36 bp but the model takes 40 bp") as err:
        list(iter_batches(fasta, length=LENGTH, pad=False))
    assert err.value.record == "short"
    assert err.value.line == 3
    out = tmp_path / "pred.tsv"
    with pytest.raises(InputError, match="'short'"):
        predict_file(run_dir, fasta, out, pad=False, device="cpu", verbose=False)
    assert not out.exists()
    assert leftovers(tmp_path) == []


def test_gzip_fasta_and_raw_logits(trained, tmp_path):
    run_dir, model = trained
    rng = np.random.default_rng(5)
    seqs = [random_seq(rng, LENGTH) for _ in range(3)]
    path = tmp_path / "in.fa.gz"
    with gzip.open(path, "wt") as fh:
        fh.write("\n\n")  # blank lines before the first header are allowed
        for i, s in enumerate(seqs):
            fh.write(f">seq{i} some description\n{s.lower()}\n")
    out = tmp_path / "logits.tsv"
    report = predict_file(run_dir, path, out, raw=True, device="cpu", verbose=False)
    table = read_tsv(out)
    assert table["name"].tolist() == [f"seq{i} some description" for i in range(3)]
    np.testing.assert_allclose(
        table.iloc[:, 1:].to_numpy(), reference(model, seqs, logits=True), rtol=1e-5, atol=1e-6
    )
    assert report.raw and "logits" in str(report)


def test_tsv_has_six_significant_digits(tmp_path):
    run_dir = tmp_path / "run"
    config = ModelConfig(
        name="cnn",
        n_targets=1,
        length=8,
        arch=CNNConfig(filters=(1,), sizes=(1,), pools=(1,), dropout=0.0),
    )
    model = build_model(config)
    Run(run_dir).save_model(model, config)
    fasta = write_fasta(tmp_path / "in.fa", [("a", "ACGTACGT")])
    out = predict_file(run_dir, fasta, tmp_path / "p.tsv", raw=True, verbose=False).path
    value = out.read_text().splitlines()[1].split("\t")[1]
    want = float(reference(model.eval(), ["ACGTACGT"], logits=True)[0, 0])
    assert value == f"{want:.6g}"


def test_iter_batches_streams_fasta_in_batches(tmp_path):
    rng = np.random.default_rng(6)
    records = [(f"r{i}", random_seq(rng, LENGTH)) for i in range(2500)]
    fasta = write_fasta(tmp_path / "many.fa", records)
    batches = iter_batches(fasta, length=LENGTH, batch_size=1000)
    assert inspect.isgenerator(batches)
    sizes, names = [], []
    for batch_names, x in batches:
        assert x.shape == (len(batch_names), 4, LENGTH) and x.dtype == np.float32
        sizes.append(len(batch_names))
        names.extend(batch_names)
    assert sizes == [1000, 1000, 500]
    assert names == [name for name, _ in records]
    # spot-check one record against the reference one-hot
    last_x = x[-1]
    np.testing.assert_array_equal(last_x, onehot(records[-1][1]))


def test_bad_record_deep_in_the_file_is_found_lazily_and_leaves_no_output(trained, tmp_path):
    run_dir, _ = trained
    rng = np.random.default_rng(7)
    records = [(f"r{i}", random_seq(rng, LENGTH)) for i in range(2500)]
    records[1500] = ("bad", "ACGT" * 5 + "X" + "ACGT" * 4 + "ACG")
    fasta = write_fasta(tmp_path / "in.fa", records)
    # the first batch comes out before the bad record is read
    batches = iter_batches(fasta, length=LENGTH, batch_size=1000)
    names, _ = next(batches)
    assert len(names) == 1000
    with pytest.raises(InputError) as err:
        next(batches)
    assert err.value.record == "bad"
    assert err.value.line == 2 * 1500 + 2  # the sequence line of record 1500 (0-based)

    out = tmp_path / "pred.tsv"
    with pytest.raises(InputError, match="invalid character 'X'"):
        predict_file(run_dir, fasta, out, batch_size=1000, device="cpu", verbose=False)
    assert not out.exists()
    assert leftovers(tmp_path) == []
    # an existing output is left as it was
    out.write_text("old\n")
    with pytest.raises(InputError):
        predict_file(run_dir, fasta, out, batch_size=1000, device="cpu", verbose=False)
    assert out.read_text() == "old\n"
    assert leftovers(tmp_path) == []


# ---------------------------------------------------------------------- BED


@pytest.fixture
def genome(tmp_path) -> tuple[Path, dict[str, str]]:
    rng = np.random.default_rng(8)
    chroms = {"chr1": random_seq(rng, 100), "chr2": random_seq(rng, 50)}
    chroms["chr2"] = chroms["chr2"][:20] + "NNN" + chroms["chr2"][23:]
    path = write_fasta(tmp_path / "genome.fa", list(chroms.items()), width=30)
    return path, chroms


def test_bed_windows_centred_shifted_and_reverse_complemented(trained, tmp_path, genome):
    run_dir, model = trained
    genome_path, chroms = genome
    bed = tmp_path / "peaks.bed"
    bed.write_text(
        "track name=peaks\n"
        "chr1\t40\t60\n"  # mid 50 -> [30, 70)
        "chr1\t90\t100\tp\t0\t+\n"  # mid 95 -> [75, 115) shifted to [60, 100)
        "chr1\t0\t5\n"  # mid 2 -> [-18, 22) shifted to [0, 40)
        "chr2\t10\t31\tq\t0\t-\n"  # mid 20 -> [0, 40), minus strand
        "chr1\t41\t60\tr\t0\t-\n"  # mid 50 -> [30, 70), minus strand
    )
    out = tmp_path / "pred.tsv"
    report = predict_file(
        run_dir, bed, out, genome=genome_path, batch_size=2, device="cpu", verbose=False
    )
    c1, c2 = chroms["chr1"], chroms["chr2"]
    windows = [c1[30:70], c1[60:100], c1[0:40], revcomp(c2[0:40]), revcomp(c1[30:70])]
    table = read_tsv(out)
    # the BED name (column 4) where a line has one, else the window's coordinates
    assert table["name"].tolist() == ["chr1:30-70(+)", "p", "chr1:0-40(+)", "q", "r"]
    np.testing.assert_allclose(
        table[["target_0", "target_1"]].to_numpy(), reference(model, windows), rtol=1e-5
    )
    assert (report.n, report.kind, report.n_resized) == (5, "bed", 0)
    # the one-hot itself, N included
    x = np.concatenate([b for _, b in iter_batches(bed, length=LENGTH, genome=genome_path)])
    np.testing.assert_array_equal(x, np.stack([onehot(w) for w in windows]))
    # an open Genome is used as it is and left open for the caller
    with Genome(genome_path) as fasta:
        names = [n for b, _ in iter_batches(bed, length=LENGTH, genome=fasta) for n in b]
        assert names == table["name"].tolist()
        assert fasta.fetch("chr1", 0, 5) == c1[:5]


def test_bed_without_genome_is_a_clear_error(trained, tmp_path):
    run_dir, _ = trained
    bed = tmp_path / "peaks.bed"
    bed.write_text("chr1\t40\t60\n")
    out = tmp_path / "pred.tsv"
    with pytest.raises(InputError, match="genome") as err:
        predict_file(run_dir, bed, out, device="cpu", verbose=False)
    assert err.value.path == str(bed)
    assert "--genome" in (err.value.hint or "")
    assert not out.exists()
    with pytest.raises(InputError, match="genome"):
        next(iter_batches(bed, length=LENGTH))


def test_bed_errors_name_the_line(tmp_path, genome):
    genome_path, _ = genome
    bed = tmp_path / "peaks.bed"
    bed.write_text("chr1\t40\t60\nchrZ\t1\t5\n")
    with pytest.raises(InputError, match="chrZ") as err:
        next(iter_batches(bed, length=LENGTH, genome=genome_path))
    assert err.value.line == 2
    # a chromosome shorter than the window cannot hold it
    bed.write_text("chr2\t1\t5\n")
    with pytest.raises(InputError, match="shorter than the model's 60 bp") as err:
        next(iter_batches(bed, length=60, genome=genome_path))
    assert err.value.line == 1


# ------------------------------------------------------------------ dataset


def test_dataset_split_rows_equal_model_on_read_split(trained, tmp_path):
    run_dir, model = trained
    rng = np.random.default_rng(9)
    codes = rng.integers(0, 5, size=(13, LENGTH)).astype(np.uint8)
    targets = rng.integers(0, 2, size=(13, 2))
    headers = [f"h{i}" for i in range(13)]
    path = write_dataset(
        tmp_path / "data.h5",
        {
            "train": (codes[:3], targets[:3], headers[:3]),
            "test": (codes[3:], targets[3:], headers[3:]),
        },
        ["a", "b"],
    )
    x, _, names = read_split(path, "test")
    with torch.no_grad():
        want = torch.sigmoid(model(torch.from_numpy(x))).numpy()
    out = tmp_path / "pred.tsv"
    report = predict_file(run_dir, path, out, batch_size=4, device="cpu", verbose=False)
    table = read_tsv(out)
    assert table["name"].tolist() == names == headers[3:]
    np.testing.assert_allclose(table.iloc[:, 1:].to_numpy(), want, rtol=1e-5)
    assert (report.n, report.kind) == (10, "dataset")
    predict_file(run_dir, path, out, split="train", device="cpu", verbose=False)
    assert read_tsv(out)["name"].tolist() == headers[:3]
    with pytest.raises(InputError, match="no 'valid' split"):
        predict_file(run_dir, path, out, split="valid", device="cpu", verbose=False)


def test_dataset_of_another_length_is_refused(trained, tmp_path):
    run_dir, _ = trained
    codes = np.zeros((2, 30), np.uint8)
    path = write_dataset(
        tmp_path / "d.h5", {"test": (codes, np.zeros((2, 2)), ["a", "b"])}, ["a", "b"]
    )
    with pytest.raises(InputError, match="30 bp sequences but the model takes 40 bp"):
        predict_file(run_dir, path, tmp_path / "p.tsv", device="cpu", verbose=False)


# ------------------------------------------------------------ target names


def test_target_names_from_target_labels_txt(tmp_path):
    run_dir = tmp_path / "run"
    config = ModelConfig(
        name="cnn",
        n_targets=2,
        length=LENGTH,
        arch=CNNConfig(filters=(3,), sizes=(3,), pools=(1,), dropout=0.0),
    )
    Run(run_dir).save_model(build_model(config), config)
    assert Run(run_dir).target_labels(2) == ["target_0", "target_1"]
    (run_dir / "target_labels.txt").write_text("GM12878 DNase\nK562\n")
    assert Run(run_dir).target_labels(2) == ["GM12878 DNase", "K562"]
    fasta = write_fasta(tmp_path / "in.fa", [("s", "ACGT" * 10)])
    out = predict_file(run_dir, fasta, tmp_path / "p.tsv", verbose=False).path
    assert out.read_text().splitlines()[0] == "name\tGM12878 DNase\tK562"
    (run_dir / "target_labels.txt").write_text("only-one\n")
    with pytest.raises(InputError, match="1 target names for a model with 2 outputs"):
        Run(run_dir).target_labels(2)


# ------------------------------------------------------------- bad inputs


def test_missing_empty_and_directory_inputs(trained, tmp_path):
    run_dir, _ = trained
    with pytest.raises(InputError, match="not found"):
        next(iter_batches(tmp_path / "nope.fa", length=LENGTH))
    empty = tmp_path / "empty.fa"
    empty.write_text("\n\n")
    with pytest.raises(InputError, match="empty"):
        next(iter_batches(empty, length=LENGTH))
    with pytest.raises(InputError, match="directory"):
        next(iter_batches(tmp_path, length=LENGTH))
    fasta = write_fasta(tmp_path / "in.fa", [("s", "A" * 40)])
    with pytest.raises(InputError, match="not a motiflens run directory"):
        predict_file(tmp_path / "norun", fasta, tmp_path / "p.tsv", verbose=False)
    with pytest.raises(InputError, match="directory"):
        predict_file(run_dir, fasta, tmp_path, verbose=False)


# ------------------------------------------- inputs once accepted or misnamed (issue 13)


def test_duplicate_fasta_names_are_refused_before_predicting(trained, tmp_path):
    run_dir, _ = trained
    rng = np.random.default_rng(11)
    records = [(name, random_seq(rng, LENGTH)) for name in ("a", "b", "c", "b", "a")]
    fasta = write_fasta(tmp_path / "dup.fa", records)
    out = tmp_path / "pred.tsv"
    with pytest.raises(InputError) as err:
        predict_file(run_dir, fasta, out, device="cpu", verbose=False)
    # records are 2 lines each: 'b' sits on lines 3 and 7, 'a' repeats later (line 9)
    assert err.value.line == 7 and err.value.path == str(fasta)
    assert "duplicate record name 'b' (lines 3 and 7); 2 records repeat" in err.value.message
    assert not out.exists() and leftovers(tmp_path) == []


def test_bed_intervals_of_one_window_are_kept_with_one_warning(trained, tmp_path, genome, caplog):
    run_dir, model = trained
    genome_path, chroms = genome
    bed = tmp_path / "peaks.bed"
    # two intervals with midpoint 50 give the same window chr1:30-70 (rows 1 and 3)
    bed.write_text("chr1\t40\t60\nchr1\t0\t5\nchr1\t45\t55\n")
    out = tmp_path / "pred.tsv"
    with caplog.at_level(logging.WARNING):
        report = predict_file(run_dir, bed, out, genome=genome_path, device="cpu", verbose=False)
    table = read_tsv(out)
    assert table["name"].tolist() == ["chr1:30-70(+)", "chr1:0-40(+)", "chr1:30-70(+)"]
    window = chroms["chr1"][30:70]
    np.testing.assert_allclose(
        table.iloc[2, 1:].to_numpy(float), reference(model, [window])[0], rtol=1e-5
    )
    assert report.n_repeated == 1 and "1 rows repeat the name" in str(report)
    assert "'chr1:30-70(+)' (rows 1 and 3)" in caplog.text


def test_named_bed_rows_take_column_4_and_repeated_names_are_warned(
    trained, tmp_path, genome, caplog
):
    run_dir, model = trained
    genome_path, chroms = genome
    bed = tmp_path / "peaks.bed"
    # '.' is no name; 'enh' names two intervals (kept, in order, with one warning)
    bed.write_text(
        "chr1\t40\t60\tenh\nchr1\t0\t5\t.\nchr2\t10\t31\tprom\t0\t-\nchr1\t90\t100\tenh\n"
    )
    out = tmp_path / "pred.tsv"
    with caplog.at_level(logging.WARNING):
        report = predict_file(run_dir, bed, out, genome=genome_path, device="cpu", verbose=False)
    table = read_tsv(out)
    assert table["name"].tolist() == ["enh", "chr1:0-40(+)", "prom", "enh"]
    c1, c2 = chroms["chr1"], chroms["chr2"]
    windows = [c1[30:70], c1[0:40], revcomp(c2[0:40]), c1[60:100]]
    np.testing.assert_allclose(
        table[["target_0", "target_1"]].to_numpy(), reference(model, windows), rtol=1e-5
    )
    assert report.n_repeated == 1
    assert "'enh' (rows 1 and 4)" in caplog.text


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_weights_are_refused_naming_the_file(trained, tmp_path, bad):
    from safetensors.torch import load_file, save_file

    run_dir, _ = trained
    broken = tmp_path / "broken"
    shutil.copytree(run_dir, broken)
    weights = Run(broken).weights_path
    tensors = load_file(weights)
    name = sorted(tensors)[0]
    tensors[name].view(-1)[0] = bad
    save_file(tensors, weights)
    fasta = write_fasta(tmp_path / "x.fa", [("s", "ACGT" * 10)])
    out = tmp_path / "pred.tsv"
    with pytest.raises(InputError) as err:
        predict_file(broken, fasta, out, device="cpu", verbose=False)
    assert err.value.path == str(weights)
    assert "1 NaN or infinite value(s)" in err.value.message
    assert not out.exists()


def test_check_finite_weights_counts_buffers_too():
    model = nn.BatchNorm1d(3)
    check_finite_weights(model)  # finite: nothing to say
    model.running_var[1] = float("nan")
    model.weight.data[:] = float("inf")
    with pytest.raises(
        InputError, match=r"4 NaN or infinite value\(s\) of 12 \(first in 'weight'\)"
    ):
        check_finite_weights(model, "m.safetensors")


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"\xef\xbb\xbf", None),  # a BOM: read as the FASTA it is
        (b"ACGTACGT\n", "before the first '>' header"),
        (b"\x00\x01\x02\x03" * 64, "not a text file"),
    ],
)
def test_fasta_with_bom_leading_sequence_or_binary(trained, tmp_path, data, fragment):
    """These three once all read "this looks like a BED file"."""
    run_dir, model = trained
    seq = random_seq(np.random.default_rng(5), LENGTH)
    path = tmp_path / "in.fa"
    path.write_bytes(data + f">s\n{seq}\n".encode() if fragment != "not a text file" else data)
    out = tmp_path / "pred.tsv"
    if fragment is None:
        predict_file(run_dir, path, out, device="cpu", verbose=False)
        table = read_tsv(out)
        assert table["name"].tolist() == ["s"]
        np.testing.assert_allclose(
            table.iloc[0, 1:].to_numpy(float), reference(model, [seq])[0], rtol=1e-5
        )
        return
    with pytest.raises(InputError) as err:
        predict_file(run_dir, path, out, device="cpu", verbose=False)
    assert fragment in err.value.message and "BED" not in err.value.message
    assert err.value.path == str(path)
