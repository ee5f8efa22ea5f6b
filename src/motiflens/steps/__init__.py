"""Run-level jobs: a run (or its path) and options in, outputs written through Run, the step recorded."""
