# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_DIR ?= demo_run

.PHONY: install dev demo test lint format clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch first and exactly pinned: a looser request would pull the CUDA build and its
# gigabytes of nvidia packages.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.dev-installed: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

dev: $(VENV)/.dev-installed

# simulate -> dataset -> train a Basset-style model -> per-task test AUROC
demo: install
	$(BIN)/motiflens simulate $(DEMO_DIR)/simulated.h5 --seed 1
	$(BIN)/motiflens dataset info $(DEMO_DIR)/simulated.h5
	$(BIN)/motiflens train $(DEMO_DIR)/simulated.h5 $(DEMO_DIR)/run --config configs/demo.yaml
	$(BIN)/motiflens test $(DEMO_DIR)/run
	@echo "run directory: $(DEMO_DIR)/run (metrics/, model.safetensors, config.yaml)"

test: dev
	$(BIN)/python -m pytest -q

lint: dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .hypothesis
