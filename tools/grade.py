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
import stat
import subprocess
import sys
import tempfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sandbox  # noqa: E402  (tools/sandbox.py)

from mlmkit import plain  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EXERCISES = ROOT / "exercises"
DIST = EXERCISES / "dist"
MASTER_PATTERN = "lesson[0-9][0-9]_*.ipynb"
FIELDS = ["student", "exercise", "points", "max_points", "status", "message", "questions"]
QUESTION_FIELDS = ["student", "exercise", "question", "points", "max_points", "message"]


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


STUDENT = EXERCISES / "student"


def master_digest(master: Path) -> str:
    import hashlib
    return hashlib.sha256(master.read_bytes()).hexdigest()


def student_versions(names: list[str] | None = None, dest: Path = STUDENT) -> list[Path]:
    """Write the committed student notebooks ``exercises/student/<exercise>.ipynb`` from the masters.

    Each records the SHA-256 of the master it came from (``metadata.mlmkit.master_sha256``), so a test
    can tell when a master changed and its student version was not regenerated.
    """
    written = []
    with tempfile.TemporaryDirectory() as tmp:
        done = build(names, out=Path(tmp), run_tests=False)
        dest.mkdir(parents=True, exist_ok=True)
        for name in done:
            nb = json.loads((Path(tmp) / "student" / f"{name}.ipynb").read_text(encoding="utf-8"))
            nb["metadata"]["mlmkit"] = {"master_sha256": master_digest(EXERCISES / f"{name}.ipynb"),
                                        "generated_by": "python tools/grade.py student"}
            path = dest / f"{name}.ipynb"
            path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
            written.append(path)
    print(f"wrote {len(written)} student notebook(s) into {dest}")
    return written


# --------------------------------------------------------------------------------------------------
# the tests of an exercise (from its autograder bundle: trusted, never shown to the sandbox)
def _clean_message(message: str) -> str:
    """otter's failure text without its banner and the test's source line: the exception itself."""
    lines = (message or "").splitlines()
    if lines and "Test case failed" in lines[0]:
        lines = lines[1:]
    if lines and lines[0].startswith("Error at line"):
        lines = lines[2:]
    text = " ".join(line.strip() for line in lines if line.strip())
    return re.sub(r"^AssertionError: ?", "", text) or "failed"


def _natural(name: str) -> list:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


@dataclass(frozen=True)
class Tests:
    """The test files of one exercise, read once from its bundle: question -> (source, points)."""
    exercise: str
    files: dict[str, str]
    maxima: dict[str, float]

    @property
    def names(self) -> list[str]:
        """Every variable a test reads: what the sandbox hands back."""
        import ast
        found: set[str] = set()
        for source in self.files.values():
            for node in ast.walk(ast.parse(source)):
                if isinstance(node, ast.FunctionDef) and node.name.startswith("test"):
                    found.update(a.arg for a in node.args.args + node.args.kwonlyargs)
        return sorted(found - {"env"})


def load_tests(autograder: Path) -> Tests:
    from otter.test_files.exception_test import ExceptionTestFile

    files, maxima = {}, {}
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(autograder) as z:
        names = sorted((n for n in z.namelist() if n.startswith("tests/") and n.endswith(".py")), key=_natural)
        for n in names:
            path = z.extract(n, tmp)
            tf = ExceptionTestFile.from_file(path)
            files[tf.name] = Path(path).read_text(encoding="utf-8")
            maxima[tf.name] = float(tf.possible)
    return Tests(autograder.stem, files, maxima)


def questions_of(autograder: Path) -> dict[str, float]:
    """Question -> maximum points, read from an autograder bundle with otter's own point rules."""
    return load_tests(autograder).maxima


def score(tests: Tests, answers: dict) -> dict[str, dict]:
    """Run every test on the rebuilt answers, here in the grader: question -> score and messages."""
    from otter.test_files.exception_test import ExceptionTestFile

    out = {}
    for q, source in tests.files.items():
        tf = ExceptionTestFile.from_string(source, path=f"{q}.py")
        tf.run(dict(answers))                 # a fresh dict: a test cannot leak into the next one
        messages = []
        for r in tf.test_case_results:
            if not r.passed:
                text = _clean_message(r.message)
                if r.test_case.failure_message:
                    text = f"{text} ({r.test_case.failure_message})"
                messages.append(text)
        out[q] = {"score": float(tf.score), "possible": float(tf.possible), "messages": messages}
    return out


# --------------------------------------------------------------------------------------------------
# one submission
MAX_NOTEBOOK_BYTES = 20 * 2 ** 20


@dataclass
class Submission:
    student: str
    path: Path
    exercise: str | None
    note: str = ""
    others: list[Path] = field(default_factory=list)


def read_submission(path: Path) -> tuple[dict | None, str | None]:
    """(notebook, None) or (None, why it cannot be graded): the file is checked before anything runs."""
    try:
        st = os.lstat(path)
    except OSError as e:
        return None, f"cannot read the file ({e.strerror})"
    if stat.S_ISLNK(st.st_mode):
        return None, "refused: a symbolic link, not the student's own file"
    if not stat.S_ISREG(st.st_mode):
        return None, "refused: not a regular file"
    if st.st_size == 0:
        return None, "empty file, not a notebook"
    if st.st_size > MAX_NOTEBOOK_BYTES:
        return None, f"refused: {st.st_size / 2 ** 20:.0f} MB is larger than a notebook can be ({MAX_NOTEBOOK_BYTES // 2 ** 20} MB)"
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as f:
            nb = json.loads(f.read(MAX_NOTEBOOK_BYTES + 1).decode("utf-8"))
    except RecursionError:
        return None, "not a notebook: its JSON is nested too deeply"
    except (UnicodeDecodeError, ValueError):
        return None, f"not a notebook: {path.name} is not a Jupyter notebook file (JSON)"
    except OSError as e:
        return None, f"cannot read the file ({e.strerror})"
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        return None, f"not a notebook: {path.name} has no cells"
    cells = [c for c in nb["cells"] if isinstance(c, dict)]
    sources = ["".join(s) if isinstance(s := c.get("source", ""), list) and all(isinstance(x, str) for x in s)
               else s if isinstance(s, str) else "" for c in cells]
    if not any(c.get("cell_type") == "code" and s.strip() for c, s in zip(cells, sources)):
        return None, "empty notebook: no code to grade"
    def tags(c):
        t = c.get("metadata", {}).get("tags") if isinstance(c.get("metadata"), dict) else None
        return [x for x in t if isinstance(x, str)][:10] if isinstance(t, list) else []

    clean = {"cells": [{"cell_type": c.get("cell_type") if isinstance(c.get("cell_type"), str) else "raw",
                        "source": s, "metadata": {"tags": tags(c)}} for c, s in zip(cells, sources)],
             "metadata": nb.get("metadata") if isinstance(nb.get("metadata"), dict) else {},
             "nbformat": 4, "nbformat_minor": 5}
    try:
        json.dumps(clean)
    except (RecursionError, TypeError, ValueError):
        clean["metadata"] = {}
    return clean, None


def written_answers(nb: dict) -> list[tuple[str, str]]:
    """(question prompt, answer text) of each hand-marked question (otter's ``manual: true``).

    otter assign opens such a question's prompt cell with ``<!-- BEGIN QUESTION -->``, tags the
    learner's answer cell(s) ``otter_answer_cell`` and closes with ``<!-- END QUESTION -->`` at the top
    of the next cell (the solution version tags its model answer ``otter_assign_solution_cell``).
    """
    out, prompt, answer = [], None, []
    for cell in nb["cells"]:
        src = cell["source"]
        if "<!-- END QUESTION -->" in src and prompt is not None:
            out.append((prompt, "\n\n".join(answer)))
            prompt = None
        if "<!-- BEGIN QUESTION -->" in src:
            text = src.replace("<!-- BEGIN QUESTION -->", "").strip()
            prompt, answer = (text.splitlines() or [""])[0].lstrip("# ")[:120], []
        elif prompt is not None and cell["cell_type"] == "markdown" and \
                {"otter_answer_cell", "otter_assign_solution_cell"} & set(cell.get("metadata", {}).get("tags", [])):
            answer.append(src.strip())
    return out


def _row(sub: Submission, maxima: dict[str, float], status: str, message: str, per: dict | None = None) -> dict:
    per = per or {}
    return dict(student=sub.student, exercise=sub.exercise or "", points=round(sum(per.values()), 4),
                max_points=sum(maxima.values()), status=status, message=message,
                questions="; ".join(f"{q}={per.get(q, 0.0):g}/{mx:g}" for q, mx in maxima.items()))


def grade_submission(sub: Submission, tests: Tests | None, *, timeout: float, package: Path,
                     memory_mb: int, unsafe: bool) -> tuple[dict, list[dict], list[dict]]:
    """(grades row, per-question rows, written answers) for one submission; never raises for its content."""
    if tests is None:
        return (_row(sub, {}, "unknown exercise", f"cannot tell which exercise {sub.path.name} is: name it "
                     "after the exercise or pass --exercise"), [], [])
    nb, why = read_submission(sub.path)
    if nb is None:
        return _row(sub, tests.maxima, "refused" if why.startswith("refused") else "not gradable", why), [], []
    job = {"exercise": sub.exercise, "notebook": nb, "names": tests.names}
    run = sandbox.run_job(job, package, timeout=timeout, memory_mb=memory_mb, unsafe_no_sandbox=unsafe)
    if run.returncode is None:
        return _row(sub, tests.maxima, "timed out", f"timed out after {timeout:g} s (a cell ran too long); "
                    "graded zero"), [], []
    try:
        head, body = run.stdout.decode("utf-8").split("\n", 1)
        errors = [str(e)[:300] for e in json.loads(head).get("errors", [])][:20]
        answers = plain.loads(body)
    except (ValueError, AttributeError, RecursionError, plain.PlainDataError) as e:
        tail = run.stderr.strip().splitlines()[-1:] or [f"exit code {run.returncode}"]
        return _row(sub, tests.maxima, "crashed", f"the notebook's process ended without answers "
                    f"({tail[0][:200]}; {type(e).__name__}); graded zero"), [], []
    results = score(tests, answers)
    per = {q: r["score"] for q, r in results.items()}
    qrows = [dict(student=sub.student, exercise=sub.exercise, question=q, points=round(r["score"], 4),
                  max_points=r["possible"], message=" | ".join(dict.fromkeys(r["messages"])))
             for q, r in results.items()]
    written = [dict(student=sub.student, exercise=sub.exercise, question=k + 1, prompt=p, answer=a)
               for k, (p, a) in enumerate(written_answers(nb))]
    notes = []
    if errors:
        notes.append(f"the notebook raised {len(errors)} error(s); first: {errors[0]}")
    if written:
        notes.append(f"{len(written)} written answer(s) to mark by hand (written_answers.csv)")
    if sub.others:
        notes.append("other copies ignored: " + ", ".join(p.name for p in sub.others))
    return _row(sub, tests.maxima, "graded", "; ".join(notes), per), qrows, written


# --------------------------------------------------------------------------------------------------
# grading a folder
def _assignment_name(path: Path) -> str | None:
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode) or os.lstat(path).st_size > MAX_NOTEBOOK_BYTES:
            return None
        with open(path, "rb") as f:
            nb = json.loads(f.read().decode("utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    meta = nb.get("metadata") if isinstance(nb, dict) else None
    name = meta.get("otter", {}) if isinstance(meta, dict) else {}
    name = name.get("assignment_name") if isinstance(name, dict) else None
    return name if isinstance(name, str) else None


def _exercise_from_name(filename: str, known: list[str]) -> str | None:
    hits = [k for k in known if k in filename]
    return max(hits, key=len) if hits else None


def discover(folder: Path, known: list[str], exercise: str | None = None) -> list[Submission]:
    """Find the submissions in a folder: per-student subfolders, or a flat folder of files.

    Symbolic links are listed (and refused when graded), never followed."""
    subs: list[Submission] = []

    def files(top: Path):
        for dirpath, dirnames, filenames in os.walk(top, followlinks=False):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "__pycache__")
            for fn in sorted(filenames):
                if not fn.startswith("."):
                    yield Path(dirpath) / fn

    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir() and not entry.is_symlink():
            student = entry.name
            for p in files(entry):
                ex = _assignment_name(p) if p.suffix == ".ipynb" else None
                ex = ex if ex in known else _exercise_from_name(p.name, known)
                if p.suffix == ".ipynb" or ex is not None:
                    subs.append(Submission(student, p, ex or exercise))
        else:
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
        rank = lambda x: (x.path.stem == x.exercise, x.path.suffix == ".ipynb", os.lstat(x.path).st_mtime)
        keep, drop = (s, best) if rank(s) > rank(best) else (best, s)
        keep.others = best.others + s.others + [drop.path]
        chosen[key] = keep
    return list(chosen.values())


def _write_csv(path: Path, fields: list[str], rows: list[dict]) -> None:
    """Write atomically: a reader never sees half a file, and the file is complete or absent."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)
    os.replace(tmp, path)


def grade(folder: Path, out: Path = ROOT / "grading-output", exercises: list[str] | None = None,
          bundles: Path = DIST / "autograder", timeout: float = 300, jobs: int = 1, memory_mb: int = 4096,
          unsafe_no_sandbox: bool = False) -> Path:
    """Grade every submission in ``folder``; write grades.csv, questions.csv, summary.csv (and
    written_answers.csv) into ``out``, which must not be inside ``folder``."""
    folder, out, bundles = Path(folder).resolve(), Path(out).resolve(), Path(bundles)
    known = sorted(p.stem for p in bundles.glob("*.zip"))
    if not known:
        raise SystemExit(f"no autograder bundles in {bundles}: run `python tools/grade.py build` first")
    if exercises:
        missing = [e for e in exercises if e not in known]
        if missing:
            raise SystemExit(f"no autograder bundle for {missing}; built: {known}")
    if not folder.is_dir():
        raise SystemExit(f"{folder} is not a folder of submissions")
    if out == folder or folder in out.parents:
        raise SystemExit(f"write the grades outside the submissions folder (--out {out} is inside {folder})")
    if sandbox.bwrap_path() is None and not unsafe_no_sandbox:
        raise SystemExit(sandbox.NO_SANDBOX)
    single = exercises[0] if exercises and len(exercises) == 1 else None
    subs = discover(folder, known, single)
    if exercises:
        subs = [s for s in subs if s.exercise is None or s.exercise in exercises]
    tests = {ex: load_tests(bundles / f"{ex}.zip") for ex in sorted({s.exercise for s in subs if s.exercise}
                                                                     | set(exercises or []))}
    out.mkdir(parents=True, exist_ok=True)
    print(f"grading {len(subs)} submission(s) from {folder} ...", flush=True)
    with tempfile.TemporaryDirectory(prefix="mlmkit-package-") as tmp:
        package = sandbox.package_copy(Path(tmp))

        def work(s: Submission):
            try:
                res = grade_submission(s, tests.get(s.exercise), timeout=timeout, package=package,
                                       memory_mb=memory_mb, unsafe=unsafe_no_sandbox)
            except Exception as e:     # a bug of ours must not cost the other students their grades
                res = (_row(s, tests.get(s.exercise, Tests("", {}, {})).maxima, "grader error",
                            f"{type(e).__name__}: {e}"), [], [])
            row = res[0]
            print(f"  {s.student:<20} {s.exercise or '?':<36} {row['points']:g}/{row['max_points']:g} "
                  f"{row['status']}", flush=True)
            return res

        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            results = list(pool.map(work, subs))
    rows = [r[0] for r in results]
    qrows = [q for r in results for q in r[1]]
    written = [w for r in results for w in r[2]]
    # exercises a student did not hand in (of those being graded) get a row too
    graded = sorted(tests)
    have = {(r["student"], r["exercise"]) for r in rows}
    for st in sorted({s.student for s in subs}):
        for ex in graded:
            if (st, ex) not in have:
                rows.append(_row(Submission(st, Path(""), ex), tests[ex].maxima, "missing", "no submission found"))
    rows.sort(key=lambda r: (r["student"], r["exercise"]))
    _write_csv(out / "grades.csv", FIELDS, rows)
    _write_csv(out / "questions.csv", QUESTION_FIELDS, sorted(qrows, key=lambda r: (r["student"], r["exercise"],
                                                                                   _natural(r["question"]))))
    if written:
        _write_csv(out / "written_answers.csv", ["student", "exercise", "question", "prompt", "answer"], written)
    write_summary(rows, out / "summary.csv", graded)
    print(f"wrote {out / 'grades.csv'} (one row per submission), questions.csv and summary.csv")
    return out / "grades.csv"


def write_summary(rows: list[dict], path: Path, exercises: list[str]) -> None:
    """One row per student: points per exercise, total, maximum and percent."""
    students = sorted({r["student"] for r in rows})
    out = []
    for st in students:
        mine = [r for r in rows if r["student"] == st]
        per = {ex: round(sum(r["points"] for r in mine if r["exercise"] == ex), 4) for ex in exercises}
        total = round(sum(r["points"] for r in mine), 4)
        mx = sum(r["max_points"] for r in mine)
        out.append(dict(student=st, **per, total=total, max_total=mx,
                        percent=round(100 * total / mx, 1) if mx else 0.0))
    _write_csv(path, ["student", *exercises, "total", "max_total", "percent"], out)


# --------------------------------------------------------------------------------------------------
# distribution
def publish(dest: Path, src: Path = STUDENT) -> list[Path]:
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
    g.add_argument("--memory", type=int, default=4096, help="address-space limit per notebook in MB (default 4096)")
    g.add_argument("--unsafe-no-sandbox", action="store_true",
                   help="grade without bubblewrap: learners' code can then read and write what you can")
    st = sub.add_parser("student", help="regenerate the committed student notebooks in exercises/student/")
    st.add_argument("names", nargs="*", help="exercise names (default: all)")
    pub = sub.add_parser("publish", help="copy the student versions into a content repository")
    pub.add_argument("dest", type=Path)
    lk = sub.add_parser("links", help="nbgitpuller and Binder links for the student versions")
    lk.add_argument("--repo", required=True, help="git URL of the content repository learners pull")
    lk.add_argument("--hub", help="JupyterHub URL, e.g. https://hub.example.edu")
    lk.add_argument("--binder-env", help="GitHub URL of the environment repository (this one) for Binder")
    lk.add_argument("--branch", default="main")
    lk.add_argument("--env-branch", default="main")
    argv = sys.argv[1:] if argv is None else argv
    a = p.parse_args(argv)
    if a.cmd == "build":
        build(a.names, a.out, run_tests=not a.no_run_tests, exercises_dir=a.exercises_dir)
    elif a.cmd == "grade":
        grade(a.submissions, a.out, a.exercise, a.bundles, a.timeout, a.jobs, a.memory, a.unsafe_no_sandbox)
    elif a.cmd == "student":
        student_versions(a.names)
    elif a.cmd == "publish":
        publish(a.dest)
    elif a.cmd == "links":
        if not (a.hub or a.binder_env):
            p.error("give --hub, --binder-env or both")
        links(a.repo, a.hub, a.binder_env, a.branch, a.env_branch)
    return 0


if __name__ == "__main__":
    sys.exit(main())
