"""The files a learner's set-up depends on: the lock covers every dependency, stored notebooks are clean."""
from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _locked() -> dict[str, list[str]]:
    pins: dict[str, list[str]] = {}
    for line in (ROOT / "requirements" / "lock.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, rest = line.partition("==")
            assert rest, f"lock line without an exact version: {line!r}"
            pins.setdefault(name.lower().replace("_", "-"), []).append(rest)
    return pins


def test_every_dependency_of_every_extra_is_pinned_in_the_lock():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = list(project["dependencies"])
    for reqs in project["optional-dependencies"].values():
        wanted += reqs
    locked = _locked()
    missing = sorted({_name(r) for r in wanted} - set(locked) - {project["name"]})   # mlmkit[cluster] in dev
    assert not missing, f"not in requirements/lock.txt (run `make lock`): {missing}"


def test_the_lock_respects_the_upper_bounds_pyproject_states():
    # matplotlib < 3.11 (arviz); a lock re-resolved without the bound would break lesson 10.
    for version in _locked()["matplotlib"]:
        major, minor = (int(x) for x in version.split(";")[0].strip().split(".")[:2])
        assert (major, minor) < (3, 11)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_stored_notebook_is_executed_and_clean(path):
    nb = json.loads(path.read_text())
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        # nbval skips a cell without an execution count: a stripped notebook would pass unchecked.
        assert cell.get("execution_count") is not None, f"{path.name} cell {i} is not executed"
        for out in cell.get("outputs", []):
            assert not (out["output_type"] == "stream" and out.get("name") == "stderr"), \
                f"{path.name} cell {i} wrote to stderr: {''.join(out.get('text', ''))[:200]}"
            if out["output_type"] == "error":
                assert "raises-exception" in cell.get("metadata", {}).get("tags", []), \
                    f"{path.name} cell {i} stores an error ({out.get('ename')})"


def _lesson_sources():
    import importlib
    import sys
    sys.path.insert(0, str(ROOT))
    try:
        for src in sorted((ROOT / "tools" / "lessons").glob("lesson[0-9][0-9].py")):
            yield pytest.param(src.stem, importlib.import_module(f"tools.lessons.{src.stem}"), id=src.stem)
    finally:
        sys.path.remove(str(ROOT))


@pytest.mark.parametrize("stem,module", list(_lesson_sources()))
def test_stored_notebook_matches_its_source(stem, module):
    """A stored lesson is regenerated after every edit of tools/lessons/ (build_notebooks + run_notebooks)."""
    path = ROOT / "notebooks" / f"{stem[-2:]}_{module.SLUG}.ipynb"
    assert path.exists(), f"{path.name} is missing: run tools/build_notebooks.py {int(stem[-2:])}"
    stored = ["".join(c["source"]) for c in json.loads(path.read_text())["cells"]]
    wanted = [source for _, source, _ in module.CELLS]
    stale = [i for i, (a, b) in enumerate(zip(stored, wanted)) if a != b]
    assert len(stored) == len(wanted) and not stale, (
        f"{path.name} is stale (cells {stale[:5]}, {len(stored)} stored vs {len(wanted)} in {stem}.py): "
        f"run tools/build_notebooks.py {int(stem[-2:])} and tools/run_notebooks.py {int(stem[-2:])}")


EXERCISE_MASTERS = sorted((ROOT / "exercises").glob("lesson[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("master", EXERCISE_MASTERS, ids=lambda p: p.stem)
def test_student_version_is_committed_and_current(master):
    """exercises/student/ holds what learners open; it is regenerated whenever a master changes."""
    import hashlib
    student = ROOT / "exercises" / "student" / master.name
    assert student.exists(), f"{student.relative_to(ROOT)} is missing: run python tools/grade.py student"
    nb = json.loads(student.read_text())
    recorded = nb["metadata"].get("mlmkit", {}).get("master_sha256")
    assert recorded == hashlib.sha256(master.read_bytes()).hexdigest(), (
        f"{student.relative_to(ROOT)} is stale (its master changed): run python tools/grade.py student {master.stem}")
    code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    assert "# SOLUTION" not in code and "BEGIN SOLUTION" not in code and "hidden: true" not in code
    assert f'grader = mk.checks.Notebook("{master.stem}.ipynb")' in code
    tests = nb["metadata"]["otter"]["tests"]
    assert tests and all("hidden=True" not in src for src in tests.values())
