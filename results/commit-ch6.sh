#!/bin/sh
# Commit finished full-size chapter-6 results: results/<id>/ (result.json, figures, the
# trained net) and docs/reproduction.md regenerated from all committed results.
#   sh results/commit-ch6.sh ch6-conv2 [ch6-fc ...]
# Refuses an id whose result.json is missing, a --quick result, or one still training
# (a checkpoint left in its folder).
set -eu
cd "$(dirname "$0")/.."
[ -f .venv/bin/activate ] && . .venv/bin/activate
for id in "$@"; do
    f="results/$id/result.json"
    [ -f "$f" ] || { echo "$id: no $f yet" >&2; exit 1; }
    if ls "results/$id"/checkpoint-*.npz >/dev/null 2>&1; then echo "$id: still training" >&2; exit 1; fi
    python - "$f" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert not r["quick"], "a --quick result"
assert r["seeds"], "no finished seed"
for s in r["seeds"].values():
    for h in ([s["history"]] if "history" in s else s["nets"]):
        assert len(h["epoch_seconds"]) == r["config"]["epochs"], "not all epochs ran"
PY
    git add "results/$id"
done
python -m nndl.experiments.report
git add docs/reproduction.md
git commit -m "Full-size results of $* (one seed, as the book ran one); docs/reproduction.md regenerated"
