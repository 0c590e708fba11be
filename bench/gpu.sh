#!/usr/bin/env bash
# bench.gpu on a lent GPU machine: Python 3.12 with jax (CUDA), numpy, scipy, pandas, h5py, ... but no
# TensorFlow, Keras or Optuna, and no network. What hpo needs beyond that travels as wheels in .whl/
# (ignored by git, carried with the working tree); make them here first, on a machine with PyPI:
#
#   bash bench/gpu.sh --wheels     # keras, optuna, optuna-integration, plotly and their small deps
#
# Then, on the GPU machine, in the repository root, with $OUT a folder whose files come back:
#
#   bash bench/gpu.sh [bench.gpu flags]    # writes $OUT/gpu.json and $OUT/gpu.log (< 8 min)
#
# and to prove it on a CPU (quick data, 1-3 epochs; a Python 3.12 without TensorFlow):
#
#   OUT=/tmp/gpu-dry bash bench/gpu.sh --dry-run --budget 1500 --trials-per-device 2
set -uo pipefail
cd "$(dirname "$0")/.."

# The versions hpo was tested with (the CI virtualenv's); keras' and optuna's own dependencies that
# the GPU machine lacks. plotly (and narwhals) because the screen and optimize write their reports.
WHEELS=(
    keras==3.15.1 namex==0.1.0 optree==0.20.0
    optuna==5.1.0 optuna-integration==5.0.0 SQLAlchemy==2.1.9 alembic==1.20.1 Mako==1.4.3
    colorlog==6.12.0 plotly==7.1.0 narwhals==2.29.0
)
if [ "${1:-}" = "--wheels" ]; then
    grep -qx "/.whl/" .git/info/exclude 2>/dev/null || echo "/.whl/" >> .git/info/exclude
    for wheel in "${WHEELS[@]}"; do
        python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
            --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
            --platform manylinux2014_x86_64 -d .whl "$wheel" || exit 1
    done
    du -sh .whl
    exit 0
fi

python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:$PWD || exit 1
export KERAS_BACKEND=jax
export XLA_PYTHON_CLIENT_PREALLOCATE=false  # many processes share the GPU (screen runs, workers)
export OUT=${OUT:-$PWD/gpu-out}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv,noheader 2>/dev/null || true
python3 -c "import jax; print('jax', jax.__version__, jax.devices())"
python3 -m bench.gpu --out "$OUT" "$@"
