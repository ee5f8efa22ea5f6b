"""A run directory read into JSON-able structures: what the dashboard and the report show.

Nothing here needs the model. Every view returns plain dicts and lists (NaN as ``None``)
and never raises for a missing or broken analysis: the view says what is missing and the
command that produces it, so a half-finished run directory still opens.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from motiflens.errors import InputError
from motiflens.runs import Run

__all__ = [
    "ANALYSES",
    "FILE_SUFFIXES",
    "cluster_order",
    "dataset_path",
    "filters_view",
    "insertion_view",
    "json_safe",
    "missing",
    "optimize_view",
    "overview",
    "read_meme_file",
    "safe_file",
    "status",
    "variants_view",
]

#: Each analysis: the file that shows it has run, and the command that runs it.
ANALYSES: dict[str, tuple[str, str]] = {
    "model": ("model.safetensors", "motiflens train DATASET {run}"),
    "training": ("metrics/training.tsv", "motiflens train DATASET {run}"),
    "test": ("metrics/test.tsv", "motiflens test {run}"),
    "filters": ("explain/filters/filters.tsv", "motiflens filters {run}"),
    "insertion": ("explain/insertion/insertion.tsv", "motiflens insert {run}"),
    "optimize": ("explain/optimize/optimize.tsv", "motiflens optimize {run}"),
    "variants": ("explain/variants/sad.tsv", "motiflens variants {run} VCF --genome FASTA"),
}

#: File types the app serves from a run directory (figures and small text files). Model
#: weights, checkpoints and HDF5 arrays are never served.
FILE_SUFFIXES = frozenset({".png", ".svg", ".tsv", ".txt", ".meme", ".fa", ".json", ".yaml"})

#: Rows of a long table sent to the browser at most (the page says when it was cut).
MAX_ROWS = 5000


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


def _command(name: str, run_dir: Path) -> str:
    return ANALYSES[name][1].format(run=run_dir)


def missing(run_dir: str | Path, name: str, detail: str | None = None) -> dict[str, Any]:
    """The view of an analysis that has not run: a message and the command that runs it."""
    run_dir = Path(run_dir)
    path = ANALYSES[name][0]
    return {
        "missing": True,
        "message": detail or f"not run yet ({path} not found)",
        "command": _command(name, run_dir),
    }


def _broken(path: Path, err: Exception) -> dict[str, Any]:
    return {"missing": True, "message": f"cannot read {path.name}: {err}", "command": None}


def status(run_dir: str | Path) -> dict[str, dict[str, Any]]:
    """For each analysis: whether its output exists, and the command that produces it."""
    run_dir = Path(run_dir)
    return {
        name: {"present": (run_dir / path).is_file(), "command": _command(name, run_dir)}
        for name, (path, _) in ANALYSES.items()
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


def _figures(run_dir: Path, folder: str, pattern: str = "*.png") -> list[str]:
    """Paths (relative to the run) of the figures in ``folder``, sorted."""
    base = run_dir / folder
    if not base.is_dir():
        return []
    return sorted(p.relative_to(run_dir).as_posix() for p in base.glob(pattern) if p.is_file())


def dataset_path(run_dir: str | Path) -> Path | None:
    """The dataset file the run was trained (or tested) on, if the manifest names one that
    exists (a relative path is tried from the current directory, then beside the run)."""
    run_dir = Path(run_dir)
    steps = Run(run_dir).manifest().get("steps", {})
    for value in (steps.get("test", {}).get("data"), steps.get("train", {}).get("dataset")):
        if not value:
            continue
        for candidate in (Path(value), run_dir.parent / value):
            if candidate.is_file():
                return candidate
    return None


# ----------------------------------------------------------------------------- motifs


def _parse_meme(text: str, path: Path) -> list[dict[str, Any]]:
    """MEME minimal format -> ``[{"id", "name", "probs": (4, w) list}]`` (A, C, G, T)."""
    motifs: list[dict[str, Any]] = []
    lines = text.splitlines()
    i = 0
    current: dict[str, Any] | None = None
    while i < len(lines):
        line = lines[i].strip()
        if line.startswith("MOTIF"):
            parts = line.split()
            if len(parts) < 2:
                raise InputError("MOTIF line without an id", path=path, line=i + 1)
            current = {"id": parts[1], "name": parts[2] if len(parts) > 2 else parts[1]}
        elif line.startswith("letter-probability matrix") and current is not None:
            match = re.search(r"w=\s*(\d+)", line)
            width = int(match.group(1)) if match else None
            rows = []
            j = i + 1
            while j < len(lines) and (width is None or len(rows) < width):
                fields = lines[j].split()
                if not fields:
                    if rows and width is None:
                        break
                    j += 1
                    continue
                try:
                    values = [float(v) for v in fields]
                except ValueError:
                    break
                if len(values) != 4:
                    raise InputError(
                        f"expected 4 probabilities, got {len(values)}", path=path, line=j + 1
                    )
                rows.append(values)
                j += 1
            if not rows:
                raise InputError("letter-probability matrix without rows", path=path, line=i + 1)
            current["probs"] = np.asarray(rows, dtype=float).T.round(4).tolist()
            motifs.append(current)
            current = None
            i = j
            continue
        i += 1
    return motifs


def read_meme_file(path: str | Path) -> list[dict[str, Any]]:
    """Motifs of a MEME file as ``[{"id", "name", "probs": 4 lists of w}]``.

    Uses :func:`motiflens.motifs.meme.read_meme` where that package is installed, else a
    small reader of the MEME minimal format (``MOTIF id [alt]`` then a
    ``letter-probability matrix`` of ``w`` rows A C G T).
    """
    path = Path(path)
    try:
        from motiflens.motifs.meme import read_meme  # type: ignore[import-not-found]
    except ImportError:
        return _parse_meme(path.read_text(encoding="utf-8", errors="replace"), path)
    motifs, _ = read_meme(path)
    return [
        {
            "id": str(m.id),
            "name": str(getattr(m, "name", None) or m.id),
            "probs": np.asarray(m.probs, dtype=float).round(4).tolist(),
        }
        for m in motifs
    ]


def cluster_order(matrix: np.ndarray) -> tuple[list[int], list[int]]:
    """Row and column orders that put similar rows (columns) together.

    Average-linkage hierarchical clustering (:func:`scipy.cluster.hierarchy.linkage`,
    Euclidean distance) with the optimal leaf ordering, on rows and on columns; NaN
    counts as 0. With fewer than three rows (columns) the order is unchanged.
    """
    from scipy.cluster.hierarchy import leaves_list, linkage, optimal_leaf_ordering
    from scipy.spatial.distance import pdist

    m = np.nan_to_num(np.asarray(matrix, dtype=float))

    def order(a: np.ndarray) -> list[int]:
        if a.shape[0] < 3:
            return list(range(a.shape[0]))
        dist = pdist(a)
        tree = linkage(dist, method="average")
        return [int(i) for i in leaves_list(optimal_leaf_ordering(tree, dist))]

    return order(m), order(m.T)


# ----------------------------------------------------------------------------- views


def overview(run_dir: str | Path) -> dict[str, Any]:
    """Dataset, model config, training curves, per-target test metrics and the manifest."""
    run_dir = Path(run_dir)
    out: dict[str, Any] = {"run_dir": str(run_dir), "name": run_dir.resolve().name}
    manifest = Run(run_dir).manifest()
    out["steps"] = [
        {"step": k, "command": v.get("command"), "time": v.get("time")}
        for k, v in manifest.get("steps", {}).items()
    ]
    config_path = run_dir / "config.yaml"
    if config_path.is_file():
        try:
            out["config"] = yaml.safe_load(config_path.read_text(encoding="utf-8"))
        except yaml.YAMLError as err:
            out["config"] = None
            out["config_error"] = f"cannot read config.yaml: {err}"
    else:
        out["config"] = None
        out["config_error"] = "config.yaml not found: this is not a trained run directory"
    model = (out["config"] or {}).get("model") or {}
    out["targets"] = _target_names(run_dir, model.get("n_targets"))
    data = dataset_path(run_dir)
    out["dataset"] = _dataset_summary(data) if data else None
    out["training"] = _training(run_dir)
    out["test"] = _test(run_dir)
    out["status"] = status(run_dir)
    return json_safe(out)


def _target_names(run_dir: Path, n: int | None) -> list[str]:
    path = run_dir / "target_labels.txt"
    if path.is_file():
        names = [s.strip() for s in path.read_text(encoding="utf-8").splitlines() if s.strip()]
        if n is None or len(names) == n:
            return names
    return [f"target_{i}" for i in range(n or 0)]


def _dataset_summary(path: Path) -> dict[str, Any]:
    from motiflens.data.hdf5 import dataset_info

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


def _training(run_dir: Path) -> dict[str, Any]:
    path = run_dir / ANALYSES["training"][0]
    if not path.is_file():
        return missing(run_dir, "training")
    try:
        df = _read_tsv(path)
    except InputError as err:
        return _broken(path, err)
    return {"missing": False, "columns": {c: json_safe(df[c].tolist()) for c in df.columns}}


def _test(run_dir: Path) -> dict[str, Any]:
    path = run_dir / ANALYSES["test"][0]
    if not path.is_file():
        return missing(run_dir, "test")
    try:
        df = _read_tsv(path)
    except InputError as err:
        return _broken(path, err)
    summary = run_dir / "metrics" / "test_summary.txt"
    return {
        "missing": False,
        "columns": list(df.columns),
        "rows": _records(df),
        "summary": summary.read_text(encoding="utf-8").strip() if summary.is_file() else None,
        "figures": _figures(run_dir, "metrics"),
    }


def filters_view(run_dir: str | Path) -> dict[str, Any]:
    """The filters table, their PWMs and their matches' PWMs, and the clustered influence.

    Returns ``{"missing": True, ...}`` when ``motiflens filters`` has not run.
    """
    run_dir = Path(run_dir)
    folder = run_dir / "explain" / "filters"
    table_path = folder / "filters.tsv"
    if not table_path.is_file():
        return missing(run_dir, "filters")
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
                out[key] = {m["id"]: m for m in read_meme_file(path)}
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
    out["figures"] = _figures(run_dir, "explain/filters")
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


def insertion_view(run_dir: str | Path) -> dict[str, Any]:
    """Motif insertion: the mean change of each target per inserted motif, clustered."""
    run_dir = Path(run_dir)
    path = run_dir / ANALYSES["insertion"][0]
    if not path.is_file():
        return missing(run_dir, "insertion")
    try:
        df = _read_tsv(path)
        # One row per motif id: JASPAR has several matrices per TF name (CTCF has three),
        # which a pivot on the name would average together.
        name = df["motif_name"].fillna("").astype(str)
        df["motif"] = (df["motif_id"].astype(str) + " " + name).str.strip()
        wide = df.pivot_table(index="motif", columns="target", values="delta_score")
    except (InputError, KeyError, ValueError) as err:
        return _broken(path, err)
    return json_safe(
        {
            "missing": False,
            "heatmap": _clustered_matrix(wide),
            "rows": _records(df.drop(columns=["motif"]), MAX_ROWS),
            "n_rows": len(df),
            "figures": _figures(run_dir, "explain/insertion"),
        }
    )


def optimize_view(run_dir: str | Path) -> dict[str, Any]:
    """Class optimization: per target the score, designed sequence and optimized PWM."""
    run_dir = Path(run_dir)
    path = run_dir / ANALYSES["optimize"][0]
    if not path.is_file():
        return missing(run_dir, "optimize")
    try:
        rows = _records(_read_tsv(path))
    except InputError as err:
        return _broken(path, err)
    pwms: dict[str, Any] = {}
    for meme in sorted((run_dir / "explain" / "optimize").glob("*.meme")):
        try:
            motifs = read_meme_file(meme)
        except (InputError, OSError, ValueError):
            continue
        if motifs:
            pwms[meme.stem] = motifs[0]
    return json_safe(
        {
            "missing": False,
            "rows": rows,
            "pwms": pwms,
            "figures": _figures(run_dir, "explain/optimize"),
        }
    )


def variants_view(run_dir: str | Path) -> dict[str, Any]:
    """Variant effects: SAD per variant and target (largest |SAD| first)."""
    run_dir = Path(run_dir)
    path = run_dir / ANALYSES["variants"][0]
    if not path.is_file():
        return missing(run_dir, "variants")
    try:
        df, n_rows = _top_sad(path, MAX_ROWS)
    except (InputError, KeyError) as err:
        return _broken(path, err)
    return json_safe(
        {
            "missing": False,
            "rows": _records(df, MAX_ROWS),
            "n_rows": n_rows,
            "ism": _variant_ism_names(run_dir),
            "figures": _figures(run_dir, "explain/variants"),
        }
    )


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


def _variant_ism_files(run_dir: Path) -> Iterable[Path]:
    folder = run_dir / "explain" / "variants" / "ism"
    return sorted(folder.glob("*.h5")) if folder.is_dir() else []


def _variant_ism_names(run_dir: Path) -> list[str]:
    import h5py

    names: list[str] = []
    for path in _variant_ism_files(run_dir):
        try:
            with h5py.File(path, "r") as h5:
                names.extend(_str(v) for v in h5["names"][:])
        except (OSError, KeyError):
            continue
    return names


def _str(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def variant_ism(run_dir: str | Path, name: str, target: str) -> dict[str, Any] | None:
    """The stored ISM (``explain/variants/ism/*.h5``) of one sequence for one target.

    Returns ``None`` when no stored ISM has that sequence name and target.
    """
    import h5py

    for path in _variant_ism_files(Path(run_dir)):
        try:
            with h5py.File(path, "r") as h5:
                names = [_str(v) for v in h5["names"][:]]
                labels = [_str(v) for v in h5["target_labels"][:]]
                if name not in names or target not in labels:
                    continue
                i, k = names.index(name), labels.index(target)
                delta = h5["delta"][i, :, :, k]
                return json_safe(
                    {
                        "name": name,
                        "target": target,
                        "positions": h5["positions"][:],
                        "delta": delta.round(5),
                        "loss": (-delta.min(axis=0)).round(5),
                        "gain": delta.max(axis=0).round(5),
                    }
                )
        except (OSError, KeyError, IndexError):
            continue
    return None


def safe_file(run_dir: str | Path, relative: str) -> Path | None:
    """``run_dir / relative`` if it is a servable file inside the run directory, else None.

    The path is resolved (``..``, symlinks) before the check, so neither a traversal nor a
    link pointing out of the run directory gets through; absolute paths, hidden files and
    any file type outside :data:`FILE_SUFFIXES` are refused.
    """
    if not relative or "\x00" in relative or relative.startswith(("/", "\\")):
        return None
    parts = Path(relative).parts
    if any(p.startswith(".") for p in parts) or Path(relative).is_absolute():
        return None
    root = Path(run_dir).resolve()
    try:
        path = (root / relative).resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not path.is_relative_to(root) or not path.is_file():
        return None
    if path.suffix.lower() not in FILE_SUFFIXES:
        return None
    return path
