"""DNA itself: one-hot encoding, reverse complement, shuffles, FASTA, genomes, BED intervals."""

from motiflens.sequence.bed import read_bed
from motiflens.sequence.fasta import Genome, read_fasta
from motiflens.sequence.onehot import (
    ALPHABET,
    codes_to_onehot,
    decode,
    encode_codes,
    one_hot,
    resize,
    reverse_complement,
    reverse_complement_onehot,
)
from motiflens.sequence.shuffle import dinucleotide_shuffle

__all__ = [
    "ALPHABET",
    "Genome",
    "codes_to_onehot",
    "decode",
    "dinucleotide_shuffle",
    "encode_codes",
    "one_hot",
    "read_bed",
    "read_fasta",
    "resize",
    "reverse_complement",
    "reverse_complement_onehot",
]
