"""Parse lme4's model formulas, once, into a frozen tree.

An lme4 formula is a regression formula plus random-effects terms in parentheses with a bar::

    Reaction ~ Days + (Days | Subject)
    strength ~ 1 + (1 | batch/cask)             # nesting: (1 | batch) + (1 | cask:batch)
    diameter ~ 1 + (1 | plate) + (1 | sample)   # crossed factors
    Reaction ~ Days + (Days || Subject)         # uncorrelated: (1 | Subject) + (0 + Days | Subject)

:func:`parse_formula` reads the text (R's grammar and operator precedence) into :class:`Node` trees
and a :class:`ParsedFormula`, cached on the text, with ``||`` and ``/`` expanded as lme4's
``findbars``/``expandDoubleVerts`` do; every node keeps its span, so errors quote the offending
part.  :func:`formula_names` and :func:`deparse_formula` (lme4's "Formula:" line) are views of the
tree.  The text passes the whitelist of :mod:`mlmkit.spec.safe_eval` first; nothing here looks at
data.
"""
from __future__ import annotations

import ast
import functools
import re
from dataclasses import dataclass, field

from ..errors import FormulaError
from ..rformat import r_format
from .safe_eval import check_tree, protect_backticks
from .validate import min_fixed_terms

__all__ = ["Node", "RandomTerm", "ParsedFormula", "parse_formula", "parse_expression", "formula_names",
           "deparse_formula"]

Terms = tuple[tuple[str, str], ...]          # ((sign, term text), ...) of a sum such as "0 + x - z"


@dataclass(frozen=True)
class Node:
    """One node of a formula's syntax tree.

    ``kind``: ``name`` (a column or constant name, backticks kept), ``num``, ``str``, ``op`` (binary
    with two ``args``, unary with one), ``paren``, ``call`` (``value`` the function, ``args`` the
    arguments), ``kw`` (``value = args[0]`` inside a call) or ``empty`` (a missing operand, kept so that
    the error can say what is missing).  ``start:end`` is the span in the formula's normalised text.
    """

    kind: str
    value: str
    args: tuple["Node", ...] = ()
    start: int = field(default=0, compare=False)      # equal nodes: the same expression anywhere
    end: int = field(default=0, compare=False)

    def walk(self):
        stack = [self]
        while stack:                                    # no recursion: a sum of 5,000 terms is one deep spine
            node = stack.pop()
            yield node
            stack.extend(reversed(node.args))


@dataclass(frozen=True)
class RandomTerm:
    """One ``(expr | group)`` term after expansion.

    ``expr`` is the model formula of the term's columns (``"1 + Days"``, ``"0 + Days"``), ``group``
    the grouping expression (``"Subject"``, ``"cask:batch"``), ``source`` the text the user wrote,
    ``terms`` the signed terms of ``expr``.
    """

    expr: str
    group: str
    source: str
    terms: Terms = ()

    @property
    def group_vars(self) -> tuple[str, ...]:
        """The data columns whose interaction defines the grouping factor, outermost last as lme4 names it."""
        # lme4 writes a nested factor of three or more levels as c:(b:a): the brackets only group.
        return tuple(v.strip().strip("()").strip() for v in self.group.split(":"))

    @property
    def columns(self) -> tuple[str, ...]:
        """The term's columns as written: ``("(Intercept)", "Days")`` for ``1 + Days``."""
        intercept, cols = _intercept_and_terms(self.terms)
        return tuple((["(Intercept)"] if intercept else []) + cols)


@dataclass(frozen=True)
class ParsedFormula:
    """A formula as one frozen tree: response, fixed terms, offsets and expanded random terms.

    ``fixed`` is the fixed-effects right-hand side as text (handed to formulaic), ``fixed_terms`` its
    signed terms; ``tree`` the syntax tree of the whole (normalised) ``text``.
    """

    formula: str
    response: str
    fixed: str
    random: tuple[RandomTerm, ...]
    offsets: tuple[str, ...] = ()
    offset_nodes: tuple[Node, ...] = ()
    fixed_terms: Terms = (("+", "1"),)
    response_args: tuple[str, ...] | None = None   # the arguments of a cbind(successes, failures) response
    text: str = ""
    tree: Node | None = None
    n_fixed_terms: int = 0                 # terms of the fixed part (a lower bound on X's columns)
    names: frozenset = frozenset()         # every name the formula uses as data
    grouping_only: frozenset = frozenset()  # names used only in grouping factors

    @property
    def intercept(self) -> bool:
        """Whether the fixed part has an intercept (``0 + x`` and ``x - 1`` have none)."""
        return _intercept_and_terms(self.fixed_terms)[0]

    @property
    def rhs_terms(self) -> Terms:
        """The signed terms of the whole right-hand side, random terms and offsets included."""
        return tuple((s, self.quote(n)) for s, n in _signed_terms(self.tree.args[1]))

    def quote(self, node: Node) -> str:
        """The text of ``node``, for error messages."""
        return self.text[node.start:node.end].strip()


def _intercept_and_terms(terms: Terms) -> tuple[bool, list[str]]:
    """(has_intercept, the other terms) of signed terms such as those of ``1 + x`` or ``0 + x``."""
    intercept, out = True, []
    for sign, term in terms:
        if term in ("0", "-1") or (sign == "-" and term == "1"):
            intercept = False
        elif term == "1":
            intercept = sign == "+"
        else:
            out.append(term)
    return intercept, out


# ============================================================ tokens and R's operator precedence
_TOKEN = re.compile(r"\s*(?:(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)|(?P<name>`[^`]*`|(?:[^\W\d]|\.)[\w.]*)"
                    r"|(?P<str>\"[^\"]*\"|'[^']*')|(?P<op>%[^%]*%|\*\*|\|\||&&|==|!=|<=|>=|[-+*/^:~|&!<>=(),%]))")
_BINARY = {"~": 10, "||": 20, "|": 20, "&&": 30, "&": 30, "==": 50, "!=": 50, "<": 50, ">": 50, "<=": 50,
           ">=": 50, "+": 60, "-": 60, "*": 70, "/": 70, ":": 90, "^": 110, "**": 110}
_UNARY = {"-": 100, "+": 100, "!": 40, "~": 10}
_TIGHT = {"/", ":", "^", "**", "%%", "%/%"}      # R's PP_BINARY2: no spaces, no line break
_BARS = ("|", "||")


class _Parser:
    """Precedence climbing over R's tokens into :class:`Node` trees.  A missing operand becomes an
    ``empty`` node (``( | g)``, ``a//b``) so the caller can name it; anything else unreadable raises
    ValueError."""

    def __init__(self, text: str):
        self.toks, pos = [], 0
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if m is None or m.end() == pos:
                if text[pos:].strip():
                    raise ValueError(pos)
                break
            kind = m.lastgroup
            self.toks.append((kind, m.group(kind), m.start(kind), m.end()))
            pos = m.end()
        self.toks.append(("end", "", len(text), len(text)))
        self.i = 0

    def peek(self, k: int = 0):
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def take(self, expected: str | None = None):
        tok = self.peek()
        if expected is not None and tok[1] != expected:
            raise ValueError(expected)
        self.i += 1
        return tok

    @staticmethod
    def lbp(tok) -> int:
        return 0 if tok[0] != "op" else 80 if tok[1].startswith("%") else _BINARY.get(tok[1], 0)

    def expr(self, rbp: int = 0) -> Node:
        kind, val, s, e = self.peek()
        if kind == "op" and val in _UNARY:
            self.take()
            arg = self.expr(_UNARY[val])
            left = Node("op", val, (arg,), s, arg.end)
        elif kind == "op" and val == "(":
            self.take()
            inner = self.expr()
            left = Node("paren", "(", (inner,), s, self.take(")")[3])
        elif kind in ("num", "str", "name"):
            self.take()
            left = Node(kind, val, (), s, e)
            if kind == "name" and self.peek()[:2] == ("op", "("):
                left = self.call(val, s)
        elif kind == "end" or (kind == "op" and (val in _BINARY or val in ")|")):
            left = Node("empty", "", (), s, s)                      # an operand is missing here
        else:
            raise ValueError(val)
        while rbp < self.lbp(self.peek()):
            op = self.take()[1]
            bp = self.lbp(("op", op))
            right = self.expr(bp - 1 if op in ("^", "**") else bp)
            left = Node("op", op, (left, right), left.start, max(right.end, left.end))
        return left

    def call(self, func: str, start: int) -> Node:
        """``f(a, k = 1)``."""
        self.take("(")
        args = []
        while self.peek()[:2] != ("op", ")"):
            if self.peek()[0] == "name" and self.peek(1)[:2] == ("op", "="):
                _, key, s, _ = self.take()
                self.take("=")
                value = self.expr()
                args.append(Node("kw", key, (value,), s, value.end))
            else:
                args.append(self.expr())
            if self.peek()[:2] != ("op", ")"):
                self.take(",")
        return Node("call", func, tuple(args), start, self.take(")")[3])


# ============================================================ the one parse
def parse_formula(formula: str, *, require_random: bool = True) -> ParsedFormula:
    """The formula's tree: response, fixed part, offsets and expanded random terms (cached)."""
    if not isinstance(formula, str):
        raise FormulaError(f"the formula must be a string such as 'y ~ x + (1 | g)', not {type(formula).__name__}")
    parsed = _parse(formula)
    if require_random and not parsed.random:
        raise FormulaError(f"no random-effects term in '{formula}': add one such as '(1 | group)', or use "
                           "an ordinary regression (statsmodels.formula.api.ols) for a model without "
                           "random effects", formula)
    return parsed


def formula_names(formula: str) -> frozenset[str]:
    """All names a formula uses as data (candidate column names), after checking its syntax.

    Column names in backticks and ``Q("name")`` are honoured; a name used as a plain value is a column
    even when a function has the same name (``log``).
    """
    return parse_formula(formula, require_random=False).names


@functools.lru_cache(maxsize=256)
def parse_expression(text: str) -> Node:
    """One response or offset expression (``n - m``, ``log(size)``) as a tree, after the whitelist check."""
    _check_syntax(text)
    try:
        p = _Parser(text)
        node = p.expr()
        p.take("")
    except ValueError:
        raise FormulaError(f"cannot read '{text}'", text, text) from None
    return node


@functools.lru_cache(maxsize=256)
def _parse(formula: str) -> ParsedFormula:
    text = " ".join(formula.split())
    if text.count("~") != 1:
        raise FormulaError("a model formula needs exactly one '~' between response and predictors "
                           "(e.g. 'y ~ x + (1 | g)')", formula)
    if not text.split("~")[0].strip():
        raise FormulaError("the formula has no response on the left of '~'", formula)
    _check_parentheses(text, formula)
    try:
        p = _Parser(text)
        tree = p.expr()
        p.take("")
    except ValueError:
        _check_syntax(formula)                   # names what Python's syntax check finds first
        raise FormulaError("cannot read the formula", formula) from None
    if not (tree.kind == "op" and tree.value == "~" and len(tree.args) == 2):
        raise FormulaError("cannot read the formula: write it as 'response ~ predictors'", formula)
    parsed = _build(formula, text, tree)
    _check_syntax(formula)                       # the whitelist, before any part reaches an evaluator
    return parsed


def _build(formula: str, text: str, tree: Node) -> ParsedFormula:
    lhs, rhs = tree.args
    quote = lambda n: text[n.start:n.end].strip()                     # noqa: E731
    random, offsets, fixed, used = [], [], [], [lhs]
    for sign, node in _signed_terms(rhs):
        term = quote(node)
        if node.kind == "paren" and node.args[0].kind == "op" and node.args[0].value in _BARS:
            if sign == "-":
                raise FormulaError("a random-effects term cannot be subtracted", formula, term)
            random.extend(_random_terms(node.args[0], term, formula, quote))
            used.append(node.args[0].args[0])
            continue
        if "|" in term:
            raise _bar_error(term, formula)
        used.append(node)
        if node.kind == "call" and node.value == "offset":
            offsets.append(node)
        else:
            fixed.append((sign, node))
    fixed_terms = tuple((s, quote(n)) for s, n in fixed)
    fixed_text = " ".join(("- " if s == "-" else "+ ") + t for s, t in fixed_terms)
    fixed_text = fixed_text[2:] if fixed_text.startswith("+ ") else ("0 " + fixed_text if fixed_text else "1")
    grouping = {v.strip("`") for t in random for v in t.group_vars}
    resp_args = tuple(quote(a) for a in lhs.args) if lhs.kind == "call" and lhs.value == "cbind" else None
    return ParsedFormula(formula=formula, response=quote(lhs), fixed=fixed_text, random=tuple(random),
                         offsets=tuple(text[o.args[0].start:o.args[-1].end] if o.args else "" for o in offsets),
                         offset_nodes=tuple(o.args[0] if o.args else o for o in offsets), fixed_terms=fixed_terms or (("+", "1"),),
                         n_fixed_terms=min_fixed_terms(fixed), response_args=resp_args, text=text, tree=tree, names=_names(tree),
                         grouping_only=frozenset(grouping - set().union(*map(_names, used))))


def _signed_terms(node: Node, sign: str = "+", first: bool = True) -> list[tuple[str, Node]]:
    """The terms of a sum at its top level with their signs (a sign opening the sum is the first
    term's); a bar outside parentheses joins the terms either side of it (``x + 1 | g`` → ``x``,
    ``1 | g``) so its error can quote them."""
    rest = []
    while node.kind == "op" and len(node.args) == 2 and node.value in "+-":      # the left spine of a sum
        rest = _signed_terms(node.args[1], node.value, False) + rest
        node = node.args[0]
    if rest:
        return _signed_terms(node, sign, first) + rest
    binary = node.kind == "op" and len(node.args) == 2
    if first and node.kind == "op" and node.value in "+-" and len(node.args) == 1:
        return [(node.value, node.args[0])]
    if binary and node.value in _BARS:
        left, right = _signed_terms(node.args[0], sign, first), _signed_terms(node.args[1], "+", False)
        if not left or not right:
            return [(sign, node)]
        s, a = left[-1]
        joined = Node("op", node.value, (a, right[0][1]), a.start, right[0][1].end)
        return left[:-1] + [(s, joined)] + right[1:]
    return [] if node.kind == "empty" else [(sign, node)]


def _random_terms(bar: Node, source: str, formula: str, quote) -> list[RandomTerm]:
    """``(expr | group)`` expanded: ``||`` into uncorrelated terms, ``a/b`` into ``a`` and ``b:a``."""
    expr, group = bar.args
    if expr.kind == "empty":
        raise FormulaError(f"nothing before the bar in '{source}': write '(1 | {quote(group) or 'g'})' for a "
                           "random intercept", formula, source)
    if group.kind == "empty":
        raise FormulaError(f"no grouping factor after the bar in '{source}'", formula, source)
    if any(n.kind == "op" and n.value in _BARS for n in (*expr.walk(), *group.walk())):
        raise FormulaError(f"more than one bar in '{source}'", formula, source)
    groups = _expand_group(group, formula, quote)
    terms = tuple((s, quote(n)) for s, n in _signed_terms(expr))
    exprs = [(quote(expr), terms)]
    if bar.value == "||":
        intercept, cols = _intercept_and_terms(terms)
        exprs = ([("1", (("+", "1"),))] if intercept else []) + [(f"0 + {t}", (("+", "0"), ("+", t))) for t in cols]
    return [RandomTerm(e, g, source, t) for g in groups for e, t in exprs]


def _expand_group(group: Node, formula: str, quote) -> list[str]:
    """``a/b/c`` -> ``["a", "b:a", "c:(b:a)"]``, lme4's names (``expandSlash`` nests each new factor
    with the interaction before it: ``a/b/c/d`` gives ``d:(c:(b:a))`` last)."""
    whole, parts = group, []
    while group.kind == "op" and group.value == "/" and len(group.args) == 2:
        parts.append(group.args[1])
        group = group.args[0]
    parts = [quote(p) for p in [group, *reversed(parts)]]
    if any(not p for p in parts):
        raise FormulaError(f"empty grouping factor in '{quote(whole)}'", formula, quote(whole))
    out = parts[:1]
    for k, part in enumerate(parts[1:]):
        out.append(f"{part}:{out[-1]}" if k == 0 else f"{part}:({out[-1]})")
    return out


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


def _check_syntax(formula: str) -> None:
    """The whitelist of :mod:`mlmkit.spec.safe_eval` on the formula read as Python (R's operators are
    Python's once ``||``, ``~``, ``%in%`` and ``:`` are neutralised): no attribute access, subscripts
    or unknown calls ever reach an evaluator."""
    text = formula.replace("||", "|").replace("~", "+", 1).replace("%in%", "/").replace(":", "*")
    text, _ = protect_backticks(text)
    text = re.sub(r"^\s*\+", "", text)
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        frag = formula[max(0, (exc.offset or 1) - 3):(exc.offset or 1) + 3]
        raise FormulaError(f"cannot read the formula ({exc.msg})", formula, frag.strip() or None) from None
    check_tree(tree, text, formula)


def _names(tree: Node) -> frozenset[str]:
    """The names a (sub)tree uses as data: plain names (backticks removed) and ``Q("name")``."""
    names = set()
    for n in tree.walk():
        if n.kind == "name" and n.value not in ("True", "False", "None"):
            names.add(n.value[1:-1] if n.value.startswith("`") else n.value)
        elif n.kind == "call" and n.value == "Q":
            names.update(a.value[1:-1] for a in n.args if a.kind == "str")
    return frozenset(names)


# ============================================================ R's deparse of the tree
def deparse_formula(text: str, cutoff: int = 60) -> list[str]:
    """R's ``deparse()`` of a formula, as lme4's "Formula:" line shows it, printed from the tree.

    Binary operators get spaces (``a + b``, ``x | g``) except ``/ : ^`` (R's PP_BINARY2); calls print
    as ``f(x, k = 1)``, numbers with 15 significant digits, strings in double quotes.  After an
    operator or comma that ends past column ``cutoff`` a new line starts, indented 4 spaces per open
    break.  Text that is not a formula comes back with its whitespace collapsed.
    """
    try:
        tree = parse_formula(text, require_random=False).tree
    except FormulaError:
        return [" ".join(text.split())]
    printer = _Printer(cutoff)
    printer.node(tree)
    return printer.lines + [printer.buf]


class _Printer:
    """R's deparse line breaking: prints nodes in text order, breaking after operators and commas."""

    def __init__(self, cutoff: int):
        self.cutoff, self.buf, self.indent, self.lines = cutoff, "", 0, []

    def put(self, piece: str) -> None:
        self.buf = (self.buf or "".join("    " if k < 4 else "  " for k in range(self.indent))) + piece

    def brk(self, broken: bool) -> bool:
        """Start a new line if this one ends past the cutoff; the first break of a construct indents."""
        if len(self.buf) <= self.cutoff:
            return broken
        self.indent += not broken
        self.lines.append(self.buf)
        self.buf = ""
        return True

    def node(self, n: Node) -> None:
        if n.kind == "op" and len(n.args) == 1:
            self.put(n.value)
            self.node(n.args[0])
        elif n.kind == "op":
            spine = []
            while n.kind == "op" and len(n.args) == 2:            # the left spine without recursion
                spine.append(n)
                n = n.args[0]
            self.node(n)
            for op in reversed(spine):
                self.put(op.value if op.value in _TIGHT else f" {op.value} ")
                broken = False if op.value in _TIGHT else self.brk(False)
                self.node(op.args[1])
                self.indent -= broken
        elif n.kind == "paren":
            self.put("(")
            self.node(n.args[0])
            self.put(")")
        elif n.kind == "call":
            self.call(n)
        elif n.kind == "kw":
            self.put(n.value + " = ")
            self.node(n.args[0])
        else:
            self.put(r_format([float(n.value)], 15)[0] if n.kind == "num" else
                     '"' + n.value[1:-1].replace('"', '\\"') + '"' if n.kind == "str" else n.value)

    def call(self, n: Node) -> None:
        """``f(a, k = 1)``: arguments separated by ", ", a line break allowed after each comma."""
        self.put(n.value + "(")
        broken = False
        for k, a in enumerate(n.args):
            self.node(a)
            if k < len(n.args) - 1:
                self.put(", ")
                broken = self.brk(broken)
        self.indent -= broken
        self.put(")")
