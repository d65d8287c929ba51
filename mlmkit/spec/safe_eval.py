"""Read formula expressions without running arbitrary Python.

A formula must never reach ``eval``: a course kit runs on shared JupyterHubs and graders, and
``().__class__.__base__.__subclasses__()`` reaches the whole interpreter.  :func:`check_tree` checks
a formula's syntax against a whitelist (column names, numbers, strings, operators, calls of
:data:`FORMULA_FUNCTIONS`, also ``np.log``-style for :data:`NUMPY_FUNCTIONS`; no other attribute
access, no subscripts, lambdas, comprehensions or ``__`` names); :func:`safe_evaluate` evaluates
response and offset expressions with a small interpreter that knows only columns, numbers, operators
and :data:`EVAL_FUNCTIONS`.  Anything else raises :class:`~mlmkit.errors.FormulaError` quoting it.
"""
from __future__ import annotations

import ast
import operator
import re

import numpy as np

from ..errors import DataError, FormulaError

__all__ = ["FORMULA_FUNCTIONS", "EVAL_FUNCTIONS", "NUMPY_FUNCTIONS", "check_tree",
           "safe_evaluate", "protect_backticks"]


def _scale(x):
    """R's ``scale()``: centre, and divide by the sample standard deviation."""
    x = np.asarray(x, float)
    return (x - x.mean()) / x.std(ddof=1)


def _identity(x):
    return x


#: numpy functions a formula may call as ``log(x)``, ``np.log(x)`` or ``numpy.log(x)``.
NUMPY_FUNCTIONS = {name: getattr(np, name) for name in (
    "log", "log2", "log10", "log1p", "exp", "expm1", "sqrt", "abs", "sin", "cos", "tan", "arcsin", "arccos",
    "arctan", "sinh", "cosh", "tanh", "round", "floor", "ceil", "square", "power", "sign", "maximum",
    "minimum", "clip", "where", "isnan")}

#: what a response or offset expression may call (mlmkit evaluates these itself).
EVAL_FUNCTIONS = {**{k: NUMPY_FUNCTIONS[k] for k in ("log", "log2", "log10", "log1p", "exp", "sqrt", "abs",
                                                     "sin", "cos", "tan", "round", "floor", "ceil")},
                  "scale": _scale, "I": _identity, "offset": _identity, "pow": np.power}

#: what a formula may call anywhere (the fixed part is evaluated by formulaic, which knows these).
FORMULA_FUNCTIONS = frozenset({*NUMPY_FUNCTIONS, *EVAL_FUNCTIONS, "C", "Q", "cbind", "center", "standardize",
                               "poly", "bs", "factor", "as_factor", "T", "lag", "Treatment", "Sum",
                               "Helmert", "Diff", "Poly", "min", "max", "int", "float", "str"})

_NAMESPACES = frozenset({"np", "numpy"})
_CONTRAST_NAMESPACE = "contr"           # formulaic's contr.treatment(...), contr.sum(...)
_CONTRASTS = frozenset({"treatment", "sum", "helmert", "diff", "poly", "custom"})
_PLACEHOLDER = "_mlmkit_bt{}_"

_ALLOWED = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Compare, ast.Name, ast.Constant, ast.Call, ast.Load,
            ast.operator, ast.unaryop, ast.cmpop, ast.keyword, ast.List, ast.Tuple, ast.Attribute)


def protect_backticks(text: str) -> tuple[str, dict[str, str]]:
    """Replace each ```name``` by a Python identifier; return the text and {identifier: name}."""
    names: dict[str, str] = {}

    def repl(m):
        key = _PLACEHOLDER.format(len(names))
        names[key] = m.group(1)
        return key

    return re.sub(r"`([^`]+)`", repl, text), names


def _source(node, text: str) -> str:
    return (ast.get_source_segment(text, node) or ast.unparse(node)).strip()


def _allowed_attribute(node: ast.Attribute) -> bool:
    base = node.value.id if isinstance(node.value, ast.Name) else None
    if base in _NAMESPACES:
        return node.attr in NUMPY_FUNCTIONS
    return base == _CONTRAST_NAMESPACE and node.attr in _CONTRASTS


def check_tree(tree: ast.AST, text: str, formula: str | None = None) -> None:
    """Raise FormulaError unless ``tree`` uses only whitelisted syntax (see the module docstring)."""
    formula = formula if formula is not None else text
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED):
            what = type(node).__name__.lower()
            raise FormulaError(f"a formula may not contain this Python construct ({what}): '{_source(node, text)}'. "
                               "Formulas use column names, numbers, arithmetic and functions such as log(), "
                               "exp(), sqrt(), I(), scale(), C() and Q()", formula, _source(node, text))
        if isinstance(node, ast.Name) and node.id.startswith("__"):
            raise FormulaError(f"'{node.id}' is not allowed in a formula", formula, node.id)
        if isinstance(node, ast.Constant) and not isinstance(node.value, (int, float, str, bool, type(None))):
            raise FormulaError(f"unsupported constant '{_source(node, text)}' in the formula", formula,
                               _source(node, text))
        if isinstance(node, ast.Attribute) and not (id(node) in called and _allowed_attribute(node)):
            _attribute_error(node, text, formula)
        if isinstance(node, ast.Call):
            _check_call(node, text, formula)


def _attribute_error(node: ast.Attribute, text: str, formula: str):
    src, parts, base = _source(node, text), [], node
    while isinstance(base, ast.Attribute):        # Days.n: an attribute chain of plain names
        parts.append(base.attr)
        base = base.value
    dotted = ".".join([base.id, *reversed(parts)]) if isinstance(base, ast.Name) else None
    if dotted is not None and not any(p.startswith("__") for p in dotted.split(".")) \
            and dotted.split(".")[0] not in _NAMESPACES:
        raise FormulaError(f"'{src}' reads as attribute access in a Python formula. If '{dotted}' is a column "
                           f"name with a dot (R style), write it in backticks: `{dotted}`", formula, src)
    raise FormulaError(f"attribute access '{src}' is not allowed in a formula; use functions such as log(), "
                       "exp(), sqrt() (or np.log(), np.exp(), ...)", formula, src)


def _check_call(node: ast.Call, text: str, formula: str):
    func = node.func
    if not ((isinstance(func, ast.Name) and func.id in FORMULA_FUNCTIONS) or
            (isinstance(func, ast.Attribute) and _allowed_attribute(func))):
        src = _source(func, text)
        raise FormulaError(f"unknown function '{src}' in the formula; formulas may call functions such as "
                           "log, exp, sqrt, abs, scale, I, C, Q, poly (also as np.log, np.exp, ...)", formula, src)
    for kw in node.keywords:
        if kw.arg is None:
            raise FormulaError("'**' arguments are not allowed in a formula", formula, _source(node, text))


# --- the interpreter for response and offset expressions -------------------------------------------
_BINARY = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv, "^": operator.pow,
           "**": operator.pow, "%": operator.mod, "%%": operator.mod, "%/%": operator.floordiv, "<": operator.lt,
           "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq, "!=": operator.ne}
_UNARY = {"-": operator.neg, "+": operator.pos}


def safe_evaluate(node, text: str, cols, formula: str | None = None):
    """Value of a response/offset expression (``n - m``, ``log(size)``: its parsed
    :class:`~mlmkit.spec.formula.Node`, spans indexing ``text``) on ``cols``, a mapping of column
    names to arrays; a column whose name is also a function's (``log``) is the column as a name."""
    return _Interpreter(cols, text, formula if formula is not None else text).run(node)


class _Interpreter:
    def __init__(self, cols, text, formula):
        self.cols, self.text, self.formula = cols, text, formula

    def fail(self, message, node):
        src = self.text[node.start:node.end].strip()
        raise FormulaError(message.replace("{src}", src), self.formula, src)

    def column(self, name, node):
        if name in self.cols:
            return self.cols[name]
        raise DataError(f"unknown column '{name}' in '{self.formula}'")

    def run(self, node):
        kind, value, args = node.kind, node.value, node.args
        if kind == "paren":
            return self.run(args[0])
        if kind == "num":
            return int(value) if value.isdigit() else float(value)
        if kind == "name" and value not in ("True", "False", "None"):
            return self.column(value[1:-1] if value.startswith("`") else value, node)
        ops = _BINARY if len(args) == 2 else _UNARY
        if kind == "op" and value in ops:
            return self.apply(ops[value], args, node)
        if kind == "call":
            return self.call(node)
        if kind in ("str", "name"):
            return self.fail("'{src}' is not a number or a column here", node)
        return self.fail("'{src}' cannot be evaluated in a response or offset", node)

    def call(self, node):
        space, _, name = node.value.rpartition(".")
        if any(a.kind == "kw" for a in node.args):
            return self.fail("keyword arguments are not supported in '{src}'", node)
        if name == "Q" and not space:
            if len(node.args) != 1 or node.args[0].kind != "str":
                return self.fail("Q() takes one quoted column name, as in Q(\"my column\"): '{src}'", node)
            return self.column(node.args[0].value[1:-1], node)
        fn = NUMPY_FUNCTIONS.get(name) if space else EVAL_FUNCTIONS.get(name)
        if fn is None:
            return self.fail("the function in '{src}' cannot be used in a response or offset", node)
        return self.apply(fn, node.args, node)

    def apply(self, fn, args, node):
        values = [self.run(a) for a in args]
        try:
            return fn(*values)
        except Exception as exc:  # noqa: BLE001 - re-raised naming the expression
            return self.fail(f"cannot evaluate '{{src}}' ({type(exc).__name__}: {exc})", node)
