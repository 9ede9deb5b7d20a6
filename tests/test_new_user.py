"""What a new user trips on (issue 12): paths, many inputs, options that cannot be honoured,
quick experiments, and the run folder that evaluate, predict and gradcheck all accept.

In-process ``main([...])`` calls on the bundled 8x8 digits: fast and offline.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nndl.cli import main
from nndl.errors import UsageError
from nndl.paths import check_output_dir, check_output_file, os_error_message, plot_formats


def cli(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_error(err: str, *fragments: str) -> None:
    lines = [l for l in err.splitlines() if l.startswith("nndl: error:")]
    assert len(lines) == 1 and "Traceback" not in err and "Errno" not in err, err
    for f in fragments:
        assert f in lines[0], (f, lines[0])


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("newuser") / "run"
    assert main(["train", "--data", "digits", "--epochs", "2", "--no-plots", "-q", "-o", str(folder)]) == 0
    return folder


# ------------------------------------------------------------------ item 5: paths
def test_explain_plot_with_an_unknown_suffix_or_a_missing_folder_is_one_line(capsys, tmp_path):
    code, out, err = cli(capsys, "explain", "earlier-layers", "--plot", tmp_path / "x.jpgg")
    assert code == 2 and out == ""  # checked before the work: nothing printed
    one_error(err, "--plot", "x.jpgg", "'.jpgg'", ".png")
    code, out, err = cli(capsys, "explain", "earlier-layers", "--plot", tmp_path / "nodir" / "x.png")
    assert code == 2 and out == ""
    one_error(err, "nodir", "does not exist")


def test_every_command_that_writes_checks_its_path_first(capsys, tmp_path, run_folder):
    afile = tmp_path / "afile"
    afile.write_text("x")
    cases = [
        ["train", "--data", "digits", "--epochs", "1", "-o", afile / "run"],
        ["evaluate", run_folder, "-o", afile],
        ["predict", run_folder, "x.png", "--save-inputs", afile],
        ["experiment", "ch3-saturation", "--quick", "--out", afile],
    ]
    for argv in cases:
        code, _, err = cli(capsys, *argv)
        assert code == 2, argv
        one_error(err, str(afile))


def test_path_helpers(tmp_path):
    assert "png" in plot_formats() and "pdf" in plot_formats() and "svg" in plot_formats()
    assert check_output_file(tmp_path / "a.svg", "--plot", plot_formats()) == tmp_path / "a.svg"
    with pytest.raises(UsageError, match="no suffix"):
        check_output_file(tmp_path / "a", "--plot", plot_formats())
    with pytest.raises(UsageError, match="is a folder"):
        check_output_file(tmp_path, "--plot")
    assert check_output_dir(tmp_path / "new" / "deeper", "--out") == tmp_path / "new" / "deeper"
    if os.geteuid() != 0:  # root may write anywhere
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o500)
        with pytest.raises(UsageError, match="permission denied"):
            check_output_dir(ro / "x", "--out")
    if Path("/proc/self").is_dir():  # Linux: permissions say root may write in /proc; writing says no
        with pytest.raises(UsageError, match="cannot write into the folder /proc"):
            check_output_dir("/proc/nndl-test", "--out")
        with pytest.raises(UsageError, match="cannot write into the folder /proc") as e:
            check_output_file("/proc/x.png", "--plot", plot_formats())
        assert "no such file" not in str(e.value)  # /proc exists: never called missing
    # a folder named as a file is "a folder", whatever its suffix; an empty path is a usage error
    with pytest.raises(UsageError, match="is a folder"):
        check_output_file(tmp_path, "--plot", plot_formats())
    for empty in ("", " "):
        with pytest.raises(UsageError, match="--plot: the path is empty"):
            check_output_file(empty, "--plot", plot_formats())
        with pytest.raises(UsageError, match="--out: the path is empty"):
            check_output_dir(empty, "--out")
    try:
        open(tmp_path / "nodir" / "f")
    except OSError as exc:
        assert os_error_message(exc) == f"{tmp_path / 'nodir' / 'f'}: no such file or folder"


def test_an_oserror_at_the_cli_names_the_path_in_plain_words(capsys, monkeypatch, tmp_path):
    import nndl.commands.info as info

    def boom(args):
        raise PermissionError(13, "Permission denied", str(tmp_path / "x"))

    monkeypatch.setattr(info, "run", boom)
    code, _, err = cli(capsys, "info")
    assert code == 1
    one_error(err, f"{tmp_path / 'x'}: permission denied")


# ------------------------------------------------------------------ item 6: many inputs
def test_predict_answers_for_every_good_image_and_reports_each_bad_one(capsys, tmp_path, run_folder):
    from nndl.data import load_digits

    x = load_digits().test.X[0].reshape(8, 8)
    good = tmp_path / "good.png"
    Image.fromarray((255 - 255 * x).astype(np.uint8)).resize((80, 80)).save(good)
    blank = tmp_path / "blank.png"
    Image.new("L", (50, 50), 255).save(blank)
    code, out, err = cli(capsys, "predict", run_folder, good, blank, good, tmp_path / "gone.png")
    assert code == 1
    assert out.count("good.png: ") == 2 and "blank.png" not in out
    errors = [l for l in err.splitlines() if l.startswith("nndl: error:")]
    assert len(errors) == 2 and "blank.png: no digit found" in errors[0] and "gone.png" in errors[1]
    assert "2 of 4 images could not be read" in err


def test_predict_show_and_save_inputs_give_the_image_the_network_saw(capsys, tmp_path, run_folder):
    from nndl.data import load_digits
    from nndl.images import digit_input

    x = load_digits().test.X[0].reshape(8, 8)
    good = tmp_path / "seven.png"
    Image.fromarray((255 - 255 * x).astype(np.uint8)).resize((80, 80)).save(good)
    code, out, _ = cli(capsys, "predict", run_folder, good, "--show", "--save-inputs", tmp_path / "in")
    assert code == 0
    frame = [l for l in out.splitlines() if l.startswith("|")]
    assert len(frame) == 8 and all(len(l) == 10 for l in frame)
    seen = digit_input(good, 64)
    assert sum(c != " " for l in frame for c in l[1:-1]) == int(np.sum(seen >= 0.1))
    png = np.asarray(Image.open(tmp_path / "in" / "seven-input.png"), dtype=np.float64) / 255
    np.testing.assert_allclose(png.reshape(-1), seen, atol=0.5 / 255)
    code, out, _ = cli(capsys, "predict", run_folder, good, "--json", "--show")
    np.testing.assert_allclose(json.loads(out)["input"], seen, atol=1e-4)


# ------------------------------------------------------------------ item 8: options
@pytest.mark.parametrize("argv,fragments", [
    (["train", "--data", "mnst"], ["--data mnst", "did you mean mnist"]),
    (["train", "--data", "digits", "--sizes", "64,,10"], ["--sizes", "an empty entry"]),
    (["train", "--data", "digits", "--sizes", "64,0,10"], ["--sizes", "at least one neuron"]),
    (["train", "--data", "digits", "--sizes", "64,-3,10"], ["--sizes", "at least one neuron"]),
    (["train", "--data-dir", "{tmp}/missing"], ["--data-dir", "missing: no such folder"]),
    (["train", "--data", "digits", "--data-dir", "{tmp}"], ["--data-dir names the folder of MNIST"]),
    (["evaluate", "{run}", "--data", "mnst"], ["--data mnst"]),
    (["evaluate", "{run}", "--data-dir", "{tmp}/missing"], ["--data-dir"]),
    (["evaluate", "{run}", "--no-plots", "-o", "{tmp}/o"], ["--no-plots writes none"]),
    (["info", "--data-dir", "{tmp}/missing"], ["--data-dir"]),
    (["experiment", "ch3-saturation", "--data-dir", "{tmp}/missing"], ["--data-dir"]),
    (["explain", "saturation", "--seed", "3"], ["saturation has no --seed"]),
    (["experiment", "ch1-darkness", "--seeds", "4"], ["ch1-darkness is deterministic"]),
    (["derive", "l2", "--details", "--format", "json"], ["--details"]),
    (["explain", "saturation", "--batch", "3"], ["saturation has no --batch"]),
    (["gradcheck", "--sizes", "5,,3"], ["--sizes", "an empty entry"]),
    (["gradcheck", "--model", "{run}", "--hidden", "tanh"], ["--hidden", "comes from --model"]),
    (["gradcheck", "--eps", "0"], ["--eps must be a positive number"]),
    (["gradcheck", "--max-entries", "0"], ["--max-entries must be at least 1"]),
])
def test_an_option_that_cannot_be_honoured_is_a_usage_error(capsys, tmp_path, run_folder, argv, fragments):
    argv = [a.format(tmp=tmp_path, run=run_folder) for a in argv]
    code, _, err = cli(capsys, *argv)
    assert code == 2, err
    one_error(err, *fragments)


def test_sizes_without_a_hidden_layer_are_not_summarised_as_sigmoid_hidden(capsys, tmp_path):
    code, out, _ = cli(capsys, "train", "--data", "digits", "--sizes", "64,10", "--epochs", "1",
                       "--no-plots", "-o", tmp_path / "r")
    assert code == 0 and "no hidden layer" in out and "sigmoid hidden" not in out


# ------------------------------------------------------------------ item 4 at the CLI
def test_stuck_at_chance_is_warned_on_stderr_and_in_history_json(capsys, tmp_path):
    code, out, err = cli(capsys, "train", "--data", "digits", "--cost", "quadratic", "--init", "large",
                       "--eta", "100", "--epochs", "2", "--no-plots", "-o", tmp_path / "r")
    assert code == 0
    assert "stuck at chance in epoch 0" in err and "eta = 100 is far too large" in err
    assert "warning:     stuck at chance in epoch 0 (see the log above and history.json)" in out
    record = json.loads((tmp_path / "r" / "history.json").read_text())
    assert record["history"]["warnings"][0].startswith("stuck at chance in epoch 0")


# ------------------------------------------------------------------ item 12: quick never replaces full
def test_a_quick_experiment_never_replaces_a_full_result(capsys, tmp_path):
    full = tmp_path / "ch3-saturation" / "result.json"
    full.parent.mkdir()
    full.write_text('{"quick": false, "stands": "for a committed full-size result"}')
    code, out, _ = cli(capsys, "experiment", "ch3-saturation", "--quick", "--out", tmp_path)
    assert code == 0
    assert json.loads(full.read_text())["stands"]  # untouched
    quick = json.loads((tmp_path / "quick" / "ch3-saturation" / "result.json").read_text())
    assert quick["quick"] is True


# ------------------------------------------------------------------ item 18
def test_gradcheck_accepts_a_run_folder(capsys, run_folder):
    code, out, _ = cli(capsys, "gradcheck", "--model", run_folder, "--max-entries", "5")
    assert code == 0 and "PASS" in out.upper()


def test_evaluate_help_names_the_files_it_writes(capsys, tmp_path, run_folder):
    with pytest.raises(SystemExit):
        main(["evaluate", "--help"])
    help_text = capsys.readouterr().out
    code, out, _ = cli(capsys, "evaluate", run_folder, "-o", tmp_path / "o")
    assert code == 0
    written = sorted(p.name for p in (tmp_path / "o").iterdir())
    assert written == ["confusion-digits-test.png", "wrong-digits-test.png"]
    assert "confusion-DATA-SPLIT.png" in help_text and "wrong-DATA-SPLIT.png" in help_text
    assert "confusion.png" not in help_text and " wrong.png" not in help_text


def test_experiment_list_gives_each_id_its_own_description(capsys):
    code, out, _ = cli(capsys, "experiment", "--list")
    descriptions = [line.split(None, 1)[1] for line in out.splitlines()]
    assert code == 0 and len(set(descriptions)) == len(descriptions)


def test_quick_summaries_set_the_books_number_beside_theirs():
    from nndl.experiments.registry import get
    from nndl.experiments.runner import summary_lines

    exp = get("ch1-30")
    result = {"quick": True, "seeds": {"0": {"history": {"evaluation_accuracy": [5000, 6000], "n_evaluation": 10000,
                                                         "training_accuracy": [], "n_training": 2000}}},
              "once": None}
    lines = summary_lines(exp, result)
    assert any("best test accuracy (%): 60  (book: 95.42 %" in l for l in lines), lines
    assert any("--quick" in l for l in lines)
    held_back = summary_lines(get("ch3-overfit"), {"quick": True, "seeds": {}, "once": None})
    assert any("publishes no number" in l for l in held_back)


def test_run_plots_call_the_test_set_test_data(monkeypatch, tmp_path):
    import nndl.plots as plots

    fig = plots.new_figure()
    ax = plots.plot_accuracy(fig.add_subplot(), {"evaluation_accuracy": [5, 6], "n_evaluation": 10,
                                                 "training_accuracy": [6, 7], "n_training": 10}, "test")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["training data", "test data"]
    seen = {}
    monkeypatch.setattr(plots, "plot_run", lambda folder, history, evaluation="evaluation": seen.setdefault(
        "evaluation", evaluation))
    assert main(["train", "--data", "digits", "--epochs", "1", "-q", "--evaluate-on", "validation",
                 "-o", str(tmp_path / "r")]) == 0
    assert seen["evaluation"] == "validation"


def test_the_report_script_checks_its_paths_first(capsys, tmp_path):
    from nndl.experiments.report import main as report

    with pytest.raises(SystemExit) as e:
        report(["--results", str(tmp_path / "nothing"), "--output", str(tmp_path / "r.md")])
    assert e.value.code == 2 and "--results" in capsys.readouterr().err
    (tmp_path / "res").mkdir()
    with pytest.raises(SystemExit) as e:
        report(["--results", str(tmp_path / "res"), "--output", str(tmp_path / "r.mdd")])
    assert e.value.code == 2 and "'.mdd'" in capsys.readouterr().err


def test_experiment_reports_each_failing_id_and_runs_the_rest(capsys, tmp_path, monkeypatch):
    from nndl.errors import DataError
    from nndl.experiments import runner

    real = runner._job

    def job(task):
        if task[0] == "ch1-svm":
            raise DataError("MNIST is not on this machine")
        return real(task)

    monkeypatch.setattr(runner, "_job", job)
    code, out, err = cli(capsys, "experiment", "ch1-svm", "ch3-saturation", "--quick", "--out", tmp_path)
    assert code == 1
    assert "ch3-saturation" in out and (tmp_path / "quick" / "ch3-saturation" / "result.json").exists()
    assert "nndl: error: ch1-svm: MNIST is not on this machine" in err
    assert "1 of 2 experiments failed: ch1-svm" in err


def test_the_cli_takes_a_cost_by_either_of_its_names(capsys, tmp_path):
    """Issue 12, item 2 at the command line: network2's class name is the same cost."""
    code, out, _ = cli(capsys, "train", "--data", "digits", "--cost", "CrossEntropyCost", "--epochs", "1",
                       "--no-plots", "-o", tmp_path / "r")
    assert code == 0 and "cross-entropy cost" in out
    record = json.loads((tmp_path / "r" / "history.json").read_text())
    assert record["settings"]["cost"] == "cross-entropy"
