"""bigWig / bedGraph track writers: round trips against hand-written values."""

from __future__ import annotations

import numpy as np
import pyBigWig
import pytest

from motiflens.errors import InputError
from motiflens.sequence.tracks import read_bigwig, write_bedgraph, write_bigwig

SIZES = {"chr1": 50, "chr2": 30}
NAN = np.nan


def items():
    # chr1: two items with a NaN gap inside one and a gap between them; chr2: one item
    yield "chr1", 3, np.array([0.5, 0.5, NAN, 1.25, 0.1])
    yield "chr1", 20, np.array([2.0, 2.0, 2.0])
    yield "chr2", 0, np.array([-1.0, 1 / 3])


def expected(chrom: str) -> np.ndarray:
    out = np.full(SIZES[chrom], NAN, np.float32)
    if chrom == "chr1":
        out[3:8] = [0.5, 0.5, NAN, 1.25, 0.1]
        out[20:23] = 2.0
    else:
        out[0:2] = [-1.0, np.float32(1 / 3)]
    return out


def test_bigwig_round_trip_with_gaps_and_two_chromosomes(tmp_path):
    path = write_bigwig(tmp_path / "t.bw", SIZES, items())
    for chrom in SIZES:
        got = read_bigwig(path, chrom, 0, SIZES[chrom])
        np.testing.assert_array_equal(got, expected(chrom))  # exact, NaN where no data
    assert [p.name for p in tmp_path.iterdir()] == ["t.bw"]  # no temporary left
    bw = pyBigWig.open(str(path))
    # runs of equal values are one entry: 0.5 x2, 1.25, 0.1, 2.0 x3 on chr1
    assert bw.intervals("chr1") == (
        (3, 5, 0.5),
        (6, 7, 1.25),
        (7, 8, pytest.approx(0.1)),
        (20, 23, 2.0),
    )
    assert bw.chroms() == SIZES
    bw.close()


def test_read_bigwig_of_a_slice(tmp_path):
    path = write_bigwig(tmp_path / "t.bw", SIZES, items())
    np.testing.assert_array_equal(read_bigwig(path, "chr1", 4, 7), [0.5, NAN, 1.25])
    with pytest.raises(InputError, match="chr9"):
        read_bigwig(path, "chr9", 0, 1)
    with pytest.raises(InputError, match="outside"):
        read_bigwig(path, "chr2", 0, 31)


def test_bedgraph_merges_runs_skips_nan_and_names_the_track(tmp_path):
    path = write_bedgraph(tmp_path / "t.bedGraph", items(), name="my track")
    assert path.read_text().splitlines() == [
        'track type=bedGraph name="my track"',
        "chr1\t3\t5\t0.5",
        "chr1\t6\t7\t1.25",
        "chr1\t7\t8\t0.1",
        "chr1\t20\t23\t2.0",
        "chr2\t0\t1\t-1.0",
        "chr2\t1\t2\t0.33333334",
    ]
    plain = write_bedgraph(tmp_path / "u.bedGraph", items())
    assert plain.read_text().splitlines()[0] == "chr1\t3\t5\t0.5"


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ([("chr1", 10, np.ones(5)), ("chr1", 12, np.ones(2))], "overlaps"),
        ([("chr2", 0, np.ones(2)), ("chr1", 0, np.ones(2))], "order"),
        ([("chrX", 0, np.ones(2))], "chrX"),
        ([("chr2", 29, np.ones(2))], "past the end"),
    ],
)
def test_out_of_order_or_outside_items_are_refused_and_leave_no_file(tmp_path, bad, message):
    with pytest.raises(InputError, match=message):
        write_bigwig(tmp_path / "t.bw", SIZES, iter(bad))
    assert list(tmp_path.iterdir()) == []


def test_a_long_item_is_streamed_in_blocks(tmp_path):
    # more runs than one pyBigWig call takes: every value differs from its neighbour
    values = np.arange(70_000, dtype=np.float32) / 7
    path = write_bigwig(tmp_path / "t.bw", {"c": 80_000}, [("c", 5, values)])
    np.testing.assert_array_equal(read_bigwig(path, "c", 5, 70_005), values)
