"""R's printing machinery, re-implemented digit for digit (R 4.2.2, ``options(digits = 7, width = 80)``).

``format``/``formatReal`` (:func:`r_format`), ``round`` (:func:`r_round`), ``zapsmall``, ``abbreviate``,
``format.pval``, ``cat(fill = TRUE)``, ``strwrap``, named-vector and matrix printing (``deparse`` of a
formula prints its parsed tree: :func:`mlmkit.spec.formula.deparse_formula`).  :mod:`mlmkit.display` lays out lme4's summaries with them;
:mod:`mlmkit.inference.anova` its tables.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["r_format", "r_round", "r_abbreviate"]

_WIDTH = 80          # options("width")
_LOWER = "abcdefghijklmnopqrstuvwxyz"   # C islower() in R's C locale


# ============================================================ R's number formatting
_TBL = [np.longdouble(10) ** k for k in range(28)]   # exact in x87 extended precision, as R's table
_KP_MAX = 27


def _scientific(x: float, digits: int) -> tuple[int, int, int, bool]:
    """R's ``scientific()`` (format.c): sign, exponent kpower, significant digits nsig, and whether
    rounding widens x.  |x| = alpha 10^kpower, alpha rounded to ``digits`` digits in long double
    (as R on x86-64); nsig counts alpha's digits without trailing zeros."""
    if x == 0.0:
        return 0, 0, 1, False
    neg, r = int(x < 0), abs(x)
    if digits >= 16:
        mant, exp = (f"%.{digits - 1}e" % r).split("e")
        return neg, int(exp), max(len(mant.replace(".", "").rstrip("0")), 1), False
    kp = math.floor(math.log10(r)) - digits + 1
    r_prec = np.longdouble(r)
    if abs(kp) <= _KP_MAX:
        r_prec = r_prec / _TBL[kp] if kp >= 0 else r_prec * _TBL[-kp]
    else:
        r_prec = r_prec / np.power(np.longdouble(10), kp)
    if r_prec < _TBL[digits - 1]:
        r_prec, kp = r_prec * 10, kp - 1
    alpha, nsig = float(np.rint(r_prec)), digits
    while nsig > 0 and (alpha := alpha / 10.0) == math.floor(alpha):
        nsig -= 1
    if nsig == 0:
        nsig, kp = 1, kp + 1
    kpower = kp + digits - 1
    rgt = min(max(digits - kpower, 0), _KP_MAX)
    widens = 0 < kpower <= _KP_MAX and np.longdouble(r) < _TBL[kpower] - np.longdouble(0.5 / float(_TBL[rgt]))
    return neg, kpower, nsig, bool(widens)


def r_format(values, digits: int = 7, nsmall: int = 0) -> list[str]:
    """R's ``format(x, digits, nsmall)`` of a numeric vector (``formatReal``, scipen = 0).

    All values share width and decimals: fixed notation with the most decimals any value needs to
    show ``digits`` significant digits, unless scientific notation is narrower.
    """
    x = [float(v) for v in np.ravel(np.asarray(values, dtype=float))]
    neg, rgt, mxl, mnl, mxsl, mxns = 0, -10**9, -10**9, 10**9, -10**9, None
    for v in filter(math.isfinite, x):
        neg_i, kpower, nsig, widens = _scientific(v, digits)
        left = kpower + 1 - widens
        rgt, mxl, mnl = max(rgt, nsig - left), max(mxl, left), min(mnl, left)
        mxsl, mxns, neg = max(mxsl, neg_i + max(left, 1)), max(mxns or 0, nsig), neg | neg_i
    w = d = e = 0
    if mxns is not None:
        mxsl, rgt = (1 + neg if mxl < 0 else mxsl), max(rgt, 0)
        e, d = (2 if (mxl > 100 or mnl <= -99) else 1), mxns - 1
        w = neg + (d > 0) + d + 4 + e
        if mxsl + rgt + (rgt != 0) <= w:
            e, d = 0, max(rgt, nsmall)
            w = mxsl + d + (d != 0)
    special = {v: ("NaN" if math.isnan(v) else "Inf" if v > 0 else "-Inf") for v in x if not math.isfinite(v)}
    w = max([w] + [len(t) for t in special.values()])
    fmt = (f"%#{w}.{d}e" if d else f"%{w}.{d}e") if e else f"%{w}.{d}f"
    return [special[v].rjust(w) if v in special else fmt % (v + 0.0) for v in x]


def _pow_di(x: float, n: int) -> float:
    """R_pow_di: x^n by repeated squaring (the power of ten R's round() divides by)."""
    xn, m = 1.0, abs(n)
    while m:
        xn, m, x = (xn * x if m & 1 else xn), m >> 1, (x * x if m > 1 else x)
    return 1.0 / xn if n < 0 else xn


def r_round(x: float, digits: float = 0) -> float:
    """R (>= 4.0.0)'s ``round(x, digits)``: the nearer of the two decimal candidates, ties to even."""
    x = float(x)
    if not math.isfinite(x) or x == 0.0 or digits > 323 or digits < -308:
        return 0.0 if digits < -308 and math.isfinite(x) else x
    if digits == 0:
        return float(np.rint(x))
    dig, sgn, x = math.floor(digits + 0.5), math.copysign(1.0, x), abs(x)
    if math.log10(2) * (0.5 + math.frexp(x)[1] - 1) + dig > 15:     # more digits than a double has
        return sgn * x
    p10 = _pow_di(10.0, dig)
    i10 = math.floor(x * p10)
    xd, xu = i10 / p10, math.ceil(x * p10) / p10
    return sgn * (xu if (xu - x < x - xd or (math.fmod(i10, 2.0) == 1 and xu - x == x - xd)) else xd)


def _zapsmall(x, digits: int) -> list[float]:
    """R 4.2's ``zapsmall``: round to ``digits - log10(max |x|)`` decimals."""
    mx = max((abs(v) for v in x if not math.isnan(v)), default=0.0)
    d = max(0.0, digits - math.log10(mx)) if mx > 0 else digits
    return [r_round(v, d) for v in x]


def _strip(s: str, minlen: int) -> str:
    """R's C ``stripchars`` (abbreviate): from the end, drop lower-case vowels ending a word, then
    any not starting one, then the same for lower-case letters, then any character; blanks separate
    words (and go at the end) but do not count."""
    b = list(s.lstrip())
    if len(b) < minlen:
        return "".join(b)
    upper, nspace, trailing = len(b) - 1, 0, True

    def done():
        return len(b) - nspace <= minlen

    def first(i):
        return b[i - 1].isspace()

    def last(i):
        return not b[i - 1].isspace() and (i + 1 >= len(b) or b[i + 1].isspace())

    for i in range(upper, 0, -1):
        trailing = trailing and b[i].isspace()
        if trailing:
            del b[i:]
        nspace += b[i].isspace() if not trailing else 0
        if done():
            break
    rules = [lambda i: b[i] in "aeiou" and last(i), lambda i: b[i] in "aeiou" and not first(i),
             lambda i: b[i] in _LOWER and last(i), lambda i: b[i] in _LOWER and not first(i), None]
    for rule in rules if not done() else []:
        for i in range(upper if rule else len(b) - 1, 0, -1):
            if i < len(b) and (rule(i) if rule else not first(i) and not b[i].isspace()):
                del b[i]
            if done():
                break
        if done():
            break
    return "".join(b[:1] + [c for c in b[1:] if not c.isspace()] if len(b) > minlen else b)


def r_abbreviate(names, minlength: int = 4) -> list[str]:
    """R's ``abbreviate(names, minlength)`` ("left.kept"): clashing abbreviations are redone longer."""
    names = [str(n).strip(" ") for n in names]
    uniq = list(dict.fromkeys(names))
    x, redo = list(uniq), range(len(uniq))
    while True:
        for i in redo:
            x[i] = _strip(uniq[i], minlength)
        clash = {v for i, v in enumerate(x) if x.index(v) != i}
        if not clash:
            return [dict(zip(uniq, x))[n] for n in names]
        minlength, redo = minlength + 1, [i for i, v in enumerate(x) if v in clash]


# ============================================================ R's printing layouts
def _cat_fill(items, sep: str = " ", width: int = _WIDTH) -> list[str]:
    """``cat(..., fill = TRUE)``: items joined by ``sep``, a new line before an item that would pass ``width``."""
    lines, cur, w = [], "", 0
    for k, item in enumerate(items):
        if k:
            cur += sep
            if w + len(item) + len(sep) > width:
                lines.append(cur)
                cur, w = "", 0
        cur += item
        w += len(item) + len(sep)
    return lines + [cur]


def _strwrap(text: str, width: int, exdent: int = 0) -> list[str]:
    """``strwrap`` of one paragraph of single-spaced words: a line holds the words whose lengths
    plus one sum to at most ``width`` (``width - exdent`` after the first line)."""
    words, lines = text.split(), []
    while words:
        ends = np.cumsum([len(w) + 1 for w in words])
        k = max(int((ends <= width - (exdent if lines else 0)).sum()), 1)
        lines.append(" " * (exdent if lines else 0) + " ".join(words[:k]))
        words = words[k:]
    return lines


def _print_named(values: list[str], names: list[str], width: int = _WIDTH) -> list[str]:
    """Print a named vector (values already formatted): right-justified columns, trailing gap."""
    w = max([len(v) for v in values] + [len(n) for n in names])
    per = max(width // (w + 1), 1)
    return ["".join(t.rjust(w) + " " for t in texts[i:i + per])
            for i in range(0, len(values), per) for texts in (names, values)]


def _print_matrix(cells: list[list[str]], rownames: list[str], colnames: list[str], right: bool,
                  width: int = _WIDTH) -> list[str]:
    """``print(<character matrix>, quote = FALSE, right = right)``, in column blocks fitting ``width``."""
    rw, ncol = max((len(r) for r in rownames), default=0), len(colnames)
    w = [max([len(colnames[j])] + [len(row[j]) for row in cells]) for j in range(ncol)]
    just, out, jmin = (str.rjust if right else str.ljust), [], 0
    while jmin < ncol:
        jmax, total = jmin + 1, rw + w[jmin] + 1
        while jmax < ncol and total + w[jmax] + 1 < width:
            total, jmax = total + w[jmax] + 1, jmax + 1
        out.append(" " * rw + "".join(" " + just(colnames[j], w[j]) for j in range(jmin, jmax)))
        out += [rn.ljust(rw) + "".join(" " + just(row[j], w[j]) for j in range(jmin, jmax))
                for rn, row in zip(rownames, cells)]
        jmin = jmax
    return out


def _format_pval(pv: np.ndarray, digits: int, eps: float = 2.220446049250313e-16) -> list[str]:
    """R's ``format.pval``: values >= 1e-4 (digits > 1) in fixed notation, smaller ones together in
    their own format, values below machine epsilon as ``<2e-16``."""
    out, small = [""] * len(pv), pv < eps
    expo = np.floor(np.log10(np.where(pv > 0, pv, 1e-50)))
    fixp = ~small & ((expo >= -3) | ((expo == -4) & (digits > 1)))
    for group in (np.flatnonzero(fixp), np.flatnonzero(~small & ~fixp)):
        for i, txt in zip(group, r_format(pv[group], digits)):
            out[i] = txt
    if small.any():
        d, nc = max(1, digits - 2), max((len(out[i]) for i in np.flatnonzero(~small)), default=None)
        if nc is not None and d > 1 and d + 6 > nc:
            d = max(1, nc - 7)
        sep = "" if d == 1 and (nc is None or nc <= 6) else " "
        for i in np.flatnonzero(small):
            out[i] = "<" + sep + r_format([eps], d)[0]
    return out
