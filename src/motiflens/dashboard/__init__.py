"""The dashboard: a web app (``motiflens serve``) and a static report over one run directory.

:mod:`~motiflens.dashboard.data` reads a run directory into JSON-able structures (no
model needed); :mod:`~motiflens.dashboard.explorer` holds the loaded model and answers
the sequence explorer; :mod:`~motiflens.dashboard.app` is the FastAPI app and
:mod:`~motiflens.dashboard.export` the self-contained HTML report. Both front ends share
the files under ``static/``.
"""
