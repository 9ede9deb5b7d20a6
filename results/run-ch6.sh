#!/bin/sh
# The full-size chapter-6 runs, one process at a time (2 cores), in the order of issue 14.
# Resumable: run it again after an interruption; every id continues after its last finished
# epoch (results/<id>/checkpoint-seed0.npz) and ids already done are skipped.
#   sh results/run-ch6.sh                       # ch6-conv2 ch6-fc ch6-conv1 ch6-relu ch6-expanded
#   sh results/run-ch6.sh ch6-extra-fc ch6-dropout
# Per-epoch lines (training seconds, accuracies) go to $LOGDIR/<id>.log, each with a UTC time.
set -u
cd "$(dirname "$0")/.."
[ -f .venv/bin/activate ] && . .venv/bin/activate
export NNDL_DATA="${NNDL_DATA:-$(cd .. && pwd)/shared/data/mnist}" MPLBACKEND=Agg
LOGDIR="${LOGDIR:-results/logs}"
mkdir -p "$LOGDIR"
ids="${*:-ch6-conv2 ch6-fc ch6-conv1 ch6-relu ch6-expanded}"
for id in $ids; do
    if [ -f "results/$id/result.json" ] && ! ls "results/$id"/checkpoint-*.npz >/dev/null 2>&1; then
        echo "$id: already done (results/$id/result.json); skipped"
        continue
    fi
    echo "$(date -u +%FT%TZ) start $id" >> "$LOGDIR/$id.log"
    nndl experiment "$id" --seeds 0 --out results 2>&1 |
        while IFS= read -r line; do echo "$(date -u +%FT%TZ) $line"; done >> "$LOGDIR/$id.log"
    echo "$(date -u +%FT%TZ) end $id" >> "$LOGDIR/$id.log"
done
