"""Opening text inputs: byte-order marks, binary files, and telling FASTA from BED."""

from __future__ import annotations

import bz2
import gzip
from pathlib import Path

import numpy as np
import pytest

from motiflens.errors import InputError
from motiflens.sequence.bed import read_bed
from motiflens.sequence.fasta import check_unique_headers, read_fasta
from motiflens.sequence.textio import first_repeat, numbered_lines, sniff_sequence_file

BOM = b"\xef\xbb\xbf"


@pytest.mark.parametrize("compress", [False, True])
def test_a_byte_order_mark_is_dropped(tmp_path: Path, compress: bool) -> None:
    data = BOM + b">a\nACGT\n>b\nGG\n"
    path = tmp_path / ("bom.fa.gz" if compress else "bom.fa")
    path.write_bytes(gzip.compress(data) if compress else data)
    assert sniff_sequence_file(path) == "fasta"
    assert list(read_fasta(path)) == [("a", "ACGT", 1), ("b", "GG", 3)]
    bed = tmp_path / "bom.bed"
    bed.write_bytes(BOM + b"chr1\t1\t5\n")
    assert list(read_bed(bed)["chrom"]) == ["chr1"]  # not '\ufeffchr1'


def test_a_bom_later_in_the_file_is_kept_as_text(tmp_path: Path) -> None:
    # only a leading BOM is a byte-order mark; inside a record it is a bad character
    path = tmp_path / "mid.fa"
    path.write_bytes(b">a\nAC" + BOM + b"GT\n")
    with pytest.raises(InputError) as info:
        list(read_fasta(path))
    assert info.value.line == 2


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (bytes(range(256)) * 4, "NUL byte at byte 1"),
        (b">a\nACGT\n\x00\x01\x02", "NUL byte at byte 9"),
        (bz2.compress(b">a\nACGT\n"), "bzip2-compressed"),
        (b"\xfd7zXZ\x00\x00rest", "xz-compressed"),
        (b"PK\x03\x04rest", "zip archive"),
        (gzip.compress(b"BCF\x02\x02rest"), "BCF file"),
    ],
)
def test_binary_files_are_not_text(tmp_path: Path, data: bytes, fragment: str) -> None:
    path = tmp_path / "x.fa"
    path.write_bytes(data)
    for read in (sniff_sequence_file, lambda p: list(numbered_lines(p))):
        with pytest.raises(InputError) as info:
            read(path)
        assert info.value.message.startswith("not a text file")
        assert fragment in info.value.message
        assert info.value.path == str(path)


def test_latin1_text_is_not_binary(tmp_path: Path) -> None:
    # bytes that are not UTF-8 read as U+FFFD for the parser to place; only NULs mean binary
    path = tmp_path / "latin.bed"
    path.write_bytes(b"# caf\xe9\nchr1\t1\t5\n")
    assert list(read_bed(path)["start"]) == [1]


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        (">a\nACGT\n", "fasta"),
        ("\n\n  >a\nACGT\n", "fasta"),
        (";comment\n>a\nACGT\n", "fasta"),
        ("ACGTNNacgt\n>a\nACGT\n", "fasta"),  # sequence before the header: FASTA, bad
        ("chr1\t1\t5\n", "bed"),
        ("chr1 1 5\n", "bed"),
        ("track name=x\nchr1\t1\t5\n", "bed"),
        ("# comment\n", "bed"),
    ],
)
def test_sniff(tmp_path: Path, text: str, kind: str) -> None:
    path = tmp_path / "in.txt"
    path.write_text(text)
    assert sniff_sequence_file(path) == kind


def test_sequence_before_the_first_header_is_named_by_line(tmp_path: Path) -> None:
    path = tmp_path / "pre.fa"
    path.write_text("\nACGTACGT\n>a\nACGT\n")
    assert sniff_sequence_file(path) == "fasta"
    with pytest.raises(InputError) as info:
        list(read_fasta(path))
    assert info.value.line == 2
    assert "before the first '>' header" in info.value.message


@pytest.mark.parametrize(
    ("text", "line", "columns"),
    [("seq1\nACGT\n", 1, 1), ("\nchr1\t100\n", 2, 2), ("hello world\n", 1, 2)],
)
def test_neither_fasta_nor_bed(tmp_path: Path, text: str, line: int, columns: int) -> None:
    path = tmp_path / "what.txt"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        sniff_sequence_file(path)
    assert info.value.line == line
    assert f"has {columns} column(s)" in info.value.message
    assert "neither FASTA nor BED" in info.value.message


def test_sniff_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "blank.fa"
    path.write_text("\n \n")
    with pytest.raises(InputError, match="empty"):
        sniff_sequence_file(path)


def test_unique_headers(tmp_path: Path) -> None:
    path = tmp_path / "dup.fa"
    path.write_text(">a\nAC\n>b x\nGG\n>b\nTT\n>a\nCC\n>b x\nAA\n")
    with pytest.raises(InputError) as info:
        check_unique_headers(path)
    # 'a' repeats first as a whole header; 'b x' repeats after it ('b' is another name)
    assert "'a' (lines 1 and 7); 2 records repeat an earlier name" in info.value.message
    assert info.value.line == 7
    ok = tmp_path / "ok.fa"
    ok.write_text(">a\nAC\n>b\nGG\n>a b\nTT\n")
    check_unique_headers(ok)


def test_first_repeat_against_a_naive_count() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        names = [f"n{k}" for k in rng.integers(0, 30, size=int(rng.integers(1, 40)))]
        got = first_repeat(lambda names=names: [(n, i + 1) for i, n in enumerate(names)])
        # naive: walk the list, remember first positions
        first: dict[str, int] = {}
        expected, count = None, 0
        for i, name in enumerate(names, start=1):
            if name in first:
                count += 1
                expected = expected or (name, first[name], i)
            else:
                first[name] = i
        assert got == (None if expected is None else (*expected, count))
