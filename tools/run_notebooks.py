"""Execute the course notebooks in place, time each one, and refuse output nbval would reject.

    .venv/bin/python tools/run_notebooks.py             # execute and store every notebook
    .venv/bin/python tools/run_notebooks.py 3 6         # only lessons 3 and 6
    .venv/bin/python tools/run_notebooks.py --check     # execute without writing (timings only)
    .venv/bin/python tools/run_notebooks.py --out DIR   # write the executed copies to DIR, as they are
    .venv/bin/python tools/run_notebooks.py --slowest   # also list each notebook's three slowest cells

The wall time of each notebook runs from starting its kernel to the end of its last cell (what nbval
spends on it; shutting the kernel down is not counted).  It is printed with the CPU time of the
kernel (user + system of all its threads, read from the finished process), which helps to tell a
slow notebook from a machine busy with other work.

Each notebook runs in a fresh ``python3`` kernel started in ``notebooks/`` (as nbval does) with the
repository root on PYTHONPATH, so an uninstalled checkout works too.  A notebook that writes to
stderr (a warning) or raises outside a ``raises-exception`` cell is reported and not stored.
"""
from __future__ import annotations

import os
import resource
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"


def problems(nb) -> list[str]:
    out = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if cell.get("execution_count") is None:
            out.append(f"cell {i}: no execution count")
        for o in cell.get("outputs", []):
            if o.get("output_type") == "stream" and o.get("name") == "stderr":
                out.append(f"cell {i}: stderr: {o.get('text', '')[:200]!r}")
            if o.get("output_type") == "error" and "raises-exception" not in cell.metadata.get("tags", []):
                out.append(f"cell {i}: {o.get('ename')}: {o.get('evalue', '')[:200]}")
    return out


def _cell_seconds(cell) -> float:
    t = cell.metadata.get("execution", {})
    start, end = t.get("iopub.execute_input"), t.get("shell.execute_reply")
    if not start or not end:
        return 0.0
    from datetime import datetime
    parse = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))  # noqa: E731
    return (parse(end) - parse(start)).total_seconds()


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run(path: Path, write: bool, out: Path | None = None, slowest: bool = False) -> tuple[float, float, list[str]]:
    nb = nbformat.read(path, as_version=4)
    env_path = os.environ.get("PYTHONPATH", "")
    if str(ROOT) not in env_path.split(os.pathsep):
        os.environ["PYTHONPATH"] = str(ROOT) + (os.pathsep + env_path if env_path else "")
    client = NotebookClient(nb, kernel_name="python3", timeout=300, allow_errors=True,
                            record_timing=slowest, shutdown_kernel="immediate",
                            resources={"metadata": {"path": str(NOTEBOOKS)}})
    done = []
    client.on_cell_executed = lambda **kwargs: done.append(time.perf_counter())
    cpu0, start = _children_cpu(), time.perf_counter()
    client.execute()                       # starts, runs and shuts down (reaps) the kernel
    elapsed, cpu = (done[-1] if done else time.perf_counter()) - start, _children_cpu() - cpu0
    bad = problems(nb)
    if slowest:
        cells = sorted(((_cell_seconds(c), i) for i, c in enumerate(nb.cells) if c.cell_type == "code"), reverse=True)
        for sec, i in cells[:3]:
            print(f"    cell {i:3d} {sec:5.2f} s  {nb.cells[i].source.splitlines()[0][:60]}")
        for c in nb.cells:
            c.metadata.pop("execution", None)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, out / path.name)
    elif write and not bad:
        nbformat.write(nb, path)
    return elapsed, cpu, bad


def main(argv):
    write = "--check" not in argv
    slowest = "--slowest" in argv
    out = Path(argv[argv.index("--out") + 1]) if "--out" in argv else None
    numbers = {int(a) for a in argv if a.isdigit()}
    paths = sorted(p for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb") if not numbers or int(p.name[:2]) in numbers)
    total = total_cpu = 0.0
    failed = False
    print(f"{'notebook':<40s} {'wall':>7s} {'kernel CPU':>11s}")
    for p in paths:
        elapsed, cpu, bad = run(p, write, out, slowest)
        total += elapsed
        total_cpu += cpu
        print(f"{p.name:<40s} {elapsed:6.1f}s {cpu:10.1f}s" + ("" if not bad else "  NOT STORED"), flush=True)
        for b in bad:
            print(f"    {b}")
        failed |= bool(bad)
    print(f"{'total':<40s} {total:6.1f}s {total_cpu:10.1f}s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
