"""mlmkit.checks: accepted answers pass, wrong ones fail with the message that names the mistake."""
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlmkit import checks
from mlmkit.lmm import lmer

DATA = Path(__file__).parent / "data"


# --- number -------------------------------------------------------------------------------------
@pytest.mark.parametrize("answer, value", [
    (3, 3.0), (2.5, 2.5), (np.float64(1.5), 1.5), (np.int32(4), 4.0),
    (np.array([7.0]), 7.0), (pd.Series([0.25], index=["X"]), 0.25), (pd.DataFrame({"a": [1.0]}), 1.0),
])
def test_number_accepts_single_numbers(answer, value):
    assert checks.number(answer, "x") == value


@pytest.mark.parametrize("answer, fragment", [
    (None, "has no value"),
    (Ellipsis, "still `...`"),
    (True, "truth value"),
    ("3.1", "the text '3.1'"),
    (np.array([1.0, 2.0]), "holds 2 values"),
    (pd.Series([1.0, 2.0, 3.0]), "holds 3 values"),
    (float("nan"), "NaN"),
    (float("inf"), "infinite"),
    (object(), "not a number"),
])
def test_number_rejects_with_reason(answer, fragment):
    with pytest.raises(AssertionError, match="`x`") as err:
        checks.number(answer, "x")
    assert fragment in str(err.value)


# --- close --------------------------------------------------------------------------------------
@pytest.mark.parametrize("answer, expected, kw", [
    (5.93, 5.9296575, dict(rtol=1e-3)),
    (5.9296575, 5.9296575, dict(rtol=0)),
    (0.0005, 0.0, dict(atol=1e-3)),
    (-0.81, -0.8105, dict(rtol=1e-3)),
    (1.0, 1.0 + 1e-7, {}),
])
def test_close_accepts_within_tolerance(answer, expected, kw):
    assert checks.close(answer, expected, **kw) == pytest.approx(answer)


@pytest.mark.parametrize("answer, expected, kw, fragment", [
    # sd reported for a variance, and the other way round
    (math.sqrt(5.93), 5.93, dict(kind="variance"), "standard deviation, not a variance: square it"),
    (5.93 ** 2, 5.93, dict(kind="sd"), "variance, not a standard deviation"),
    # percent vs proportion, the complement, and log-odds for a probability
    (95.2, 0.952, dict(kind="proportion"), "looks like a percentage"),
    (1 - 0.952, 0.952, dict(kind="proportion"), "one minus the right answer"),
    (math.log(0.2 / 0.8), 0.2, dict(kind="probability"), "log-odds"),
    (0.2, math.log(0.2 / 0.8), dict(kind="logodds"), "looks like a probability"),
    # sign errors, for any kind
    (-2.2, 2.2, {}, "wrong sign"),
    (0.81, -0.81, dict(kind="correlation"), "wrong sign"),
    # caller's hints: the ML estimate when REML was asked for
    (4.744, 5.023, dict(hints={4.744: "is the ML estimate: fit with REML (the default)."}), "ML estimate"),
    (4.744, 5.023, dict(hints=[(4.744, "is the ML estimate.")]), "ML estimate"),
    # otherwise say which way it is off
    (6.5, 5.93, {}, "too large: expected 5.93"),
    (5.0, 5.93, {}, "too small"),
])
def test_close_names_the_mistake(answer, expected, kw, fragment):
    with pytest.raises(AssertionError) as err:
        checks.close(answer, expected, rtol=1e-3, name="v", **kw)
    assert fragment in str(err.value)
    assert str(err.value).startswith("`v` = ")


def test_close_hints_do_not_fire_when_the_mistake_gives_the_right_number():
    # sqrt(1.0) == 1.0: a variance of 1 cannot be told from its sd, so the generic message follows
    with pytest.raises(AssertionError, match="too large"):
        checks.close(1.2, 1.0, kind="variance")


def test_close_can_hide_the_expected_value():
    with pytest.raises(AssertionError) as err:
        checks.close(6.5, 5.93, reveal=False)
    assert "5.93" not in str(err.value)


def test_close_shows_enough_digits_for_the_tolerance():
    with pytest.raises(AssertionError) as err:
        checks.close(251.41, 251.405, rtol=1e-6)
    assert "251.41" in str(err.value) and "251.405" in str(err.value)


@pytest.mark.parametrize("kw", [dict(kind="varience"), dict(rtol=-1)])
def test_close_rejects_bad_arguments(kw):
    with pytest.raises(ValueError):
        checks.close(1.0, 1.0, **kw)


@pytest.mark.parametrize("expected", [float("nan"), [1.0, 2.0], None])
def test_close_rejects_a_bad_expected_value(expected):
    with pytest.raises(ValueError):
        checks.close(1.0, expected)


# --- proportion, between, integer, choice, boolean ---------------------------------------------------
@pytest.mark.parametrize("answer, fragment", [(95.0, "percentage"), (-0.1, "between 0 and 1"),
                                              (150.0, "between 0 and 1")])
def test_proportion(answer, fragment):
    assert checks.proportion(0.3) == 0.3
    with pytest.raises(AssertionError, match=fragment):
        checks.proportion(answer)


def test_between():
    assert checks.between(3, 0, 5) == 3
    with pytest.raises(AssertionError, match=r"outside \[0, 1\]\. a correlation"):
        checks.between(1.5, 0, 1, why="a correlation lies in [-1, 1].")


@pytest.mark.parametrize("answer, kw, fragment", [
    (12.5, {}, "whole number"), (10, dict(expected=12), "too small"), (14, dict(expected=12), "too large"),
    (2, dict(minimum=3), "at least 3"),
])
def test_integer(answer, kw, fragment):
    assert checks.integer(12.0, expected=12) == 12
    with pytest.raises(AssertionError, match=fragment):
        checks.integer(answer, **kw)


@pytest.mark.parametrize("answer, fragment", [(None, "has no value"), (..., "still `...`")])
def test_defined(answer, fragment):
    df = pd.DataFrame({"y": [1.0]})
    assert checks.defined(df, "df") is df
    with pytest.raises(AssertionError, match=fragment):
        checks.defined(answer, "df")


def test_choice_accepts_a_label_given_as_a_number():
    assert checks.choice(70, ["1", "70"], expected="70") == "70"
    assert checks.choice(np.int64(1), ["1", "70"]) == "1"
    with pytest.raises(AssertionError, match="not one of the options"):
        checks.choice(True, ["1", "70"])


def test_choice():
    opts = ["REML", "ML"]
    assert checks.choice(" reml ", opts, expected="REML") == "REML"
    with pytest.raises(AssertionError, match="not one of the options"):
        checks.choice("OLS", opts)
    with pytest.raises(AssertionError, match="not the right choice. ML compares"):
        checks.choice("ml", opts, expected="REML", explain={"ML": "ML compares..."})
    with pytest.raises(AssertionError, match="still"):
        checks.choice(..., opts)


@pytest.mark.parametrize("answer, fragment", [("True", "without quotes"), (1, "True or False"),
                                              (False, "not right. because")])
def test_boolean(answer, fragment):
    assert checks.boolean(np.bool_(True), expected=True) is True
    with pytest.raises(AssertionError, match=fragment):
        checks.boolean(answer, expected=True, explain="because")


# --- model --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sleep():
    return pd.read_csv(DATA / "sleepstudy.csv")


@pytest.fixture(scope="module")
def fits(sleep):
    f = {
        "full": lmer("Reaction ~ Days + (Days | Subject)", sleep),
        "diag": lmer("Reaction ~ Days + (Days || Subject)", sleep),
        "int": lmer("Reaction ~ Days + (1 | Subject)", sleep),
        "slope": lmer("Reaction ~ Days + (0 + Days | Subject)", sleep),
        "ml": lmer("Reaction ~ Days + (Days | Subject)", sleep, REML=False),
        "nofix": lmer("Reaction ~ 1 + (Days | Subject)", sleep),
    }
    return f


FULL = dict(fixed=["(Intercept)", "Days"], random={"Subject": ["(Intercept)", "Days"]})


@pytest.mark.parametrize("fit, kw", [
    ("full", dict(FULL, correlated=True, REML=True, nobs=180, kind="lmer")),
    ("diag", dict(FULL, correlated=False)),
    ("int", dict(fixed=["(Intercept)", "Days"], random={"Subject": ["(Intercept)"]})),
    ("slope", dict(random={"Subject": ["Days"]})),
    ("ml", dict(FULL, REML=False)),
])
def test_model_accepts_the_asked_structure(fits, fit, kw):
    assert checks.model(fits[fit], **kw) is fits[fit]


@pytest.mark.parametrize("fit, kw, fragment", [
    ("full", dict(random={"Subject": ["Days"]}), "`(x | Subject)` includes an intercept implicitly"),
    ("slope", dict(random={"Subject": ["(Intercept)", "Days"]}), "no random intercept"),
    ("int", dict(random={"Subject": ["(Intercept)", "Days"]}), "no random slope for `Days`"),
    ("full", dict(random={"Subject": ["(Intercept)"]}), "random slope for `Days` by `Subject` that"),
    ("full", dict(random={"Cluster": ["(Intercept)"]}), "no random effects for `Cluster`"),
    ("full", dict(FULL, correlated=False), "(Days || Subject)".replace("Days", "x")),
    ("diag", dict(FULL, correlated=True), "uncorrelated; the question asks for correlated"),
    ("ml", dict(REML=True), "maximum likelihood (REML=False)"),
    ("full", dict(REML=False), "pass REML=False"),
    ("nofix", dict(fixed=["(Intercept)", "Days"]), "no fixed effect for 'Days'"),
    ("full", dict(fixed=["(Intercept)"]), "fixed effect(s) 'Days' that"),
    ("full", dict(fixed=["Days"]), "fixed effect(s) '(Intercept)'"),
    ("full", dict(nobs=170, data_hint="Use all 180 rows."), "fitted to 180 observations, not 170"),
    ("full", dict(kind="glmer"), "needs a generalised one"),
])
def test_model_names_the_structural_mistake(fits, fit, kw, fragment):
    with pytest.raises(AssertionError) as err:
        checks.model(fits[fit], name="m", **kw)
    assert fragment in str(err.value)


def test_model_without_intercept_is_named(sleep):
    m = lmer("Reaction ~ 0 + Days + (1 | Subject)", sleep)
    with pytest.raises(AssertionError, match="no fixed intercept"):
        checks.model(m, fixed=["(Intercept)", "Days"])


@pytest.mark.parametrize("value, fragment", [(None, "has no value"), (..., "still"),
                                             ("y ~ 1 + (1 | g)", "pass the formula"),
                                             (3.0, "not a fitted mixed model")])
def test_model_rejects_non_models(value, fragment):
    with pytest.raises(AssertionError, match=fragment):
        checks.model(value)


# --- Notebook: the learners' runner of otter's exception-based tests ---------------------------------
TEST_FILE = '''from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = 2

@test_case(points=1, hidden=False)
def test_type(x):
    assert isinstance(x, int), "x should be a whole number"

@test_case(points=1, hidden=False, failure_message="Read the question again.")
def test_value(x, env):
    assert "x" in env
    assert x == 2, f"x is {x}, not 2"
'''


def _write_notebook(path, name="ex1"):
    nb = {"cells": [], "metadata": {"otter": {"OK_FORMAT": False, "assignment_name": name,
                                              "tests": {"q1": TEST_FILE}}},
          "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb))


@pytest.mark.parametrize("env, passed, fragment", [
    ({"x": 2}, True, "q1 passed! All 2 checks pass."),
    ({"x": 3}, False, "[FAIL] test_value: x is 3, not 2 (Read the question again.)"),
    ({"x": "2"}, False, "[FAIL] test_type: x should be a whole number"),
    ({}, False, "[FAIL] test_value: AssertionError (Read the question again.)"),
])
def test_notebook_runs_the_stored_tests(tmp_path, env, passed, fragment):
    _write_notebook(tmp_path / "ex1.ipynb")
    result = checks.Notebook(str(tmp_path / "ex1.ipynb")).check("q1", env)
    assert result.passed is passed
    assert fragment in repr(result)


def test_notebook_finds_a_renamed_copy(tmp_path, monkeypatch):
    _write_notebook(tmp_path / "ex1-Copy1.ipynb", name="ex1")
    _write_notebook(tmp_path / "other.ipynb", name="other")
    monkeypatch.chdir(tmp_path)
    assert checks.Notebook("ex1.ipynb").check("q1", {"x": 2}).passed


def test_notebook_reads_test_files(tmp_path, monkeypatch):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "q1.py").write_text(TEST_FILE)
    monkeypatch.chdir(tmp_path)
    results = checks.Notebook("missing.ipynb").check_all({"x": 2})
    assert [r.question for r in results] == ["q1"] and results[0].passed


def test_notebook_unknown_question(tmp_path):
    _write_notebook(tmp_path / "ex1.ipynb")
    with pytest.raises(ValueError, match="no tests for question 'q9' \\(questions: q1\\)"):
        checks.Notebook(str(tmp_path / "ex1.ipynb")).check("q9", {})


@pytest.mark.parametrize("value,printed,slack,ok", [
    (5.92966, "5.930", 0, True), (5.9304, "5.930", 0, True), (5.9306, "5.930", 0, False),
    (5.9306, "5.930", 1, True), (4011.66, "4011.7", 0, True), (-0.01799895, "-0.01799895", 0, True),
    (2.0, "2", 0, True), (2.6, "2", 0, False),
    # a rounding boundary: 1e-8 relative beyond half a unit is optimiser noise, 1e-7 is not
    (5.0184295031, "5.018429", 0, True), (5.0184296, "5.018429", 0, False),
])
def test_matches_printed(value, printed, slack, ok, capsys):
    from mlmkit.checks import matches_printed
    if ok:
        matches_printed("x", value, printed, slack=slack)
        assert capsys.readouterr().out == f"matches the tutorial: x = {printed}\n"
    else:
        with pytest.raises(AssertionError, match=f"but the tutorial printed {printed}"):
            matches_printed("x", value, printed, slack=slack)


# ---- lessons: tutorial_table and self_check -------------------------------------------------------
def test_tutorial_table_agreeing_and_explained_rows():
    t = checks.tutorial_table([("variance", 5.92966, "5.930"), ("criterion", 1763.8, "1764"),
                               ("tiny", -0.0001, "0.000"),
                               ("sd_X upper", 1.4882685, "1.4878505", "lme4's profile stops short")])
    f = t.frame
    assert list(f["ours"]) == ["5.930", "1764", "0.000", "1.4882685"]
    assert list(f["difference"]) == ["0", "0", "0", "+0.0004180"]
    assert list(f["agree?"]) == ["yes", "yes", "yes", "no (1)"]
    assert t.notes == ["(1) sd_X upper: lme4's profile stops short"]
    assert "(1) sd_X upper" in repr(t) and "<table" in t._repr_html_()


def test_tutorial_table_never_says_yes_when_digits_differ():
    # 1.67386 printed as 1.67362: the old check passed this with slack; the table must not
    t = checks.tutorial_table([("gamma00", 1.67386, "1.67362", "a flat, singular fit")])
    assert t.frame["agree?"].iloc[0] == "no (1)" and t.frame["difference"].iloc[0] == "+0.00024"


def test_tutorial_table_refuses_unexplained_or_large_differences():
    with pytest.raises(AssertionError, match="no reason is given"):
        checks.tutorial_table([("variance", 5.9306, "5.930")])
    with pytest.raises(AssertionError, match="more than 1%"):
        checks.tutorial_table([("variance", 6.1, "5.930", "an excuse")])
    with pytest.raises(ValueError, match="a row is"):
        checks.tutorial_table([("variance", 6.1, "5.930", None, 2, 9)])
    with pytest.raises(ValueError, match="a row is"):
        checks.tutorial_table([("variance", 6.1)])


def test_self_check_prints_feedback(capsys):
    checks.self_check(..., "b", "B is right because.", options=["a", "b"])
    assert capsys.readouterr().out == "Replace ... with one of 'a', 'b' and run the cell again.\n"
    checks.self_check(" B", "b", "B is right because.")
    assert capsys.readouterr().out == "Right. B is right because.\n"
    checks.self_check("a", "b", "B is right because.", wrong={"A": "a is the ML value"})
    out = capsys.readouterr().out
    assert out.startswith("Not quite: a is the ML value.") and "because" not in out
    checks.self_check(0.70, 0.625, "ICC = 5/8.")
    assert "too large" in capsys.readouterr().out
    checks.self_check(0.63, 0.625, "ICC = 5/8.")
    assert capsys.readouterr().out == "Right. ICC = 5/8.\n"


def test_tutorial_table_compares_at_fewer_decimals_when_asked():
    t = checks.tutorial_table([("sd low", 0.766172008, "0.7661714", None, 5),
                               ("sd high", 1.488268542, "1.4878505", "lme4 stops short", 5)])
    assert list(t.frame["ours"]) == ["0.76617", "1.48827"]
    assert list(t.frame["the tutorial"]) == ["0.7661714", "1.4878505"]      # the source as printed
    assert list(t.frame["agree?"]) == ["yes, to 5 decimals", "no (1)"]
    assert t.frame["difference"].iloc[1] == "+0.00042"


def test_tutorial_table_half_at_the_rounding_digit_may_go_either_way():
    t = checks.tutorial_table([("up", 1.8476051, "1.847605", None, 5), ("down", 1.8476049, "1.847605", None, 5)])
    assert list(t.frame["agree?"]) == ["yes, to 5 decimals", "yes, to 5 decimals"]
    with pytest.raises(AssertionError, match="no reason"):
        checks.tutorial_table([("off", 1.84762, "1.847605", None, 5)])
