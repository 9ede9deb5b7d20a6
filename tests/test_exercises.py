"""nndl exercise: all 43 exercises and problems have an id and an answer whose every step is
checked; altering a step's claim makes its check fail; claims about runs are decided from
the measured numbers."""

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest
import sympy

from nndl.answers import exercises as ex
from nndl.answers.checks import Claim, run_check
from nndl.answers.registry import EXERCISES, TOPICS
from nndl.cli import main

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT.parent / "shared" / "BOOK.md"
_CACHE: dict[str, ex.ExerciseAnswer] = {}


def answer(id_: str) -> ex.ExerciseAnswer:
    """Each answer once per test session (the runs are the slow part)."""
    if id_ not in _CACHE:
        _CACHE[id_] = ex.exercise(id_)
    return _CACHE[id_]


def test_43_ids_in_the_books_order_with_chapters():
    assert len(EXERCISES) == 43
    assert [e.chapter for e in EXERCISES.values()] == [1] * 8 + [2] * 5 + [3] * 27 + [5] * 3
    for chapter in (1, 2, 3, 5):
        numbers = [e.number for e in EXERCISES.values() if e.chapter == chapter]
        assert numbers == list(range(1, len(numbers) + 1))
    assert all(e.id.startswith(f"ch{e.chapter}-") for e in EXERCISES.values())
    assert not set(EXERCISES) & set(TOPICS)
    if BOOK.exists():  # the counts match the book list of ../shared/BOOK.md
        text = BOOK.read_text().split("## The exercises and problems", 1)[1]
        assert text.count("(27)") == 1 and "(28)" not in text.split("Chapter 5:")[0]


def test_registry_knows_every_written_answer():
    import importlib

    from nndl.answers.registry import _EXERCISE_MODULES

    for chapter, module in _EXERCISE_MODULES.items():
        written = importlib.import_module(module).EXERCISES
        for id_ in written:
            assert id_ in EXERCISES and EXERCISES[id_].chapter == chapter, id_


def test_derive_and_explain_topics_are_listed():
    from nndl.commands import derive as derive_command
    from nndl.commands import explain as explain_command

    assert {t for t, e in TOPICS.items() if e.kind == "derive"} == set(derive_command.TOPICS)
    assert {t for t, e in TOPICS.items() if e.kind == "explain"} == set(explain_command.TOPICS)


def test_cli_list_shows_all_43_and_the_topics(capsys):
    assert main(["exercise", "--list"]) == 0
    out = capsys.readouterr().out
    for id_ in (*EXERCISES, *TOPICS):
        assert id_ in out
    assert "43 exercises and problems" in out


@pytest.mark.parametrize("id_", list(EXERCISES))
def test_answer_passes_or_says_it_is_unfinished(id_):
    a = answer(id_)
    text = a.to_text()
    if not a.spec.complete:
        assert "NOT FINISHED" in text and not a.passed
        return
    assert a.n_symbolic + a.n_numeric > 0, f"{id_}: an answer with nothing checked"
    for s in a.steps:
        assert s.results and s.passed, (id_, s.step.title, [r.label for r in s.results if not r.passed])
    for c in a.claims:
        assert c.passed, (id_, c.text)
        # passed is decided from the measured value, the comparison and the bound
        assert c.passed == Claim(c.label, c.value, c.op, c.bound, c.tolerance).passed
    assert a.passed and "all pass" in text
    if a.spec.open_question:
        assert "One reasonable answer" in text and "ONE reasonable answer" in text


def _perturbations(claimed):
    claimed = sympy.sympify(claimed)
    yield claimed + sympy.Rational(1, 7)
    if claimed != 0:
        yield -claimed


@pytest.mark.parametrize("id_", [i for i in EXERCISES if ex.specs(i).steps])
def test_every_symbolic_check_fails_when_its_claim_is_altered(id_):
    steps = ex.specs(id_).steps()
    n = 0
    for step in steps:
        checks = step.checks if len(step.checks) <= 4 else (step.checks[0], step.checks[-1])
        for check in checks:
            for wrong in _perturbations(check.claimed):
                result = run_check(dataclasses.replace(check, claimed=wrong))
                assert not result.passed, (id_, step.title, check.label, str(wrong))
                n += 1
    assert n >= len(steps)


def test_a_claim_never_prints_equal_numbers_as_unequal():
    assert Claim("x", 10.0004, ">", 10).text == "x: 10.0004 > 10"
    assert Claim("x", 10, ">=", 10).text == "x: 10 >= 10"


def test_claims_compare_as_written():
    assert Claim("x", 0.5, "<", 1).passed and not Claim("x", 1, "<", 1).passed
    assert Claim("x", 1, "<=", 1).passed and not Claim("x", 1.5, ">=", 2).passed
    assert not Claim("x", float("nan"), ">", 0).passed
    with pytest.raises(ValueError):
        Claim("x", 1, "=", 1)


def test_cli_formats_and_exit_status(capsys):
    assert main(["exercise", "ch1-one-variable", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["id"] == "ch1-one-variable" and data["passed"] and data["n_symbolic"] >= 3
    assert main(["exercise", "ch1-one-variable", "--format", "markdown"]) == 0
    md = capsys.readouterr().out
    assert md.startswith("## Chapter 1, exercise 5") and "$$" in md and "**Answer.**" in md


def test_markdown_by_id_for_reports():
    assert ex.markdown("ch3-tanh-sigmoid").startswith("## Chapter 3, exercise 27")
    assert ex.markdown("sigmoid-prime").startswith("## The derivative of the sigmoid")
    with pytest.raises(ValueError):
        ex.markdown("no-such-id")


@pytest.mark.parametrize("args", [["no-such-id"], ["cross-entropy"], [], ["--list", "ch1-one-variable"]])
def test_cli_usage_errors(args, capsys):
    assert main(["exercise", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nndl: error: ")
    if args == ["cross-entropy"]:
        assert "nndl derive cross-entropy" in err


def test_renamed_id_still_answers(capsys):
    from nndl.answers.registry import ALIASES

    assert ALIASES["ch3-old-init-std"] == "ch3-new-init-std" and "ch3-old-init-std" not in EXERCISES
    assert "new initialisation" in EXERCISES["ch3-new-init-std"].line
    assert ex.specs("ch3-old-init-std") is ex.specs("ch3-new-init-std")


def test_list_follows_the_format(capsys):
    assert main(["exercise", "--list", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [e["id"] for e in data["exercises"]] == list(EXERCISES)
    assert [t["id"] for t in data["topics"]] == list(TOPICS)
    assert main(["exercise", "--list", "--format", "markdown"]) == 0
    md = capsys.readouterr().out
    assert md.startswith("| id |") and all(f"`{i}`" in md for i in (*EXERCISES, *TOPICS))


def test_list_is_cheap():
    code = ("import sys, nndl.cli; nndl.cli.main(['exercise', '--list']); "
            "print('numpy' in sys.modules, 'sympy' in sys.modules, file=sys.stderr)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stderr.strip().splitlines()[-1] == "False False"


def test_docs_exercises_md_is_generated_from_the_answers():
    """docs/exercises.md is `python -m nndl.answers.docs`'s output for the current answers."""
    from nndl.answers.docs import build

    doc = ROOT / "docs" / "exercises.md"
    text = build(answer(i) for i in EXERCISES)  # the answers run above, cached
    assert doc.read_text(encoding="utf-8") == text, "regenerate: python -m nndl.answers.docs"
    assert text.count("\n### ch") == 43
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/exercises.md" in readme
