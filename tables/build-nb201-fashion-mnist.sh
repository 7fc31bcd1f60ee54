#!/usr/bin/env bash
# Build (or resume) the NB201 x Fashion-MNIST table: all 6,466 distinct cells, one recipe.
# Rerunning resumes; finished rows are never trained again. About 3.5 hours on 2 CPU cores.
#   OUT=path/to/table.csv.gz tables/build-nb201-fashion-mnist.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ARCHSEARCH=${ARCHSEARCH:-.venv/bin/archsearch}
OUT=${OUT:-tables/nb201-fashion-mnist.csv.gz}
exec "$ARCHSEARCH" bench build --out "$OUT" --space nb201 --channels 8 --cells 1 \
    --dataset fashion-mnist --image-size 16 --val-fraction 0.0333 --n-train 3000 \
    --epochs 3 --batch-size 64 --lr 0.1 --seed 0 --workers 2 --threads 1 "$@"
