"""Build reveal.js workshop slides into ``_build/slides/``, one deck per lesson (``make slides``).

    python tools/build_slides.py                 # every lesson notebook
    python tools/build_slides.py 4 9             # lessons 4 and 9 only
    python tools/build_slides.py --out DIR       # another output folder

Each stored, executed ``notebooks/NN_<slug>.ipynb`` (nothing is re-run) is copied in memory, its cells
are given slide types by the rules of ``tools/lessons/slides.py``, and nbconvert's SlidesExporter
writes ``_build/slides/NN_<slug>.slides.html`` with the template in ``tools/slides_template/``.
reveal.js and MathJax are copied to ``_build/slides/_static/`` (tools/web_assets.py), so the folder
works offline and can be copied to a USB stick or served as it is; ``index.html`` lists the decks.
"""
from __future__ import annotations

import html
import re
import shutil
import sys
import time
from pathlib import Path

import nbformat
from nbconvert import SlidesExporter

sys.path.insert(0, str(Path(__file__).resolve().parent))
import web_assets  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tools.lessons import slides  # noqa: E402

OUT = ROOT / "_build" / "slides"              # --out changes it
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
LESSON_LINK = re.compile(r'href="(\d\d_[^"/#]+)\.ipynb(#[^"]*)?"')


def exporter() -> SlidesExporter:
    ex = SlidesExporter(template_name="mlmkit_reveal",
                        extra_template_basedirs=[str(ROOT / "tools" / "slides_template")])
    ex.reveal_url_prefix = "_static/reveal"
    ex.mathjax_url = "_static/mathjax/tex-chtml-full.js"
    ex.reveal_theme = "white"
    ex.exclude_input_prompt = ex.exclude_output_prompt = True
    return ex


def deck(path: Path, ex: SlidesExporter) -> tuple[Path, str, dict]:
    nb = nbformat.read(path, as_version=4)
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:                          # explorers: the stored PNG, not a dead widget
        for out in cell.get("outputs", []):
            out.get("data", {}).pop(WIDGET_VIEW, None)
    counts = slides.mark(nb, lesson=path.stem.split("_", 1)[1])
    body, _ = ex.from_notebook_node(nb, resources={"metadata": {"name": path.stem}})
    body = LESSON_LINK.sub(r'href="\1.slides.html\2"', body)      # a link to a lesson opens its deck
    target = OUT / f"{path.stem}.slides.html"
    target.write_text(body, encoding="utf-8")
    title = next((c.source.splitlines()[0].lstrip("# ") for c in nb.cells if c.cell_type == "markdown"), path.stem)
    return target, title, counts


def main(argv) -> int:
    global OUT
    start = time.perf_counter()
    if "--out" in argv:
        k = argv.index("--out")
        OUT = Path(argv[k + 1]).resolve()
        argv = argv[:k] + argv[k + 2:]
    wanted = {int(a) for a in argv}
    lessons = [p for p in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
               if not wanted or int(p.name[:2]) in wanted]
    if not lessons:
        raise SystemExit("no lesson notebooks in notebooks/: build and execute them first")
    OUT.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(OUT / "_static", ignore_errors=True)     # no stale assets from an earlier build
    web_assets.copy_reveal(OUT / "_static" / "reveal")
    web_assets.copy_mathjax(OUT / "_static" / "mathjax")
    ex = exporter()
    items = []
    for path in lessons:
        target, title, counts = deck(path, ex)
        shown = counts.get("slide", 0) + counts.get("subslide", 0)
        print(f"{target.name}: {counts.get('slide', 0)} slides, {shown} with subslides")
        items.append(f'<li><a href="{target.name}">{html.escape(title)}</a></li>')
    decks = sorted(OUT.glob("[0-9][0-9]_*.slides.html"))   # keep decks built by earlier partial runs listed
    if wanted:
        items = [f'<li><a href="{d.name}">{html.escape(d.name.split(".")[0])}</a></li>' for d in decks]
    (OUT / "index.html").write_text(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>mlmkit workshop slides</title>"
        "</head>\n<body><h1>mlmkit workshop slides</h1>\n<p>One deck per lesson. Arrow keys move, "
        "<kbd>s</kbd> opens the speaker view, <kbd>Esc</kbd> the overview.</p>\n<ul>\n"
        + "\n".join(items) + "\n</ul></body></html>\n", encoding="utf-8")
    print(f"{len(lessons)} decks in {OUT} ({time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
