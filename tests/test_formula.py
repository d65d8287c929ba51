"""Parsing lme4 formulas: expansion of ||, / and :, error messages that quote the formula."""
import pytest

from mlmkit.errors import FormulaError
from mlmkit.spec.formula import formula_names, parse_formula

EXPANSIONS = [
    # formula, fixed part, [(expr, group), ...]
    ("y ~ x + (1 | g)", "x", [("1", "g")]),
    ("y ~ (1 | g)", "1", [("1", "g")]),
    ("y ~ 1 + (1 | g)", "1", [("1", "g")]),
    ("y ~ 0 + x + (1 | g)", "0 + x", [("1", "g")]),
    ("y ~ x - 1 + (x | g)", "x - 1", [("x", "g")]),
    ("Reaction ~ Days + (Days | Subject)", "Days", [("Days", "Subject")]),
    ("Reaction ~ Days + (Days || Subject)", "Days", [("1", "Subject"), ("0 + Days", "Subject")]),
    ("y ~ x + (1 + x + z || g)", "x", [("1", "g"), ("0 + x", "g"), ("0 + z", "g")]),
    ("y ~ x + (0 + x + z || g)", "x", [("0 + x", "g"), ("0 + z", "g")]),
    ("strength ~ 1 + (1 | batch/cask)", "1", [("1", "batch"), ("1", "cask:batch")]),
    ("y ~ 1 + (1 | a/b/c)", "1", [("1", "a"), ("1", "b:a"), ("1", "c:(b:a)")]),
    ("y ~ 1 + (1 | a:b)", "1", [("1", "a:b")]),
    ("diameter ~ 1 + (1 | plate) + (1 | sample)", "1", [("1", "plate"), ("1", "sample")]),
    ("y ~ x * f + I(x**2) + (1 | g)", "x * f + I(x**2)", [("1", "g")]),
    ("y ~ x + (1|g) + z", "x + z", [("1", "g")]),
]


@pytest.mark.parametrize("formula,fixed,random", EXPANSIONS)
def test_expansion(formula, fixed, random):
    p = parse_formula(formula)
    assert p.fixed == fixed
    assert [(t.expr, t.group) for t in p.random] == random


def test_offset_and_cbind():
    p = parse_formula("cbind(m, n - m) ~ period + offset(log(size)) + (1 | herd)")
    assert p.response == "cbind(m, n - m)"
    assert p.offsets == ("log(size)",)
    assert p.fixed == "period"


ERRORS = [
    ("y ~ x", "no random-effects term"),
    ("y x + (1 | g)", "exactly one '~'"),
    ("y ~ x ~ z + (1|g)", "exactly one '~'"),
    (" ~ x + (1 | g)", "no response"),
    ("y ~ x + (1 | g", "unbalanced"),
    ("y ~ x + 1 | g", "must be in parentheses"),
    ("y ~ x + ( | g)", "nothing before the bar"),
    ("y ~ x + (1 | )", "no grouping factor"),
    ("y ~ x - (1 | g)", "cannot be subtracted"),
    ("y ~ x + (1 | a//b)", "empty grouping factor"),
]


@pytest.mark.parametrize("formula,message", ERRORS)
def test_errors_quote_the_formula(formula, message):
    with pytest.raises(FormulaError, match=message) as info:
        parse_formula(formula)
    assert "in formula:" in str(info.value) or "formula" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_error_marks_the_fragment():
    with pytest.raises(FormulaError) as info:
        parse_formula("y ~ x + 1 | g")
    lines = str(info.value).splitlines()
    caret = lines[-1]
    assert caret.strip().startswith("^")
    assert lines[-2][caret.index("^"):].startswith("1 | g")


def test_formula_names():
    assert formula_names("y ~ np.log(x) + I(z**2) + (1 + w | a/b) + f:h") == {"y", "x", "z", "w", "a", "b", "f", "h"}
    assert formula_names("cbind(m, n - m) ~ 1 + (1 | batch)") == {"m", "n", "batch"}


def test_split_terms_respects_parentheses_and_signs():
    # the tree's top-level terms (formerly split_terms on the text)
    assert parse_formula("y ~ x + (1 + z | g) - 1").rhs_terms == (("+", "x"), ("+", "(1 + z | g)"), ("-", "1"))
    assert parse_formula("y ~ I(x - 1) + y", require_random=False).rhs_terms == (("+", "I(x - 1)"), ("+", "y"))


@pytest.mark.parametrize("text,args", [
    ("m, n - m", ["m", "n - m"]), ("log(a, b), c", ["log(a, b)", "c"]), ("single", ["single"]), (" a ,  ", ["a"]),
])
def test_split_args_at_top_level_commas(text, args):
    # cbind()'s arguments are the children of its call node (formerly split_args on the text)
    assert list(parse_formula(f"cbind({text}) ~ 1 + (1 | g)").response_args) == args


def test_subscripts_are_no_arguments():
    # formerly split_args("x[1, 2], y") == ["x[1, 2]", "y"]; a subscript is refused before any split
    with pytest.raises(FormulaError, match="subscript"):
        parse_formula("cbind(x[1, 2], y) ~ 1 + (1 | g)")
