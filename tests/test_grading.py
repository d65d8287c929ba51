"""The instructor workflow end to end: build an exercise, grade a folder of submissions.

Needs the ``grading`` extra (otter-grader); skipped with that reason otherwise.  One exercise is
built and six submissions are graded: the solution (full marks), a wrong one (partial marks with the
teaching messages), a broken one, an empty notebook, a zero-byte file and a file that is not a notebook
(all zero, with the reason), plus a notebook that hangs (killed at the time limit).
"""
import copy
import csv
import hashlib
import importlib.util
import json
import shutil
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("otter", reason="the grading extra is not installed (pip install -e '.[grading]')")

ROOT = Path(__file__).resolve().parents[1]
EXERCISE = "lesson05_alcohol"


def _load_tool():
    spec = importlib.util.spec_from_file_location("grade_tool", ROOT / "tools" / "grade.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod          # dataclasses look their module up while the class is made
    spec.loader.exec_module(mod)
    return mod


grade_tool = _load_tool()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    # the solutions are graded below, so otter assign need not grade them as well
    assert grade_tool.build([EXERCISE], out=out, run_tests=False) == [EXERCISE]
    return out


def _cells(path):
    return json.loads(Path(path).read_text())["cells"]


def _code(path):
    return "\n".join("".join(c["source"]) for c in _cells(path) if c["cell_type"] == "code")


def _solution(built):
    return built / "build" / EXERCISE / "autograder" / f"{EXERCISE}.ipynb"


def _edit(nb, old, new):
    for cell in nb["cells"]:
        src = "".join(cell["source"])
        if old in src:
            cell["source"] = src.replace(old, new)
            return nb
    raise AssertionError(f"{old!r} not in the notebook")


# --- build ------------------------------------------------------------------------------------------
def test_build_writes_student_version_and_bundle(built):
    assert (built / "student" / f"{EXERCISE}.ipynb").is_file()
    assert (built / "autograder" / f"{EXERCISE}.zip").is_file()
    assert grade_tool.questions_of(built / "autograder" / f"{EXERCISE}.zip") == {
        "q1": 3.0, "q2": 2.0, "q3": 3.0, "q4": 1.0, "q5": 2.0}


@pytest.mark.parametrize("solution_text", [
    'mk.lmer("alcohol ~ 1 + (1 | country)", alcohol)',
    "tau_hat ** 2 / (tau_hat ** 2 + sigma_hat ** 2)",
    'm.coef["country"].loc["South Korea", "(Intercept)"]',
    'most_moved = "South Korea"',
    'negative = "a"',
])
def test_student_version_has_no_solution(built, solution_text):
    assert solution_text in _code(_solution(built))          # the master does have it
    assert solution_text not in (built / "student" / f"{EXERCISE}.ipynb").read_text()


def test_student_version_has_public_tests_only_and_no_otter(built):
    nb = json.loads((built / "student" / f"{EXERCISE}.ipynb").read_text())
    tests = nb["metadata"]["otter"]["tests"]
    assert sorted(tests) == ["q1", "q2", "q3", "q4", "q5"]
    assert all("hidden=False" in src and "hidden=True" not in src for src in tests.values())
    code = _code(built / "student" / f"{EXERCISE}.ipynb")
    assert "import otter" not in code and "mk.checks.Notebook" in code   # learners do not need otter
    master_tests = json.loads(_solution(built).read_text())["metadata"]["otter"]["tests"]
    assert all("hidden=True" in src for src in master_tests.values())


def test_learner_runner_gives_feedback_from_the_student_version(built, tmp_path, monkeypatch):
    """mlmkit.checks.Notebook runs the public tests stored in the student notebook."""
    import mlmkit as mk
    shutil.copy(built / "student" / f"{EXERCISE}.ipynb", tmp_path)
    monkeypatch.chdir(tmp_path)
    grader = mk.checks.Notebook(f"{EXERCISE}.ipynb")
    alcohol = mk.datasets.load("alcohol")
    m = mk.lmer("alcohol ~ 1 + (1 | country)", alcohol)
    tau = m.varcorr["sdcor"].iloc[0]
    good = dict(m=m, alcohol=alcohol, phi_hat=m.fixef.iloc[0], tau_hat=tau, sigma_hat=m.sigma)
    assert grader.check("q1", good).passed
    bad = grader.check("q1", dict(good, tau_hat=tau ** 2))
    assert not bad.passed and "looks like a variance, not a standard deviation" in repr(bad)
    unanswered = grader.check("q2", dict(good, icc=...))
    assert "still `...`" in repr(unanswered)


# --- grade --------------------------------------------------------------------------------------------
def _student_version(built):
    return json.loads((built / "student" / f"{EXERCISE}.ipynb").read_text())


def _with_cell(nb, source):
    nb = copy.deepcopy(nb)
    nb["cells"].append({"cell_type": "code", "execution_count": None, "id": "attack", "metadata": {},
                        "outputs": [], "source": source})
    return nb


def _checkout_digest():
    """A hash of every file of the checkout a submission could want to change."""
    h = hashlib.sha256()
    for top in ("mlmkit", "tests", "exercises", "tools"):
        for p in sorted((ROOT / top).rglob("*")):
            if p.is_file() and "__pycache__" not in p.parts and "dist" not in p.parts:
                h.update(str(p).encode() + p.read_bytes())
    return h.hexdigest()


# Each attack is one extra cell in a blank student notebook (issue 14's table).  OUT is the grades folder.
ATTACKS = {
    "reads_solutions": f'''
import glob, json, os, mlmkit
roots = [os.path.dirname(os.path.dirname(mlmkit.__file__)), {str(ROOT)!r}, os.getcwd()]
for root in roots:
    for path in glob.glob(root + "/exercises/{EXERCISE}.ipynb") + glob.glob(root + "/tests/*.py"):
        try:
            nb = json.load(open(path))
        except Exception:
            continue
        for cell in nb.get("cells", []):
            src = "".join(cell["source"])
            if cell["cell_type"] == "code" and "SOLUTION" in src:
                try:
                    exec(src)
                except Exception:
                    pass
''',
    "rewrites_grades": '''
import subprocess, sys
script = "import time, pathlib; time.sleep(3); pathlib.Path(OUT, 'grades.csv').write_text('mallory,all,99')"
for path in (OUT + "/grades.csv", OUT + "/summary.csv"):
    try:
        open(path, "w").write("student,exercise,points\\nmallory,{ex},11\\n")
    except OSError:
        pass
subprocess.Popen([sys.executable, "-c", "OUT = %r; " % OUT + script], start_new_session=True)
''',
    "patches_checkout": f'''
import mlmkit, os
for path in (os.path.join(os.path.dirname(mlmkit.__file__), "checks.py"), {str(ROOT / "mlmkit" / "checks.py")!r}):
    try:
        open(path, "a").write("\\ndef close(*a, **k):\\n    raise AssertionError('sabotaged')\\n")
    except OSError:
        pass
''',
    "kills_parent": '''
import os, signal
for pid in (os.getppid(), 1):
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
''',
    "holds_stdout": '''
import os, subprocess
fds = tuple(int(f) for f in os.listdir("/proc/self/fd") if int(f) > 2)
subprocess.Popen(["setsid", "sleep", "infinity"], pass_fds=fds, stdout=1, stderr=2)
''',
    "patches_otter": '''
try:
    from otter.test_files import exception_test as e
    def run(self, env):
        self.test_case_results = []
    e.ExceptionTestFile.run = run
    e.ExceptionTestFile.score = property(lambda self: 11.0)
except Exception:
    pass
''',
    "noop_checks": '''
from mlmkit import checks
for name in dir(checks):
    if not name.startswith("_") and callable(getattr(checks, name)):
        setattr(checks, name, lambda *a, **k: a[0] if a else None)
''',
    "eq_always_true": '''
class Anything(float):
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    __hash__ = float.__hash__
    def __lt__(self, other): return False
    def __gt__(self, other): return False
    def __abs__(self): return self
    def __sub__(self, other): return Anything(0.0)
    __rsub__ = __sub__
for name in ("phi_hat", "tau_hat", "sigma_hat", "icc", "sk_flat", "lam_sk", "sk_ml", "lam_russia",
             "most_moved", "negative"):
    globals()[name] = Anything(1.0)
''',
}


@pytest.fixture(scope="module")
def graded(built, tmp_path_factory):
    subs = tmp_path_factory.mktemp("submissions")
    out = tmp_path_factory.mktemp("grading-output")
    solution = json.loads(_solution(built).read_text())
    blank = _student_version(built)
    for student in ("alice", "bob", "carol", "dave", "erin", "frank", "blank", "eve", "mal_deep", *ATTACKS):
        (subs / student).mkdir()
    # alice hands in the solution, renamed as people do
    (subs / "alice" / f"{EXERCISE} (1).ipynb").write_text(json.dumps(solution))
    # bob fits by ML, builds the ICC from standard deviations and picks a wrong option
    bob = copy.deepcopy(solution)
    _edit(bob, 'mk.lmer("alcohol ~ 1 + (1 | country)", alcohol)',
          'mk.lmer("alcohol ~ 1 + (1 | country)", alcohol, REML=False)')
    _edit(bob, 'icc = tau_hat ** 2 / (tau_hat ** 2 + sigma_hat ** 2)', 'icc = tau_hat / (tau_hat + sigma_hat)')
    _edit(bob, 'negative = "a"', 'negative = "b"')
    (subs / "bob" / f"{EXERCISE}.ipynb").write_text(json.dumps(bob))
    # carol's notebook breaks in its first cell, so nothing after it works
    carol = copy.deepcopy(solution)
    _edit(carol, "import mlmkit as mk", "import mlmkit as mk\nthis line is not python")
    (subs / "carol" / f"{EXERCISE}.ipynb").write_text(json.dumps(carol))
    # dave uploads a PDF under the notebook's name; erin a notebook without cells; frank an empty file
    (subs / "dave" / f"{EXERCISE}.ipynb").write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3 not a notebook")
    erin = copy.deepcopy(solution)
    erin["cells"] = []
    (subs / "erin" / f"{EXERCISE}.ipynb").write_text(json.dumps(erin))
    (subs / "frank" / f"{EXERCISE}.ipynb").write_bytes(b"")
    (subs / "blank" / f"{EXERCISE}.ipynb").write_text(json.dumps(blank))
    # eve links to alice's notebook; mal_deep hands in a notebook that is "[" * 100000
    (subs / "eve" / f"{EXERCISE}.ipynb").symlink_to(subs / "alice" / f"{EXERCISE} (1).ipynb")
    (subs / "mal_deep" / f"{EXERCISE}.ipynb").write_text("[" * 100_000)
    for name, code in ATTACKS.items():
        code = f"OUT = {str(out)!r}\n" + code.replace("{ex}", EXERCISE)
        (subs / name / f"{EXERCISE}.ipynb").write_text(json.dumps(_with_cell(blank, code)))
    before = _checkout_digest()
    timeout, jobs = 60, 2
    start = time.monotonic()
    grade_tool.grade(subs, out=out, bundles=built / "autograder", timeout=timeout, jobs=jobs)
    elapsed = time.monotonic() - start
    grades = (out / "grades.csv").read_bytes()
    time.sleep(5)                      # a detached writer would strike now
    return dict(rows={r["student"]: r for r in _read(out / "grades.csv")}, questions=_read(out / "questions.csv"),
                summary={r["student"]: r for r in _read(out / "summary.csv")}, out=out, grades=grades,
                before=before, after=_checkout_digest(), elapsed=elapsed, n=len(list(subs.iterdir())),
                timeout=timeout, jobs=jobs)


def _read(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def _questions_of(graded, student):
    mine = {r["question"]: r for r in graded["questions"] if r["student"] == student}
    assert sorted(mine) == ["q1", "q2", "q3", "q4", "q5"], mine
    return mine


def test_one_row_per_submission(graded):
    rows = graded["rows"]
    assert len(rows) == graded["n"] == len(_read(graded["out"] / "grades.csv"))
    assert list(next(iter(rows.values()))) == ["student", "exercise", "points", "max_points", "status", "message",
                                                "questions"]
    assert all(r["exercise"] == EXERCISE and float(r["max_points"]) == 11 for r in rows.values())


def test_solution_gets_full_marks(graded):
    alice = graded["rows"]["alice"]
    assert float(alice["points"]) == 11.0 and alice["status"] == "graded"
    assert alice["message"] == "1 written answer(s) to mark by hand (written_answers.csv)"
    assert alice["questions"] == "q1=3/3; q2=2/2; q3=3/3; q4=1/1; q5=2/2"
    assert float(graded["summary"]["alice"]["percent"]) == 100.0


def test_written_answers_are_collected_for_the_instructor(graded):
    rows = {r["student"]: r for r in _read(graded["out"] / "written_answers.csv")}
    assert rows["alice"]["question"] == "1" and "little shrinkage here" in rows["alice"]["prompt"]
    assert "**Model answer.**" in rows["alice"]["answer"]          # alice handed in the master's text
    assert rows["blank"]["answer"] == "_Type your answer here, replacing this text._"
    assert "mallory" not in rows and "eve" not in rows              # refused files yield no answers


def test_wrong_submission_gets_partial_marks_and_teaching_messages(graded):
    mine = _questions_of(graded, "bob")
    total = sum(float(r["points"]) for r in mine.values())
    assert 0 < total < 11 and float(graded["rows"]["bob"]["points"]) == pytest.approx(total)
    assert float(mine["q1"]["points"]) == 0
    assert "was fitted by maximum likelihood (REML=False)" in mine["q1"]["message"]
    assert float(mine["q2"]["points"]) == 0
    assert "uses standard deviations; the ICC is a ratio of variances" in mine["q2"]["message"]
    assert float(mine["q4"]["points"]) == 1          # what bob got right still counts


def test_broken_notebook_is_graded_zero_with_the_reason(graded):
    carol = graded["rows"]["carol"]
    assert float(carol["points"]) == 0 and "SyntaxError" in carol["message"]
    assert all("has no value" in r["message"] for r in _questions_of(graded, "carol").values())


@pytest.mark.parametrize("student, status, reason", [
    ("dave", "not gradable", "not a notebook"), ("erin", "not gradable", "empty notebook"),
    ("frank", "not gradable", "empty file"), ("eve", "refused", "symbolic link"),
    ("mal_deep", "not gradable", "nested too deeply"),
])
def test_files_that_are_not_gradable_notebooks_get_zero_with_the_reason(graded, student, status, reason):
    row = graded["rows"][student]
    assert float(row["points"]) == 0 and row["status"] == status and reason in row["message"]


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_attack_scores_no_more_than_a_blank_notebook(graded, attack):
    assert float(graded["rows"]["blank"]["points"]) == 0
    assert float(graded["rows"][attack]["points"]) <= float(graded["rows"]["blank"]["points"]), graded["rows"][attack]


def test_no_submission_changes_the_checkout_or_the_grades(graded):
    assert graded["after"] == graded["before"]
    assert (graded["out"] / "grades.csv").read_bytes() == graded["grades"]       # nothing wrote after the run
    assert b"mallory" not in graded["grades"] and b"99" not in graded["grades"]


def test_the_run_finishes_within_its_time_budget(graded):
    budget = graded["n"] * graded["timeout"] / graded["jobs"] + 60
    assert graded["elapsed"] < budget
    # the stdout holder cannot keep its notebook running past the end of the sandbox
    assert graded["rows"]["holds_stdout"]["status"] in ("graded", "crashed")


def test_hanging_notebook_is_stopped_at_the_time_limit(built, tmp_path):
    nb = _with_cell(_student_version(built), "import subprocess, time\n"
                    "subprocess.Popen(['setsid', 'sleep', 'infinity'])\ntime.sleep(3600)")
    (tmp_path / "subs").mkdir()
    (tmp_path / "subs" / "gina.ipynb").write_text(json.dumps(nb))
    start = time.monotonic()
    grade_tool.grade(tmp_path / "subs", out=tmp_path / "out", bundles=built / "autograder", timeout=8)
    assert time.monotonic() - start < 40
    (row,) = _read(tmp_path / "out" / "grades.csv")
    assert row["student"] == "gina" and float(row["points"]) == 0                  # flat folder: student = file name
    assert row["status"] == "timed out" and "timed out after 8 s" in row["message"]


def test_grading_refuses_to_run_without_a_sandbox(built, tmp_path, monkeypatch):
    monkeypatch.setattr(grade_tool.sandbox, "bwrap_path", lambda: None)
    (tmp_path / "subs").mkdir()
    with pytest.raises(SystemExit, match="install bubblewrap.*--unsafe-no-sandbox"):
        grade_tool.grade(tmp_path / "subs", out=tmp_path / "out", bundles=built / "autograder")


def test_grades_are_not_written_into_the_submissions(built, tmp_path):
    (tmp_path / "subs").mkdir()
    with pytest.raises(SystemExit, match="outside the submissions folder"):
        grade_tool.grade(tmp_path / "subs", out=tmp_path / "subs" / "out", bundles=built / "autograder")


# --- plain answers (no sandbox needed) ---------------------------------------------------------------------------
@pytest.mark.parametrize("text", [
    "not json", "[" * 5000, '{"answers": 3}', '{"answers": {"x": {"__ndarray__": [1, 2], "dtype": "<f8", "shape": [3]}}}',
    '{"answers": {"x": {"__model__": "evil", "fields": {}}}}', '{"answers": {"x": {"__pickle__": "gASV"}}}',
    '{"answers": {"x": {"__ndarray__": [1], "dtype": "|O8", "shape": [1]}}}',
])
def test_forged_answers_are_refused(text):
    from mlmkit import plain
    with pytest.raises(plain.PlainDataError):
        plain.loads(text)


# --- finding submissions (no grading needed) ----------------------------------------------------------------
def _nb(name=None):
    meta = {"otter": {"assignment_name": name}} if name else {}
    return json.dumps({"cells": [], "metadata": meta, "nbformat": 4, "nbformat_minor": 5})


def test_discover_reads_exercise_from_metadata_file_name_or_option(tmp_path):
    known = ["lesson01_variance_components", "lesson05_alcohol"]
    (tmp_path / "ann").mkdir()
    (tmp_path / "ann" / "homework.ipynb").write_text(_nb("lesson05_alcohol"))            # metadata
    (tmp_path / "ann" / "lesson01_variance_components.ipynb").write_text(_nb())          # file name
    (tmp_path / "ann" / "notes.txt").write_text("not a submission")                      # ignored
    (tmp_path / "ann" / ".ipynb_checkpoints").mkdir()
    (tmp_path / "ann" / ".ipynb_checkpoints" / "lesson05_alcohol-checkpoint.ipynb").write_text(_nb())
    (tmp_path / "ben_lesson05_alcohol.ipynb").write_text(_nb())                           # flat, by name
    (tmp_path / "cat.ipynb").write_text(_nb())                                            # flat, unknown
    found = {(s.student, s.exercise, s.path.name) for s in grade_tool.discover(tmp_path, known)}
    assert found == {("ann", "lesson05_alcohol", "homework.ipynb"),
                     ("ann", "lesson01_variance_components", "lesson01_variance_components.ipynb"),
                     ("ben", "lesson05_alcohol", "ben_lesson05_alcohol.ipynb"),
                     ("cat", None, "cat.ipynb")}
    flat = {s.student: s.exercise for s in grade_tool.discover(tmp_path, known, exercise="lesson05_alcohol")}
    assert flat["cat"] == "lesson05_alcohol"


def test_discover_keeps_one_copy_per_exercise(tmp_path):
    (tmp_path / "dan").mkdir()
    (tmp_path / "dan" / "lesson05_alcohol-Copy1.ipynb").write_text(_nb())
    (tmp_path / "dan" / "lesson05_alcohol.ipynb").write_text(_nb())
    (subs,) = grade_tool.discover(tmp_path, ["lesson05_alcohol"])
    assert subs.path.name == "lesson05_alcohol.ipynb"
    assert [p.name for p in subs.others] == ["lesson05_alcohol-Copy1.ipynb"]


def test_unknown_exercise_and_missing_submissions_are_reported(built, tmp_path):
    for student in ("hal", "ivy"):
        (tmp_path / "subs" / student).mkdir(parents=True)
    (tmp_path / "subs" / "hal" / "mystery.ipynb").write_text(_nb())
    (tmp_path / "subs" / "ivy" / f"{EXERCISE}.ipynb").write_text(_nb())
    grade_tool.grade(tmp_path / "subs", out=tmp_path / "out", bundles=built / "autograder")
    hal = sorted((r for r in _read(tmp_path / "out" / "grades.csv") if r["student"] == "hal"),
                 key=lambda r: r["exercise"])
    assert hal[0]["exercise"] == "" and "cannot tell which exercise mystery.ipynb is" in hal[0]["message"]
    assert (hal[1]["exercise"], hal[1]["status"], hal[1]["message"]) == (EXERCISE, "missing", "no submission found")
    summary = {r["student"]: r for r in _read(tmp_path / "out" / "summary.csv")}
    assert float(summary["hal"]["max_total"]) == float(summary["ivy"]["max_total"]) == 11


def test_one_requested_exercise_names_unlabelled_notebooks(built, tmp_path):
    (tmp_path / "subs" / "hal").mkdir(parents=True)
    (tmp_path / "subs" / "hal" / "mystery.ipynb").write_text(_nb())
    grade_tool.grade(tmp_path / "subs", out=tmp_path / "out", exercises=[EXERCISE],
                     bundles=built / "autograder")
    (row,) = _read(tmp_path / "out" / "grades.csv")
    assert row["exercise"] == EXERCISE and float(row["points"]) == 0
    assert row["message"] == "empty notebook: no code to grade"


@pytest.mark.parametrize("hub, expected", [
    ("https://hub.example.edu/", "https://hub.example.edu/hub/user-redirect/git-pull?repo=https%3A%2F%2F"
     "github.com%2Forg%2Fcourse&branch=main&urlpath=lab%2Ftree%2Fcourse%2Fexercises%2Fex.ipynb"),
])
def test_nbgitpuller_link(hub, expected):
    assert grade_tool.nbgitpuller_link(hub, "https://github.com/org/course", "exercises/ex.ipynb") == expected


def test_binder_link_pulls_the_content_into_the_mlmkit_environment():
    link = grade_tool.binder_link("https://github.com/mlmkit-org/mlmkit", "https://github.com/org/course.git",
                                  "exercises/ex.ipynb")
    assert link.startswith("https://mybinder.org/v2/gh/mlmkit-org/mlmkit/main?urlpath=git-pull%3Frepo%3D")
    from urllib.parse import parse_qs, unquote, urlparse
    pull = unquote(parse_qs(urlparse(link).query)["urlpath"][0])
    q = parse_qs(urlparse(pull).query)
    assert q["repo"] == ["https://github.com/org/course.git"] and q["urlpath"] == ["lab/tree/course/exercises/ex.ipynb"]


# --- every master notebook (structure only; building and grading all of them is slow) -------------------------
MASTERS = sorted((ROOT / "exercises").glob("lesson[0-9][0-9]_*.ipynb"))


def test_an_exercise_for_lessons_1_to_7_9_and_10():
    assert sorted({int(p.name[6:8]) for p in MASTERS}) == [1, 2, 3, 4, 5, 6, 7, 9, 10]


def _questions(path):
    """(question name, manual?, [(hidden, points, test source)]) for each question of a master notebook."""
    import ast
    import yaml
    out, current, in_tests = [], None, False
    for cell in _cells(path):
        src = "".join(cell["source"])
        if cell["cell_type"] == "raw" and src.startswith("# BEGIN QUESTION"):
            config = yaml.safe_load(src.split("\n", 1)[1])
            current = (config["name"], bool(config.get("manual")), [])
            out.append(current)
        elif cell["cell_type"] == "raw" and src.startswith("# BEGIN TESTS"):
            in_tests = True
        elif cell["cell_type"] == "raw" and src.startswith("# END TESTS"):
            in_tests = False
        elif in_tests:
            config = yaml.safe_load(src.split('"""')[1].replace("# BEGIN TEST CONFIG", ""))
            body = src.split('""" # END TEST CONFIG', 1)[1]
            tree = ast.parse(body)
            assert len(tree.body) == 1 and isinstance(tree.body[0], ast.FunctionDef), (path.name, body[:80])
            current[2].append((bool(config.get("hidden")), config["points"], body))
    return out


@pytest.mark.parametrize("master", MASTERS, ids=lambda p: p.stem)
def test_master_notebook_structure(master):
    import yaml
    cells = _cells(master)
    config = yaml.safe_load("".join(cells[0]["source"]).split("\n", 1)[1])
    assert config["name"] == master.stem and config["init_cell"] is False
    assert config["tests"] == {"ok_format": False}
    assert f'grader = mk.checks.Notebook("{master.stem}.ipynb")' in _code(master)
    questions = _questions(master)
    assert [q for q, _, _ in questions] == [f"q{i}" for i in range(1, len(questions) + 1)]
    assert any(manual for _, manual, _ in questions), "no written (hand-marked) question"
    for name, manual, tests in questions:
        if manual:
            assert not tests, f"{name}: a hand-marked question has no tests"
            continue
        assert any(not h for h, _, _ in tests), f"{name}: no public test (learners get no feedback)"
        assert any(h and p > 0 for h, p, _ in tests), f"{name}: no hidden test worth points"
        assert "import otter" not in "".join(b for _, _, b in tests)
    written = "".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    assert written.count("**Model answer") == written.count("**Marking guide") == \
        sum(manual for _, manual, _ in questions)


def test_inside_the_sandbox_there_is_no_privilege_network_or_checkout(tmp_path):
    sandbox = grade_tool.sandbox
    if sandbox.bwrap_path() is None:
        pytest.skip("bubblewrap is not installed (apt-get install bubblewrap)")
    package = sandbox.package_copy(tmp_path)
    probe = f'''
import os, socket, subprocess
status = {{l.split(":")[0]: l.split()[1] for l in open("/proc/self/status") if l.startswith(("CapEff", "Uid"))}}
mount = subprocess.run(["mount", "-o", "remount,rw", "/usr"], capture_output=True).returncode
try:
    socket.create_connection(("1.1.1.1", 53), timeout=3)
    net = True
except OSError:
    net = False
pids = [p for p in os.listdir("/proc") if p.isdigit()]
icc = dict(cap=status["CapEff"], uid=status["Uid"], mount=mount, net=net, npids=len(pids),
           checkout=os.path.exists({str(ROOT / "tests")!r}), written=os.access("/usr", os.W_OK))
'''
    job = {"exercise": EXERCISE, "names": ["icc"],
           "notebook": {"cells": [{"cell_type": "code", "source": probe, "metadata": {}}], "metadata": {}}}
    run = sandbox.run_job(job, package, timeout=60)
    from mlmkit import plain
    seen = plain.loads(run.stdout.decode().split("\n", 1)[1])["icc"]
    assert seen["cap"] == "0000000000000000" and seen["uid"] == "65534"
    assert seen["mount"] != 0 and seen["net"] is False and seen["written"] is False
    assert seen["checkout"] is False and seen["npids"] <= 3
