"""Parsers through the CLI: inputs that once gave a misleading message or were accepted
silently now stop with exit code 2 and one message naming the file (issue 13)."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from motiflens.cli import app
from motiflens.config import BassetConfig, ModelConfig
from motiflens.models import build_model
from motiflens.runs import Run

runner = CliRunner()
LENGTH = 40


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    config = ModelConfig(
        name="basset",
        n_targets=2,
        length=LENGTH,
        arch=BassetConfig(filters=(4,), sizes=(5,), pools=(2,), hidden=(4,)),
    )
    path = tmp_path_factory.mktemp("run")
    Run(path).save_model(build_model(config).eval(), config)
    return path


def seq(seed: int) -> str:
    return "".join(np.random.default_rng(seed).choice(list("ACGT"), LENGTH))


def predict(run_dir: Path, source: Path, out: Path):
    return runner.invoke(
        app, ["predict", str(run_dir), str(source), "-o", str(out), "--no-progress"]
    )


def test_predict_reads_a_fasta_with_a_byte_order_mark(run_dir, tmp_path):
    fasta = tmp_path / "bom.fa"
    fasta.write_bytes(b"\xef\xbb\xbf" + f">a\n{seq(1)}\n>b\n{seq(2)}\n".encode())
    result = predict(run_dir, fasta, tmp_path / "p.tsv")
    assert result.exit_code == 0, result.output
    names = [line.split("\t")[0] for line in (tmp_path / "p.tsv").read_text().splitlines()]
    assert names == ["name", "a", "b"]


def test_predict_refuses_a_binary_file_as_such(run_dir, tmp_path):
    blob = tmp_path / "image.fa"
    blob.write_bytes(bytes(range(256)) * 8)
    result = predict(run_dir, blob, tmp_path / "p.tsv")
    assert result.exit_code == 2
    assert "not a text file" in result.output and "BED" not in result.output
    assert "Traceback" not in result.output


def test_predict_refuses_duplicate_fasta_names(run_dir, tmp_path):
    fasta = tmp_path / "dup.fa"
    fasta.write_text(f">x\n{seq(1)}\n>y\n{seq(2)}\n>x\n{seq(3)}\n")
    result = predict(run_dir, fasta, tmp_path / "p.tsv")
    assert result.exit_code == 2
    assert f"{fasta}:5" in result.output and "'x' (lines 1 and 5)" in result.output
    assert not (tmp_path / "p.tsv").exists()


def test_dataset_of_positives_only_is_refused(tmp_path):
    rows = "".join(f"A\te{i}\t{seq(i)}\t1\n" for i in range(30))
    train = tmp_path / "train_AC.seq.gz"
    with gzip.open(train, "wt") as fh:
        fh.write("FoldID\tEventID\tseq\tBound\n" + rows)
    out = tmp_path / "d.h5"
    result = runner.invoke(app, ["dataset", "sequences", str(train), "-o", str(out)])
    assert result.exit_code == 2
    assert "only positives (1) in all 30 training records" in result.output
    assert "--negatives shuffle" in result.output and not out.exists()
    result = runner.invoke(
        app, ["dataset", "sequences", str(train), "-o", str(out), "--negatives", "shuffle"]
    )
    assert result.exit_code == 0, result.output


def test_dataset_ragged_table_row(tmp_path):
    table = tmp_path / "t.tsv"
    table.write_text("sequence\tlabel\nACGT\t1\nACGA\nACGG\t0\n")
    result = runner.invoke(app, ["dataset", "sequences", str(table), "-o", str(tmp_path / "d.h5")])
    assert result.exit_code == 2
    assert f"{table}:3" in result.output
    assert "line has 1 column(s) but the header has 2" in result.output
    assert "label ''" not in result.output


@pytest.mark.parametrize(
    ("data", "fragments"),
    [
        (b"training:\n  max_epochs: 2\n# caf\xe9\n", ["cfg.yaml:3", "byte 0xe9 at offset 31"]),
        (
            b"training:\n  max_epochs: " + b"9" * 5000 + b"\n",
            ["cfg.yaml", "training.max_epochs", "5,000 digits", "out of range"],
        ),
    ],
)
def test_train_config_errors_name_the_file(tmp_path, data, fragments):
    config = tmp_path / "cfg.yaml"
    config.write_bytes(data)
    result = runner.invoke(
        app, ["train", str(tmp_path / "none.h5"), str(tmp_path / "run"), "--config", str(config)]
    )
    assert result.exit_code == 2
    for fragment in fragments:
        assert fragment in result.output
    assert "codec" not in result.output and "int_max_str_digits" not in result.output
