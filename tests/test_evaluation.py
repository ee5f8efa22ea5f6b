"""Per-target metrics against values worked out by hand; labelled files matched by name."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from motiflens.data.hdf5 import write_dataset
from motiflens.errors import InputError
from motiflens.evaluation import evaluate_model, match_targets, per_target_metrics, summarize


def test_auroc_and_auprc_by_hand():
    y = np.array([[0], [0], [1], [1]])
    s = np.array([[0.1], [0.4], [0.35], [0.8]])
    m = per_target_metrics(y, s, ["t"])
    # pairs (pos, neg) ranked correctly: (0.35>0.1), (0.8>0.1), (0.8>0.4); wrong: (0.35<0.4)
    assert m.loc[0, "auroc"] == 0.75
    # ranked: 0.8 (pos: P=1, R=.5), 0.4 (neg), 0.35 (pos: P=2/3, R=1) -> AP = .5*1 + .5*2/3
    assert math.isclose(m.loc[0, "auprc"], 0.5 + 0.5 * 2 / 3)
    assert m.loc[0, "positives"] == 2


def test_target_without_positives_is_nan_not_one():
    y = np.array([[0, 1], [0, 0], [0, 1]])
    s = np.array([[0.2, 0.9], [0.1, 0.1], [0.3, 0.8]])
    m = per_target_metrics(y, s, ["empty", "full"])
    assert math.isnan(m.loc[0, "auroc"]) and math.isnan(m.loc[0, "auprc"])
    assert m.loc[1, "auroc"] == 1.0
    text = summarize(m)
    assert "mean 1.0000" in text and "1 target(s) with no positives" in text


def test_continuous_targets_use_correlations():
    y = np.array([[1.0], [2.0], [3.0], [4.0]])
    s = np.array([[2.0], [4.0], [6.0], [7.0]])
    m = per_target_metrics(y, s, ["r"], task="continuous")
    assert math.isclose(m.loc[0, "spearman"], 1.0)
    # Pearson by hand: x = y - 2.5, s - 4.75 = (-2.75, -.75, 1.25, 2.25)
    dx = np.array([-1.5, -0.5, 0.5, 1.5])
    ds = np.array([-2.75, -0.75, 1.25, 2.25])
    expected = (dx * ds).sum() / math.sqrt((dx**2).sum() * (ds**2).sum())
    assert math.isclose(m.loc[0, "pearson"], expected)


def test_roc_pr_curves_by_hand():
    from motiflens.evaluation import roc_pr_curves

    y = np.array([[0, 0], [0, 0], [1, 0], [1, 0]])
    s = np.array([[0.1, 0.5], [0.4, 0.5], [0.35, 0.5], [0.8, 0.5]])
    curves = roc_pr_curves(y, s, ["t", "empty"])
    assert curves["n"] == 4 and curves["targets"]["empty"] is None  # one class only
    t = curves["targets"]["t"]
    # thresholds 0.8, 0.4, 0.35, 0.1 -> (FP, TP) = (0, 1), (1, 1), (1, 2), (2, 2) of (2, 2)
    np.testing.assert_allclose(t["fpr"], [0, 0, 0.5, 0.5, 1])
    np.testing.assert_allclose(t["tpr"], [0, 0.5, 0.5, 1, 1])
    # thresholds rising 0.1, 0.35, 0.4, 0.8: P = 2/4, 2/3, 1/2, 1/1 at R = 1, 1, .5, .5,
    # then sklearn's closing point (recall 0, precision 1)
    np.testing.assert_allclose(t["recall"], [1, 1, 0.5, 0.5, 0])
    np.testing.assert_allclose(t["precision"], [0.5, 2 / 3, 0.5, 1, 1])
    # thinned: at most 3 points, the first and the last kept
    thin = roc_pr_curves(y[:, :1], s[:, :1], points=3)["targets"]["0"]
    np.testing.assert_allclose(thin["fpr"], [0, 0.5, 1])


# ------------------------------------------------------------- columns matched by name

# GC counts 1, 3, 5, 7 (8 bp each). The model's K562 output is the GC count and its HepG2
# output minus it, so the AUROCs follow from the labels by hand.
GC_SEQS = ["GATATATA", "GCGATATA", "GCGCGATA", "GCGCGCGA"]
K562 = [0, 0, 1, 1]  # positives GC {5, 7} above negatives {1, 3}: AUROC 1
HEPG2 = [1, 0, 1, 0]  # scores -1, -5 vs -3, -7: 3 of 4 pairs right, AUROC 0.75
# Matched by position in a file whose columns are (HepG2, K562), the K562 output would meet
# the HepG2 labels: GC {1, 5} vs {3, 7}, 1 of 4 pairs right, AUROC 0.25.


class GCModel(torch.nn.Module):
    """Logits: (GC count - 4, 4 - GC count); the same for a sequence and its reverse
    complement, so averaging the two strands changes nothing."""

    def __init__(self, labels=("K562", "HepG2")) -> None:
        super().__init__()
        self.config = SimpleNamespace(length=8, n_targets=len(labels), task="binary")
        self.target_labels = list(labels)
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gc = x[:, 1:3].sum(dim=(1, 2)) - 4
        return torch.stack([gc, -gc][: self.config.n_targets], dim=1) + self.dummy


def write_table(path, columns: dict[str, list]) -> Path:
    names = list(columns)
    rows = ["\t".join(names)]
    rows += ["\t".join(str(columns[c][i]) for c in names) for i in range(len(GC_SEQS))]
    path.write_text("\n".join(rows) + "\n")
    return path


def test_reordered_label_columns_give_the_same_metrics(tmp_path):
    chrom = ["chr1", "chr2", "chr3", "chrX"]  # a text column: not a label
    ordered = write_table(
        tmp_path / "a.tsv", {"sequence": GC_SEQS, "chr": chrom, "K562": K562, "HepG2": HEPG2}
    )
    swapped = write_table(
        tmp_path / "b.tsv", {"HepG2": HEPG2, "sequence": GC_SEQS, "K562": K562, "chr": chrom}
    )
    for path in (ordered, swapped):
        result = evaluate_model(GCModel(), path)
        assert list(result.metrics["target"]) == ["K562", "HepG2"]
        assert list(result.metrics["auroc"]) == [1.0, 0.75]
        assert result.columns == ["K562", "HepG2"]
        np.testing.assert_array_equal(result.y_true, np.array([K562, HEPG2]).T)


def test_a_dataset_file_is_matched_by_name_too(tmp_path):
    codes = np.array([["ACGT".index(b) for b in s] for s in GC_SEQS], dtype=np.uint8)
    y = np.array([HEPG2, K562]).T
    path = write_dataset(tmp_path / "d.h5", {"test": (codes, y, list("abcd"))}, ["HepG2", "K562"])
    result = evaluate_model(GCModel(), path)
    assert list(result.metrics["auroc"]) == [1.0, 0.75]
    # placeholders (a run without target names) take the columns in order: the position
    # match the issue measured. GC vs the HepG2 labels: 0.25; -GC vs the K562 labels:
    # scores -1, -3 (negatives) above -5, -7 (positives), every pair wrong: 0
    blind = evaluate_model(GCModel(), path, match_names=False)
    assert list(blind.metrics["auroc"]) == [0.25, 0.0]
    # label_columns name a dataset file's targets
    chosen = evaluate_model(GCModel(), path, label_columns=["K562", "HepG2"])
    assert list(chosen.metrics["auroc"]) == [1.0, 0.75]
    with pytest.raises(InputError, match="no target liver in the dataset; it has HepG2, K562"):
        evaluate_model(GCModel(), path, label_columns=["K562", "liver"])


def test_names_that_do_not_match_are_refused_with_both_sets(tmp_path):
    numeric = write_table(tmp_path / "n.tsv", {"sequence": GC_SEQS, "K562": K562, "liver": HEPG2})
    with pytest.raises(InputError) as err:
        evaluate_model(GCModel(), numeric)
    text = str(err.value)
    assert "K562, HepG2" in text and "K562, liver" in text and "missing: HepG2" in text
    assert "--label-column" in text
    # with a text column the reader lists the file's columns, and the model's are added
    text_column = write_table(
        tmp_path / "t.tsv", {"sequence": GC_SEQS, "note": list("abcd"), "K562": K562, "x": K562}
    )
    with pytest.raises(InputError) as err:
        evaluate_model(GCModel(), text_column)
    text = str(err.value)
    assert "HepG2" in text and "note" in text and "the model's targets are K562, HepG2" in text


def test_label_columns_choose_and_map_in_the_run_order(tmp_path):
    path = write_table(
        tmp_path / "c.tsv",
        {"sequence": GC_SEQS, "chr": list("abcd"), "liver": HEPG2, "blood": K562},
    )
    result = evaluate_model(GCModel(), path, label_columns=["blood", "liver"])
    assert list(result.metrics["auroc"]) == [1.0, 0.75] and result.columns == ["blood", "liver"]
    # the run's own names, chosen in another order, are still matched by name
    named = write_table(tmp_path / "d.tsv", {"sequence": GC_SEQS, "HepG2": HEPG2, "K562": K562})
    result = evaluate_model(GCModel(), named, label_columns=["HepG2", "K562"])
    assert list(result.metrics["auroc"]) == [1.0, 0.75]
    with pytest.raises(InputError, match="1 target"):
        evaluate_model(GCModel(), path, label_columns=["blood"])


def test_match_targets_by_hand():
    assert match_targets(["HepG2", "K562"], ["K562", "HepG2"]) == [1, 0]
    assert match_targets(["a", "K562", "b"], ["K562"]) == [1]  # extra columns left out
    assert match_targets(["x", "y"], ["K562", "HepG2"], chosen=True) == [0, 1]
    assert match_targets(["GABPA"], ["ETS"], named=False) == [0]  # a FASTA's file name
    with pytest.raises(InputError, match="2 target"):
        match_targets(["a", "b"], ["ETS"], named=False)


def test_summary_and_baseline_columns(tmp_path):
    class Constant:
        """A baseline whose K562 probability is the GC count read backwards (AUROC 0)."""

        target_labels = ("K562", "HepG2")

        def predict(self, x):
            gc = x[:, 1:3].sum(axis=(1, 2))
            return np.stack([-gc, np.full(len(gc), np.nan)], axis=1)

    path = write_table(tmp_path / "a.tsv", {"sequence": GC_SEQS, "K562": K562, "HepG2": HEPG2})
    result = evaluate_model(GCModel(), path, baseline=Constant())
    assert result.metrics["baseline_auroc"].iloc[0] == 0.0
    assert math.isnan(result.metrics["baseline_auroc"].iloc[1])  # no model for HepG2: NaN
    assert "k-mer baseline AUROC mean 0.0000 (model 1.0000)" in result.summary
    assert "the model better on 1 of 1 targets" in result.summary
