#!/usr/bin/env bash
# How the paper-scale networks were trained on a borrowed GPU machine with no network access.
#
# Only the code and two small files travel: results/paper/samples.csv (the labels) and
# results/paper/dataset.json (the seed, and a digest of each vertebra's images). The images
# are regenerated from the seed on the machine's cores and checked against the digests, the
# runs train with Keras on JAX, and the runs' small outputs (histories, metrics, test
# predictions, the improved networks as float16 weights) come back in runs.tgz. Keras and
# its two small dependencies travel as wheels in .whl/ (downloaded beforehand with pip download).
#
# Usage: OUT=/some/folder bash book/train_on_gpu.sh [BUDGET_SECONDS]
set -uo pipefail
OUT=${OUT:-/tmp/out}
BUDGET=${1:-480}
mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD KERAS_BACKEND=jax PYTHONUNBUFFERED=1 JAX_COMPILATION_CACHE_DIR=/tmp/jax-cache
nvidia-smi -L
pack() {
    tar czf "$OUT/runs.tgz.part" --exclude='*/model.keras' --exclude='*/backup' artefacts/paper/runs results/paper/steps.json \
        2>/dev/null && mv "$OUT/runs.tgz.part" "$OUT/runs.tgz"
}
( while sleep 30; do pack; done ) &
packer=$!
timeout $((BUDGET + 90)) python3 -m bonebook.reproduce --scale paper --steps train --images seed --budget "$BUDGET" 2>&1 \
    | tee "$OUT/train.log"
kill $packer
pack
ls -la "$OUT"
