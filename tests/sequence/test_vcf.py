"""VCF reading: one variant per ALT, line numbers, bad lines named and skippable, bgzip."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from motiflens.errors import InputError
from motiflens.sequence.vcf import Variant, VCFStats, bgzip_name, is_symbolic, read_vcf

HEADER = [
    "##fileformat=VCFv4.2",
    "##contig=<ID=1,length=1000>",
    '##INFO=<ID=DP,Number=1,Type=Integer,Description="depth">',
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO",
]
# Data starts on line 5.
RECORDS = [
    "1\t10\trs1\tA\tG\t50\tPASS\tDP=3;AF=0.5",  # 5
    "1\t20\t.\tAC\tA,ACGT,<DEL>,*\t.\t.\t.",  # 6: deletion, insertion, 2 symbolic
    "chr2\t30\trs3\tc\tt\t.\t.\tDP=7",  # 7: lower case kept as written
    "1\t40\tbnd\tG\tG]2:100]\t.\t.\t.",  # 8: breakend
    "1\t50\tnoalt\tT\t.\t.\t.\t.",  # 9: no ALT
]


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def test_one_variant_per_alt_with_line_id_and_info(tmp_path):
    stats = VCFStats()
    got = list(read_vcf(write(tmp_path / "a.vcf", HEADER + RECORDS), stats=stats))
    assert got == [
        Variant("1", 10, "rs1", "A", "G", "DP=3;AF=0.5", 5),
        Variant("1", 20, ".", "AC", "A", ".", 6),
        Variant("1", 20, ".", "AC", "ACGT", ".", 6),
        Variant("chr2", 30, "rs3", "c", "t", "DP=7", 7),
    ]
    assert (stats.records, stats.alleles, stats.symbolic, stats.no_alt) == (5, 4, 3, 1)
    assert got[0].is_snv and not got[1].is_snv
    assert got[0].label() == "1:10 A>G (rs1)" and got[1].label() == "1:20 AC>A"


@pytest.mark.parametrize(
    ("alt", "symbolic"),
    [("G", False), ("acgtn", False), ("<DEL>", True), ("*", True), ("G]2:5]", True),
     ("[2:5[A", True), (".A", True), ("A.", True), (".", True), ("XYZ", False),
     ("<>", False), ("A*", False)],
)  # fmt: skip
def test_symbolic_alleles(alt, symbolic):
    assert is_symbolic(alt) is symbolic


def test_bgzip_reads_like_plain_and_plain_gzip_is_refused_clearly(tmp_path):
    pysam = pytest.importorskip("pysam")
    from Bio import bgzf

    plain = write(tmp_path / "a.vcf", HEADER + RECORDS)
    expected = list(read_vcf(plain))
    pysam.tabix_compress(str(plain), str(tmp_path / "a.vcf.gz"))
    with bgzf.BgzfWriter(str(tmp_path / "b.vcf.gz"), "wb") as fh:
        fh.write(plain.read_bytes())
    with gzip.open(tmp_path / "c.vcf.gz", "wb") as fh:
        fh.write(plain.read_bytes())
    for name in ("a.vcf.gz", "b.vcf.gz"):
        assert list(read_vcf(tmp_path / name)) == expected, name
    with pytest.raises(InputError, match="not with bgzip") as err:
        list(read_vcf(tmp_path / "c.vcf.gz"))
    assert "zcat c.vcf.gz | bgzip > c.vcf.bgz " in str(err.value)


@pytest.mark.parametrize(
    ("name", "copy"),
    [("x.vcf.gz", "x.vcf.bgz"), ("x.vcf.bgz", "x.vcf.gz"), ("x.gz", "x.vcf.bgz"),
     ("calls.VCF.GZ", "calls.vcf.bgz"), ("x.vcf", "x.vcf.bgz")],
)  # fmt: skip
def test_the_bgzip_hint_names_a_new_file(name, copy):
    # the plain-gzip hint once suggested x.vcf.bgz.vcf.gz; never the input's own name
    assert bgzip_name(Path("/data") / name) == copy


BAD = [
    "1\t10\trs1\tA\tG\t.\t.\t.",  # 5
    "1\tabc\trs2\tA\tG\t.\t.\t.",  # 6: POS not a number
    "1 12 rs3 A G . . .",  # 7: spaces
    "",  # 8: blank: ignored
    "1\t13\trs4\tA",  # 9: too few columns
    "1\t14\trs5\tX\tG\t.\t.\t.",  # 10: REF not DNA
    "1\t15\trs6\tA\tT\t.\t.\t.",  # 11
    "1\t16\trs7\tA\tT,XYZ\t.\t.\t.",  # 12: an ALT neither bases nor symbolic
    "1\t17\trs8\tA\tC\t.\t.\t.",  # 13
]


def test_malformed_line_is_named_and_stops_without_skip_bad(tmp_path):
    path = write(tmp_path / "bad.vcf", HEADER + BAD)
    stream = read_vcf(path)
    assert next(stream).id == "rs1"
    with pytest.raises(InputError) as err:
        next(stream)
    assert err.value.line == 6
    assert f"{path}:6" in str(err.value) and "POS 'abc' is not a positive integer" in str(err.value)
    assert "--skip-bad" in str(err.value)


def test_skip_bad_names_every_bad_line_and_goes_on(tmp_path, caplog):
    path = write(tmp_path / "bad.vcf", HEADER + BAD)
    stats, seen = VCFStats(), []
    got = list(read_vcf(path, skip_bad=True, stats=stats, on_bad=lambda n, r: seen.append((n, r))))
    assert [(v.id, v.line) for v in got] == [("rs1", 5), ("rs6", 11), ("rs8", 13)]
    assert stats.bad_lines == 5 and [n for n, _ in seen] == [6, 7, 9, 10, 12]
    reasons = dict(seen)
    assert "space-separated" in reasons[7]
    assert "4 tab-separated column(s)" in reasons[9]
    assert "REF 'X'" in reasons[10]
    # XYZ was once counted as a symbolic allele and skipped without a word
    assert "ALT allele 'XYZ' is not valid" in reasons[12]
    assert stats.symbolic == 0
    assert f"{path}:9" in caplog.text


def test_bad_line_in_bgzip_is_named_too(tmp_path):
    pysam = pytest.importorskip("pysam")
    plain = write(tmp_path / "bad.vcf", HEADER + BAD)
    pysam.tabix_compress(str(plain), str(tmp_path / "bad.vcf.gz"))
    with pytest.raises(InputError) as err:
        list(read_vcf(tmp_path / "bad.vcf.gz"))
    assert err.value.line == 6
    got = list(read_vcf(tmp_path / "bad.vcf.gz", skip_bad=True))
    assert [v.line for v in got] == [5, 11, 13]


def test_not_a_vcf_and_missing_file(tmp_path):
    with pytest.raises(InputError, match="not a readable VCF"):
        list(read_vcf(write(tmp_path / "x.vcf", ["1\t10\trs1\tA\tG\t.\t.\t."])))
    with pytest.raises(InputError, match="not found"):
        list(read_vcf(tmp_path / "missing.vcf"))


def test_header_only_gives_nothing(tmp_path):
    stats = VCFStats()
    assert list(read_vcf(write(tmp_path / "e.vcf", HEADER), stats=stats)) == []
    assert stats.records == 0
