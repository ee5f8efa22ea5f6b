"""Interpretation, arrays in and NamedTuples out: ISM, attributions, temporal output scores,
class optimization, filters, motif insertion, variant scores and TF-MoDISco patterns.

Every model-facing function has the shape ``(model, X, *, targets=None, batch_size,
device=None, verbose=False, random_state=None, ...)``: ``X`` is a DNA string, a list of
strings or one-hot ``(N, 4, L)``; ``targets`` are output indices or names (from
``model.target_labels``); per-target arrays keep the target axis last.
"""

from motiflens.explain.deeplift import deeplift_multipliers
from motiflens.explain.filters import analyze_filters, filter_influence, filter_stats
from motiflens.explain.inputs import as_onehot, resolve_targets
from motiflens.explain.insertion import insert_motifs, insertion_backgrounds
from motiflens.explain.ism import ISMResult, ism_chunks, loss_gain, saturation_mutagenesis
from motiflens.explain.modisco import Pattern, discover_motifs
from motiflens.explain.optimize import ClassOptimization, optimize_class
from motiflens.explain.saliency import (
    Attributions,
    attribute,
    hypothetical_contributions,
    shuffled_references,
)
from motiflens.explain.temporal import TemporalScores, temporal_scores
from motiflens.explain.variants import score_sequences, variant_sequences

__all__ = [
    "Attributions",
    "ClassOptimization",
    "ISMResult",
    "Pattern",
    "TemporalScores",
    "analyze_filters",
    "as_onehot",
    "attribute",
    "deeplift_multipliers",
    "discover_motifs",
    "filter_influence",
    "filter_stats",
    "hypothetical_contributions",
    "insert_motifs",
    "insertion_backgrounds",
    "ism_chunks",
    "loss_gain",
    "optimize_class",
    "resolve_targets",
    "saturation_mutagenesis",
    "score_sequences",
    "shuffled_references",
    "temporal_scores",
    "variant_sequences",
]
