"""The dashboard: a web app (``motiflens serve``) and a static report over one run directory.

Every module reads the run only through :class:`motiflens.runs.Run`.
:mod:`~motiflens.dashboard.data` reads a run's tables and motifs into JSON-able views (no
model needed); :mod:`~motiflens.dashboard.stored` sends any stored per-sequence result
(:mod:`motiflens.results`) for one sequence and target; :mod:`~motiflens.dashboard.explorer`
holds the loaded model and answers the sequence explorer; :mod:`~motiflens.dashboard.app`
is the FastAPI app and :mod:`~motiflens.dashboard.export` the self-contained HTML report
(:func:`~motiflens.dashboard.export.report`). Both front ends share the files under
``static/``. :mod:`~motiflens.dashboard.guard` decides which requests the server answers
(Host, Origin, body type, size and depth), :mod:`~motiflens.dashboard.pool` bounds the
heavy computations, and :mod:`~motiflens.dashboard.share` takes the author's absolute
paths and command lines out of everything served or exported.
"""
