"""The JavaScript the course website and slides bundle, so that both work with no network.

MathJax 3 (equations) and reveal.js 5 (slides) come from their npm packages, fetched once with
``npm pack`` into ``_build/.assets/`` and copied next to the pages that use them.  Nothing is loaded
from another host at view time.  To build without npm, unpack the two packages yourself and point
``MLMKIT_MATHJAX_DIR`` (the package's ``es5`` folder) or ``MLMKIT_REVEAL_DIR`` (the package root) at them.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "_build" / ".assets"

# npm specs, pinned to a major version whose file layout the builders rely on
MATHJAX = "mathjax@3.2.2"
REVEAL = "reveal.js@5.2.1"


def _npm_package(spec: str) -> Path:
    """Unpacked root of an npm package (cached in _build/.assets/<name>-<version>/package)."""
    name = spec.rsplit("@", 1)[0]
    target = CACHE / spec.replace("@", "-")
    if (target / "package").is_dir():
        return target / "package"
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit(f"npm is needed once to fetch {spec} (Debian: apt-get install npm), or set "
                         f"MLMKIT_{'MATHJAX' if name == 'mathjax' else 'REVEAL'}_DIR to an unpacked copy")
    target.mkdir(parents=True, exist_ok=True)
    out = subprocess.run([npm, "pack", spec, "--silent", "--pack-destination", str(target)],
                         capture_output=True, text=True, check=True)
    tgz = target / out.stdout.strip().splitlines()[-1]
    with tarfile.open(tgz) as tar:
        tar.extractall(target, filter="data")
    tgz.unlink()
    return target / "package"


def mathjax_dir() -> Path:
    """MathJax 3's ``es5`` folder (tex-chtml-full.js and the CHTML fonts)."""
    env = os.environ.get("MLMKIT_MATHJAX_DIR")
    return Path(env) if env else _npm_package(MATHJAX) / "es5"


def reveal_dir() -> Path:
    """reveal.js's package root (dist/ and plugin/)."""
    env = os.environ.get("MLMKIT_REVEAL_DIR")
    return Path(env) if env else _npm_package(REVEAL)


def copy_mathjax(dest: Path) -> Path:
    """Copy the single-file TeX->CHTML component and its web fonts to ``dest``; returns the script path."""
    src = mathjax_dir()
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src / "tex-chtml-full.js", dest / "tex-chtml-full.js")
    fonts = dest / "output" / "chtml" / "fonts" / "woff-v2"
    shutil.copytree(src / "output" / "chtml" / "fonts" / "woff-v2", fonts, dirs_exist_ok=True)
    return dest / "tex-chtml-full.js"


def copy_reveal(dest: Path, theme: str = "white") -> Path:
    """Copy reveal.js's core, one theme with its local fonts, and the speaker-notes plugin.

    Only ``theme`` is copied: several other reveal.js themes import web fonts from another host.
    """
    src = reveal_dir()
    (dest / "dist" / "theme").mkdir(parents=True, exist_ok=True)
    for name in ("reveal.js", "reveal.css", "reset.css"):
        shutil.copy2(src / "dist" / name, dest / "dist" / name)
    shutil.copy2(src / "dist" / "theme" / f"{theme}.css", dest / "dist" / "theme" / f"{theme}.css")
    shutil.copytree(src / "dist" / "theme" / "fonts", dest / "dist" / "theme" / "fonts", dirs_exist_ok=True)
    shutil.copytree(src / "plugin" / "notes", dest / "plugin" / "notes", dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("*.map", "*.esm.js"))
    return dest
