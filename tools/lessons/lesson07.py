"""Lesson 7: imm10 — random intercepts and slopes, formula pitfalls, and a logistic GLMM."""
from tools.lessons import code, md

SLUG = "imm10"

CELLS = [
    md(r"""
    # Lesson 7 — School achievement (imm10): formula pitfalls and a logistic GLMM

    **Learning objectives.** After this lesson you can

    1. write random-intercept and random-slope models in Raudenbush & Bryk's $\gamma$ notation and as
       lme4 formulas;
    2. avoid the implicit-intercept trap: `(homework | schid)` still has a random intercept;
    3. fit a random slope with a fixed intercept (`0 +`) and uncorrelated random effects;
    4. fit a logistic multilevel model with `mk.glmer` and recognise a singular fit in it;
    5. choose between REML and ML, and compare models with likelihood-ratio tests.

    Source: a Seton Hall University review of multilevel models in R, built on the UCLA IDRE `imm10`
    data.
    """),
    code(r"""
    import warnings

    import numpy as np
    import pandas as pd
    import matplotlib.pyplot as plt
    import statsmodels.formula.api as smf

    import mlmkit as mk
    from mlmkit import plots

    pd.set_option("display.precision", 4)


    check = mk.checks.matches_printed      # value agrees with the tutorial to its printed digits


    def se(m):
        return np.sqrt(np.diag(m.vcov))
    """),
    md(r"""
    ## The data

    260 eighth-graders in 10 schools from the US National Education Longitudinal Study of 1988 (a
    teaching extract prepared by UCLA's IDRE). We use `math` (a maths score), `homework` (hours of maths
    homework per week), `white` (1 if the student is white) and the school identifier `schid`.
    """),
    code(r"""
    imm = mk.datasets.load("imm10")
    imm[["schid", "math", "homework", "white"]].head()
    """),
    md(r"""
    ## Random intercepts

    $$
    \begin{aligned}
    \text{math}_{ij} &= \beta_{0j} + \beta_1\, \text{homework}_{ij} + \varepsilon_{ij}, \\
    \beta_{0j} &= \gamma_{00} + u_{0j}, \qquad \beta_1 = \gamma_{10}, \\
    \text{combined:}\quad \text{math}_{ij} &= \gamma_{00} + \gamma_{10}\, \text{homework}_{ij} + u_{0j} + \varepsilon_{ij}.
    \end{aligned}
    $$

    Schools differ in their average level; homework has the same effect everywhere.

    | R (lme4) | Python (mlmkit) |
    |---|---|
    | `lmer(math ~ homework + (1 \| schid), data = mlmdata)` | `mk.lmer("math ~ homework + (1 \| schid)", imm)` |
    """),
    code(r"""
    m_int = mk.lmer("math ~ homework + (1 | schid)", imm)
    m_int.summary()
    """),
    code(r"""
    check("REML criterion", m_int.reml_criterion, "1839.9")
    check("school variance", m_int.varcorr["vcov"].iloc[0], "25.22")
    check("residual variance", m_int.varcorr["vcov"].iloc[1], "64.52")
    check("gamma00", m_int.fixef["(Intercept)"], "44.982")
    check("gamma10 (homework)", m_int.fixef["homework"], "2.207")
    check("SE of gamma10", se(m_int)[1], "0.379")
    """),
    md(r"""
    In the source's notation, $\tau_{00}$ is the standard deviation of $u_{0j}$ (5.02) and $\sigma$ the
    residual standard deviation (8.03). One more hour of homework goes with 2.2 more points.

    ### Frequent question: REML or ML — and why does Stata give other numbers?

    lme4 and mlmkit fit by REML unless told otherwise; Stata's `mixed` uses ML by default. With
    `REML=False` the numbers match Stata's and statsmodels' `reml=False`:
    """),
    code(r"""
    m_int_ml = mk.lmer("math ~ homework + (1 | schid)", imm, REML=False)
    sm_int_ml = smf.mixedlm("math ~ homework", imm, groups="schid").fit(reml=False)
    pd.DataFrame({
        "mlmkit REML": [*m_int.fixef, m_int.varcorr["vcov"].iloc[0], m_int.sigma**2],
        "mlmkit ML": [*m_int_ml.fixef, m_int_ml.varcorr["vcov"].iloc[0], m_int_ml.sigma**2],
        "statsmodels ML": [*sm_int_ml.fe_params, sm_int_ml.cov_re.iloc[0, 0], sm_int_ml.scale],
    }, index=["gamma00", "gamma10", "school variance", "residual variance"]).round(3)
    """),
    md(r"""
    With only 10 schools the school variance differs noticeably (25.2 vs 22.5): ML ignores that two fixed
    effects were estimated from the same data. Prefer REML for reporting variances; use ML (or let
    `mk.anova` refit) when comparing models that differ in their fixed effects.

    ## Random slopes

    Now the effect of homework may differ between schools:

    $$\beta_{1j} = \gamma_{10} + u_{1j}, \qquad
      \text{math}_{ij} = \gamma_{00} + \gamma_{10}\, \text{homework}_{ij} + u_{0j} + u_{1j}\, \text{homework}_{ij} + \varepsilon_{ij}.$$
    """),
    code(r"""
    m_slope = mk.lmer("math ~ homework + (1 + homework | schid)", imm)
    vc = m_slope.varcorr
    check("REML criterion", m_slope.reml_criterion, "1764")
    check("intercept variance", vc["vcov"].iloc[0], "69.30", slack=1)   # lme4 1.1-31 gives 69.306
    check("slope variance", vc["vcov"].iloc[1], "22.45")
    check("correlation", vc["sdcor"].iloc[2], "-0.81")
    check("residual variance", vc["vcov"].iloc[3], "43.07")
    check("gamma10", m_slope.fixef["homework"], "2.040")
    check("SE of gamma10", se(m_slope)[1], "1.554")
    """),
    md(r"""
    The homework effect varies a lot between schools (standard deviation $\tau_{11} = 4.74$ points per
    hour around an average of 2.04), and schools with a high intercept tend to have a flatter slope
    (correlation −0.81). The average effect's standard error quadruples (0.38 → 1.55): once slopes may
    differ, the evidence about the *average* slope comes from 10 schools, not 260 students.
    """),
    code(r"""
    ax = plots.fitted_lines(m_slope, "homework", data=imm, y="math")
    ax.set_title("each school's own homework effect")
    plt.show()
    """),
    code(r"""
    sm_slope = smf.mixedlm("math ~ homework", imm, groups="schid", re_formula="~homework").fit(reml=True)
    cov = sm_slope.cov_re.to_numpy()
    pd.DataFrame({
        "mlmkit": [*m_slope.fixef, vc["vcov"].iloc[0], vc["vcov"].iloc[1], vc["sdcor"].iloc[2], m_slope.sigma**2],
        "statsmodels": [*sm_slope.fe_params, cov[0, 0], cov[1, 1], cov[0, 1] / np.sqrt(cov[0, 0] * cov[1, 1]),
                        sm_slope.scale],
    }, index=["gamma00", "gamma10", "tau00^2", "tau11^2", "correlation", "sigma^2"]).round(3)
    """),
    md(r"""
    ## The implicit-intercept trap

    Suppose you want a random slope *without* a random intercept and write `(homework | schid)`. In R's
    formula language an intercept is included unless removed, inside the random term as well as outside
    it — so this is the same model as before:
    """),
    code(r"""
    m_trap = mk.lmer("math ~ homework + (homework | schid)", imm)
    same = np.allclose(m_trap.varcorr["vcov"], m_slope.varcorr["vcov"]) and np.allclose(m_trap.fixef, m_slope.fixef)
    print("identical to (1 + homework | schid):", same)
    m_trap.varcorr
    """),
    md(r"""
    The random intercept is still there (the `(Intercept)` row). To drop it, remove the intercept
    explicitly with `0 +` (or `- 1`):

    $$\beta_{0j} = \gamma_{00}, \qquad \beta_{1j} = \gamma_{10} + u_{1j}.$$
    """),
    code(r"""
    m_noint = mk.lmer("math ~ homework + (0 + homework | schid)", imm)
    check("REML criterion", m_noint.reml_criterion, "1849.1")
    check("slope variance", m_noint.varcorr["vcov"].iloc[0], "5.249")
    check("residual variance", m_noint.varcorr["vcov"].iloc[1], "67.316")
    check("gamma00", m_noint.fixef["(Intercept)"], "46.0301")
    check("gamma10", m_noint.fixef["homework"], "1.6352")
    m_noint.varcorr
    """),
    code(r"""
    sm_noint = smf.mixedlm("math ~ homework", imm, groups="schid", re_formula="0 + homework").fit(reml=True)
    print(f"statsmodels: slope variance {sm_noint.cov_re.iloc[0, 0]:.3f}, residual variance {sm_noint.scale:.3f}")
    """),
    code(r"""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5), sharey=True)
    plots.fitted_lines(m_slope, "homework", data=imm, y="math", ax=axes[0])
    plots.fitted_lines(m_noint, "homework", data=imm, y="math", ax=axes[1])
    axes[0].set_title("(1 + homework | schid)")
    axes[1].set_title("(0 + homework | schid): one start")
    plt.show()
    """),
    md(r"""
    ## Uncorrelated random intercepts and slopes

    Putting the intercept and the slope in separate terms fixes their correlation at 0. lme4 offers the
    shorthand `(homework || schid)` for `(1 | schid) + (0 + homework | schid)`.
    """),
    code(r"""
    m_uncor = mk.lmer("math ~ homework + (1 | schid) + (0 + homework | schid)", imm)
    m_uncor2 = mk.lmer("math ~ homework + (homework || schid)", imm)
    check("REML criterion", m_uncor.reml_criterion, "1772.7")
    check("intercept variance", m_uncor.varcorr["vcov"].iloc[0], "63.35")
    check("slope variance", m_uncor.varcorr["vcov"].iloc[1], "20.03")
    check("residual variance", m_uncor.varcorr["vcov"].iloc[2], "43.27")
    check("gamma10", m_uncor.fixef["homework"], "2.016")
    print("|| gives the same fit:", np.allclose(m_uncor2.varcorr["vcov"], m_uncor.varcorr["vcov"]))
    """),
    md(r"""
    ### Frequent question: which random-effects structure?

    The four fits above differ only in their random part and share their fixed effects, so their REML
    likelihoods can be compared directly; `mk.anova` still refits with ML, as lme4 does by default.
    """),
    code(r"""
    mk.anova(m_int, m_uncor, m_slope)
    """),
    md(r"""
    The random slope improves the fit enormously, and the correlation improves it further. (Tests of a
    variance against 0 are conservative, because 0 is on the boundary of the parameter space.)

    ## A logistic multilevel model

    `white` is 0/1. A logistic GLMM models the log-odds of being white with a random intercept and slope
    over schools:

    $$\log\frac{P(\text{white}_{ij} = 1)}{1 - P(\text{white}_{ij} = 1)} = \gamma_{00} + \gamma_{10}\, \text{homework}_{ij} + u_{0j} + u_{1j}\, \text{homework}_{ij}.$$

    | R (lme4) | Python (mlmkit) |
    |---|---|
    | `glmer(white ~ homework + (1 + homework \| schid), data = mlmdata, family = binomial(link = "logit"))` | `mk.glmer("white ~ homework + (1 + homework \| schid)", imm, family="binomial")` |

    This fit lands on the boundary, and mlmkit warns as lme4 does. We catch the warning to print it
    tidily:
    """),
    code(r"""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m_logit = mk.glmer("white ~ homework + (1 + homework | schid)", imm, family="binomial")
    for w in caught:
        print(f"{w.category.__name__}: {w.message}")
    m_logit.summary()
    """),
    code(r"""
    check("AIC", m_logit.aic, "182.4")
    check("BIC", m_logit.bic, "200.2")
    check("log-likelihood", m_logit.loglik, "-86.2")
    check("gamma00", m_logit.fixef["(Intercept)"], "1.67362", slack=300)
    check("gamma10", m_logit.fixef["homework"], "0.04508", slack=300)
    check("correlation", m_logit.varcorr["sdcor"].iloc[2], "-1.00")
    print("is_singular:", m_logit.is_singular)
    """),
    md(r"""
    ### Frequent question: what does a singular fit mean here?

    The estimated correlation between the schools' intercepts and slopes is exactly −1: the two random
    effects have collapsed onto a line, and the slope's standard deviation (0.22) is tiny. With 10 schools
    and a binary outcome, the data cannot support a random slope and a correlation. The fixed effects are
    still maximum-likelihood estimates, but their standard errors are computed at the edge of the
    parameter space and the digits become fragile (lme4 1.1-31 gives 1.67365 where the tutorial's
    version printed 1.67362, so we check the estimates to within 0.003). A simpler model is the honest
    choice:
    """),
    code(r"""
    m_logit_int = mk.glmer("white ~ homework + (1 | schid)", imm, family="binomial")
    mk.anova(m_logit_int, m_logit)
    """),
    md(r"""
    The random slope does not improve the fit: keep the random-intercept model. Unlike the linear
    models, the GLMM's table shows z values and p-values (lesson 4 explains why). statsmodels has no
    maximum-likelihood logistic mixed model to compare with.

    ## Exercise

    **Exercise `lesson07_imm23`:** this lesson's models on the 23-school data — the ICC, the
    `(homework | schid)` trap, and a likelihood-ratio test for the random slope.

    **Next:** [Lesson 8 — three-level nested and crossed designs](08_nested_crossed.ipynb).
    """),
]
