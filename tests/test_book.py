"""The course website (make book) and the workshop slides (make slides), checked in headless Chromium.

The site and the decks are built into a temporary folder from the stored notebooks (about 30 s), or
taken from ``$MLMKIT_BOOK_SITE`` / ``$MLMKIT_SLIDES_DIR`` when set.  Each lesson page is opened in
headless Chromium with a small checking script added: it waits for MathJax, then reports the math
left untypeset, the images and their natural widths, and the links; Python checks the report.

Skipped, with the reason, when the book tools (the ``book`` extra: Sphinx, myst-nb, sphinx-book-theme),
npm (to fetch MathJax/reveal.js once) or Chromium (Debian: ``apt-get install chromium``) are missing.
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
LESSONS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
sys.path.insert(0, str(ROOT / "tools"))

EXTERNAL_ASSET = re.compile(r"<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)\s*=\s*[\"']?(?:https?:)?//", re.I)
CSS_EXTERNAL = re.compile(r"(?:@import\s+(?:url\()?|url\()\s*[\"']?(?:https?:)?//", re.I)


def _assets_available() -> str | None:
    import web_assets
    cached = any(web_assets.CACHE.glob("mathjax-*/package")) and any(web_assets.CACHE.glob("reveal.js-*/package"))
    if not (cached or shutil.which("npm") or os.environ.get("MLMKIT_MATHJAX_DIR")):
        return "npm not found (needed once to fetch MathJax and reveal.js): apt-get install npm"
    return None


def _chromium() -> str:
    exe = os.environ.get("MLMKIT_CHROMIUM") or next(
        (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
    if exe is None:
        pytest.skip("chromium not found: the browser checks need Debian's chromium (apt-get install chromium)")
    return exe


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    if os.environ.get("MLMKIT_BOOK_SITE"):
        return Path(os.environ["MLMKIT_BOOK_SITE"])
    missing = [m for m in ("sphinx", "myst_nb", "sphinx_book_theme") if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"book tools not installed ({', '.join(missing)}): pip install -e '.[book]'")
    if reason := _assets_available():
        pytest.skip(reason)
    out = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, str(ROOT / "tools" / "build_book.py"), "--out", str(out)], check=True,
                   stdout=subprocess.DEVNULL)
    return out


@pytest.fixture(scope="module")
def slides_dir(tmp_path_factory):
    if os.environ.get("MLMKIT_SLIDES_DIR"):
        return Path(os.environ["MLMKIT_SLIDES_DIR"])
    if reason := _assets_available():
        pytest.skip(reason)
    out = tmp_path_factory.mktemp("slides")
    subprocess.run([sys.executable, str(ROOT / "tools" / "build_slides.py"), "--out", str(out)], check=True,
                   stdout=subprocess.DEVNULL)
    return out


# --------------------------------------------------------------------------------------------------
# static checks of the built files
# --------------------------------------------------------------------------------------------------

def test_site_has_every_lesson_search_and_reference(site):
    assert LESSONS, "no lesson notebooks"
    for nb in LESSONS:
        assert (site / "lessons" / f"{nb.stem}.html").is_file(), nb.name
    assert (site / "search.html").is_file() and (site / "searchindex.js").stat().st_size > 10_000
    index = (site / "searchindex.js").read_text()
    assert "shrinkag" in index and "lmer" in index                   # lessons and reference are indexed
    assert 'id="mlmkit.lmm.lmer"' in (site / "reference" / "lmm.html").read_text()
    power = (site / "reference" / "power.html").read_text()      # autodoc + napoleon ran on the docstrings
    assert 'id="mlmkit.power.power"' in power and re.search(r"Parameters<span class=\"colon\">", power)
    assert (site / "_static" / "mathjax" / "tex-chtml-full.js").stat().st_size > 500_000


def _external_assets(folder: Path) -> list[str]:
    bad = []
    for page in folder.rglob("*.html"):
        bad += [f"{page.relative_to(folder)}: {m.group(0)[:120]}" for m in EXTERNAL_ASSET.finditer(page.read_text())]
    for css in folder.rglob("*.css"):
        bad += [f"{css.relative_to(folder)}: {m.group(0)}" for m in CSS_EXTERNAL.finditer(css.read_text())]
    return bad


def test_site_loads_nothing_from_another_host(site):
    assert _external_assets(site) == []


def test_slides_load_nothing_from_another_host(slides_dir):
    decks = sorted(slides_dir.glob("*.slides.html"))
    assert [d.name.split(".")[0] for d in decks] == [nb.stem for nb in LESSONS]
    assert _external_assets(slides_dir) == []
    assert (slides_dir / "_static" / "reveal" / "dist" / "reveal.js").is_file()


# --------------------------------------------------------------------------------------------------
# in the browser
# --------------------------------------------------------------------------------------------------

PROBE = r"""
<script>
window.addEventListener('load', function () {
  function report() {
    var clone = document.body.cloneNode(true);
    clone.querySelectorAll('pre, code, script, style, textarea, mjx-container').forEach(function (e) { e.remove(); });
    var text = clone.textContent, raw = [];
    ['$$', '\\(', '\\)', '\\[', '\\]', '\\begin{', '\\frac'].forEach(function (d) { if (text.indexOf(d) >= 0) raw.push(d); });
    var res = {
      mathjax: !!(window.MathJax && window.MathJax.startup),
      mjx: document.querySelectorAll('mjx-container').length,
      merror: document.querySelectorAll('mjx-merror').length,
      untypeset: document.querySelectorAll('.math:not(:has(mjx-container))').length,
      raw: raw,
      imgs: Array.from(document.images).map(function (i) { return {src: i.getAttribute('src'), w: i.naturalWidth}; }),
      links: Array.from(document.querySelectorAll('a[href]')).map(function (a) { return a.getAttribute('href'); }),
      reveal: !!(window.Reveal && Reveal.isReady && Reveal.isReady()),
      slides: window.Reveal && Reveal.getTotalSlides ? Reveal.getTotalSlides() : 0
    };
    var pre = document.createElement('pre');
    pre.id = 'mlmkit-probe';
    pre.textContent = JSON.stringify(res);
    document.body.appendChild(pre);
  }
  var wait = (window.MathJax && MathJax.startup && MathJax.startup.promise) || Promise.resolve();
  wait.then(report, report);          // report at once: headless --dump-dom does not wait for timers
});
</script>
"""


def _probe(page: Path) -> dict:
    """Open a copy of ``page`` (beside it, so relative URLs work) in headless Chromium; return the report."""
    exe = _chromium()
    probe_page = page.with_name(f"_probe_{page.name}")
    html = page.read_text(encoding="utf-8")
    probe_page.write_text(html.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    try:
        with tempfile.TemporaryDirectory() as profile:
            out = subprocess.run(
                [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
                 "--allow-file-access-from-files", f"--user-data-dir={profile}", "--virtual-time-budget=30000",
                 "--dump-dom", probe_page.as_uri()],
                capture_output=True, text=True, timeout=120)
    finally:
        probe_page.unlink()
    m = re.search(r'<pre id="mlmkit-probe"[^>]*>(.*?)</pre>', out.stdout, re.S)
    assert m, f"the checking script reported nothing; chromium said: {out.stderr[-2000:]}"
    return json.loads(m.group(1).replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"'))


def _broken_links(page: Path, hrefs: list[str], root: Path) -> list[str]:
    bad = []
    for href in hrefs:
        parts = urlsplit(href)
        if parts.scheme or parts.netloc or href.startswith(("mailto:", "javascript:")):
            continue                                       # links to other sites are not assets
        target = page if not parts.path else (page.parent / unquote(parts.path)).resolve()
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file() or root.resolve() not in target.resolve().parents:
            bad.append(href)
        elif parts.fragment.startswith("/") and target.name.endswith(".slides.html"):
            continue                                       # reveal.js's own routes (#/3/1)
        elif parts.fragment and target.suffix == ".html":
            ids = {parts.fragment, unquote(parts.fragment)}
            if not any(re.search(rf'id=["\']{re.escape(i)}["\']', target.read_text()) for i in ids):
                bad.append(href)
    return bad


def _figures_in(nb_path: Path) -> int:
    nb = nbformat.read(nb_path, as_version=4)
    return sum(any(k.startswith("image/") for k in out.get("data", {}))
               for c in nb.cells for out in c.get("outputs", []))


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_lesson_page_in_chromium(site, lesson):
    page = site / "lessons" / f"{lesson.stem}.html"
    r = _probe(page)
    assert r["mathjax"], "MathJax did not load"
    assert r["raw"] == [], f"untypeset TeX delimiters left in the text: {r['raw']}"
    assert r["untypeset"] == 0 and r["merror"] == 0
    if "$" in "".join(c.source for c in nbformat.read(lesson, as_version=4).cells if c.cell_type == "markdown"):
        assert r["mjx"] > 0, "the lesson has equations but none was typeset"
    broken_imgs = [i["src"] for i in r["imgs"] if i["w"] == 0]
    assert broken_imgs == [], f"images that did not load: {broken_imgs}"
    figures = [i for i in r["imgs"] if "_images/" in (i["src"] or "")]
    assert len(figures) >= _figures_in(lesson), "a stored figure is missing from the page"
    assert r["links"], "no links on the page"
    assert _broken_links(page, r["links"], site) == []


def test_exercise_pages_in_chromium(site):
    pages = sorted((site / "exercises").glob("*.html"))
    if not pages:
        pytest.skip("no student exercise notebooks (tools/grade.py build writes them to exercises/dist/student)")
    for page in pages:
        r = _probe(page)
        assert r["raw"] == [] and r["untypeset"] == 0 and r["merror"] == 0, page.name
        assert all(i["w"] > 0 for i in r["imgs"]), page.name
        assert _broken_links(page, r["links"], site) == [], page.name


def test_deck_in_chromium(slides_dir):
    deck = slides_dir / "04_rats.slides.html"
    if not deck.is_file():
        pytest.skip("no deck for lesson 4")
    r = _probe(deck)
    assert r["reveal"] and r["slides"] >= 5, "reveal.js did not start"
    assert r["mjx"] > 0 and r["raw"] == [] and r["merror"] == 0
    assert r["imgs"] and all(i["w"] > 0 for i in r["imgs"])
    assert _broken_links(deck, r["links"], slides_dir) == []


# --------------------------------------------------------------------------------------------------
# an explorer live in JupyterLab
# --------------------------------------------------------------------------------------------------

def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_explorer_moves_in_jupyterlab(tmp_path):
    """Run a shrinkage explorer in a real JupyterLab, move the sigma2 slider, read the new weights."""
    exe = _chromium()
    for mod in ("playwright", "jupyterlab", "ipywidgets", "jupyterlab_widgets"):
        if importlib.util.find_spec(mod) is None:
            pytest.skip(f"{mod} not installed: the JupyterLab check needs playwright, jupyterlab and ipywidgets")
    import time
    import urllib.request
    from playwright.sync_api import sync_playwright

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(
        "import mlmkit as mk\nmk.explore.shrinkage([0.0, 10.0, 4.0], [1, 9, 3], tau2=1.0, sigma2=1.0, mean=5.0)")]
    nbformat.write(nb, tmp_path / "explore.ipynb")
    port = _free_port()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    lab = subprocess.Popen([sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ip=127.0.0.1",
                            f"--port={port}", "--IdentityProvider.token=", "--ServerApp.password=",
                            f"--ServerApp.root_dir={tmp_path}"], env=env, cwd=tmp_path,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(120):                                    # at most 60 s for the server to answer
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=exe, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1300, "height": 1000})
            page.goto(f"http://127.0.0.1:{port}/lab/tree/explore.ipynb")
            page.wait_for_selector(".jp-Notebook .jp-Cell .cm-content", timeout=90_000)
            page.wait_for_timeout(3000)                         # let the kernel start
            page.click(".jp-Cell .cm-content")
            page.keyboard.press("Shift+Enter")
            page.wait_for_selector(".widget-slider .noUi-handle", timeout=90_000)
            label = page.locator(".widget-html-content")
            assert "smallest group (n = 1) 0.500, largest (n = 9) 0.900" in label.inner_text()
            page.locator(".widget-slider .noUi-handle").nth(1).focus()     # sigma2, a log slider
            for _ in range(10):                                  # 10 steps of 0.05 in log10: sigma2 = 10**0.5
                page.keyboard.press("ArrowRight")
            lam1, lam9 = 1 / (1 + 10 ** 0.5), 1 / (1 + 10 ** 0.5 / 9)
            page.wait_for_function(
                "t => document.querySelector('.widget-html-content').innerText.includes(t)",
                arg=f"(n = 1) {lam1:.3f}, largest (n = 9) {lam9:.3f}", timeout=30_000)
            browser.close()
    finally:
        lab.terminate()
        lab.wait(timeout=30)
