"""Class optimization as a run step: for each target the input the model likes most.

Each method writes its own folder, ``explain/optimize/<method>/``, and its own manifest
step, ``optimize/<method>``, so the results of ``sequence`` (the default) and ``demo`` sit
side by side and neither overwrites the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import torch

from motiflens.explain.inputs import TargetSelection, target_names
from motiflens.explain.optimize import optimize_class, write_fasta, write_meme
from motiflens.files import atomic_path, safe_name
from motiflens.motifs.compare import best_matches, tomtom
from motiflens.motifs.databases import load_database
from motiflens.motifs.pwm import Motif, consensus
from motiflens.plots.explain import class_optimization_logo
from motiflens.plots.style import save_figure
from motiflens.runs import Run, as_run, holding_run
from motiflens.steps.explain import clear_outputs
from motiflens.steps.motifs import DEFAULT_DB

__all__ = ["OPTIMIZE_COLUMNS", "OptimizeStepResult", "optimize"]

#: Columns of ``optimize.tsv``.
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


@dataclass(frozen=True)
class OptimizeStepResult:
    """What :func:`optimize` wrote into ``explain/optimize/<method>/``.

    Attributes
    ----------
    folder
        ``explain/optimize/<method>/``: per target ``<target>.meme`` (the motif window of
        every start, best first), ``<target>.png`` (the best start's whole matrix, its
        motif window shaded) and ``<target>_motif.png`` (the window alone); then
        ``designed.fa`` and ``optimize.tsv``.
    table
        ``optimize.tsv``, columns :data:`OPTIMIZE_COLUMNS`: one row per target and start
        (``start`` 0 is the best), the prediction ``score``, the ``sequence``, its motif
        window (0-based ``motif_start``, exclusive ``motif_end``), the window's
        consensus ``motif`` (``N`` below 0.2 bits) and its best database match at
        q <= ``q`` (empty without one, or without a database).
    fasta
        ``designed.fa``: every start's sequence, named ``<target>_<start>``.
    method
        ``"sequence"`` or ``"demo"``.
    scores
        The table as a DataFrame.
    db
        The motif database compared with (``None``: none).
    """

    folder: Path
    table: Path
    fasta: Path
    method: str
    scores: pd.DataFrame
    db: str | None = None

    def summary(self) -> str:
        """One line per target: its best start's score, motif and database match."""
        lines = [f"class optimization ({self.method}) -> {self.folder}"]
        best = self.scores[self.scores["start"] == 0]
        for row in best.itertuples():
            match = (
                f"{row.match_name} ({row.match_id}, q = {row.match_q:.2g})"
                if isinstance(row.match_id, str) and row.match_id
                else ("no match" if self.db else "")
            )
            lines.append(f"  {row.target:<20} score {row.score:.3f}  {row.motif}  {match}".rstrip())
        return "\n".join(lines)


@holding_run
def optimize(
    run: Run | str | Path,
    *,
    targets: TargetSelection = None,
    method: Literal["sequence", "demo"] = "sequence",
    n_steps: int = 1000,
    n: int = 4,
    db: str | Path | None = DEFAULT_DB,
    q: float = 0.1,
    device: str | torch.device | None = None,
    verbose: bool = True,
    random_state: int | None = 1,
) -> OptimizeStepResult:
    """Class optimization: for each target the input the model likes most, and its motif.

    Parameters
    ----------
    run
        A trained run.
    targets, method, n_steps, device, verbose, random_state
        As in :func:`motiflens.explain.optimize.optimize_class`.
    n
        Independent starts per target (``n_sequences``), ranked best first.
    db
        Motif database to name each motif window with (TomTom):
        ``jaspar:<release>[:<collection>[:<tax_group>]]`` or a MEME file; ``None`` to
        skip. Default JASPAR 2024 CORE vertebrates.
    q
        Largest TomTom q-value that counts as a match. Default 0.1 (as the filters step).
    """
    run = as_run(run)
    model = run.model()
    database = load_database(db) if db is not None else None  # a bad spec fails first
    result = optimize_class(
        model,
        targets=targets,
        method=method,
        n_steps=n_steps,
        n_sequences=n,
        device=device,
        verbose=verbose,
        random_state=random_state,
    )
    labels = [target_names(model, model.config.n_targets)[t] for t in result.targets]
    folder = run.analysis_dir("optimize") / safe_name(method)
    folder.mkdir(parents=True, exist_ok=True)
    clear_outputs(folder)
    rows: list[dict[str, Any]] = []
    motifs: list[Motif] = []
    for k, label in enumerate(labels):
        stem = safe_name(label)
        windows = [result.motif(k, i) for i in range(n)]
        write_meme(windows, folder / f"{stem}.meme", [f"{stem}_{i}" for i in range(n)])
        lo, hi = (int(v) for v in result.window[0, :, k])
        logo = class_optimization_logo(result.matrix[0, :, :, k], title=label, highlight=(lo, hi))
        save_figure(logo, folder / f"{stem}.png")
        logo = class_optimization_logo(windows[0], title=label, first_position=lo + 1)
        save_figure(logo, folder / f"{stem}_motif.png")
        for i, window in enumerate(windows):
            motifs.append(Motif(f"{stem}_{i}", label, window))
            rows.append(
                {
                    "target": label,
                    "start": i,
                    "score": float(result.scores[i, k]),
                    "sequence": result.sequences[i][k],
                    "motif_start": int(result.window[i, 0, k]),
                    "motif_end": int(result.window[i, 1, k]),
                    "motif": consensus(window),
                }
            )
    table = pd.DataFrame(rows, columns=OPTIMIZE_COLUMNS)
    if database:
        best = best_matches(tomtom(motifs, database, thresh=q), q=q)
        found = best.set_index("query_index")
        table["match_id"] = table.index.map(found["target_id"])
        table["match_name"] = table.index.map(found["target_name"])
        table["match_q"] = table.index.map(found["q_value"])
    fasta = write_fasta(
        list(table["sequence"]),
        folder / "designed.fa",
        names=[f"{safe_name(t)}_{s}" for t, s in zip(table["target"], table["start"], strict=True)],
    )
    with atomic_path(folder / "optimize.tsv") as tmp:
        table.to_csv(tmp, sep="\t", index=False, float_format="%.6g")
    run.record_step(
        f"optimize/{method}",
        [folder],
        method=method,
        steps=n_steps,
        targets=labels,
        starts=n,
        db=None if db is None else str(db),
    )
    return OptimizeStepResult(
        folder, folder / "optimize.tsv", fasta, method, table, None if db is None else str(db)
    )
