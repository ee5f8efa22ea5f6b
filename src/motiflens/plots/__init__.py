"""Matplotlib figures (PNG and SVG): training curves, ROC/PR curves, logos, heat maps."""
