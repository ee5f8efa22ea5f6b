"""sad.bed and the SAD-annotated VCF of the variants step, checked against sad.tsv.

The annotated VCF is read back both as text (every original line kept, in order) and by
htslib (pysam), so the INFO fields are valid VCF, not just text that looks right.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pysam
import pytest

from motiflens.sequence.bed import read_bed
from motiflens.steps.variants import variants as score_variants
from tests.explain.test_variants import CHR1, make_run, write_genome

HEADER = (
    "##fileformat=VCFv4.2\n"
    '##INFO=<ID=DP,Number=1,Type=Integer,Description="Depth">\n'
    "##contig=<ID=chr1>\n"
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
)


def other(base: str) -> str:
    return "A" if base != "A" else "C"


def rows() -> list[str]:
    wrong = other(CHR1[149])  # a REF that does not match the genome: skipped
    alts = ",".join(b for b in "ACGT" if b != CHR1[119])[:3]  # two ALT alleles
    return [
        f"chr1\t101\trs1\t{CHR1[100]}\t{other(CHR1[100])}\t50\tPASS\tDP=5",
        f"chr1\t120\t.\t{CHR1[119]}\t{alts}\t.\t.\t.",
        f"chr1\t150\tbad\t{wrong}\t{other(wrong)}\t.\t.\tDP=1",
        f"chr1\t181\trs4\t{CHR1[180:183]}\t{CHR1[180]}\t.\tPASS\t.",
    ]


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    return make_run(tmp_path_factory.mktemp("run"))


def read_sad(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)


@pytest.mark.parametrize("compressed", [False, True])
def test_annotated_vcf_keeps_every_line_and_holds_sad_tsv_values(run, tmp_path, compressed):
    genome = write_genome(tmp_path / "g.fa")
    text = HEADER + "".join(r + "\n" for r in rows())
    vcf = tmp_path / "in.vcf"
    vcf.write_text(text)
    if compressed:
        pysam.tabix_compress(str(vcf), str(tmp_path / "in.vcf.gz"))
        vcf = tmp_path / "in.vcf.gz"
    out = tmp_path / "out"
    report = score_variants(run, vcf, genome=genome, out=out, verbose=False)
    assert report.scored == 4 and report.ref_mismatch == 1  # rs1, two ALTs, rs4
    path = out / ("sad.vcf.gz" if compressed else "sad.vcf")
    assert (
        report.vcf_path == path and not (out / ("sad.vcf" if compressed else "sad.vcf.gz")).exists()
    )
    if compressed:
        with open(path, "rb") as fh:
            assert fh.read(4) == b"\x1f\x8b\x08\x04"  # bgzip: gzip with the BC extra field
        got = gzip.open(path, "rt").read().splitlines()
    else:
        got = path.read_text().splitlines()
    original = text.splitlines()
    # the header: the original lines, the new declarations just before #CHROM
    new = [line for line in got if line.startswith("##INFO=<ID=SAD_")]
    assert [line.split(",")[0] for line in new] == [f"##INFO=<ID=SAD_{t}" for t in "abc"]
    assert all("Number=A,Type=Float" in line for line in new)
    assert [line for line in got if line not in new][:4] == original[:4]
    assert got.index("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO") == 3 + len(new)
    data = [line.split("\t") for line in got if not line.startswith("#")]
    assert len(data) == 4
    for before, after in zip(original[4:], data, strict=True):
        cols = before.split("\t")
        assert after[:7] == cols[:7]
        kept = [] if cols[7] == "." else [cols[7]]
        assert after[7].split(";")[: len(kept)] == kept
    assert "\t".join(data[2]) == original[6]  # the skipped REF mismatch: untouched

    sad = read_sad(out / "sad.tsv")
    for fields in (data[0], data[1], data[3]):
        info = dict(f.split("=") for f in fields[7].split(";"))
        for t in "abc":
            expected = [
                sad.loc[
                    (sad["pos"] == fields[1]) & (sad["alt"] == alt) & (sad["target"] == t), "sad"
                ].item()
                for alt in fields[4].split(",")
            ]
            assert info[f"SAD_{t}"] == ",".join(expected)
    # htslib reads the fields as floats, one per ALT
    with pysam.VariantFile(str(path)) as reader:
        records = list(reader)
    assert records[1].info["SAD_b"] == pytest.approx(
        [float(v) for v in sad[(sad["pos"] == "120") & (sad["target"] == "b")]["sad"]]
    )
    assert "SAD_a" not in records[2].info and records[2].info["DP"] == 1


def test_sad_bed_has_one_line_per_variant_allele_with_max_abs_sad(run, tmp_path):
    genome = write_genome(tmp_path / "g.fa")
    vcf = tmp_path / "in.vcf"
    vcf.write_text(HEADER + "".join(r + "\n" for r in rows()))
    out = tmp_path / "out"
    score_variants(run, vcf, genome=genome, out=out, verbose=False)
    sad = pd.read_csv(out / "sad.tsv", sep="\t")
    wide = sad.pivot_table(index=["pos", "alt"], columns="target", values="sad", sort=False)
    bed = read_bed(out / "sad.bed", names=True)
    ref = [CHR1[100], CHR1[119], CHR1[119], CHR1[180:183]]
    assert bed["start"].tolist() == [100, 119, 119, 180]
    assert (bed["end"] - bed["start"]).tolist() == [len(r) for r in ref]
    assert bed["name"].tolist()[0] == f"rs1_{CHR1[100]}>{other(CHR1[100])}"
    assert bed["name"].tolist()[1].startswith(f"chr1:120_{CHR1[119]}>")
    table = pd.read_csv(out / "sad.bed", sep="\t", comment="#", header=None)
    strongest = wide.abs().max(axis=1).to_numpy()
    expected = np.round(1000 * strongest / strongest.max())
    np.testing.assert_array_equal(table[4].to_numpy(), expected)
    np.testing.assert_allclose(table[[8, 9, 10]].to_numpy(), wide[["a", "b", "c"]], rtol=1e-6)
    signed = [wide.iloc[i][wide.abs().iloc[i].idxmax()] for i in range(len(wide))]
    np.testing.assert_allclose(table[6].to_numpy(), signed, rtol=1e-6)
