"""Sources of the course notebooks: one module per lesson, each a list of cells.

``tools/build_notebooks.py`` turns every ``lessonNN.py`` here into ``notebooks/NN_<slug>.ipynb``.
A lesson module defines ``SLUG`` (the file name after the number) and ``CELLS``, a list built with
:func:`md` and :func:`code`.  Edit the lesson here, never the notebook, then rebuild and execute::

    .venv/bin/python tools/build_notebooks.py          # write notebooks/*.ipynb (unexecuted)
    .venv/bin/python tools/run_notebooks.py            # execute them in place and time each one
"""
from __future__ import annotations

import textwrap

__all__ = ["md", "code"]


def _clean(text: str) -> str:
    return textwrap.dedent(text).strip("\n")


def md(text: str) -> tuple[str, str, tuple[str, ...]]:
    """A markdown cell."""
    return ("markdown", _clean(text), ())


def code(text: str, *tags: str) -> tuple[str, str, tuple[str, ...]]:
    """A code cell; ``tags`` are cell tags (e.g. ``"raises-exception"``)."""
    return ("code", _clean(text), tuple(tags))
