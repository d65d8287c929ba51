#!/usr/bin/env python
"""Build, grade and distribute the mlmkit exercises (instructors; needs the ``grading`` extra).

One command each (run from the repository root; see INSTRUCTORS.md)::

    python tools/grade.py build                     # student versions + autograder bundles, all exercises
    python tools/grade.py grade SUBMISSIONS         # a folder of submissions -> grades.csv + summary.csv
    python tools/grade.py publish DEST              # copy the student versions into a content repo
    python tools/grade.py links --repo URL --hub URL   # nbgitpuller (JupyterHub) and Binder links

``build`` runs ``otter assign`` on every master notebook ``exercises/lessonNN_*.ipynb`` (which also
grades the solutions and stops if they do not get full marks) and collects

    exercises/dist/student/<exercise>.ipynb      what learners get (public tests only, no solutions)
    exercises/dist/autograder/<exercise>.zip     otter's autograder bundle (all tests)

``grade`` accepts ``SUBMISSIONS/<student>/<any path>/<file>`` (one folder per student, as collected
from JupyterHub home directories) or a flat folder ``SUBMISSIONS/<student>.ipynb`` (then the exercise is
read from the notebook's metadata or given with ``--exercise``).  Every submission is graded by
``otter run`` in its own process with a time limit, so a notebook that raises, hangs, is empty or is
not a notebook at all gets zero for the affected questions with the reason in the ``message`` column,
and never stops the run or costs another student their scores.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlparse

ROOT = Path(__file__).resolve().parents[1]
EXERCISES = ROOT / "exercises"
DIST = EXERCISES / "dist"
MASTER_PATTERN = "lesson[0-9][0-9]_*.ipynb"
FIELDS = ["student", "exercise", "question", "points", "max_points", "message"]


# --------------------------------------------------------------------------------------------------
# helpers
def _env() -> dict[str, str]:
    """Environment for otter's subprocesses: mlmkit importable from this checkout, quiet libraries."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env.setdefault("MPLBACKEND", "Agg")
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    return env


def _run(cmd: list[str], timeout: float | None, log: Path | None = None, cwd: Path | None = None):
    """Run a command in its own process group; on timeout kill the group (the kernel included).

    Returns (returncode or None on timeout, combined output)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=_env(), cwd=cwd, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
        code = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        code = None
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(out or "")
    return code, out or ""


def masters(names: list[str] | None = None, exercises_dir: Path = EXERCISES) -> list[Path]:
    found = sorted(p for p in exercises_dir.glob(MASTER_PATTERN))
    if not names:
        return found
    by_name = {p.stem: p for p in found}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise SystemExit(f"unknown exercise(s) {unknown}; the exercises are: {sorted(by_name)}")
    return [by_name[n] for n in names]


# --------------------------------------------------------------------------------------------------
# build
def solution_lines(master: Path) -> set[str]:
    """Code lines of the solution blocks of a master notebook (to prove the student version lacks them)."""
    nb = json.loads(master.read_text())
    lines, in_cells = set(), False
    for cell in nb["cells"]:
        src = "".join(cell["source"])
        if cell["cell_type"] == "raw" and re.match(r"\s*#\s*BEGIN SOLUTION", src):
            in_cells = True
        elif cell["cell_type"] == "raw" and re.match(r"\s*#\s*END SOLUTION", src):
            in_cells = False
        elif in_cells and cell["cell_type"] == "code":
            # solution code: lines ending in "# SOLUTION" and lines between BEGIN/END SOLUTION
            # comments; the other lines of a solution cell are given to learners on purpose
            in_block = False
            for line in src.splitlines():
                marker = line.rstrip()
                if re.search(r"#\s*BEGIN SOLUTION", marker):
                    in_block = True
                elif re.search(r"#\s*END SOLUTION", marker):
                    in_block = False
                elif in_block or re.search(r"#\s*SOLUTION$", marker):
                    code = line.split("#")[0].strip()
                    if code and code != "...":
                        lines.add(code)
    return lines


def verify_student(master: Path, student: Path) -> None:
    """Fail loudly if a student version holds solution code or hidden tests."""
    nb = json.loads(student.read_text())
    code = {line.split("#")[0].strip() for c in nb["cells"] if c["cell_type"] == "code"
            for line in "".join(c["source"]).splitlines()}
    leaked = sorted(solution_lines(master) & code)
    if leaked:
        raise RuntimeError(f"{student.name}: solution code in the student version: {leaked[:3]}")
    tests = nb["metadata"].get("otter", {}).get("tests", {})
    hidden = [q for q, src in tests.items() if "hidden=True" in src]
    if hidden:
        raise RuntimeError(f"{student.name}: hidden tests in the student version ({hidden})")


def build(names: list[str] | None = None, out: Path = DIST, run_tests: bool = True,
          exercises_dir: Path = EXERCISES, timeout: float = 900) -> list[str]:
    """Student versions and autograder bundles for the named (default: all) exercises."""
    done = []
    for master in masters(names, exercises_dir):
        name = master.stem
        work = out / "build" / name
        shutil.rmtree(work, ignore_errors=True)
        cmd = [sys.executable, "-m", "otter", "assign", "-v", "--no-pdfs", str(master), str(work)]
        if not run_tests:
            cmd.insert(4, "--no-run-tests")
        print(f"building {name} ...", flush=True)
        code, output = _run(cmd, timeout, log=out / "logs" / f"build_{name}.log", cwd=master.parent)
        if code != 0:
            tail = "\n".join(output.strip().splitlines()[-15:])
            raise SystemExit(f"otter assign failed for {name} (log: {out / 'logs'}):\n{tail}")
        student = work / "student" / f"{name}.ipynb"
        verify_student(master, student)
        zips = sorted((work / "autograder").glob(f"{name}-autograder_*.zip"))
        (out / "student").mkdir(parents=True, exist_ok=True)
        (out / "autograder").mkdir(parents=True, exist_ok=True)
        shutil.copy(student, out / "student" / f"{name}.ipynb")
        shutil.copy(zips[-1], out / "autograder" / f"{name}.zip")
        done.append(name)
    print(f"built {len(done)} exercise(s): student versions in {out / 'student'}, autograder bundles "
          f"in {out / 'autograder'}")
    return done


# --------------------------------------------------------------------------------------------------
# grading one submission (runs in a child process: `grade.py _one ZIP SUBMISSION RESULT`)
def _clean_message(message: str) -> str:
    """otter's failure text without its banner and the test's source line: the exception itself."""
    lines = (message or "").splitlines()
    if lines and "Test case failed" in lines[0]:
        lines = lines[1:]
    if lines and lines[0].startswith("Error at line"):
        lines = lines[2:]
    text = " ".join(line.strip() for line in lines if line.strip())
    return re.sub(r"^AssertionError: ?", "", text) or "failed"


def _notebook_errors(nb) -> list[str]:
    errors = []
    for cell in getattr(nb, "cells", []) or []:
        for o in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            if o.get("output_type") == "error":
                errors.append(f"{o.get('ename')}: {o.get('evalue')}".strip()[:200])
    return errors


def grade_one(autograder: str, submission: str, result: str) -> None:
    """Grade one notebook with otter and write a compact JSON of per-question results."""
    import contextlib
    import io

    from otter.run import main as otter_run

    out: dict = {"questions": [], "errors": [], "fatal": None}
    buf = io.StringIO()
    with tempfile.TemporaryDirectory() as tmp:
        try:
            with contextlib.redirect_stdout(buf):
                res = otter_run(submission, autograder=autograder, output_dir=tmp, no_logo=True)
        except Exception as e:      # otter could not run the notebook at all
            out["fatal"] = f"{type(e).__name__}: {e}"
            res = None
    if res is not None:
        if res.catastrophic_error is not None:
            out["fatal"] = f"the notebook could not be run: {res.catastrophic_error}"
        out["errors"] = _notebook_errors(res.notebook)
        for name in res.test_files:
            tf = res.get_result(name)
            messages = []
            for r in tf.test_case_results:
                if not r.passed:
                    text = _clean_message(r.message)
                    if r.test_case.failure_message:
                        text = f"{text} ({r.test_case.failure_message})"
                    messages.append(text)
            out["questions"].append({"name": name, "score": float(tf.score),
                                     "possible": float(tf.possible), "messages": messages})
    sys.stdout.write(buf.getvalue())
    Path(result).write_text(json.dumps(out))


def questions_of(autograder: Path) -> dict[str, float]:
    """Question -> maximum points, read from an autograder bundle with otter's own point rules."""
    from otter.test_files.exception_test import ExceptionTestFile

    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(autograder) as z:
        names = sorted((n for n in z.namelist() if n.startswith("tests/") and n.endswith(".py")),
                       key=lambda n: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", n)])
        out = {}
        for n in names:
            path = z.extract(n, tmp)
            tf = ExceptionTestFile.from_file(path)
            out[tf.name] = float(tf.possible)
    return out


# --------------------------------------------------------------------------------------------------
# grading a folder
@dataclass
class Submission:
    student: str
    path: Path
    exercise: str | None
    note: str = ""
    others: list[Path] = field(default_factory=list)


def _assignment_name(path: Path) -> str | None:
    try:
        with open(path, encoding="utf-8") as f:
            meta = json.load(f).get("metadata", {})
        name = meta.get("otter", {}).get("assignment_name")
        return name if isinstance(name, str) else None
    except (OSError, ValueError, AttributeError):
        return None


def _exercise_from_name(filename: str, known: list[str]) -> str | None:
    hits = [k for k in known if k in filename]
    return max(hits, key=len) if hits else None


def discover(folder: Path, known: list[str], exercise: str | None = None) -> list[Submission]:
    """Find the submissions in a folder: per-student subfolders, or a flat folder of files."""
    subs: list[Submission] = []

    def visible(p: Path) -> bool:
        rel = p.relative_to(folder).parts
        return p.is_file() and not any(part.startswith(".") or part == "__pycache__" for part in rel)

    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            student = entry.name
            for p in sorted(filter(visible, entry.rglob("*"))):
                ex = _assignment_name(p) if p.suffix == ".ipynb" else None
                ex = ex if ex in known else _exercise_from_name(p.name, known)
                if p.suffix == ".ipynb" or ex is not None:
                    subs.append(Submission(student, p, ex or exercise))
        elif entry.is_file():
            ex = _assignment_name(entry) if entry.suffix == ".ipynb" else None
            ex = ex if ex in known else (_exercise_from_name(entry.name, known) or exercise)
            student = entry.stem
            if ex and ex in student and student != ex:
                student = student.replace(ex, "").strip("_- .") or student
            subs.append(Submission(student, entry, ex))
    # one submission per student and exercise: the file named after the exercise, else the newest
    chosen: dict[tuple[str, str | None], Submission] = {}
    for s in subs:
        if s.exercise is None:
            chosen[(s.student, f"?{s.path}")] = s
            continue
        key = (s.student, s.exercise)
        best = chosen.get(key)
        if best is None:
            chosen[key] = s
            continue
        rank = lambda x: (x.path.stem == x.exercise, x.path.suffix == ".ipynb", x.path.stat().st_mtime)
        keep, drop = (s, best) if rank(s) > rank(best) else (best, s)
        keep.others = best.others + s.others + [drop.path]
        chosen[key] = keep
    return list(chosen.values())


def _rows_for(sub: Submission, maxima: dict[str, float], reason: str) -> list[dict]:
    return [dict(student=sub.student, exercise=sub.exercise, question=q, points=0.0, max_points=mx,
                 message=reason) for q, mx in maxima.items()]


def _not_a_notebook(path: Path) -> str | None:
    """Why a file cannot be graded as a notebook (None when it is a notebook)."""
    if path.stat().st_size == 0:
        return "empty file, not a notebook"
    try:
        with open(path, encoding="utf-8") as f:
            nb = json.load(f)
    except (UnicodeDecodeError, ValueError):
        return f"not a notebook: {path.name} is not a Jupyter notebook file (JSON)"
    if not isinstance(nb, dict) or "cells" not in nb:
        return f"not a notebook: {path.name} has no cells"
    if not any(c.get("cell_type") == "code" and "".join(c.get("source", "")).strip()
               for c in nb["cells"] if isinstance(c, dict)):
        return "empty notebook: no code to grade"
    return None


def grade_submission(sub: Submission, bundles: Path, out: Path, timeout: float) -> list[dict]:
    """Rows of grades.csv for one submission; never raises."""
    rel = sub.path.name
    if sub.exercise is None:
        return [dict(student=sub.student, exercise="", question="", points=0.0, max_points=0.0,
                     message=f"cannot tell which exercise {rel} is: name it after the exercise or "
                             "pass --exercise")]
    bundle = bundles / f"{sub.exercise}.zip"
    maxima = questions_of(bundle)
    why = _not_a_notebook(sub.path)
    if why:
        return _rows_for(sub, maxima, why)
    log = out / "logs" / f"{sub.student}__{sub.exercise}.log"
    with tempfile.TemporaryDirectory() as tmp:
        # otter wants the file to end in .ipynb and to be the only notebook in its folder
        local = Path(tmp) / f"{sub.exercise}.ipynb"
        nb = json.loads(sub.path.read_text(encoding="utf-8"))
        # grade with this Python whatever kernel the learner's hub called it
        nb.setdefault("metadata", {})["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                                       "language": "python"}
        local.write_text(json.dumps(nb), encoding="utf-8")
        result = Path(tmp) / "result.json"
        code, output = _run([sys.executable, str(Path(__file__).resolve()), "_one", str(bundle),
                             str(local), str(result)], timeout, log=log, cwd=Path(tmp))
        if code is None:
            return _rows_for(sub, maxima, f"timed out after {timeout:g} s (a cell ran too long); "
                                          "graded zero")
        if not result.exists():
            last = (output.strip().splitlines() or ["no output"])[-1]
            return _rows_for(sub, maxima, f"grading crashed ({last[:200]}); graded zero")
        res = json.loads(result.read_text())
    if res["fatal"]:
        return _rows_for(sub, maxima, f"{res['fatal'][:300]}; graded zero")
    errors = res["errors"]
    got = {q["name"]: q for q in res["questions"]}
    rows = []
    for q, mx in maxima.items():
        r = got.get(q)
        if r is None:
            rows.append(dict(student=sub.student, exercise=sub.exercise, question=q, points=0.0,
                             max_points=mx, message="not graded (the question's tests did not run)"))
            continue
        msg = " | ".join(dict.fromkeys(r["messages"]))       # a message once, in test order
        if r["messages"] and errors:
            msg += f" [the notebook raised {len(errors)} error(s); first: {errors[0]}]"
        rows.append(dict(student=sub.student, exercise=sub.exercise, question=q,
                         points=round(r["score"], 4), max_points=mx, message=msg))
    if sub.others:
        rows[0]["message"] = (rows[0]["message"] + " " if rows[0]["message"] else "") + \
            "(other copies ignored: " + ", ".join(p.name for p in sub.others) + ")"
    return rows


def grade(folder: Path, out: Path = ROOT / "grading-output", exercises: list[str] | None = None,
          bundles: Path = DIST / "autograder", timeout: float = 300, jobs: int = 1) -> Path:
    """Grade every submission in ``folder``; write grades.csv and summary.csv into ``out``."""
    folder, out = Path(folder), Path(out)
    known = sorted(p.stem for p in Path(bundles).glob("*.zip"))
    if not known:
        raise SystemExit(f"no autograder bundles in {bundles}: run `python tools/grade.py build` first")
    if exercises:
        missing = [e for e in exercises if e not in known]
        if missing:
            raise SystemExit(f"no autograder bundle for {missing}; built: {known}")
    if not folder.is_dir():
        raise SystemExit(f"{folder} is not a folder of submissions")
    single = exercises[0] if exercises and len(exercises) == 1 else None
    subs = discover(folder, known, single)
    if exercises:
        subs = [s for s in subs if s.exercise is None or s.exercise in exercises]
    out.mkdir(parents=True, exist_ok=True)
    print(f"grading {len(subs)} submission(s) from {folder} ...", flush=True)

    def work(s: Submission) -> list[dict]:
        try:
            rows = grade_submission(s, Path(bundles), out, timeout)
        except Exception as e:     # a bug of ours must not cost the other students their grades
            rows = [dict(student=s.student, exercise=s.exercise or "", question="", points=0.0,
                         max_points=0.0, message=f"grader error: {type(e).__name__}: {e}")]
        total = sum(r["points"] for r in rows)
        print(f"  {s.student:<20} {s.exercise or '?':<36} {total:g}/{sum(r['max_points'] for r in rows):g}",
              flush=True)
        return rows

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        rows = [r for rs in pool.map(work, subs) for r in rs]
    # exercises a student did not hand in (of those being graded) get zero rows too
    graded = sorted({s.exercise for s in subs if s.exercise} | set(exercises or []))
    students = sorted({s.student for s in subs})
    have = {(r["student"], r["exercise"]) for r in rows}
    for st in students:
        for ex in graded:
            if (st, ex) not in have:
                rows += _rows_for(Submission(st, Path(""), ex), questions_of(Path(bundles) / f"{ex}.zip"),
                                  "no submission found")
    rows.sort(key=lambda r: (r["student"], r["exercise"] or "", r["question"]))
    with open(out / "grades.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        w.writeheader()
        w.writerows(rows)
    write_summary(rows, out / "summary.csv", graded)
    print(f"wrote {out / 'grades.csv'} and {out / 'summary.csv'}")
    return out / "grades.csv"


def write_summary(rows: list[dict], path: Path, exercises: list[str]) -> None:
    """One row per student: points per exercise, total, maximum and percent."""
    students = sorted({r["student"] for r in rows})
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["student", *exercises, "total", "max_total", "percent"])
        for st in students:
            mine = [r for r in rows if r["student"] == st]
            per = [round(sum(r["points"] for r in mine if r["exercise"] == ex), 4) for ex in exercises]
            total = round(sum(r["points"] for r in mine), 4)
            mx = sum(r["max_points"] for r in mine)
            w.writerow([st, *per, total, mx, round(100 * total / mx, 1) if mx else 0.0])


# --------------------------------------------------------------------------------------------------
# distribution
def publish(dest: Path, src: Path = DIST / "student") -> list[Path]:
    """Copy the student versions into ``dest`` (e.g. a clone of the repository learners pull)."""
    files = sorted(Path(src).glob("*.ipynb"))
    if not files:
        raise SystemExit(f"no student versions in {src}: run `python tools/grade.py build` first")
    dest = Path(dest) / "exercises"
    dest.mkdir(parents=True, exist_ok=True)
    for f in files:
        shutil.copy(f, dest / f.name)
    print(f"copied {len(files)} notebook(s) to {dest}; commit and push them, then share the links "
          "from `python tools/grade.py links`")
    return [dest / f.name for f in files]


def nbgitpuller_link(hub: str, repo: str, path: str, branch: str = "main", app: str = "lab") -> str:
    """A JupyterHub link that clones/updates ``repo`` in the user's home and opens ``path``."""
    name = Path(urlparse(repo).path).name.removesuffix(".git")
    target = f"{app}/tree/{name}/{path}" if app == "lab" else f"tree/{name}/{path}"
    return (f"{hub.rstrip('/')}/hub/user-redirect/git-pull?repo={quote(repo, safe='')}"
            f"&branch={quote(branch)}&urlpath={quote(target, safe='')}")


def binder_link(env_repo: str, repo: str, path: str, branch: str = "main", env_branch: str = "main") -> str:
    """A mybinder.org link: the environment from ``env_repo`` (mlmkit), the content pulled by nbgitpuller."""
    gh = urlparse(env_repo).path.strip("/").removesuffix(".git")
    name = Path(urlparse(repo).path).name.removesuffix(".git")
    pull = (f"git-pull?repo={quote(repo, safe='')}&branch={quote(branch)}"
            f"&urlpath={quote(f'lab/tree/{name}/{path}', safe='')}")
    return f"https://mybinder.org/v2/gh/{gh}/{env_branch}?urlpath={quote(pull, safe='')}"


def links(repo: str, hub: str | None, env_repo: str | None, branch: str = "main",
          env_branch: str = "main", src: Path = DIST / "student") -> list[str]:
    names = sorted(p.name for p in Path(src).glob("*.ipynb")) or \
        sorted(f"{p.stem}.ipynb" for p in masters())
    lines = []
    for n in ["", *names]:
        path = f"exercises/{n}" if n else "exercises"
        label = n or "(all exercises)"
        if hub:
            lines.append(f"{label}\tJupyterHub\t{nbgitpuller_link(hub, repo, path, branch)}")
        if env_repo:
            lines.append(f"{label}\tBinder\t{binder_link(env_repo, repo, path, branch, env_branch)}")
    print("\n".join(lines))
    return lines


# --------------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="student versions and autograder bundles")
    b.add_argument("names", nargs="*", help="exercise names (default: all)")
    b.add_argument("--out", type=Path, default=DIST)
    b.add_argument("--no-run-tests", action="store_true", help="skip grading the solutions")
    b.add_argument("--exercises-dir", type=Path, default=EXERCISES,
                   help="folder of master notebooks (default: exercises/)")
    g = sub.add_parser("grade", help="grade a folder of submissions into grades.csv and summary.csv")
    g.add_argument("submissions", type=Path)
    g.add_argument("--exercise", action="append", help="grade only this exercise (repeatable); "
                                                       "names the exercise of a flat folder")
    g.add_argument("--out", type=Path, default=ROOT / "grading-output")
    g.add_argument("--bundles", type=Path, default=DIST / "autograder")
    g.add_argument("--timeout", type=float, default=300, help="seconds per notebook (default 300)")
    g.add_argument("--jobs", type=int, default=1, help="notebooks graded at once (default 1)")
    pub = sub.add_parser("publish", help="copy the student versions into a content repository")
    pub.add_argument("dest", type=Path)
    lk = sub.add_parser("links", help="nbgitpuller and Binder links for the student versions")
    lk.add_argument("--repo", required=True, help="git URL of the content repository learners pull")
    lk.add_argument("--hub", help="JupyterHub URL, e.g. https://hub.example.edu")
    lk.add_argument("--binder-env", help="GitHub URL of the environment repository (this one) for Binder")
    lk.add_argument("--branch", default="main")
    lk.add_argument("--env-branch", default="main")
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_one"]:            # internal: grade one notebook in this (child) process
        grade_one(*argv[1:4])
        return 0
    a = p.parse_args(argv)
    if a.cmd == "build":
        build(a.names, a.out, run_tests=not a.no_run_tests, exercises_dir=a.exercises_dir)
    elif a.cmd == "grade":
        grade(a.submissions, a.out, a.exercise, a.bundles, a.timeout, a.jobs)
    elif a.cmd == "publish":
        publish(a.dest)
    elif a.cmd == "links":
        if not (a.hub or a.binder_env):
            p.error("give --hub, --binder-env or both")
        links(a.repo, a.hub, a.binder_env, a.branch, a.env_branch)
    return 0


if __name__ == "__main__":
    sys.exit(main())
