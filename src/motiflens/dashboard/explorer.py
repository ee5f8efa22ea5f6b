"""The sequence explorer: a run's model, loaded once, answering one sequence at a time.

Every computation goes through the same API as the CLI verbs: predictions through
:func:`motiflens.prediction.predict_array`, ISM through
:func:`motiflens.explain.ism.saturation_mutagenesis` (the fast exact path) and
:func:`~motiflens.explain.ism.loss_gain`, attributions through
:func:`motiflens.explain.saliency.attribute` (gradient x input) and temporal scores through
:func:`motiflens.explain.temporal.temporal_scores`. The web server runs requests in a
thread pool, so one lock serialises everything that touches the model (the explain
functions switch its mode and ``requires_grad`` while they run).

Input rules
-----------
A pasted sequence may start with one FASTA header line; whitespace anywhere is dropped;
the letters must be A, C, G, T or N (any case). It may be at most the model's input
length ``L``. A shorter one is centre-padded with N to ``L`` (as ``motiflens predict``
does) and only its own bases are mutated and shown. A genome region ``chrom:start-end``
(1-based, inclusive, as genome browsers write it; commas allowed) is read from the
``--genome`` FASTA as the ``L`` bp window centred on it (shifted to stay inside the
chromosome), with the region itself shown, at genome positions.

Concurrency
-----------
The web server runs requests in a few worker threads
(:class:`~motiflens.dashboard.pool.WorkPool`). The explain functions switch a model's
mode and ``requires_grad`` while they run, so no two threads may use one model at once:
the explorer holds ``replicas`` copies of the model (one per worker) and each
computation takes a free one for its model calls, so the workers compute side by side.
The ROC/PR curves are computed once per dataset file and test-step setting and kept.

Loci
----
A region longer than the model's input (up to :data:`MAX_LOCUS` bp) is a *locus*:
:meth:`Explorer.locus` tiles it into model windows with a stride of half the input
(:func:`motiflens.scanning.window_starts`), predicts every window
(:func:`~motiflens.scanning.predict_windows`) and gives each base the mean of the windows
covering it (:func:`~motiflens.scanning.per_base`). A ``position`` inside the locus picks
the model window centred on it (kept inside the locus) for the usual explanation.
"""

from __future__ import annotations

import contextlib
import copy
import queue
import re
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd
import torch
from numpy.lib.stride_tricks import sliding_window_view

from motiflens.dashboard.curves import roc_pr_curves
from motiflens.dashboard.data import clean_motif_name, json_safe
from motiflens.data.hdf5 import to_float_onehot
from motiflens.errors import InputError
from motiflens.explain.inputs import resolve_targets
from motiflens.explain.ism import loss_gain, saturation_mutagenesis
from motiflens.explain.saliency import attribute
from motiflens.explain.temporal import temporal_scores
from motiflens.models import predict_transform
from motiflens.motifs.meme import read_meme
from motiflens.motifs.pwm import log_odds
from motiflens.prediction import predict_array
from motiflens.runs import Run, as_run
from motiflens.scanning import per_base, predict_windows, region_onehot, window_starts
from motiflens.sequence.fasta import Genome
from motiflens.sequence.onehot import codes_to_onehot, decode, one_hot
from motiflens.sequence.regions import parse_region

__all__ = [
    "LOCUS_TARGETS",
    "MAX_FREE_LENGTH",
    "MAX_LOCUS",
    "Explorer",
    "SequenceInput",
    "filter_thresholds",
    "parse_region",
    "parse_sequence",
    "tested_with_reverse_complement",
]

#: Longest pasted sequence for a model without a fixed input length (the RNNs).
MAX_FREE_LENGTH = 5000
#: Longest locus the explorer tiles into model windows: 100 kb is 333 windows of a 600 bp
#: Basset (measured: 9 s with 164 targets on two shared CPU cores, 2.4 MB of JSON for
#: three targets) and a per-base track of 100,000 points a target, about what one answer
#: and one Plotly line should carry.
MAX_LOCUS = 100_000
#: Targets drawn on a locus track when the request names none: the highest peaks.
LOCUS_TARGETS = 3
#: Filter hits and database-motif hits returned per sequence at most, each (the strongest).
MAX_MATCHES = 30
#: A filter "matches" where its activation reaches this fraction of its largest possible
#: value (Basset's filter PWMs used half of the largest activation seen in the data).
MATCH_FRACTION = 0.5
#: A database motif matches where its log-odds score is at least this far (as a fraction)
#: from its lowest to its highest possible score (the "85%" relative score of TFBSTools).
MOTIF_FRACTION = 0.85
#: The explorer's match tracks, each drawn and labelled apart: filters matched to a
#: database motif, filters without a match, database motifs the filters matched
#: (``explain/filters/matched.meme``) and TF-MoDISco patterns scanned over the sequence.
TRACKS = {
    "filter": "annotated filters",
    "unannotated": "unannotated filters",
    "motif": "JASPAR hits",
    "modisco": "modisco hits",
}
#: Test sequences scored for the ROC/PR curves (and the report's top sequences) at most:
#: about half a minute for Basset at 600 bp on two CPU cores.
CURVE_SEQUENCES = 5000
#: Points per ROC/PR curve sent to the browser at most.
CURVE_POINTS = 300


class SequenceInput:
    """One sequence ready for the model.

    Attributes
    ----------
    name
        Header, region or test-sequence name.
    x
        ``(1, 4, L)`` float32 one-hot model input.
    start, end
        The shown part of the input, 0-based half-open (the bases the user gave).
    note
        How the input was padded or placed, for the page.
    chrom, offset
        For a sequence read from the genome: its chromosome and the 0-based genome
        position of the input's first base (else ``None``).
    """

    def __init__(
        self,
        name: str,
        x: np.ndarray,
        start: int,
        end: int,
        note: str = "",
        chrom: str | None = None,
        offset: int | None = None,
    ) -> None:
        self.name, self.x, self.start, self.end, self.note = name, x, start, end, note
        self.chrom, self.offset = chrom, offset

    @property
    def genome_start(self) -> int | None:
        """1-based genome position of the first shown base (``None``: not from the genome)."""
        return None if self.offset is None else self.offset + self.start + 1

    @property
    def sequence(self) -> str:
        """The shown bases as letters."""
        return str(decode(self.x[0, :, self.start : self.end]))


def parse_sequence(text: str, max_length: int | None) -> tuple[str, str]:
    """A pasted sequence (optionally with one FASTA header) -> ``(name, bases)``.

    Raises
    ------
    InputError
        Empty input, a second FASTA record, a letter other than A/C/G/T/N (the message
        gives the letter and its position), or more than ``max_length`` bases.
    """
    lines = text.strip().splitlines()
    name = "pasted sequence"
    if lines and lines[0].lstrip().startswith(">"):
        name = lines[0].strip()[1:].strip()[:100] or name
        lines = lines[1:]
    if any(line.lstrip().startswith(">") for line in lines):
        raise InputError(
            "more than one FASTA record", hint="paste one sequence at a time (one > header)"
        )
    seq = "".join("".join(line.split()) for line in lines).upper()
    if not seq:
        raise InputError("no sequence given", hint="paste DNA letters (A, C, G, T, N)")
    bad = re.search(r"[^ACGTN]", seq)
    if bad:
        raise InputError(
            f"invalid character {bad.group()!r} at position {bad.start() + 1} of the sequence",
            hint="sequences may hold only A, C, G, T and N (any case); a FASTA header line "
            "starting with > may come first",
        )
    if max_length is not None and len(seq) > max_length:
        raise InputError(
            f"the sequence is {len(seq):,} bp; this model reads at most {max_length:,} bp",
            hint=f"paste at most {max_length:,} bp (shorter ones are centre-padded with N)",
        )
    return name, seq


def filter_thresholds(model: torch.nn.Module) -> np.ndarray | None:
    """Each first-layer filter's largest possible activation times :data:`MATCH_FRACTION`.

    The largest activation over all one-hot inputs is the sum over the filter's columns
    of its best base's weight, plus the bias, after folding the batch norm (eval mode)
    into the convolution. ``None`` for a model without a first conv layer (the RNN).
    """
    # Models with a first convolution expose it (and its activations); others have none.
    if not hasattr(model, "first_activation"):
        return None
    block = model.first_block
    w = block.conv.weight.detach().double().cpu()
    b = (
        block.conv.bias.detach().double().cpu()
        if block.conv.bias is not None
        else torch.zeros(w.shape[0], dtype=torch.float64)
    )
    if isinstance(block.bn, torch.nn.BatchNorm1d):
        bn = block.bn
        scale = (bn.weight if bn.affine else torch.ones_like(bn.running_var)).detach()
        scale = scale.double().cpu() / torch.sqrt(bn.running_var.double().cpu() + bn.eps)
        shift = (bn.bias if bn.affine else torch.zeros_like(bn.running_mean)).detach()
        w = w * scale[:, None, None]
        b = (b - bn.running_mean.double().cpu()) * scale + shift.double().cpu()
    best = w.max(dim=1).values.sum(dim=1) + b
    return (best.clamp(min=0) * MATCH_FRACTION).numpy()


class Explorer:
    """A run's model and what the explorer computes with it.

    Parameters
    ----------
    run
        A trained run (or its directory).
    genome
        Genome FASTA for ``chrom:start-end`` requests (optional).
    device
        Where to run the model (default CPU: the dashboard serves one sequence at a time).
    replicas
        Copies of the model, for that many computations at once (one per worker of the
        server's pool; see the module docstring).

    Attributes
    ----------
    reverse_complement
        Whether the test-split predictions (:meth:`test_predictions`, :meth:`curves`)
        average forward and reverse complement: as the run's test step recorded
        (:func:`tested_with_reverse_complement`). A pasted sequence's prediction is the
        forward one, the reference its ISM and attributions explain.

    Raises
    ------
    InputError
        The run directory has no model (the message says which file is missing).
    """

    def __init__(
        self,
        run: Run | str | Path,
        genome: str | Path | None = None,
        device: str = "cpu",
        replicas: int = 1,
    ) -> None:
        if replicas < 1:
            raise ValueError(f"replicas must be >= 1, not {replicas}")
        self.run = as_run(run)
        self.model = self.run.model(device)
        # Free copies of the model; a computation takes one for its model calls.
        self._free: queue.SimpleQueue[torch.nn.Module] = queue.SimpleQueue()
        self._free.put(self.model)
        for _ in range(replicas - 1):
            self._free.put(copy.deepcopy(self.model))
        self.replicas = replicas
        self.config = self.model.config
        self.labels = list(self.model.target_labels)
        # The input length the model was trained on, when fixed (None: any length).
        self.length: int | None = int(self.config.length) if self.config.length else None
        self.genome = Genome(genome) if genome is not None else None
        self.thresholds = filter_thresholds(self.model)
        self.filter_names = _filter_names(self.run)
        self.motifs = _matched_motifs(self.run)
        self.patterns = _matched_motifs(self.run, "modisco", "patterns.meme")
        self.dataset = self.run.dataset_or_none()
        # The test-split predictions (curves, the report's top sequences) are made as the
        # run's own test step made its metrics, so the curves give metrics/test.tsv's AUROC.
        self.reverse_complement = tested_with_reverse_complement(self.run)
        # (stamp, curves): one computation at a time, later callers wait for it.
        self._curves: tuple[Any, dict[str, Any]] | None = None
        self._curves_lock = threading.Lock()

    @contextlib.contextmanager
    def using_model(self) -> Iterator[torch.nn.Module]:
        """A copy of the model no other thread uses until the block ends (waits for one)."""
        model = self._free.get()
        try:
            yield model
        finally:
            self._free.put(model)

    # ----------------------------------------------------------------- inputs

    @property
    def is_rnn(self) -> bool:
        """Whether the model has temporal output scores (a recurrent model)."""
        return self.model.is_recurrent

    @staticmethod
    def check_target(target: Any) -> str | int | None:
        """``target`` when it is a name, an index or ``None``.

        Raises
        ------
        InputError
            Any other type; ``true``/``false`` are not indices (Python counts them as
            1 and 0, so they would pass as the second or first target unnoticed).
        """
        if target is None or (isinstance(target, str | int) and not isinstance(target, bool)):
            return target
        raise InputError(
            f"target must be a target name or index, not {_json_type(target)}",
            hint='e.g. "target": "K562" or "target": 0',
        )

    def target_index(self, target: str | int | None, default: int = 0) -> int:
        """A target name or index -> index (``None`` -> ``default``)."""
        target = self.check_target(target)
        if target is None or target == "":
            return default
        return resolve_targets([target], self.labels)[0]

    def from_text(self, text: str) -> SequenceInput:
        """A pasted sequence, validated and centre-padded to the model's length."""
        max_length = self.length if self.length is not None else MAX_FREE_LENGTH
        name, seq = parse_sequence(text, max_length)
        if len(seq) < self.model.min_length and self.length is None:
            raise InputError(f"this model needs at least {self.model.min_length} bp")
        length = self.length or len(seq)
        left = (length - len(seq)) // 2
        # As resize(): an odd extra N goes on the right, so the centre stays put.
        padded = "N" * left + seq + "N" * (length - len(seq) - left)
        note = (
            f"{len(seq)} bp centre-padded with N to the model's {length} bp"
            if len(seq) < length
            else ""
        )
        return SequenceInput(name, one_hot([padded])[:1], left, left + len(seq), note)

    def _genome_region(self, text: str) -> tuple[str, int, int, int]:
        """``chrom:start-end`` checked against the genome -> ``(chrom, start, end, size)``,
        0-based half-open, ``size`` the chromosome's length."""
        if self.genome is None:
            raise InputError(
                "this server has no genome", hint="restart it with --genome FASTA to use regions"
            )
        chrom, start, end = parse_region(text)
        size = self.genome.sizes.get(chrom)
        if size is None:
            raise InputError(f"chromosome {chrom!r} is not in the genome")
        if end > size:
            raise InputError(f"{text.strip()} runs past the end of {chrom} ({size:,} bp)")
        return chrom, start, end, size

    def from_region(self, text: str, position: int | None = None) -> SequenceInput:
        """A genome region read from ``--genome``: the model window centred on it.

        With ``position`` (1-based, inside the region): the model window centred on that
        base, shifted to stay inside the region when the region is at least as long as
        the model's input (else inside the chromosome), shown whole. This is how a click
        on a locus track is explained.
        """
        chrom, start, end, size = self._genome_region(text)
        if self.length is None and end - start > MAX_FREE_LENGTH:
            raise InputError(
                f"the region is {end - start:,} bp; this model is explained on at most "
                f"{MAX_FREE_LENGTH:,} bp"
            )
        length = self.length or (end - start)
        if size < length:
            raise InputError(f"{chrom} is shorter ({size:,} bp) than the model's {length:,} bp")
        if position is not None:
            return self._window_at(chrom, start, end, size, position, text.strip())
        if end - start > length:
            raise InputError(
                f"the region is {end - start:,} bp; this model reads at most {length:,} bp",
                hint=f"the page shows regions up to {MAX_LOCUS:,} bp as a locus track "
                "(POST /api/locus); to explain one window, also give a position in it",
            )
        w0 = min(max((start + end) // 2 - length // 2, 0), size - length)
        codes = self.genome.fetch_codes(chrom, np.array([w0]), length)
        x = codes_to_onehot(codes, np.float32)
        note = f"model window {chrom}:{w0 + 1:,}-{w0 + length:,}"
        return SequenceInput(
            f"{chrom}:{start + 1}-{end}", x, start - w0, end - w0, note, chrom=chrom, offset=w0
        )

    def _window_at(
        self, chrom: str, start: int, end: int, size: int, position: Any, region: str
    ) -> SequenceInput:
        """The model window centred on 1-based ``position`` of ``chrom:start-end``."""
        if isinstance(position, bool) or not isinstance(position, int):
            raise InputError(f"position must be a whole number, not {_json_type(position)}")
        if not start < position <= end:
            raise InputError(
                f"position {position:,} is outside {region}",
                hint=f"give a 1-based position from {start + 1:,} to {end:,}",
            )
        length = self.length or min(end - start, MAX_FREE_LENGTH)
        w0 = position - 1 - length // 2
        # Inside the locus when it can hold the window, so a click explains its own bases.
        lo, hi = (start, end - length) if end - start >= length else (0, size - length)
        w0 = min(max(w0, lo), hi)
        w0 = min(max(w0, 0), size - length)
        codes = self.genome.fetch_codes(chrom, np.array([w0]), length)
        x = codes_to_onehot(codes, np.float32)
        note = f"model window around {chrom}:{position:,} in {region}"
        return SequenceInput(
            f"{chrom}:{w0 + 1}-{w0 + length}", x, 0, length, note, chrom=chrom, offset=w0
        )

    def from_test(self, index: int) -> SequenceInput:
        """The ``index``-th sequence of the dataset's test split."""
        if self.dataset is None:
            raise InputError("the run's dataset file was not found", hint="paste a sequence")
        with h5py.File(self.dataset, "r") as h5:
            n = h5["test_in"].shape[0]
            if not 0 <= index < n:
                raise InputError(f"test sequence {index} does not exist (0..{n - 1})")
            x = to_float_onehot(h5["test_in"][index : index + 1])
            headers = h5.get("test_headers")
            name = _text(headers[index]) if headers is not None else f"test_{index}"
        return SequenceInput(name, x, 0, x.shape[-1])

    @staticmethod
    def check_request(request: dict[str, Any]) -> None:
        """Refuse a request whose ``sequence``, ``region`` or ``test_index`` has the wrong
        type (checked before any work is queued; :meth:`resolve` checks it too).

        Raises
        ------
        InputError
            ``sequence`` or ``region`` not a string, ``test_index`` not a whole number.
        """
        for key in ("sequence", "region"):
            value = request.get(key)
            if value is not None and not isinstance(value, str):
                raise InputError(f"{key} must be a string, not {_json_type(value)}")
        position = request.get("position")
        if position is not None and (isinstance(position, bool) or not isinstance(position, int)):
            raise InputError(f"position must be a whole number, not {_json_type(position)}")
        index = request.get("test_index")
        if index is None:
            return
        if isinstance(index, bool) or not isinstance(index, int | str):
            raise InputError(f"test_index must be a whole number, not {_json_type(index)}")
        if isinstance(index, str) and not index.strip().isdigit():
            raise InputError("test_index must be a whole number")

    def resolve(self, request: dict[str, Any]) -> SequenceInput:
        """The sequence of a request: ``sequence``, ``region`` or ``test_index``."""
        self.check_request(request)
        if request.get("sequence"):
            return self.from_text(request["sequence"])
        if request.get("region"):
            return self.from_region(request["region"], request.get("position"))
        if request.get("test_index") is not None:
            return self.from_test(int(request["test_index"]))
        raise InputError("give a sequence, a region or a test sequence")

    # ----------------------------------------------------------------- answers

    def predict(self, seq: SequenceInput) -> list[dict[str, Any]]:
        """Prediction (and logit) of every target."""
        with self.using_model() as model:
            logits = predict_array(model, seq.x)[0]
        return self._predictions(logits)

    def _predictions(self, logits: np.ndarray) -> list[dict[str, Any]]:
        preds = predict_transform(self.config.task, torch.from_numpy(logits)).numpy()
        return [
            {"target": t, "index": i, "prediction": float(p), "logit": float(g)}
            for i, (t, p, g) in enumerate(zip(self.labels, preds, logits, strict=True))
        ]

    def explain(self, seq: SequenceInput, target: str | int | None = None) -> dict[str, Any]:
        """Everything the explorer shows for one sequence and one target.

        The target defaults to the one with the highest prediction.
        """
        began = time.perf_counter()
        # A bad target is refused before any model work.
        t = None if target is None or target == "" else self.target_index(target)
        window = (seq.start, seq.end)
        with self.using_model() as model:
            predictions = self._predictions(predict_array(model, seq.x)[0])
            if t is None:
                t = int(np.argmax([p["prediction"] for p in predictions]))
            with warnings.catch_warnings():
                # RNNs take the naive path; the page says which path ran, once is enough.
                warnings.filterwarnings("ignore", message="ISM: using naive")
                ism = saturation_mutagenesis(model, seq.x, window=window, targets=[t])
            attr = self._attribution(model, seq, t)
            temporal = self._temporal(model, seq, t)
            matches = self._filter_matches(model, seq)
        matches += self._motif_matches(seq)
        matches += self._motif_matches(seq, self.patterns, "modisco")
        delta = ism.delta[0, :, :, 0]
        loss, gain = loss_gain(ism.delta)
        out = {
            "name": seq.name,
            "sequence": seq.sequence,
            "start": seq.start,
            "chrom": seq.chrom,
            "genome_start": seq.genome_start,
            "note": seq.note,
            "model_length": int(seq.x.shape[-1]),
            "predictions": predictions,
            "target": self.labels[t],
            "target_index": t,
            "ism": {
                "reference": float(ism.reference[0, 0]),
                "delta": _round(delta),
                "loss": _round(loss[0, :, 0]),
                "gain": _round(gain[0, :, 0]),
                "method": ism.method_used,
            },
            "attribution": _round(attr[:, seq.start : seq.end]),
            "temporal": temporal,
            "matches": matches,
        }
        out["seconds"] = round(time.perf_counter() - began, 4)
        return json_safe(out)

    def _attribution(self, model: torch.nn.Module, seq: SequenceInput, t: int) -> np.ndarray:
        """Gradient x input ``(4, L)`` of target ``t``."""
        attr = attribute(model, seq.x, targets=[t], method="gradient_x_input")
        return attr.attributions[0, :, :, 0]

    def _temporal(
        self, model: torch.nn.Module, seq: SequenceInput, t: int
    ) -> dict[str, Any] | None:
        if not self.is_rnn:
            return None
        scores = temporal_scores(model, seq.x, targets=[t])
        sl = slice(seq.start, seq.end)
        return {
            "forward": _round(scores.forward[0, sl, 0]),
            "backward": _round(scores.backward[0, sl, 0]),
        }

    def _filter_matches(self, model: torch.nn.Module, seq: SequenceInput) -> list[dict[str, Any]]:
        """First-layer filters whose activation passes their threshold, strongest first.

        A filter fires at most once per stretch of its own width (the strongest position
        wins); positions are 0-based starts in the shown sequence.
        """
        if self.thresholds is None:
            return []
        width = int(model.conv1.weight.shape[-1])
        pad = int(model.conv1_padding[0])
        with torch.inference_mode():
            was = model.training
            model.eval()
            try:
                x = torch.from_numpy(seq.x).to(next(model.parameters()).device)
                act = model.first_activation(x)[0].cpu().numpy()
            finally:
                model.train(was)
        thr = self.thresholds
        found: list[dict[str, Any]] = []
        for f in np.flatnonzero((act > thr[:, None]).any(axis=1) & (thr > 0)):
            cols = np.flatnonzero(act[f] > thr[f])
            taken: list[int] = []
            for j in cols[np.argsort(-act[f, cols], kind="stable")]:
                if any(abs(int(j) - k) < width for k in taken):
                    continue
                taken.append(int(j))
                start = int(j) - pad - seq.start
                if start + width <= 0 or start >= seq.end - seq.start:
                    continue
                label = self.filter_names.get(int(f), "")
                found.append(
                    {
                        "source": "filter",
                        "track": TRACKS["filter" if label else "unannotated"],
                        "id": f"filter{int(f)}",
                        "label": label,
                        "start": start,
                        "end": start + width,
                        "score": round(float(act[f, j] / (thr[f] / MATCH_FRACTION)), 4),
                    }
                )
        # Annotated filters first (their names are what a reader looks for), then by score.
        found.sort(key=lambda m: (not m["label"], -m["score"]))
        return found[:MAX_MATCHES]

    def _motif_matches(
        self,
        seq: SequenceInput,
        motifs: list[tuple[str, str, np.ndarray]] | None = None,
        source: str = "motif",
    ) -> list[dict[str, Any]]:
        """Motifs scanned over the shown sequence, both strands: sites whose log-odds score
        reaches :data:`MOTIF_FRACTION` of the way from the motif's lowest to its highest
        score. ``motifs`` defaults to the database motifs the filters matched
        (``explain/filters/matched.meme``, ``source`` ``"motif"``); the TF-MoDISco
        patterns (``explain/modisco/patterns.meme``) are scanned the same way as
        ``"modisco"``."""
        motifs = self.motifs if motifs is None else motifs
        if not motifs:
            return []
        x = seq.x[0, :, seq.start : seq.end].astype(np.float64)
        found: list[dict[str, Any]] = []
        for motif_id, name, lo_mat in motifs:
            w = lo_mat.shape[1]
            if x.shape[1] < w:
                continue
            windows = sliding_window_view(x, w, axis=1)  # (4, n - w + 1, w)
            lo, hi = lo_mat.min(axis=0).sum(), lo_mat.max(axis=0).sum()
            hits: list[tuple[float, int, str]] = []
            for strand, mat in (("+", lo_mat), ("-", lo_mat[::-1, ::-1])):
                score = np.einsum("bnw,bw->n", windows, mat)
                rel = (score - lo) / max(hi - lo, 1e-9)
                for i in np.flatnonzero(rel >= MOTIF_FRACTION):
                    hits.append((float(rel[i]), int(i), strand))
            # One hit per stretch of the motif's width, either strand: the strongest.
            taken: list[int] = []
            for rel_score, i, strand in sorted(hits, reverse=True):
                if any(abs(i - k) < w for k in taken):
                    continue
                taken.append(i)
                found.append(
                    {
                        "source": source,
                        "track": TRACKS[source],
                        "id": motif_id,
                        "label": f"{name} ({strand})",
                        "start": i,
                        "end": i + w,
                        "score": round(rel_score, 4),
                    }
                )
        return _group_overlapping(found)[:MAX_MATCHES]

    # ----------------------------------------------------------------- loci

    def locus(self, text: str, targets: Any = None) -> dict[str, Any]:
        """Predictions along a genome region longer than one model window.

        Parameters
        ----------
        text
            ``chrom:start-end`` (1-based, inclusive), at least the model's input length
            and at most :data:`MAX_LOCUS` bp.
        targets
            Target names or indices to return tracks for (default: the
            :data:`LOCUS_TARGETS` targets with the highest per-base peak).

        Returns
        -------
        dict
            ``chrom``, ``start`` and ``end`` (1-based, inclusive), ``window``, ``stride``,
            ``window_starts`` (1-based genome positions), ``targets``, and per target
            ``per_base`` (one value per base, the mean of the windows covering it) and
            ``windows`` (each window's prediction).

        Raises
        ------
        InputError
            No genome, a bad region, a model without a fixed input length, a region
            shorter than the input or longer than :data:`MAX_LOCUS`, an unknown target.
        """
        began = time.perf_counter()
        if targets is not None and not isinstance(targets, list):
            raise InputError(f"targets must be a list, not {_json_type(targets)}")
        wanted = [self.check_target(t) for t in targets or []]
        chrom, start, end, _ = self._genome_region(text)
        n = end - start
        if self.length is None:
            raise InputError(
                "this model reads sequences of any length, so it has no windows to tile",
                hint=f"give a region of at most {MAX_FREE_LENGTH:,} bp to explain it whole",
            )
        window = self.length
        if n > MAX_LOCUS:
            raise InputError(
                f"the region is {n:,} bp; the locus view tiles at most {MAX_LOCUS:,} bp",
                hint="pick a smaller region (or scan it with `motiflens scan`)",
            )
        if n < window:
            raise InputError(
                f"the region is {n:,} bp, shorter than the model's {window:,} bp input",
                hint="explain it directly (POST /api/explain with the region)",
            )
        indices = resolve_targets(wanted, self.labels) if wanted else None
        onehot = region_onehot(self.genome, chrom, start, end)
        stride = max(1, window // 2)
        starts = window_starts(n, window, stride)
        with self.using_model() as model:
            preds = predict_windows(model, onehot, starts)
        track = per_base(starts, window, preds, n)
        if indices is None:
            peaks = track.max(axis=0)
            indices = [int(k) for k in np.argsort(-peaks, kind="stable")[:LOCUS_TARGETS]]
        names = [self.labels[k] for k in indices]
        out = {
            "name": f"{chrom}:{start + 1}-{end}",
            "chrom": chrom,
            "start": start + 1,
            "end": end,
            "length": n,
            "window": window,
            "stride": stride,
            "window_starts": (np.asarray(starts) + start + 1).tolist(),
            "targets": names,
            "target_indices": indices,
            "per_base": {name: _round(track[:, k]) for name, k in zip(names, indices, strict=True)},
            "windows": {name: _round(preds[:, k]) for name, k in zip(names, indices, strict=True)},
        }
        out["seconds"] = round(time.perf_counter() - began, 4)
        return json_safe(out)

    # ------------------------------------------------------------- test set

    def test_sequences(self, limit: int = 500) -> dict[str, Any]:
        """Names and positive targets of the first ``limit`` test sequences."""
        if self.dataset is None:
            return {"missing": True, "message": "the run's dataset file was not found"}
        with h5py.File(self.dataset, "r") as h5:
            if "test_in" not in h5:
                return {"missing": True, "message": "the dataset has no test split"}
            n = min(limit, h5["test_in"].shape[0])
            y = h5["test_out"][:n]
            headers = h5.get("test_headers")
            names = [_text(v) for v in headers[:n]] if headers is not None else None
        rows = []
        for i in range(n):
            positive = [self.labels[k] for k in np.flatnonzero(np.asarray(y[i]) > 0.5)]
            name = names[i] if names else f"test_{i}"
            rows.append({"index": i, "name": name, "positive": positive})
        return {"missing": False, "rows": rows}

    def test_predictions(self, limit: int = CURVE_SEQUENCES) -> tuple[np.ndarray, np.ndarray]:
        """Predictions and labels ``(n, T)`` of the first ``limit`` test sequences.

        Forward and reverse-complement predictions are averaged when the run's test step
        averaged them (:attr:`reverse_complement`).
        """
        if self.dataset is None:
            raise InputError("the run's dataset file was not found")
        preds, ys = [], []
        with h5py.File(self.dataset, "r") as h5:
            if "test_in" not in h5:
                raise InputError("the run's dataset has no test split", path=self.dataset)
            n = min(limit, h5["test_in"].shape[0])
            for lo in range(0, n, 1024):
                x = to_float_onehot(h5["test_in"][lo : min(lo + 1024, n)])
                # One chunk at a time: explain requests take their turns in between.
                with self.using_model() as model:
                    preds.append(
                        predict_array(
                            model,
                            x,
                            reverse_complement=self.reverse_complement,
                            transform=self.config.task,
                        )
                    )
                ys.append(np.asarray(h5["test_out"][lo : min(lo + 1024, n)], dtype=np.float32))
        return np.concatenate(preds), np.concatenate(ys)

    def curves(self) -> dict[str, Any]:
        """ROC and PR curves per target on the test split.

        Computed once and kept while the dataset file (its size and modification time)
        and the test step's strand setting stay the same; a caller arriving during the
        computation waits for it instead of starting another.
        """
        with self._curves_lock:
            stamp = (_file_stamp(self.dataset), tested_with_reverse_complement(self.run))
            if self._curves is not None and self._curves[0] == stamp:
                return self._curves[1]
            self.reverse_complement = stamp[1]
            curves = self._compute_curves()
            if not curves.get("missing"):
                self._curves = (stamp, curves)
            return curves

    def _compute_curves(self) -> dict[str, Any]:
        if self.dataset is None:
            return {
                "missing": True,
                "message": "the run's dataset file was not found, so no curves",
                "command": f"motiflens test {self.run.path}",
            }
        if self.config.task != "binary":
            return {"missing": True, "message": "ROC/PR curves are for binary targets only"}
        try:
            preds, ys = self.test_predictions()
        except InputError as err:  # e.g. a dataset without a test split
            return {"missing": True, "message": f"no curves: {err}"}
        curves = thinned_curves(ys, preds, self.labels)
        curves["reverse_complement"] = self.reverse_complement
        return json_safe(curves)


def _file_stamp(path: Path | None) -> tuple[int, int] | None:
    """``(size, mtime_ns)`` of a file, ``None`` when there is none: changes when it does."""
    try:
        stat = path.stat() if path is not None else None
    except OSError:
        return None
    return None if stat is None else (stat.st_size, stat.st_mtime_ns)


def tested_with_reverse_complement(run: Run) -> bool:
    """Whether the run's test step (``motiflens test``, manifest step ``test``) averaged
    forward and reverse-complement predictions, as it records in ``rc``; ``True``, the
    step's default, when it records none (or the manifest cannot be read)."""
    try:
        recorded = run.steps().get("test", {}).get("rc")
    except InputError:
        return True
    return True if recorded is None else bool(recorded)


def thinned_curves(
    y: np.ndarray, scores: np.ndarray, labels: list[str], points: int = CURVE_POINTS
) -> dict[str, Any]:
    """Per target ROC (fpr, tpr) and PR (recall, precision) curves, thinned to ``points``.

    Targets without both classes get no curve (``None``).
    """
    curves = roc_pr_curves(y, scores)
    out: dict[str, Any] = {"missing": False, "n": len(y), "targets": {}}
    for name, curve in zip(labels, curves, strict=True):
        out["targets"][name] = (
            None if curve is None else {k: _thin(np.asarray(v), points) for k, v in curve.items()}
        )
    return out


def _thin(values: np.ndarray, points: int) -> list[float]:
    """At most ``points`` evenly spaced entries, first and last kept."""
    if len(values) > points:
        values = values[np.unique(np.linspace(0, len(values) - 1, points).round().astype(int))]
    return np.round(values.astype(float), 5).tolist()


def _round(a: np.ndarray) -> list[Any]:
    return np.round(np.asarray(a, dtype=np.float64), 5).tolist()


def _json_type(value: Any) -> str:
    """The JSON name of a value's type, for messages (``true`` -> ``a boolean``)."""
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return "null" if value is None else type(value).__name__


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _filter_names(run: Run) -> dict[int, str]:
    """Filter index -> best match name, from the filters analysis' table if present."""
    path = run.analysis_dir("filters", create=False) / "filters.tsv"
    if not path.is_file():
        return {}
    try:
        df = pd.read_csv(path, sep="\t")
        return {
            int(f): clean_motif_name(n)
            for f, n in zip(df["filter"], df["match_name"], strict=True)
            if isinstance(n, str) and n
        }
    except (OSError, ValueError, KeyError):
        return {}


def _matched_motifs(
    run: Run, analysis: str = "filters", name: str = "matched.meme"
) -> list[tuple[str, str, np.ndarray]]:
    """``(id, clean name, log-odds (4, w))`` of the motifs of ``explain/<analysis>/<name>``
    (default: those the filters matched), if stored."""
    path = run.analysis_dir(analysis, create=False) / name
    if not path.is_file():
        return []
    try:
        motifs, background = read_meme(path)
    except (InputError, OSError, ValueError):
        return []
    return [(m.id, clean_motif_name(m.name) or m.id, log_odds(m.probs, background)) for m in motifs]


def _group_overlapping(hits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Strongest first; a hit covering at least half of a stronger kept hit (of another
    database motif: a family of similar motifs at one site) joins it as ``also``."""
    kept: list[dict[str, Any]] = []
    for hit in sorted(hits, key=lambda m: -m["score"]):
        for other in kept:
            overlap = min(hit["end"], other["end"]) - max(hit["start"], other["start"])
            if overlap * 2 >= min(hit["end"] - hit["start"], other["end"] - other["start"]):
                other.setdefault("also", []).append(hit["label"])
                break
        else:
            kept.append(dict(hit))
    return kept
