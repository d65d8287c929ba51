"""Which cells of a lesson become workshop slides, and how (``make slides``, tools/build_slides.py).

The lesson sources (``lessonNN.py``) stay free of slide markup: the selection is made here, from the
content of the cells, so that inserting or moving a cell in a lesson needs no change in this file.
Every cell gets a reveal.js slide type (nbconvert's ``metadata.slideshow.slide_type``):

``slide``     a new horizontal slide;   ``subslide``  a new slide below the current one;
``-``         continues the current slide;   ``notes``  speaker notes (press ``s`` in the deck);
``skip``      left out of the deck.

Rules, the first that applies wins:

1. **A cell tag** ``slides-new``, ``slides-sub``, ``slides-fragment``, ``slides-notes``,
   ``slides-skip`` or ``slides-keep`` (= ``-``) decides (``code(source, "slides-skip")`` in a
   lesson, or a tag added in JupyterLab).  Use a tag only where a rule below gets a cell wrong.
2. **Side sections become speaker notes.**  A markdown cell whose first heading starts with one of
   :data:`NOTES_SECTIONS` (e.g. "Frequent question", "Why not") opens a section whose markdown is
   speaker notes and whose code is skipped, up to the next markdown cell that starts with a heading.
   :data:`LESSON_NOTES_SECTIONS` adds headings for one lesson (keyed by the notebook's name without
   the number, e.g. ``"rats"``).
3. **Set-up code is skipped**: a code cell without output whose first statement is an import
   (the learner has it in the notebook; the workshop need not read it aloud).
4. **A markdown cell that starts with a heading** (``#``, ``##``, ``###``) starts a new slide.
   Before the rules run, a markdown cell with a heading further down is split there (in the copy
   that becomes the deck), so every section starts a slide however the lesson groups its text.
5. **A code cell that draws a figure** (stores an image output) gets a slide of its own, below
   the current one, so the figure has room.
6. **Any other markdown cell** starts a new slide below the current one; **any other code cell**
   continues the current slide (the code under the text that introduces it).
"""
from __future__ import annotations

import copy
import re

__all__ = ["NOTES_SECTIONS", "LESSON_NOTES_SECTIONS", "slide_type", "mark"]

NOTES_SECTIONS = ("Frequent question", "Why not", "What this lesson left out")
LESSON_NOTES_SECTIONS: dict[str, tuple[str, ...]] = {}

TAGS = {"slides-new": "slide", "slides-sub": "subslide", "slides-fragment": "fragment",
        "slides-notes": "notes", "slides-skip": "skip", "slides-keep": "-"}
_HEADING = re.compile(r"^\s*#{1,3}\s+(.*)")
_IMPORT = re.compile(r"(import\s|from\s+\S+\s+import\s)")
_SPLIT = re.compile(r"^(?=#{1,3}\s)", re.MULTILINE)


def _heading(cell) -> str | None:
    if cell["cell_type"] != "markdown":
        return None
    m = _HEADING.match(cell["source"])
    return m.group(1).strip() if m else None


def _has_figure(cell) -> bool:
    return any(k.startswith("image/") for out in cell.get("outputs", []) for k in out.get("data", {}))


def _is_setup(cell) -> bool:
    if cell["cell_type"] != "code" or cell.get("outputs"):
        return False
    first = next((ln for ln in cell["source"].splitlines() if ln.strip() and not ln.lstrip().startswith(("#", "%"))), "")
    return bool(_IMPORT.match(first))


def split_at_headings(cells) -> list:
    """Markdown cells cut before each heading that is not their first line (code fences respected)."""
    out = []
    for cell in cells:
        if cell["cell_type"] != "markdown" or "```" in cell["source"]:
            out.append(cell)
            continue
        parts = [p.strip("\n") for p in _SPLIT.split(cell["source"]) if p.strip()]
        for k, part in enumerate(parts):
            piece = copy.deepcopy(cell)
            piece["source"] = part
            if k:
                piece["id"] = f"{cell.get('id', 'md')}-{k}"
            out.append(piece)
    return out


def slide_type(cell, in_notes_section: bool) -> str:
    """The slide type of one cell (rules 1 and 3-6; rule 2 is the ``in_notes_section`` flag)."""
    for tag in cell.get("metadata", {}).get("tags", []):
        if tag in TAGS:
            return TAGS[tag]
    if in_notes_section:
        return "notes" if cell["cell_type"] == "markdown" else "skip"
    if _is_setup(cell):
        return "skip"
    if _heading(cell) is not None:
        return "slide"
    if cell["cell_type"] == "code":
        return "subslide" if _has_figure(cell) else "-"
    return "subslide"


def mark(nb, lesson: str = "") -> dict[str, int]:
    """Split ``nb``'s markdown at headings and set ``metadata.slideshow.slide_type`` on every cell
    (in place); returns the number of cells of each slide type.

    ``lesson`` is the notebook's name without its number (``"rats"`` for ``04_rats.ipynb``).
    """
    notes = NOTES_SECTIONS + LESSON_NOTES_SECTIONS.get(lesson, ())
    nb.cells = split_at_headings(nb.cells)
    in_notes = False
    for cell in nb.cells:
        heading = _heading(cell)
        if heading is not None:
            in_notes = heading.startswith(notes)
        cell.setdefault("metadata", {})["slideshow"] = {"slide_type": slide_type(cell, in_notes)}
    # the first shown cell must open a slide, or reveal.js has nowhere to put it
    for cell in nb.cells:
        if cell.metadata["slideshow"]["slide_type"] not in ("skip", "notes"):
            cell.metadata["slideshow"]["slide_type"] = "slide"
            break
    counts: dict[str, int] = {}
    for cell in nb.cells:
        kind = cell.metadata["slideshow"]["slide_type"]
        counts[kind] = counts.get(kind, 0) + 1
    return counts
