"""Build the course website into ``_build/html/`` from the stored, executed notebooks (``make book``).

    python tools/build_book.py                         # lessons, student exercises, library reference
    python tools/build_book.py --exercises DIR         # take the student notebooks from DIR
    python tools/build_book.py --out site/             # another output folder

Nothing is executed: every lesson ``notebooks/NN_*.ipynb`` is rendered with the outputs it stores
(Sphinx + myst-nb, ``book/conf.py``).  The script stages a source tree in ``_build/book-src/``:

* ``lessons/``    one page per lesson notebook (glob, so a new lesson appears by itself);
* ``exercises/``  the student versions (``--exercises``, else ``$MLMKIT_EXERCISES``, else the first of
  ``exercises/student``, ``exercises/dist/student`` that exists; never the solution sources);
* ``reference/``  one page per public module of ``mlmkit``, generated from the docstrings (autodoc);
* ``_static/mathjax``  MathJax 3 from its npm package (tools/web_assets.py): the site needs no network.

Widget outputs (the explorers of ``mlmkit.explore``) are dropped from the staged copies: each also
stores a PNG of its figure, which is what a static page shows.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
import web_assets  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
STAGE = ROOT / "_build" / "book-src"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
EXERCISE_DIRS = ("exercises/student", "exercises/dist/student")

INDEX = """\
# Multilevel models in Python with mlmkit

A course on multilevel (mixed-effects) models: lme4-style `lmer`/`glmer` in Python, with the R call
beside every Python one.  Each lesson below is a notebook, shown here with its stored results; open it
in JupyterLab (`make lab`) to run and change it.

```{{toctree}}
:caption: Lessons
:maxdepth: 1
:glob:

lessons/*
```
{exercises}
```{{toctree}}
:caption: Library reference
:maxdepth: 1

reference/index
```
"""

EXERCISES = """
```{toctree}
:caption: Exercises
:maxdepth: 1
:glob:

exercises/*
```
"""


def exercise_dir(arg: str | None) -> Path | None:
    chosen = arg or os.environ.get("MLMKIT_EXERCISES")
    if chosen:
        path = (ROOT / chosen).resolve()
        if not path.is_dir():
            raise SystemExit(f"exercise folder {path} does not exist")
        return path
    for rel in EXERCISE_DIRS:
        if (ROOT / rel).is_dir() and any((ROOT / rel).glob("*.ipynb")):
            return ROOT / rel
    return None


def stage_notebook(src: Path, dest: Path) -> None:
    """Copy a notebook without widget views (a static page cannot run them; the PNG stays)."""
    nb = nbformat.read(src, as_version=4)
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if WIDGET_VIEW in out.get("data", {}):
                del out["data"][WIDGET_VIEW]
    nbformat.write(nb, dest)


def public_modules() -> list[str]:
    """Dotted module names under mlmkit (``lmm``, ``engine.linalg``, ...), the layers' folders included."""
    pkg = ROOT / "mlmkit"
    return sorted(".".join(p.relative_to(pkg).with_suffix("").parts) for p in pkg.rglob("*.py")
                  if not p.stem.startswith("_"))


def write_reference(folder: Path) -> None:
    folder.mkdir()
    lines = ["# Library reference", "",
             "Generated from the docstrings of the `mlmkit` package (the functions a lesson calls as",
             "`mk.lmer`, `mk.glmer`, `mk.power`, ... are listed under the module that defines them).", "",
             "```{toctree}", ":maxdepth: 1", ""]
    for mod in public_modules():
        lines.append(mod)
        (folder / f"{mod}.md").write_text(
            f"# `mlmkit.{mod}`\n\n```{{eval-rst}}\n.. automodule:: mlmkit.{mod}\n   :members:\n```\n")
    (folder / "index.md").write_text("\n".join(lines + ["```", ""]))


def stage(exercises: Path | None) -> None:
    if STAGE.exists():
        shutil.rmtree(STAGE)
    (STAGE / "lessons").mkdir(parents=True)
    shutil.copy2(ROOT / "book" / "conf.py", STAGE / "conf.py")
    lessons = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if not lessons:
        raise SystemExit("no lesson notebooks in notebooks/: build and execute them first")
    for nb in lessons:
        stage_notebook(nb, STAGE / "lessons" / nb.name)
    if exercises is not None:
        (STAGE / "exercises").mkdir()
        for nb in sorted(exercises.glob("*.ipynb")):
            stage_notebook(nb, STAGE / "exercises" / nb.name)
    write_reference(STAGE / "reference")
    (STAGE / "index.md").write_text(INDEX.format(exercises=EXERCISES if exercises else ""))
    web_assets.copy_mathjax(STAGE / "_static" / "mathjax")
    print(f"staged {len(lessons)} lessons, "
          f"{len(list(exercises.glob('*.ipynb'))) if exercises else 0} exercises "
          f"({exercises.relative_to(ROOT) if exercises else 'none found: ' + ', '.join(EXERCISE_DIRS)}), "
          f"{len(public_modules())} reference pages")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--exercises", help="folder of student exercise notebooks")
    ap.add_argument("--out", default=str(ROOT / "_build" / "html"))
    args = ap.parse_args(argv)
    start = time.perf_counter()
    stage(exercise_dir(args.exercises))
    out = Path(args.out).resolve()
    log = ROOT / "_build" / "book-warnings.txt"
    env = dict(os.environ, MLMKIT_ROOT=str(ROOT), MPLBACKEND="Agg")
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-w", str(log), "-d", str(ROOT / "_build" / "doctrees"),
           str(STAGE), str(out)]
    result = subprocess.run(cmd, env=env)
    if result.returncode:
        return result.returncode
    warnings = [ln for ln in log.read_text().splitlines() if "WARNING" in ln or "ERROR" in ln]
    print(f"site in {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out} "
          f"({time.perf_counter() - start:.0f} s; {len(warnings)} Sphinx warnings in {log.relative_to(ROOT)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
