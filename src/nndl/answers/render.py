"""Text, Markdown (LaTeX) and JSON renderings of derivations (``nndl derive``)."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Sequence
from typing import Any

from nndl.answers.checks import CheckResult, Derivation


def to_dict(d: Derivation) -> dict[str, Any]:
    """A JSON-serialisable dict of a derivation, with every check's expressions."""
    return {
        "topic": d.topic,
        "title": d.title,
        "question": d.question,
        "setting": d.setting,
        "passed": d.passed,
        "n_checks": d.n_checks,
        "steps": [
            {
                "number": i,
                "title": s.step.title,
                "equation": s.step.equation,
                "text": s.step.text,
                "latex": s.step.latex,
                "why": s.step.why,
                "passed": s.passed,
                "checks": [vars(r) for r in s.results],
            }
            for i, s in enumerate(d.steps, 1)
        ],
        "numeric": [
            {
                "label": c.label,
                "max_rel_error": c.max_rel_error,
                "tolerance": c.tolerance,
                "detail": c.detail,
                "passed": c.passed,
            }
            for c in d.numeric
        ],
        "answer": d.answer,
    }


def to_json(ds: Sequence[Derivation]) -> str:
    """JSON for one derivation (an object) or several (a list)."""
    data: Any = to_dict(ds[0]) if len(ds) == 1 else [to_dict(d) for d in ds]
    return json.dumps(data, indent=2, ensure_ascii=False)


# a step with more checks than this shows the first few and a count
_SHOWN_CHECKS = 7
_WIDTH = 92  # text output is wrapped to this many columns
_SHORT_LATEX = 60  # markdown shows a check's claimed LaTeX if no longer (or with details)


def _mark(passed: bool) -> str:
    return "ok" if passed else "FAIL"


def _shown(results: tuple[CheckResult, ...], details: bool):
    return results if details or len(results) <= _SHOWN_CHECKS else results[:_SHOWN_CHECKS]


def _wrap(text: str, indent: str = "    ") -> list[str]:
    return textwrap.wrap(
        text, _WIDTH, initial_indent=indent, subsequent_indent=indent, break_on_hyphens=False
    )


def steps_text(steps, details: bool = False) -> list[str]:
    """The checked steps as text lines (shared by derivations and exercise answers)."""
    out: list[str] = []
    for i, s in enumerate(steps, 1):
        eq = f"  {s.step.equation}" if s.step.equation else ""
        out.append(f"Step {i}. {s.step.title}{eq}")
        out += textwrap.wrap(
            s.step.text, _WIDTH, initial_indent="    Result: ", subsequent_indent=" " * 12,
            break_on_hyphens=False,
        )
        out += textwrap.wrap(
            s.step.why, _WIDTH, initial_indent="    Why:    ", subsequent_indent=" " * 12,
            break_on_hyphens=False,
        )
        shown = _shown(s.results, details)
        for r in shown:
            out.append(f"    [{_mark(r.passed)}] {r.label}")
            if details or not r.passed:
                out += _check_details(r)
        rest = s.results[len(shown):]
        failed = [r for r in rest if not r.passed]
        if rest:
            out.append(
                f"    ... and {len(rest)} more checks of the same kind: "
                f"{'all ok' if not failed else f'{len(failed)} FAILED'}"
            )
        for r in failed:
            out.append(f"    [FAIL] {r.label}")
            out += _check_details(r)
        out.append("")
    return out


def to_text(d: Derivation, *, details: bool = False) -> str:
    """The derivation as plain text; ``details`` adds every check's SymPy expressions."""
    out = [d.title, "=" * len(d.title), ""]
    out += _wrap(f"Question: {d.question}", "") + _wrap(f"Setting: {d.setting}", "")
    out += _wrap(
        "Each [ok] below means: SymPy computed the left-hand side (by diff, solve, "
        "apart, substitution) and simplified its difference from the claimed right-hand "
        "side to exactly 0.",
        "",
    )
    out.append("")
    out += steps_text(d.steps, details)
    if d.numeric:
        out.append("Numeric checks on real networks (nndl.gradcheck, float64)")
        for c in d.numeric:
            out += textwrap.wrap(
                f"[{_mark(c.passed)}] {c.label}: max relative error {c.max_rel_error:.1e} "
                f"(tolerance {c.tolerance:.0e})",
                _WIDTH, initial_indent="    ", subsequent_indent=" " * 9,
                break_on_hyphens=False,
            )
            if c.detail:
                out += _wrap(c.detail, " " * 9)
        out.append("")
    out += _wrap(f"Answer: {d.answer}", "")
    n_fail = sum(not r.passed for s in d.steps for r in s.results) + sum(
        not c.passed for c in d.numeric
    )
    out.append(f"Checks: {d.n_checks}, {'all pass' if d.passed else f'{n_fail} FAILED'}.")
    return "\n".join(out)


def _check_details(r: CheckResult) -> list[str]:
    return [
        f"           derived:  {r.derived}",
        f"           claimed:  {r.claimed}",
        f"           derived - claimed = {r.simplified}   [{r.method}]",
    ]


def steps_markdown(steps, details: bool = False) -> list[str]:
    """The checked steps as Markdown lines with LaTeX (shared by derivations and exercises)."""
    out: list[str] = []
    for i, s in enumerate(steps, 1):
        eq = f" {s.step.equation}" if s.step.equation else ""
        out += [f"**Step {i}. {s.step.title}**{eq}", "", f"$$ {s.step.latex} $$", "", s.step.why, ""]
        shown = _shown(s.results, details)
        for r in shown:
            claimed = (
                f" claimed ${r.claimed_latex}$;"
                if details or len(r.claimed_latex) <= _SHORT_LATEX
                else ""
            )
            out.append(
                f"- {'✓' if r.passed else '✗ **FAIL**'} {r.label}:{claimed} "
                f"derived − claimed = `{r.simplified}`"
            )
        rest = s.results[len(shown):]
        if rest:
            n_bad = sum(not r.passed for r in rest)
            out.append(
                f"- … and {len(rest)} more checks of the same kind"
                f" ({'all pass' if not n_bad else f'{n_bad} **FAIL**'})"
            )
        out.append("")
    return out


def to_markdown(d: Derivation, *, details: bool = False) -> str:
    """The derivation as Markdown with LaTeX (``$...$``) for each step's result."""
    out = [f"## {d.title}", "", f"**Question.** {d.question}", "", f"**Setting.** {d.setting}", ""]
    out += steps_markdown(d.steps, details)
    if d.numeric:
        out += ["**Numeric checks on a real network**", ""]
        out += ["| check | max relative error | tolerance | |", "|---|---|---|---|"]
        for c in d.numeric:
            out.append(
                f"| {c.label} | {c.max_rel_error:.1e} | {c.tolerance:.0e} | "
                f"{'✓' if c.passed else '✗ FAIL'} |"
            )
        out.append("")
        out += [c.detail + "\n" for c in d.numeric if c.detail]
    out += [f"**Answer.** {d.answer}", ""]
    out.append(f"*{d.n_checks} checks, {'all pass' if d.passed else 'SOME FAIL'}.*")
    return "\n".join(out)
