"""BED / narrowPeak reading and the errors for malformed files."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from motiflens.errors import InputError
from motiflens.sequence.bed import read_bed


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_reads_bed3_bed6_and_narrowpeak(tmp_path):
    bed = write(
        tmp_path / "peaks.bed",
        "track name=peaks\n"
        "browser position chr1:1-100\n"
        "# a comment\n"
        "chr1\t10\t20\n"
        "\n"
        "chr2\t0\t5\tname\t0\t-\n"
        "chrX\t100\t300\tpeak1\t900\t+\t5.5\t-1\t3.2\t100\n"
        "chr3 7 8 n 0 -\n"  # space separated, one base
        "chr4\t1\t9\tn\t0\t.\n",  # unknown strand
    )
    df = read_bed(bed)
    assert list(df["chrom"]) == ["chr1", "chr2", "chrX", "chr3", "chr4"]
    assert list(df["start"]) == [10, 0, 100, 7, 1]
    assert list(df["end"]) == [20, 5, 300, 8, 9]
    assert list(df["strand"]) == ["+", "-", "+", "-", "+"]
    assert list(df["line"]) == [4, 6, 7, 8, 9]
    assert str(df["start"].dtype) == "int64"


def test_crlf_line_endings(tmp_path):
    bed = tmp_path / "crlf.bed"
    bed.write_bytes(b"chr1\t1\t2\tx\t0\t-\r\nchr1\t3\t4\r\n")
    df = read_bed(bed)
    assert list(df["end"]) == [2, 4]
    assert list(df["strand"]) == ["-", "+"]


def test_gzip(tmp_path):
    path = tmp_path / "peaks.bed.gz"
    with gzip.open(path, "wt") as fh:
        fh.write("track x\nchr1\t5\t9\nchr2\t1\t3\n")
    df = read_bed(path)
    assert list(df["chrom"]) == ["chr1", "chr2"]
    assert list(df["line"]) == [2, 3]


def test_gzip_error_is_located(tmp_path):
    path = tmp_path / "bad.bed.gz"
    with gzip.open(path, "wt") as fh:
        fh.write("chr1\t5\t9\nchr2\t9\t3\n")
    with pytest.raises(InputError) as info:
        read_bed(path)
    assert f"{path}:2" in str(info.value)


def test_truncated_gzip_names_the_file(tmp_path):
    data = gzip.compress(b"chr1\t1\t2\n" * 3000)
    path = tmp_path / "cut.bed.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError) as info:
        read_bed(path)
    assert str(path) in str(info.value)
    assert "decompress" in info.value.message


def test_not_really_gzip_names_the_file(tmp_path):
    path = tmp_path / "fake.bed.gz"
    path.write_bytes(b"\x1f\x8b but then plain text\n")
    with pytest.raises(InputError) as info:
        read_bed(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("text", "line", "fragments"),
    [
        ("chr1\t10\t20\nchr1\t30\t25\n", 2, ["start 30 is greater than end 25"]),
        ("chr1\tabc\t20\n", 1, ["must be integers", "'abc'"]),
        ("chr1\t10\t2.5e3\n", 1, ["must be integers", "'2.5e3'"]),
        ("chr1\t10.0\t20\n", 1, ["must be integers", "'10.0'"]),
        ("# header\nchr1\t10\n", 2, ["at least 3", "got 2"]),
        ("chr1\n", 1, ["at least 3", "got 1"]),
        ("chr1\t-5\t10\n", 1, ["negative start -5"]),
        # an empty interval holds no base: start == end is refused, with the fix
        ("chr1\t1\t2\nchr1\t7\t7\n", 2, ["empty interval", "both 7"]),
        ("chr1\t1\t5\tn\t0\t?\n", 1, ["strand (column 6) is '?'", "'.'"]),
        ("chr1\t1\t5\tn\t0\t\n", 1, ["strand (column 6) is ''"]),
    ],
)
def test_bad_lines_name_file_line_and_problem(tmp_path, text, line, fragments):
    bed = write(tmp_path / "bad.bed", text)
    with pytest.raises(InputError) as info:
        read_bed(bed)
    msg = str(info.value)
    assert f"{bed}:{line}:" in msg
    for fragment in fragments:
        assert fragment in info.value.message
    assert info.value.line == line
    assert info.value.path == str(bed)


def test_empty_file(tmp_path):
    bed = write(tmp_path / "empty.bed", "")
    with pytest.raises(InputError) as info:
        read_bed(bed)
    assert str(bed) in str(info.value)
    assert "empty" in info.value.message


def test_only_comment_and_track_lines(tmp_path):
    bed = write(tmp_path / "header.bed", "track name=x\nbrowser hide all\n# nothing\n\n")
    with pytest.raises(InputError) as info:
        read_bed(bed)
    assert str(bed) in str(info.value)
    assert "no intervals" in info.value.message


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_bed(tmp_path / "nope.bed")


def test_chrom_sizes_accepts_interval_ending_at_chromosome_end(tmp_path):
    bed = write(tmp_path / "ok.bed", "chr1\t0\t100\nchr2\t40\t50\n")
    df = read_bed(bed, chrom_sizes={"chr1": 100, "chr2": 50})
    assert list(df["end"]) == [100, 50]


def test_interval_past_chromosome_end(tmp_path):
    bed = write(tmp_path / "past.bed", "chr1\t0\t100\nchr1\t90\t101\n")
    with pytest.raises(InputError) as info:
        read_bed(bed, chrom_sizes={"chr1": 100})
    msg = str(info.value)
    assert f"{bed}:2:" in msg
    assert "chr1:90-101" in info.value.message
    assert "(100)" in info.value.message


def test_chromosome_missing_from_genome(tmp_path):
    bed = write(tmp_path / "chrom.bed", "chr1\t0\t10\n1\t0\t10\n")
    with pytest.raises(InputError) as info:
        read_bed(bed, chrom_sizes={"chr1": 100})
    msg = str(info.value)
    assert f"{bed}:2:" in msg
    assert "'1'" in info.value.message
    assert "not in the genome" in info.value.message


def test_keep_skips_chromosomes_before_the_genome_checks(tmp_path):
    bed = write(
        tmp_path / "keep.bed",
        "chr1\t0\t10\nchrUn_gl000220\t5\t900\nchrY\t0\t10\nchr2\t3\t4\n",
    )
    # chrUn_... is neither in the genome nor inside it, but it is skipped first;
    # chrY passes `keep` and is then missing from the genome
    with pytest.raises(InputError, match="'chrY' is not in the genome"):
        read_bed(bed, chrom_sizes={"chr1": 100, "chr2": 100}, keep=lambda c: "_" not in c)
    df = read_bed(bed, chrom_sizes={"chr1": 100, "chr2": 100}, keep=lambda c: c in ("chr1", "chr2"))
    assert list(df["chrom"]) == ["chr1", "chr2"]
    assert list(df["line"]) == [1, 4]


def test_keep_filtering_everything_gives_an_empty_table(tmp_path):
    bed = write(tmp_path / "y.bed", "track x\nchrY\t0\t10\n")
    df = read_bed(bed, keep=lambda c: c != "chrY")
    assert df.empty
    assert list(df.columns) == ["chrom", "start", "end", "strand", "line"]


def test_keep_does_not_hide_a_file_without_intervals(tmp_path):
    bed = write(tmp_path / "header.bed", "track name=x\n# nothing here\n")
    with pytest.raises(InputError, match="no intervals"):
        read_bed(bed, keep=lambda c: True)


intervals = st.lists(
    st.tuples(
        st.text(alphabet="0123456789XYMab_", min_size=1, max_size=6).map("chr".__add__),
        st.integers(0, 10**9),
        st.integers(1, 10**6),
        st.sampled_from(["+", "-", ".", None]),
    ),
    min_size=1,
    max_size=20,
)


@given(intervals, st.booleans())
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_write_read_round_trip(tmp_path, rows, compress):
    lines = ["track name=roundtrip"]
    for chrom, start, length, strand in rows:
        fields = [chrom, str(start), str(start + length)]
        if strand is not None:
            fields += ["name", "0", strand]
        lines.append("\t".join(fields))
    text = "\n".join(lines) + "\n"
    path = tmp_path / ("rt.bed.gz" if compress else "rt.bed")
    if compress:
        with gzip.open(path, "wt") as fh:
            fh.write(text)
    else:
        path.write_text(text)
    df = read_bed(path)
    assert list(df["chrom"]) == [r[0] for r in rows]
    assert list(df["start"]) == [r[1] for r in rows]
    assert list(df["end"]) == [r[1] + r[2] for r in rows]
    assert list(df["strand"]) == ["-" if r[3] == "-" else "+" for r in rows]
    assert list(df["line"]) == list(range(2, len(rows) + 2))


def test_empty_interval_and_bad_strand_say_how_to_fix(tmp_path):
    bed = write(tmp_path / "point.bed", "chr1\t7\t7\n")
    with pytest.raises(InputError) as info:
        read_bed(bed)
    # the single base at 1-based position 8 is start 7, end 8 in BED
    assert "start 7, end 8" in info.value.hint
    bed = write(tmp_path / "strand.bed", "chr1\t7\t9\tn\t0\t?\n")
    with pytest.raises(InputError) as info:
        read_bed(bed)
    assert "'.'" in info.value.hint
