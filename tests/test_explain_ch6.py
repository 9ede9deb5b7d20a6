"""``nndl explain-ch6``: chapter 6's answers, each claim checked on a real MNIST mini-batch."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from nndl.cli import main
from nndl.commands import explain_ch6 as command
from nndl.explain_ch6 import TOPICS, explain, to_text

pytestmark = pytest.mark.skipif(
    not (os.environ.get("NNDL_DATA") and (Path(os.environ["NNDL_DATA"]) / "train-images-idx3-ubyte.gz").exists()),
    reason="real MNIST not available (set NNDL_DATA)")


def test_topics_match_the_command():
    assert command.TOPICS == TOPICS


def test_shared_weights_gradient_is_bp4_summed_over_positions():
    r = explain("shared-weights")
    assert r["relative_difference"] < 1e-12  # vectorised GEMM == explicit sum over positions
    assert r["w_center_backprop"] == pytest.approx(r["w_center_finite_difference"], rel=1e-6)
    assert r["b_backprop"] == pytest.approx(r["b_finite_difference"], rel=1e-6)
    assert r["b_backprop"] == pytest.approx(r["b_explicit_sum_of_deltas"], rel=1e-12)
    assert r["positions_with_gradient"] == 10 * 144  # one position per pooling block
    assert "BP4 summed over every position" in to_text(r)


def test_pooling_passes_the_gradient_to_one_input():
    r = explain("pooling")
    b = r["block"]
    assert [g != 0 for g in b["gradient_backprop"]] == [k == b["winner"] for k in range(4)]
    for bp, fd in zip(b["gradient_backprop"], b["gradient_finite_difference"]):
        assert bp == pytest.approx(fd, rel=1e-5, abs=1e-12)
    assert r["blocks_with_several_receivers"] == 0
    assert r["blocks_with_exactly_one_receiver"] + r["blocks_with_zero_gradient"] == r["blocks"]
    assert r["blocks_with_tied_maxima"] > 0  # MNIST's blank corners


def test_relu_keeps_the_first_layer_gradient(capsys):
    assert main(["explain-ch6", "relu", "--format", "json"]) == 0
    r = json.loads(capsys.readouterr().out)
    sig, relu = r["ch6-conv2"], r["ch6-relu"]
    assert sig["first_over_last_hidden"] < 0.5 < relu["first_over_last_hidden"]
    assert max(sig["mean_derivative_per_layer"]) <= 0.25  # sigma' <= 1/4
    for net in (sig, relu):
        assert net["first_bias_backprop"] == pytest.approx(net["first_bias_finite_difference"], rel=1e-5)
