"""Checks for exercise answers: tolerances suited to the quantity and messages that teach.

The exercises' tests (public and hidden) are small functions that call these helpers.  Each returns
the cleaned-up answer when it is right and raises :class:`AssertionError` with a message a learner
can act on when it is not: the variable, what is wrong and, where a common mistake explains the
number, which mistake (e.g. "`tau2` = 2.435 looks like a standard deviation, not a variance: square
it.").  :class:`Notebook` (from :mod:`mlmkit.feedback`) gives learners ``grader.check("q1")``.
"""
from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any, Iterable, Mapping

import numpy as np

from .feedback import CheckResult, Notebook  # noqa: F401  (mk.checks.Notebook in every exercise)

__all__ = [
    "matches_printed",
    "defined", "number", "close", "proportion", "between", "integer", "choice", "boolean", "model",
    "Notebook", "CheckResult",
    "tutorial_table", "TutorialTable", "self_check",
]

_KINDS = (None, "variance", "sd", "proportion", "probability", "logodds", "correlation")


# --------------------------------------------------------------------------------------------------
# plain values
def defined(answer: Any, name: str = "answer") -> Any:
    """The answer itself, unless it is missing (``None``: never defined) or still the ``...`` placeholder."""
    if answer is None:
        raise AssertionError(
            f"`{name}` has no value: the variable is not defined (did the cell that sets it run "
            "without an error?) or it is None.")
    if answer is Ellipsis:
        raise AssertionError(f"`{name}` is still `...`: replace the three dots with your answer.")
    return answer


def number(answer: Any, name: str = "answer") -> float:
    """The answer as a finite float, or an AssertionError saying why it is not one.

    Accepts Python and numpy numbers and one-element arrays, Series or DataFrames (so
    ``m.fixef[["X"]]`` works); ``None`` (never defined) and ``...`` get their own message.
    """
    defined(answer, name)
    if isinstance(answer, (bool, np.bool_)):
        raise AssertionError(f"`{name}` is {answer}, a truth value; this question asks for a number.")
    if isinstance(answer, str):
        raise AssertionError(f"`{name}` is the text {answer!r}; give a number (without quotes).")
    if isinstance(answer, Real):
        value = float(answer)
    else:
        try:
            arr = np.asarray(answer, dtype=float)
        except (TypeError, ValueError):
            raise AssertionError(
                f"`{name}` is a {type(answer).__name__}, not a number.") from None
        if arr.size != 1:
            raise AssertionError(
                f"`{name}` holds {arr.size} values; pick the single number the question asks for "
                "(for example m.fixef['X'] rather than m.fixef).")
        value = float(arr.reshape(-1)[0])
    if math.isnan(value):
        raise AssertionError(f"`{name}` is NaN (not a number): the computation that made it failed.")
    if math.isinf(value):
        raise AssertionError(f"`{name}` is infinite; check for a division by zero or a log of 0.")
    return value


def _digits(rtol: float, atol: float, value: float) -> int:
    """Significant digits that show a difference of the size of the tolerance."""
    tol = atol + rtol * abs(value)
    if tol <= 0 or value == 0:
        return 6
    return int(min(12, max(4, math.ceil(math.log10(abs(value) / tol)) + 2)))


def _fmt(x: float, digits: int = 4) -> str:
    return f"{x:.{digits}g}"


def _near(a: float, v: float, rtol: float, atol: float) -> bool:
    return bool(np.isfinite(v) and abs(a - v) <= atol + rtol * abs(v))


def _pairs(hints) -> list[tuple[float, str]]:
    out = []
    for value, message in hints.items() if isinstance(hints, Mapping) else hints or ():
        try:
            out.append((float(value), str(message)))
        except (TypeError, ValueError):
            raise TypeError(f"a hint must pair a number with a message, got {value!r}") from None
    return out


def _kind_hints(expected: float, kind: str | None) -> list[tuple[float, str]]:
    """Values that a typical mistake for this kind of quantity produces, with what to do about it."""
    out: list[tuple[float, str]] = []
    if kind == "variance" and expected > 0:
        out.append((math.sqrt(expected), "looks like a standard deviation, not a variance: square it."))
    elif kind == "sd" and expected > 0:
        out.append((expected ** 2, "looks like a variance, not a standard deviation: take its square "
                                   "root."))
    elif kind in ("proportion", "probability"):
        out.append((100.0 * expected, "looks like a percentage: give a proportion between 0 and 1 "
                                      "(divide by 100)."))
        if 0 < expected < 1:
            out.append((1.0 - expected, "is one minus the right answer: check which part goes on top "
                                        "of the fraction (or which outcome counts as a success)."))
            out.append((math.log(expected / (1.0 - expected)),
                        "looks like log-odds (the logit scale of the model): convert it to a "
                        "probability with 1 / (1 + exp(-x))."))
    elif kind == "logodds":
        out.append((1.0 / (1.0 + math.exp(-expected)),
                    "looks like a probability; the question asks for log-odds (the model's linear "
                    "predictor scale), log(p / (1 - p))."))
    return out


def close(answer: Any, expected: Any, *, rtol: float = 1e-3, atol: float = 0.0,
          name: str = "answer", kind: str | None = None,
          hints: Mapping[float, str] | Iterable[tuple[float, str]] | None = None,
          reveal: bool = True) -> float:
    """Check a numeric answer: accepted when ``|answer - expected| <= atol + rtol * |expected|``.

    Returns the answer as a float; otherwise the AssertionError tries, in order: ``hints``
    (``{value: message}`` or ``[(value, message), ...]``: numbers a known mistake gives, such as the
    ML estimate, and what to tell the learner), the typical mistakes of the ``kind`` of quantity
    (``"variance"``, ``"sd"``, ``"proportion"``, ``"probability"``, ``"logodds"``,
    ``"correlation"``: SD for variance and back, percent, one minus the answer, log-odds), a sign
    error, then "too large"/"too small" (with the expected value if ``reveal``).  Choose ``rtol``
    for the quantity: 1e-4 for a refitted estimate, the printed digits (1e-3) for one read off a
    summary.  ``name`` is the variable's name, quoted in messages.
    """
    if kind not in _KINDS:
        raise ValueError(f"unknown kind {kind!r}; use one of {[k for k in _KINDS if k]}")
    if rtol < 0 or atol < 0:
        raise ValueError("rtol and atol must be >= 0")
    e = float(np.asarray(expected, dtype=float).reshape(-1)[0]) if np.size(expected) == 1 else None
    if e is None or not np.isfinite(e):
        raise ValueError(f"the expected value must be one finite number, got {expected!r}")
    a = number(answer, name)
    if _near(a, e, rtol, atol):
        return a
    digits = _digits(rtol, atol, e)
    shown = f"`{name}` = {_fmt(a, digits)}"
    for value, message in _pairs(hints) + _kind_hints(e, kind):
        if _near(a, value, rtol, atol) and not _near(value, e, rtol, atol):
            raise AssertionError(f"{shown} {message}")
    if e != 0 and _near(a, -e, rtol, atol):
        raise AssertionError(f"{shown} has the right size but the wrong sign.")
    direction = "too large" if a > e else "too small"
    if reveal:
        raise AssertionError(f"{shown} is {direction}: expected {_fmt(e, digits)} (accepted within "
                             f"{_fmt(atol + rtol * abs(e), 2)}).")
    raise AssertionError(f"{shown} is {direction}; look again at how you computed it.")


def proportion(answer: Any, name: str = "answer") -> float:
    """Check that the answer is a proportion in [0, 1] (a percentage gets its own message)."""
    a = number(answer, name)
    if 1.0 < a <= 100.0:
        raise AssertionError(f"`{name}` = {_fmt(a)} looks like a percentage: give a proportion "
                             "between 0 and 1 (divide by 100).")
    if not 0.0 <= a <= 1.0:
        raise AssertionError(f"`{name}` = {_fmt(a)} is not a proportion: it must lie between 0 and 1.")
    return a


def between(answer: Any, low: float, high: float, name: str = "answer", why: str = "") -> float:
    """Check that the answer lies in [low, high]; ``why`` says what the range means."""
    a = number(answer, name)
    if not low <= a <= high:
        reason = f" {why}" if why else ""
        raise AssertionError(f"`{name}` = {_fmt(a)} is outside [{_fmt(low)}, {_fmt(high)}].{reason}")
    return a


def integer(answer: Any, name: str = "answer", expected: int | None = None, minimum: int | None = None,
            why: str = "") -> int:
    """Check that the answer is a whole number (optionally equal to ``expected``, at least ``minimum``)."""
    a = number(answer, name)
    if a != round(a):
        raise AssertionError(f"`{name}` = {_fmt(a, 6)} must be a whole number (a count).")
    n = int(round(a))
    reason = f" {why}" if why else ""
    if minimum is not None and n < minimum:
        raise AssertionError(f"`{name}` = {n} must be at least {minimum}.{reason}")
    if expected is not None and n != expected:
        raise AssertionError(f"`{name}` = {n} is {'too large' if n > expected else 'too small'}."
                             f"{reason}")
    return n


def _norm(x: Any) -> Any:
    return x.strip().lower() if isinstance(x, str) else x


def choice(answer: Any, options: Iterable[Any], name: str = "answer", expected: Any = None,
           explain: Mapping[Any, str] | None = None) -> Any:
    """Check a multiple-choice answer: one of ``options`` (text compared without case or surrounding
    blanks) and, when ``expected`` is given, the right one; ``explain`` maps a wrong option to what
    is wrong with it."""
    options = list(options)
    defined(answer, name)
    if (isinstance(answer, (Integral, np.integer)) and not isinstance(answer, (bool, np.bool_))
            and options and all(isinstance(o, str) for o in options)):
        answer = str(answer)            # a label such as "70" given as the number 70
    got = _norm(answer)
    normed = [_norm(o) for o in options]
    if got not in normed:
        listed = ", ".join(repr(o) for o in options)
        raise AssertionError(f"`{name}` = {answer!r} is not one of the options: {listed}.")
    option = options[normed.index(got)]
    if expected is not None and got != _norm(expected):
        extra = {_norm(k): v for k, v in (explain or {}).items()}.get(got)
        raise AssertionError(f"`{name}` = {option!r} is not the right choice." + (f" {extra}" if extra else ""))
    return option


def boolean(answer: Any, name: str = "answer", expected: bool | None = None, explain: str = "") -> bool:
    """Check a True/False answer (``explain`` is shown when it is the wrong one)."""
    defined(answer, name)
    if isinstance(answer, str):
        raise AssertionError(f"`{name}` is the text {answer!r}; write True or False without quotes.")
    if not isinstance(answer, (bool, np.bool_)):
        raise AssertionError(f"`{name}` is a {type(answer).__name__}; this question asks for True or "
                             "False.")
    value = bool(answer)
    if expected is not None and value != bool(expected):
        raise AssertionError(f"`{name}` = {value} is not right." + (f" {explain}" if explain else ""))
    return value


# --------------------------------------------------------------------------------------------------
# fitted models
def _random_structure(m) -> tuple[dict[str, set[str]], set[str]]:
    """Random-effect columns per grouping factor, and the factors whose effects are correlated,
    read from ``m.varcorr`` (``(x || g)`` gives groups ``g`` and ``g.1``, merged here)."""
    known = set(getattr(m, "ngroups", {}) or {})
    vc = m.varcorr
    columns: dict[str, set[str]] = {}
    correlated: set[str] = set()

    def base(grp: str) -> str:
        if grp in known or "." not in grp:
            return grp
        head, tail = grp.rsplit(".", 1)
        return head if tail.isdigit() and head in known else grp

    for grp, var1, var2 in zip(vc["grp"], vc["var1"], vc["var2"]):
        if grp == "Residual":
            continue
        g = base(str(grp))
        if var2 is None or (isinstance(var2, float) and math.isnan(var2)):
            columns.setdefault(g, set()).add(str(var1))
        else:
            correlated.add(g)
    return columns, correlated


def model(m: Any, name: str = "m", *, kind: str | None = None, fixed: Iterable[str] | None = None,
          random: Mapping[str, Iterable[str]] | None = None, correlated: bool | None = None,
          REML: bool | None = None, nobs: int | None = None, data_hint: str = "") -> Any:
    """Check that ``m`` is a fitted mixed model with the structure the question asks for.

    ``kind`` is ``"lmer"`` or ``"glmer"`` (compared with the result's class); ``fixed`` the
    fixed-effect names as R prints them; ``random`` maps each grouping factor to its random-effect
    columns, e.g. ``{"schid": ["(Intercept)", "homework"]}``; ``correlated`` says whether the
    effects of a factor with several are correlated (``(1 + x | g)``) or not (``(x || g)``,
    ``(1 | g) + (0 + x | g)``); ``REML`` the criterion; ``nobs`` the number of observations
    (``data_hint`` is added to a wrong-nobs message, e.g. "fit it to the whole imm23 data").
    """
    _check_model_kind(m, name, kind, nobs, data_hint)
    if fixed is not None:
        _check_fixed(m, name, list(fixed))
    if random is not None:
        _check_random(m, name, random, correlated)
    if REML is not None and bool(getattr(m, "REML", False)) != bool(REML):
        raise AssertionError(
            f"`{name}` was fitted by maximum likelihood (REML=False); this question asks for REML, "
            "lmer's default: drop REML=False." if REML else
            f"`{name}` was fitted by REML; this question asks for maximum likelihood: pass "
            "REML=False (or use m.refit_ml()).")
    return m


def _check_model_kind(m, name: str, kind, nobs, data_hint: str) -> None:
    """:func:`model`: a fitted model of the asked kind, fitted to the asked number of observations."""
    defined(m, name)
    if isinstance(m, str):
        raise AssertionError(f"`{name}` is the text {m!r}; pass the formula to mlmkit.lmer(formula, data) "
                             "and assign the fitted model.")
    if not all(hasattr(m, a) for a in ("fixef", "varcorr", "nobs")):
        raise AssertionError(f"`{name}` is a {type(m).__name__}, not a fitted mixed model: assign the "
                             "result of mlmkit.lmer(...) or mlmkit.glmer(...).")
    cls = type(m).__name__.lower()
    if kind == "glmer" and "glmer" not in cls:
        raise AssertionError(f"`{name}` is a linear mixed model; this response needs a generalised one: "
                             "mlmkit.glmer(..., family='binomial').")
    if kind == "lmer" and "glmer" in cls:
        raise AssertionError(f"`{name}` is a generalised (glmer) model; this question asks for a linear "
                             "mixed model, mlmkit.lmer(...).")
    if nobs is not None and int(m.nobs) != int(nobs):
        extra = f" {data_hint}" if data_hint else ""
        raise AssertionError(f"`{name}` was fitted to {m.nobs} observations, not {nobs}: check the data "
                             f"you passed.{extra}")


def _check_fixed(m, name: str, want: list) -> None:
    """:func:`model`: the fixed effects asked for, no more, no fewer."""
    have = list(m.fixef.index)
    missing = [f for f in want if f not in have]
    extra = [f for f in have if f not in want]
    if "(Intercept)" in missing:
        raise AssertionError(f"`{name}` has no fixed intercept: remove `0 +` (or `- 1`) from the fixed "
                             "part of the formula.")
    if missing:
        raise AssertionError(f"`{name}` has no fixed effect for {', '.join(map(repr, missing))}: add it "
                             "to the fixed part of the formula (left of the random terms).")
    if extra:
        raise AssertionError(f"`{name}` has fixed effect(s) {', '.join(map(repr, extra))} that the "
                             "question does not ask for.")


def _check_random(m, name: str, random, correlated) -> None:
    """:func:`model`: the random effects (grouping factors, columns, correlation) asked for."""
    have_cols, have_cor = _random_structure(m)
    want_cols = {g: set(c) for g, c in random.items()}
    for g in want_cols:
        if g not in have_cols:
            raise AssertionError(f"`{name}` has no random effects for `{g}`: add a term such as "
                                 f"(1 | {g}).")
    for g in have_cols:
        if g not in want_cols:
            raise AssertionError(f"`{name}` has random effects for `{g}` that the question does not "
                                 "ask for.")
    for g, want in want_cols.items():
        have = have_cols[g]
        slopes = sorted(want - {"(Intercept)"})
        if "(Intercept)" in have and "(Intercept)" not in want:
            example = f"(0 + {slopes[0]} | {g})" if slopes else f"no intercept term for {g}"
            raise AssertionError(
                f"`{name}` has a random intercept for `{g}` that the question does not ask for: "
                f"`(x | {g})` includes an intercept implicitly, so write {example}.")
        if "(Intercept)" in want and "(Intercept)" not in have:
            raise AssertionError(f"`{name}` has no random intercept for `{g}`: `0 +` inside the "
                                 f"brackets removes it; add (1 | {g}) or drop the `0 +`.")
        for c in sorted(want - have):
            raise AssertionError(f"`{name}` has no random slope for `{c}` by `{g}`: put {c} inside the "
                                 f"brackets, e.g. (1 + {c} | {g}).")
        for c in sorted(have - want):
            raise AssertionError(f"`{name}` has a random slope for `{c}` by `{g}` that the question "
                                 "does not ask for.")
        if correlated is None or len(want) < 2:
            continue
        if correlated and g not in have_cor:
            raise AssertionError(f"`{name}` fits the random effects of `{g}` as uncorrelated; the question "
                                 f"asks for correlated ones: put them in one term, (1 + x | {g}).")
        if not correlated and g in have_cor:
            raise AssertionError(f"`{name}` estimates a correlation between the random effects of `{g}`; "
                                 f"the question asks for uncorrelated ones: write (1 | {g}) + (0 + x | {g}) "
                                 f"or (x || {g}).")


def matches_printed(label: str, value: Any, printed: str, *, slack: float = 0.0,
                    source: str = "the tutorial") -> None:
    """Assert that ``value`` agrees with a number as ``source`` printed it, to its printed digits.

    The lessons' visible checks: ``value`` must lie within half a unit of the last printed digit of
    ``printed`` (plus ``slack`` units where lme4 versions differ), so a kit that has drifted fails
    loudly.  A relative 1e-8 is allowed on top: lme4 and mlmkit stop the same optimiser at θ to
    1e-8, so a printed value that close to a rounding boundary (sleepstudy's subject 310 slope: lme4
    5.01842949, printed 5.018429) may round either way.  Prints ``matches {source}: label = ...``.
    """
    unit = 10.0 ** -_decimals(printed)
    assert abs(float(value) - float(printed)) <= (0.5 + slack) * unit + 1e-8 * abs(float(printed)) + 1e-12, \
        f"{label} = {float(value):.6g}, but {source} printed {printed}"
    print(f"matches {source}: {label} = {printed}")


# --------------------------------------------------------------------------------------------------
# lessons: one table of numbers against the source, and self-check questions
def _decimals(printed: str) -> int:
    return len(printed.split(".")[1]) if "." in printed else 0


def _round_printed(printed: str, d: int, ours: str) -> str:
    """``printed`` rounded to ``d`` decimals in decimal arithmetic; a printed value ending in an exact half
    (1.847605 to 5 decimals) may stand for a number on either side, so either rounding is accepted."""
    from decimal import ROUND_HALF_DOWN, ROUND_HALF_UP, Decimal
    q = Decimal(1).scaleb(-d)
    both = [str(Decimal(printed).quantize(q, rounding=r)) for r in (ROUND_HALF_UP, ROUND_HALF_DOWN)]
    return ours if ours in both else both[0]


class TutorialTable:
    """A lesson's numbers beside the ones its source printed (see :func:`tutorial_table`)."""

    def __init__(self, frame, notes: list[str]):
        self.frame, self.notes = frame, notes

    def __repr__(self) -> str:
        return "\n".join([self.frame.to_string(), *self.notes])

    def _repr_html_(self) -> str:
        import html
        return self.frame.to_html() + "".join(f"<p>{html.escape(n)}</p>" for n in self.notes)


def tutorial_table(rows, *, source: str = "the tutorial", max_rel_diff: float = 0.01) -> TutorialTable:
    """Our numbers, the source's printed ones, their difference at the printed digits, and whether they agree.

    ``rows`` holds tuples ``(label, value, printed)``, ``(label, value, printed, why)`` or
    ``(label, value, printed, why, decimals)`` (``why`` may be None).  Our value is rounded to as many
    decimals as ``printed`` has — or to ``decimals``, fewer, when the source printed more digits than
    the fit determines on every machine; the source's number is then compared rounded the same way.
    ``difference`` = ours − the source's at those decimals, and the row agrees ("yes") only when the
    two rounded strings are the same.  A row that differs must say ``why`` (a numbered note under
    the table), and even then may differ by at most ``max_rel_diff`` relative, so a kit that has
    drifted stops the lesson with an AssertionError.
    """
    import pandas as pd
    table, notes = [], []
    for row in rows:
        if len(row) not in (3, 4, 5):
            raise ValueError(f"a row is (label, value, printed[, why[, decimals]]), got {row!r}")
        label, value, printed, why, d = (*row, None, None)[:5]
        value = float(value)
        d = _decimals(printed) if d is None else min(int(d), _decimals(printed))
        fmt = lambda x: f"{x + 0.0:.{d}f}".replace("-0." + "0" * d, "0." + "0" * d) if d else f"{round(x):d}"
        ours, theirs = fmt(value), (printed if d == _decimals(printed) else _round_printed(printed, d, fmt(value)))
        diff = float(ours) - float(theirs)
        if ours == theirs:
            agree, shown = ("yes" if theirs == printed else f"yes, to {d} decimals"), "0"
        else:
            if not why:
                raise AssertionError(f"{label}: ours {ours}, {source} printed {printed}, and no reason is given")
            if abs(value - float(printed)) > max_rel_diff * abs(float(printed)):
                raise AssertionError(f"{label}: ours {value:.6g} is more than {max_rel_diff:.0%} from "
                                     f"{source}'s {printed}")
            notes.append(f"({len(notes) + 1}) {label}: {why}")
            agree, shown = f"no ({len(notes)})", f"{diff:+.{d}f}"
        table.append((label, ours, printed, shown, agree))
    frame = pd.DataFrame(table, columns=["label", "ours", source, "difference", "agree?"]).set_index("label")
    frame.index.name = None
    return TutorialTable(frame, notes)


def self_check(answer: Any, correct: Any, why: str, *, options: Iterable[Any] | None = None,
               wrong: Mapping[Any, str] | None = None, rtol: float = 0.02) -> None:
    """A question inside a lesson with immediate feedback: prints it, never raises.

    ``answer`` is the learner's: ``...`` (not answered yet) prints the options; a right answer prints
    ``why``; a wrong one prints what is wrong with it (``wrong[answer]`` when given) and no solution,
    so the learner can try again.  ``correct`` is an option (text, compared without case) or a number
    (right within ``rtol`` relative).
    """
    if answer is Ellipsis or answer is None:
        listed = f" one of {', '.join(repr(o) for o in options)}" if options else " your answer"
        print(f"Replace ... with{listed} and run the cell again.")
        return
    if isinstance(correct, str):
        ok = _norm(answer) == _norm(correct)
        hint = {_norm(k): v for k, v in (wrong or {}).items()}.get(_norm(answer), "")
    else:
        try:
            ok = abs(float(answer) - float(correct)) <= rtol * abs(float(correct))
        except (TypeError, ValueError):
            print(f"{answer!r} is not a number; this question asks for one.")
            return
        hint = "too large" if not ok and float(answer) > float(correct) else ("too small" if not ok else "")
    print(f"Right. {why}" if ok else f"Not quite{': ' + hint if hint else ''}. Think again and rerun the cell.")
