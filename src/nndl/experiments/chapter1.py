"""Chapter 1: network.py on MNIST (quadratic cost, N(0,1) init), four settings of the book.

All four: sigmoid neurons, mini-batch SGD with a reshuffle every epoch, mini-batches of 10,
the first 50,000 training images, accuracy on the 10,000 test images after every epoch
(chap1, "Implementing our network to classify digits").
"""

from __future__ import annotations

import dataclasses

from nndl.experiments import single
from nndl.experiments.common import Net
from nndl.experiments.spec import Claim, Experiment, Metric

CH1_30 = Net(
    sizes=(784, 30, 10),  # chap1: "a network with 30 hidden neurons"
    cost="quadratic",  # network.py's cost, eq. (6)
    init="large",  # network.py: np.random.randn, N(0, 1) weights and biases
    n_train=50_000,  # the first 50,000 training images
    evaluation="test",  # accuracy on the 10,000 test images
    eta=3.0,  # net.SGD(training_data, 30, 10, 3.0, test_data=test_data)
    lmbda=0.0,  # network.py has no regularization
    epochs=30,  # 30 epochs
)
CH1_100 = dataclasses.replace(
    CH1_30,
    sizes=(784, 100, 10),  # chap1: "a network with 100 hidden neurons", otherwise as CH1_30
)
CH1_ETA_SMALL = dataclasses.replace(
    CH1_100,  # chap1: the 100-hidden-neuron network ...
    eta=0.001,  # ... "with the learning rate reduced to eta = 0.001"
)
CH1_ETA_BIG = dataclasses.replace(
    CH1_30,  # chap1: the 30-hidden-neuron network ...
    eta=100.0,  # ... "with eta = 100.0"
)

NOTES = ("Chapter 1 reports the best of three runs (\"Implementing our network to classify digits\"): set the book's number beside the top "
         "of nndl's range (its best seed) as well as beside the median.")


def _experiment(id_: str, cfg: Net, metrics, claims=(), cost: float = 0.5) -> Experiment:
    return Experiment(id=id_, title="chapter 1, network.py", config=cfg, run=single.run, plot=single.plot,
                      quick=single.quick, metrics=metrics, claims=claims, cost=cost, notes=NOTES)


EXPERIMENTS = (
    _experiment("ch1-30", CH1_30, single.metrics(CH1_30, 95.42, '95.42 % at its best epoch ("Epoch 28")') + (
        Metric("epoch-0 test accuracy (%)", single.at_epoch(0), 91.29, "epoch 0: 9129/10000"),)),
    _experiment("ch1-100", CH1_100, single.metrics(CH1_100, 96.59, "96.59 %"), cost=1.0),
    _experiment("ch1-eta-small", CH1_ETA_SMALL, (
        Metric("last-epoch test accuracy (%)", single.final(), 20.0, "~20 % after 30 epochs (approximate)"),
        Metric("best test accuracy (%)", single.best())), claims=(
        Claim("learns very slowly: after 30 epochs still below 50 %", lambda r: single.final()(r) < 50.0),),
        cost=1.0),
    _experiment("ch1-eta-big", CH1_ETA_BIG, (
        Metric("last-epoch test accuracy (%)", single.final(), 10.0, "stuck near chance (~10 %)"),
        Metric("best test accuracy (%)", single.best())), claims=(
        Claim("stuck near chance: never above 20 % on any epoch", lambda r: single.best()(r) < 20.0),)),
)
