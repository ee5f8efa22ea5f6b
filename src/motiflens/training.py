"""Training on Lightning: the published optimizers, early stopping, checkpoints, resume, DDP.

:func:`train` writes, through :class:`~motiflens.runs.Run`, the config, the weights of the
best epoch (by the monitored metric), the target names, the Lightning checkpoints (full
training state for ``resume``) and the per-epoch metrics table (epochs counted from 1).
It draws nothing and records no manifest step: :func:`motiflens.steps.train` does
both, so that this module stays below the plots in the import order.
"""

from __future__ import annotations

import logging
import math
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import pandas as pd
import torch
from lightning.fabric.accelerators.cuda import num_cuda_devices
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint
from torch import nn
from torch.utils.data import DataLoader

from motiflens.config import ModelConfig, RunConfig, TrainingConfig
from motiflens.data.hdf5 import ChunkedShuffleSampler, SequenceDataset
from motiflens.data.hdf5 import target_labels as dataset_target_labels
from motiflens.evaluation import per_target_metrics
from motiflens.files import atomic_path
from motiflens.memory import keep_freed_memory
from motiflens.models import build_model, loss_function
from motiflens.models import check_resources as guard_resources
from motiflens.models.resources import format_count
from motiflens.progress import interactive
from motiflens.runs import Run, as_run

log = logging.getLogger(__name__)

# Datasets below this many bytes of float32 one-hot are loaded whole: random access from
# memory beats chunked reads, and it keeps small runs simple.
IN_MEMORY_BYTES = 2 * 1024**3
#: Without a progress bar, a line within an epoch at most this often (seconds).
HEARTBEAT_SECONDS = 60.0


class SequenceModule(L.LightningModule):
    """LightningModule wrapping any motiflens model with its task's loss and metrics.

    Parameters
    ----------
    model
        Model configuration (architecture, targets, length, task).
    training
        Training configuration (optimizer preset, augmentation, seed ...).
    check_resources
        Let the resource guard refuse a model too big for this machine
        (:func:`~motiflens.models.build_model`); not saved with the hyperparameters.
    """

    def __init__(
        self, model: dict[str, Any], training: dict[str, Any], *, check_resources: bool = True
    ) -> None:
        super().__init__()
        self.save_hyperparameters("model", "training")
        self.model_config = ModelConfig.from_dict(model)
        self.training_config = TrainingConfig.from_dict(training)
        self.model = build_model(
            self.model_config,
            check_resources=check_resources,
            batch_size=self.training_config.batch_size,
        )
        self.loss_fn = loss_function(self.model_config.task)
        self._val_logits: list[torch.Tensor] = []
        self._val_targets: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def on_train_epoch_start(self) -> None:
        sampler = getattr(self.trainer, "motiflens_sampler", None)
        if sampler is not None:
            sampler.set_epoch(self.current_epoch)

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        # Seed dropout and augmentation from (seed, epoch, batch) so they never depend on
        # what consumed random numbers before: a resumed run repeats the uninterrupted one.
        seed = self.training_config.seed
        torch.manual_seed((seed * 1_000_003 + self.current_epoch) * 1_000_003 + batch_idx)

    def training_step(
        self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int
    ) -> torch.Tensor:
        x, y = batch
        if self.training_config.reverse_complement:
            flip = torch.rand(x.shape[0], device=x.device) < 0.5
            x = torch.where(flip[:, None, None], x.flip(1, 2), x)
        loss = self.loss_fn(self.model(x), y)
        self.log("train_loss", loss, on_step=False, on_epoch=True, prog_bar=True, sync_dist=True)
        return loss

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        max_norm = self.training_config.max_norm
        if max_norm:
            # Basset's maxParamNorm: cap the norm of each unit's incoming weight vector.
            with torch.no_grad():
                for module in self.model.modules():
                    if isinstance(module, nn.Conv1d | nn.Linear):
                        w = module.weight
                        w.copy_(torch.renorm(w, 2, 0, max_norm))

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, y = batch
        logits = self.model(x)
        self.log("val_loss", self.loss_fn(logits, y), on_epoch=True, prog_bar=True, sync_dist=True)
        self._val_logits.append(logits.detach())
        self._val_targets.append(y.detach())

    def on_validation_epoch_end(self) -> None:
        if not self._val_logits:
            return
        logits = torch.cat(self._val_logits)
        targets = torch.cat(self._val_targets)
        self._val_logits.clear()
        self._val_targets.clear()
        if self.trainer.world_size > 1:
            logits = self.all_gather(logits).reshape(-1, logits.shape[-1])
            targets = self.all_gather(targets).reshape(-1, targets.shape[-1])
        metrics = per_target_metrics(
            targets.float().cpu().numpy(), logits.float().cpu().numpy(), task=self.model_config.task
        )
        if self.model_config.task == "binary":
            auroc = float(np.nanmean(metrics["auroc"])) if metrics["auroc"].notna().any() else 0.0
            auprc = float(np.nanmean(metrics["auprc"])) if metrics["auprc"].notna().any() else 0.0
            self.log("val_auroc", auroc, prog_bar=True, rank_zero_only=False)
            self.log("val_auprc", auprc, rank_zero_only=False)
        else:
            r = metrics["pearson"]
            self.log("val_pearson", float(np.nanmean(r)) if r.notna().any() else 0.0, prog_bar=True)

    def configure_optimizers(self) -> Any:
        cfg = self.training_config
        if cfg.optimizer == "rmsprop":
            opt = torch.optim.RMSprop(self.parameters(), lr=cfg.lr, alpha=cfg.alpha)
        elif cfg.optimizer == "adam":
            opt = torch.optim.Adam(self.parameters(), lr=cfg.lr)
        else:
            raise ValueError(f"unknown optimizer {cfg.optimizer!r}; use rmsprop or adam")
        if not cfg.lr_halve_every:
            return opt
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=cfg.lr_halve_every, gamma=0.5)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "epoch"}}


class MetricsWriter(Callback):
    """Write the run's metrics table (``Run.training_table``) after every epoch.

    One row per epoch, epochs counted from 1 (Lightning's ``current_epoch`` + 1), as a
    person reads them in the table, the manifest and the figure.
    """

    def __init__(self, run: Run) -> None:
        self.path = run.training_table
        self.rows: list[dict[str, float]] = []
        self._t0 = time.perf_counter()

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # A resumed run continues the table it left (rows of re-run epochs are replaced).
        if self.path.exists() and trainer.ckpt_path:
            self.rows = pd.read_csv(self.path, sep="\t").to_dict("records")

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._t0 = time.perf_counter()

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        row = {"epoch": trainer.current_epoch + 1}
        for key, value in trainer.callback_metrics.items():
            row[key] = float(value)
        row["lr"] = float(trainer.optimizers[0].param_groups[0]["lr"])
        row["seconds"] = round(time.perf_counter() - self._t0, 2)
        self.rows = [r for r in self.rows if r["epoch"] < row["epoch"]] + [row]
        if trainer.is_global_zero:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(self.path) as tmp:
                pd.DataFrame(self.rows).to_csv(tmp, sep="\t", index=False)


class EpochLines(Callback):
    """Plain lines for a log: one at the start, one per epoch, and a heartbeat in long epochs.

    What a batch job (SLURM, nohup) shows instead of the progress bar, whose
    carriage-return frames a log cannot show::

        training basset: 4 million parameters, 70,000 training sequences, 546 batches per epoch, ...
        epoch 1/100: train_loss 0.4512, val_loss 0.4123, val_auroc 0.7811 (62.3 s)

    Parameters
    ----------
    heartbeat
        Also a line within an epoch at most every :data:`HEARTBEAT_SECONDS` (an epoch of
        a large dataset takes many minutes); off with ``--no-progress``.
    echo
        Where the lines go (default: print to stdout, flushed).
    """

    #: The metrics an epoch line shows, in this order, when they are logged.
    METRICS = ("train_loss", "val_loss", "val_auroc", "val_pearson")

    def __init__(self, *, heartbeat: bool = True, echo: Callable[[str], None] | None = None):
        self.heartbeat = heartbeat
        self.echo = echo or (lambda line: print(line, flush=True))
        self._t0 = self._last = time.perf_counter()

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # on_train_start, not on_fit_start: the data loaders are set up by now
        if not trainer.is_global_zero:
            return
        model = getattr(pl_module, "model", pl_module)
        params = sum(p.numel() for p in model.parameters())
        name = getattr(getattr(model, "config", None), "name", type(model).__name__)
        batches = trainer.num_training_batches
        loader = trainer.train_dataloader
        sequences = len(loader.dataset) if loader is not None else None  # type: ignore[arg-type]
        parts = [f"training {name}: {format_count(params)} parameters"]
        if sequences is not None:
            parts.append(f"{sequences:,} training sequences")
        if isinstance(batches, int):
            parts.append(f"{batches:,} batches per epoch")
        parts.append(f"up to {trainer.max_epochs} epochs")
        self.echo(", ".join(parts))

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._t0 = self._last = time.perf_counter()

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, i: int
    ) -> None:
        now = time.perf_counter()
        if not (
            self.heartbeat and trainer.is_global_zero and now - self._last >= HEARTBEAT_SECONDS
        ):
            return
        self._last = now
        total = trainer.num_training_batches
        done = f"batch {i + 1:,}"
        if isinstance(total, int) and total > 0:
            done += f"/{total:,} ({100 * (i + 1) / total:.0f}%)"
        self.echo(
            f"epoch {trainer.current_epoch + 1}/{trainer.max_epochs}: {done}, "
            f"{now - self._t0:.0f} s"
        )

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        seconds = time.perf_counter() - self._t0
        metrics = trainer.callback_metrics
        shown = [f"{key} {float(metrics[key]):.4f}" for key in self.METRICS if key in metrics]
        self.echo(
            f"epoch {trainer.current_epoch + 1}/{trainer.max_epochs}: "
            f"{', '.join(shown) or 'no metrics'} ({seconds:.1f} s)"
        )


@dataclass
class TrainResult:
    """What :func:`train` produced.

    Attributes
    ----------
    run
        The run directory.
    best_epoch
        The epoch (from 1) whose weights ``model.safetensors`` holds; None if unknown.
    best_score
        The monitored metric at that epoch (None when never finite).
    monitor
        The metric that picked the best epoch.
    epochs
        Epochs trained (including those before a resume).
    dataset
        The dataset file trained on (absolute).
    outputs
        Files written (the weights, config, target names and metrics table).
    is_global_zero
        Whether this process is rank 0 (the one that wrote the files); the others of
        a multi-process run return a result too, with nothing to record.
    """

    run: Run
    best_epoch: int | None
    best_score: float | None
    monitor: str
    epochs: int
    dataset: Path | None = None
    outputs: list[Path] = field(default_factory=list)
    is_global_zero: bool = True

    @property
    def run_dir(self) -> Path:
        """The run directory's path."""
        return self.run.path

    def manifest_info(self) -> dict[str, object]:
        """What the manifest's ``train`` step records besides the outputs."""
        return {
            "dataset": None if self.dataset is None else str(self.dataset),
            "best_epoch": self.best_epoch,
            "best_score": self.best_score,
            "monitor": self.monitor,
        }

    def __str__(self) -> str:
        score = "n/a" if self.best_score is None else f"{self.best_score:.4f}"
        best = "?" if self.best_epoch is None else self.best_epoch
        return (
            f"run directory {self.run.path}\n"
            f"trained {self.epochs} epoch(s); best {self.monitor} {score} "
            f"at epoch {best} ({self.run.weights_path.name} holds that epoch's weights)"
        )


def monitor_for(task: str, has_valid: bool, monitor: str) -> tuple[str, str]:
    """The metric that picks the best epoch, and whether it is maximised or minimised.

    ``monitor="auto"``: mean validation AUROC for binary tasks, validation loss otherwise,
    training loss without a validation split. Returns ``(metric, "max" | "min")``.
    """
    if monitor != "auto":
        return monitor, ("max" if monitor in ("val_auroc", "val_auprc", "val_pearson") else "min")
    if not has_valid:
        return "train_loss", "min"
    return ("val_auroc", "max") if task == "binary" else ("val_loss", "min")


def _dataset(path: Path, split: str) -> SequenceDataset:
    probe = SequenceDataset(path, split)
    in_memory = len(probe) * 4 * probe.length * 4 < IN_MEMORY_BYTES
    return SequenceDataset(path, split, in_memory=True) if in_memory else probe


def _guard_device(accelerator: str, strategy: str) -> str:
    """Where the resource guard checks memory: the GPU when training will run on one.

    CUDA is not queried for fork-based strategies (the workers could not use it after).
    """
    if "fork" in strategy or "notebook" in strategy:
        return "cpu"
    if accelerator in ("gpu", "cuda") or (accelerator == "auto" and num_cuda_devices() > 0):
        return "cuda"
    return "cpu"


def train(
    dataset: str | Path,
    run: Run | str | Path,
    config: RunConfig,
    *,
    resume: bool = False,
    devices: int | str = "auto",
    num_nodes: int = 1,
    strategy: str = "auto",
    accelerator: str = "auto",
    verbose: bool = True,
    log_epochs: bool = True,
    check_resources: bool = True,
    callbacks: list[Callback] | None = None,
) -> TrainResult:
    """Train a model on a dataset file into a run directory.

    Writes the config, the best epoch's weights, the target names, the checkpoints and
    the metrics table; draws no figure and records no manifest step (see
    :func:`motiflens.steps.train`, which does both).

    Parameters
    ----------
    dataset
        Dataset file with ``train`` (and ideally ``valid``) splits.
    run
        The run directory (a :class:`~motiflens.runs.Run` or its path; created).
    config
        Model + training configuration. ``model.n_targets`` and ``model.length`` are taken
        from the dataset when left at 0.
    resume
        Continue from the run's last checkpoint (``Run.last_checkpoint``).
    devices, num_nodes, strategy, accelerator
        Passed to Lightning's Trainer (e.g. ``devices=2, strategy="ddp"``).
    verbose
        Show the progress bar where it can be seen (a terminal or a notebook). Elsewhere
        (a batch job's log) a line every :data:`HEARTBEAT_SECONDS` within an epoch
        stands in for it.
    log_epochs
        Where no bar is shown (no terminal, or ``verbose=False``): a line at the start and
        one per epoch (epoch, train and validation loss, validation AUROC, seconds).
    check_resources
        Refuse, before anything is written or allocated, a model too big for this machine
        (parameters, memory of a training step at the batch size) or with a kernel or pool
        wider than the input (:func:`motiflens.models.check_resources`). False, or
        ``MOTIFLENS_NO_RESOURCE_CHECK=1``, skips it.
    callbacks
        Extra Lightning callbacks, added to motiflens's own (checkpoints, early
        stopping, metrics table); e.g. the pruning callback of :mod:`motiflens.tuning`.

    Returns
    -------
    TrainResult

    Raises
    ------
    FileNotFoundError
        ``resume`` without a last checkpoint.
    InputError
        The resource guard refuses the model (with the figures and the override).
    """
    dataset = Path(dataset)
    run = as_run(run)
    # Lightning's start-up chatter (accelerator lines, tips) drowns the useful output.
    logging.getLogger("lightning.pytorch.utilities.rank_zero").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*LeafSpec.*is deprecated")
    probe = SequenceDataset(dataset, "train")
    config = config.fitted_to(n_targets=probe.n_targets, length=probe.length)
    mcfg, tcfg = config.model, config.training
    # Before the data is loaded and anything is written: a config too big for the machine
    # fails at once with the figures, not after an allocation of hundreds of GB.
    guard_resources(
        mcfg,
        batch_size=tcfg.batch_size,
        device=_guard_device(accelerator, strategy),
        check=check_resources,
    )
    train_ds = _dataset(dataset, "train")
    try:
        valid_ds: SequenceDataset | None = _dataset(dataset, "valid")
    except Exception:
        valid_ds = None
        log.warning("the dataset has no validation split: early stopping watches train_loss")

    last = run.last_checkpoint
    if resume and not last.exists():
        raise FileNotFoundError(f"cannot resume: {last} does not exist")
    run.path.mkdir(parents=True, exist_ok=True)
    if not resume:
        for stale in run.checkpoints_dir.glob("*.ckpt"):  # a fresh run must not resume old state
            stale.unlink()
    run.save_config(config)

    L.seed_everything(tcfg.seed, workers=True, verbose=False)
    # Checked above, with the device; the module's own build need not repeat it.
    module = SequenceModule(mcfg.to_dict(), tcfg.to_dict(), check_resources=False)
    # In memory: a full permutation each epoch; on disk: shuffled blocks of HDF5 chunks.
    block = 1 if train_ds.in_memory else train_ds.chunk_rows
    sampler = ChunkedShuffleSampler(len(train_ds), block=block, seed=tcfg.seed)
    train_dl = DataLoader(
        train_ds,
        batch_size=tcfg.batch_size,
        sampler=sampler,
        num_workers=tcfg.num_workers,
        drop_last=len(train_ds) > tcfg.batch_size,
    )
    valid_dl = (
        DataLoader(valid_ds, batch_size=max(tcfg.batch_size, 256), num_workers=tcfg.num_workers)
        if valid_ds is not None
        else None
    )
    monitor, mode = monitor_for(mcfg.task, valid_ds is not None, tcfg.monitor)
    # Fixed names, overwritten in place: resume always finds the last checkpoint.
    best_ckpt = ModelCheckpoint(
        dirpath=run.checkpoints_dir,
        filename="best",
        monitor=monitor,
        mode=mode,
        save_last=True,
        enable_version_counter=False,
    )
    stopper = EarlyStopping(monitor=monitor, mode=mode, patience=tcfg.patience, check_finite=False)
    # The bar only where a person sees it; in a log its frames would be one endless line
    # (and nothing for the many minutes of an epoch), so plain lines stand in for it.
    bar = verbose and interactive(sys.stdout)
    lines = [EpochLines(heartbeat=verbose)] if log_epochs and not bar else []
    trainer = L.Trainer(
        max_epochs=tcfg.max_epochs,
        accelerator=accelerator,
        devices=devices,
        num_nodes=num_nodes,
        strategy=strategy,
        callbacks=[best_ckpt, stopper, MetricsWriter(run), *lines, *(callbacks or [])],
        logger=False,
        enable_progress_bar=bar,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        gradient_clip_val=tcfg.grad_clip,
        gradient_clip_algorithm="value" if tcfg.grad_clip else None,
        default_root_dir=run.path,
    )
    trainer.motiflens_sampler = sampler  # type: ignore[attr-defined]
    keep_freed_memory()
    trainer.fit(
        module,
        train_dl,
        valid_dl,
        ckpt_path=str(last) if resume else None,
        weights_only=True,
    )
    best_path = best_ckpt.best_model_path or str(last)
    if trainer.is_global_zero:
        state = torch.load(best_path, map_location="cpu", weights_only=True)["state_dict"]
        weights = {k.removeprefix("model."): v for k, v in state.items() if k.startswith("model.")}
        module.model.load_state_dict(weights)
        run.save_model(module.model, config)
        run.write_target_labels(dataset_target_labels(dataset))
    score = best_ckpt.best_model_score
    best_score = None if score is None or math.isnan(float(score)) else float(score)
    return TrainResult(
        run,
        best_epoch=_best_epoch(run.training_table, monitor, best_score),
        best_score=best_score,
        monitor=monitor,
        epochs=trainer.current_epoch,
        dataset=dataset.resolve(),
        outputs=[run.config_path, run.weights_path, run.target_labels_path, run.training_table],
        is_global_zero=trainer.is_global_zero,
    )


def _best_epoch(table: Path, monitor: str, best_score: float | None) -> int | None:
    """The epoch (from 1, as the table counts) whose ``monitor`` value is ``best_score``."""
    if best_score is None or not table.exists():
        return None
    rows = pd.read_csv(table, sep="\t")
    if monitor not in rows:
        return None
    return int(rows.loc[(rows[monitor] - best_score).abs().idxmin(), "epoch"])
