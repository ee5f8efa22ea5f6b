"""The motif analyses of a run written by hand, for the motif page and the insertion view.

:func:`write_motif_analyses` adds to a :func:`tests.dashboard.runfixtures.make_run` run:

- ``explain/modisco/``: ``patterns.tsv`` and ``patterns.meme`` in the columns of the modisco
  step (target ``motif``: a CTCF pattern matched to JASPAR ``MA0139.2`` and a REST pattern
  matched on the minus strand; target ``never``: a REST pattern), with the JASPAR PWMs
  (pyjaspar) as the patterns' own;
- ``explain/filters/filters.tsv`` with filter 2 matched to ``MA0139.2 CTCF`` and filter 5
  to a CIS-BP REST (``(REST)_(Mus_musculus)_(DBD_1.00)``: same TF by name, other id);
- ``explain/insertion/insertion.tsv``: 26 motifs x 3 targets whose mean and SD come from a
  per-background table of 4 backgrounds (``d + s * [-1, 1, -1, 1]``).

The expected values the tests check are written out by hand in the tests.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from motiflens.motifs.databases import jaspar_motif
from motiflens.runs import Run
from tests.dashboard.runfixtures import N_FILTERS, _meme, _tsv

PATTERN_COLUMNS = ["target", "pattern", "kind", "n_seqlets", "consensus", "width", "match_id",
                   "match_name", "q_value", "offset", "strand"]  # fmt: skip
CISBP_REST = "(REST)_(Mus_musculus)_(DBD_1.00)"
#: The insertion table's motifs: id, name, and (mean change, spread s) per target
#: motif / gc / never. Fillers F01..F22 move every target by 0.001 * i.
NAMED = [
    ("MA0139.2", "CTCF", [(2.0, 0.6), (0.1, 0.1), (0.05, 0.01)]),
    ("MA0138.3", "REST", [(-0.5, 0.2), (0.05, 0.01), (-3.0, 0.3)]),
    ("MA0140.3", "GATA1::TAL1", [(0.3, 0.1), (1.5, 0.9), (0.03, 0.01)]),
    ("M0085_1.02", "(TFAP2E)_(Mus_musculus)_(DBD_0.99)", [(0.2, 0.1), (0.04, 0.01),
                                                         (-0.025, 0.01)]),
]  # fmt: skip
N_BACKGROUNDS = 4
SIGNS = np.array([-1.0, 1.0, -1.0, 1.0])


def _per_background() -> list[tuple[str, str, int, np.ndarray]]:
    """``(motif id, name, target index, change per background)`` of every row."""
    rows = []
    for motif_id, name, effects in NAMED:
        for t, (d, s) in enumerate(effects):
            rows.append((motif_id, name, t, d + s * SIGNS))
    for i in range(1, 23):
        for t in range(3):
            rows.append((f"F{i:02d}", f"filler{i}", t, np.full(N_BACKGROUNDS, 0.001 * i)))
    return rows


def write_motif_analyses(run: Path) -> None:
    """Write the module docstring's files into ``run`` (a complete run)."""
    r = Run(run)
    targets = r.target_labels()
    folder = r.analysis_dir("modisco")
    ctcf, rest = jaspar_motif("MA0139.2"), jaspar_motif("MA0138.3")
    rest_rc = np.asarray(rest.probs)[::-1, ::-1][:, 2:18]  # the pattern: 16 bp of REST's (-)
    _tsv(
        folder / "patterns.tsv",
        PATTERN_COLUMNS,
        [
            ["motif", "pattern_0", "pos", 120, "CCGCGNGGNGGCAG", 15, "MA0139.2", "CTCF",
             1e-6, 0, "+"],
            ["motif", "pattern_1", "neg", 35, "GGAGCTGTCCATGGTGCTGA", 16, "MA0138.3", "REST",
             0.002, -2, "-"],
            ["never", "pattern_0", "neg", 40, "GGAGCTGTCCATGGTGCTGA", 16, "M6482_1.02",
             CISBP_REST, 0.01, -2, "-"],
        ],
    )  # fmt: skip
    (folder / "patterns.meme").write_text(
        _meme(
            [
                ("motif/pattern_0", "CTCF", np.asarray(ctcf.probs)),
                ("motif/pattern_1", "REST", rest_rc),
                ("never/pattern_0", "REST", rest_rc),
            ]
        )
    )
    filters = r.analysis_dir("filters")
    rows = []
    for f in range(N_FILTERS):
        match = {
            2: ("MA0139.2", "CTCF", 0.001, 1, "-"),
            5: ("M6482_1.02", CISBP_REST, 0.02, 0, "+"),
        }
        m = match.get(f, (None, None, None, None, None))
        rows.append([f, 20 + f, "NNNNNN", round(0.5 + 0.3 * f, 3), 0.1, 0.05, *m,
                     round(0.01 * (N_FILTERS - f), 4), 1e-4 * f])  # fmt: skip
    _tsv(
        filters / "filters.tsv",
        ["filter", "sites", "consensus", "ic", "act_mean", "act_std", "match_id", "match_name",
         "match_q", "match_offset", "match_strand", "influence", "influence_ss"],
        rows,
    )  # fmt: skip
    table = []
    for motif_id, name, t, per_bg in _per_background():
        table.append([motif_id, name, targets[t], round(float(per_bg.mean()), 6),
                      round(float(per_bg.std(ddof=1)), 6), 0.0, N_BACKGROUNDS])  # fmt: skip
    _tsv(
        r.analysis_dir("insertion") / "insertion.tsv",
        ["motif_id", "motif_name", "target", "delta_score", "delta_score_sd", "delta_pred",
         "n_sequences"],
        table,
    )  # fmt: skip
