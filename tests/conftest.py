"""Shared pytest configuration for mlmkit's tests (others may add fixtures below).

Tests run against the installed ``mlmkit`` (``pip install -e .`` via ``make test``); the line below
also lets ``pytest tests`` work from a bare checkout without installing.
"""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
