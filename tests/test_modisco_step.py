"""`modisco` and `hits` on the five planted-motif simulation (conftest's trained_motifs)."""

from __future__ import annotations

import h5py
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from motiflens.cli import app
from motiflens.data.simulate import read_ground_truth
from motiflens.errors import InputError
from motiflens.motifs.meme import read_meme
from motiflens.sequence.onehot import decode
from motiflens.steps import hits, modisco

COLUMNS = "target pattern kind n_seqlets consensus width match_id match_name q_value offset strand"
RECOVERY = "motif_id motif_name recovered pattern match_id match_name q_value n_patterns"


@pytest.fixture(scope="module")
def result(trained_motifs):
    return modisco(trained_motifs.run_dir, n=120, n_leiden_runs=4, verbose=False, device="cpu")


def _test_sequences(dataset) -> dict[str, str]:
    with h5py.File(dataset, "r") as h5:
        names = [v.decode() if isinstance(v, bytes) else str(v) for v in h5["test_headers"][:]]
        X = h5["test_in"][:].astype(np.float32)
    return dict(zip(names, decode(X), strict=True))


def test_planted_motifs_recovered(result, trained_motifs):
    folder = trained_motifs.run_dir / "explain" / "modisco"
    recovery = pd.read_csv(folder / "recovery.tsv", sep="\t")
    assert list(recovery.columns) == RECOVERY.split()
    # the planted ids come from the simulation's task specs, not from the step
    assert set(recovery["motif_id"]) == set(trained_motifs.planted.values())
    assert recovery["recovered"].all(), recovery
    assert (recovery["q_value"] < 0.05).all()
    # each planted motif is recovered by its own task's pattern
    for task, motif_id in trained_motifs.planted.items():
        row = recovery[recovery["motif_id"] == motif_id].iloc[0]
        assert row["pattern"].startswith(f"{task}/"), row


def test_outputs(result, trained_motifs):
    folder = trained_motifs.run_dir / "explain" / "modisco"
    table = pd.read_csv(folder / "patterns.tsv", sep="\t", keep_default_na=False)
    assert list(table.columns) == COLUMNS.split()
    assert set(table["target"]) == set(trained_motifs.target_labels)
    motifs, _ = read_meme(folder / "patterns.meme")
    assert [m.id for m in motifs] == [
        f"{t}/{p}" for t, p in zip(table.target, table.pattern, strict=True)
    ]
    assert all(m.width == w for m, w in zip(motifs, table["width"], strict=True))
    for t, p in zip(table.target, table.pattern, strict=True):
        assert (folder / "logos" / f"{t}__{p}.png").stat().st_size > 0
    assert "modisco" in result.summary()


def test_seqlets_lie_in_the_sequences_and_match_the_pattern(result, trained_motifs):
    folder = trained_motifs.run_dir / "explain" / "modisco"
    seqs = _test_sequences(trained_motifs.dataset)
    bed = pd.read_csv(folder / "seqlets.bed", sep="\t", comment="#", header=None)
    assert len(bed) > 50
    motifs = {m.id: m for m in read_meme(folder / "patterns.meme")[0]}
    identity = []
    comp = str.maketrans("ACGT", "TGCA")
    for chrom, start, end, name, _, strand, _seq in bed.itertuples(index=False):
        assert chrom in seqs  # the sequence's own name: simulated data has no coordinates
        assert 0 <= start < end <= len(seqs[chrom])
        bases = seqs[chrom][start:end]
        if strand == "-":
            bases = bases[::-1].translate(comp)
        consensus = "".join("ACGT"[i] for i in motifs[name].probs.argmax(axis=0))
        identity.append(np.mean([a == b for a, b in zip(bases, consensus, strict=True)]))
    # random bases agree with a consensus 25% of the time
    assert np.mean(identity) > 0.6
    fasta = (folder / "seqlets.fa").read_text().split("\n")[1::2]
    assert len(fasta) == len(bed)


def test_hits_find_planted_sites(result, trained_motifs, tmp_path):
    out = tmp_path / "hits"
    res = hits(trained_motifs.run_dir, trained_motifs.dataset, out, p=1e-4)
    assert (out / "hits.tsv").is_file() and (out / "hits.bed").is_file()
    table = res.table
    truth = read_ground_truth(trained_motifs.dataset, "test")
    with h5py.File(trained_motifs.dataset, "r") as h5:
        names = [v.decode() if isinstance(v, bytes) else str(v) for v in h5["test_headers"][:]]
    ctcf = truth[truth["motif_id"] == trained_motifs.planted["CTCF"]]
    pattern_hits = table[table["motif_id"].str.startswith("CTCF/")]
    found = 0
    for site in ctcf.itertuples():
        h = pattern_hits[pattern_hits["chrom"] == names[site.seq]]
        found += bool(((h["start"] < site.end) & (h["end"] > site.start)).any())
    assert found >= 0.8 * len(ctcf), (found, len(ctcf))


def test_hits_cli_and_errors(result, trained_motifs, tmp_path):
    meme = trained_motifs.run_dir / "explain" / "modisco" / "patterns.meme"
    run = str(trained_motifs.run_dir)
    out = tmp_path / "cli"
    cli = CliRunner()
    r = cli.invoke(app, ["hits", run, str(trained_motifs.dataset), "--motifs", str(meme),
                         "-o", str(out)])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert len((out / "hits.tsv").read_text().splitlines()) > 1
    with pytest.raises(InputError, match="attribution"):
        modisco(trained_motifs.run_dir, attributions="saliency")
