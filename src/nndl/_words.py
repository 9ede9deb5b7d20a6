"""Small rules of English for messages: "1 epoch" / "2 epochs", "a file" / "an image"."""

from __future__ import annotations


def count(n: int, singular: str, plural: str | None = None) -> str:
    """``"1 epoch"``, ``"3 epochs"``, ``"1,000 images"`` (``plural``: when not singular + "s")."""
    word = singular if n == 1 else (plural if plural is not None else singular + "s")
    return f"{n:,} {word}" if isinstance(n, int) and not isinstance(n, bool) else f"{n} {word}"


def a(noun: str) -> str:
    """``"a file"``, ``"an image"``: the indefinite article by the noun's first letter."""
    return f"{'an' if noun[:1].lower() in 'aeio' else 'a'} {noun}"
