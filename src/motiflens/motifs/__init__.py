"""Known and learned motifs: PWMs, the MEME format, JASPAR databases, TomTom comparison.

Imports stay light (numpy, pandas): no torch here; memelite and pyjaspar load on first use.
"""

from motiflens.motifs.compare import best_matches, tomtom
from motiflens.motifs.databases import available_jaspar_releases, jaspar_motif, load_database
from motiflens.motifs.meme import read_meme, write_meme
from motiflens.motifs.pwm import (
    Motif,
    basset_information_content,
    consensus,
    counts_to_probs,
    information_content,
    log_odds,
    pwm_from_sites,
    reverse_complement_probs,
    trim,
    trim_matrix,
)
from motiflens.motifs.scan import motif_hits_bed, scan_motifs

__all__ = [
    "Motif",
    "available_jaspar_releases",
    "basset_information_content",
    "best_matches",
    "consensus",
    "counts_to_probs",
    "information_content",
    "jaspar_motif",
    "load_database",
    "log_odds",
    "motif_hits_bed",
    "pwm_from_sites",
    "read_meme",
    "reverse_complement_probs",
    "scan_motifs",
    "tomtom",
    "trim",
    "trim_matrix",
    "write_meme",
]
