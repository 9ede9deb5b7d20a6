"""What an experiment is: a config, a seeded ``run``, a deterministic ``run_once``, ``plot``.

Every experiment of ``../shared/BOOK.md``'s table "Experiments to reproduce" is an
``Experiment``: its book configuration (a frozen dataclass), ``run(cfg, seed) -> dict``
(one seed, JSON-serialisable), or ``run_once(cfg, cache_dir) -> dict`` for the
deterministic parts (the SVM and darkness baselines, the one-neuron widget),
``plot(result) -> {name: Figure}``, ``quick(cfg) -> cfg`` (a small version for CI with the
same shape), and what the report states: ``Metric``s (numbers, with the book's where
BOOK.md gives one) and ``Claim``s (the book's qualitative statements, checked).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Result = dict[str, Any]


@dataclass(frozen=True)
class Metric:
    """A number the report gives for an experiment, per seed (or once)."""

    name: str  # e.g. "best test accuracy (%)"
    extract: Callable[[Result], float]  # from one seed's result, or from the run_once result
    book: float | None = None  # the published number, where BOOK.md gives one
    book_text: str = ""  # how BOOK.md states it
    once: bool = False  # computed from the deterministic part, not per seed


@dataclass(frozen=True)
class Claim:
    """A qualitative statement of the book, checked on each seed (or once)."""

    text: str
    check: Callable[[Result], bool]
    once: bool = False
    full_size_only: bool = False  # compares with a full-size number: not checked on --quick data


@dataclass(frozen=True)
class Experiment:
    id: str
    title: str  # chapter / figure of the book
    config: Any
    plot: Callable[[Result], dict[str, Any]]
    quick: Callable[[Any], Any]
    run: Callable[[Any, int], Result] | None = None  # seeded part
    run_once: Callable[[Any, Any], Result] | None = None  # deterministic part (cfg, cache_dir)
    metrics: tuple[Metric, ...] = ()
    claims: tuple[Claim, ...] = ()
    notes: str = ""  # what a reader of the report should know (quirks, choices)
    quick_note: str = ""  # printed under a --quick run's numbers: what the small version does not show
    cost: float = 1.0  # rough full-size minutes per seed, for scheduling ``all``
    extra_versions: tuple[str, ...] = field(default=())
    uses_mnist: bool = True  # False: runs without the data (the one-neuron widget)
    checkpoints: bool = False  # run(cfg, seed, checkpoint_dir=<out>/<id>) resumes within a seed

    @property
    def seeded(self) -> bool:
        return self.run is not None
