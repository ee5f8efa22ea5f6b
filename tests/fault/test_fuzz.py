"""Fuzz every parser through the CLI: exit 0 or 2, never a traceback.

Hypothesis writes near-valid files (real lines of the format, mutated, shuffled, mixed
with arbitrary text and bytes; for the binary formats, a real file cut short or with
bytes overwritten) and runs the verb that reads them in-process with typer's CliRunner.
Whatever the input, the command either succeeds or refuses with one message (exit code
2); an uncaught exception (exit 1) is a bug. 25 examples per parser, the same ones on
every run (derandomized).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fault.forked import invoke
from tests.fault.inputs import MEME, TINY_YAML, genome, plain_fasta, tiny_dataset, tiny_run

FUZZ = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,  # the same examples in CI every time: a failure is reproducible
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fuzz")
    tiny_run(tiny_dataset(root / "sim.h5", n=200), root / "run")
    genome(root / "genome.fa")
    plain_fasta(root / "seqs.fa", 4)
    (root / "a.bed").write_text("chr1\t1000\t1200\nchr2\t300\t400\nchr8\t2000\t2300\n")
    return root


def document(lines: list[str]) -> st.SearchStrategy[bytes]:
    """Files made of a format's own lines, mutated and mixed with noise."""
    line = st.one_of(
        st.sampled_from(lines),
        st.sampled_from(lines).map(lambda s: s.replace("\t", " ")),
        st.sampled_from(lines).map(lambda s: s[: len(s) // 2]),
        st.text(max_size=30),
        st.sampled_from(["", "\ufeff", "-1", "0", "nan", "9" * 5000, "\x00", "#", ">"]),
    )
    text = st.lists(line, max_size=12).map(lambda ls: "\n".join(ls).encode("utf-8", "replace"))
    eol = st.sampled_from([b"\n", b"\r\n"])
    return st.one_of(
        text,
        st.tuples(text, eol).map(lambda t: t[0].replace(b"\n", t[1])),
        st.binary(max_size=200),
        st.tuples(text, st.binary(max_size=20)).map(lambda t: t[0] + t[1]),
    )


FASTA_LINES = [">r1 1", ">r2 0", ">chr1:100-200 1", "ACGTACGTAC", "acgtnnACGT", ">x 1,0", "ACGU"]
PLAIN_FASTA_LINES = [">s1", ">s2", "ACGT" * 25, "N" * 100, "ACGTRYKM" * 12, ">s1"]
TABLE_LINES = [
    "sequence\tlabel",
    "ACGTACGT\t1",
    "TTTTACGT\t0",
    "ACGT\t1\textra",
    "ACGTAC\t",
    "x\ty",
]
BED_LINES = ["chr1\t100\t200", "chr2\t50\t150\tp\t0\t-", "chr8\t10\t10", "chrX\t1\t2", "track x"]
VCF_LINES = [
    "##fileformat=VCFv4.2",
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO",
    "chr1\t500\t.\tA\tC\t.\tPASS\t.",
    "chr2\t0\t.\tG\tT\t.\t.\t.",
    "chr8\t2999\trs1\tN\t<DEL>\t.\t.\t.",
    "chr1\t10\t.\tAC\tA,XYZ\t.\t.\t.",
]
YAML_LINES = [*TINY_YAML.splitlines(), "  task: regression", "model: [1, 2", "training: null"]
MEME_LINES = MEME.splitlines()


def _case(tmp_path: Path, data: bytes, name: str) -> Path:
    """A fresh folder for one example (tmp_path is shared by a test's examples)."""
    d = Path(tempfile.mkdtemp(dir=tmp_path))
    (d / name).write_bytes(data)
    return d


def _check(args: list, d: Path) -> None:
    try:
        code, output = invoke(args)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    assert "Traceback" not in output, output[-3000:]
    assert code in (0, 2), output[-3000:]


@FUZZ
@given(data=document(FASTA_LINES))
def test_labelled_fasta(inputs, data, tmp_path):
    d = _case(tmp_path, data, "x.fa")
    _check(["dataset", "sequences", d / "x.fa", "-o", d / "o.h5"], d)


@FUZZ
@given(data=document(PLAIN_FASTA_LINES))
def test_fasta_to_predict(inputs, data, tmp_path):
    d = _case(tmp_path, data, "x.fa")
    _check(["predict", inputs / "run", d / "x.fa", "-o", d / "p.tsv", "--no-progress"], d)


@FUZZ
@given(data=document(TABLE_LINES))
def test_tsv_table(inputs, data, tmp_path):
    d = _case(tmp_path, data, "x.tsv")
    _check(["dataset", "sequences", d / "x.tsv", "-o", d / "o.h5"], d)


@FUZZ
@given(data=document(BED_LINES))
def test_bed_to_peaks(inputs, data, tmp_path):
    d = _case(tmp_path, data, "x.bed")
    (d / "t.txt").write_text(f"cellA\t{inputs / 'a.bed'}\ncellX\tx.bed\n")
    args = ["dataset", "peaks", d / "t.txt", inputs / "genome.fa", d / "p.h5", "--size", "100"]
    _check([*args, "--merge-overlap", "20", "--valid-chrom", "chr8", "--test-chrom", "chr2"], d)


@FUZZ
@given(data=document(VCF_LINES))
def test_vcf(inputs, data, tmp_path):
    d = _case(tmp_path, data, "x.vcf")
    args = ["variants", inputs / "run", d / "x.vcf", "--genome", inputs / "genome.fa"]
    _check([*args, "-o", d / "out", "--no-progress"], d)


@FUZZ
@given(data=document(YAML_LINES))
def test_config_yaml_of_a_run(inputs, data, tmp_path):
    d = _case(tmp_path, b"", "unused")
    shutil.copytree(inputs / "run", d / "run")
    (d / "run" / "config.yaml").write_bytes(data)
    _check(["predict", d / "run", inputs / "seqs.fa", "-o", d / "p.tsv", "--no-progress"], d)


@FUZZ
@given(data=document(YAML_LINES))
def test_config_yaml_to_train(inputs, data, tmp_path):
    d = _case(tmp_path, data, "c.yaml")
    args = ["train", inputs / "sim.h5", d / "run", "--config", d / "c.yaml", "--no-progress"]
    _check([*args, "--max-epochs", "1"], d)


@FUZZ
@given(data=document(MEME_LINES))
def test_meme(inputs, data, tmp_path):
    d = _case(tmp_path, data, "m.meme")
    _check(["insert", inputs / "run", "-n", "4", "--db", d / "m.meme"], d)


def damaged(original: bytes) -> st.SearchStrategy[bytes]:
    """A binary file cut short, or with a few bytes overwritten."""
    n = len(original)
    cut = st.integers(0, n - 1).map(lambda k: original[:k])

    def overwrite(edits: list[tuple[int, int]]) -> bytes:
        data = bytearray(original)
        for at, value in edits:
            data[at] = value
        return bytes(data)

    flips = st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, 255)), min_size=1, max_size=8)
    return st.one_of(cut, flips.map(overwrite))


@pytest.fixture(scope="module")
def originals(inputs) -> dict[str, bytes]:
    return {
        "sim.h5": (inputs / "sim.h5").read_bytes(),
        "model.safetensors": (inputs / "run" / "model.safetensors").read_bytes(),
    }


@FUZZ
@given(data=st.data())
def test_damaged_dataset(inputs, originals, data, tmp_path):
    d = _case(tmp_path, data.draw(damaged(originals["sim.h5"])), "d.h5")
    _check(["dataset", "info", d / "d.h5"], d)


@FUZZ
@given(data=st.data())
def test_damaged_weights(inputs, originals, data, tmp_path):
    d = _case(tmp_path, b"", "unused")
    shutil.copytree(inputs / "run", d / "run")
    (d / "run" / "model.safetensors").write_bytes(
        data.draw(damaged(originals["model.safetensors"]))
    )
    _check(["predict", d / "run", inputs / "seqs.fa", "-o", d / "p.tsv", "--no-progress"], d)
