"""Model summaries: :class:`Summary` holds the numbers, :func:`render_text` / :func:`render_html` lay them out.

``summarize(m)`` (what ``m.summary()`` returns) collects what lme4's ``summary(m)`` shows: the
criterion (REML criterion, or AIC/BIC/logLik/deviance/df.resid), quantiles of the scaled Pearson
residuals, random-effect variances, standard deviations and correlations, group counts, the
fixed-effects table (t values for lmer; z values and Pr(>|z|) for glmer) and the correlation of the
fixed effects.  ``str(summary)`` is lme4 1.1-31's printed text digit for digit: this module
re-implements R's ``format``/``formatReal``, ``round``, ``zapsmall``, ``printCoefmat``,
``format.pval``, ``abbreviate``, ``deparse``, ``cat(fill = TRUE)`` and matrix printing (digits = 4,
width 80).  Differences from lme4's text, all deliberate and additive:

* the ``Data:`` line needs R's variable name, unknown in Python: it is printed only when given,
  ``summarize(m, data_name="sleepstudy")`` (or a result's ``data_name``);
* rows dropped for missing values are reported after the "Number of obs" line;
* the optimizer line (shown with singular-fit or convergence messages) names mlmkit's optimizer;
* the note lme4 sends to stderr when the correlation of fixed effects is not shown (p > 12) is part
  of the text, pointing at ``summarize(m, correlation=True)``;
* the significance legend quotes with ASCII ``'***'`` (R's ``useFancyQuotes = FALSE``, as the
  tutorials print it) rather than R's UTF-8 curly quotes.
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
    out = []
    for i in range(0, len(values), per):
        out.append("".join(n.rjust(w) + " " for n in names[i:i + per]))
        out.append("".join(v.rjust(w) + " " for v in values[i:i + per]))
    return out


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


# ============================================================ formulas as R deparses them
_TOKEN = re.compile(r"\s*(?:(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)|(?P<name>`[^`]*`|[A-Za-z_.][\w.]*)"
                    r"|(?P<str>\"[^\"]*\"|'[^']*')|(?P<op>%[^%]*%|\*\*|\|\||&&|==|!=|<=|>=|[-+*/^:~|&!<>=(),]))")
_BINARY = {"~": 10, "||": 20, "|": 20, "&&": 30, "&": 30, "==": 50, "!=": 50, "<": 50, ">": 50, "<=": 50,
           ">=": 50, "+": 60, "-": 60, "*": 70, "/": 70, ":": 90, "^": 110, "**": 110}
_UNARY = {"-": 100, "+": 100, "!": 40, "~": 10}
_TIGHT = {"/", ":", "^", "**", "%%", "%/%"}      # R's PP_BINARY2: no spaces, no line break


def _deparse_formula(text: str, cutoff: int = 60) -> list[str]:
    """R's ``deparse()`` of a formula, as lme4's "Formula:" line shows it.

    Binary operators get spaces (``a + b``, ``x | g``) except ``/ : ^`` (R's PP_BINARY2); calls print
    as ``f(x, k = 1)``, numbers with 15 significant digits, strings in double quotes.  After an
    operator or comma that ends past column ``cutoff`` a new line starts, indented 4 spaces per open
    break.  Parsing (precedence climbing) and printing happen in one pass, in text order; text R
    could not parse comes back with its whitespace collapsed.
    """
    toks, pos, text = [], 0, text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            return [" ".join(text.split())]
        toks.append((m.lastgroup, m.group(m.lastgroup)))
        pos = m.end()
    toks.append(("end", ""))
    lines, st = [], {"i": 0, "buf": "", "indent": 0}

    def peek(k=0):
        return toks[min(st["i"] + k, len(toks) - 1)]

    def take(expected=None):
        st["i"] += 1
        if expected is not None and toks[st["i"] - 1][1] != expected:
            raise ValueError(expected)
        return toks[st["i"] - 1]

    def put(piece):
        st["buf"] = (st["buf"] or "".join("    " if k < 4 else "  " for k in range(st["indent"]))) + piece

    def brk(broken: bool) -> bool:
        if len(st["buf"]) <= cutoff:
            return broken
        st["indent"] += not broken
        lines.append(st["buf"])
        st["buf"] = ""
        return True

    def lbp(tok):
        return 0 if tok[0] != "op" else 80 if tok[1].startswith("%") else _BINARY.get(tok[1], 0)

    def expr(rbp=0):
        kind, val = take()
        if kind == "op" and val in _UNARY:
            put(val)
            expr(_UNARY[val])
        elif kind == "op" and val == "(":
            put("(")
            expr()
            put(take(")")[1])
        elif kind in ("num", "str", "name"):
            put(r_format([float(val)], 15)[0] if kind == "num" else
                '"' + val[1:-1].replace('"', '\\"') + '"' if kind == "str" else val)
            while kind == "name" and peek() == ("op", "("):
                put(take("(")[1])
                broken = False
                while peek() != ("op", ")"):
                    if peek()[0] == "name" and peek(1) == ("op", "="):
                        put(take()[1] + " = ")
                        take("=")
                    expr()
                    if peek() != ("op", ")"):
                        put(take(",")[1] + " ")
                        broken = brk(broken)
                st["indent"] -= broken
                put(take(")")[1])
        else:
            raise ValueError(val)
        while rbp < lbp(peek()):
            op = take()[1]
            bp = lbp(("op", op))
            put(op if op in _TIGHT else f" {op} ")
            broken = False if op in _TIGHT else brk(False)
            expr(bp - 1 if op in ("^", "**") else bp)
            st["indent"] -= broken

    try:
        expr()
        take("")
    except (ValueError, IndexError):
        return [" ".join(text.split())]
    return lines + [st["buf"]]


# ============================================================ the data
@dataclass(frozen=True)
class Summary:
    """What lme4's ``summary()`` shows, as data: ``str()`` gives lme4's text, ``_repr_html_`` tables.

    ``random_effects``: one row per standard deviation (Groups, Name, Variance, Std.Dev.; Residual
    has Name ""); ``random_correlations``: group label -> that term's correlation matrix;
    ``coefficients``: the fixed-effects table with R's column names; ``correlation``: cov2cor(vcov),
    printed when ``show_correlation``; ``criterion``: REML, or AIC, BIC, logLik, deviance, df.resid.
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

    __repr__ = __str__

    def _repr_html_(self) -> str:
        return render_html(self)


def _varcorr_tables(vc: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """lme4's ``as.data.frame(VarCorr(m))`` split into the sd table and per-group correlation matrices."""
    sd = vc[vc["var2"].isna()]
    table = pd.DataFrame({"Groups": sd["grp"].astype(str).to_numpy(),
                          "Name": ["" if pd.isna(v) else str(v) for v in sd["var1"]],
                          "Variance": sd["vcov"].to_numpy(float), "Std.Dev.": sd["sdcor"].to_numpy(float)})
    cors = {}
    for grp, names in table.groupby("Groups", sort=False)["Name"]:
        if len(names) > 1:
            mat = pd.DataFrame(np.eye(len(names)), index=list(names), columns=list(names))
            for _, r in vc[(vc["grp"] == grp) & vc["var2"].notna()].iterrows():
                mat.loc[r["var1"], r["var2"]] = mat.loc[r["var2"], r["var1"]] = r["sdcor"]
            cors[grp] = mat
    return table, cors


def summarize(result, *, data_name: str | None = None, correlation: bool | None = None) -> Summary:
    """Collect lme4's ``summary()`` of an lmer or glmer fit.

    Scaled residuals: Pearson residuals / σ (σ = 1 for binomial and Poisson glmer, as lme4).  Fixed
    effects: Estimate, Std. Error = √diag(vcov), t (lmer) or z = Estimate / SE, and for glmer
    Pr(>|z|) = 2 Φ(−|z|).  Correlation of fixed effects: D^(-1/2) vcov D^(-1/2), shown by default
    when p <= 12.  The table's "deviance" is −2 logLik (lme4's devCrit).  Passing anything but a
    fitted model raises :class:`~mlmkit.errors.ParameterError`.

    >>> print(mlmkit.lmer("Reaction ~ Days + (Days | Subject)", sleepstudy).summary())  # doctest: +SKIP
    """
    if not all(hasattr(result, a) for a in ("fixef", "vcov", "varcorr", "residuals")):
        raise ParameterError(f"summarize() needs a fitted lmer or glmer model, not {type(result).__name__}")
    fam = result.family
    scaled = fam is None or fam.name not in ("binomial", "poisson")     # lme4's useScale
    if fam is None:
        title, cls = "Linear mixed model fit by " + ("REML" if result.REML else "maximum likelihood"), "lmerMod"
    else:
        nagq = int(getattr(result, "nAGQ", 1))
        how = "(Laplace Approximation)" if nagq == 1 else f"(Adaptive Gauss-Hermite Quadrature, nAGQ = {nagq})"
        title, cls = f"Generalized linear mixed model fit by maximum likelihood {how}", "glmerMod"
    if fam is None and result.REML:
        criterion = pd.Series({"REML": float(result.reml_criterion)})
    else:
        df_resid = getattr(result, "df_resid", None)
        criterion = pd.Series({"AIC": float(result.aic), "BIC": float(result.bic), "logLik": float(result.loglik),
                               "deviance": -2.0 * float(result.loglik),
                               "df.resid": float(result.nobs - result.npar if df_resid is None else df_resid)})
    resid = np.asarray(result.residuals(type="pearson"), float) / (float(result.sigma) if scaled else 1.0)
    quant = pd.Series(np.quantile(resid[~np.isnan(resid)], [0, 0.25, 0.5, 0.75, 1]),
                      index=["Min", "1Q", "Median", "3Q", "Max"])
    names, est = list(result.fixef.index), result.fixef.to_numpy(float)
    vcov = np.asarray(result.vcov, float)
    se = np.sqrt(np.diag(vcov))
    with np.errstate(divide="ignore", invalid="ignore"):
        stat, cor = est / se, vcov / np.outer(se, se)
    coefs = pd.DataFrame({"Estimate": est, "Std. Error": se, ("t value" if scaled else "z value"): stat}, index=names)
    if fam is not None:
        coefs["Pr(>|z|)"] = 2.0 * ndtr(-np.abs(stat))
    table, cors = _varcorr_tables(result.varcorr)
    opt = getattr(result, "opt", None)
    return Summary(title=title, object_class=cls, formula=str(result.formula), criterion=criterion,
                   residual_quantiles=quant, random_effects=table, random_correlations=cors,
                   nobs=int(result.nobs), ngroups=dict(result.ngroups), coefficients=coefs,
                   correlation=pd.DataFrame(cor, index=names, columns=names) if names else None,
                   show_correlation=len(names) <= _COR_MAX if correlation is None else bool(correlation),
                   family=None if fam is None else str(fam.name), link=None if fam is None else str(fam.link),
                   data_name=data_name if data_name is not None else getattr(result, "data_name", None),
                   messages=((_SINGULAR,) if result.is_singular else ()) + tuple(getattr(opt, "messages", ())),
                   optimizer=str(getattr(opt, "optimizer", "mlmkit")), convergence_code=int(getattr(opt, "code", 0)),
                   n_dropped=int(getattr(result.design, "n_dropped", 0)))


# ============================================================ rendering
def _vc_cells(table: pd.DataFrame, cors: dict, digits: int, comp=("Variance", "Std.Dev.")):
    """lme4's ``formatVC``: column names and the matrix of strings (correlations in the lower triangle)."""
    g = table["Groups"].tolist()
    rows = [[x if i == 0 or g[i - 1] != x else "", n] for i, (x, n) in enumerate(zip(g, table["Name"]))]
    for c in comp:
        sd = table["Std.Dev."].to_numpy()
        for row, txt in zip(rows, r_format(sd ** 2 if c == "Variance" else sd, digits)):
            row.append(txt)
    cols, width = ["Groups", "Name"] + list(comp), max((len(m) for m in cors.values()), default=1) - 1
    if width:
        dig, k = max(2, digits - 2), 0
        for grp, size in table.groupby("Groups", sort=False).size().items():
            txt = (np.array(r_format([r_round(v, dig) for v in cors[grp].to_numpy().ravel()], 7, nsmall=dig))
                   .reshape(size, size) if grp in cors else None)
            for i in range(size):
                rows[k + i] += [txt[i, j] if txt is not None and j < i else "" for j in range(width)]
            k += size
        cols += ["Corr"] + [""] * (width - 1)
    return cols, rows


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


def _coef_cells(coefs: pd.DataFrame, digits: int) -> tuple[list[str], list[list[str]], bool]:
    """``printCoefmat``: Estimate and Std. Error formatted together after rounding to
    ``digits - 1 - floor(log10(min |value|))`` decimals, the test statistic rounded to ``digits - 1``
    decimals, p-values by ``format.pval`` with significance stars; returns (columns, cells, stars)."""
    xm = coefs.to_numpy(float)
    p, has_p, dig_tst = len(xm), coefs.columns[-1].startswith("Pr("), max(1, min(5, digits - 1))
    acs = np.abs(xm[:, :2])
    nz = acs[np.isfinite(acs) & (acs != 0)]
    digmin = 1 + (math.floor(math.log10(nz.min())) if nz.size else 0)
    f = r_format([r_round(v, max(1, digits - digmin)) for v in xm[:, :2].ravel(order="F")], digits)
    t = r_format([r_round(v, dig_tst) for v in xm[:, 2]], digits)
    cells = [[f[i], f[p + i], t[i]] for i in range(p)]
    zero = [(i, j) for i in range(p) for j in range(2)        # not 0 but printed as 0: fewer digits
            if np.isfinite(xm[i, j]) and (xm[i, j] == 0) != (float(cells[i][j]) == 0)]
    for (i, j), txt in zip(zero, r_format([xm[i, j] for i, j in zero], max(1, digits - 1))):
        cells[i][j] = txt
    for i, j in zip(*np.nonzero(np.isnan(xm[:, :3]))):
        cells[i][j] = "NaN"
    cols, stars = list(coefs.columns), has_p and bool((xm[:, -1] < 0.1).any())
    if has_p:
        for row, txt in zip(cells, _format_pval(xm[:, -1], dig_tst)):
            row.append(txt)
    if stars:
        sym = ["***" if v <= 0.001 else "**" if v <= 0.01 else "*" if v <= 0.05 else "." if v <= 0.1 else " "
               for v in xm[:, -1]]
        for row, txt in zip(cells, sym):
            row.append(txt.ljust(max(map(len, sym))))
        cols.append("")
    return cols, cells, stars


def _cor_cells(cor: pd.DataFrame):
    """Correlation of fixed effects: 3 decimals, lower triangle, names abbreviated to 11 / 6 letters."""
    names = list(cor.index)
    txt = np.array(r_format([r_round(v, 3) for v in cor.to_numpy().ravel()], 7, nsmall=3)).reshape(cor.shape)
    rows = [[txt[i, j] if j < i else "" for j in range(len(names) - 1)] for i in range(1, len(names))]
    return r_abbreviate(names, 11)[1:], r_abbreviate(names, 6)[:-1], rows


def _criterion_cells(crit: pd.Series) -> list[str]:
    """Rounded to 1 decimal and formatted together (7 digits); df.resid formatted on its own."""
    rounded = [r_round(v, 1) for v in crit.to_numpy(float)]
    return r_format(rounded, 7)[:-1] + r_format(rounded[-1:], 7)


def _quantile_cells(s: Summary, digits: int) -> list[str]:
    return r_format(_zapsmall(s.residual_quantiles.to_numpy(float), digits + 1), digits)


def render_text(s: Summary, digits: int = 4) -> str:
    """lme4's ``print.summary.merMod`` (``digits = max(3, getOption("digits") - 3)`` = 4)."""
    # methTitle pastes "maximum likelihood" with an empty Laplace note for lmer: lme4 prints 2 spaces.
    title = s.title + (" " if s.title.endswith("maximum likelihood") else "")
    if len(title) + 5 + len(s.object_class) > _WIDTH:
        out = _cat_fill(_strwrap(title, _WIDTH - 2, exdent=2) + [" [", s.object_class, "]"], sep="")
    else:
        out = [f"{title} ['{s.object_class}']"]
    if s.family is not None:
        out += _cat_fill([" Family:", s.family] + ([f" ( {s.link} )"] if s.link is not None else []))
    out += _cat_fill(["Formula:"] + _deparse_formula(s.formula))
    out += _cat_fill(["   Data:", s.data_name]) if s.data_name is not None else []
    if list(s.criterion.index) == ["REML"]:
        out += ["", *_cat_fill(["REML criterion at convergence:", _criterion_cells(s.criterion)[0].strip()]), ""]
    else:
        out += ["", *_print_named(_criterion_cells(s.criterion), list(s.criterion.index)), ""]
    out += ["Scaled residuals: ", *_print_named(_quantile_cells(s, digits), list(s.residual_quantiles.index)), ""]
    cols, rows = _vc_cells(s.random_effects, s.random_correlations, digits)
    out += ["Random effects:", *_print_matrix(rows, [""] * len(rows), cols, right=False)]
    out += _cat_fill([f"Number of obs: {s.nobs}, groups: ", "; ".join(f"{g}, {n}" for g, n in s.ngroups.items())])
    if s.n_dropped:
        out.append(f"  ({s.n_dropped} observation{'s' * (s.n_dropped > 1)} deleted due to missingness)")
    p = len(s.coefficients)
    if p:
        cols, cells, stars = _coef_cells(s.coefficients, digits)
        out += ["", "Fixed effects:", *_print_matrix(cells, list(s.coefficients.index), cols, right=True)]
        out += ["---", *_cat_fill(["Signif. codes:  ", _LEGEND], sep="", width=_WIDTH + 4)] if stars else []
        if p > 1 and s.show_correlation:
            rn, cn, rows = _cor_cells(s.correlation)
            out += ["", "Correlation of Fixed Effects:", *_print_matrix(rows, rn, cn, right=False)]
        elif p > _COR_MAX:
            out += ["", f"Correlation matrix not shown by default, as p = {p} > {_COR_MAX}.",
                    "Use summarize(m, correlation=True)  or", "    m.vcov        if you need it", ""]
    if s.messages or s.convergence_code:
        status = "(OK)" if s.convergence_code == 0 else ""
        out += [f"optimizer ({s.optimizer}) convergence code: {s.convergence_code} {status}", *s.messages, ""]
    return "\n".join(out) + "\n"


def _html_table(header: list[str], rows: list[list[str]], rownames: list[str] | None = None) -> str:
    lead = (lambda i: f"<th>{html.escape(rownames[i])}</th>") if rownames is not None else (lambda i: "")
    head = "".join(f"<th>{html.escape(h)}</th>" for h in ([""] if rownames is not None else []) + header)
    body = "".join("<tr>" + lead(i) + "".join(f"<td>{html.escape(c.strip())}</td>" for c in row) + "</tr>"
                   for i, row in enumerate(rows))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(s: Summary, digits: int = 4) -> str:
    """The summary as a few small HTML tables, numbers formatted exactly as in the text."""
    esc = html.escape
    head = [f"<b>{esc(s.title)}</b> [{esc(s.object_class)}]"] + \
        ([f"Family: {esc(s.family)} ( {esc(str(s.link))} )"] if s.family is not None else []) + \
        ["Formula: " + esc(" ".join(_deparse_formula(s.formula)))] + \
        ([f"Data: {esc(s.data_name)}"] if s.data_name is not None else [])
    cols, rows = _vc_cells(s.random_effects, s.random_correlations, digits)
    groups = "; ".join(f"{esc(str(g))}, {n}" for g, n in s.ngroups.items())
    dropped = f" ({s.n_dropped} deleted due to missingness)" if s.n_dropped else ""
    parts = ['<div class="mlmkit-summary">', "<p>" + "<br>".join(head) + "</p>",
             _html_table(list(s.criterion.index), [[c.strip() for c in _criterion_cells(s.criterion)]]),
             "<p>Scaled residuals:</p>", _html_table(list(s.residual_quantiles.index), [_quantile_cells(s, digits)]),
             "<p>Random effects:</p>", _html_table(cols, rows),
             f"<p>Number of obs: {s.nobs}{dropped}, groups: {groups}</p>"]
    if len(s.coefficients):
        cols, cells, stars = _coef_cells(s.coefficients, digits)
        parts += ["<p>Fixed effects:</p>", _html_table(cols, cells, list(s.coefficients.index))]
        parts += [f"<p><small>Signif. codes: {esc(_LEGEND)}</small></p>"] if stars else []
        if len(s.coefficients) > 1 and s.show_correlation:
            rn, cn, rows = _cor_cells(s.correlation)
            parts += ["<p>Correlation of Fixed Effects:</p>", _html_table(cn, rows, rn)]
    parts += ["<p>" + "<br>".join(esc(m) for m in s.messages) + "</p>"] if s.messages else []
    return "\n".join(parts + ["</div>"])


# ============================================================ VarCorr
@dataclass(frozen=True)
class VarCorr:
    """lme4's ``print(VarCorr(m))``: random-effect standard deviations and correlations (digits 5)."""

    random_effects: pd.DataFrame
    random_correlations: dict
    digits: int = 5
    comp: tuple = ("Std.Dev.",)

    @classmethod
    def from_result(cls, result, digits: int = 5, comp=("Std.Dev.",)) -> "VarCorr":
        comp = (comp,) if isinstance(comp, str) else tuple(comp)
        if not comp or not set(comp) <= {"Variance", "Std.Dev."}:
            raise ParameterError(f"comp must name 'Variance' and/or 'Std.Dev.', not {comp!r}")
        return cls(*_varcorr_tables(result.varcorr), int(digits), comp)

    def __str__(self) -> str:
        cols, rows = _vc_cells(self.random_effects, self.random_correlations, self.digits, self.comp)
        return "\n".join(_print_matrix(rows, [""] * len(rows), cols, right=False)) + "\n"

    __repr__ = __str__

    def _repr_html_(self) -> str:
        return _html_table(*_vc_cells(self.random_effects, self.random_correlations, self.digits, self.comp))


def print_varcorr(result, digits: int = 5, comp=("Std.Dev.",)) -> VarCorr:
    """Print the random-effects standard deviations and correlations as lme4's ``VarCorr(m)`` does."""
    vc = VarCorr.from_result(result, digits=digits, comp=comp)
    print(vc, end="")
    return vc
