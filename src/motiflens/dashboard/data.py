"""A run directory read into JSON-able structures: what the dashboard and the report show.

Nothing here needs the model, and nothing spells the run directory's layout: every file
is found through :class:`motiflens.runs.Run`. Every view returns plain dicts and lists
(NaN as ``None``) and never raises for a missing or broken analysis: the view says what
is missing and the command that produces it, so a half-finished run directory still
opens. Stored per-sequence results are read by :mod:`motiflens.dashboard.stored`.
"""

from __future__ import annotations

import math
import re
import threading
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd
from scipy.cluster.hierarchy import leaves_list, linkage, optimal_leaf_ordering
from scipy.spatial.distance import pdist

from motiflens.data.hdf5 import dataset_info
from motiflens.errors import InputError
from motiflens.files import safe_name
from motiflens.motifs.databases import jaspar_motif
from motiflens.motifs.meme import read_meme
from motiflens.motifs.pwm import trim
from motiflens.results import is_result_file, read_result_info, read_sequence
from motiflens.runs import Run, as_run
from motiflens.steps.modisco import TRIM_IC

__all__ = [
    "COMMANDS",
    "FILE_SUFFIXES",
    "OPTIMIZE_METHODS",
    "clean_motif_name",
    "cluster_order",
    "filters_view",
    "insertion_table",
    "insertion_view",
    "json_safe",
    "missing",
    "motif_page",
    "motifs_json",
    "optimize_tables",
    "optimize_view",
    "outputs",
    "overview",
    "safe_file",
    "status",
    "variant_ism",
    "variants_in_region",
    "variants_view",
]

#: Each analysis and the command that produces it.
COMMANDS: dict[str, str] = {
    "model": "motiflens train DATASET {run}",
    "training": "motiflens train DATASET {run}",
    "test": "motiflens test {run}",
    "filters": "motiflens filters {run}",
    "insertion": "motiflens insert {run}",
    "modisco": "motiflens modisco {run}",
    "optimize": "motiflens optimize {run}",
    "variants": "motiflens variants {run} VCF --genome FASTA",
}

#: File types the app serves from a run directory (figures and small text files). Model
#: weights, checkpoints and HDF5 arrays are never served.
FILE_SUFFIXES = frozenset({".png", ".svg", ".tsv", ".txt", ".meme", ".fa", ".json", ".yaml"})

#: Rows of a long table sent to the browser at most (the page says when it was cut).
MAX_ROWS = 5000
#: Variants marked on one locus at most (the first the table lists).
MAX_LOCUS_VARIANTS = 2000
#: Regions whose variants :func:`variants_in_region` keeps (the last ones asked for).
REGION_CACHE_SIZE = 8
_REGION_CACHE: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
_REGION_LOCK = threading.Lock()

#: Class-optimization methods in the order the page shows them: the default first. Each
#: writes ``explain/optimize/<method>/`` (:func:`motiflens.steps.optimize.optimize`); a
#: folder of a method not named here comes after these.
OPTIMIZE_METHODS = ("sequence", "demo")
#: The table each class-optimization method writes in its folder.
OPTIMIZE_TABLE = "optimize.tsv"


def outputs(run: Run) -> dict[str, Path]:
    """Each analysis -> the file that shows it has run (the run and analyses own the names).

    Class optimization has one table per method: the first method's that exists (in the
    order of :data:`OPTIMIZE_METHODS`), else the default method's.
    """
    tables = optimize_tables(run)
    return {
        "model": run.weights_path,
        "training": run.training_table,
        "test": run.metrics_path("test.tsv"),
        "filters": _analysis(run, "filters") / "filters.tsv",
        "insertion": _analysis(run, "insertion") / "insertion.tsv",
        "optimize": next(
            iter(tables.values()),
            _analysis(run, "optimize") / OPTIMIZE_METHODS[0] / OPTIMIZE_TABLE,
        ),
        "variants": _analysis(run, "variants") / "sad.tsv",
    }


def _analysis(run: Run, name: str) -> Path:
    return run.analysis_dir(name, create=False)


def optimize_tables(run: Run | str | Path) -> dict[str, Path]:
    """Method -> ``explain/optimize/<method>/optimize.tsv`` of each class-optimization
    method that has run, in the order of :data:`OPTIMIZE_METHODS` (others after, by name)."""
    root = _analysis(as_run(run), "optimize")
    if not root.is_dir():
        return {}
    found = {p.parent.name: p for p in root.glob(f"*/{OPTIMIZE_TABLE}") if p.is_file()}
    known = [m for m in OPTIMIZE_METHODS if m in found]
    return {m: found[m] for m in known + sorted(set(found) - set(known))}


# ----------------------------------------------------------------------------- helpers


def json_safe(value: Any) -> Any:
    """``value`` with NumPy scalars and arrays made plain and NaN/inf turned into ``None``."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def _command(name: str, run: Run) -> str:
    return COMMANDS[name].format(run=run.path)


def missing(run: Run | str | Path, name: str, detail: str | None = None) -> dict[str, Any]:
    """The view of an analysis that has not run: a message and the command that runs it."""
    run = as_run(run)
    path = run.relative(outputs(run)[name])
    return {
        "missing": True,
        "message": detail or f"not run yet ({path} not found)",
        "command": _command(name, run),
    }


def _broken(path: Path, err: Exception) -> dict[str, Any]:
    return {"missing": True, "message": f"cannot read {path.name}: {err}", "command": None}


def status(run: Run | str | Path) -> dict[str, dict[str, Any]]:
    """For each analysis: whether its output exists, and the command that produces it."""
    run = as_run(run)
    return {
        name: {"present": path.is_file(), "command": _command(name, run)}
        for name, path in outputs(run).items()
    }


def _read_tsv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path, sep="\t")
    except (OSError, ValueError, pd.errors.ParserError) as err:
        raise InputError(f"cannot read the table: {err}", path=path) from None


def _records(df: pd.DataFrame, limit: int | None = None) -> list[dict[str, Any]]:
    if limit is not None:
        df = df.head(limit)
    return json_safe(df.astype(object).where(df.notna(), None).to_dict(orient="records"))


def _figures(run: Run, folder: Path, pattern: str = "*.png") -> list[str]:
    """Paths (relative to the run) of the figures in ``folder``, sorted."""
    if not folder.is_dir():
        return []
    return sorted(run.relative(p) for p in folder.glob(pattern) if p.is_file())


# ----------------------------------------------------------------------------- motifs


def motifs_json(path: str | Path) -> list[dict[str, Any]]:
    """Motifs of a MEME file (:func:`motiflens.motifs.meme.read_meme`) as
    ``[{"id", "name", "probs": 4 lists of w}]`` (A, C, G, T)."""
    motifs, _ = read_meme(path)
    return [
        {
            "id": str(m.id),
            "name": str(m.name or m.id),
            "probs": np.asarray(m.probs, dtype=float).round(4).tolist(),
        }
        for m in motifs
    ]


#: Database cruft after a CIS-BP name: ``(TFAP2E)_(Mus_musculus)_(DBD_0.99)`` (and the
#: same cut short, ``..._(DB``).
_TRAILING_GROUPS = re.compile(r"(?:_\([^()]*\)?)+$")


def clean_motif_name(name: Any) -> str:
    """A motif name without database cruft, for labels.

    CIS-BP names inferred from another species carry it, e.g.
    ``(TFAP2E)_(Mus_musculus)_(DBD_0.99)`` -> ``TFAP2E``; names without it (JASPAR's
    ``GATA1::TAL1``) come back unchanged. ``None`` or NaN gives ``""``.
    """
    if not isinstance(name, str):
        return ""
    text = name.strip()
    cut = _TRAILING_GROUPS.sub("", text)
    if cut != text and cut.startswith("(") and cut.endswith(")"):
        cut = cut[1:-1]
    return cut.strip() or text


def cluster_order(matrix: np.ndarray) -> tuple[list[int], list[int]]:
    """Row and column orders that put similar rows (columns) together.

    Average-linkage hierarchical clustering (:func:`scipy.cluster.hierarchy.linkage`,
    Euclidean distance) with the optimal leaf ordering, on rows and on columns; NaN
    counts as 0. With fewer than three rows (columns) the order is unchanged.
    """
    m = np.nan_to_num(np.asarray(matrix, dtype=float))

    def order(a: np.ndarray) -> list[int]:
        if a.shape[0] < 3:
            return list(range(a.shape[0]))
        dist = pdist(a)
        tree = linkage(dist, method="average")
        return [int(i) for i in leaves_list(optimal_leaf_ordering(tree, dist))]

    return order(m), order(m.T)


# ----------------------------------------------------------------------------- views


def overview(run: Run | str | Path) -> dict[str, Any]:
    """Dataset, model config, training curves, per-target test metrics and the manifest."""
    run = as_run(run)
    out: dict[str, Any] = {"run_dir": str(run.path), "name": run.path.resolve().name}
    try:
        steps = run.steps()
    except InputError as err:
        steps, out["manifest_error"] = {}, str(err)
    out["steps"] = [
        {"step": k, "command": v.get("command"), "time": v.get("time")} for k, v in steps.items()
    ]
    out["config"] = None
    out["targets"] = []
    try:
        config = run.config()
    except InputError as err:
        out["config_error"] = f"{err}: this is not a trained run directory"
    else:
        out["config"] = config.to_dict()
        try:
            out["targets"] = run.target_labels(config.model.n_targets)
        except InputError as err:
            out["targets"] = [f"target_{i}" for i in range(config.model.n_targets or 0)]
            out["config_error"] = str(err)
    data = run.dataset_or_none()
    out["dataset"] = _dataset_summary(data) if data else None
    out["training"] = _training(run)
    out["test"] = _test(run)
    out["status"] = status(run)
    return json_safe(out)


def _dataset_summary(path: Path) -> dict[str, Any]:
    try:
        info = dataset_info(path)
    except (InputError, OSError, KeyError) as err:
        return {"path": str(path), "error": str(err)}
    splits = {k: {"n": v["n"]} for k, v in info["splits"].items()}
    for k, v in info["splits"].items():
        rate = v.get("positive_rate")
        if rate is not None:
            splits[k]["positive_rate_mean"] = float(np.mean(rate)) if rate else None
    return {
        "path": str(path),
        "length": info.get("length"),
        "targets": len(info.get("targets", [])),
        "splits": splits,
        "attrs": {
            k: v for k, v in info.get("attrs", {}).items() if isinstance(v, str | int | float)
        },
    }


def _training(run: Run) -> dict[str, Any]:
    path = run.training_table
    if not path.is_file():
        return missing(run, "training")
    try:
        df = _read_tsv(path)
    except InputError as err:
        return _broken(path, err)
    return {"missing": False, "columns": {c: json_safe(df[c].tolist()) for c in df.columns}}


def _test(run: Run) -> dict[str, Any]:
    path = outputs(run)["test"]
    if not path.is_file():
        return missing(run, "test")
    try:
        df = _read_tsv(path)
    except InputError as err:
        return _broken(path, err)
    summary = run.metrics_path("test_summary.txt")
    return {
        "missing": False,
        "columns": list(df.columns),
        "rows": _records(df),
        "summary": summary.read_text(encoding="utf-8").strip() if summary.is_file() else None,
        "baseline": _baseline(df),
        "figures": _figures(run, run.metrics_dir),
    }


def _baseline(df: pd.DataFrame) -> dict[str, Any] | None:
    """The model against the k-mer baseline (``baseline_auroc`` columns of the test table),
    over the targets where both are defined; ``None`` when the table has no baseline."""
    if not {"auroc", "baseline_auroc"} <= set(df.columns):
        return None
    numbers = df.apply(pd.to_numeric, errors="coerce")
    both = numbers["auroc"].notna() & numbers["baseline_auroc"].notna()
    out: dict[str, Any] = {"n": int(both.sum())}
    for key in ("auroc", "auprc"):
        if {key, f"baseline_{key}"} <= set(df.columns):
            out[f"model_{key}_mean"] = float(numbers.loc[both, key].mean())
            out[f"baseline_{key}_mean"] = float(numbers.loc[both, f"baseline_{key}"].mean())
    better = numbers.loc[both, "auroc"] > numbers.loc[both, "baseline_auroc"]
    out["model_better"] = int(better.sum())
    out["baseline_not_beaten"] = [str(t) for t in df.loc[both, "target"][~better]]
    return out


def filters_view(run: Run | str | Path) -> dict[str, Any]:
    """The filters table, their PWMs and their matches' PWMs, and the clustered influence.

    Returns ``{"missing": True, ...}`` when ``motiflens filters`` has not run.
    """
    run = as_run(run)
    folder = _analysis(run, "filters")
    table_path = outputs(run)["filters"]
    if not table_path.is_file():
        return missing(run, "filters")
    out: dict[str, Any] = {"missing": False, "warnings": []}
    try:
        out["rows"] = _records(_read_tsv(table_path))
    except InputError as err:
        return _broken(table_path, err)
    out["columns"] = list(out["rows"][0]) if out["rows"] else []
    out["pwms"] = {}
    out["matched"] = {}
    for key, name in (("pwms", "filters.meme"), ("matched", "matched.meme")):
        path = folder / name
        if path.is_file():
            try:
                out[key] = {m["id"]: m for m in motifs_json(path)}
            except (InputError, OSError, ValueError) as err:
                out["warnings"].append(f"cannot read {name}: {err}")
    out["matches"] = {}
    path = folder / "matches.tsv"
    if path.is_file():
        try:
            for row in _records(_read_tsv(path)):
                out["matches"].setdefault(str(row.get("filter")), []).append(row)
        except InputError as err:
            out["warnings"].append(str(err))
    out["influence"] = None
    path = folder / "influence_targets.tsv"
    if path.is_file():
        try:
            out["influence"] = _clustered_matrix(_read_tsv(path).set_index("filter"))
        except (InputError, KeyError) as err:
            out["warnings"].append(f"cannot read influence_targets.tsv: {err}")
    path = folder / "recovery.tsv"
    if path.is_file():
        try:
            out["recovery"] = _records(_read_tsv(path))
        except InputError as err:
            out["warnings"].append(str(err))
    out["figures"] = _figures(run, folder)
    return json_safe(out)


def _clustered_matrix(df: pd.DataFrame) -> dict[str, Any]:
    """A numeric table as a heat map: values, row and column labels in clustered order."""
    values = df.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    rows, cols = cluster_order(values)
    return {
        "rows": [str(df.index[i]) for i in rows],
        "cols": [str(df.columns[j]) for j in cols],
        "values": json_safe(values[np.ix_(rows, cols)].round(5)),
    }


#: Motifs per target the insertion table lists, and per target in the heat map (the union).
INSERTION_TOP = 10
INSERTION_HEATMAP_TOP = 20
#: The heat map's colour scale ends at this percentile of |mean change|, so one strong
#: row does not wash out the rest.
COLOUR_PERCENTILE = 98


def _insertion_table(path: Path) -> pd.DataFrame:
    """``insertion.tsv`` with a clean display name (``motif``: id and name) per row."""
    df = _read_tsv(path)
    name = df["motif_name"].fillna("").astype(str).map(clean_motif_name)
    df["motif_name"] = name
    # One row per motif id: JASPAR has several matrices per TF name (CTCF has three),
    # which a pivot on the name would average together.
    df["motif"] = (df["motif_id"].astype(str) + " " + name).str.strip()
    df["delta_score"] = pd.to_numeric(df["delta_score"], errors="coerce")
    return df


def insertion_table(df: pd.DataFrame, top: int = INSERTION_TOP) -> pd.DataFrame:
    """The ``top`` motifs of each target by |mean change| (largest first), targets in the
    table's order.

    Parameters
    ----------
    df
        ``insertion.tsv`` (:func:`motiflens.explain.insertion.insert_motifs`), with a
        ``motif`` display column.
    top
        Motifs per target.

    Returns
    -------
    pandas.DataFrame
        ``target, rank, motif, motif_id, motif_name, delta_score, sd, n`` where ``sd`` is
        the standard deviation of the change over the backgrounds (``delta_score_sd``;
        NaN for tables written before it was stored) and ``n`` the backgrounds.
    """
    out = df.assign(
        sd=pd.to_numeric(df["delta_score_sd"], errors="coerce")
        if "delta_score_sd" in df
        else np.nan,
        n=df["n_sequences"] if "n_sequences" in df else np.nan,
        _abs=df["delta_score"].abs(),
        _order=np.arange(len(df)),
    )
    targets = list(dict.fromkeys(out["target"].astype(str)))
    out["target"] = out["target"].astype(str)
    out = out.sort_values(["_abs", "_order"], ascending=[False, True], kind="stable")
    out = out.groupby("target", sort=False).head(top)
    out["_t"] = out["target"].map({t: i for i, t in enumerate(targets)})
    out = out.sort_values(["_t", "_abs", "_order"], ascending=[True, False, True], kind="stable")
    out["rank"] = out.groupby("target").cumcount() + 1
    cols = ["target", "rank", "motif", "motif_id", "motif_name", "delta_score", "sd", "n"]
    return out[cols].reset_index(drop=True)


def insertion_view(
    run: Run | str | Path, top: int = INSERTION_TOP, heatmap_top: int = INSERTION_HEATMAP_TOP
) -> dict[str, Any]:
    """Motif insertion: a table of the ``top`` motifs per target (mean change, its SD over
    backgrounds, backgrounds) and a heat map of the union of each target's ``heatmap_top``
    motifs x targets, clustered, with a symmetric colour limit ``zmax`` (the
    :data:`COLOUR_PERCENTILE` percentile of |mean change| over the shown cells)."""
    run = as_run(run)
    path = outputs(run)["insertion"]
    if not path.is_file():
        return missing(run, "insertion")
    try:
        df = _insertion_table(path)
        wide = df.pivot_table(index="motif", columns="target", values="delta_score")
        table = insertion_table(df, top)
        shown = list(dict.fromkeys(insertion_table(df, heatmap_top)["motif"]))
        heatmap = _clustered_matrix(wide.loc[shown])
    except (InputError, KeyError, ValueError) as err:
        return _broken(path, err)
    cells = np.abs(np.asarray(heatmap["values"], dtype=float))
    cells = cells[np.isfinite(cells)]
    heatmap["zmax"] = float(np.percentile(cells, COLOUR_PERCENTILE)) if cells.size else None
    return json_safe(
        {
            "missing": False,
            "top": top,
            "heatmap_top": heatmap_top,
            "n_motifs": int(df["motif"].nunique()),
            "table": _records(table),
            "heatmap": heatmap,
            "rows": _records(df.drop(columns=["motif"]), MAX_ROWS),
            "n_rows": len(df),
            "figures": _figures(run, path.parent),
        }
    )


# ----------------------------------------------------------------------------- motif page


def _key(name: Any) -> str:
    """A motif name compared across databases: clean, upper case."""
    return clean_motif_name(name).upper() if isinstance(name, str) else ""


def motif_page(run: Run | str | Path) -> dict[str, Any]:
    """One page per target joining the three ways of finding its motifs.

    For each target, each TF-MoDISco pattern (``explain/modisco/patterns.tsv`` and
    ``patterns.meme``: seqlets, consensus, the TomTom match with its offset, strand and
    q-value), the first-layer filters whose best match is the same motif (same
    ``match_id``, or the same cleaned TF name) with their influence on that target
    (``explain/filters/influence_targets.tsv``), and that motif's insertion effect on the
    target (``explain/insertion/insertion.tsv``: mean change, its SD over backgrounds).

    Returns
    -------
    dict
        ``{"missing": False, "targets": [{"target", "patterns": [...]}], "pwms": {id:
        motif}, "filters": view-or-missing, "insertion": view-or-missing, "warnings"}``
        where each pattern holds its ``patterns.tsv`` row plus ``id`` (``<target>/
        <pattern>``, its key in ``pwms``), ``logo`` (a PNG in the run, if any),
        ``match_key`` (the match's key in ``pwms``, if its PWM is stored),
        ``trim_start`` (the stored PWM's column where the match's ``offset`` counts
        from: TomTom compared the pattern with its low-information ends trimmed), ``filters``
        (``[{filter, match_id, match_name, q, influence}]``, largest influence first) and
        ``insertion`` (``[{motif_id, motif_name, delta_score, sd, n}]``). ``{"missing":
        True, ...}`` (with the command ``motiflens modisco``) when no patterns table
        exists.
    """
    run = as_run(run)
    folder = _analysis(run, "modisco")
    table = folder / "patterns.tsv"
    if not table.is_file():
        return {
            "missing": True,
            "message": f"not run yet ({run.relative(table)} not found)",
            "command": _command("modisco", run),
        }
    try:
        patterns = _read_tsv(table)
    except InputError as err:
        return _broken(table, err)
    out: dict[str, Any] = {"missing": False, "warnings": [], "pwms": {}}
    for path in (
        folder / "patterns.meme",
        folder / "matched.meme",
        _analysis(run, "filters") / "matched.meme",
    ):
        if path.is_file():
            try:
                for m in motifs_json(path):
                    out["pwms"].setdefault(m["id"], m)
            except (InputError, OSError, ValueError) as err:
                out["warnings"].append(f"cannot read {path.name}: {err}")
    filters, influence = _filter_tables(run, out["warnings"])
    effects = _insertion_effects(run, out["warnings"])
    out["filters"] = {"missing": False} if filters is not None else missing(run, "filters")
    out["insertion"] = {"missing": False} if effects is not None else missing(run, "insertion")
    by_target: dict[str, list[dict[str, Any]]] = {}
    for row in _records(patterns):
        target = str(row.get("target"))
        pattern = str(row.get("pattern"))
        row["id"] = f"{target}/{pattern}"
        row["match_name"] = clean_motif_name(row.get("match_name") or "") or None
        match_id = row.get("match_id")
        if match_id and match_id not in out["pwms"]:
            _add_jaspar(out["pwms"], str(match_id))
        row["match_key"] = match_id if match_id in out["pwms"] else None
        row["trim_start"] = _trim_start(out["pwms"].get(row["id"]))
        logo = folder / "logos" / f"{safe_name(target)}__{safe_name(pattern)}.png"
        row["logo"] = run.relative(logo) if logo.is_file() else None
        row["filters"] = _same_motif_filters(filters, influence, row, target)
        row["insertion"] = _same_motif_insertion(effects, row, target)
        by_target.setdefault(target, []).append(row)
    out["targets"] = [{"target": t, "patterns": p} for t, p in by_target.items()]
    return json_safe(out)


def _trim_start(pwm: dict[str, Any] | None) -> int:
    """Where the part of a pattern that TomTom compared starts in its stored PWM.

    The modisco step matches each pattern with its low-information ends trimmed
    (:data:`motiflens.steps.modisco.TRIM_IC`) but stores it whole, so the match's
    ``offset`` counts from this column.
    """
    if pwm is None:
        return 0
    start, end = trim(np.asarray(pwm["probs"], dtype=float), min_ic=TRIM_IC)
    return start if end > start else 0


def _add_jaspar(pwms: dict[str, Any], match_id: str) -> None:
    """The PWM of a JASPAR match (``MA0139.2``) from pyjaspar's bundled database, offline;
    nothing for an id JASPAR does not know (a CIS-BP or HOCOMOCO match)."""
    if not re.fullmatch(r"MA\d{4}\.\d+", match_id):
        return
    try:
        m = jaspar_motif(match_id)
    except (InputError, ValueError, OSError):
        return
    pwms[match_id] = {
        "id": match_id,
        "name": m.name,
        "probs": np.asarray(m.probs, dtype=float).round(4).tolist(),
    }


def _filter_tables(
    run: Run, warnings: list[str]
) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """``filters.tsv`` and ``influence_targets.tsv`` (filters as index), or ``None``."""
    folder = _analysis(run, "filters")
    try:
        filters = _read_tsv(folder / "filters.tsv") if (folder / "filters.tsv").is_file() else None
    except InputError as err:
        warnings.append(str(err))
        filters = None
    influence = None
    path = folder / "influence_targets.tsv"
    if path.is_file():
        try:
            influence = _read_tsv(path).set_index("filter")
        except (InputError, KeyError) as err:
            warnings.append(f"cannot read influence_targets.tsv: {err}")
    return filters, influence


def _insertion_effects(run: Run, warnings: list[str]) -> pd.DataFrame | None:
    path = outputs(run)["insertion"]
    if not path.is_file():
        return None
    try:
        return _insertion_table(path)
    except (InputError, KeyError, ValueError) as err:
        warnings.append(f"cannot read insertion.tsv: {err}")
        return None


def _same_motif(ids: pd.Series, names: pd.Series, pattern: dict[str, Any]) -> pd.Series:
    """Rows whose motif is the pattern's match: same id, or same cleaned TF name."""
    match_id, name = pattern.get("match_id"), _key(pattern.get("match_name"))
    if not match_id and not name:
        return pd.Series(False, index=ids.index)
    same = ids.astype(str) == str(match_id)
    if name:
        same |= names.map(_key) == name
    return same


def _same_motif_filters(
    filters: pd.DataFrame | None,
    influence: pd.DataFrame | None,
    pattern: dict[str, Any],
    target: str,
) -> list[dict[str, Any]]:
    if filters is None or not {"match_id", "match_name"} <= set(filters.columns):
        return []
    rows = filters[_same_motif(filters["match_id"], filters["match_name"], pattern)]
    found = []
    for r in rows.itertuples(index=False):
        f = int(r.filter)
        value = None
        if influence is not None and target in influence.columns and f in influence.index:
            value = float(pd.to_numeric(influence.loc[f, target], errors="coerce"))
        found.append(
            {
                "filter": f,
                "match_id": r.match_id,
                "match_name": clean_motif_name(r.match_name),
                "q": getattr(r, "match_q", None),
                "influence": value,
            }
        )
    found.sort(key=lambda x: -abs(x["influence"]) if x["influence"] is not None else math.inf)
    return found


def _same_motif_insertion(
    effects: pd.DataFrame | None, pattern: dict[str, Any], target: str
) -> list[dict[str, Any]]:
    if effects is None:
        return []
    rows = effects[effects["target"].astype(str) == target]
    rows = rows[_same_motif(rows["motif_id"], rows["motif_name"], pattern)]
    sd = rows["delta_score_sd"] if "delta_score_sd" in rows else pd.Series(np.nan, rows.index)
    n = rows["n_sequences"] if "n_sequences" in rows else pd.Series(np.nan, rows.index)
    found = [
        {"motif_id": i, "motif_name": m, "delta_score": d, "sd": s, "n": k}
        for i, m, d, s, k in zip(
            rows["motif_id"], rows["motif_name"], rows["delta_score"], sd, n, strict=True
        )
    ]
    # the exact match first, then the others of the same TF name
    found.sort(key=lambda x: x["motif_id"] != pattern.get("match_id"))
    return found


def optimize_view(run: Run | str | Path) -> dict[str, Any]:
    """Class optimization, one entry per method that has run (the default first).

    Returns ``{"missing": False, "methods": [...]}``; each method holds its table's
    ``columns`` and ``rows`` (every target and start: the score, the designed sequence,
    its motif window, consensus and best database match), each row's ``logo`` (the id in
    ``pwms`` of its motif window, or ``None``), ``pwms`` (every motif window of the
    method's ``<target>.meme`` files, by id ``<target>_<start>``), what the manifest's
    ``optimize/<method>`` step records (``params``), its ``figures`` and other ``files``.
    ``{"missing": True, ...}`` when no method has run.
    """
    run = as_run(run)
    tables = optimize_tables(run)
    if not tables:
        return missing(run, "optimize")
    try:
        steps = run.steps()
    except InputError:
        steps = {}
    methods = [
        _optimize_method(run, method, path, steps.get(f"optimize/{method}") or {})
        for method, path in tables.items()
    ]
    return json_safe({"missing": False, "methods": methods})


def _optimize_method(run: Run, method: str, table: Path, step: dict[str, Any]) -> dict[str, Any]:
    """One class-optimization method's folder (see :func:`optimize_view`)."""
    folder = table.parent
    params = {k: step.get(k) for k in ("time", "steps", "starts", "db") if k in step}
    out: dict[str, Any] = {"method": method, "folder": run.relative(folder), "params": params}
    try:
        df = _read_tsv(table)
    except InputError as err:
        return out | _broken(table, err)
    out["warnings"] = []
    pwms: dict[str, Any] = {}
    for meme in sorted(folder.glob("*.meme")):
        try:
            pwms.update({m["id"]: m for m in motifs_json(meme)})
        except (InputError, OSError, ValueError) as err:
            out["warnings"].append(f"cannot read {meme.name}: {err}")
    rows = _records(df, MAX_ROWS)
    for row in rows:
        # The step names each start's motif window <target>_<start> in <target>.meme.
        key = f"{safe_name(str(row.get('target')))}_{row.get('start')}"
        row["logo"] = key if key in pwms else None
    # the table, the motif files and designed.fa, for download
    others = [f for pattern in ("*.tsv", "*.meme", "*.fa") for f in _figures(run, folder, pattern)]
    out.update(
        missing=False,
        columns=list(df.columns),
        rows=rows,
        n_rows=len(df),
        pwms=pwms,
        figures=_figures(run, folder),
        files=sorted(others),
    )
    return out


def variants_view(run: Run | str | Path) -> dict[str, Any]:
    """Variant effects: SAD per variant and target (largest |SAD| first)."""
    run = as_run(run)
    path = outputs(run)["variants"]
    if not path.is_file():
        return missing(run, "variants")
    try:
        df, n_rows = _top_sad(path, MAX_ROWS)
    except (InputError, KeyError) as err:
        return _broken(path, err)
    return json_safe(
        {
            "missing": False,
            "rows": _records(df, MAX_ROWS),
            "n_rows": n_rows,
            "ism": [name for _, names, _ in _variant_isms(run) for name in names],
            "figures": _figures(run, path.parent),
        }
    )


def variants_in_region(
    run: Run | str | Path,
    chrom: str,
    start: int,
    end: int,
    targets: list[str] | None = None,
    chunk: int = 200_000,
) -> list[dict[str, Any]]:
    """The scored variants (``sad.tsv``) inside ``chrom:start-end`` (0-based half-open;
    a variant's ``pos`` is 1-based, as in the VCF), in position order, at most
    :data:`MAX_LOCUS_VARIANTS` (the first the table lists).

    Each is ``{chrom, pos, id, ref, alt, sad: {target: SAD}}`` with the SAD of each of
    ``targets`` (default: every target) the table has for it. No table, or one that
    cannot be read, gives no variants: the marks are an extra, never an error.

    The table is read once per region (about 1 s a million rows); the variants of the
    last few regions are kept, so the windows clicked inside a locus read nothing.
    """
    path = outputs(as_run(run))["variants"]
    try:
        stat = path.stat()
    except OSError:
        return []
    stamp = (str(path), stat.st_mtime_ns, stat.st_size, chrom)
    with _REGION_LOCK:
        cached = next(
            (v for (k, a, b), v in _REGION_CACHE.items() if k == stamp and a <= start and end <= b),
            None,
        )
    if cached is None:
        cached = _read_region(path, chrom, start, end, chunk)
        if cached is None:
            return []
        if len(cached) < MAX_LOCUS_VARIANTS:  # a cut list does not answer sub-regions
            with _REGION_LOCK:
                _REGION_CACHE[(stamp, start, end)] = cached
                while len(_REGION_CACHE) > REGION_CACHE_SIZE:
                    _REGION_CACHE.pop(next(iter(_REGION_CACHE)))
    out = []
    for v in cached:
        if start < v["pos"] <= end:
            sad = {t: x for t, x in v["sad"].items() if targets is None or t in targets}
            if sad:
                out.append({**v, "sad": sad})
    return out


def _read_region(
    path: Path, chrom: str, start: int, end: int, chunk: int
) -> list[dict[str, Any]] | None:
    """Every variant of ``sad.tsv`` in the region with the SAD of every target, or ``None``
    when the table cannot be read."""
    found: dict[tuple[Any, ...], dict[str, Any]] = {}
    columns = ["chrom", "pos", "id", "ref", "alt", "target", "sad"]
    try:
        reader = pd.read_csv(path, sep="\t", chunksize=chunk, usecols=columns, dtype={"chrom": str})
        for part in reader:
            pos = pd.to_numeric(part["pos"], errors="coerce")
            keep = (part["chrom"] == chrom) & (pos > start) & (pos <= end)
            for row in part[keep].itertuples(index=False):
                key = (int(row.pos), str(row.id), str(row.ref), str(row.alt))
                if key not in found:
                    if len(found) >= MAX_LOCUS_VARIANTS:
                        continue
                    found[key] = {
                        "chrom": chrom,
                        "pos": key[0],
                        "id": key[1],
                        "ref": key[2],
                        "alt": key[3],
                        "sad": {},
                    }
                found[key]["sad"][str(row.target)] = row.sad
    except (OSError, ValueError, KeyError, AttributeError, pd.errors.ParserError):
        return None
    return json_safe(sorted(found.values(), key=lambda v: (v["pos"], v["id"])))


def _top_sad(path: Path, n: int, chunk: int = 200_000) -> tuple[pd.DataFrame, int]:
    """The ``n`` rows of ``sad.tsv`` with the largest |SAD| (file order among ties), and the
    number of rows, read in chunks: the scorer streams millions of variants x targets."""
    best: pd.DataFrame | None = None
    total = 0
    try:
        for part in pd.read_csv(path, sep="\t", chunksize=chunk):
            part = part.assign(_order=np.arange(total, total + len(part)))
            total += len(part)
            best = part if best is None else pd.concat([best, part])
            keep = np.lexsort((best["_order"].to_numpy(), -best["sad"].abs().to_numpy()))[:n]
            best = best.iloc[keep]
    except (OSError, ValueError, pd.errors.ParserError) as err:
        raise InputError(f"cannot read the table: {err}", path=path) from None
    if best is None:
        return pd.DataFrame(), 0
    return best.drop(columns="_order"), total


def _variant_isms(run: Run) -> list[tuple[Path, list[str], list[str]]]:
    """``(file, sequence names, target names)`` of each stored variant ISM.

    ``motiflens variants --ism`` writes them under the variants analysis with
    :func:`motiflens.explain.ism.write_ism`, whose ``names``, ``target_labels``,
    ``delta (N, 4, W, T)`` and ``positions`` are those of :mod:`motiflens.results`; files
    in that convention are read through it.
    """
    folder = _analysis(run, "variants") / "ism"
    found = []
    for path in sorted(folder.glob("*.h5")) if folder.is_dir() else []:
        try:
            if is_result_file(path):
                info = read_result_info(path)
                found.append((path, info.names, info.target_labels))
                continue
            with h5py.File(path, "r") as h5:
                names = [_str(v) for v in h5["names"][:]]
                labels = [_str(v) for v in h5["target_labels"][:]]
            found.append((path, names, labels))
        except (OSError, KeyError, InputError):
            continue
    return found


def _str(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def variant_ism(run: Run | str | Path, name: str, target: str) -> dict[str, Any] | None:
    """The stored ISM around a variant (``motiflens variants --ism``), one sequence and target.

    Returns ``None`` when no stored ISM has that sequence name and target.
    """
    for path, names, labels in _variant_isms(as_run(run)):
        if name not in names or target not in labels:
            continue
        i, k = names.index(name), labels.index(target)
        try:
            if is_result_file(path):
                arrays = read_sequence(path, i, target=k)
                delta, positions = arrays["delta"], arrays["positions"]
            else:
                with h5py.File(path, "r") as h5:
                    delta, positions = h5["delta"][i, :, :, k], h5["positions"][:]
        except (OSError, KeyError, IndexError):
            continue
        return json_safe(
            {
                "name": name,
                "target": target,
                "positions": positions,
                "delta": delta.round(5),
                "loss": (-delta.min(axis=0)).round(5),
                "gain": delta.max(axis=0).round(5),
            }
        )
    return None


def safe_file(run: Run | str | Path, relative: str) -> Path | None:
    """A servable file inside the run directory by its relative path, else ``None``.

    :meth:`Run.file` refuses anything outside the directory (``..``, absolute paths,
    links out); on top of it hidden files and any file type outside
    :data:`FILE_SUFFIXES` are refused.
    """
    if not relative or relative.startswith(("/", "\\")) or Path(relative).is_absolute():
        return None
    if any(p.startswith(".") for p in Path(relative).parts):
        return None
    path = as_run(run).file(relative)
    if path is None or path.suffix.lower() not in FILE_SUFFIXES:
        return None
    return path
