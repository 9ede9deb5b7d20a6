"""The book's exercises and problems of chapters 1-3 and 5, answered and checked
(``nndl exercise ID``, ``nndl exercise --list``).

Each exercise is a :class:`Spec` in its chapter's module (``EXERCISES`` of
:mod:`nndl.answers.chapter1`, :mod:`~nndl.answers.chapter2`,
:mod:`nndl.answers.chapter3.exercises`, :mod:`nndl.answers.chapter5.exercises`):

- ``steps``: the solution's steps, each with SymPy checks (:class:`~nndl.answers.checks.Check`:
  ``derived - claimed`` must simplify to exactly 0), as for ``nndl derive``;
- ``run``: the experiment behind a claim about networks (a real network trained or
  probed), returning :class:`~nndl.answers.checks.Claim` objects decided from the
  measured numbers, tables of what was measured, and numbers the answer's prose quotes;
- ``answer``: the conclusion in the book's notation, and whether it is an open question
  (then it is marked as one reasonable answer, not *the* answer).

:func:`exercise` builds an answer and runs every check; :func:`markdown` returns the
Markdown (LaTeX) of any answer by id, exercises and the derive/explain topics alike.
"""

from __future__ import annotations

import importlib
import json
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nndl.answers.checks import CheckedStep, Claim, Step, run_check
from nndl.answers.registry import EXERCISES, TOPICS, Entry, exercise_module, resolve
from nndl.answers.render import steps_markdown, steps_text

__all__ = ["ExerciseAnswer", "Run", "Spec", "exercise", "markdown", "specs", "to_json"]

_WIDTH = 92


@dataclass(frozen=True)
class Run:
    """What an exercise's experiment measured: claims, tables, numbers for the prose."""

    claims: list[Claim]
    tables: list[Any] = field(default_factory=list)  # nndl.answers.tables.Table
    numbers: dict[str, Any] = field(default_factory=dict)
    setting: str = ""  # what was run, in one or two sentences (data, network, budget)


@dataclass(frozen=True)
class Spec:
    """One exercise's answer, before it is checked (see the module docstring)."""

    question: str  # the exercise, paraphrased from the book
    answer: str | Callable[[dict[str, Any]], str]  # prose; a callable gets Run.numbers
    steps: Callable[[], list[Step]] | None = None
    run: Callable[[bool], Run] | None = None  # run(full) -> Run
    open_question: bool = False
    complete: bool = True  # False: the output says what is not done yet
    missing: str = ""  # what is not done, when not complete
    section: str = ""  # the book's section, e.g. "Learning with gradient descent"


@dataclass(frozen=True)
class ExerciseAnswer:
    """An exercise's answer with every check run (what :func:`exercise` returns)."""

    entry: Entry
    spec: Spec
    steps: tuple[CheckedStep, ...]
    run: Run | None
    answer: str
    seconds: float

    @property
    def claims(self) -> list[Claim]:
        return list(self.run.claims) if self.run else []

    @property
    def n_symbolic(self) -> int:
        return sum(len(s.results) for s in self.steps)

    @property
    def n_numeric(self) -> int:
        return len(self.claims)

    @property
    def passed(self) -> bool:
        return (all(s.passed for s in self.steps) and all(c.passed for c in self.claims)
                and self.spec.complete)

    @property
    def heading(self) -> str:
        e = self.entry
        return f"Chapter {e.chapter}, {e.kind} {e.number} ({e.id}): {e.line}"

    def to_text(self, *, details: bool = False) -> str:
        out = [self.heading, "=" * min(len(self.heading), _WIDTH), ""]
        if self.spec.section:
            out += _wrap(f"In the book: chapter {self.entry.chapter}, '{self.spec.section}'.") + [""]
        out += _wrap(f"Question: {self.spec.question}") + [""]
        if self.spec.open_question:
            out += _wrap("This is an open question: below is ONE reasonable answer, backed by an "
                         "experiment nndl runs, not the answer.") + [""]
        if not self.spec.complete:
            out += _wrap(f"NOT FINISHED: {self.spec.missing}") + [""]
        if self.steps:
            out += _wrap("Each [ok] below: SymPy computed the left-hand side and simplified its "
                         "difference from the claimed right-hand side to exactly 0.") + [""]
            out += steps_text(self.steps, details)
        if self.run:
            if self.run.setting:
                out += _wrap(f"Experiment: {self.run.setting}") + [""]
            for t in self.run.tables:
                out += t.text()
            if self.run.claims:
                out.append("Claims checked on the run:")
                for c in self.run.claims:
                    out += textwrap.wrap(f"[{'ok' if c.passed else 'FAIL'}] {c.text}", _WIDTH,
                                         initial_indent="    ", subsequent_indent=" " * 9,
                                         break_on_hyphens=False)
                    if c.detail:
                        out += textwrap.wrap(c.detail, _WIDTH, initial_indent=" " * 9,
                                             subsequent_indent=" " * 9, break_on_hyphens=False)
                out.append("")
        label = "One reasonable answer" if self.spec.open_question else "Answer"
        out += _wrap(f"{label}: {self.answer}")
        out.append(self._summary())
        return "\n".join(out)

    def _summary(self) -> str:
        n_fail = sum(not r.passed for s in self.steps for r in s.results) + sum(
            not c.passed for c in self.claims)
        verdict = "all pass" if n_fail == 0 else f"{n_fail} FAILED"
        done = "" if self.spec.complete else " Answer NOT FINISHED (see above)."
        return (f"Checks: {self.n_symbolic} symbolic, {self.n_numeric} numerical, {verdict}."
                f"{done}")

    def to_markdown(self, *, details: bool = False) -> str:
        out = [f"## {self.heading}", ""]
        if self.spec.section:
            out += [f"*In the book: chapter {self.entry.chapter}, “{self.spec.section}”.*", ""]
        out += [f"**Question.** {self.spec.question}", ""]
        if self.spec.open_question:
            out += ["> An open question: below is **one reasonable answer**, backed by an "
                    "experiment nndl runs, not *the* answer.", ""]
        if not self.spec.complete:
            out += [f"> **Not finished:** {self.spec.missing}", ""]
        out += steps_markdown(self.steps, details)
        if self.run:
            if self.run.setting:
                out += [f"**Experiment.** {self.run.setting}", ""]
            for t in self.run.tables:
                out += t.markdown()
            if self.run.claims:
                out += ["**Claims checked on the run**", ""]
                out += [f"- {'✓' if c.passed else '✗ **FAIL**'} {c.text}"
                        + (f" ({c.detail})" if c.detail else "") for c in self.run.claims]
                out.append("")
        label = "One reasonable answer." if self.spec.open_question else "Answer."
        out += [f"**{label}** {self.answer}", "", f"*{self._summary()}*"]
        return "\n".join(out)

    def to_dict(self) -> dict[str, Any]:
        from nndl.answers.render import to_dict as _derivation_dict

        steps = _derivation_dict(_Shim(self.steps))["steps"]
        return {
            "id": self.entry.id, "chapter": self.entry.chapter, "kind": self.entry.kind,
            "number": self.entry.number, "line": self.entry.line, "section": self.spec.section,
            "question": self.spec.question, "open_question": self.spec.open_question,
            "complete": self.spec.complete, "missing": self.spec.missing,
            "steps": steps,
            "experiment": None if self.run is None else {
                "setting": self.run.setting,
                "tables": [{"title": t.title, "headers": t.headers, "rows": t.rows} for t in self.run.tables],
                "numbers": _jsonable(self.run.numbers),
            },
            "claims": [{"label": c.label, "value": float(c.value), "op": c.op, "bound": float(c.bound),
                        "tolerance": c.tolerance, "detail": c.detail, "passed": c.passed}
                       for c in self.claims],
            "answer": self.answer, "n_symbolic": self.n_symbolic, "n_numeric": self.n_numeric,
            "passed": self.passed, "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class _Shim:  # what render.to_dict reads from a Derivation, for an exercise's steps
    steps: tuple[CheckedStep, ...]
    topic: str = ""
    title: str = ""
    question: str = ""
    setting: str = ""
    answer: str = ""
    numeric: tuple = ()
    passed: bool = True
    n_checks: int = 0


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if hasattr(x, "item") and callable(x.item):
        return x.item()
    return x


def _wrap(text: str) -> list[str]:
    return textwrap.wrap(text, _WIDTH, break_on_hyphens=False)


def specs(id_: str) -> Spec:
    """The unchecked :class:`Spec` of exercise ``id_`` (ValueError for an unknown id)."""
    id_ = resolve(id_)
    try:
        module = exercise_module(id_)
    except KeyError:
        raise ValueError(f"unknown exercise {id_!r}; `nndl exercise --list` lists them") from None
    try:
        return importlib.import_module(module).EXERCISES[id_]
    except (ImportError, AttributeError, KeyError):
        return _UNFINISHED(id_)


def _UNFINISHED(id_: str) -> Spec:  # noqa: N802
    """What an exercise without a written answer prints: that it has none yet."""
    return Spec(EXERCISES[id_].line, "no answer has been written for this exercise yet.",
                complete=False, missing="nndl has no answer to this exercise yet (issue 15); "
                "nothing below is checked.")


def exercise(id_: str, *, full: bool = False) -> ExerciseAnswer:
    """Build exercise ``id_``'s answer and run every check (symbolic and on networks).

    ``full`` runs network experiments at their real size (minutes) instead of the
    small default (seconds).
    """
    start = time.perf_counter()
    id_ = resolve(id_)
    spec = specs(id_)
    steps = tuple(CheckedStep(s, tuple(run_check(c) for c in s.checks))
                  for s in (spec.steps() if spec.steps else []))
    run = None
    if spec.run:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):  # small products: one BLAS thread avoids contention (as nndl trains)
            run = spec.run(full)
    answer = spec.answer(run.numbers if run else {}) if callable(spec.answer) else spec.answer
    return ExerciseAnswer(EXERCISES[id_], spec, steps, run, answer, time.perf_counter() - start)


def to_json(answers: list[ExerciseAnswer]) -> str:
    data: Any = answers[0].to_dict() if len(answers) == 1 else [a.to_dict() for a in answers]
    return json.dumps(data, indent=2, ensure_ascii=False)


def markdown(id_: str, *, full: bool = False) -> str:
    """The Markdown (with LaTeX) of any answer by id: an exercise, a ``derive`` topic or an
    ``explain`` topic (for reports that render answers in a page)."""
    if id_ in EXERCISES:
        return exercise(id_, full=full).to_markdown()
    entry = TOPICS.get(id_)
    if entry is None:
        raise ValueError(f"unknown answer {id_!r}; `nndl exercise --list` lists them")
    if entry.kind == "derive":
        from nndl.answers.derivations import derive
        from nndl.answers.render import to_markdown

        return to_markdown(derive(id_))
    from nndl.answers.explanations import explain

    options = {"full": True} if full and id_ == "deep-networks" else {}
    return explain(id_, **options).to_markdown()
