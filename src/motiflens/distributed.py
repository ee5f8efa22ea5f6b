"""Run one function on shards of the work in several processes; merge on rank 0.

Batch prediction, ISM and variant scoring are embarrassingly parallel: every sequence is
computed on its own. :func:`run_sharded` starts the processes with Lightning Fabric (the
same ``devices``/``num_nodes``/``strategy``/``accelerator`` arguments, launchers and
cluster environments, SLURM included, as ``motiflens train``'s Trainer), runs
``work(shard)`` in each, gathers what each returns on rank 0, and calls ``merge`` there.
One process on one CPU takes the same path with a world of one.

The work is split into *units* (a batch of sequences, a chunk of ISM) numbered in input
order; unit ``u`` belongs to rank ``u % world_size`` (round robin: balanced, and it works
on streams whose length is not known in advance). Each rank writes its units, in order,
to its own part file in a scratch directory beside the output; rank 0 interleaves the
parts back into input order (:func:`merge_units`, or a reader of its own for binary
parts) and writes the final file atomically, so the output is the one a single process
writes. With several nodes the output's directory must be on a file system every node
sees (the run directory already is, since every process loads the model from it).

Why Fabric and not ``Trainer.predict``: the per-process work here is plain Python over
streamed input (FASTA parsing, ISM's chunked engine, a VCF reader), not a LightningModule
over a DataLoader. Fabric gives the launchers, cluster environments and collectives
without that structure, and nothing of motiflens' own (no protocol, no ports).

Launching: with ``strategy="ddp"`` (or ``"auto"`` with several devices) Lightning starts
the other local processes by **re-running the command line** (``sys.argv``), so call this
from a command or script, once per command (or the same number of times in the same
order on every rank). From a notebook or an interactive session use
``strategy="ddp_spawn"``; ``work`` and ``merge`` must then be picklable (module-level
functions, :func:`functools.partial`).
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import torch

from motiflens.errors import InputError
from motiflens.files import atomic_path, temp_token

T = TypeVar("T")
R = TypeVar("R")

# Where Lightning logs its start-up lines (rank_zero_info goes to whichever of the last two
# was imported last).
_CHATTY_LOGGERS = (
    "lightning.fabric.utilities.distributed",
    "lightning.fabric.utilities.rank_zero",
    "lightning.pytorch.utilities.rank_zero",
)

# The variables Lightning reads a process's rank from, in its order of precedence.
_RANK_VARIABLES = ("RANK", "LOCAL_RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK")
# what Lightning takes for devices on the command line: a count, auto, -1, or indices
_DEVICES = re.compile(r"^(?:auto|-1|\d+|\d+(?:\s*,\s*\d+)*\s*,?)$")


@dataclass(frozen=True)
class Launch:
    """How many processes, where: Lightning Fabric's arguments.

    Attributes
    ----------
    devices
        Devices per node: an int, ``"auto"``, or a device list such as ``"0,1"``.
    num_nodes
        Machines.
    strategy
        ``"auto"``, ``"ddp"`` (from a command; re-runs it per process), ``"ddp_spawn"``
        (from Python), ...
    accelerator
        ``"auto"``, ``"cpu"``, ``"gpu"``/``"cuda"``, ``"mps"``.
    """

    devices: int | str = 1
    num_nodes: int = 1
    strategy: str = "auto"
    accelerator: str = "auto"

    @classmethod
    def from_cli(
        cls,
        devices: str = "1",
        num_nodes: int = 1,
        strategy: str = "auto",
        accelerator: str = "auto",
    ) -> Launch:
        """From command-line strings: ``"2"`` becomes 2, ``auto`` and lists stay as given.

        Raises
        ------
        InputError
            ``devices`` is 0 or not a count, ``auto``, ``-1`` or a list such as ``0,1``;
            ``num_nodes`` is below 1.
        """
        text = str(devices).strip()
        if (text.isdigit() and int(text) == 0) or not _DEVICES.match(text):
            raise InputError(
                f"--devices {text!r} is not a device count or list",
                hint="give a count of 1 or more, auto, -1 (all), or device indices such as 0,1",
            )
        if num_nodes < 1:
            raise InputError(f"--num-nodes {num_nodes} must be 1 or more")
        return cls(int(text) if text.isdigit() else text, num_nodes, strategy, accelerator)

    @property
    def single(self) -> bool:
        """Whether this asks for exactly one process (and no multi-process strategy)."""
        one = self.devices in (1, "1") or (
            isinstance(self.devices, str) and self.devices.strip() in ("0", "0,")
        )
        return one and self.num_nodes == 1 and self.strategy in ("auto", "single_device")


@dataclass(frozen=True)
class Shard:
    """One process's view of a sharded job.

    Attributes
    ----------
    rank
        This process's global rank, ``0 .. world_size - 1``.
    world_size
        Number of processes.
    device
        The device this process computes on (``cuda:<local rank>`` on GPUs, else CPU).
    scratch
        A directory all ranks share for their part files; removed after the merge.
    """

    rank: int
    world_size: int
    device: torch.device
    scratch: Path

    @property
    def is_zero(self) -> bool:
        """Whether this is rank 0 (the one that merges, shows progress and warns)."""
        return self.rank == 0

    def owns(self, unit: int) -> bool:
        """Whether work unit ``unit`` (0-based, in input order) is this rank's."""
        return unit % self.world_size == self.rank

    def units(self, n_units: int) -> range:
        """This rank's units of ``n_units``, in order."""
        return range(self.rank, n_units, self.world_size)

    def part(self, suffix: str = "") -> Path:
        """This rank's part file in the scratch directory (``part-00003.tsv``)."""
        return self.scratch / f"part-{self.rank:05d}{suffix}"


def env_rank() -> int:
    """This process's rank as the launcher set it in the environment (0 when unset).

    Lets a command stay quiet in the processes that are not rank 0 before any process
    group exists (Lightning's re-launched processes, ``srun`` tasks).
    """
    for key in _RANK_VARIABLES:
        value = os.environ.get(key)
        if value is not None and value.strip().lstrip("-").isdigit():
            return int(value)
    return 0


def run_sharded(
    work: Callable[[Shard], T],
    merge: Callable[[list[T]], R],
    *,
    near: str | Path,
    launch: Launch | None = None,
    device: str | torch.device | None = None,
) -> R | None:
    """Run ``work`` on every process, then ``merge`` the results on rank 0.

    Parameters
    ----------
    work
        Called once per process with its :class:`Shard`; handles the units the shard
        owns (writing them to ``shard.part(...)``) and returns something small and
        picklable (part path, counts): it is sent to rank 0.
    merge
        Called on rank 0 with the ``work`` results of all ranks, in rank order.
    near
        The output file: the scratch directory is created beside it
        (``.<name>.shards-<pid>@<host>-<hex>``, on the same file system; a later run
        removes it if this one dies).
    launch
        Processes to run (default one, on the default accelerator).
    device
        One explicit device (e.g. ``"cpu"``, ``"cuda:1"``) for a single-process launch.

    Returns
    -------
    object or None
        ``merge``'s result in the process that holds rank 0 (with ``ddp_spawn``, the
        calling process), None in the others.

    Raises
    ------
    Exception
        What ``work`` raised; in a multi-process run, a process whose own work succeeded
        raises an InputError (for bad input: an InputError or ValueError there) or a
        RuntimeError naming the rank that failed and why. Every rank gets past the
        gather, so none is left waiting.
    """
    from lightning.fabric import Fabric

    # Lightning's start-up lines ("Initializing distributed: ...") once per process
    # drown the command's own output; its warnings still show.
    for name in _CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    launch = launch or Launch()
    kwargs: dict[str, Any] = {
        "accelerator": launch.accelerator,
        "devices": launch.devices,
        "num_nodes": launch.num_nodes,
        "strategy": launch.strategy,
    }
    if device is not None:
        if not launch.single:
            raise ValueError("an explicit device needs a single-process launch; use devices=...")
        dev = torch.device(device)
        kwargs.update(strategy="auto", num_nodes=1)
        if dev.type == "cuda":
            kwargs.update(accelerator="cuda", devices=[dev.index or 0])
        else:
            kwargs.update(accelerator=dev.type, devices=1)
    fabric = Fabric(**kwargs)
    return fabric.launch(_worker, work, merge, Path(near))


def run_inline(
    work: Callable[[Shard], T],
    merge: Callable[[list[T]], R],
    *,
    near: str | Path,
    world_size: int,
    device: str | torch.device = "cpu",
) -> R:
    """Run the ranks of a ``world_size`` job one after another in this process, then merge.

    The same split into units and the same merge as :func:`run_sharded`, without
    processes: for tests and for checking a new ``work``/``merge`` pair.
    """
    near = Path(near)
    scratch = _scratch(near, temp_token())
    try:
        results = [
            work(Shard(rank, world_size, torch.device(device), scratch))
            for rank in range(world_size)
        ]
        return merge(results)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _scratch(near: Path, token: str) -> Path:
    path = near.parent / f".{near.name}.shards-{token}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _worker(
    fabric: Any, work: Callable[[Shard], T], merge: Callable[[list[T]], R], near: Path
) -> R | None:
    rank, world = fabric.global_rank, fabric.world_size
    token = temp_token() if rank == 0 else ""
    if world > 1:
        token = fabric.broadcast(token, src=0)
    scratch = _scratch(near, token)
    shard = Shard(rank, world, fabric.device, scratch)
    try:
        if world == 1:
            return merge([work(shard)])
        own_error: Exception | None = None
        try:
            outcome: tuple[str, Any] = ("ok", work(shard))
        except Exception as err:  # reported to every rank below, then raised here
            own_error = err
            outcome = ("error", isinstance(err, ValueError), f"{type(err).__name__}: {err}")
        outcomes: list[Any] = [None] * world
        torch.distributed.all_gather_object(outcomes, outcome)
        # The last collective: every rank leaves the process group here, together. A
        # spawned process that exited with the group's threads still running aborted now
        # and then ("terminate called without an active exception"; about 1 test run in
        # 10 on 2 cores), and the launcher reported a signal instead of the result.
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
        failed = [(r, o) for r, o in enumerate(outcomes) if o[0] == "error"]
        if own_error is not None:
            raise own_error
        if failed:
            r, (_, bad_input, message) = failed[0]
            # bad input found by another rank is still bad input (a clean CLI message)
            kind = InputError if bad_input else RuntimeError
            raise kind(f"process {r} of {world} stopped: {message}")
        return merge([o[1] for o in outcomes]) if rank == 0 else None
    finally:
        # rank 0 removes the scratch directory only after the gather: all parts are written
        if rank == 0:
            shutil.rmtree(scratch, ignore_errors=True)


# ------------------------------------------------------------------ text parts


def write_units(path: str | Path, units: Iterable[Iterable[str]]) -> list[int]:
    """Write lines (each ending in a newline) unit by unit; return the lines per unit.

    A rank's part file for :func:`merge_units`. Units may be empty (0 lines).
    """
    counts: list[int] = []
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        for lines in units:
            n = 0
            for line in lines:
                fh.write(line)
                n += 1
            counts.append(n)
    return counts


def round_robin(units_per_rank: Sequence[int]) -> Iterator[tuple[int, int]]:
    """``(rank, k)`` of units 0, 1, 2, ... in input order: unit ``u`` is rank ``u % W``'s
    ``k = u // W``-th unit. Stops at the first unit no rank has."""
    world = len(units_per_rank)
    for u in itertools.count():
        rank, k = u % world, u // world
        if k >= units_per_rank[rank]:
            return
        yield rank, k


def merge_units(
    parts: Sequence[str | Path | None],
    counts: Sequence[Sequence[int]],
    out: str | Path,
    *,
    header: str = "",
) -> int:
    """Interleave the ranks' part files back into input order and write ``out`` atomically.

    Parameters
    ----------
    parts
        One text file per rank (None for a rank without units), as :func:`write_units`
        wrote them.
    counts
        Lines of each unit, per rank, in the order written.
    out
        The merged file; written under a temporary name and renamed when complete.
    header
        Text written first (e.g. a TSV header line, with its newline).

    Returns
    -------
    int
        Lines written after the header.
    """
    if len(parts) != len(counts):
        raise ValueError(f"{len(parts)} part files but {len(counts)} lists of unit sizes")
    total = 0
    handles = [None if p is None else open(p, "rb") for p in parts]
    try:
        with atomic_path(out) as tmp, open(tmp, "wb") as fh:
            fh.write(header.encode("utf-8"))
            if len(handles) == 1 and handles[0] is not None:
                shutil.copyfileobj(handles[0], fh, 1 << 20)  # one part: already in order
                total = sum(counts[0])
            else:
                for rank, k in round_robin([len(c) for c in counts]):
                    n = counts[rank][k]
                    fh.writelines(itertools.islice(handles[rank], n))  # type: ignore[arg-type]
                    total += n
    finally:
        for handle in handles:
            if handle is not None:
                handle.close()
    return total
