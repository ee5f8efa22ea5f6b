"""`motiflens variants` from the command line: files written, policies, clear errors."""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from motiflens.cli import app
from tests.explain.test_variants import CHR1, make_run, write_genome, write_vcf

runner = CliRunner()


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("variants")
    run = make_run(tmp / "run")
    genome = write_genome(tmp / "g.fa")
    wrong = "A" if CHR1[90] != "A" else "C"
    vcf = write_vcf(
        tmp / "v.vcf",
        [
            f"1\t51\trs1\t{CHR1[50]}\tA,C\t.\t.\tDP=4",  # line 3
            "1 61 spaced A G . . .",  # line 4: malformed
            f"chr1\t91\trsWrong\t{wrong}\tT\t.\t.\t.",  # line 5: REF mismatch
            f"1\t151\tdel\t{CHR1[150:152]}\t{CHR1[150]}\t.\t.\tSVLEN=-1",  # line 6
        ],
    )
    return run, genome, vcf


def test_malformed_line_stops_with_its_line_number(setup):
    run, genome, vcf = setup
    out = runner.invoke(app, ["variants", str(run), str(vcf), "--genome", str(genome)])
    assert out.exit_code == 2
    assert f"{vcf}:4" in out.output and "space-separated" in out.output
    assert "--skip-bad" in out.output


def test_skip_bad_scores_the_rest_and_writes_the_tsv(setup):
    run, genome, vcf = setup
    args = ["variants", str(run), str(vcf), "--genome", str(genome), "--skip-bad"]
    out = runner.invoke(app, [*args, "--ism", "--ism-top", "1", "--window", "10"])
    assert out.exit_code == 0, out.output
    folder = run / "explain" / "variants"
    sad = pd.read_csv(folder / "sad.tsv", sep="\t", dtype=str)
    # rs1 has two ALTs; rsWrong is skipped (default policy); 3 targets each
    assert sad["id"].tolist() == ["rs1"] * 6 + ["del"] * 3
    assert sad["alt"].tolist()[:6] == ["A"] * 3 + ["C"] * 3
    assert sad["info"].tolist()[-1] == "SVLEN=-1"
    assert "3 variant alleles scored x 3 targets" in out.output
    assert "1 REF mismatches with the genome: skipped" in out.output
    assert "1 malformed VCF lines skipped" in out.output
    logged = pd.read_csv(folder / "log.tsv", sep="\t", dtype=str)
    assert logged["line"].tolist() == ["4", "5"]
    assert len(pd.read_csv(folder / "ism" / "ism.tsv", sep="\t")) == 1
    assert len(list((folder / "ism").glob("*.png"))) == 2  # reference and alternative


def test_ref_mismatch_error_policy_and_other_output_folder(setup, tmp_path):
    run, genome, vcf = setup
    args = ["variants", str(run), str(vcf), "--genome", str(genome), "--skip-bad"]
    out = runner.invoke(app, [*args, "--ref-mismatch", "error", "-o", str(tmp_path / "o")])
    assert out.exit_code == 2
    assert f"{vcf}:5" in out.output and "rsWrong" in out.output
    out = runner.invoke(app, [*args, "--ref-mismatch", "use-genome", "-o", str(tmp_path / "o")])
    assert out.exit_code == 0, out.output
    sad = pd.read_csv(tmp_path / "o" / "sad.tsv", sep="\t", dtype=str)
    assert "rsWrong" in set(sad["id"])
    assert "scored with the genome's bases as reference" in out.output


@pytest.mark.parametrize(
    ("row", "message"),
    [
        # these once read "REF does not match the genome (N)"
        (f"1\t0\tzero\t{CHR1[0]}\tC\t.\t.\t.", "POS 0 is outside chr1 (positions 1..300)"),
        ("1\t305\tpast\tA\tC\t.\t.\t.", "POS 305 is outside chr1 (positions 1..300)"),
        # POS 299 is inside, but a 3 bp REF reaches 301
        (f"1\t299\tlong\t{CHR1[298:]}A\tC\t.\t.\t.", "runs to 301, past the end of chr1"),
    ],
)
def test_positions_outside_the_chromosome_say_so(setup, tmp_path, row, message):
    run, genome, _ = setup
    vcf = write_vcf(tmp_path / "out.vcf", [f"1\t51\tok\t{CHR1[50]}\tA\t.\t.\t.", row])
    args = ["variants", str(run), str(vcf), "--genome", str(genome), "-o", str(tmp_path / "o")]
    out = runner.invoke(app, [*args, "--ref-mismatch", "error"])
    assert out.exit_code == 2
    assert f"{vcf}:4" in out.output and message in out.output
    assert "does not match" not in out.output
    out = runner.invoke(app, args)  # default policy: skipped, counted apart, logged
    assert out.exit_code == 0, out.output
    assert "1 variant alleles scored" in out.output
    assert "1 variants skipped with a position outside their chromosome" in out.output
    assert "REF mismatches" not in out.output
    logged = pd.read_csv(tmp_path / "o" / "log.tsv", sep="\t", dtype=str)
    assert logged["line"].tolist() == ["4"] and message in logged["reason"][0]


def test_an_invalid_alt_is_a_malformed_line_not_a_symbolic_allele(setup, tmp_path):
    run, genome, _ = setup
    vcf = write_vcf(
        tmp_path / "alt.vcf",
        [f"1\t51\tok\t{CHR1[50]}\tA\t.\t.\t.", f"1\t61\tx\t{CHR1[60]}\tXYZ\t.\t.\t."],
    )
    args = ["variants", str(run), str(vcf), "--genome", str(genome), "-o", str(tmp_path / "o")]
    out = runner.invoke(app, args)
    assert out.exit_code == 2
    assert f"{vcf}:4" in out.output and "ALT allele 'XYZ' is not valid" in out.output
    out = runner.invoke(app, [*args, "--skip-bad"])
    assert out.exit_code == 0, out.output
    assert "1 malformed VCF lines skipped" in out.output
    assert "symbolic" not in out.output


def test_plain_gzip_hint_names_a_sensible_file(setup, tmp_path):
    run, genome, vcf = setup
    plain_gzip = tmp_path / "calls.vcf.gz"
    plain_gzip.write_bytes(gzip.compress(vcf.read_bytes()))
    out = runner.invoke(app, ["variants", str(run), str(plain_gzip), "--genome", str(genome)])
    assert out.exit_code == 2
    assert "zcat calls.vcf.gz | bgzip > calls.vcf.bgz" in out.output
    assert "bgz.vcf.gz" not in out.output


def _cli(*args: str) -> subprocess.CompletedProcess:
    exe = shutil.which("motiflens", path=str(Path(sys.executable).parent))
    assert exe is not None
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    res = subprocess.run([exe, *args], capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    return res


@pytest.mark.slow
def test_two_cpu_processes_write_the_single_process_files(setup, tmp_path):
    """--devices 2 --strategy ddp (gloo, Lightning re-runs the command) against --devices 1."""
    run, genome, vcf = setup
    # one variant per chunk: rs1's two alleles, the malformed line, the mismatch and the
    # deletion fall to both processes
    args = [
        "variants",
        str(run),
        str(vcf),
        "--genome",
        str(genome),
        "--skip-bad",
        "--chunk-size",
        "1",
        "--no-progress",
        "--accelerator",
        "cpu",
    ]
    _cli(*args, "-o", str(tmp_path / "one"), "--devices", "1")
    res = _cli(*args, "-o", str(tmp_path / "two"), "--devices", "2", "--strategy", "ddp")
    assert res.stdout.count("variants  ") == 1  # only rank 0 reports
    assert "computed by 2 processes" in res.stdout
    assert "3 variant alleles scored x 3 targets" in res.stdout
    assert res.stderr.count("tab-separated") == 1  # the malformed line, warned about once
    for name in ("sad.tsv", "log.tsv", "sad.bed", "sad.vcf"):
        assert (tmp_path / "two" / name).read_bytes() == (tmp_path / "one" / name).read_bytes()
    sad = pd.read_csv(tmp_path / "two" / "sad.tsv", sep="\t", dtype=str)
    assert sad["id"].tolist() == ["rs1"] * 6 + ["del"] * 3
    logged = pd.read_csv(tmp_path / "two" / "log.tsv", sep="\t", dtype=str)
    assert logged["line"].tolist() == ["4", "5"]
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == [
        "log.tsv",
        "sad.bed",
        "sad.tsv",
        "sad.vcf",
    ]
