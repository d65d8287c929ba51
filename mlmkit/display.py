"""Model summaries: :class:`Summary` holds the numbers, :func:`render_text` / :func:`render_html` lay them out.

``summarize(m)`` (what ``m.summary()`` returns) collects what lme4's ``summary(m)`` shows; its
``str()`` is lme4 1.1-31's printed text digit for digit (R's formatting: :mod:`mlmkit.rformat`).
Differences from lme4's text, all deliberate and additive:

* the ``Data:`` line needs R's variable name, unknown in Python: it is printed only when given,
  ``summarize(m, data_name="sleepstudy")`` (or a result's ``data_name``);
* rows dropped for missing values are reported after the "Number of obs" line;
* the optimizer line (shown with singular-fit or convergence messages) names mlmkit's optimizer;
* the note lme4 sends to stderr when the correlation of fixed effects is not shown (p > 12) is part
  of the text, pointing at ``summarize(m, correlation=True)``;
* the significance legend quotes with ASCII ``'***'`` (R's ``useFancyQuotes = FALSE``).
"""
from __future__ import annotations

import html
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.special import ndtr

from .errors import ParameterError
from .spec.formula import deparse_formula
from .rformat import (_WIDTH, _cat_fill, _format_pval, _print_matrix, _print_named, _strwrap,
                      _zapsmall, r_abbreviate, r_format, r_round)

__all__ = ["Summary", "VarCorr", "summarize", "render_text", "render_html", "print_varcorr",
           "r_format", "r_round", "r_abbreviate"]

_COR_MAX = 12        # options("lme4.summary.cor.max")
_SINGULAR = "boundary (singular) fit: see help('isSingular')"
_LEGEND = "0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1"


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
    sd = table["Std.Dev."].to_numpy()
    for c in comp:
        txt = r_format(sd ** 2 if c == "Variance" else sd, digits)
        rows = [row + [t] for row, t in zip(rows, txt)]
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
        cells = [row + [txt] for row, txt in zip(cells, _format_pval(xm[:, -1], dig_tst))]
    if stars:
        sym = ["***" if v <= 0.001 else "**" if v <= 0.01 else "*" if v <= 0.05 else "." if v <= 0.1 else " "
               for v in xm[:, -1]]
        cells = [row + [txt.ljust(max(map(len, sym)))] for row, txt in zip(cells, sym)]
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
    out += _cat_fill(["Formula:"] + deparse_formula(s.formula))
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
        ["Formula: " + esc(" ".join(deparse_formula(s.formula)))] + \
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
