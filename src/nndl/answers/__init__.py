"""nndl's answers to the book's questions, laid out as the book is: by chapter.

- :mod:`nndl.answers.checks`: the checking machinery (SymPy checks, claims about runs).
- :mod:`nndl.answers.registry`: every answer by id, with its chapter and one line
  (cheap to import: no NumPy, no SymPy).
- :mod:`nndl.answers.chapter1`, :mod:`~nndl.answers.chapter2`,
  :mod:`~nndl.answers.chapter3`, :mod:`~nndl.answers.chapter5`: the answers themselves.
- :mod:`nndl.answers.derivations` (``nndl derive``), :mod:`nndl.answers.explanations`
  (``nndl explain``), :mod:`nndl.answers.exercises` (``nndl exercise``).
"""


def markdown(id_: str, *, full: bool = False) -> str:
    """The Markdown (LaTeX in ``$...$``) of any answer by id: an exercise (``nndl exercise
    --list``), a ``derive`` topic or an ``explain`` topic. See
    :func:`nndl.answers.exercises.markdown`."""
    from nndl.answers.exercises import markdown as _markdown

    return _markdown(id_, full=full)
