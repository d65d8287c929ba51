"""Model summaries: a :class:`Summary` holds the numbers, two renderers lay them out.

``summarize(m)`` (what ``m.summary()`` returns) collects what lme4's ``summary(m)`` shows: the
fitting criterion (REML criterion, or AIC/BIC/logLik/deviance/df.resid), quantiles of the scaled
Pearson residuals, the random-effects variances, standard deviations and correlations, the group
counts, the fixed-effects table (t values for lmer; z values and Pr(>|z|) for glmer) and the
correlation of the fixed effects.  ``str(summary)`` reproduces lme4 1.1-31's printed layout digit for
digit, because it re-implements R's number formatting (``format``/``formatReal``, ``round``,
``zapsmall``, ``printCoefmat``, ``abbreviate``, ``cat(fill = TRUE)`` and matrix printing) with R's
defaults (``digits = 4`` for summaries, width 80).  ``summary._repr_html_()`` shows the same numbers
as small HTML tables in JupyterLab.

Deliberate differences from lme4's text, all additive:

* the ``Data:`` line needs the R variable name, which Python cannot know: it is printed only when
  ``summarize(m, data_name="sleepstudy")`` is given one (or the result has a ``data_name``);
* rows dropped for missing values are reported after the "Number of obs" line;
* the optimizer line names mlmkit's optimizer instead of lme4's (``nloptwrap``, ``Nelder_Mead``);
* when the correlation of fixed effects is suppressed (p > 12) the note lme4 sends to stderr is
  part of the text, pointing at ``summarize(m, correlation=True)``.
"""
from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.special import ndtr

from .errors import ParameterError

__all__ = ["Summary", "VarCorr", "summarize", "render_text", "render_html", "print_varcorr",
           "r_format", "r_round", "r_abbreviate"]

_WIDTH = 80          # options("width")
_COR_MAX = 12        # options("lme4.summary.cor.max")
_SINGULAR = "boundary (singular) fit: see help('isSingular')"
_LEGEND = "0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1"


# ============================================================ R's number formatting
_TBL = [np.longdouble(10) ** k for k in range(28)]   # exact in x87 extended precision, as R's table
_KP_MAX = 27


def _scientific(x: float, digits: int) -> tuple[int, int, int, bool]:
    """R's ``scientific()`` (format.c): sign, decimal exponent, significant digits needed, widening.

    |x| = alpha 10^kpower with alpha rounded to ``digits`` significant digits in long double, and
    nsig the digits left after dropping alpha's trailing zeros.
    """
    if x == 0.0:
        return 0, 0, 1, False
    neg, r = int(x < 0), abs(x)
    if digits >= 16:
        mant, exp = (f"%.{digits - 1}e" % r).split("e")
        return neg, int(exp), max(len(mant.replace(".", "").rstrip("0")), 1), False
    kp = math.floor(math.log10(r)) - digits + 1
    r_prec = np.longdouble(r)
    if abs(kp) <= _KP_MAX:
        r_prec = r_prec / _TBL[kp] if kp > 0 else (r_prec * _TBL[-kp] if kp < 0 else r_prec)
    else:
        r_prec = r_prec / np.power(np.longdouble(10), kp)
    if r_prec < _TBL[digits - 1]:
        r_prec *= 10
        kp -= 1
    alpha = float(np.rint(r_prec))
    nsig = digits
    for _ in range(digits):
        alpha /= 10.0
        if alpha != math.floor(alpha):
            break
        nsig -= 1
    if nsig == 0:
        nsig, kp = 1, kp + 1
    kpower = kp + digits - 1
    rgt = min(max(digits - kpower, 0), _KP_MAX)
    widens = 0 < kpower <= _KP_MAX and np.longdouble(r) < _TBL[kpower] - np.longdouble(0.5 / float(_TBL[rgt]))
    return neg, kpower, nsig, bool(widens)


def r_format(values, digits: int = 7, nsmall: int = 0) -> list[str]:
    """R's ``format(x, digits, nsmall)`` of a numeric vector: one common width, decimals and style.

    Each value needs ``nsig`` significant digits (at most ``digits``) to show it to ``digits``
    significant digits; fixed notation gets the most decimals any value needs and is used unless
    scientific notation is narrower (``formatReal`` with ``scipen = 0``).
    """
    x = [float(v) for v in np.ravel(np.asarray(values, dtype=float))]
    fin = [v for v in x if math.isfinite(v)]
    neg, rgt, mxl, mnl, mxsl, mxns = 0, -10**9, -10**9, 10**9, -10**9, None
    for v in fin:
        neg_i, kpower, nsig, widens = _scientific(v, digits)
        left = kpower + 1 - widens
        rgt = max(rgt, nsig - left)
        mxl, mnl = max(mxl, left), min(mnl, left)
        mxsl = max(mxsl, neg_i + (1 if left <= 0 else left))
        mxns = nsig if mxns is None else max(mxns, nsig)
        neg |= neg_i
    w = d = e = 0
    if mxns is not None:
        if mxl < 0:
            mxsl = 1 + neg
        rgt = max(rgt, 0)
        w_fixed = mxsl + rgt + (rgt != 0)
        e = 2 if (mxl > 100 or mnl <= -99) else 1
        d = mxns - 1
        w = neg + (d > 0) + d + 4 + e
        if w_fixed <= w:
            e, rgt = 0, max(rgt, nsmall)
            d, w = rgt, mxsl + rgt + (rgt != 0)
    if any(math.isnan(v) for v in x) or any(math.isinf(v) and v > 0 for v in x):
        w = max(w, 3)
    if any(math.isinf(v) and v < 0 for v in x):
        w = max(w, 4)
    out = []
    for v in x:
        if math.isnan(v):
            out.append("NaN".rjust(w))
        elif math.isinf(v):
            out.append(("Inf" if v > 0 else "-Inf").rjust(w))
        elif e:
            out.append((f"%#{w}.{d}e" if d else f"%{w}.{d}e") % (v + 0.0))
        else:
            out.append(f"%{w}.{d}f" % (v + 0.0))
    return out


def _pow_di(x: float, n: int) -> float:
    """R_pow_di: x^n by repeated squaring (what R's round() divides by)."""
    xn, neg, n = 1.0, n < 0, abs(n)
    while True:
        if n & 1:
            xn *= x
        n >>= 1
        if not n:
            break
        x *= x
    return 1.0 / xn if neg else xn


def r_round(x: float, digits: float = 0) -> float:
    """R (>= 4.0.0)'s ``round(x, digits)``: the nearer of the two decimal candidates, ties to even."""
    x = float(x)
    if not math.isfinite(x) or x == 0.0 or digits > 323:
        return x
    if digits < -308:
        return 0.0
    if digits == 0:
        return float(np.rint(x))
    dig = math.floor(digits + 0.5)
    sgn, x = (-1.0, -x) if x < 0 else (1.0, x)
    if math.log10(2) * (0.5 + math.frexp(x)[1] - 1) + dig > 15:
        return sgn * x
    p10 = _pow_di(10.0, dig)
    x10 = x * p10
    i10 = math.floor(x10)
    xd, xu = i10 / p10, math.ceil(x10) / p10
    du, dd = xu - x, x - xd
    return sgn * (xu if (du < dd or (math.fmod(i10, 2.0) == 1 and du == dd)) else xd)


def _zapsmall(x, digits: int) -> list[float]:
    """R 4.2's ``zapsmall``: round to ``digits - log10(max |x|)`` decimals."""
    mx = max((abs(v) for v in x if not math.isnan(v)), default=0.0)
    d = max(0.0, digits - math.log10(mx)) if mx > 0 else digits
    return [r_round(v, d) for v in x]


def _strip(s: str, minlen: int, usecl: bool = True) -> str:
    """R's C ``stripchars`` (abbreviate): drop lower-case vowels, then lower-case letters, from the end."""
    b = list(s.lstrip())
    if len(b) < minlen:
        return "".join(b)
    nspace, upper = 0, len(b) - 1

    def short():
        return len(b) - nspace <= minlen

    def first(i):
        return b[i - 1].isspace()

    def last(i):
        return not b[i - 1].isspace() and (i + 1 >= len(b) or b[i + 1].isspace())

    done, trailing = False, True
    for i in range(upper, 0, -1):   # trailing blanks go; inner blanks are word boundaries
        if b[i].isspace():
            if trailing:
                del b[i:]
            else:
                nspace += 1
        else:
            trailing = False
        if short():
            done = True
            break
    vowel = "aeiou".__contains__
    rules = [lambda i: vowel(b[i]) and last(i), lambda i: vowel(b[i]) and not first(i),
             lambda i: b[i].islower() and b[i].isascii() and last(i),
             lambda i: b[i].islower() and b[i].isascii() and not first(i)] if usecl else []
    for rule in rules:
        if done:
            break
        for i in range(upper, 0, -1):
            if i < len(b) and rule(i):
                del b[i]
            if short():
                done = True
                break
    if not done:
        for i in range(len(b) - 1, 0, -1):
            if not first(i) and not b[i].isspace():
                del b[i]
            if short():
                break
    if len(b) > minlen:
        b = [b[0]] + [c for c in b[1:] if not c.isspace()]
    return "".join(b)


def r_abbreviate(names, minlength: int = 4) -> list[str]:
    """R's ``abbreviate(names, minlength)`` (method "left.kept"): unique abbreviations, lengthened on clashes."""
    names = [str(n).strip(" ") for n in names]
    uniq = list(dict.fromkeys(names))
    x = list(uniq)
    these = list(range(len(uniq)))
    while True:
        for i in these:
            x[i] = _strip(uniq[i], minlength)
        dup = [x.index(v) != i for i, v in enumerate(x)]
        if not any(dup):
            break
        minlength += 1
        clash = {x[i] for i in range(len(x)) if dup[i]}
        these = [i for i in range(len(x)) if dup[i] or x[i] in clash]
    lookup = dict(zip(uniq, x))
    return [lookup[n] for n in names]


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
    """``strwrap`` for one paragraph of single-spaced words."""
    words, lines, maxlen = text.split(), [], width
    while words:
        total, k = 0, 0
        for wd in words:
            total += len(wd) + 1
            if total > maxlen:
                break
            k += 1
        k = max(k, 1)
        lines.append((" " * exdent if lines else "") + " ".join(words[:k]))
        words, maxlen = words[k:], width - exdent
    return lines


def _print_named(values: list[str], names: list[str], width: int = _WIDTH) -> list[str]:
    """Print a named vector (values already formatted): right-justified columns, trailing gap."""
    w = max([len(v) for v in values] + [len(n) for n in names])
    per = max(width // (w + 1), 1)
    out = []
    for i in range(0, len(values), per):
        out.append("".join(n.rjust(w) + " " for n in names[i:i + per]))
        out.append("".join(v.rjust(w) + " " for v in values[i:i + per]))
    return out


def _print_matrix(cells: list[list[str]], rownames: list[str], colnames: list[str], right: bool,
                  width: int = _WIDTH) -> list[str]:
    """``print(<character matrix>, quote = FALSE, right = right)``, in column blocks fitting ``width``."""
    rw = max((len(r) for r in rownames), default=0)
    ncol = len(colnames)
    w = [max([len(colnames[j])] + [len(row[j]) for row in cells]) for j in range(ncol)]
    out, jmin = [], 0
    while jmin < ncol:
        jmax, total = jmin, rw
        while True:
            total += w[jmax] + 1
            jmax += 1
            if not (jmax < ncol and total + w[jmax] + 1 < width):
                break
        cols = range(jmin, jmax)
        just = str.rjust if right else str.ljust
        out.append(" " * rw + "".join(" " + just(colnames[j], w[j]) for j in cols))
        for rn, row in zip(rownames, cells):
            out.append(rn.ljust(rw) + "".join(" " + just(row[j], w[j]) for j in cols))
        jmin = jmax
    return out


# ============================================================ formulas as R deparses them
_TOKEN = re.compile(r"\s*(?:(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)|(?P<name>`[^`]*`|[A-Za-z_.][\w.]*)"
                    r"|(?P<str>\"[^\"]*\"|'[^']*')|(?P<op>%[^%]*%|\*\*|\|\||&&|==|!=|<=|>=|[-+*/^:~|&!<>=(),]))")
_BINARY = {"~": 10, "||": 20, "|": 20, "&&": 30, "&": 30, "==": 50, "!=": 50, "<": 50, ">": 50, "<=": 50,
           ">=": 50, "+": 60, "-": 60, "*": 70, "/": 70, ":": 90, "^": 110, "**": 110}
_UNARY = {"-": 100, "+": 100, "!": 40, "~": 10}
_TIGHT = {"/", ":", "^", "**", "%%", "%/%"}      # R's PP_BINARY2: no spaces, no line break


def _parse_formula(text: str):
    toks, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise ValueError(text[pos:])
        kind = m.lastgroup
        toks.append((kind, m.group(kind)))
        pos = m.end()
    toks.append(("end", ""))
    i = 0

    def peek(k=0):
        return toks[min(i + k, len(toks) - 1)]

    def take(expected=None):
        nonlocal i
        tok = toks[i]
        if expected is not None and tok[1] != expected:
            raise ValueError(tok[1])
        i += 1
        return tok

    def lbp(tok):
        if tok[0] != "op":
            return 0
        if tok[1].startswith("%"):
            return 80
        return _BINARY.get(tok[1], 0)

    def expr(rbp=0):
        kind, val = take()
        if kind == "op" and val == "(":
            left = ("paren", expr())
            take(")")
        elif kind == "op" and val in _UNARY:
            left = ("unary", val, expr(_UNARY[val]))
        elif kind in ("num", "name", "str"):
            left = (kind, val)
            while kind == "name" and peek() == ("op", "("):
                take("(")
                args = []
                while peek() != ("op", ")"):
                    key = take()[1] if peek()[0] == "name" and peek(1) == ("op", "=") else None
                    if key is not None:
                        take("=")
                    args.append((key, expr()))
                    if peek() != ("op", ")"):
                        take(",")
                take(")")
                left = ("call", left, args)
        else:
            raise ValueError(val)
        while rbp < lbp(peek()):
            op = take()[1]
            bp = lbp(("op", op))
            left = ("bin", op, left, expr(bp - 1 if op in ("^", "**") else bp))
        return left

    tree = expr()
    if peek()[0] != "end":
        raise ValueError(peek()[1])
    return tree


def _deparse_formula(text: str, cutoff: int = 60) -> list[str]:
    """R's ``deparse()`` of a formula: R's spacing around operators, lines broken after ``cutoff``."""
    try:
        tree = _parse_formula(text)
    except (ValueError, IndexError):
        return [" ".join(text.split())]
    lines, st = [], {"buf": "", "indent": 0, "start": True}

    def put(s):
        if st["start"]:
            st["start"] = False
            st["buf"] += "".join("    " if k < 4 else "  " for k in range(st["indent"]))
        st["buf"] += s

    def brk(flag):
        if len(st["buf"]) > cutoff:
            if not flag[0]:
                flag[0] = True
                st["indent"] += 1
            lines.append(st["buf"])
            st.update(buf="", start=True)

    def node(e):
        kind = e[0]
        if kind == "num":
            put(r_format([float(e[1])], 15)[0])
        elif kind == "str":
            put('"' + e[1][1:-1] + '"' if '"' not in e[1][1:-1] else e[1])
        elif kind == "name":
            put(e[1])
        elif kind == "paren":
            put("(")
            node(e[1])
            put(")")
        elif kind == "unary":
            put(e[1])
            node(e[2])
        elif kind == "call":
            node(e[1])
            put("(")
            flag = [False]
            for k, (key, val) in enumerate(e[2]):
                if key is not None:
                    put(key + " = ")
                node(val)
                if k < len(e[2]) - 1:
                    put(", ")
                    brk(flag)
            st["indent"] -= flag[0]
            put(")")
        else:
            _, op, left, right = e
            node(left)
            if op in _TIGHT:
                put(op)
                node(right)
            else:
                put(f" {op} ")
                flag = [False]
                brk(flag)
                node(right)
                st["indent"] -= flag[0]

    node(tree)
    return lines + [st["buf"]]


# ============================================================ the data
@dataclass(frozen=True)
class Summary:
    """What lme4's ``summary()`` shows, as data; ``str()`` is lme4's text, ``_repr_html_`` tables.

    ``random_effects`` has one row per standard deviation (columns Groups, Name, Variance,
    Std.Dev.; the Residual row has Name ""), ``random_correlations`` maps a group label to the
    correlation matrix of that term's effects.  ``coefficients`` is the fixed-effects table with R's
    column names; ``correlation`` is cov2cor(vcov), printed when ``show_correlation``.
    """

    title: str
    object_class: str
    formula: str
    criterion: pd.Series
    residual_quantiles: pd.Series
    random_effects: pd.DataFrame
    nobs: int
    ngroups: dict
    coefficients: pd.DataFrame
    correlation: pd.DataFrame | None = None
    show_correlation: bool = True
    random_correlations: dict = field(default_factory=dict)
    family: str | None = None
    link: str | None = None
    data_name: str | None = None
    messages: tuple = ()
    optimizer: str = "mlmkit"
    convergence_code: int = 0
    n_dropped: int = 0

    def __str__(self) -> str:
        return render_text(self)

    def __repr__(self) -> str:
        return render_text(self)

    def _repr_html_(self) -> str:
        return render_html(self)


def _varcorr_tables(vc: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Split lme4's ``as.data.frame(VarCorr(m))`` into the sd table and per-group correlation matrices."""
    miss1, miss2 = vc["var1"].isna().to_numpy(), vc["var2"].isna().to_numpy()
    sd = vc[miss2]
    table = pd.DataFrame({"Groups": sd["grp"].astype(str).to_numpy(),
                          "Name": ["" if m else str(v) for m, v in zip(miss1[miss2], sd["var1"])],
                          "Variance": sd["vcov"].to_numpy(float),
                          "Std.Dev.": sd["sdcor"].to_numpy(float)})
    cors = {}
    for grp, names in table.groupby("Groups", sort=False)["Name"]:
        if len(names) < 2:
            continue
        names = list(names)
        mat = pd.DataFrame(np.eye(len(names)), index=names, columns=names)
        for _, r in vc[(vc["grp"] == grp) & ~vc["var2"].isna()].iterrows():
            mat.loc[r["var1"], r["var2"]] = mat.loc[r["var2"], r["var1"]] = r["sdcor"]
        cors[grp] = mat
    return table, cors


def _method_title(result) -> tuple[str, str]:
    if result.family is None:
        return ("Linear mixed model fit by " + ("REML" if result.REML else "maximum likelihood"), "lmerMod")
    nagq = int(getattr(result, "nAGQ", 1) or 1)
    how = "(Laplace Approximation)" if nagq <= 1 else f"(Adaptive Gauss-Hermite Quadrature, nAGQ = {nagq})"
    return f"Generalized linear mixed model fit by maximum likelihood {how}", "glmerMod"


def _uses_scale(result) -> bool:
    return result.family is None or result.family.name not in ("binomial", "poisson")


def summarize(result, *, data_name: str | None = None, correlation: bool | None = None) -> Summary:
    """Collect lme4's ``summary()`` of an lmer or glmer fit.

    Scaled residuals are the Pearson residuals divided by σ (lmer; σ = 1 for binomial and Poisson
    glmer); the fixed-effects table has Estimate, Std. Error = √diag(vcov) and t = Estimate / SE
    (glmer: z, with Pr(>|z|) = 2 Φ(−|z|)); the correlation of fixed effects is
    D^(-1/2) vcov D^(-1/2).  ``correlation=None`` shows it when 1 < p <= 12, as lme4.

    >>> print(mlmkit.lmer("Reaction ~ Days + (Days | Subject)", sleepstudy).summary())  # doctest: +SKIP
    """
    if not hasattr(result, "fixef") or not hasattr(result, "varcorr"):
        raise ParameterError(f"summarize() needs a fitted lmer or glmer model, not {type(result).__name__}")
    title, cls = _method_title(result)
    if result.family is None and result.REML:
        criterion = pd.Series({"REML": float(result.reml_criterion)})
    else:
        df_resid = getattr(result, "df_resid", None)
        if df_resid is None:
            df_resid = result.nobs - getattr(result, "npar")
        # lme4's table shows -2 logLik as "deviance" (devCrit), also for glmer.
        criterion = pd.Series({"AIC": float(result.aic), "BIC": float(result.bic), "logLik": float(result.loglik),
                               "deviance": -2.0 * float(result.loglik), "df.resid": float(df_resid)})
    resid = np.asarray(result.residuals(type="pearson"), float)
    if _uses_scale(result):
        resid = resid / float(result.sigma)
    quant = pd.Series(np.quantile(resid[~np.isnan(resid)], [0, 0.25, 0.5, 0.75, 1]),
                      index=["Min", "1Q", "Median", "3Q", "Max"])
    table, cors = _varcorr_tables(result.varcorr)
    est = result.fixef.to_numpy(float)
    vcov = np.asarray(result.vcov, float)
    se = np.sqrt(np.diag(vcov))
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = est / se
        cor = vcov / np.outer(se, se)
    names = list(result.fixef.index)
    coefs = pd.DataFrame({"Estimate": est, "Std. Error": se}, index=names)
    coefs["t value" if _uses_scale(result) else "z value"] = stat
    if result.family is not None:
        coefs["Pr(>|z|)"] = 2.0 * ndtr(-np.abs(stat))
    p = len(names)
    show = (p <= _COR_MAX) if correlation is None else bool(correlation)
    opt = getattr(result, "opt", None)
    messages = ((_SINGULAR,) if result.is_singular else ()) + tuple(getattr(opt, "messages", ()) or ())
    family = None if result.family is None else str(result.family.name)
    link = None if result.family is None else str(result.family.link)
    return Summary(title=title, object_class=cls, formula=str(result.formula), criterion=criterion,
                   residual_quantiles=quant, random_effects=table, random_correlations=cors,
                   nobs=int(result.nobs), ngroups=dict(result.ngroups), coefficients=coefs,
                   correlation=pd.DataFrame(cor, index=names, columns=names) if p else None,
                   show_correlation=show, family=family, link=link,
                   data_name=data_name if data_name is not None else getattr(result, "data_name", None),
                   messages=messages, optimizer=str(getattr(opt, "optimizer", "mlmkit")),
                   convergence_code=int(getattr(opt, "code", 0) or 0),
                   n_dropped=int(getattr(result.design, "n_dropped", 0) or 0))


# ============================================================ rendering
def _vc_cells(table: pd.DataFrame, cors: dict, digits: int, comp=("Variance", "Std.Dev.")):
    """lme4's ``formatVC``: column names and a matrix of strings."""
    groups = table["Groups"].tolist()
    cols = ["Groups", "Name"] + list(comp)
    rows = [[g if (i == 0 or groups[i - 1] != g) else "", n] for i, (g, n) in enumerate(zip(groups, table["Name"]))]
    for c in comp:
        vals = table["Std.Dev."].to_numpy() ** 2 if c == "Variance" else table["Std.Dev."].to_numpy()
        for row, s in zip(rows, r_format(vals, digits)):
            row.append(s)
    maxlen = max((len(m) for m in cors.values()), default=1)
    if maxlen > 1:
        dig = max(2, digits - 2)
        k = 0
        for g, size in table.groupby("Groups", sort=False).size().items():
            block = [[""] * (maxlen - 1) for _ in range(size)]
            if g in cors:
                vals = [r_round(v, dig) for v in cors[g].to_numpy().ravel()]
                txt = np.array(r_format(vals, 7, nsmall=dig)).reshape(size, size)
                for i in range(size):
                    for j in range(min(i, maxlen - 1)):
                        block[i][j] = txt[i, j]
            for i in range(size):
                rows[k + i] += block[i]
            k += size
        cols += ["Corr"] + [""] * (maxlen - 2)
    return cols, rows


def _coef_cells(coefs: pd.DataFrame, digits: int) -> tuple[list[str], list[list[str]], bool]:
    """``printCoefmat``: estimates and standard errors share one format, tests are rounded to
    ``digits - 1`` decimals, p-values go through ``format.pval``; returns (columns, cells, stars)."""
    xm = coefs.to_numpy(float)
    p, nc = xm.shape
    has_p = coefs.columns[-1].startswith("Pr(")
    dig_tst = max(1, min(5, digits - 1))
    cells = [[""] * nc for _ in range(p)]
    acs = np.abs(xm[:, :2])
    nz = acs[np.isfinite(acs) & (acs != 0)]
    if np.isfinite(acs).any():
        digmin = 1 + (math.floor(math.log10(nz.min())) if nz.size else 0)
        f = r_format([r_round(v, max(1, digits - digmin)) for v in xm[:, :2].ravel(order="F")], digits)
        for j in range(2):
            for i in range(p):
                cells[i][j] = f[j * p + i]
    for i, s in enumerate(r_format([r_round(v, dig_tst) for v in xm[:, 2]], digits)):
        cells[i][2] = s
    zero = [(i, j) for i in range(p) for j in range(2)
            if np.isfinite(xm[i, j]) and (xm[i, j] == 0) != (float(cells[i][j]) == 0)]
    for (i, j), s in zip(zero, r_format([xm[i, j] for i, j in zero], max(1, digits - 1))):
        cells[i][j] = s
    for i in range(p):
        for j in range(nc - has_p):
            if math.isnan(xm[i, j]):
                cells[i][j] = "NaN"
    cols, stars = list(coefs.columns), False
    if has_p:
        pv = xm[:, -1]
        for i, s in enumerate(_format_pval(pv, dig_tst)):
            cells[i][-1] = s
        if (pv < 0.1).any():
            stars = True
            sym = [("***" if v <= 0.001 else "**" if v <= 0.01 else "*" if v <= 0.05 else "." if v <= 0.1 else " ")
                   for v in pv]
            width = max(len(s) for s in sym)
            for row, s in zip(cells, sym):
                row.append(s.ljust(width))
            cols.append("")
    return cols, cells, stars


def _format_pval(pv, digits: int, eps: float = 2.220446049250313e-16) -> list[str]:
    """R's ``format.pval``: fixed or scientific by size, values below eps as ``<2e-16``."""
    pv = np.asarray(pv, float)
    out = [""] * len(pv)
    small = pv < eps
    idx = [i for i in range(len(pv)) if not small[i]]
    expo = [math.floor(math.log10(pv[i] if pv[i] > 0 else 1e-50)) for i in idx]
    fixp = [i for i, e in zip(idx, expo) if e >= -3 or (e == -4 and digits > 1)]
    sci = [i for i in idx if i not in fixp]
    for group in (fixp, sci):
        for i, s in zip(group, r_format(pv[group], digits)):
            out[i] = s
    if small.any():
        d = max(1, digits - 2)
        if idx:
            nc = max(len(out[i]) for i in idx)
            if d > 1 and d + 6 > nc:
                d = max(1, nc - 7)
            sep = "" if (d == 1 and nc <= 6) else " "
        else:
            sep = "" if d == 1 else " "
        for i in np.flatnonzero(small):
            out[i] = "<" + sep + r_format([eps], d)[0]
    return out


def _cor_cells(cor: pd.DataFrame):
    names = list(cor.index)
    txt = np.array(r_format([r_round(v, 3) for v in cor.to_numpy().ravel()], 7, nsmall=3)).reshape(cor.shape)
    rows = [[txt[i, j] if j < i else "" for j in range(len(names) - 1)] for i in range(1, len(names))]
    return r_abbreviate(names, 11)[1:], r_abbreviate(names, 6)[:-1], rows


def _criterion_text(crit: pd.Series) -> list[str]:
    rounded = [r_round(v, 1) for v in crit.to_numpy(float)]
    if list(crit.index) == ["REML"]:
        return _cat_fill(["REML criterion at convergence:", r_format(rounded, 7)[0].strip()])
    txt = r_format(rounded, 7)
    txt[-1] = r_format(rounded[-1:], 7)[0]
    return _print_named(txt, list(crit.index))


def _groups_text(s: Summary) -> list[str]:
    groups = "; ".join(f"{g}, {n}" for g, n in s.ngroups.items())
    return _cat_fill([f"Number of obs: {s.nobs}, groups: ", groups])


def render_text(s: Summary, digits: int = 4) -> str:
    """lme4's ``print.summary.merMod`` layout (``digits = max(3, getOption("digits") - 3)`` = 4)."""
    # methTitle pastes "maximum likelihood" with an empty Laplace note for lmer: hence lme4's 2 spaces.
    title = s.title + (" " if s.title.endswith("maximum likelihood") else "")
    if len(title) + 5 + len(s.object_class) > _WIDTH:
        out = _cat_fill(_strwrap(title, _WIDTH - 2, exdent=2) + [" [", s.object_class, "]"], sep="")
    else:
        out = [f"{title} ['{s.object_class}']"]
    if s.family is not None:
        out += _cat_fill([" Family:", s.family] + ([f" ( {s.link} )"] if s.link is not None else []))
    out += _cat_fill(["Formula:"] + _deparse_formula(s.formula))
    if s.data_name is not None:
        out += _cat_fill(["   Data:", s.data_name])
    out += [""] + _criterion_text(s.criterion) + [""]
    q = s.residual_quantiles
    out += ["Scaled residuals: "] + _print_named(r_format(_zapsmall(q.to_numpy(float), digits + 1), digits),
                                                  list(q.index)) + [""]
    cols, rows = _vc_cells(s.random_effects, s.random_correlations, digits)
    out += ["Random effects:"] + _print_matrix(rows, [""] * len(rows), cols, right=False)
    out += _groups_text(s)
    if s.n_dropped:
        out.append(f"  ({s.n_dropped} observation{'s' if s.n_dropped > 1 else ''} deleted due to missingness)")
    p = len(s.coefficients)
    if p:
        cols, cells, stars = _coef_cells(s.coefficients, digits)
        out += ["", "Fixed effects:"] + _print_matrix(cells, list(s.coefficients.index), cols, right=True)
        if stars:
            out += ["---"] + _cat_fill(["Signif. codes:  ", _LEGEND], sep="", width=_WIDTH + 4)
        if s.correlation is not None and p > 1 and s.show_correlation:
            rn, cn, rows = _cor_cells(s.correlation)
            out += ["", "Correlation of Fixed Effects:"] + _print_matrix(rows, rn, cn, right=False)
        elif p > _COR_MAX and not s.show_correlation:
            out += ["", f"Correlation matrix not shown by default, as p = {p} > {_COR_MAX}.",
                    "Use summarize(m, correlation=True)  or",
                    "    m.vcov        if you need it", ""]
    if s.messages or s.convergence_code:
        status = "(OK)" if s.convergence_code == 0 else ""
        out += [f"optimizer ({s.optimizer}) convergence code: {s.convergence_code} {status}"]
        out += list(s.messages) + [""]
    return "\n".join(out) + "\n"


def _html_table(header: list[str], rows: list[list[str]], rownames: list[str] | None = None) -> str:
    esc = html.escape
    head = "".join(f"<th>{esc(h)}</th>" for h in ([""] if rownames is not None else []) + header)
    body = []
    for i, row in enumerate(rows):
        lead = f"<th>{esc(rownames[i])}</th>" if rownames is not None else ""
        body.append("<tr>" + lead + "".join(f"<td>{esc(c.strip())}</td>" for c in row) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def render_html(s: Summary, digits: int = 4) -> str:
    """The summary as a few small HTML tables (numbers formatted exactly as in the text)."""
    esc = html.escape
    lines = [f"<b>{esc(s.title)}</b> ['{esc(s.object_class)}']"]
    if s.family is not None:
        lines.append(f"Family: {esc(s.family)} ( {esc(str(s.link))} )")
    lines.append("Formula: " + esc(" ".join(_deparse_formula(s.formula))))
    if s.data_name is not None:
        lines.append("Data: " + esc(s.data_name))
    parts = ['<div class="mlmkit-summary">', "<p>" + "<br>".join(lines) + "</p>"]
    crit = [r_round(v, 1) for v in s.criterion.to_numpy(float)]
    parts.append(_html_table(list(s.criterion.index), [[r_format([v], 7)[0] for v in crit]]))
    q = s.residual_quantiles
    parts += ["<p>Scaled residuals:</p>",
              _html_table(list(q.index), [r_format(_zapsmall(q.to_numpy(float), digits + 1), digits)])]
    cols, rows = _vc_cells(s.random_effects, s.random_correlations, digits)
    parts += ["<p>Random effects:</p>", _html_table(cols, rows)]
    groups = "; ".join(f"{esc(str(g))}, {n}" for g, n in s.ngroups.items())
    note = f" ({s.n_dropped} deleted due to missingness)" if s.n_dropped else ""
    parts.append(f"<p>Number of obs: {s.nobs}{note}, groups: {groups}</p>")
    if len(s.coefficients):
        cols, cells, stars = _coef_cells(s.coefficients, digits)
        parts += ["<p>Fixed effects:</p>", _html_table(cols, cells, list(s.coefficients.index))]
        if stars:
            parts.append(f"<p><small>Signif. codes: {esc(_LEGEND)}</small></p>")
        if s.correlation is not None and len(s.coefficients) > 1 and s.show_correlation:
            rn, cn, rows = _cor_cells(s.correlation)
            parts += ["<p>Correlation of Fixed Effects:</p>", _html_table(cn, rows, rn)]
    if s.messages:
        parts.append("<p>" + "<br>".join(esc(m) for m in s.messages) + "</p>")
    return "\n".join(parts + ["</div>"])


# ============================================================ VarCorr
@dataclass(frozen=True)
class VarCorr:
    """lme4's ``print(VarCorr(m))``: standard deviations and correlations (``digits = 5``)."""

    random_effects: pd.DataFrame
    random_correlations: dict
    digits: int = 5
    comp: tuple = ("Std.Dev.",)

    @classmethod
    def from_result(cls, result, digits: int = 5, comp=("Std.Dev.",)) -> "VarCorr":
        comp = (comp,) if isinstance(comp, str) else tuple(comp)
        if not comp or any(c not in ("Variance", "Std.Dev.") for c in comp):
            raise ParameterError(f"comp must name 'Variance' and/or 'Std.Dev.', got {comp!r}")
        table, cors = _varcorr_tables(result.varcorr)
        return cls(table, cors, int(digits), comp)

    def __str__(self) -> str:
        cols, rows = _vc_cells(self.random_effects, self.random_correlations, self.digits, self.comp)
        return "\n".join(_print_matrix(rows, [""] * len(rows), cols, right=False)) + "\n"

    __repr__ = __str__

    def _repr_html_(self) -> str:
        cols, rows = _vc_cells(self.random_effects, self.random_correlations, self.digits, self.comp)
        return _html_table(cols, rows)


def print_varcorr(result, digits: int = 5, comp=("Std.Dev.",)) -> VarCorr:
    """Print the random-effects standard deviations and correlations as lme4's ``VarCorr(m)``."""
    vc = VarCorr.from_result(result, digits=digits, comp=comp)
    print(vc, end="")
    return vc
