"""Sphinx configuration of the course website (``make book``; staged by tools/build_book.py).

The staging folder holds copies of the stored, executed notebooks: nothing is executed here.
Every script and stylesheet is served from this site (MathJax from _static/mathjax, copied by the
build script); see tools/web_assets.py.
"""
import os
import sys

ROOT = os.environ["MLMKIT_ROOT"]               # set by tools/build_book.py
sys.path.insert(0, ROOT)                       # autodoc imports mlmkit from the working tree
import mlmkit                                   # noqa: E402

project = "mlmkit: multilevel models in Python"
author = "mlmkit contributors"
release = version = mlmkit.__version__
copyright = "mlmkit contributors"

extensions = ["myst_nb", "sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.mathjax"]
exclude_patterns = ["_build", "**.ipynb_checkpoints"]

# notebooks: render the stored outputs, never execute
nb_execution_mode = "off"
nb_ipywidgets_js = {}                          # no widget JS from a CDN: explorers show their PNG
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
# a stored output offers several formats; on a static page a picture beats a widget placeholder
nb_mime_priority_overrides = [("html", "application/vnd.jupyter.widget-view+json", None)]

# equations: MathJax 3 from this site
mathjax_path = "mathjax/tex-chtml-full.js"
mathjax3_config = {"tex": {"inlineMath": [["\\(", "\\)"]], "displayMath": [["\\[", "\\]"]]}}

# library reference from the numpy-style docstrings
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "undoc-members": False}
napoleon_numpy_docstring = True
napoleon_google_docstring = False
napoleon_use_ivar = True                       # "Attributes" sections as fields: no duplicate entries

html_theme = "sphinx_book_theme"
html_title = "mlmkit course"
html_static_path = ["_static"]
html_theme_options = {
    "show_toc_level": 2,
    "use_download_button": True,
    "navigation_with_keys": False,
}
html_last_updated_fmt = None
html_copy_source = True                         # the download button offers the .ipynb


# mlmkit's docstrings are plain text with numpy-style sections, not reStructuredText: |x| (a norm or
# determinant) and name_ (a trailing underscore) would be read as RST substitutions and link targets.
# Escape both outside inline literals so the formulas print as written.
import re  # noqa: E402

_LITERAL = re.compile(r"(``.+?``|`[^`]+`)")


def _escape_plain(text):
    text = text.replace("|", r"\|")
    return re.sub(r"(\w)_(?=\W|$)", r"\1\\_", text)


def _escape_docstring(app, what, name, obj, options, lines):
    for i, line in enumerate(lines):
        if line.lstrip().startswith(("+-", "+=", ">>>", "...")):
            continue                                  # grid tables and doctest lines keep their syntax
        parts = _LITERAL.split(line)
        lines[i] = "".join(p if k % 2 else _escape_plain(p) for k, p in enumerate(parts))


def setup(app):
    app.connect("autodoc-process-docstring", _escape_docstring)
