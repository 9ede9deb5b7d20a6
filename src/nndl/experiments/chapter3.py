"""Chapter 3: network2.py on MNIST, one network per id, accuracy per epoch.

All: sigmoid neurons, mini-batches of 10 reshuffled every epoch, the first 50,000 training
images; eq. (93)'s n = 50,000.
"""

from __future__ import annotations

import dataclasses

from nndl.experiments import single
from nndl.experiments.common import Net
from nndl.experiments.spec import Claim, Experiment, Metric

CE_30 = Net(
    sizes=(784, 30, 10),  # chap3: "a network with 30 hidden neurons"
    cost="cross-entropy",  # cost=network2.CrossEntropyCost
    init="large",  # net.large_weight_initializer(), as chapter 1
    n_train=50_000,  # training_data
    evaluation="test",  # evaluation_data=test_data
    eta=0.5,  # net.SGD(training_data, 30, 10, 0.5, ...)
    lmbda=0.0,  # no regularization
    epochs=30,  # 30 epochs
)
CE_100 = dataclasses.replace(
    CE_30,
    sizes=(784, 100, 10),  # chap3: "100 hidden neurons", otherwise as CE_30
)
OVERFIT_FULL = dataclasses.replace(
    CE_30,
    monitor=("evaluation_accuracy", "training_accuracy"),  # test and training accuracy every epoch
)
REG_FULL = dataclasses.replace(
    CE_30,
    lmbda=5.0,  # chap3: "lambda = 5.0" with the full 50,000 images
)
REG_100 = dataclasses.replace(
    CE_30,
    sizes=(784, 100, 10),  # 100 hidden neurons
    evaluation="validation",  # evaluation_data=validation_data
    lmbda=5.0,  # lmbda = 5.0
)
REG_100_LONG = dataclasses.replace(
    REG_100,
    eta=0.1,  # chap3: "eta = 0.1" ...
    epochs=60,  # ... "and 60 epochs"
)
HYPER_BAD = Net(
    sizes=(784, 30, 10),  # chap3, "How to choose a neural network's hyper-parameters?"
    cost="cross-entropy",  # network2's default cost
    init="default",  # network2's default_weight_initializer
    n_train=50_000,  # training_data
    evaluation="validation",  # evaluation_data=validation_data
    eta=10.0,  # net.SGD(training_data, 30, 10, 10.0, lmbda = 1000.0, ...)
    lmbda=1000.0,  # as above
    epochs=30,  # 30 epochs
)


def _experiment(id_: str, cfg: Net, metrics, claims=(), cost: float = 0.5, notes: str = "") -> Experiment:
    return Experiment(id=id_, title="chapter 3, network2.py", config=cfg, run=single.run, plot=single.plot,
                      quick=single.quick, metrics=metrics, claims=claims, cost=cost, notes=notes)


def _chance(r) -> bool:
    return single.best()(r) < 20.0


EXPERIMENTS = (
    _experiment("ch3-ce-30", CE_30, single.metrics(CE_30, 95.49, "95.49 %")),
    _experiment("ch3-ce-100", CE_100, single.metrics(CE_100, 96.82, "96.82 %"), cost=1.0),
    _experiment("ch3-overfit-full", OVERFIT_FULL, single.metrics(OVERFIT_FULL, 95.33, "best 95.33 % test") + (
        Metric("best training accuracy (%)", single.best("training_accuracy"), 97.86, "best 97.86 % training"),),
        claims=(Claim("training accuracy ends above test accuracy",
                      lambda r: single.final("training_accuracy")(r) > single.final()(r)),)),
    _experiment("ch3-reg-full", REG_FULL, single.metrics(REG_FULL, 96.49, "96.49 %")),
    _experiment("ch3-reg-100", REG_100, single.metrics(REG_100, 97.92, "97.92 %"), cost=1.0),
    _experiment("ch3-reg-100-long", REG_100_LONG, single.metrics(REG_100_LONG, 98.04, "98.04 %"), cost=2.0),
    _experiment("ch3-hyper-bad", HYPER_BAD, single.metrics(HYPER_BAD), claims=(
        Claim("no better than chance: never above 20 % on any epoch", _chance),)),
)
