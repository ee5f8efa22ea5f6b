"""Variant sequences and their effect scores (SAD): the compute part of variant effects.

Basset's ``basset_sad.py`` with explicit policies:

- **Sequences** (Basset's ``bvcf.snps_seq1``): for a model of length ``L`` the window
  holds ``L // 2 - 1`` genome bases left of the variant, then the allele, then the right
  flank, so an SNV sits at 0-based index ``L // 2 - 1``. Both sequences are ``L`` long:
  the reference is the genome window; in the alternative the REF bases are replaced by
  ALT and the right flank is cut (insertion) or extended from the genome (deletion) at
  the right end. Bases beyond a chromosome end are N (0.25 in every channel), counted.
- **Chromosome names** ``1``/``chr1``, ``MT``/``chrM`` are matched to the genome's
  (:func:`resolve_chrom`).
- **Scores** per target (:func:`score_sequences`): ``ref_pred``, ``alt_pred`` (the
  model's predictions, i.e. probabilities for a binary task), ``sad = alt_pred -
  ref_pred`` and the raw-output difference alt minus ref: the log-odds difference
  ``logit(alt) - logit(ref)`` for a binary task, the log rate ratio for a Poisson task,
  and for a regression task the raw difference (equal to ``sad``).

Reading a VCF in chunks, the REF-mismatch policies, the output tables, sharding over
processes and ISM around the top variants are the run-level job:
:func:`motiflens.steps.variants.variants`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import nn

from motiflens.errors import InputError
from motiflens.models import predict_transform
from motiflens.prediction import predict_array
from motiflens.sequence.fasta import Genome
from motiflens.sequence.onehot import UNKNOWN, code_table, codes_to_onehot
from motiflens.sequence.vcf import Variant

RefMismatch = Literal["skip", "use-genome", "error"]
REF_MISMATCH_POLICIES = ("skip", "use-genome", "error")
_MITO = ("chrM", "MT", "M", "chrMT")


# ------------------------------------------------------------------ chromosome names


def resolve_chrom(name: str, sizes: dict[str, int] | Iterable[str]) -> str | None:
    """The genome's name for a VCF chromosome, with or without ``chr``; None if absent.

    ``1`` matches ``chr1`` and back; the mitochondrion matches among ``chrM``, ``MT``,
    ``M`` and ``chrMT``.
    """
    names = sizes if isinstance(sizes, dict) else set(sizes)
    if name in names:
        return name
    base = name[3:] if name[:3].lower() == "chr" else name
    candidates = [base, f"chr{base}", f"Chr{base}"]
    if base.upper() in ("M", "MT"):
        candidates += list(_MITO)
    return next((c for c in candidates if c in names), None)


# ------------------------------------------------------------------ sequences


@dataclass
class VariantSequences:
    """Reference and alternative windows for a batch of variants.

    Attributes
    ----------
    ref, alt
        ``(n, L)`` uint8 base codes (A=0, C=1, G=2, T=3, N=4).
    genome_ref
        The genome's bases where REF should be (upper case; ``N`` beyond a chromosome end).
    ref_matches
        ``(n,)`` bool: the genome's bases equal REF.
    padded
        ``(n,)`` bool: the window ran over a chromosome end and was filled with N.
    """

    ref: np.ndarray
    alt: np.ndarray
    genome_ref: list[str]
    ref_matches: np.ndarray
    padded: np.ndarray


def variant_offset(length: int) -> int:
    """0-based index of the variant's first base in a window of ``length`` (``L//2 - 1``)."""
    return length // 2 - 1


def max_allele_length(length: int) -> int:
    """Longest REF or ALT the window takes (``L // 2``): half the window is right flank."""
    return length // 2


def variant_sequences(
    genome: Genome,
    variants: Sequence[Variant],
    length: int,
    *,
    chroms: Sequence[str] | None = None,
) -> VariantSequences:
    """Build the reference and alternative sequences of ``length`` around each variant.

    Parameters
    ----------
    genome
        The genome.
    variants
        Variants whose REF and ALT are at most :func:`max_allele_length` long.
    length
        Model input length ``L``.
    chroms
        The genome's name of each variant's chromosome (default: :func:`resolve_chrom`,
        an error for an unknown one).

    Returns
    -------
    VariantSequences
        The window starts ``L // 2 - 1`` bases left of POS. Reference: the genome window.
        Alternative: the same left flank, ALT, then the genome from just after REF,
        cut or extended at the right end to ``L``.
    """
    n = len(variants)
    left = variant_offset(length)
    if left < 0:
        raise ValueError(f"a model length of {length} leaves no room for a variant")
    if chroms is None:
        chroms = []
        for v in variants:
            name = resolve_chrom(v.chrom, genome.sizes)
            if name is None:
                raise InputError(f"chromosome {v.chrom!r} is not in the genome", line=v.line)
            chroms.append(name)
    longest = max_allele_length(length)
    for v in variants:
        if max(len(v.ref), len(v.alt)) > longest:
            raise ValueError(f"{v.label()}: an allele is longer than {longest} bp")
    extra = np.array([max(0, len(v.ref) - len(v.alt)) for v in variants], dtype=np.int64)
    # One width for the batch: enough for the longest deletion's right flank.
    width = length + (int(extra.max()) if n else 0)
    starts = np.array([v.pos - 1 - left for v in variants], dtype=np.int64)
    sizes = np.array([genome.sizes[c] for c in chroms], dtype=np.int64)
    need_end = starts + length + extra
    padded = (starts < 0) | (need_end > sizes)
    codes = np.full((n, width), UNKNOWN, dtype=np.uint8)
    inside = (starts >= 0) & (starts + width <= sizes)
    chrom_arr = np.array(chroms, dtype=object)
    for chrom in dict.fromkeys(chrom_arr[inside].tolist()):
        rows = np.flatnonzero(inside & (chrom_arr == chrom))
        codes[rows] = genome.fetch_codes(chrom, starts[rows], width)
    for i in np.flatnonzero(~inside).tolist():
        # Near a chromosome end: fetch what exists, the rest stays N.
        a, b = max(int(starts[i]), 0), min(int(starts[i]) + width, int(sizes[i]))
        if b > a:
            codes[i, a - starts[i] : b - starts[i]] = genome.fetch_codes(chroms[i], [a], b - a)[0]
    table = code_table()
    ref = codes[:, :length].copy()
    alt = ref.copy()
    genome_ref: list[str] = []
    matches = np.zeros(n, dtype=bool)
    letters = np.frombuffer(b"ACGTN", dtype=np.uint8)
    for i, v in enumerate(variants):
        here = codes[i, left : left + len(v.ref)]
        genome_ref.append(letters[here].tobytes().decode("ascii"))
        matches[i] = np.array_equal(here, table[np.frombuffer(v.ref.encode(), np.uint8)])
        alt_codes = table[np.frombuffer(v.alt.encode(), np.uint8)]
        if len(v.ref) == 1 and len(v.alt) == 1:
            alt[i, left] = alt_codes[0]
            continue
        tail = length - left - len(v.alt)
        after = left + len(v.ref)
        alt[i] = np.concatenate([codes[i, :left], alt_codes, codes[i, after : after + tail]])
    return VariantSequences(ref, alt, genome_ref, matches, padded)


# ------------------------------------------------------------------ scoring


def score_sequences(
    model: nn.Module,
    ref: np.ndarray,
    alt: np.ndarray,
    task: str,
    *,
    reverse_complement: bool = False,
    batch_size: int = 1024,
    device: str | torch.device | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Predictions for reference and alternative sequences, and the raw-output difference.

    Parameters
    ----------
    model
        Returns ``(batch, T)`` raw outputs (logits).
    ref, alt
        ``(n, L)`` base codes.
    task
        ``"binary"``, ``"regression"`` or ``"poisson"``: how raw outputs become predictions.
    reverse_complement
        Average forward and reverse-complement raw outputs (see
        :func:`~motiflens.prediction.predict_array`).

    Returns
    -------
    (ref_pred, alt_pred, raw_diff)
        ``(n, T)`` float32 each; ``raw_diff`` is alt minus ref of the raw outputs.
    """
    n = len(ref)
    x = codes_to_onehot(np.concatenate([ref, alt]), np.float32)
    raw = predict_array(
        model, x, batch_size=batch_size, device=device, reverse_complement=reverse_complement
    )
    preds = predict_transform(task, torch.from_numpy(raw)).numpy()
    return preds[:n], preds[n:], raw[n:] - raw[:n]
