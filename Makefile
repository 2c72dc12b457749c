# Every target builds .venv from pyproject.toml itself (re-installing when pyproject.toml changes).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench bench-gpu lab notebooks clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The seed's default study: papermill runs 02 → 04 → 03 (static) per learning rate.
run: $(STAMP)
	$(BIN)/relunet notebooks studies/default.yaml --output outputs
	@echo "Results: outputs/executed/ (executed notebooks), outputs/figures/ (SVG + PNG), outputs/runs/ (run stores)"

# .ipynb files are generated from the py:percent sources (never committed).
notebooks: $(STAMP)
	$(BIN)/jupytext --to ipynb --quiet notebooks/0*.py

# Unit tests, the papermill smoke batch (tests/test_batch.py) and every notebook under nbval (lax).
test: notebooks
	$(BIN)/python -m pytest -q -p no:cacheprovider tests notebooks --nbval-lax --nbval-current-env

bench: $(STAMP)
	$(BIN)/python bench/bench_core.py --out bench/core.md
	$(BIN)/python bench/bench_viewer.py --out bench/viewer.md
	$(BIN)/python bench/stability.py --out bench/stability.md
	$(BIN)/python bench/flow.py --out bench/flow.md

# On a machine with an NVIDIA GPU: the cuda backend against JAX (needs the gpu extra and jax[cuda]).
bench-gpu: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[gpu]'
	$(BIN)/python bench/gpu.py --out bench/gpu.md

lab: $(STAMP)
	$(BIN)/jupytext --sync --quiet notebooks/0*.py
	$(BIN)/jupyter lab notebooks

clean:
	rm -rf $(VENV) outputs/runs outputs/executed outputs/figures outputs/smoke build *.egg-info .pytest_cache
