"""The IGV session and the UCSC track hub of a run: every track file, by relative path."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from motiflens.cli import app
from motiflens.errors import InputError
from motiflens.runs import Run
from motiflens.sequence.tracks import write_bigwig
from motiflens.steps.igv import igv_session
from motiflens.steps.track_hub import track_hub

SIZES = {"chr1": 500, "chr2": 300}


@pytest.fixture
def track_run(tmp_path):
    """A run folder holding track files of every kind, and files that are not tracks."""
    run = Run(tmp_path / "run")
    run.path.mkdir()
    genome = tmp_path / "genome.fa"
    genome.write_text(">chr1\n" + "A" * 500 + "\n>chr2\n" + "C" * 300 + "\n")
    ism = run.path / "explain" / "ism" / "tracks"
    ism.mkdir(parents=True)
    for kind in ("mean", "loss", "gain"):
        write_bigwig(ism / f"CTCF.{kind}.bw", SIZES, [("chr2", 100, [1.0, 2.0, 3.0])])
    sal = run.path / "explain" / "saliency" / "gradient_x_input" / "tracks"
    sal.mkdir(parents=True)
    write_bigwig(sal / "CTCF.bw", SIZES, [("chr2", 120, [0.5] * 10)])
    (run.path / "explain" / "filters").mkdir()
    (run.path / "explain" / "filters" / "filter_sites.bed").write_text("chr1\t1\t10\tf0\n")
    (run.path / "explain" / "variants").mkdir()
    (run.path / "explain" / "variants" / "variants.vcf.gz").write_bytes(b"")
    (run.path / "scan").mkdir()
    (run.path / "scan" / "CTCF.bedGraph").write_text("chr1\t0\t5\t1.0\n")
    # not tracks: other outputs, a writer's hidden temporary, an index
    (run.path / "explain" / "ism" / "ism.tsv").write_text("x\n")
    (run.path / "explain" / "ism" / ".tmp.bw.part").write_text("")
    (run.path / "explain" / "variants" / "variants.vcf.gz.tbi").write_bytes(b"")
    return run, genome


def expected_tracks(run: Run) -> set[Path]:
    """Track files found by globbing, independently of the step."""
    found = set()
    for pattern in ("*.bw", "*.bedGraph", "*.bed", "*.vcf", "*.vcf.gz"):
        found |= {p for p in run.path.rglob(pattern) if not p.name.startswith(".")}
    return found


def resources(session: Path) -> list[ET.Element]:
    root = ET.parse(session).getroot()  # raises on invalid XML
    assert root.tag == "Session"
    assert root.get("version") == "8"
    return root.findall("./Resources/Resource")


def test_session_lists_every_track_relative_to_the_session(track_run):
    run, genome = track_run
    session = igv_session(run, genome=genome)
    assert session == run.path / "igv_session.xml"
    items = resources(session)
    paths = [r.get("path") for r in items]
    assert all(p and not os.path.isabs(p) for p in paths)
    assert {(session.parent / p).resolve() for p in paths} == {
        p.resolve() for p in expected_tracks(run)
    }
    assert len(paths) == 7
    names = {r.get("name") for r in items}
    assert "ism CTCF.mean" in names and "saliency gradient_x_input CTCF" in names
    root = ET.parse(session).getroot()
    assert root.get("genome") == str(genome.resolve())
    assert root.get("locus") == "chr2:101-103"  # the first data of the first bigWig
    assert "igv_session.xml" in run.steps()["igv"]["outputs"]


def test_session_elsewhere_and_genome_id(track_run, tmp_path):
    run, _ = track_run
    out = tmp_path / "shared" / "s.xml"
    igv_session(run, genome="hg38", out=out)
    root = ET.parse(out).getroot()
    assert root.get("genome") == "hg38"
    paths = [r.get("path") for r in resources(out)]
    assert all(p.startswith("../run/") for p in paths)
    assert {(out.parent / p).resolve() for p in paths} == {
        p.resolve() for p in expected_tracks(run)
    }


def test_genome_defaults_to_the_recorded_one_and_is_required(track_run, tmp_path):
    run, genome = track_run
    with pytest.raises(InputError, match="no genome"):
        igv_session(run)
    with pytest.raises(InputError, match="not found"):
        igv_session(run, genome=tmp_path / "missing.fa")
    run.record_step("saliency", [], genome=str(genome.resolve()))
    session = igv_session(run)
    assert ET.parse(session).getroot().get("genome") == str(genome.resolve())


def test_cli_writes_the_session_and_fails_clearly(track_run, tmp_path):
    run, genome = track_run
    cli = CliRunner()
    failed = cli.invoke(app, ["igv", str(run.path)])
    assert failed.exit_code == 2
    assert "genome" in failed.output
    out = tmp_path / "x.xml"
    done = cli.invoke(app, ["igv", str(run.path), "--genome", str(genome), "-o", str(out)])
    assert done.exit_code == 0, done.output
    assert len(resources(out)) == 7
    # the genome given once is recorded: later sessions need not repeat it
    again = cli.invoke(app, ["igv", str(run.path)])
    assert again.exit_code == 0, again.output
    assert ET.parse(run.path / "igv_session.xml").getroot().get("genome") == str(genome.resolve())


def read_stanzas(trackdb: Path) -> list[dict[str, str]]:
    """trackDb stanzas (blank-line separated ``key value`` lines) as dicts."""
    blocks = trackdb.read_text().strip().split("\n\n")
    return [dict(line.split(" ", 1) for line in block.splitlines()) for block in blocks]


def test_track_hub_lists_bigwigs_and_indexed_vcf(track_run):
    run, genome = track_run
    hub = track_hub(run, "hg38")
    assert hub == run.path / "hub" / "hub.txt"
    fields = dict(line.split(" ", 1) for line in hub.read_text().splitlines())
    assert {"hub", "shortLabel", "longLabel", "genomesFile", "email"} <= set(fields)
    genomes = (hub.parent / fields["genomesFile"]).read_text().splitlines()
    assert genomes == ["genome hg38", "trackDb hg38/trackDb.txt"]
    trackdb = hub.parent / "hg38" / "trackDb.txt"
    stanzas = read_stanzas(trackdb)
    # by glob: every bigWig, and the bgzip VCF that has its .tbi (plain BED/bedGraph: no)
    want = set(run.path.rglob("*.bw")) | {run.path / "explain/variants/variants.vcf.gz"}
    got = {(trackdb.parent / s["bigDataUrl"]).resolve() for s in stanzas}
    assert got == {p.resolve() for p in want}
    assert all(not os.path.isabs(s["bigDataUrl"]) for s in stanzas)
    assert {s["type"] for s in stanzas} == {"bigWig", "vcfTabix"}
    names = [s["track"] for s in stanzas]
    assert len(set(names)) == len(names)
    assert all(n[0].isalpha() and n.replace("_", "").isalnum() for n in names)
    with pytest.raises(InputError, match="assembly"):
        track_hub(run, str(genome))


def test_cli_hub_flag(track_run):
    run, genome = track_run
    cli = CliRunner()
    done = cli.invoke(app, ["igv", str(run.path), "--genome", "mm10", "--hub"])
    assert done.exit_code == 0, done.output
    assert (run.path / "hub" / "mm10" / "trackDb.txt").is_file()
    assert (run.path / "igv_session.xml").is_file()
    failed = cli.invoke(app, ["igv", str(run.path), "--genome", str(genome), "--hub"])
    assert failed.exit_code == 2
    assert "assembly" in failed.output
