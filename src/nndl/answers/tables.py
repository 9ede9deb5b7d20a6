"""Tables and the shared rendering of ``nndl explain``'s results (text, Markdown, JSON)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

# --------------------------------------------------------------------------- helpers


DATA_CHOICES = ("auto", "mnist", "digits")


def _batch(m: int, data: str = "auto") -> tuple[np.ndarray, np.ndarray, str]:
    """The first ``m`` training images and labels, and which data set they are.

    ``data``: "auto" = MNIST when it is on this machine (``NNDL_DATA``, the cache; never
    downloaded), else scikit-learn's bundled 8x8 digits; "mnist" (an error if it is not
    here); "digits". Returns X (m, n_in) in [0, 1], labels (m,) and a short description
    ("MNIST (28x28 = 784 pixels)" or "the bundled 8x8 digits (64 pixels)").
    """
    training, description = _training_set(data)
    if not 1 <= m <= len(training.X):
        raise ValueError(f"the batch size must be between 1 and {len(training.X)}; got {m}")
    return training.X[:m], training.y[:m], description


def _training_set(data: str = "auto"):
    """(training Dataset, description) of :func:`_batch`'s data choice."""
    from nndl.data import load_dataset, load_digits

    if data not in DATA_CHOICES:
        raise ValueError(f"unknown data {data!r}; choose from {', '.join(DATA_CHOICES)}")
    splits = load_digits() if data == "digits" else load_dataset(data, download=False)
    if splits.name == "mnist":
        return splits.training, "MNIST (28x28 = 784 pixels)"
    return splits.training, "the bundled 8x8 digits (64 pixels)"


def _fmt(x: float) -> str:
    return f"{float(x) + 0.0:.4g}"  # + 0.0: no "-0"


def _vec(v, n: int = 4) -> str:
    """A short preview of an array: the first ``n`` entries (of the first row), then '...'."""
    v = np.asarray(v)
    if v.ndim == 2 and v.shape[0] > 1 and v.shape[1] > 1:
        return f"[{_vec(v[0], n)}, ...]"
    flat = v.ravel()
    head = ", ".join(_fmt(x) for x in flat[:n])
    return f"[{head}{', ...' if flat.size > n else ''}]"


def _shape(a) -> str:
    return str(tuple(np.shape(a)))


def _text_table(headers: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return [line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def _md_table(headers: list[str], rows: list[list[str]]) -> list[str]:
    esc = lambda cells: "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"  # noqa: E731
    return [esc(headers), "|" + "---|" * len(headers), *(esc(r) for r in rows)]


def _wrap(text: str) -> list[str]:
    import textwrap

    return textwrap.wrap(text, 92, break_on_hyphens=False)


@dataclass(frozen=True)
class Table:
    """A titled table; rendered as aligned text or as a Markdown table."""

    title: str
    headers: list[str]
    rows: list[list[str]]

    def text(self) -> list[str]:
        return [self.title, *_text_table(self.headers, self.rows), ""]

    def markdown(self) -> list[str]:
        return [f"**{self.title}**", "", *_md_table(self.headers, self.rows), ""]


class _Result:
    """Shared rendering: a title, intro paragraphs, the book's equations, tables, an answer."""

    title: str
    equations: tuple[str, ...] = ()  # LaTeX, shown by to_markdown

    def _parts(self) -> tuple[list[str], list[Table], str]:
        """(intro paragraphs, tables, answer paragraph)."""
        raise NotImplementedError

    def to_text(self) -> str:
        intro, tables, answer = self._parts()
        out = [self.title, "=" * len(self.title), ""]
        for paragraph in intro:
            out += _wrap(paragraph) + [""]
        for table in tables:
            out += table.text()
        return "\n".join(out + _wrap(f"Answer: {answer[:1].upper()}{answer[1:]}"))

    def to_markdown(self) -> str:
        intro, tables, answer = self._parts()
        out = [f"## {self.title}", ""]
        for paragraph in intro:
            out += [paragraph, ""]
        for latex in self.equations:
            out += [f"$$ {latex} $$", ""]
        for table in tables:
            out += table.markdown()
        return "\n".join(out + [f"**Answer.** {answer[:1].upper()}{answer[1:]}"])

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)


def _check_row(what: str, rel_fd: float, rel_engine: float | None = None) -> list[str]:
    row = [what, f"{rel_fd:.1e}"]
    if rel_engine is not None:
        row.append(f"{rel_engine:.1e}")
    return row


