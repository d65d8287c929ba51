"""What lmer and glmer results share: named estimates, random effects, VarCorr, prediction.

A subclass supplies ``opt`` (whose ``theta`` is θ̂), ``sigma``, ``_beta`` (fixed effects), ``_b``
(random effects in the two-block layout of :mod:`mlmkit.engine.linalg`), ``_residual_sd`` (σ, or
None for glmer), ``loglik`` and ``npar``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .spec.design import Design, _fixed_matrix, _grouping
from .errors import DataError, ParameterError
from .frozen import frozen_cached
from .engine.optimize import SINGULAR_TOL

__all__ = ["MixedModelResult", "warn_about_fit"]


def warn_about_fit(result, messages=()) -> None:
    """Warn as lme4 does after a fit: each convergence message, then a boundary (singular) fit."""
    import warnings

    from .errors import ConvergenceWarning, SingularFitWarning
    for msg in messages:
        warnings.warn(msg, ConvergenceWarning, stacklevel=4)
    if result.is_singular:
        warnings.warn("boundary (singular) fit: see help('isSingular') — a variance is estimated as 0 or a "
                      "correlation as ±1; consider a simpler random-effects structure",
                      SingularFitWarning, stacklevel=4)

@dataclass(frozen=True, eq=False)
class MixedModelResult:
    design: Design

    # --- sizes -------------------------------------------------------------------------------
    formula = property(lambda self: self.design.formula)
    nobs = property(lambda self: self.design.nobs)
    ngroups = property(lambda self: dict(self.design.ngroups))       # group → number of levels

    # --- estimates ---------------------------------------------------------------------------
    @frozen_cached
    def theta(self) -> np.ndarray:
        return np.asarray(self.opt.theta, float).copy()

    @frozen_cached
    def fixef(self) -> pd.Series:
        return pd.Series(self._beta, index=list(self.design.fixef_names), name="Estimate")

    @frozen_cached
    def is_singular(self) -> bool:
        """lme4's ``isSingular``: a diagonal element of Λ below 1e-4 (variance 0 or correlation ±1)."""
        return bool(np.any(self.theta[np.isfinite(self.design.theta_lower)] < SINGULAR_TOL))

    @frozen_cached
    def _term_effects(self) -> list[np.ndarray]:
        """Random effects of each term as an (n_levels, q) array."""
        b1, b2 = self._b
        out = []
        for t, (block, off) in zip(self.design.terms, self.design.structure.term_slices):
            if block == 1:
                out.append(b1[:, off:off + t.q])
            else:
                out.append(np.asarray(b2[off:off + t.n_levels * t.q]).reshape(t.n_levels, t.q))
        return out

    @frozen_cached
    def ranef(self) -> dict[str, pd.DataFrame]:
        """Conditional modes of the random effects: factor → DataFrame (rows: level labels)."""
        out: dict[str, pd.DataFrame] = {}
        for t, b in zip(self.design.terms, self._term_effects):
            df = pd.DataFrame(b, index=pd.Index(list(t.levels), name=t.group), columns=list(t.columns))
            out[t.group] = df if t.group not in out else pd.concat([out[t.group], df], axis=1)
        return out

    @frozen_cached
    def coef(self) -> dict[str, pd.DataFrame]:
        """Per-level coefficients: fixed effects plus that level's random effects (R's ``coef()``)."""
        fe = self.fixef
        # as lme4: random-effect columns without a fixed effect come first, with a fixed part of 0
        extra = [c for re in self.ranef.values() for c in re.columns if c not in fe.index]
        fe = pd.concat([pd.Series(0.0, index=list(dict.fromkeys(extra))), fe])
        out = {}
        for g, re in self.ranef.items():
            df = pd.DataFrame(np.tile(fe.to_numpy(), (len(re), 1)), index=re.index, columns=list(fe.index))
            for c in re.columns:
                df[c] = df[c] + re[c]
            out[g] = df
        return out

    def _covariance_blocks(self) -> list[np.ndarray]:
        """Each term's q × q covariance matrix σ² Λ Λ' (σ = 1 for glmer)."""
        s2 = self.sigma ** 2
        return [s2 * (L @ L.T) for L in (t.lambda_block(self.theta) for t in self.design.terms)]

    @frozen_cached
    def varcorr(self) -> pd.DataFrame:
        """lme4's ``as.data.frame(VarCorr(m))``: grp, var1, var2, vcov, sdcor (Residual last)."""
        rows, seen = [], {}
        for t, cov in zip(self.design.terms, self._covariance_blocks()):
            k = seen.get(t.group, 0)
            seen[t.group] = k + 1
            grp = t.group if k == 0 else f"{t.group}.{k}"
            sd = np.sqrt(np.diag(cov))
            for i, c in enumerate(t.columns):
                rows.append((grp, c, None, cov[i, i], sd[i]))
            for j in range(t.q):
                for i in range(j + 1, t.q):
                    cor = cov[i, j] / (sd[i] * sd[j]) if sd[i] > 0 and sd[j] > 0 else np.nan
                    rows.append((grp, t.columns[j], t.columns[i], cov[i, j], cor))
        if self._residual_sd is not None:
            rows.append(("Residual", None, None, self._residual_sd ** 2, self._residual_sd))
        return pd.DataFrame(rows, columns=["grp", "var1", "var2", "vcov", "sdcor"])

    # --- information criteria -----------------------------------------------------------------
    @property
    def aic(self) -> float:
        return float(-2.0 * self.loglik + 2.0 * self.npar)

    @property
    def bic(self) -> float:
        return float(-2.0 * self.loglik + self.npar * np.log(self.nobs))

    df_resid = property(lambda self: self.nobs - self.npar)

    # --- fitted values and prediction -------------------------------------------------------
    @frozen_cached
    def _eta(self) -> np.ndarray:
        b1, b2 = self._b
        eta = self.design.X @ self._beta + self.design.structure.Zb(b1, b2)
        return eta if self.design.offset is None else eta + self.design.offset

    @property
    def fitted(self) -> np.ndarray:
        """Fitted values (on the response scale), with the random effects."""
        return self._linkinv(self._eta)

    def _linkinv(self, eta):
        return eta

    def predict(self, newdata: pd.DataFrame | None = None, re_form=None, allow_new_levels: bool = False,
                type: str = "response") -> np.ndarray:
        """Predictions, like lme4's ``predict(m, newdata, re.form, allow.new.levels, type)``.

        ``re_form=None`` uses every random-effects term; ``"~0"``, ``"NA"`` or ``False`` none (the
        population-level prediction, Xβ̂); a formula of random terms such as ``"~(1 | Subject)"`` uses
        just those.  New levels of a grouping factor raise an error unless ``allow_new_levels=True``,
        in which case their random effects are 0, as in lme4.  ``type="link"`` gives the linear
        predictor of a GLMM.
        """
        if type not in ("response", "link"):
            raise ParameterError(f"unknown prediction type '{type}': use 'response' or 'link'")
        d = self.design
        terms = self._re_form_terms(re_form)
        if newdata is None:
            eta = d.X @ self._beta + (d.offset if d.offset is not None else 0.0)
            for k in terms:
                t = d.terms[k]
                eta = eta + np.einsum("ij,ij->i", t.values, self._term_effects[k][t.codes])
            return eta if type == "link" else self._linkinv(eta)
        if not isinstance(newdata, pd.DataFrame):
            raise DataError("newdata must be a pandas DataFrame")
        eta = d.fixed_matrix(newdata) @ self._beta
        if d.parsed.offsets:
            from .spec.design import evaluate
            eta = eta + np.sum([np.asarray(evaluate(n, newdata, d.formula, d.parsed.text), float)
                                for n in d.parsed.offset_nodes], axis=0)
        for k in terms:
            t, b = d.terms[k], self._term_effects[k]
            missing = [v for v in t.term.group_vars if v not in newdata.columns]
            if missing:
                raise DataError(f"newdata lacks the grouping column '{missing[0]}' needed for "
                                f"'{t.term.source}'; pass re_form='~0' for population-level predictions")
            codes_new, labels = _grouping(t.term, newdata)
            pos = pd.Index(list(t.levels)).get_indexer(list(labels))
            if (pos < 0).any() and not allow_new_levels:
                new = [labels[i] for i in np.flatnonzero(pos < 0)][:5]
                raise DataError(f"new level(s) {new} of '{t.group}' not in the fitted data; use "
                                "allow_new_levels=True to predict them at the population level")
            bb = np.vstack([b, np.zeros((1, t.q))])          # row -1: a new level's effects are 0
            Zt = _fixed_matrix(t.term.expr, newdata, d.formula, terms=t.term.terms)[0]
            eta = eta + np.einsum("ij,ij->i", Zt, bb[pos[codes_new]])
        return eta if type == "link" else self._linkinv(eta)

    def _re_form_terms(self, re_form) -> list[int]:
        """Indices of the design's terms that ``re_form`` keeps."""
        terms = self.design.terms
        if re_form is None:
            return list(range(len(terms)))
        if _is_no_re(re_form):
            return []
        if not isinstance(re_form, str):
            raise ParameterError(f"re_form must be None, '~0' or a formula of random terms, not {re_form!r}")
        from .spec.formula import parse_formula
        wanted = parse_formula("y " + re_form.strip() if re_form.strip().startswith("~") else "y ~ " + re_form).random
        key = (lambda expr, group: ("".join(expr.split()), "".join(group.split())))
        have = {key(t.term.expr, t.group): k for k, t in enumerate(terms)}
        out = []
        for w in wanted:
            k = have.get(key(w.expr, w.group))
            if k is None:
                raise ParameterError(f"re_form term '{w.source}' is not in the model; its terms are "
                                     + ", ".join(sorted({t.term.source for t in terms})))
            out.append(k)
        return out

    # --- teaching helpers ---------------------------------------------------------------------
    def icc(self) -> pd.Series:
        """Intraclass correlation of each grouping factor's random intercept.

        ICC_g = τ²_g / (Σ_h τ²_h + σ²), the share of the (intercept-level) variance due to factor g.
        For a GLMM the residual variance on the latent scale is π²/3 (logit) or 1 (probit).
        """
        vc = self.varcorr
        icpt = vc[(vc["var1"] == "(Intercept)") & vc["var2"].isna()]
        if icpt.empty:
            raise ParameterError("icc() needs a random intercept; this model has none")
        total = icpt["vcov"].sum() + self._latent_residual_variance()
        return pd.Series(icpt["vcov"].to_numpy() / total, index=icpt["grp"].to_numpy(), name="ICC")

    def _latent_residual_variance(self) -> float:
        return self._residual_sd ** 2

    def confint(self, parm=None, method: str = "profile", level: float = 0.95, **kwargs) -> pd.DataFrame:
        """Confidence intervals (see :mod:`mlmkit.inference.profile` and :mod:`mlmkit.inference.bootstrap`)."""
        from .inference.intervals import confint
        return confint(self, parm=parm, method=method, level=level, **kwargs)

    def profile(self, which=None, **kwargs):
        """Likelihood profile of the deviance (see :func:`mlmkit.inference.profile.profile`)."""
        from .inference.profile import profile
        return profile(self, which=which, **kwargs)

    def simulate(self, nsim: int = 1, seed=None, use_re: bool = False) -> pd.DataFrame:
        """New responses from the fitted model (see :func:`mlmkit.inference.bootstrap.simulate`)."""
        from .inference.bootstrap import simulate
        return simulate(self, nsim=nsim, seed=seed, use_re=use_re)

    def summary(self):
        from .display import summarize
        return summarize(self)

    def _repr_html_(self):
        return self.summary()._repr_html_()

    def __repr__(self):
        return str(self.summary())


def _is_no_re(re_form) -> bool:
    if isinstance(re_form, float) and np.isnan(re_form):
        return True
    if isinstance(re_form, str):
        return "".join(re_form.split()) in ("~0", "NA", "0", "~-1")
    return re_form is False
