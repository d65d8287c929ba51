#!/usr/bin/env python3
"""Copy the canonical data files in ``data/`` into the package folder ``mlmkit/data/``.

``data/*.csv`` and ``data/README.md`` (whose ``## name`` sections are what
``mlmkit.datasets.describe(name)`` prints) are copied byte for byte; ``tests/test_datasets.py``
fails when the two folders differ, so run this after editing anything in ``data/``::

    python tools/sync_data.py          # copy
    python tools/sync_data.py --check  # exit 1 if the package copies are out of date
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "data"
TARGET = ROOT / "mlmkit" / "data"


def shipped_files() -> list[Path]:
    """The canonical files that must ship in the package."""
    return sorted(SOURCE.glob("*.csv")) + [SOURCE / "README.md"]


def main(argv: list[str]) -> int:
    check = "--check" in argv
    TARGET.mkdir(exist_ok=True)
    stale = [src for src in shipped_files()
             if not (TARGET / src.name).exists() or (TARGET / src.name).read_bytes() != src.read_bytes()]
    extra = [p for p in TARGET.iterdir()
             if p.is_file() and p.name not in {s.name for s in shipped_files()}]
    if check:
        for p in stale:
            print(f"out of date: mlmkit/data/{p.name}")
        for p in extra:
            print(f"not in data/: mlmkit/data/{p.name}")
        return 1 if stale or extra else 0
    for src in stale:
        shutil.copyfile(src, TARGET / src.name)
        print(f"copied data/{src.name} -> mlmkit/data/{src.name}")
    for p in extra:
        print(f"note: mlmkit/data/{p.name} has no canonical copy in data/ (left in place)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
