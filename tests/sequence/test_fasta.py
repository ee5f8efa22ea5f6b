"""FASTA streaming (read_fasta) and indexed genome access (Genome)."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from motiflens.errors import InputError
from motiflens.sequence.fasta import Genome, read_fasta

# codes written out by hand: A C G T -> 0..3, anything unknown -> 4
CODE = {"A": 0, "C": 1, "G": 2, "T": 3}


def ref_codes(seq: str) -> np.ndarray:
    return np.array([CODE.get(b.upper(), 4) for b in seq], dtype=np.uint8)


def fasta_text(records: dict[str, str], width: int, newline: str = "\n") -> str:
    lines = []
    for name, seq in records.items():
        lines.append(f">{name}")
        lines += [seq[i : i + width] for i in range(0, len(seq), width)]
    return newline.join(lines) + newline


# --- read_fasta ------------------------------------------------------------------------


def test_read_fasta_records_and_header_lines(tmp_path):
    path = tmp_path / "seqs.fa"
    path.write_text(
        ">seq1 first record\n"
        "ACGT\n"
        "acgn\n"
        "\n"
        ";old-style comment\n"
        ">seq2\n"
        "  TTTT  \n"
        "GG GG\n"
        ">seq3\n"
        "RYKM"  # no final newline
    )
    records = list(read_fasta(path))
    assert records == [
        ("seq1 first record", "ACGTacgn", 1),
        ("seq2", "TTTTGGGG", 6),
        ("seq3", "RYKM", 9),
    ]


def test_read_fasta_crlf(tmp_path):
    path = tmp_path / "crlf.fa"
    path.write_bytes(b">a\r\nACGT\r\nAC\r\n>b\r\nGG\r\n")
    assert list(read_fasta(path)) == [("a", "ACGTAC", 1), ("b", "GG", 4)]


def test_read_fasta_gzip(tmp_path):
    path = tmp_path / "seqs.fa.gz"
    with gzip.open(path, "wt") as fh:
        fh.write(">x\nAC\nGT\n>y\nNN\n")
    assert list(read_fasta(path)) == [("x", "ACGT", 1), ("y", "NN", 4)]


def test_read_fasta_gzip_error_is_located(tmp_path):
    path = tmp_path / "bad.fa.gz"
    with gzip.open(path, "wt") as fh:
        fh.write(">x\nAC\nGUT\n")
    with pytest.raises(InputError) as info:
        list(read_fasta(path))
    assert f"{path}:3" in str(info.value)


def test_read_fasta_truncated_gzip(tmp_path):
    data = gzip.compress((">r\n" + "ACGTACGTAC\n" * 5000).encode())
    path = tmp_path / "cut.fa.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError) as info:
        list(read_fasta(path))
    assert str(path) in str(info.value)
    assert "decompress" in info.value.message


def test_sequence_before_header(tmp_path):
    path = tmp_path / "nohead.fa"
    path.write_text("\nACGT\n>a\nAC\n")
    with pytest.raises(InputError) as info:
        list(read_fasta(path))
    msg = str(info.value)
    assert f"{path}:2:" in msg
    assert "before the first '>'" in info.value.message


@pytest.mark.parametrize(
    ("text", "line", "record"),
    [
        (">a\n>b\nACGT\n", 1, "a"),  # empty record followed by another
        (">a\nACGT\n>b\n", 3, "b"),  # empty record at the end
        (">a\nAC\n>b\n\n;comment\n>c\nGG\n", 3, "b"),  # blank and comment lines only
    ],
)
def test_record_with_no_sequence(tmp_path, text, line, record):
    path = tmp_path / "empty_record.fa"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        list(read_fasta(path))
    msg = str(info.value)
    assert f"{path}:{line}" in msg
    assert f"record {record!r}" in msg
    assert "no sequence" in info.value.message


def test_invalid_character_names_line_record_and_character(tmp_path):
    path = tmp_path / "bad.fa"
    path.write_text(">good\nACGT\n>chr7:100-200\nACGT\nACXT\n")
    with pytest.raises(InputError) as info:
        list(read_fasta(path))
    msg = str(info.value)
    assert f"{path}:5" in msg
    assert "'chr7:100-200'" in msg
    assert "'X'" in info.value.message


def test_validate_false_accepts_any_letters(tmp_path):
    path = tmp_path / "protein.fa"
    path.write_text(">p\nMKLV*\n")
    assert list(read_fasta(path, validate=False)) == [("p", "MKLV*", 1)]


@pytest.mark.parametrize("text", ["", "\n\n"])
def test_empty_file(tmp_path, text):
    path = tmp_path / "empty.fa"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        list(read_fasta(path))
    msg = str(info.value)
    assert str(path) in msg
    assert "empty" in info.value.message or "no FASTA records" in info.value.message


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="not found"):
        list(read_fasta(tmp_path / "nope.fa"))


names = st.text(alphabet="abcXYZ019_:-.|", min_size=1, max_size=12)
seqs = st.text(alphabet="ACGTNacgtnRYKM", min_size=1, max_size=80)


@given(
    st.dictionaries(names, seqs, min_size=1, max_size=6),
    st.integers(1, 20),
    st.booleans(),
)
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_write_read_round_trip(tmp_path, records, width, compress):
    text = fasta_text(records, width)
    path = tmp_path / ("rt.fa.gz" if compress else "rt.fa")
    if compress:
        with gzip.open(path, "wt") as fh:
            fh.write(text)
    else:
        path.write_text(text)
    got = list(read_fasta(path))
    assert [(h, s) for h, s, _ in got] == list(records.items())
    # header line numbers: 1, then after each record's header and sequence lines
    expected_lines, line = [], 1
    for seq in records.values():
        expected_lines.append(line)
        line += 1 + -(-len(seq) // width)
    assert [n for _, _, n in got] == expected_lines


# --- Genome ----------------------------------------------------------------------------

CHROMS = {
    # 36 bases: lower case, an N run across line breaks, ends mid-line
    "chr1": "ACGTACGtacgtNNNNNNNNNNacgtAGCTTAGGCA",
    # 14 bases: exactly two full lines
    "chr2": "GGGCCCAAATTTgc",
    # shorter than one line
    "chrM": "ACRTA",
}
WIDTH = 7


def windows(size: int):
    """Every window that fits, for a few lengths (crossing every line break)."""
    for length in (1, 3, WIDTH, WIDTH + 1, 2 * WIDTH + 2, size):
        if length <= size:
            for start in range(size - length + 1):
                yield start, length


@pytest.fixture
def genome_text() -> str:
    return fasta_text(CHROMS, WIDTH)


@pytest.fixture
def genome_path(tmp_path, genome_text) -> Path:
    path = tmp_path / "genome.fa"
    path.write_text(genome_text)
    return path


def check_genome(genome: Genome) -> None:
    assert genome.sizes == {name: len(seq) for name, seq in CHROMS.items()}
    for chrom, seq in CHROMS.items():
        for start, length in windows(len(seq)):
            assert genome.fetch(chrom, start, start + length) == seq[start : start + length]
        for length in {1, 3, WIDTH + 1, len(seq)}:
            if length > len(seq):
                continue
            starts = np.arange(len(seq) - length + 1)
            rng = np.random.default_rng(length)
            starts = np.concatenate([starts, rng.choice(starts, size=5)])  # unsorted, repeated
            expected = np.stack([ref_codes(seq[s : s + length]) for s in starts])
            codes = genome.fetch_codes(chrom, starts, length)
            assert codes.dtype == np.uint8
            np.testing.assert_array_equal(codes, expected)
        assert genome.fetch_codes(chrom, np.array([], dtype=np.int64), 4).shape == (0, 4)


def test_genome_fetch_and_fetch_codes(genome_path):
    with Genome(genome_path) as genome:
        assert genome._mmap is not None  # the fast memory-mapped path
        check_genome(genome)


def test_genome_fetch_codes_known_windows(genome_path):
    # a few windows by hand, crossing line breaks and at both chromosome ends
    with Genome(genome_path) as genome:
        np.testing.assert_array_equal(
            genome.fetch_codes("chr1", [5, 0, 30], 6),
            [[1, 2, 3, 0, 1, 2], [0, 1, 2, 3, 0, 1], [3, 0, 2, 2, 1, 0]],
        )
        assert genome.fetch("chr1", 10, 24) == "gtNNNNNNNNNNac"
        np.testing.assert_array_equal(genome.fetch_codes("chr2", [12], 2), [[2, 1]])
        np.testing.assert_array_equal(genome.fetch_codes("chrM", [0], 5), [[0, 1, 4, 3, 0]])


def test_genome_bgzip_uses_fallback_with_same_codes(tmp_path, genome_text):
    bgzf = pytest.importorskip("Bio.bgzf")
    path = tmp_path / "genome.fa.gz"
    with bgzf.BgzfWriter(str(path), "wb") as fh:
        fh.write(genome_text.encode())
    with Genome(path) as genome:
        assert genome._mmap is None  # pyfaidx fetch fallback
        check_genome(genome)


def test_genome_crlf(tmp_path):
    # pyfaidx supports CRLF line endings; the memory-mapped path follows its line geometry
    path = tmp_path / "crlf.fa"
    path.write_bytes(fasta_text(CHROMS, WIDTH, newline="\r\n").encode())
    with Genome(path) as genome:
        check_genome(genome)


def test_genome_plain_gzip_is_refused_with_hint(tmp_path, genome_text):
    path = tmp_path / "genome.fa.gz"
    with gzip.open(path, "wt") as fh:
        fh.write(genome_text)
    with pytest.raises(InputError) as info:
        Genome(path)
    assert str(path) in str(info.value)
    assert "bgzip" in str(info.value)


def test_genome_unequal_line_lengths_is_refused(tmp_path):
    path = tmp_path / "ragged.fa"
    path.write_text(">chr1\nACGTACG\nACG\nACGTACG\n")
    with pytest.raises(InputError) as info:
        Genome(path)
    assert str(path) in str(info.value)
    assert "cannot index" in info.value.message


def test_genome_missing_file(tmp_path):
    with pytest.raises(InputError, match="not found"):
        Genome(tmp_path / "nope.fa")


def test_genome_invalid_character_names_position(tmp_path):
    path = tmp_path / "bad.fa"
    path.write_text(">chr1\nACGTACG\nAC*TACG\nACG\n")
    with Genome(path) as genome:
        np.testing.assert_array_equal(genome.fetch_codes("chr1", [0], 4), [[0, 1, 2, 3]])
        with pytest.raises(InputError) as info:
            genome.fetch_codes("chr1", [0, 6], 5)
    msg = str(info.value)
    assert str(path) in msg
    assert "chr1:10" in msg  # 1-based position of '*'


@pytest.mark.parametrize(
    ("chrom", "start", "length"),
    [
        ("chr2", 15, 4),  # today: silently [[1, 4, 4, 4]], bytes of the next header
        ("chr1", -3, 4),  # today: "invalid character in the genome at chr1:0"
        ("chr1", 36, 3),  # today: "unexpected line layout"
    ],
)
def test_genome_window_outside_chromosome_is_refused(genome_path, chrom, start, length):
    # (the match must not hit the tmp_path, which holds this test's name)
    pattern = r"outside the chromosome|past the (chromosome )?end|out of range"
    with Genome(genome_path) as genome:
        with pytest.raises((InputError, IndexError, ValueError), match=pattern):
            genome.fetch_codes(chrom, [start], length)
