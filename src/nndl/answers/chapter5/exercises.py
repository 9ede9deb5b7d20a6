"""Chapter 5's problems (``nndl exercise ch5-...``)."""

from __future__ import annotations

from nndl.answers.exercises import Spec

EXERCISES: dict[str, Spec] = {}
