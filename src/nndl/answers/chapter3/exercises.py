"""Chapter 3's exercises and problems (``nndl exercise ch3-...``)."""

from __future__ import annotations

from nndl.answers.exercises import Spec

EXERCISES: dict[str, Spec] = {}
