# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_DIR ?= demo_run

.PHONY: install dev demo test chromium lint format clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch first and exactly pinned: a looser request would pull the CUDA build and its
# gigabytes of nvidia packages.
# The warmup compiles memelite's numba kernels (TomTom, FIMO) into numba's on-disk cache,
# so that a user's first `motiflens filters` does not spend ~80 s compiling them; importing
# fast ISM's kernels compiles them (a few seconds) the same way.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e .
	$(BIN)/python -m motiflens.motifs.warmup
	$(BIN)/python -c "import motiflens.explain.ism_kernels"
	touch $@

$(VENV)/.dev-installed: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

dev: $(VENV)/.dev-installed

# simulate -> dataset -> train a Basset-style model -> per-task test AUROC -> what the
# filters learned (PWMs, JASPAR matches, planted-motif recovery) -> motif insertion
demo: install
	$(BIN)/motiflens simulate $(DEMO_DIR)/simulated.h5 --seed 1
	$(BIN)/motiflens dataset info $(DEMO_DIR)/simulated.h5
	$(BIN)/motiflens train $(DEMO_DIR)/simulated.h5 $(DEMO_DIR)/run --config configs/demo.yaml
	$(BIN)/motiflens test $(DEMO_DIR)/run
	$(BIN)/motiflens filters $(DEMO_DIR)/run
	$(BIN)/motiflens insert $(DEMO_DIR)/run
	$(BIN)/motiflens report $(DEMO_DIR)/run -o $(DEMO_DIR)/report.html
	@echo "run directory: $(DEMO_DIR)/run (metrics/, model.safetensors, config.yaml, explain/)"
	@echo "report: $(DEMO_DIR)/report.html (self-contained; open it in a browser)"
	@echo "dashboard: $(BIN)/motiflens serve $(DEMO_DIR)/run   then open http://127.0.0.1:8000/"

test: dev chromium
	$(BIN)/python -m pytest -q

# Debian's Chromium for the browser tests (Playwright cannot download browsers here). Best
# effort: without apt-get, or without root or passwordless sudo, it warns and the browser
# tests skip with that reason; everything else still runs.
APT_CHROMIUM := apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
chromium:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif ! command -v apt-get >/dev/null 2>&1; then \
	  echo "warning: no apt-get to install chromium; the browser tests will skip"; \
	elif [ "$$(id -u)" = 0 ]; then \
	  sh -c '$(APT_CHROMIUM)' || echo "warning: installing chromium failed; the browser tests will skip"; \
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then \
	  sudo -n sh -c '$(APT_CHROMIUM)' || echo "warning: installing chromium failed; the browser tests will skip"; \
	else \
	  echo "warning: /usr/bin/chromium is missing and installing it needs root; the browser tests will skip"; \
	fi

lint: dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .hypothesis
