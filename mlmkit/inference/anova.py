"""Likelihood-ratio tests between nested mixed models: lme4's ``anova(m0, m1, ...)``.

For models ordered by their number of parameters k₁ ≤ k₂ ≤ …, each row after the first compares a
model with the one above it:

    Chisq = 2 max(0, ℓ_i − ℓ_{i−1}),   Df = k_i − k_{i−1},   Pr(>Chisq) = P(χ²_Df > Chisq)

with ℓ the maximised *ML* log-likelihood: REML fits are refitted by maximum likelihood first (REML
criteria of models with different fixed effects are not comparable), and the table says so in its
heading, as lme4's message "refitting model(s) with ML (instead of REML)".  AIC = −2ℓ + 2k,
BIC = −2ℓ + k log n, deviance = −2ℓ.

The χ² reference distribution is the large-sample one; for a variance tested at its boundary of 0
it is conservative (the p-value is roughly twice too large).

>>> a = mlmkit.anova(m0, m1)                       # doctest: +SKIP
>>> a = mlmkit.anova(m0=m0, m1=m1)                 # names the rows "m0", "m1"   # doctest: +SKIP
>>> a.loc["m1", "Pr(>Chisq)"]                      # doctest: +SKIP

Models fitted to different data (a different number of observations or a different response)
raise :class:`~mlmkit.errors.DataError`.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import chdtrc

from ..errors import DataError, ParameterError

__all__ = ["anova", "AnovaTable"]

REFIT_NOTE = "refitting model(s) with ML (instead of REML)"
_COLUMNS = ["npar", "AIC", "BIC", "logLik", "deviance", "Chisq", "Df", "Pr(>Chisq)"]


class AnovaTable(pd.DataFrame):
    """lme4's anova table: a DataFrame (index: model names) with a heading.

    ``heading`` holds the lines lme4 prints above the table (the refit note, "Models:", one
    ``name: formula`` line per model); ``refitted`` lists the models refitted by ML.
    """

    _metadata = ["heading", "refitted"]

    @property
    def _constructor(self):
        return AnovaTable

    def to_text(self) -> str:
        """The table as lme4 prints it (``print(anova(...))``), significance stars included."""
        # R's print.anova -> printCoefmat: zapsmall(digits = 5) then format(digits = 5) for the
        # columns before Chisq, Chisq rounded to 4 decimals, Df as is, p-values by format.pval(4).
        from ..rformat import _format_pval, _zapsmall, r_format, r_round
        cols = {}
        for c in _COLUMNS[:-1]:
            vals = self[c].to_numpy(float)
            ok = ~np.isnan(vals)
            shown = ([r_round(v, 4) for v in vals[ok]] if c == "Chisq"
                     else list(vals[ok]) if c == "Df" else _zapsmall(list(vals[ok]), 5))
            cols[c] = _blank_fill(ok, r_format(shown, 5) if shown else [])
        p = self["Pr(>Chisq)"].to_numpy(float)
        cols["Pr(>Chisq)"] = _blank_fill(np.isfinite(p), _format_pval(p[np.isfinite(p)], 4))
        stars = [_stars(v) for v in p]
        star = any(stars)
        header = [""] + list(cols) + ([""] if star else [])
        rows = [[str(n)] + [cols[c][i] for c in cols] + ([stars[i]] if star else [])
                for i, n in enumerate(self.index)]
        widths = [max(len(r[k]) for r in [header] + rows) for k in range(len(header))]
        # names and stars left-aligned, numbers right-aligned
        just = [str.ljust] + [str.rjust] * len(cols) + ([str.ljust] if star else [])
        lines = [" ".join(j(x, w) for x, j, w in zip(r, just, widths)) for r in [header] + rows]
        if star:
            lines += ["---", "Signif. codes:  0 ‘***’ 0.001 ‘**’ 0.01 ‘*’ 0.05 ‘.’ 0.1 ‘ ’ 1"]
        return "\n".join(lines)

    def _is_full(self) -> bool:
        return list(self.columns) == _COLUMNS          # a selection of columns prints as a DataFrame

    def __repr__(self) -> str:
        if not self._is_full():
            return repr(pd.DataFrame(self))
        return "\n".join(list(getattr(self, "heading", None) or []) + [self.to_text()])

    def _repr_html_(self) -> str:
        head = "".join(f"<div>{h}</div>" for h in (getattr(self, "heading", None) or [])) if self._is_full() else ""
        return head + pd.DataFrame(self)._repr_html_()


def _blank_fill(ok: np.ndarray, texts) -> list[str]:
    """``texts`` at the True positions of ``ok``, "" elsewhere."""
    out = [""] * len(ok)
    for i, t in zip(np.flatnonzero(ok), texts):
        out[i] = t
    return out


def _stars(p: float) -> str:
    if not np.isfinite(p):
        return ""
    return "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < 0.05 else "." if p < 0.1 else " "


def _response_signature(m):
    """What must agree between models fitted to the same data: n, response values, weights."""
    y = np.asarray(m.y if getattr(m, "family", None) is not None else m.design.y, float)
    w = getattr(m, "prior_weights", None)
    return y, (None if w is None else np.asarray(w, float))


def anova(*models, names=None, refit: bool = True, **named) -> AnovaTable:
    """Likelihood-ratio tests of nested models (lme4's ``anova(m0, m1, ...)``).

    Parameters
    ----------
    *models : LmerResult or GlmerResult
        Two or more fits to the same data; rows are named ``m1``, ``m2``, … in the order given
        unless ``names`` is passed.
    names : list of str, optional
        Row names for the positional models.
    refit : bool
        Refit REML fits by ML (lme4's default and the only valid comparison of models whose fixed
        effects differ).  With ``refit=False`` REML criteria are compared as they are.
    **named : LmerResult or GlmerResult
        Models passed by keyword, named by the keyword: ``anova(m0=m0, m1=m1)``.

    Returns
    -------
    AnovaTable
        A DataFrame indexed by model name, ordered by npar, with columns ``npar, AIC, BIC, logLik,
        deviance, Chisq, Df, Pr(>Chisq)`` (NaN where lme4 prints nothing); ``heading`` holds the
        note "refitting model(s) with ML (instead of REML)" when a model was refitted.

    Raises
    ------
    ParameterError
        fewer than two models, a name list of the wrong length, or something that is not a fit.
    DataError
        models fitted to different data (different number of observations or response values),
        or a mix of linear and generalized linear mixed models.
    """
    labels, fits = _models(models, names, named)
    _check_same_data(labels, fits)
    n = float(fits[0].nobs)
    reml = [bool(getattr(m, "REML", False)) for m in fits]
    heading, refitted = [], []
    if refit and any(reml):
        heading.append(REFIT_NOTE)
        refitted = [lab for lab, r in zip(labels, reml) if r]
        fits = [m.refit_ml() if r else m for m, r in zip(fits, reml)]
    elif any(reml) and not all(reml):
        heading.append("some models fit with REML = TRUE, some not")
    ll = np.array([m.loglik for m in fits], float)
    k = np.array([m.npar for m in fits], float)
    order = np.argsort(k, kind="stable")
    ll, k = ll[order], k[order]
    labels, fits = [labels[i] for i in order], [fits[i] for i in order]
    chisq = np.concatenate([[np.nan], 2.0 * np.maximum(0.0, np.diff(ll))])
    df = np.concatenate([[np.nan], np.diff(k)])
    with np.errstate(invalid="ignore"):
        p = np.where(df == 0, np.nan, chdtrc(np.where(df > 0, df, np.nan), chisq))
    table = AnovaTable({"npar": k, "AIC": -2.0 * ll + 2.0 * k, "BIC": -2.0 * ll + k * np.log(n),
                        "logLik": ll, "deviance": -2.0 * ll, "Chisq": chisq, "Df": df, "Pr(>Chisq)": p},
                       index=pd.Index(labels))
    table.heading = heading + ["Models:"] + [f"{lab}: {m.formula}" for lab, m in zip(labels, fits)]
    table.refitted = refitted
    return table


def _models(models, names, named) -> tuple[list[str], list]:
    """(row names, fits): positional models named m1, m2, … (or ``names``), then keyword models."""
    if names is not None and len(names) != len(models):
        raise ParameterError(f"names has {len(names)} entries for {len(models)} models")
    labels = list(names) if names is not None else [f"m{i + 1}" for i in range(len(models))]
    labels += list(named)
    fits = list(models) + list(named.values())
    if len(fits) < 2:
        raise ParameterError("anova compares two or more models: anova(m0, m1)")
    if len(set(labels)) != len(labels):
        raise ParameterError(f"model names must be distinct, got {labels}")
    for lab, m in zip(labels, fits):
        if not hasattr(m, "loglik") or not hasattr(m, "design"):
            raise ParameterError(f"{lab} is not a fitted mixed model (got {type(m).__name__})")
    return labels, fits


def _check_same_data(labels: list[str], fits: list) -> None:
    """A likelihood-ratio test compares models of one kind fitted to the same observations."""
    kinds = {getattr(m, "family", None) is None for m in fits}
    if len(kinds) > 1:
        raise DataError("anova cannot compare a linear mixed model (lmer) with a generalized one (glmer): "
                        "their likelihoods are for different response distributions")
    nobs = [m.nobs for m in fits]
    if len(set(nobs)) > 1:
        raise DataError("models were not all fitted to the same size of data set: "
                        + ", ".join(f"{lab} has {n} observations" for lab, n in zip(labels, nobs))
                        + ". A missing value in a variable only one model uses drops rows from that model "
                          "alone: remove incomplete rows from the data before fitting both.")
    y0, w0 = _response_signature(fits[0])
    for lab, m in zip(labels[1:], fits[1:]):
        y, w = _response_signature(m)
        if not np.array_equal(y, y0) or (w is not None and w0 is not None and not np.array_equal(w, w0)):
            raise DataError(f"{labels[0]} and {lab} were fitted to different responses (or weights): "
                            "a likelihood-ratio test needs all models fitted to the same data")
