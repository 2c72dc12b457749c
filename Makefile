# Every target builds .venv from pyproject.toml itself (re-installing when pyproject.toml changes).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# pip install -e, without setuptools' "Editable installation" notice (InformationOnly: nothing to fix);
# every other warning still shows
PIP_INSTALL := PYTHONWARNINGS="ignore:Editable installation" $(BIN)/python -m pip install --quiet

.PHONY: run test test-slow lint bench bench-gpu lab notebooks clean

# The install also compiles the numba kernels for the 4-point data sets and notebook 06's general kernels
# (d = 5; cached under ~/.cache/relunet), once, rather than in each notebook kernel during `make run`.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(PIP_INSTALL) -e '.[dev]'
	$(BIN)/python -c "from relunet_support.jobs.batch import precompile_study_kernels; precompile_study_kernels()"
	touch $(STAMP)

# The seed's default study: papermill runs 02 → 04 per learning rate (batches side by side), 03 (static) for
# the headline batch and 05 once; it ends by printing the path of outputs/index.html (the study's answer).
run: $(STAMP)
	$(BIN)/relunet notebooks studies/default.yaml --output outputs

# .ipynb files are generated from the py:percent sources (never committed).
notebooks: $(STAMP)
	$(BIN)/jupytext --to ipynb --quiet notebooks/0*.py

# Lint, types and the quick tests on every core (README: the measured time): the loop while editing.
test: lint
	$(BIN)/python -m pytest -q -p no:cacheprovider -p no:nbval -n auto -m "not slow and not browser" tests

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

# The rest (a few minutes): the notebooks run in-process with their results checked (tests/test_notebooks.py),
# the papermill smoke batch (02, 03 static, 04, 05, 06), 01 and 03 (interactive) under nbval (lax), the CUDA
# simulator and the real-browser viewer test. .ci/run runs `make test` and then this. Tests write only into temporary folders
# (nbval runs copies of 01 and 03 there, so 03 trains its demo run afresh, never reading outputs/).
test-slow: notebooks
	$(BIN)/python -m pytest -q -p no:cacheprovider -m "slow or browser" tests
	scratch=$$(mktemp -d) && mkdir $$scratch/notebooks && \
	cp notebooks/01_theory.ipynb notebooks/03_condensation_viewer.ipynb $$scratch/notebooks/ && \
	$(BIN)/python -m pytest -q -p no:cacheprovider -c pyproject.toml --rootdir $$scratch --nbval-lax \
		--nbval-current-env $$scratch/notebooks/*.ipynb; \
	status=$$?; rm -rf $$scratch; exit $$status

bench: $(STAMP)
	$(PIP_INSTALL) -e '.[dev,bench]'
	$(BIN)/python bench/bench_core.py --out bench/core.md
	$(BIN)/python bench/bench_viewer.py --out bench/viewer.md
	$(BIN)/python bench/bench_run.py --out bench/run.md
	$(BIN)/python bench/stability.py --out bench/stability.md
	$(BIN)/python bench/flow.py --out bench/flow.md
	$(BIN)/python bench/escapes.py --out bench/escapes.md
	$(BIN)/python bench/condensation.py --out bench/condensation.md
	$(BIN)/python bench/phase.py --out bench/phase.md

# On a machine with an NVIDIA GPU: the cuda backend against JAX (needs the gpu extra and jax[cuda]).
bench-gpu: $(STAMP)
	$(PIP_INSTALL) -e '.[gpu]'
	$(BIN)/python bench/gpu.py --out bench/gpu.md

# JupyterLab on the generated .ipynb (no tracked file is rewritten here; the jupytext pairing in
# notebooks/jupytext.toml saves your edits in Lab back to the .py sources). --allow-root only as root.
lab: notebooks
	$(BIN)/jupyter lab notebooks $$( [ "$$(id -u)" = 0 ] && echo --allow-root )

clean:
	rm -rf $(VENV) outputs/runs outputs/executed outputs/figures outputs/smoke build *.egg-info .pytest_cache
