"""Parse lme4's model formulas.

An lme4 formula is an ordinary regression formula plus random-effects terms written in parentheses
with a bar::

    Reaction ~ Days + (Days | Subject)
    strength ~ 1 + (1 | batch/cask)             # nesting: (1 | batch) + (1 | cask:batch)
    diameter ~ 1 + (1 | plate) + (1 | sample)   # crossed factors
    Reaction ~ Days + (Days || Subject)         # uncorrelated: (1 | Subject) + (0 + Days | Subject)

This module only splits the text: :func:`parse_formula` returns the response, the fixed-effects
right-hand side (handed to formulaic later) and a tuple of :class:`RandomTerm`, with ``||`` and ``/``
already expanded the way lme4's ``findbars``/``expandDoubleVerts`` do.  Nothing here looks at data.

>>> parse_formula("y ~ x")                                    # doctest: +ELLIPSIS
Traceback (most recent call last):
FormulaError: no random-effects term in 'y ~ x' ...
"""
from __future__ import annotations

import ast
import functools
import re
from dataclasses import dataclass

from ..errors import FormulaError
from .safe_eval import check_tree, protect_backticks

__all__ = ["RandomTerm", "ParsedFormula", "parse_formula", "split_terms", "formula_names"]


@dataclass(frozen=True)
class RandomTerm:
    """One ``(expr | group)`` term after expansion.

    ``expr`` is the model formula of the term's columns (``"1 + Days"``, ``"0 + Days"``), ``group``
    the grouping expression (``"Subject"``, ``"cask:batch"``), ``source`` the text the user wrote.
    """

    expr: str
    group: str
    source: str

    @property
    def group_vars(self) -> tuple[str, ...]:
        """The data columns whose interaction defines the grouping factor, outermost last as lme4 names it."""
        # lme4 writes a nested factor of three or more levels as c:(b:a): the brackets only group.
        return tuple(v.strip().strip("()").strip() for v in self.group.split(":"))


@dataclass(frozen=True)
class ParsedFormula:
    """A formula split into its response, fixed-effects part, offsets and random terms."""

    formula: str
    response: str
    fixed: str
    random: tuple[RandomTerm, ...]
    offsets: tuple[str, ...] = ()


def _matching_paren(text: str, start: int) -> int:
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "(":
            depth += 1
        elif text[i] == ")":
            depth -= 1
            if depth == 0:
                return i
    return -1


def _top_level(text: str, chars: str):
    """(position, character) of each of ``chars`` in ``text`` outside any parentheses or brackets."""
    depth = 0
    for i, ch in enumerate(text):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif depth == 0 and ch in chars:
            yield i, ch


def split_terms(rhs: str) -> list[tuple[str, str]]:
    """Split a right-hand side at top-level ``+``/``-`` signs into ``(sign, term)`` pairs."""
    out, sign, start = [], "+", 0
    for i, ch in _top_level(rhs, "+-"):
        # a sign directly after an operator (e.g. "x * -1") belongs to the term
        before = rhs[start:i].strip()
        if before or i == 0 or rhs[:i].strip() == "":
            if before:
                out.append((sign, before))
            sign, start = ch, i + 1
    last = rhs[start:].strip()
    if last:
        out.append((sign, last))
    return out


def split_args(text: str) -> list[str]:
    """Split a call's argument list at its top-level commas: ``"m, n - m"`` → ``["m", "n - m"]``."""
    cuts = [i for i, _ in _top_level(text, ",")]
    pieces = [text[a + 1:b] for a, b in zip([-1, *cuts], [*cuts, len(text)])]
    return [p.strip() for p in pieces if p.strip()]


def _has_top_level_bar(inner: str) -> int:
    return next((i for i, _ in _top_level(inner, "|")), -1)


def _term_expr_parts(expr: str) -> tuple[bool, list[str]]:
    """Return (has_intercept, non-intercept terms) of a random-term expression such as ``1 + x``."""
    intercept = True
    terms = []
    for sign, term in split_terms(expr):
        if term in ("0", "-1") or (sign == "-" and term == "1"):
            intercept = False
        elif term == "1":
            intercept = sign == "+"
        else:
            terms.append(term)
    return intercept, terms


def _expand_group(group: str, formula: str) -> list[str]:
    """``a/b/c`` -> ``["a", "b:a", "c:(b:a)"]``, lme4's names (``expandSlash`` nests each new factor
    with the interaction before it: ``a/b/c/d`` gives ``d:(c:(b:a))`` last)."""
    parts = [p.strip() for p in group.split("/")]
    if any(not p for p in parts):
        raise FormulaError(f"empty grouping factor in '{group}'", formula, group)
    out = [parts[0]]
    for k in range(1, len(parts)):
        inner = out[-1] if k == 1 else f"({out[-1]})"
        out.append(f"{parts[k]}:{inner}")
    return out


def _random_terms(inner: str, source: str, formula: str) -> list[RandomTerm]:
    double = "||" in inner
    bar = inner.index("||") if double else _has_top_level_bar(inner)
    expr = inner[:bar].strip()
    group = inner[bar + (2 if double else 1):].strip()
    if not expr:
        raise FormulaError(f"nothing before the bar in '({inner})': write '(1 | {group or 'g'})' for a "
                           "random intercept", formula, f"({inner})")
    if not group:
        raise FormulaError(f"no grouping factor after the bar in '({inner})'", formula, f"({inner})")
    if "|" in group:
        raise FormulaError(f"more than one bar in '({inner})'", formula, f"({inner})")
    groups = _expand_group(group, formula)
    exprs = [expr]
    if double:
        intercept, terms = _term_expr_parts(expr)
        exprs = (["1"] if intercept else []) + [f"0 + {t}" for t in terms]
    return [RandomTerm(e, g, source) for g in groups for e in exprs]


def _check_parentheses(text: str, formula: str) -> None:
    depth = 0
    for i, ch in enumerate(text):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth < 0:
            raise FormulaError("unbalanced parentheses: a ')' closes a parenthesis that was never opened",
                               formula, text[i:i + 5].split()[0] if text[i:].strip() else ")")
    if depth:
        raise FormulaError("unbalanced parentheses: a '(' is never closed", formula)


def _bar_error(term: str, formula: str) -> FormulaError:
    """A '|' outside a parenthesised random term; suggest '(term)' only when that is a valid term."""
    if term[0] in "+-*/:^":
        return FormulaError(f"two operators in a row before '{term[1:].strip()}': remove the extra '{term[0]}'",
                            formula, term)
    if "(" not in term and term.count("|") == 1 and all(p.strip() for p in term.split("|")):
        return FormulaError(f"a random-effects term must be in parentheses: write '({term})'", formula, term)
    return FormulaError(f"cannot read the random-effects term '{term}': write it as '(expression | group)', "
                        "e.g. '(1 | g)'", formula, term)


def parse_formula(formula: str, *, require_random: bool = True) -> ParsedFormula:
    """Split an lme4 formula into response, fixed part, offsets and expanded random terms."""
    if not isinstance(formula, str):
        raise FormulaError(f"the formula must be a string such as 'y ~ x + (1 | g)', not {type(formula).__name__}")
    return _parse(formula, require_random)


@functools.lru_cache(maxsize=256)
def _parse(formula: str, require_random: bool) -> ParsedFormula:
    text = " ".join(formula.split())
    if text.count("~") != 1:
        raise FormulaError("a model formula needs exactly one '~' between response and predictors "
                           "(e.g. 'y ~ x + (1 | g)')", formula)
    lhs, rhs = (s.strip() for s in text.split("~"))
    if not lhs:
        raise FormulaError("the formula has no response on the left of '~'", formula)
    _check_parentheses(text, formula)
    random, offsets, fixed_parts = [], [], []
    for sign, term in split_terms(rhs):
        if term.startswith("(") and _matching_paren(term, 0) == len(term) - 1 and _has_top_level_bar(term[1:-1]) >= 0:
            if sign == "-":
                raise FormulaError("a random-effects term cannot be subtracted", formula, term)
            random.extend(_random_terms(term[1:-1], term, formula))
        elif "|" in term:
            raise _bar_error(term, formula)
        elif term.startswith("offset(") and term.endswith(")"):
            offsets.append(term[len("offset("):-1].strip())
        else:
            fixed_parts.append(("- " if sign == "-" else "+ ") + term)
    if require_random and not random:
        raise FormulaError(f"no random-effects term in '{formula}': add one such as '(1 | group)', or use "
                           "an ordinary regression (statsmodels.formula.api.ols) for a model without "
                           "random effects", formula)
    fixed = " ".join(fixed_parts).strip()
    fixed = fixed[2:] if fixed.startswith("+ ") else ("0 " + fixed if fixed.startswith("-") else fixed)
    if not fixed:
        fixed = "1"
    return ParsedFormula(formula=formula, response=lhs, fixed=fixed, random=tuple(random),
                         offsets=tuple(offsets))


@functools.lru_cache(maxsize=256)
def formula_names(formula: str) -> frozenset[str]:
    """All names a formula uses as data (candidate column names), after checking its syntax.

    R's formula operators (``+ - * / : | ^``) are Python operators too, so the formula parses as a
    Python expression once ``||`` and ``~`` are neutralised; the tree is checked against the whitelist
    of :mod:`mlmkit.spec.safe_eval` (no attribute access, subscripts, unknown calls).  Column names in
    backticks and ``Q("name")`` are honoured; a name used as a plain value is a column even when a
    function has the same name (``log``).
    """
    # ':' (interaction) is not a Python operator; '*' has the same operands.
    text = formula.replace("||", "|").replace("~", "+", 1).replace("%in%", "/").replace(":", "*")
    text, ticks = protect_backticks(text)
    text = re.sub(r"^\s*\+", "", text)
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        frag = formula[max(0, (exc.offset or 1) - 3):(exc.offset or 1) + 3]
        raise FormulaError(f"cannot read the formula ({exc.msg})", formula, frag.strip() or None) from None
    check_tree(tree, text, formula)
    funcs = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    funcs |= {id(n.func.value) for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)}
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and id(node) not in funcs and node.id not in ("True", "False", "None"):
            names.add(ticks.get(node.id, node.id))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Q":
            names.update(a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str))
    return frozenset(names)
