#!/usr/bin/env bash
# The cuda backend's device checks as one script for a GPU machine (the device tool's `run`):
# tests/test_cuda.py and tests/test_engine.py (its cuda cases) on the device, then bench/gpu.py. It uses the machine's Python,
# which needs numpy, numba, numba-cuda, pytest and JAX (the H100/H200 image has them). The end-to-end
# training test also needs zarr: wheels carried in .whl/ are installed when present; without them
# that one test is deselected, and this script says so.
set -uo pipefail
out="${OUT:-bench}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
python3 -c "import numba, numba_cuda, jax; print('numba', numba.__version__, 'numba-cuda', numba_cuda.__version__, 'jax', jax.__version__)"
deselect=()
if ! python3 -c "import zarr" 2>/dev/null; then
    echo "zarr is missing: deselecting test_gpu_training_matches_numba_training"
    deselect=(--deselect tests/test_cuda.py::test_gpu_training_matches_numba_training)
fi
timeout 240 python3 -m pytest -q -p no:cacheprovider tests/test_cuda.py tests/test_engine.py "${deselect[@]}" 2>&1 | tee "$out/gpu_tests.log"
tests=${PIPESTATUS[0]}
timeout 300 python3 bench/gpu.py --out "$out/gpu.md" 2>&1 | tee "$out/gpu_bench.log"
bench=${PIPESTATUS[0]}
echo "tests exit $tests, bench exit $bench"
exit $(( tests || bench ))
