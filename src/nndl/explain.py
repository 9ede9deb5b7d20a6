"""Answers to the learners' questions, computed on a real network and a real mini-batch.

A compatibility front for :mod:`nndl.answers.explanations` (``nndl explain TOPIC``); the
topics live in their chapter's module (:mod:`nndl.answers.chapter3.explanations`,
:mod:`nndl.answers.chapter5.explanations`).
"""

from __future__ import annotations

from nndl.answers.chapter3.explanations import (  # noqa: F401 (SATURATION_* for callers)
    SATURATION_SHOWN,
    SATURATION_STARTS,
    SATURATION_STEPS,
    HiddenLayersResult,
    SaturationResult,
    ShapesResult,
    hidden_layers,
    saturation,
    shapes,
)
from nndl.answers.chapter5.deep import DeepNetworksResult, deep_networks
from nndl.answers.chapter5.explanations import EarlierLayersResult, earlier_layers
from nndl.answers.explanations import TOPICS, explain

__all__ = [
    "TOPICS",
    "DeepNetworksResult",
    "EarlierLayersResult",
    "HiddenLayersResult",
    "SaturationResult",
    "ShapesResult",
    "deep_networks",
    "earlier_layers",
    "explain",
    "hidden_layers",
    "saturation",
    "shapes",
]
