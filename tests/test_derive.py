"""nndl derive: every step of every derivation is a SymPy check that runs here.

The checks must pass as written, and must fail as soon as a step's claim is altered:
each claimed expression is perturbed (a constant added, or the sign flipped) and the
check has to catch it.
"""

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest
import sympy

from nndl import derive as d
from nndl.cli import main
from nndl.commands import derive as derive_command

SRC = Path(d.__file__).resolve().parent


@pytest.fixture(scope="module")
def derivations():
    """Each derivation once, without the numeric part (tested separately)."""
    return {topic: d.derive(topic, numeric=False) for topic in d.TOPICS}


def test_command_lists_the_library_topics():
    assert derive_command.TOPICS == d.TOPICS


@pytest.mark.parametrize("topic", d.TOPICS)
def test_every_step_is_checked_and_passes(derivations, topic):
    der = derivations[topic]
    assert der.steps, topic
    for step in der.steps:
        assert step.results, f"{topic}: step {step.step.title!r} has no check"
        for r in step.results:
            assert r.passed and r.simplified == "0", (topic, step.step.title, r.label, r.simplified)
    assert der.passed


def _perturbations(claimed):
    """Two alterations of a claimed expression that a check must catch."""
    claimed = sympy.sympify(claimed)
    yield claimed + sympy.Rational(1, 7)  # a wrong constant or a wrong term
    if claimed != 0:
        yield -claimed  # a sign error


def _sample(checks, topic):
    # softmax-log-likelihood has hundreds of checks of a few kinds: alter the first and
    # the last of each step (the others are the same check for other K, y, j)
    if topic == "softmax-log-likelihood" and len(checks) > 2:
        return (checks[0], checks[-1])
    return checks


@pytest.mark.parametrize("topic", d.TOPICS)
def test_every_check_fails_when_its_claim_is_altered(topic):
    n = 0
    for step in d.build_steps(topic):
        for check in _sample(step.checks, topic):
            for wrong in _perturbations(check.claimed):
                result = d.run_check(dataclasses.replace(check, claimed=wrong))
                assert not result.passed, (topic, step.title, check.label, str(wrong))
                assert result.simplified != "0"
                n += 1
    assert n >= 2 * len(d.build_steps(topic)) - 1


def test_classic_mistakes_are_caught():
    """Specific wrong versions of the book's results fail their checks."""
    a, y, z = sympy.symbols("a y z")
    steps = {s.equation: s for s in d.build_steps("cross-entropy")}
    eq75 = steps["(75)"].checks[0]
    # forgetting the a(1 - a) of (74): dC/da = a - y
    assert not d.run_check(dataclasses.replace(eq75, claimed=eq75.claimed * a * (1 - a))).passed
    quad = {s.equation: s for s in d.build_steps("quadratic")}
    # the quadratic cost's BP1 without sigma'(z), i.e. the cross-entropy's delta
    bp1 = quad["(30)"].checks[0]
    sig = 1 / (1 + sympy.exp(-sympy.Symbol("z_1", real=True)))
    without_sigma_prime = bp1.claimed / (sig * (1 - sig))
    assert not d.run_check(dataclasses.replace(bp1, claimed=without_sigma_prime)).passed
    # the 1/2 dropped from the quadratic cost: dC/da = 2(a - y) is not a - y
    half = quad["(27)"].checks[0]
    assert not d.run_check(dataclasses.replace(half, claimed=2 * half.claimed)).passed


def test_a_step_without_checks_does_not_pass():
    step = d.Step("t", "", "x", "x", "why", ())
    assert not d.CheckedStep(step, ()).passed


def test_cross_entropy_answers_seed_000(derivations):
    der = derivations["cross-entropy"]
    equations = [s.step.equation for s in der.steps]
    # the book's order: (73) chain rule, (74) sigma', (75) dC/da, (71) shown consistent, (76)
    for eq in ("(73)", "(74)", "(75)", "(71)", "(76)"):
        assert eq in equations
    assert equations.index("(75)") < equations.index("(71)") < equations.index("(76)")
    step71 = der.steps[equations.index("(71)")]
    assert any("same dC/da" in r.label for r in step71.results)
    text = d.to_text(der)
    assert "x_j cancels" in text and "consistent with (72)" in text
    # SymPy's raw antiderivative, log(a - 1), is complex on 0 < a < 1: never printed
    everything = text + d.to_markdown(der, details=True) + d.to_json([der])
    assert "log(a - 1)" not in everything and "log(a + " not in everything
    # the stated closed form is eq. (76), and it is what the check differentiates
    claimed = {r.label: r.claimed for s in der.steps for r in s.results}
    assert claimed["d/da of (76) = (75)"] == str((sympy.Symbol("a") - sympy.Symbol("y"))
                                                  / (sympy.Symbol("a") * (1 - sympy.Symbol("a"))))


def test_softmax_is_checked_for_two_to_six_classes(derivations):
    der = derivations["softmax-log-likelihood"]
    labels = [r.label for s in der.steps for r in s.results]
    for K in range(2, 7):
        # every class y and every output j of every K, by the chain rule over all k
        assert sum(lab.startswith(f"K={K}, y=") and "sum_k dC/da_k" in lab for lab in labels) == K * K
    assert any("Kronecker" in s.step.why for s in der.steps)


def test_softmax_numeric_checks_on_real_networks():
    numeric = d.numeric_checks("softmax-log-likelihood")
    assert [c.label.split(":")[0] for c in numeric] == [f"K={K}" for K in range(2, 7)]
    for c in numeric:
        assert c.passed and c.max_rel_error < 1e-8, c
    assert "every class gets a gradient" in numeric[1].detail


def test_cli_text_markdown_json(capsys):
    assert main(["derive", "cross-entropy"]) == 0
    out = capsys.readouterr().out
    assert "Step 4. Impose (72)" in out and "[ok]" in out and "FAIL" not in out
    assert "Checks: 17, all pass." in out

    assert main(["derive", "l2", "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("## L2 regularization") and "$$" in out and r"\frac{\eta \lambda}{n}" in out

    assert main(["derive", "sigmoid-prime", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["passed"] is True and data["topic"] == "sigmoid-prime"
    assert all(c["simplified"] == "0" for s in data["steps"] for c in s["checks"])


def test_cli_exits_1_and_shows_the_failing_step(monkeypatch, capsys):
    original = d._TOPICS["quadratic"]

    def altered():
        steps = original.build()
        first = steps[0]
        wrong = dataclasses.replace(first.checks[0], claimed=2 * first.checks[0].claimed)
        return [dataclasses.replace(first, checks=(wrong, *first.checks[1:])), *steps[1:]]

    monkeypatch.setitem(d._TOPICS, "quadratic", dataclasses.replace(original, build=altered))
    assert main(["derive", "quadratic"]) == 1
    out = capsys.readouterr().out
    assert "[FAIL] dC/da_1 = a_1 - y_1" in out and "1 FAILED" in out
    # the failure shows the difference at a sample point: (a_1 - y_1) - 2(a_1 - y_1) = y_1 - a_1
    # = 7/19 - 3/10 = 13/190 = 0.0684211
    assert "derived - claimed = 0.0684211 (not 0) at a_1 = 3/10, y_1 = 7/19" in out


def test_cli_rejects_unknown_topic(capsys):
    assert main(["derive", "no-such-topic"]) == 2
    assert "invalid choice" in capsys.readouterr().err


def test_sympy_is_imported_only_by_the_checks():
    importers = sorted(
        p.relative_to(SRC).as_posix()
        for p in SRC.rglob("*.py")
        if "import sympy" in p.read_text(encoding="utf-8")
    )
    assert importers == ["answers/checks.py"]  # nndl.answers.checks._sympy, called lazily
    code = ("import sys, nndl.cli, nndl.derive, nndl.explain; nndl.cli.build_parser(); "
            "print('sympy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_missing_sympy_is_one_clear_line(monkeypatch, capsys):
    """SymPy is an extra (nndl[derive]); without it `nndl derive` says what to install."""
    import sys

    from nndl.cli import main

    monkeypatch.setitem(sys.modules, "sympy", None)  # makes `import sympy` raise ImportError
    assert main(["derive", "sigmoid-prime"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["nndl: error: nndl derive needs SymPy: pip install 'nndl[derive]' (or pip install sympy)"]
