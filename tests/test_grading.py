"""The instructor workflow end to end: build an exercise, grade a folder of submissions.

Needs the ``grading`` extra (otter-grader); skipped with that reason otherwise.  One exercise is
built and six submissions are graded: the solution (full marks), a wrong one (partial marks with the
teaching messages), a broken one, an empty notebook, a zero-byte file and a file that is not a notebook
(all zero, with the reason), plus a notebook that hangs (killed at the time limit).
"""
import copy
import csv
import importlib.util
import json
import shutil
import sys
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
@pytest.fixture(scope="module")
def graded(built, tmp_path_factory):
    subs = tmp_path_factory.mktemp("submissions")
    solution = json.loads(_solution(built).read_text())
    for student in ("alice", "bob", "carol", "dave", "erin", "frank"):
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
    out = tmp_path_factory.mktemp("grading-output")
    grade_tool.grade(subs, out=out, bundles=built / "autograder", timeout=240, jobs=2)
    with open(out / "grades.csv") as f:
        rows = list(csv.DictReader(f))
    with open(out / "summary.csv") as f:
        summary = {r["student"]: r for r in csv.DictReader(f)}
    return rows, summary


def _of(rows, student):
    mine = [r for r in rows if r["student"] == student]
    assert [r["question"] for r in mine] == ["q1", "q2", "q3", "q4", "q5"], mine
    assert all(r["exercise"] == EXERCISE for r in mine)
    return mine


def test_csv_columns(graded):
    rows, _ = graded
    assert list(rows[0]) == ["student", "exercise", "question", "points", "max_points", "message"]
    assert sorted({r["student"] for r in rows}) == ["alice", "bob", "carol", "dave", "erin", "frank"]


def test_solution_gets_full_marks(graded):
    rows, summary = graded
    for r in _of(rows, "alice"):
        assert float(r["points"]) == float(r["max_points"]) > 0, r
        assert r["message"] == ""
    assert float(summary["alice"]["total"]) == float(summary["alice"]["max_total"]) == 11.0
    assert float(summary["alice"]["percent"]) == 100.0


def test_wrong_submission_gets_partial_marks_and_teaching_messages(graded):
    rows, summary = graded
    mine = {r["question"]: r for r in _of(rows, "bob")}
    total = sum(float(r["points"]) for r in mine.values())
    assert 0 < total < 11
    assert float(summary["bob"]["total"]) == pytest.approx(total)
    assert float(mine["q1"]["points"]) == 0
    assert "was fitted by maximum likelihood (REML=False)" in mine["q1"]["message"]
    assert float(mine["q2"]["points"]) == 0
    assert "uses standard deviations; the ICC is a ratio of variances" in mine["q2"]["message"]
    assert float(mine["q5"]["points"]) == 1
    assert "Consumption cannot be negative" in mine["q5"]["message"]
    assert float(mine["q4"]["points"]) == 1          # what bob got right still counts


def test_broken_notebook_is_graded_zero_with_the_reason(graded):
    rows, summary = graded
    for r in _of(rows, "carol"):
        assert float(r["points"]) == 0 and float(r["max_points"]) > 0
        assert "has no value" in r["message"] and "SyntaxError" in r["message"]
    assert float(summary["carol"]["total"]) == 0 and float(summary["carol"]["max_total"]) == 11


@pytest.mark.parametrize("student, reason", [
    ("dave", "not a notebook"), ("erin", "empty notebook"), ("frank", "empty file"),
])
def test_files_that_are_not_gradable_notebooks_get_zero(graded, student, reason):
    rows, summary = graded
    for r in _of(rows, student):
        assert float(r["points"]) == 0 and reason in r["message"]
    assert float(summary[student]["max_total"]) == 11


def test_hanging_notebook_is_stopped_at_the_time_limit(built, tmp_path):
    nb = json.loads(_solution(built).read_text())
    _edit(nb, "import mlmkit as mk", "import time\ntime.sleep(3600)\nimport mlmkit as mk")
    (tmp_path / "subs").mkdir()
    (tmp_path / "subs" / "gina.ipynb").write_text(json.dumps(nb))
    grade_tool.grade(tmp_path / "subs", out=tmp_path / "out", bundles=built / "autograder", timeout=8)
    with open(tmp_path / "out" / "grades.csv") as f:
        rows = list(csv.DictReader(f))
    assert {r["student"] for r in rows} == {"gina"}                  # flat folder: student = file name
    assert all(float(r["points"]) == 0 and "timed out after 8 s" in r["message"] for r in rows)


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


def _read(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_unknown_exercise_and_missing_submissions_are_reported(built, tmp_path):
    for student in ("hal", "ivy"):
        (tmp_path / "subs" / student).mkdir(parents=True)
    (tmp_path / "subs" / "hal" / "mystery.ipynb").write_text(_nb())
    (tmp_path / "subs" / "ivy" / f"{EXERCISE}.ipynb").write_text(_nb())
    grade_tool.grade(tmp_path / "subs", out=tmp_path / "out", bundles=built / "autograder")
    hal = [r for r in _read(tmp_path / "out" / "grades.csv") if r["student"] == "hal"]
    assert hal[0]["exercise"] == "" and "cannot tell which exercise mystery.ipynb is" in hal[0]["message"]
    assert [(r["question"], r["message"]) for r in hal[1:]] == [(q, "no submission found") for q in
                                                                 ("q1", "q2", "q3", "q4", "q5")]
    summary = {r["student"]: r for r in _read(tmp_path / "out" / "summary.csv")}
    assert float(summary["hal"]["max_total"]) == float(summary["ivy"]["max_total"]) == 11


def test_one_requested_exercise_names_unlabelled_notebooks(built, tmp_path):
    (tmp_path / "subs" / "hal").mkdir(parents=True)
    (tmp_path / "subs" / "hal" / "mystery.ipynb").write_text(_nb())
    grade_tool.grade(tmp_path / "subs", out=tmp_path / "out", exercises=[EXERCISE],
                     bundles=built / "autograder")
    rows = _read(tmp_path / "out" / "grades.csv")
    assert [r["question"] for r in rows] == ["q1", "q2", "q3", "q4", "q5"]
    assert all(float(r["points"]) == 0 and r["message"] == "empty notebook: no code to grade" for r in rows)


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


def test_an_exercise_for_lessons_1_to_7_and_9():
    assert sorted({int(p.name[6:8]) for p in MASTERS}) == [1, 2, 3, 4, 5, 6, 7, 9]


def _questions(path):
    """(question name, [(hidden, test source)]) for each question of a master notebook."""
    import ast
    import yaml
    out, current, in_tests = [], None, False
    for cell in _cells(path):
        src = "".join(cell["source"])
        if cell["cell_type"] == "raw" and src.startswith("# BEGIN QUESTION"):
            current = (yaml.safe_load(src.split("\n", 1)[1])["name"], [])
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
            current[1].append((bool(config.get("hidden")), config["points"], body))
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
    assert [q for q, _ in questions] == [f"q{i}" for i in range(1, len(questions) + 1)]
    for name, tests in questions:
        assert any(not h for h, _, _ in tests), f"{name}: no public test (learners get no feedback)"
        assert any(h and p > 0 for h, p, _ in tests), f"{name}: no hidden test worth points"
        assert "import otter" not in "".join(b for _, _, b in tests)
