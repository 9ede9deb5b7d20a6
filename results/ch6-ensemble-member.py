"""Train members of ch6-ensemble (seed 0) one per process, so that two run at once, one per core.

The five networks of ch6-ensemble are independent (network k draws from the generators
(seed, k)), and `nndl experiment ch6-ensemble` trains them one after another. This script makes
the same call as that command's run() for the members given:

    python results/ch6-ensemble-member.py 2 3 &    # one core
    python results/ch6-ensemble-member.py 4 &      # the other

Each member writes results/ch6-ensemble/checkpoint-seed0-net{k}.npz, exactly the checkpoint
`nndl experiment ch6-ensemble --seeds 0 --out results` writes, and resumes from it after an
interruption. Once every member has finished, `sh results/commit-ch6.sh ch6-ensemble` runs
that command, which finds them all finished and only votes. Never run one member in two
processes at once. Run from the repository's folder with NNDL_DATA set.
"""

import logging
import sys
from pathlib import Path

from threadpoolctl import threadpool_limits

from nndl.experiments import chapter6
from nndl.experiments.registry import get

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
cfg = get("ch6-ensemble").config
data = chapter6._data(cfg)
with threadpool_limits(limits=1, user_api="blas"):  # as nndl experiment runs (one BLAS thread)
    for k in map(int, sys.argv[1:]):
        logging.info("member %d start", k)
        out, _ = chapter6._train_one(cfg, 0, k, data, Path("results/ch6-ensemble"))
        logging.info("member %d done: test %.4f at its best validation epoch %d", k,
                     out["test_accuracy_at_best"], out["best_epoch"])
