"""The run directory and its one owner, :class:`Run`.

A run directory holds everything a run computed::

    config.yaml            the run config (model + training), rebuilds the model
    model.safetensors      the trained weights (no pickle)
    target_labels.txt      one target name per line
    manifest.json          every step that ran: command, time, version, outputs, options;
                           the model config the weights were saved with
    checkpoints/           Lightning checkpoints (last.ckpt, best.ckpt) for --resume
    metrics/               training.tsv/.png, test.tsv, test curves; evaluations/<name>/;
                           kmer_baseline.npz (the fitted k-mer baseline, reused by test)
    explain/<analysis>/    each analysis' arrays (see motiflens.results), tables, figures

No other module spells one of these names: training, evaluation, the steps, the
dashboard and the report all go through :class:`Run`.

One process writes into a run directory at a time. A writer holds the run's lock
(``.lock``, :mod:`motiflens.locks`): every step for its whole length (``with
run.lock():``, or :func:`holding_run` around the step function), and a :class:`Run`
write helper (config, weights, target names, manifest, an analysis' folder) used outside
a step for the length of that write. A second writer fails at once, naming the first.
Taking the lock also clears what dead writers left: temporary files and folders, and the
old contents of an interrupted ``train --overwrite`` (:meth:`Run.replacing`). Readers (the
dashboard) take no lock: every file is replaced whole, so they see the old file or the new
one.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import json
import os
import re
import shutil
import stat
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

import torch
import yaml
from safetensors import SafetensorError, safe_open

from motiflens.config import ModelConfig, RunConfig
from motiflens.distributed import env_rank
from motiflens.errors import InputError
from motiflens.files import atomic_path, clean_stale, safe_name, write_text_atomic
from motiflens.locks import LOCK_FILE, acquire, holds
from motiflens.models import SequenceModel, build_model, load_weights, save_weights
from motiflens.results import StoredResult, is_result_file, read_result_info
from motiflens.version import __version__

CONFIG = "config.yaml"
WEIGHTS = "model.safetensors"
TARGET_LABELS = "target_labels.txt"
MANIFEST = "manifest.json"
CHECKPOINTS = "checkpoints"
METRICS = "metrics"
EXPLAIN = "explain"
EVALUATIONS = "evaluations"
BASELINE = "kmer_baseline.npz"
#: Where ``train --overwrite`` keeps the old contents until the new run has a checkpoint.
PREVIOUS = ".previous-run"

# Temporary names that only a writer of the run makes, in formats that carry no process
# id: safetensors' own (tempfile's ``.tmpXXXXXX``), and atomic_path's and the shard
# folders' of motiflens before 0.x. Under the run's lock no live writer owns one.
_OWN_TEMP = re.compile(
    r"^\.tmp[A-Za-z0-9_]{6,8}$|^\..+\.[0-9a-f]{16}\.part$|^\..+\.shards-[0-9a-f]{12}$"
)

F = TypeVar("F", bound=Callable[..., Any])


def helper_process() -> bool:
    """Whether this process is one of a multi-process job's helpers (not rank 0).

    Lightning's and Fabric's re-launched processes, ``srun`` tasks and the other nodes
    write nothing of their own into the run: the rank-0 process holds its lock for them.
    """
    node = os.environ.get("NODE_RANK", os.environ.get("GROUP_RANK", "0")).strip()
    return env_rank() != 0 or node not in ("", "0")


class Run:
    """A run directory: its files, config, model, target names, manifest and analyses.

    Parameters
    ----------
    path
        The run directory (need not exist yet for a run about to be trained).

    Examples
    --------
    >>> run = Run("runs/basset")
    >>> model = run.model()            # eval mode, .target_labels set
    >>> run.target_labels()[:2]
    ['K562', 'HepG2']
    >>> run.analysis_dir("ism")
    PosixPath('runs/basset/explain/ism')
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r})"

    def __fspath__(self) -> str:
        return str(self.path)

    # ------------------------------------------------------------------ paths

    @property
    def config_path(self) -> Path:
        """``config.yaml``."""
        return self.path / CONFIG

    @property
    def weights_path(self) -> Path:
        """``model.safetensors``."""
        return self.path / WEIGHTS

    @property
    def target_labels_path(self) -> Path:
        """``target_labels.txt``."""
        return self.path / TARGET_LABELS

    @property
    def manifest_path(self) -> Path:
        """``manifest.json``."""
        return self.path / MANIFEST

    @property
    def checkpoints_dir(self) -> Path:
        """``checkpoints/`` (Lightning's ``last.ckpt`` and ``best.ckpt``)."""
        return self.path / CHECKPOINTS

    @property
    def last_checkpoint(self) -> Path:
        """``checkpoints/last.ckpt``: what ``--resume`` continues from."""
        return self.checkpoints_dir / "last.ckpt"

    @property
    def metrics_dir(self) -> Path:
        """``metrics/``."""
        return self.path / METRICS

    @property
    def training_table(self) -> Path:
        """``metrics/training.tsv``: one row per epoch."""
        return self.metrics_dir / "training.tsv"

    @property
    def training_figure(self) -> Path:
        """``metrics/training.png``."""
        return self.metrics_dir / "training.png"

    @property
    def baseline_path(self) -> Path:
        """``metrics/kmer_baseline.npz``: the k-mer baseline fitted on the run's training
        split (:mod:`motiflens.baseline`), kept so that a second ``test`` does not refit it."""
        return self.metrics_dir / BASELINE

    def metrics_path(self, name: str) -> Path:
        """A file of ``metrics/`` (``test.tsv``, ``test_curves.png``, ...)."""
        return self.metrics_dir / name

    def evaluation_dir(self, data: str | Path | None) -> Path:
        """Where an evaluation's files go.

        ``None`` (the run's own dataset) is ``metrics/``; any other file gets
        ``metrics/evaluations/<file name>/``, so it never overwrites the run's own metrics.
        """
        if data is None:
            return self.metrics_dir
        return self.metrics_dir / EVALUATIONS / safe_name(Path(data).name)

    def evaluations(self) -> list[Path]:
        """Folders of evaluations on other files, by name."""
        folder = self.metrics_dir / EVALUATIONS
        return sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []

    def analysis_dir(self, analysis: str, *, create: bool = True) -> Path:
        """``explain/<analysis>/`` (created unless ``create`` is false)."""
        if not analysis or safe_name(analysis) != analysis:
            raise ValueError(f"bad analysis name {analysis!r}")
        path = self.path / EXPLAIN / analysis
        if create:
            with self._writing():
                path.mkdir(parents=True, exist_ok=True)
        return path

    def analyses(self) -> list[str]:
        """Names of the analyses that have a folder (not the hidden temporaries of writers)."""
        folder = self.path / EXPLAIN
        if not folder.is_dir():
            return []
        return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))

    def relative(self, path: str | Path) -> str:
        """``path`` relative to the run directory, as the manifest lists outputs."""
        path = Path(path)
        try:
            text = str(path.resolve().relative_to(self.path.resolve()))
        except ValueError:
            return str(path)
        return text + ("/" if path.is_dir() else "")

    def file(self, relative: str) -> Path | None:
        """A file inside the run directory by its relative path, or ``None``.

        Never escapes the directory (``..``, absolute paths and links out are refused).
        """
        if not relative or "\x00" in relative:
            return None
        root = self.path.resolve()
        try:
            path = (root / relative).resolve()
            path.relative_to(root)
        except (ValueError, OSError, RuntimeError):
            return None
        return path if path.is_file() else None

    # ------------------------------------------------------------------- lock

    @contextlib.contextmanager
    def lock(self, *, create: bool = True) -> Iterator[Run]:
        """Hold the run directory for the block: no other process writes into it meanwhile.

        Reentrant within the process (steps that call steps); released at the end of the
        block, or by the kernel when the process dies. Taking it clears what dead writers
        left (temporary files, an interrupted ``--overwrite``). The helper processes of a
        multi-process job (ranks other than 0) do not lock: their rank 0 holds it.

        Parameters
        ----------
        create
            Create a missing directory (a new run); if false, a missing one is an error
            (a step that reads a trained run must not leave an empty directory behind).

        Raises
        ------
        motiflens.locks.DirectoryInUse
            Another process holds it (an :class:`InputError` naming that process).
        InputError
            The directory does not exist and ``create`` is false.

        Examples
        --------
        >>> with run.lock():
        ...     run.record_step("notes", [])
        """
        if helper_process():
            yield self
            return
        if not create and not self.path.is_dir():
            raise InputError(
                "run directory not found",
                path=self.path,
                hint="point at a directory written by `motiflens train`",
            )
        release = acquire(self.path, what="run directory", on_acquire=self._clean)
        try:
            yield self
        finally:
            release()

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """Hold the directory for one write of a helper (config, weights, manifest, ...).

        Inside :meth:`lock` (a step) it adds nothing; outside, the write takes the lock and
        lets go after it, so a notebook's :class:`Run` never keeps a directory from other
        processes between its writes. A helper process of a multi-process job does not lock.
        """
        if helper_process() or holds(self.path):
            yield
            return
        with self.lock():
            yield

    def _clean(self, directory: Path) -> None:
        """Under a fresh lock: settle an interrupted overwrite, remove dead writers' temps."""
        self._settle_replaced()
        for folder, dirs, files in os.walk(directory):
            clean_stale(folder)
            for name in [*dirs, *files]:
                if _OWN_TEMP.match(name):
                    with contextlib.suppress(OSError):
                        _remove(Path(folder) / name)
            dirs[:] = [d for d in dirs if not d.startswith(".")]  # temporaries, the old run

    # -------------------------------------------------------------- overwrite

    @property
    def _previous(self) -> Path:
        return self.path / PREVIOUS

    def started(self) -> bool:
        """Whether a run is here: weights, a manifest or a checkpoint (what a new ``train``
        refuses to write over unless told to resume or overwrite it). A ``config.yaml``
        alone is not one: nothing was trained or recorded with it."""
        return (
            self.weights_path.exists()
            or self.manifest_path.exists()
            or any(self.checkpoints_dir.glob("*.ckpt"))
        )

    @contextlib.contextmanager
    def replacing(self, *, created: bool | None = None) -> Iterator[Run]:
        """A new run written by the block replaces the one here, or nothing changes.

        Under the lock, a run already here (:meth:`started`) is moved aside
        (``.previous-run/``). It is deleted once the new run has a checkpoint
        (:meth:`drop_replaced`; from then on the new run is one ``--resume`` continues)
        or when the block ends well, and put back when the block fails before that. In a
        directory without a run, what a block that fails before its first checkpoint
        wrote is removed, the directory too if the block created it. After a ``kill -9``
        the next command that locks the run settles an overwrite the same way.

        ``created`` says whether the caller's lock created the directory (default: whether
        it is missing now).
        """
        existed = self.path.is_dir() if created is None else not created
        with self.lock():
            before = {p.name for p in self.path.iterdir()} if existed else set()
            replacing = self.started()
            if replacing:
                previous = self._previous
                previous.mkdir()
                for name in sorted(before - {LOCK_FILE, PREVIOUS}):
                    os.replace(self.path / name, previous / name)
            try:
                yield self
            except BaseException:
                if replacing:
                    self._settle_replaced()
                elif not self.last_checkpoint.is_file():
                    for entry in self.path.iterdir():
                        if entry.name not in before | {LOCK_FILE}:
                            _remove(entry)
                    if not existed:
                        shutil.rmtree(self.path, ignore_errors=True)
                raise
            self.drop_replaced()

    def drop_replaced(self) -> None:
        """Delete the contents :meth:`replacing` set aside (nothing if there are none)."""
        if self._previous.is_dir():
            shutil.rmtree(self._previous)

    def _settle_replaced(self) -> None:
        # An overwrite that ended without cleaning up: the new run stays if it got as far
        # as a checkpoint, else the old one comes back.
        previous = self._previous
        if not previous.is_dir():
            return
        if self.last_checkpoint.is_file():
            self.drop_replaced()
            return
        for entry in self.path.iterdir():
            if entry.name not in (LOCK_FILE, PREVIOUS):
                _remove(entry)
        for entry in previous.iterdir():
            os.replace(entry, self.path / entry.name)
        previous.rmdir()

    # ------------------------------------------------------------------ state

    def exists(self) -> bool:
        """Whether this is a trained run (weights and config present)."""
        return self.weights_path.is_file() and self.config_path.is_file()

    def require(self) -> Run:
        """Return ``self``; raise :class:`InputError` unless it is a trained run."""
        for path in (self.weights_path, self.config_path):
            if not path.is_file():
                raise InputError(
                    f"not a motiflens run directory: {self.path} (missing {path.name})",
                    hint="point at a directory written by `motiflens train`",
                )
        return self

    def config(self) -> RunConfig:
        """The run's config (``config.yaml``)."""
        if not self.config_path.is_file():
            raise InputError(
                f"not a motiflens run directory: {self.path} (missing {CONFIG})",
                hint="point at a directory written by `motiflens train`",
            )
        return RunConfig.load_yaml(self.config_path)

    @property
    def model_config(self) -> ModelConfig:
        """The model section of the config."""
        return self.config().model

    def save_config(self, config: RunConfig) -> Path:
        """Write ``config.yaml`` atomically."""
        with self._writing():
            self.path.mkdir(parents=True, exist_ok=True)
            return config.save_yaml(self.config_path)

    def model(self, device: str | torch.device | None = None) -> SequenceModel:
        """The trained model, in eval mode, with ``.target_labels`` set.

        Parameters
        ----------
        device
            Where to put it; default CUDA when available, else CPU.

        Raises
        ------
        InputError
            Weights or config missing or unreadable (a truncated or damaged
            ``model.safetensors``), or a ``config.yaml`` whose model section no longer
            matches the weights (an edited ``task:`` or architecture field: the message
            names the field).
        """
        self.require()
        config = self.model_config
        self._check_model_config(config)
        try:
            model = load_weights(self.weights_path, config, device=device)
        except SafetensorError as err:
            raise InputError(
                f"not a readable safetensors file (truncated or damaged?): {err}",
                path=self.weights_path,
                hint="restore the file, or train the run again (motiflens train --overwrite)",
            ) from None
        except ValueError:  # the weights' names or shapes differ from the config's
            raise InputError(
                f"the model section does not match the weights in {WEIGHTS}"
                f"{self._weights_difference(config)}",
                path=self.config_path,
                hint=f"undo the edit of {CONFIG}, or train the run again with this config",
            ) from None
        model.target_labels = self.target_labels(config.n_targets)
        return model

    def _check_model_config(self, config: ModelConfig) -> None:
        """Refuse a model section edited since the weights were saved (names the field)."""
        try:
            saved = json.loads(self.manifest_path.read_text(encoding="utf-8")).get("model")
        except (OSError, ValueError, UnicodeDecodeError, AttributeError):
            return  # no record (a run of an older version): the weights' shapes still count
        if not isinstance(saved, dict):
            return
        changed = config_changes(saved, config.to_dict())
        if changed:
            field, was, now = changed[0]
            more = f" (and {len(changed) - 1} more field(s))" if len(changed) > 1 else ""
            raise InputError(
                f"{field} is {now!r} but the weights in {WEIGHTS} were trained with "
                f"{field} {was!r}{more}",
                path=self.config_path,
                hint=f"set {field} back to {was!r} in {CONFIG}, or train the run again "
                "with the new config (motiflens train --overwrite)",
            )

    def _weights_difference(self, config: ModelConfig) -> str:
        """`` (first difference: ...)``: the model name or the first weight that differs."""
        try:
            with safe_open(self.weights_path, "pt") as f:
                saved = (f.metadata() or {}).get("model")
                have = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
            if saved and saved != config.name:
                return f" (model.name is {config.name!r}, the weights are {saved!r}'s)"
            with torch.device("meta"):
                reference = build_model(config, check_resources=False)
            want = {k: tuple(v.shape) for k, v in reference.state_dict().items()}
        except Exception:  # the message goes without the detail
            return ""
        for name in sorted(set(want) | set(have)):
            if want.get(name) != have.get(name):
                return (
                    f" (first difference: {name} is {have.get(name)} in the weights, "
                    f"{want.get(name)} for the config)"
                )
        return ""

    def save_model(self, model: torch.nn.Module, config: RunConfig | ModelConfig) -> Path:
        """Write ``model.safetensors`` (and the config) atomically.

        With a bare :class:`ModelConfig` only the ``model`` section of an existing
        ``config.yaml`` is replaced, so the sections written before are kept.
        """
        model_config = config.model if isinstance(config, RunConfig) else config
        with self._writing():
            with atomic_path(self.weights_path) as tmp:
                # safetensors writes its own 0600 temporary and renames it over ``tmp``; the
                # weights get the mode the umask gives any new file, as every other output.
                mode = stat.S_IMODE(tmp.stat().st_mode)
                save_weights(model, tmp, model_config)
                os.chmod(tmp, mode)
            self._record_model(model_config)
            if isinstance(config, RunConfig):
                self.save_config(config)
                return self.weights_path
            existing = (
                yaml.safe_load(self.config_path.read_text(encoding="utf-8"))
                if self.config_path.is_file()
                else None
            )
            sections = existing if isinstance(existing, dict) else {}
            sections["model"] = model_config.to_dict()
            write_text_atomic(
                self.config_path, yaml.safe_dump(sections, sort_keys=False, default_flow_style=None)
            )
            return self.weights_path

    def target_labels(self, n: int | None = None) -> list[str]:
        """Target names: ``target_labels.txt``, or ``target_0 ..`` when it is missing.

        Parameters
        ----------
        n
            The model's number of outputs (default: from the config).

        Raises
        ------
        InputError
            The file lists another number of names than the model has outputs.
        """
        n = self.model_config.n_targets if n is None else n
        path = self.target_labels_path
        if not path.is_file():
            return [f"target_{i}" for i in range(n or 0)]
        labels = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
        while labels and not labels[-1]:
            labels.pop()
        if n is not None and len(labels) != n:
            raise InputError(
                f"{len(labels)} target names for a model with {n} outputs",
                path=path,
                hint="one name per line, as many as the model has targets (or remove the file)",
            )
        return labels

    def write_target_labels(self, labels: Sequence[str]) -> Path:
        """Write ``target_labels.txt`` atomically."""
        with self._writing():
            return write_text_atomic(self.target_labels_path, "".join(f"{t}\n" for t in labels))

    # --------------------------------------------------------------- manifest

    def manifest(self) -> dict:
        """The manifest (``{"steps": {}}`` when there is none yet)."""
        path = self.manifest_path
        if not path.is_file():
            return {"steps": {}}
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as err:
            raise InputError(f"unreadable manifest: {err}", path=path) from None
        manifest.setdefault("steps", {})
        return manifest

    def steps(self) -> dict[str, dict]:
        """Step name -> what the manifest records of it."""
        return self.manifest()["steps"]

    def record_step(self, step: str, outputs: Sequence[str | Path], **info: object) -> Path:
        """Add one step (what ran, when, what it wrote, its options) to the manifest.

        ``outputs`` may be paths inside the run directory or relative names.
        """
        with self._writing():
            manifest = self.manifest()
            manifest["motiflens_version"] = __version__
            manifest["steps"][step] = {
                "command": " ".join(sys.argv) if sys.argv and sys.argv[0] else "python API",
                "time": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                "version": __version__,
                "outputs": [self.relative(o) if isinstance(o, Path) else str(o) for o in outputs],
                **info,
            }
            text = json.dumps(manifest, indent=2, default=str) + "\n"
            return write_text_atomic(self.manifest_path, text)

    def _record_model(self, config: ModelConfig) -> None:
        """Keep the model config the weights were saved with (see :meth:`model`)."""
        manifest = self.manifest()
        manifest["model"] = config.to_dict()
        write_text_atomic(self.manifest_path, json.dumps(manifest, indent=2, default=str) + "\n")

    def dataset(self) -> Path:
        """The dataset file the run was trained on, as its manifest records it.

        Raises
        ------
        InputError
            The manifest does not record one (give the data explicitly then).
        """
        trained_on = self.steps().get("train", {}).get("dataset")
        if trained_on is None:
            raise InputError(
                "no data given and the run does not record its training dataset",
                path=self.path,
                hint="pass the dataset file (or sequences) explicitly",
            )
        return Path(trained_on)

    def dataset_or_none(self) -> Path | None:
        """The training dataset when recorded and still present, else ``None``."""
        trained_on = self.steps().get("train", {}).get("dataset")
        if trained_on is None or not Path(trained_on).is_file():
            return None
        return Path(trained_on)

    # ---------------------------------------------------------------- results

    def result_path(self, analysis: str, name: str) -> Path:
        """``explain/<analysis>/<name>.h5``: an analysis' stored arrays."""
        return self.analysis_dir(analysis) / f"{safe_name(name)}.h5"

    def results(self) -> list[StoredResult]:
        """Every stored result file of every analysis (see :mod:`motiflens.results`)."""
        found = []
        for analysis in self.analyses():
            for path in sorted(self.analysis_dir(analysis, create=False).rglob("*.h5")):
                if is_result_file(path):
                    found.append(read_result_info(path))
        return found


def config_changes(
    saved: Mapping[str, object], now: Mapping[str, object], prefix: str = "model"
) -> list[tuple[str, object, object]]:
    """``(dotted field, saved value, current value)`` for every field that differs.

    Examples
    --------
    >>> config_changes({"task": "binary", "arch": {"filters": [8]}},
    ...                {"task": "regression", "arch": {"filters": [8]}})
    [('model.task', 'binary', 'regression')]
    """
    found = []
    for key in [*saved, *(k for k in now if k not in saved)]:
        was, new = saved.get(key), now.get(key)
        if isinstance(was, Mapping) and isinstance(new, Mapping):
            found += config_changes(was, new, f"{prefix}.{key}")
        elif was != new:
            found.append((f"{prefix}.{key}", was, new))
    return found


def _remove(path: Path) -> None:
    """Delete a file, a link or a folder with its contents."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def _first_line(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [""])[0][:300]


def as_run(run: Run | str | Path) -> Run:
    """A :class:`Run` from a run or its path."""
    return run if isinstance(run, Run) else Run(run)


def holding_run(step: F) -> F:
    """Run a step function (its first argument a run or its directory) under the run's lock.

    The step gets the :class:`Run`; the lock is held for the whole call (see
    :meth:`Run.lock`), so a second process writing there fails at once, naming this one.
    """

    @functools.wraps(step)
    def wrapper(run: Run | str | Path, *args: Any, **kwargs: Any) -> Any:
        run = as_run(run)
        with run.lock(create=False):
            return step(run, *args, **kwargs)

    return cast(F, wrapper)


def load(run: Run | str | Path, device: str | torch.device | None = None) -> SequenceModel:
    """The trained model of a run directory, in eval mode, with its target names.

    Parameters
    ----------
    run
        A run directory written by ``motiflens train`` (or a :class:`Run`).
    device
        Where to put the model; default CUDA when available, else CPU.

    Returns
    -------
    SequenceModel
        Takes one-hot ``(N, 4, L)`` and returns ``(N, T)`` logits; ``model.target_labels``
        names the ``T`` outputs and ``model.config`` is its :class:`ModelConfig`.

    Examples
    --------
    >>> model = motiflens.load("runs/basset")
    >>> model.target_labels
    ['CTCF', 'REST']
    """
    return as_run(run).model(device)
