"""Small run directories for the dashboard tests, written by hand after the run-dir contract.

``make_run(root)`` writes a complete run: a tiny Basset (random weights, seeded) over a
40 bp, 3-target dataset (``tests.test_training.make_dataset``: targets ``motif``, ``gc``,
``never``; ``never`` has no positive in the test split), the manifest, training and test
metrics, and every analysis file of ``/tmp/notes/formats.md``: ``explain/filters/``
(8 filters; filter 2 is annotated ``CTCF`` and has its PWM and its match's),
``explain/insertion/``, ``explain/optimize/<method>/`` (:func:`write_optimize`: methods
``sequence`` and ``demo``) and ``explain/variants/``, written through
:class:`Run`. :func:`write_stored_results` adds per-sequence results in the
:mod:`motiflens.results` convention with known values. Beside the run sit
a ``secret.txt`` and, inside it, a symlink pointing at it, for the path-traversal tests.

``make_bare_run(root)`` is the model alone (``config.yaml`` + ``model.safetensors``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from motiflens.config import RunConfig
from motiflens.models import build_model
from motiflens.results import write_result
from motiflens.runs import Run
from motiflens.sequence.onehot import one_hot
from tests.test_training import make_dataset

LENGTH = 40
TARGETS = ["motif", "gc", "never"]
N_FILTERS = 8
WIDTH = 6
ANNOTATED = 2  # the filter matched to CTCF

TINY_BASSET = {
    "model": {
        "name": "basset",
        "n_targets": 3,
        "length": LENGTH,
        "arch": {
            "filters": [N_FILTERS, 4],
            "sizes": [WIDTH, 3],
            "pools": [2, 2],
            "hidden": [8],
            "batch_norm": True,
        },
    }
}
TINY_RNN = {"model": {"name": "rnn", "n_targets": 3, "length": LENGTH, "arch": {"hidden": 6}}}

SECRET = "top secret, outside the run directory"

# A CTCF-like probability matrix (4 x 5) and the filter's own (4 x 6).
CTCF_PROBS = np.array(
    [
        [0.1, 0.7, 0.1, 0.1, 0.05],
        [0.7, 0.1, 0.1, 0.1, 0.05],
        [0.1, 0.1, 0.7, 0.1, 0.85],
        [0.1, 0.1, 0.1, 0.7, 0.05],
    ]
)
FILTER_PROBS = np.array(
    [
        [0.25, 0.1, 0.8, 0.1, 0.1, 0.25],
        [0.25, 0.1, 0.1, 0.1, 0.1, 0.25],
        [0.25, 0.7, 0.05, 0.7, 0.1, 0.25],
        [0.25, 0.1, 0.05, 0.1, 0.7, 0.25],
    ]
)


def _meme(motifs: list[tuple[str, str, np.ndarray]]) -> str:
    lines = ["MEME version 4", "", "ALPHABET= ACGT", "", "strands: + -", ""]
    lines += ["Background letter frequencies", "A 0.25 C 0.25 G 0.25 T 0.25", ""]
    for motif_id, name, probs in motifs:
        lines.append(f"MOTIF {motif_id} {name}".rstrip())
        lines.append(f"letter-probability matrix: alength= 4 w= {probs.shape[1]} nsites= 20 E= 0")
        lines += [" ".join(f"{v:.6f}" for v in col) for col in probs.T]
        lines.append("")
    return "\n".join(lines)


def _tsv(path: Path, header: list[str], rows: list[list[object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "\t".join(header) + "\n"
    text += "".join("\t".join("" if v is None else str(v) for v in row) + "\n" for row in rows)
    path.write_text(text)


def save_tiny_model(run: Path, config: dict, seed: int = 0) -> None:
    """A model with random weights (seeded) and non-trivial batch-norm statistics."""
    cfg = RunConfig.from_dict(config)
    torch.manual_seed(seed)
    model = build_model(cfg.model)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm1d):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 1.5)
            module.weight.data.uniform_(-1.5, 1.5)  # some negative scales, too
            module.bias.data.uniform_(-0.2, 0.2)
    Run(run).save_model(model.eval(), cfg)


def make_bare_run(root: Path, config: dict | None = None) -> Path:
    """``root/bare``: config.yaml and model.safetensors only."""
    run = root / "bare"
    save_tiny_model(run, config or TINY_BASSET)
    return run


def make_run(root: Path) -> Path:
    """``root/run``: a complete run directory (see the module docstring)."""
    data = make_dataset(root / "data.h5", n=200, length=LENGTH, seed=3)
    run = root / "run"
    save_tiny_model(run, TINY_BASSET)
    r = Run(run)
    r.write_target_labels(TARGETS)
    r.record_step("train", [r.weights_path], dataset=str(data))
    r.record_step("test", [r.metrics_path("test.tsv")], data=str(data), split="test")
    _tsv(
        r.training_table,
        ["epoch", "val_loss", "val_auroc", "val_auprc", "train_loss", "lr", "seconds"],
        [
            [1, 0.6, 0.7, 0.6, 0.65, 0.01, 1.0],
            [2, 0.5, 0.8, 0.7, 0.55, 0.01, 1.0],
            [3, 0.45, 0.85, 0.75, 0.5, 0.01, 1.0],
        ],
    )
    _tsv(
        r.metrics_path("test.tsv"),
        ["target", "n", "positives", "auroc", "auprc"],
        [["motif", 30, 14, 0.91, 0.88], ["gc", 30, 16, 0.62, 0.6], ["never", 30, 0, None, None]],
    )
    r.metrics_path("test_summary.txt").write_text("AUROC: mean 0.7650 over 2 targets\n")

    filters = r.analysis_dir("filters")
    rows = []
    for f in range(N_FILTERS):
        annotated = f == ANNOTATED
        rows.append([
            f, 20 + f, "NGCGTN" if annotated else "NNNNNN", round(0.5 + 0.3 * f, 3), 0.1, 0.05,
            "MA0139.2" if annotated else None, "CTCF" if annotated else None,
            0.001 if annotated else None, 1 if annotated else None,
            "-" if annotated else None, round(0.01 * (N_FILTERS - f), 4), 1e-4 * f,
        ])  # fmt: skip
    _tsv(
        filters / "filters.tsv",
        ["filter", "sites", "consensus", "ic", "act_mean", "act_std", "match_id", "match_name",
         "match_q", "match_offset", "match_strand", "influence", "influence_ss"],
        rows,
    )  # fmt: skip
    (filters / "filters.meme").write_text(
        _meme([(f"filter{ANNOTATED}", "CTCF", FILTER_PROBS), ("filter5", "", FILTER_PROBS[::-1])])
    )
    (filters / "matched.meme").write_text(_meme([("MA0139.2", "CTCF", CTCF_PROBS)]))
    _tsv(
        filters / "matches.tsv",
        ["filter", "target_id", "target_name", "offset", "overlap", "strand", "p_value",
         "e_value", "q_value"],
        [[ANNOTATED, "MA0139.2", "CTCF", 1, 5, "-", 1e-5, 1e-3, 0.001]],
    )  # fmt: skip
    # Two clear groups of filters: {0, 2, 4, 6} push "motif", {1, 3, 5, 7} push "never".
    influence = [[f] + ([1.0 + 0.01 * f, 0.0, 0.0] if f % 2 == 0 else [0.0, 0.0, 2.0 + 0.01 * f])
                 for f in range(N_FILTERS)]  # fmt: skip
    _tsv(filters / "influence_targets.tsv", ["filter", *TARGETS], influence)
    (filters / "ic_influence.png").write_bytes(b"\x89PNG\r\n\x1a\n fixture")

    _tsv(
        r.analysis_dir("insertion") / "insertion.tsv",
        ["motif_id", "motif_name", "target", "delta_score", "delta_pred"],
        [["MA0139.2", "CTCF", t, 0.5 * (i + 1), 0.1] for i, t in enumerate(TARGETS)]
        + [["MA0138.3", "REST", t, -0.2 * (i + 1), -0.05] for i, t in enumerate(TARGETS)],
    )
    write_optimize(r)
    _tsv(
        r.analysis_dir("variants") / "sad.tsv",
        ["chrom", "pos", "id", "ref", "alt", "target", "ref_pred", "alt_pred", "sad",
         "log_odds_diff", "info"],
        [["chr1", 20, "rs1", "A", "G", t, 0.5, 0.5 + d, d, 4 * d, "."]
         for t, d in zip(TARGETS, (0.3, -0.1, 0.0), strict=True)]
        + [["chr1", 30, "rs2", "C", "T", t, 0.4, 0.4 + d, d, 4 * d, "AF=0.1"]
           for t, d in zip(TARGETS, (0.05, -0.6, 0.01), strict=True)],
    )  # fmt: skip

    (root / "secret.txt").write_text(SECRET)
    # a link out of the run, beside the analyses' folders
    (r.analysis_dir("filters").parent / "leak.txt").symlink_to(root / "secret.txt")
    (run / ".hidden.txt").write_text("hidden")
    return run


#: Class optimization as ``motiflens optimize`` writes it (``explain/optimize/<method>/``):
#: method -> rows of ``optimize.tsv`` (columns :data:`OPTIMIZE_COLUMNS`). ``sequence``
#: matched its best ``motif`` window to CTCF; ``demo`` ran without a database.
OPTIMIZE_COLUMNS = [
    "target",
    "start",
    "score",
    "sequence",
    "motif_start",
    "motif_end",
    "motif",
    "match_id",
    "match_name",
    "match_q",
]
_DESIGNED = "A" * 10 + "GCGCTG" + "T" * 24  # its motif window: 0-based 10 to 16
OPTIMIZE_ROWS = {
    "sequence": [
        ["motif", 0, 3.5, _DESIGNED, 10, 16, "GCGCTG", "MA0139.2", "CTCF", 0.004],
        ["motif", 1, 2.9, "C" * 40, 0, 6, "NGCGTN", None, None, None],
        ["gc", 0, 1.2, "G" * 40, 4, 10, "NGCGTN", None, None, None],
        ["gc", 1, 1.1, "GC" * 20, 30, 36, "NGCGTN", None, None, None],
    ],
    "demo": [["motif", 0, 0.38, "T" * 40, 2, 8, "NGCGTN", None, None, None]],
}


def write_optimize(r: Run) -> None:
    """Both methods' folders: table, ``<target>.meme`` (ids ``<target>_<start>``), figures
    and ``designed.fa``, and their manifest steps ``optimize/<method>``."""
    for method, rows in OPTIMIZE_ROWS.items():
        folder = r.analysis_dir("optimize") / method
        _tsv(folder / "optimize.tsv", OPTIMIZE_COLUMNS, rows)
        for target in dict.fromkeys(row[0] for row in rows):
            starts = [row[1] for row in rows if row[0] == target]
            # start 0 is the filter's matrix, start 1 its reverse complement: two logos apart
            motifs = [
                (f"{target}_{i}", target, FILTER_PROBS[::-1, ::-1] if i else FILTER_PROBS)
                for i in starts
            ]
            (folder / f"{target}.meme").write_text(_meme(motifs))
            for png in (f"{target}.png", f"{target}_motif.png"):
                (folder / png).write_bytes(b"\x89PNG\r\n\x1a\n fixture")
        (folder / "designed.fa").write_text("".join(f">{t}_{i}\n{q}\n" for t, i, _, q, *_ in rows))
        db = "jaspar:2024:CORE:vertebrates" if method == "sequence" else None
        starts = 1 + max(row[1] for row in rows)
        r.record_step(f"optimize/{method}", [folder], method=method, steps=50, starts=starts, db=db)


def make_genome(path: Path, length: int = 100, seed: int = 5) -> tuple[Path, str]:
    """A one-chromosome genome FASTA ``chr1`` (60 bases a line) and its sequence."""
    rng = np.random.default_rng(seed)
    seq = "".join(rng.choice(list("ACGT"), length))
    lines = [seq[i : i + 60] for i in range(0, length, 60)]
    path.write_text(">chr1\n" + "\n".join(lines) + "\n")
    return path, seq


# ------------------------------------------------------------------ stored results

#: Sequences and targets of the stored results (two of the run's three targets).
RESULT_NAMES = ["seq_a", "seq_b", "seq_c"]
RESULT_TARGETS = ["motif", "gc"]
_SEQ = "ACGTTGCAAGGCTTACGATCGATCGGATCCATGCAAGTCA"
RESULT_SEQS = [_SEQ[i:] + _SEQ[:i] for i in (0, 7, 13)]  # 40 bp each
#: 0-based positions of the ISM window.
ISM_POSITIONS = np.arange(10, 15)


def write_stored_results(run: Path) -> dict[str, dict[str, np.ndarray]]:
    """ISM, attribution and temporal results of known values for :data:`RESULT_NAMES`.

    Every value is a formula of its indices, so a test can work out what any slice
    must be. Returns ``{kind: {array: values}}`` as written (target axis last).
    """
    r = Run(run)
    n, w, t = len(RESULT_NAMES), len(ISM_POSITIONS), len(RESULT_TARGETS)
    x = one_hot(RESULT_SEQS)
    i_n, i_b, i_w, i_t = np.meshgrid(
        np.arange(n), np.arange(4), np.arange(w), np.arange(t), indexing="ij"
    )
    # delta[s, b, j, k] = s + b/10 + j/100 - k: distinct in every index.
    delta = (i_n + 0.1 * i_b + 0.01 * i_w - i_t).astype(np.float32)
    ism = {
        "delta": delta,
        "reference": np.arange(n * t, dtype=np.float32).reshape(n, t),
        "loss": -delta.min(axis=1),
        "gain": delta.max(axis=1),
    }
    write_result(
        r.result_path("ism", "ism"),
        "ism",
        {
            "delta": (ism["delta"], ("sequence", "base", "position", "target")),
            "reference": (ism["reference"], ("sequence", "target")),
            "loss": (ism["loss"], ("sequence", "position", "target")),
            "gain": (ism["gain"], ("sequence", "position", "target")),
        },
        names=RESULT_NAMES,
        target_labels=RESULT_TARGETS,
        onehot=x,
        positions=ISM_POSITIONS,
        params={"window": w},
    )
    # attributions: the observed base gets (k + 1) * (position + 1) / 10, other bases -0.01.
    pos = np.arange(x.shape[-1])
    scale = np.stack([(k + 1) * (pos + 1) / 10 for k in range(t)], axis=-1)  # (L, T)
    attributions = np.where(x[..., None] > 0.5, scale[None, None], -0.01).astype(np.float32)
    attr = {"attributions": attributions, "convergence_delta": np.zeros((n, t), np.float32)}
    write_result(
        r.result_path("saliency", "attributions"),
        "attribution",
        {
            "attributions": (attributions, ("sequence", "base", "position", "target")),
            "convergence_delta": (attr["convergence_delta"], ("sequence", "target")),
        },
        names=RESULT_NAMES,
        target_labels=RESULT_TARGETS,
        onehot=x,
        params={"method": "gradient_x_input"},
    )
    # temporal: forward rises with the position, backward falls; both scaled by s and k.
    ramp = (pos + 1) / x.shape[-1]
    forward = np.stack(
        [np.stack([ramp * (s + 1) / n * (k + 1) / t for k in range(t)], -1) for s in range(n)]
    ).astype(np.float32)
    backward = forward[:, ::-1].copy()
    write_result(
        r.result_path("temporal", "temporal"),
        "temporal",
        {
            "forward": (forward, ("sequence", "position", "target")),
            "backward": (backward, ("sequence", "position", "target")),
        },
        names=RESULT_NAMES,
        target_labels=RESULT_TARGETS,
        onehot=x,
    )
    return {
        "ism": ism,
        "attribution": attr,
        "temporal": {"forward": forward, "backward": backward},
    }
