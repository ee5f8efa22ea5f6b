"""Variant effect scores against hand-built sequences and independent predictions.

A tiny Basset with random weights (no training: the tests check the bookkeeping, not
what a model learned) at L = 40, so a variant sits at index L/2 - 1 = 19, and a genome
written in the test with a known sequence.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import torch

from motiflens.config import BassetConfig, ModelConfig
from motiflens.errors import InputError
from motiflens.explain.variants import resolve_chrom, variant_sequences
from motiflens.models import build_model
from motiflens.prediction import predict_array
from motiflens.runs import Run
from motiflens.sequence.fasta import Genome
from motiflens.sequence.vcf import Variant
from motiflens.steps.variants import variants as score_variants

LENGTH = 40
LEFT = LENGTH // 2 - 1  # 19
CHR1 = "".join(np.random.default_rng(7).choice(list("ACGT"), 300))
CHR2 = "".join(np.random.default_rng(8).choice(list("ACGT"), 120))
VCF_HEADER = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"


def write_genome(path: Path, names: tuple[str, str, str] = ("chr1", "chr2", "chrM")) -> Path:
    """chr1 (300 bp) and chr2 (120 bp) wrapped at 50 per line, and a 16 bp mitochondrion."""
    text = ""
    for name, seq in zip(names, (CHR1, CHR2, "ACGTACGTACGTACGT"), strict=True):
        text += f">{name}\n" + "\n".join(seq[i : i + 50] for i in range(0, len(seq), 50)) + "\n"
    path.write_text(text)
    return path


def write_vcf(path: Path, rows: list[str]) -> Path:
    path.write_text(VCF_HEADER + "".join(r + "\n" for r in rows))
    return path


def onehot(seq: str) -> np.ndarray:
    """Reference one-hot (4, L), 0.25 for N, independent of the package."""
    out = np.zeros((4, len(seq)), dtype=np.float32)
    for j, base in enumerate(seq):
        if base == "N":
            out[:, j] = 0.25
        else:
            out["ACGT".index(base), j] = 1.0
    return out


def decode(codes: np.ndarray) -> str:
    return "".join("ACGTN"[c] for c in codes)


def make_run(run_dir: Path, task: str = "binary") -> Path:
    torch.manual_seed(0)
    config = ModelConfig(
        name="basset",
        n_targets=3,
        length=LENGTH,
        task=task,
        arch=BassetConfig(filters=(6, 4), sizes=(5, 3), pools=(2, 2), hidden=(8,)),
    )
    Run(run_dir).save_model(build_model(config).eval(), config)
    (run_dir / "target_labels.txt").write_text("a\nb\nc\n")
    return run_dir


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    return make_run(tmp_path_factory.mktemp("run"))


@pytest.fixture(scope="module")
def model(run):

    return Run(run).model("cpu")


@pytest.fixture
def genome(tmp_path):
    with Genome(write_genome(tmp_path / "g.fa")) as g:
        yield g


def var(pos: int, ref: str, alt: str, chrom: str = "chr1", line: int = 3) -> Variant:
    return Variant(chrom, pos, ".", ref, alt, ".", line)


# ------------------------------------------------------------------ sequences


def test_snv_sits_at_index_half_length_minus_one(genome):
    pos = 101  # 1-based; 0-based 100
    alt = "A" if CHR1[100] != "A" else "C"
    seqs = variant_sequences(genome, [var(pos, CHR1[100], alt)], LENGTH)
    expected_ref = CHR1[100 - 19 : 100 - 19 + 40]
    assert decode(seqs.ref[0]) == expected_ref and expected_ref[19] == CHR1[100]
    assert decode(seqs.alt[0]) == expected_ref[:19] + alt + expected_ref[20:]
    assert seqs.ref_matches.tolist() == [True] and seqs.padded.tolist() == [False]


def test_odd_length_puts_the_snv_at_floor_half_minus_one(genome):
    seqs = variant_sequences(genome, [var(151, CHR1[150], "N")], 41)
    assert decode(seqs.ref[0]) == CHR1[150 - 19 : 150 - 19 + 41]
    assert decode(seqs.alt[0])[19] == "N" and len(decode(seqs.alt[0])) == 41


def test_deletion_takes_more_right_flank_and_insertion_trims_it(genome):
    p = 120  # 0-based position of the first REF base
    deletion = var(p + 1, CHR1[p : p + 4], CHR1[p])  # 3 bases deleted
    insertion = var(p + 1, CHR1[p], CHR1[p] + "GGTTA")  # 5 bases inserted
    mnp = var(p + 1, CHR1[p : p + 2], "NN")
    seqs = variant_sequences(genome, [deletion, insertion, mnp], LENGTH)
    start = p - 19
    ref = CHR1[start : start + 40]
    assert [decode(r) for r in seqs.ref] == [ref, ref, ref]
    # alt = 19 left bases, ALT, then the genome after REF, to 40 bases
    assert decode(seqs.alt[0]) == CHR1[start:p] + CHR1[p] + CHR1[p + 4 : p + 4 + 20]
    assert decode(seqs.alt[1]) == (CHR1[start:p] + CHR1[p] + "GGTTA" + CHR1[p + 1 :])[:40]
    assert decode(seqs.alt[2]) == CHR1[start:p] + "NN" + CHR1[p + 2 : start + 40]
    assert all(len(decode(a)) == 40 for a in seqs.alt)
    assert seqs.ref_matches.all()


def test_windows_over_chromosome_ends_are_padded_with_n(genome):
    near_start = var(5, CHR1[4], "T" if CHR1[4] != "T" else "G")
    near_end = var(115, CHR2[114], CHR2[114], chrom="chr2")
    # a deletion whose extra right flank alone runs over the end
    deletion = var(120 - 20 + 1 - 1, CHR2[99:102], CHR2[99], chrom="chr2")
    seqs = variant_sequences(genome, [near_start, near_end, deletion], LENGTH)
    assert decode(seqs.ref[0]) == "N" * 15 + CHR1[:25]
    assert decode(seqs.alt[0]) == "N" * 15 + CHR1[:4] + near_start.alt + CHR1[5:25]
    assert decode(seqs.ref[1]) == CHR2[114 - 19 :] + "N" * 15
    # 19 + 1 + 20 bases; after REF only chr2[102:120] (18) exist, then N
    assert decode(seqs.alt[2]) == CHR2[80:99] + CHR2[99] + CHR2[102:] + "NN"
    assert seqs.padded.tolist() == [True, True, True]
    # ISM-style one-hot: N is 0.25 in every channel (a column of the padded part)
    from motiflens.sequence.onehot import codes_to_onehot

    assert (codes_to_onehot(seqs.ref[:1])[0, :, 0] == 0.25).all()


def test_ref_mismatch_is_flagged_with_the_genome_bases(genome):
    wrong = "A" if CHR1[50:52] != "AA" else "CC"
    seqs = variant_sequences(genome, [var(51, wrong * 2, "T")], LENGTH)
    assert seqs.ref_matches.tolist() == [False] and seqs.genome_ref == [CHR1[50:52]]


@pytest.mark.parametrize(
    ("name", "genome_names", "expected"),
    [
        ("1", ["chr1", "chr2"], "chr1"),
        ("chr1", ["1", "2"], "1"),
        ("chr1", ["chr1"], "chr1"),
        ("MT", ["chr1", "chrM"], "chrM"),
        ("chrM", ["1", "MT"], "MT"),
        ("M", ["chrMT"], "chrMT"),
        ("X", ["chr1", "chrM"], None),
        ("chrUn_1", ["chr1"], None),
    ],
)
def test_chromosome_names_are_reconciled(name, genome_names, expected):
    assert resolve_chrom(name, {n: 1 for n in genome_names}) == expected


# ------------------------------------------------------------------ scoring


def read_sad(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", dtype={"chrom": str, "id": str, "info": str})


def test_sad_equals_difference_of_two_independent_predictions(run, model, tmp_path):
    genome = write_genome(tmp_path / "g.fa", names=("1", "2", "MT"))  # VCF says chr1
    p = 150
    alt = "G" if CHR1[p] != "G" else "T"
    vcf = write_vcf(
        tmp_path / "v.vcf",
        [
            f"chr1\t{p + 1}\trsA\t{CHR1[p]}\t{alt}\t.\t.\tDP=9;X=y",
            f"chr1\t{p + 11}\t.\t{CHR1[p + 10 : p + 13]}\t{CHR1[p + 10]}\t.\t.\t.",
        ],
    )
    for rc in (False, True):
        out = tmp_path / f"out{rc}"
        report = score_variants(
            run, vcf, genome=genome, out=out, reverse_complement=rc, verbose=False
        )
        assert report.scored == 2
        sad = read_sad(out / "sad.tsv")
        assert list(sad.columns) == [
            "chrom",
            "pos",
            "id",
            "ref",
            "alt",
            "target",
            "ref_pred",
            "alt_pred",
            "sad",
            "log_odds_diff",
            "info",
        ]
        assert len(sad) == 2 * 3 and sad["target"].tolist()[:3] == ["a", "b", "c"]
        assert sad["chrom"].tolist()[0] == "chr1" and sad["id"].tolist()[:3] == ["rsA"] * 3
        assert sad["info"].tolist()[0] == "DP=9;X=y"
        start = p - LEFT
        ref_seqs = [CHR1[start : start + 40]] * 2
        alt_seqs = [
            CHR1[start:p] + alt + CHR1[p + 1 : start + 40],
            CHR1[start + 10 : p + 11] + CHR1[p + 13 : p + 13 + 20],
        ]
        ref_seqs[1] = CHR1[start + 10 : start + 50]
        x_ref = np.stack([onehot(s) for s in ref_seqs])
        x_alt = np.stack([onehot(s) for s in alt_seqs])
        kw = dict(reverse_complement=rc)
        p_ref = predict_array(model, x_ref, transform="binary", **kw)
        p_alt = predict_array(model, x_alt, transform="binary", **kw)
        l_ref = predict_array(model, x_ref, **kw)
        l_alt = predict_array(model, x_alt, **kw)
        got = sad[["ref_pred", "alt_pred", "sad", "log_odds_diff"]].to_numpy().reshape(2, 3, 4)
        np.testing.assert_allclose(got[..., 0], p_ref, rtol=1e-5)
        np.testing.assert_allclose(got[..., 1], p_alt, rtol=1e-5)
        np.testing.assert_allclose(got[..., 2], p_alt - p_ref, rtol=1e-4, atol=1e-7)
        np.testing.assert_allclose(got[..., 3], l_alt - l_ref, rtol=1e-4, atol=1e-7)
        assert np.abs(got[..., 2]).max() > 0  # the test would be vacuous otherwise


def test_ref_mismatch_skip_counts_and_logs(run, tmp_path):
    genome = write_genome(tmp_path / "g.fa")
    bad1 = "A" if CHR1[60] != "A" else "C"
    bad2 = "G" if CHR1[80] != "G" else "T"
    vcf = write_vcf(
        tmp_path / "v.vcf",
        [
            f"1\t61\tm1\t{bad1}\tT\t.\t.\t.",  # line 3
            f"1\t71\tok\t{CHR1[70]}\tN\t.\t.\t.",  # line 4
            f"1\t81\tm2\t{bad2}\tC\t.\t.\t.",  # line 5
            "1\t301\tbeyond\tA\tC\t.\t.\t.",  # line 6: past the end of chr1 (300 bp)
        ],
    )
    report = score_variants(run, vcf, genome=genome, out=tmp_path / "o", verbose=False)
    assert report.scored == 1 and report.ref_mismatch == 2 and report.outside == 1
    assert read_sad(tmp_path / "o" / "sad.tsv")["id"].unique().tolist() == ["ok"]
    logged = pd.read_csv(tmp_path / "o" / "log.tsv", sep="\t", dtype=str)
    assert logged["line"].tolist() == ["3", "5", "6"]
    assert set(logged["action"]) == {"skipped"}
    assert f"REF {bad1} does not match the genome ({CHR1[60]})" in logged["reason"][0]
    assert "REF mismatches with the genome: skipped" in str(report)


def test_ref_mismatch_use_genome_scores_the_genome_bases(run, model, tmp_path):
    genome = write_genome(tmp_path / "g.fa")
    p = 200
    wrong = "A" if CHR1[p] != "A" else "C"
    vcf = write_vcf(tmp_path / "v.vcf", [f"chr1\t{p + 1}\tm\t{wrong}\tN\t.\t.\t."])
    report = score_variants(
        run, vcf, genome=genome, out=tmp_path / "o", ref_mismatch="use-genome", verbose=False
    )
    assert report.scored == 1 and report.ref_mismatch == 1
    sad = read_sad(tmp_path / "o" / "sad.tsv")
    start = p - LEFT
    x_ref = onehot(CHR1[start : start + 40])[None]
    x_alt = onehot(CHR1[start:p] + "N" + CHR1[p + 1 : start + 40])[None]
    np.testing.assert_allclose(
        sad["ref_pred"], predict_array(model, x_ref, transform="binary")[0], rtol=1e-5
    )
    np.testing.assert_allclose(
        sad["alt_pred"], predict_array(model, x_alt, transform="binary")[0], rtol=1e-5
    )
    logged = pd.read_csv(tmp_path / "o" / "log.tsv", sep="\t", dtype=str)
    assert logged["action"].tolist() == ["scored"] and "genome's bases" in logged["reason"][0]


def test_ref_mismatch_error_names_variant_and_line(run, tmp_path):
    genome = write_genome(tmp_path / "g.fa")
    wrong = "A" if CHR1[30] != "A" else "C"
    vcf = write_vcf(
        tmp_path / "v.vcf",
        [f"1\t21\tok\t{CHR1[20]}\tA\t.\t.\t.", f"1\t31\trsBad\t{wrong}\tT\t.\t.\t."],
    )
    with pytest.raises(InputError) as err:
        score_variants(
            run, vcf, genome=genome, out=tmp_path / "o", ref_mismatch="error", verbose=False
        )
    assert err.value.line == 4
    assert f"1:31 {wrong}>T (rsBad)" in str(err.value) and "does not match the genome" in str(
        err.value
    )
    assert not (tmp_path / "o" / "sad.tsv").exists()  # atomic: nothing half-written


def test_unknown_chromosome_symbolic_and_padding_are_counted(run, tmp_path):
    genome = write_genome(tmp_path / "g.fa")
    vcf = write_vcf(
        tmp_path / "v.vcf",
        [
            "chrX\t10\tx\tA\tC\t.\t.\t.",
            "MT\t3\tmt\tG\tA,<DUP>\t.\t.\t.",  # chrM: padded on both sides (16 bp)
            f"1\t2\tnear\t{CHR1[1]}\t{CHR1[1]}A\t.\t.\t.",
            "1\t100\tlong\t" + CHR1[99] + "\t" + CHR1[99] + "A" * 25 + "\t.\t.\t.",
        ],
    )
    report = score_variants(run, vcf, genome=genome, out=tmp_path / "o", verbose=False)
    assert report.scored == 2 and report.unknown_chrom == 1 and report.padded == 2
    assert report.vcf.symbolic == 1 and report.too_long == 1
    text = str(report)
    assert "chromosomes not in the genome (chrX)" in text and "padded with N" in text


def test_chunks_stream_and_match_one_big_chunk(run, tmp_path):
    genome = write_genome(tmp_path / "g.fa")
    rng = np.random.default_rng(3)
    rows = []
    for k, p in enumerate(sorted(rng.choice(np.arange(30, 270), 25, replace=False))):
        alt = "ACGT"[("ACGT".index(CHR1[p]) + 1) % 4]
        rows.append(f"1\t{p + 1}\tv{k}\t{CHR1[p]}\t{alt}\t.\t.\t.")
    vcf = write_vcf(tmp_path / "v.vcf", rows)
    score_variants(run, vcf, genome=genome, out=tmp_path / "big", verbose=False)
    score_variants(run, vcf, genome=genome, out=tmp_path / "small", chunk_size=4, verbose=False)
    a, b = read_sad(tmp_path / "big" / "sad.tsv"), read_sad(tmp_path / "small" / "sad.tsv")
    # batches of other sizes may round the last float bit differently
    pd.testing.assert_frame_equal(a, b, rtol=1e-3, atol=1e-6)
    assert len(a) == 25 * 3
    assert "variants" in Run(run).manifest()["steps"]


def test_regression_log_odds_diff_is_the_raw_difference(tmp_path):
    run = make_run(tmp_path / "run", task="regression")
    genome = write_genome(tmp_path / "g.fa")
    vcf = write_vcf(tmp_path / "v.vcf", [f"1\t151\t.\t{CHR1[150]}\tN\t.\t.\t."])
    report = score_variants(run, vcf, genome=genome, verbose=False)
    sad = read_sad(run / "explain" / "variants" / "sad.tsv")
    np.testing.assert_allclose(sad["log_odds_diff"], sad["sad"], rtol=1e-4, atol=1e-7)
    assert "raw difference" in str(report)


def test_ism_around_top_variants_agrees_with_the_sad(run, model, tmp_path):
    genome = write_genome(tmp_path / "g.fa")
    rows, alts = [], []
    for k, p in enumerate((60, 120, 180)):
        alt = "ACGT"[("ACGT".index(CHR1[p]) + 2) % 4]
        alts.append(alt)
        rows.append(f"1\t{p + 1}\tv{k}\t{CHR1[p]}\t{alt}\t.\t.\t.")
    rows.append(f"1\t231\tdel\t{CHR1[230:233]}\t{CHR1[230]}\t.\t.\t.")
    vcf = write_vcf(tmp_path / "v.vcf", rows)
    out = tmp_path / "o"
    report = score_variants(
        run, vcf, genome=genome, out=out, ism=True, ism_top=2, ism_window=10, verbose=False
    )
    sad = read_sad(out / "sad.tsv")
    best = sad.assign(abs_sad=sad["sad"].abs()).groupby("id", sort=False)["abs_sad"].max()
    top2 = best.sort_values(ascending=False, kind="stable").index[:2].tolist()
    index = pd.read_csv(out / "ism" / "ism.tsv", sep="\t", dtype={"id": str})
    assert report.ism_variants == 2 and index["id"].tolist() == top2
    for _, row in index.iterrows():
        assert (out / "ism" / row["figure_ref"]).exists()
        assert (out / "ism" / row["figure_ref"]).with_suffix(".svg").exists()
        assert (out / "ism" / row["figure_alt"]).exists()
        mine = sad[(sad["id"] == row["id"])]
        assert row["target"] == mine.loc[mine["sad"].abs().idxmax(), "target"]
        with h5py.File(out / "ism" / row["h5"]) as h5:
            delta, positions = h5["delta"][:], h5["positions"][:]
            assert delta.shape == (2, 4, 10, 1) and positions.tolist() == list(range(15, 25))
            label = f"{row['chrom']}:{row['pos']} {row['ref']}>{row['alt']}"
            assert [n.decode() for n in h5["names"][:]] == [f"{label} ref", f"{label} alt"]
        if row["id"] != "del":
            # the SNV is one of the reference's single-base mutants: ISM's change of logit
            # at the variant's index, ALT's channel, is the SNV's log-odds difference
            k = int(row["id"][1:])
            j = positions.tolist().index(LEFT)
            lod = mine.loc[mine["target"] == row["target"], "log_odds_diff"].item()
            assert delta[0, "ACGT".index(alts[k]), j, 0] == pytest.approx(lod, rel=1e-3, abs=1e-6)


def test_ism_figure_marks_an_indel_allele_as_a_span(tmp_path):
    import matplotlib.pyplot as plt

    from motiflens.plots import ism as plots_ism

    saved = {}

    def keep(fig, path):  # look at the figure instead of writing it
        saved["fig"] = fig
        return Path(path)

    delta = np.zeros((4, 8))
    delta[1, 3] = 0.5
    loss, gain = np.zeros(8), np.abs(delta).max(0)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(plots_ism, "save_figure", keep)
        plots_ism.plot_ism(
            delta,
            loss,
            gain,
            "ACGTACGT",
            tmp_path / "f",
            positions=np.arange(10, 18),
            mark=13,
            mark_width=3,
        )
    axes = saved["fig"].axes[:3]
    for ax in axes:
        spans = [p for p in ax.patches if p.get_gid() == "mark"]
        assert len(spans) == 1
        span = spans[0]
        xs = span.get_path().transformed(span.get_patch_transform()).vertices[:, 0]
        assert (xs.min(), xs.max()) == (
            pytest.approx(12.5),
            pytest.approx(15.5),
        )  # bases 13, 14, 15
        assert any(list(line.get_xdata()) == [13, 13] for line in ax.lines)
    plt.close(saved["fig"])


# ------------------------------------------------------------------ several processes


def sharded_vcf(path: Path) -> tuple[Path, list[str], list[int]]:
    """A VCF of 30 records on chr1 with REF mismatches, unknown chromosomes, a
    multi-allelic record and malformed lines (first, middle, last).

    Returns the file, the ids a single pass scores, in order (one per ALT allele), and
    the VCF lines ``log.tsv`` lists, worked out while writing it.
    """
    rows: list[str] = []
    scored: list[str] = []
    logged: list[int] = []

    def add(row: str, *, log: bool = False, ids: tuple[str, ...] = ()) -> None:
        rows.append(row)
        if log:
            logged.append(len(rows) + 2)  # two header lines
        scored.extend(ids)

    add("bad line", log=True)
    for k in range(30):
        p = 5 + 9 * k  # 0-based
        base = CHR1[p]
        alt = "ACGT"[("ACGT".index(base) + 1) % 4]
        if k in (6, 20):
            add(f"chrZ\t{p + 1}\tz{k}\t{base}\t{alt}\t.\t.\t.", log=True)
        elif k == 12:
            add(f"chrY\t{p + 1}\ty{k}\t{base}\t{alt}\t.\t.\t.", log=True)
        elif k % 3 == 1:  # 10 REF mismatches: skipped
            wrong = "ACGT"[("ACGT".index(base) + 2) % 4]
            add(f"1\t{p + 1}\tm{k}\t{wrong}\t{alt}\t.\t.\t.", log=True)
        elif k == 15:
            other = "ACGT"[("ACGT".index(base) + 3) % 4]
            add(f"1\t{p + 1}\tv{k}\t{base}\t{alt},{other}\t.\t.\t.", ids=(f"v{k}",) * 2)
        else:  # the first window runs over the start of chr1: scored, padded and logged
            add(f"1\t{p + 1}\tv{k}\t{base}\t{alt}\t.\t.\t.", log=k == 0, ids=(f"v{k}",))
        if k == 10:
            add("1 200 spaced A G . . .", log=True)
    add("trailing\tbad", log=True)
    return write_vcf(path, rows), scored, logged


def simulate_ranks(monkeypatch: pytest.MonkeyPatch, world: int) -> None:
    """Make ``score_variants`` run ``world`` ranks one after another in this process."""
    from motiflens import distributed

    variants = importlib.import_module("motiflens.steps.variants")

    def fake(work, merge, *, near, launch=None, device=None):
        return distributed.run_inline(work, merge, near=near, world_size=world)

    monkeypatch.setattr(variants, "run_sharded", fake)


@pytest.mark.parametrize("world", [2, 3])
def test_sharded_runs_write_the_single_process_files(run, tmp_path, monkeypatch, caplog, world):
    variants = importlib.import_module("motiflens.steps.variants")

    genome = write_genome(tmp_path / "g.fa")
    vcf, scored_ids, logged_lines = sharded_vcf(tmp_path / "v.vcf")
    picked: dict[str, list[tuple[str, list[int]]]] = {}

    def fake_ism(model, genome, selected, out_dir, **kw):  # the ISM choice, not the figures
        picked[Path(out_dir).parent.name] = [(t.variant.id, t.targets) for t in selected]

    monkeypatch.setattr(variants, "variant_ism", fake_ism)
    kw = dict(skip_bad=True, chunk_size=2, ism=True, ism_top=4, ism_targets=2, verbose=False)

    def scored(name: str):
        caplog.clear()
        with caplog.at_level("WARNING"):
            report = score_variants(run, vcf, genome=genome, out=tmp_path / name, **kw)
        return report, [r.getMessage().replace(f"/{name}/", "/") for r in caplog.records]

    one, one_warnings = scored("one")
    simulate_ranks(monkeypatch, world)
    many, many_warnings = scored("many")

    for name in ("sad.tsv", "log.tsv"):
        assert (tmp_path / "many" / name).read_bytes() == (tmp_path / "one" / name).read_bytes()
    # ... and the files are what the VCF says, independently of either run
    assert read_sad(tmp_path / "many" / "sad.tsv")["id"].tolist()[::3] == scored_ids
    logged = pd.read_csv(tmp_path / "many" / "log.tsv", sep="\t", dtype=str)
    assert logged["line"].astype(int).tolist() == logged_lines
    assert not [p for p in (tmp_path / "many").iterdir() if ".shards-" in p.name]

    assert many is not None and many.processes == world and one.processes == 1
    for key in ("scored", "ref_mismatch", "unknown_chrom", "padded", "too_long"):
        assert getattr(many, key) == getattr(one, key), key
    assert (many.scored, many.ref_mismatch, many.unknown_chrom) == (len(scored_ids), 10, 3)
    assert many.unknown_chroms == ["chrZ", "chrY"] and many.vcf.bad_lines == 3
    assert many.vcf.records == one.vcf.records == 30
    assert picked["many"] == picked["one"] and len(picked["one"]) == 4
    assert f"computed by {world} processes" in str(many)

    # The same warnings in the same order, except that several processes show the variants'
    # after reading (a single one shows them as it goes, between the malformed lines'):
    # 10 REF mismatches and 2 unknown chromosomes give the first 10 in VCF order, then
    # "more"; each malformed line once (every process reads them, rank 0 reports them).
    def split(messages: list[str]) -> tuple[list[str], list[str]]:
        bad = [m for m in messages if "malformed VCF record" in m]
        return bad, [m for m in messages if m not in bad]

    assert split(many_warnings) == split(one_warnings)
    bad_lines, variant_warnings = split(many_warnings)
    assert len(bad_lines) == 3 and len(variant_warnings) == 13
    assert variant_warnings[10] == "more variant warnings; all are listed in log.tsv"
    assert "chrZ" in variant_warnings[2] and "chrY" in variant_warnings[5]
    assert "line 5:" in variant_warnings[0] and "line 27:" in variant_warnings[9]


def test_dashboard_finds_each_variants_stored_ism(run, tmp_path):
    from motiflens.dashboard.data import variant_ism, variants_view

    genome = write_genome(tmp_path / "g.fa")
    rows = [
        f"1\t{p + 1}\tv{k}\t{CHR1[p]}\t{'ACGT'[('ACGT'.index(CHR1[p]) + 1) % 4]}\t.\t.\t."
        for k, p in enumerate((60, 120))
    ]
    vcf = write_vcf(tmp_path / "v.vcf", rows)
    folder = run / "explain" / "variants" / "ism"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "9999_stale.h5").write_bytes(b"from an earlier run")
    score_variants(run, vcf, genome=genome, ism=True, ism_top=2, ism_window=10, verbose=False)
    assert not (folder / "9999_stale.h5").exists()
    index = pd.read_csv(folder / "ism.tsv", sep="\t", dtype={"id": str})
    names = variants_view(run)["ism"]
    assert len(set(names)) == 4  # ref and alt of two variants, all different
    for row in index.itertuples():
        label = f"{row.chrom}:{row.pos} {row.ref}>{row.alt}"
        got = variant_ism(run, f"{label} alt", row.target)
        with h5py.File(folder / row.h5) as h5:
            expected = h5["delta"][1, :, :, 0]
        # the dashboard rounds what it sends
        np.testing.assert_allclose(np.asarray(got["delta"]), expected, rtol=0, atol=1e-5)
