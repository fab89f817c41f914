#!/bin/bash
# One-shot accelerator check of alphago-jax (one H100/H200, at most 8 minutes): installs the
# carried wheels (mctx, pgx and pgx's svgwrite; the device image has jax, flax, optax, chex and
# orbax-checkpoint but not these, nor wandb, which the check does not need), then runs
# `alphago-jax bench gpu`, which runs every stage in its own process with its own time limit.
#
# Here, once, in the repository root (wheels are ignored by git, carried to the device):
#   echo /.whl/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#     --implementation cp --platform manylinux2014_x86_64 -d .whl \
#     mctx==0.0.71 pgx==2.6.0 svgwrite==1.4.3
# On the device (carry .whl):   bash experiments/gpu_check.sh
# Dry run on any machine:       bash experiments/gpu_check.sh --toy
# Extra arguments go to `alphago-jax bench gpu` (e.g. --only rules,selfplay9).
set -o pipefail
PY=${PY:-python3}
cd "$(dirname "$0")/.." || exit 1
if compgen -G ".whl/*.whl" > /dev/null; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
LOG=${OUT:-/tmp}/gpu_check.txt
$PY -m alphago_jax.cli bench gpu "$@" 2>&1 | tee "$LOG"
