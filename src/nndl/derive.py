"""The book's derivations, step by step, every step checked by SymPy (``nndl derive TOPIC``).

A compatibility front for :mod:`nndl.answers`, where the answers are laid out by chapter:
the checking machinery is :mod:`nndl.answers.checks`, the topics and :func:`derive` are
:mod:`nndl.answers.derivations`, the steps live in the chapter modules
(:mod:`nndl.answers.chapter2`, :mod:`nndl.answers.chapter3.derivations`), and the
renderings are :mod:`nndl.answers.render`.

Examples
--------
>>> from nndl.derive import derive, to_text
>>> d = derive("sigmoid-prime")
>>> d.passed
True
>>> print(to_text(d))  # doctest: +SKIP
"""

from __future__ import annotations

from nndl.answers.checks import (
    Check,
    CheckedStep,
    CheckResult,
    Derivation,
    NumericCheck,
    Step,
    run_check,
)
from nndl.answers.derivations import _TOPICS, TOPICS, build_steps, derive, numeric_checks  # noqa: F401
from nndl.answers.render import to_dict, to_json, to_markdown, to_text

__all__ = [
    "Check",
    "CheckResult",
    "CheckedStep",
    "Derivation",
    "NumericCheck",
    "Step",
    "TOPICS",
    "build_steps",
    "derive",
    "numeric_checks",
    "run_check",
    "to_dict",
    "to_json",
    "to_markdown",
    "to_text",
]
