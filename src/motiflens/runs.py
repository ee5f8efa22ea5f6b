"""The run directory and its one owner, :class:`Run`.

A run directory holds everything a run computed::

    config.yaml            the run config (model + training), rebuilds the model
    model.safetensors      the trained weights (no pickle)
    target_labels.txt      one target name per line
    manifest.json          every step that ran: command, time, version, outputs, options
    checkpoints/           Lightning checkpoints (last.ckpt, best.ckpt) for --resume
    metrics/               training.tsv/.png, test.tsv, test curves; evaluations/<name>/;
                           kmer_baseline.npz (the fitted k-mer baseline, reused by test)
    explain/<analysis>/    each analysis' arrays (see motiflens.results), tables, figures

No other module spells one of these names: training, evaluation, the steps, the
dashboard and the report all go through :class:`Run`.
"""

from __future__ import annotations

import datetime
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import torch
import yaml

from motiflens.config import ModelConfig, RunConfig
from motiflens.errors import InputError
from motiflens.files import safe_name, write_text_atomic
from motiflens.models import SequenceModel, load_weights, save_weights
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
            path.mkdir(parents=True, exist_ok=True)
        return path

    def analyses(self) -> list[str]:
        """Names of the analyses that have a folder."""
        folder = self.path / EXPLAIN
        return sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []

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
            Weights or config missing or unreadable.
        ValueError
            The weights do not fit the config.
        """
        self.require()
        config = self.model_config
        model = load_weights(self.weights_path, config, device=device)
        model.target_labels = self.target_labels(config.n_targets)
        return model

    def save_model(self, model: torch.nn.Module, config: RunConfig | ModelConfig) -> Path:
        """Write ``model.safetensors`` (and the config) atomically.

        With a bare :class:`ModelConfig` only the ``model`` section of an existing
        ``config.yaml`` is replaced, so the sections written before are kept.
        """
        model_config = config.model if isinstance(config, RunConfig) else config
        self.path.mkdir(parents=True, exist_ok=True)
        save_weights(model, self.weights_path, model_config)
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


def as_run(run: Run | str | Path) -> Run:
    """A :class:`Run` from a run or its path."""
    return run if isinstance(run, Run) else Run(run)


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
