"""Interpretation: ISM, saliency, temporal output scores, class optimization, filters."""
