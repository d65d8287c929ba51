"""Run a learner's notebook code inside the grading sandbox and print its answers as plain JSON.

Started by ``tools/sandbox.py`` inside bubblewrap (no network, read-only system, nothing of the
instructor's checkout but a copy of the ``mlmkit`` package)::

    python -I /opt/grader/sandbox_runner.py /job/job.json

``job.json`` holds ``{"exercise": name, "notebook": <the submitted notebook>, "names": [answers the
tests read]}``.  The code cells run in order in one namespace, each in its own ``try`` (an error is
recorded, the next cell still runs, as a learner's "Run All" with errors allowed); IPython magics and
shell lines are skipped.  Then the answers are encoded by :func:`mlmkit.plain.dumps` and written to
the stdout this process was started with; everything the learner's code prints goes to /dev/null.
Whatever this process prints is only data to the grader: it decides nothing.
"""
from __future__ import annotations

import json
import os
import sys
import traceback

PACKAGE_DIR = "/opt/mlmkit"        # the read-only copy of the mlmkit package (the sandbox's mount)
WORK_DIR = "/tmp/work"


def _cells(notebook: dict) -> list[str]:
    out = []
    for cell in notebook.get("cells", []):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        src = cell.get("source", "")
        src = "".join(src) if isinstance(src, list) else str(src)
        # %magics and !shell lines are not Python; nothing the exercises need uses them
        lines = [("pass  # " + line) if line.lstrip().startswith(("%", "!")) else line for line in src.splitlines()]
        out.append("\n".join(lines))
    return out


def _error_line(i: int, exc: BaseException) -> str:
    tb = traceback.extract_tb(exc.__traceback__)
    where = next((f" (line {f.lineno})" for f in reversed(tb) if f.filename == f"<cell {i}>"), "")
    return f"cell {i + 1}{where}: {type(exc).__name__}: {exc}"[:300]


def main(job_path: str, package_dir: str = PACKAGE_DIR, work_dir: str = WORK_DIR) -> int:
    sys.path.insert(0, package_dir)
    with open(job_path, encoding="utf-8") as f:
        job = json.load(f)
    # Our channel to the grader: a private copy of stdout; the learner's prints go nowhere.
    channel = os.fdopen(os.dup(1), "w", encoding="utf-8")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    os.makedirs(work_dir, exist_ok=True)
    os.chdir(work_dir)
    # grader.check("q1") in the learner's notebook reads the notebook's own (public) tests
    with open(f"{job['exercise']}.ipynb", "w", encoding="utf-8") as f:
        json.dump(job["notebook"], f)
    os.environ.setdefault("MPLBACKEND", "Agg")

    namespace: dict = {"__name__": "__main__"}
    errors = []
    for i, source in enumerate(_cells(job["notebook"])):
        try:
            exec(compile(source, f"<cell {i}>", "exec"), namespace)
        except BaseException as e:          # SystemExit and KeyboardInterrupt too: the next cell runs
            errors.append(_error_line(i, e))
    from mlmkit import plain
    answers = {}
    for name in job["names"]:
        if name not in namespace:
            continue
        try:
            answers[name] = plain.to_plain(namespace[name])
        except BaseException as e:          # an object whose conversion raised (a hostile __getattr__...)
            answers[name] = {"__unsupported__": type(namespace[name]).__name__}
            errors.append(f"`{name}` could not be exported: {type(e).__name__}: {e}"[:300])
    channel.write(json.dumps({"errors": errors}) + "\n" + json.dumps({"answers": answers}) + "\n")
    channel.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
