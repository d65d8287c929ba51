"""Write the course notebooks from their sources in ``tools/lessons/``.

    .venv/bin/python tools/build_notebooks.py            # every lesson
    .venv/bin/python tools/build_notebooks.py 3 6        # lessons 3 and 6 only

Each ``tools/lessons/lessonNN.py`` becomes ``notebooks/NN_<SLUG>.ipynb`` with the ``python3`` kernel
and no outputs; ``tools/run_notebooks.py`` then executes and stores them, as strict nbval needs.
"""
from __future__ import annotations

import importlib
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"

KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def lesson_modules(numbers=None):
    sys.path.insert(0, str(ROOT))
    found = sorted(p.stem for p in (ROOT / "tools" / "lessons").glob("lesson[0-9][0-9].py"))
    wanted = None if not numbers else {int(n) for n in numbers}
    for stem in found:
        if wanted is None or int(stem[-2:]) in wanted:
            yield int(stem[-2:]), importlib.import_module(f"tools.lessons.{stem}")


def build(number: int, module) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = {"name": "python"}
    for i, (kind, source, tags) in enumerate(module.CELLS):
        cell = (nbformat.v4.new_markdown_cell if kind == "markdown" else nbformat.v4.new_code_cell)(source)
        cell["id"] = f"l{number:02d}-{i:03d}"            # stable ids keep diffs small
        if tags:
            cell.metadata["tags"] = list(tags)
        nb.cells.append(cell)
    nbformat.validate(nb)
    path = NOTEBOOKS / f"{number:02d}_{module.SLUG}.ipynb"
    NOTEBOOKS.mkdir(exist_ok=True)
    nbformat.write(nb, path)
    return path


def main(argv):
    for number, module in lesson_modules(argv):
        print(build(number, module).relative_to(ROOT))


if __name__ == "__main__":
    main(sys.argv[1:])
