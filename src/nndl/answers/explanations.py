"""The learners' questions answered on a real network and batch (``nndl explain TOPIC``).

Each topic is a function in its chapter's module returning a result object with
``to_text()``, ``to_markdown()``, ``to_dict()`` and, for some, ``figure()``.
"""

from __future__ import annotations

from typing import Any

from nndl.answers.chapter3.explanations import hidden_layers, saturation, shapes
from nndl.answers.chapter5.deep import deep_networks
from nndl.answers.chapter5.explanations import earlier_layers

# --------------------------------------------------------------------------- registry

TOPICS: dict[str, Any] = {
    "shapes": shapes,
    "hidden-layers": hidden_layers,
    "earlier-layers": earlier_layers,
    "saturation": saturation,
    "deep-networks": deep_networks,
}


def explain(topic: str, **options):
    """Run the explanation ``topic`` (one of :data:`TOPICS`) and return its result."""
    try:
        func = TOPICS[topic]
    except KeyError:
        raise ValueError(f"unknown topic {topic!r}; choose from {', '.join(TOPICS)}") from None
    return func(**options)
