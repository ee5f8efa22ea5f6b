"""One-hot encoding of DNA: channels A, C, G, T; unknown bases are 0.25 everywhere.

Sequences travel in two forms: *codes* (uint8, 0-3 for A/C/G/T, 4 for N or any IUPAC
ambiguity code) are what is stored and sliced; the float one-hot ``(N, 4, L)`` is what
models see.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import overload

import numpy as np

from motiflens.errors import InputError

ALPHABET = "ACGT"
UNKNOWN = 4
INVALID = 255
IUPAC_AMBIGUOUS = "NRYSWKMBDHV"

_CODE = np.full(256, INVALID, dtype=np.uint8)
for _i, _b in enumerate(ALPHABET):
    _CODE[ord(_b)] = _i
    _CODE[ord(_b.lower())] = _i
for _b in IUPAC_AMBIGUOUS:
    _CODE[ord(_b)] = UNKNOWN
    _CODE[ord(_b.lower())] = UNKNOWN
_CODE.setflags(write=False)

_COMPLEMENT = str.maketrans("ACGTNRYSWKMBDHVacgtnryswkmbdhv", "TGCANYRSWMKVHDBtgcanyrswmkvhdb")


def code_table() -> np.ndarray:
    """Return the read-only byte -> code lookup table (255 marks an invalid byte)."""
    return _CODE


def encode_codes(
    seq: str | bytes,
    *,
    path: str | None = None,
    line: int | None = None,
    record: str | None = None,
) -> np.ndarray:
    """Encode one sequence as uint8 codes (A=0, C=1, G=2, T=3, unknown=4).

    Parameters
    ----------
    seq
        DNA sequence; lower case is accepted, N and IUPAC codes become unknown.
    path, line, record
        Where the sequence came from, used only to locate an error.

    Returns
    -------
    numpy.ndarray
        ``(L,)`` uint8 codes.

    Raises
    ------
    InputError
        If the sequence holds a character outside ACGTN and the IUPAC codes.
    """
    raw = seq.encode("ascii", "replace") if isinstance(seq, str) else seq
    codes = _CODE[np.frombuffer(raw, dtype=np.uint8)]
    bad = np.flatnonzero(codes == INVALID)
    if bad.size:
        pos = int(bad[0])
        char = seq[pos] if isinstance(seq, str) else chr(seq[pos])
        raise InputError(
            f"invalid character {char!r} at position {pos + 1} of the sequence "
            f"({bad.size} invalid in all)",
            path=path,
            line=line,
            record=record,
            hint="sequences may hold only A, C, G, T, N and IUPAC codes (any case)",
        )
    return codes


def codes_to_onehot(codes: np.ndarray, dtype: type = np.float32) -> np.ndarray:
    """Turn codes ``(..., L)`` into a one-hot array ``(..., 4, L)``.

    With a float dtype unknown bases are 0.25 in every channel; with an integer or bool
    dtype (the compact storage form) they are an all-zero column.
    """
    codes = np.asarray(codes)
    onehot = codes[..., None, :] == np.arange(4, dtype=np.uint8)[:, None]
    out = onehot.astype(dtype)
    if np.issubdtype(np.dtype(dtype), np.floating):
        unknown = codes == UNKNOWN
        if unknown.any():
            out[np.broadcast_to(unknown[..., None, :], out.shape)] = 0.25
    return out


def one_hot(
    seqs: str | Sequence[str], length: int | None = None, dtype: type = np.float32
) -> np.ndarray:
    """One-hot encode one or many sequences.

    Parameters
    ----------
    seqs
        A sequence or a list of sequences.
    length
        Centre-pad (with N) or centre-trim every sequence to this length. Without it,
        all sequences must have the same length.
    dtype
        Output dtype; float gives 0.25 for unknown bases.

    Returns
    -------
    numpy.ndarray
        ``(4, L)`` for one sequence, ``(N, 4, L)`` for a list.
    """
    single = isinstance(seqs, str)
    batch = [seqs] if single else list(seqs)
    # Encode before resizing, so that an error gives the position in the sequence as
    # passed and a bad character is not silently trimmed away.
    rows = [encode_codes(s, record=str(i)) for i, s in enumerate(batch)]
    if length is not None:
        rows = [resize(r, length) for r in rows]
    lengths = {len(r) for r in rows}
    if len(lengths) > 1:
        raise InputError(
            f"sequences have different lengths ({sorted(lengths)[:5]}...)",
            hint="pass length= to centre-pad or centre-trim them to one length",
        )
    if not rows:
        return np.zeros((0, 4, length or 0), dtype=dtype)
    out = codes_to_onehot(np.stack(rows), dtype)
    return out[0] if single else out


def decode(onehot: np.ndarray) -> str | list[str]:
    """Turn a one-hot array ``(4, L)`` or ``(N, 4, L)`` back into strings.

    A column that is not a clean one-hot (all 0.25, all zero) decodes as N.
    """
    arr = np.asarray(onehot, dtype=np.float32)
    single = arr.ndim == 2
    if single:
        arr = arr[None]
    idx = arr.argmax(axis=1)
    clean = (arr.max(axis=1) == 1.0) & (arr.sum(axis=1) == 1.0)
    letters = np.frombuffer(b"ACGT", dtype=np.uint8)[idx]
    letters[~clean] = ord("N")
    out = [row.tobytes().decode("ascii") for row in letters]
    return out[0] if single else out


def reverse_complement(seq: str) -> str:
    """Reverse complement of a DNA string (case and IUPAC codes kept)."""
    return seq.translate(_COMPLEMENT)[::-1]


def reverse_complement_onehot(x: np.ndarray) -> np.ndarray:
    """Reverse complement of one-hot ``(..., 4, L)``: with channels A,C,G,T both axes flip."""
    return np.ascontiguousarray(np.asarray(x)[..., ::-1, ::-1])


def reverse_complement_codes(codes: np.ndarray) -> np.ndarray:
    """Reverse complement of base codes ``(..., L)`` (A<->T, C<->G; unknown stays unknown)."""
    flipped = np.asarray(codes)[..., ::-1]
    return np.where(flipped < UNKNOWN, 3 - flipped, flipped).astype(np.uint8)


@overload
def resize(seq: str, length: int) -> str: ...
@overload
def resize(seq: np.ndarray, length: int) -> np.ndarray: ...
def resize(seq: str | np.ndarray, length: int) -> str | np.ndarray:
    """Centre-trim or centre-pad (with N) a sequence to ``length``.

    With an odd difference the extra base is trimmed from (or padded at) the right end,
    so the centre stays put as in Basset's ``dna_one_hot``. A string is padded with
    ``"N"``, an array of codes with the unknown code.
    """
    n = len(seq)
    if n == length:
        return seq
    if n > length:
        start = (n - length) // 2
        return seq[start : start + length]
    left = (length - n) // 2
    if isinstance(seq, str):
        return "N" * left + seq + "N" * (length - n - left)
    return np.pad(seq, (left, length - n - left), constant_values=UNKNOWN)
