"""Lesson 6: sleepstudy, from one subject's regression to varying intercepts and slopes."""
from tools.lessons import code, md

SLUG = "sleepstudy"

CELLS = [
    md(r"""
    # Lesson 6 — Sleep deprivation: varying intercepts and varying slopes

    **Learning objectives.** After this lesson you can

    1. go from one subject's regression, to one regression per subject (the flat model), to a
       multilevel model of the regressions;
    2. read the fixed effects, the covariance matrix Σ of the random effects and each subject's
       coefficients from an `mk.lmer` fit;
    3. fit and tell apart the variants: intercepts only `(1 | g)`, slopes only `(0 + x | g)`, and
       uncorrelated intercepts and slopes `(x || g)`;
    4. compare them with likelihood-ratio tests, knowing why this needs ML rather than REML;
    5. predict with and without the random effects.

    Source: Mark Andrews' notes on multilevel models (the sleepstudy example).
    """),
    code(r"""
    import numpy as np
    import pandas as pd
    import matplotlib.pyplot as plt
    import statsmodels.formula.api as smf
    from statsmodels.regression.mixed_linear_model import MixedLMParams

    import mlmkit as mk
    from mlmkit import plots

    pd.set_option("display.precision", 4)


    check = mk.checks.matches_printed      # value agrees with the tutorial to its printed digits
    """),
    md(r"""
    ## The data

    Eighteen people were allowed only three hours of sleep per night; their average reaction time (ms)
    was measured on each of ten days (day 0 before the restriction began).
    """),
    code(r"""
    sleep = mk.datasets.load("sleepstudy")
    ax = sleep.pivot(index="Days", columns="Subject", values="Reaction").plot(
        legend=False, color="0.45", lw=0.9, figsize=(5, 3.5))
    ax.set_ylabel("Reaction (ms)")
    ax.set_title("one line per person")
    plt.show()
    """),
    md(r"""
    Most people slow down day by day, but they start at different levels and slow down at different
    rates — some hardly at all. (Below, a panel per person shows the same data in detail.)

    ## One subject

    For subject 350 alone, a straight line over days $x_d$:

    $$y_d \sim N(\mu_d, \sigma^2), \qquad \mu_d = \beta_0 + \beta_1 x_d .$$

    | R | Python |
    |---|---|
    | `lm(Reaction ~ Days, data = sleepstudy_350)` | `smf.ols("Reaction ~ Days", data=sleep_350).fit()` |
    """),
    code(r"""
    sleep_350 = sleep[sleep["Subject"] == "350"]
    fit_350 = smf.ols("Reaction ~ Days", data=sleep_350).fit()
    check("subject 350 intercept", fit_350.params["Intercept"], "225.83460")
    check("subject 350 slope", fit_350.params["Days"], "19.50402")
    """),
    md(r"""
    Subject 350 started at about 226 ms and slowed by about 19.5 ms per day.

    ## The flat model: a regression per subject

    One line per subject $j$, with a residual standard deviation shared by all:

    $$y_{jd} \sim N(\beta_{j0} + \beta_{j1} x_{jd}, \sigma^2).$$

    In R: `lm(Reaction ~ 0 + Subject + Subject:Days)`. The statsmodels formula is the same; we collect
    its 36 coefficients in a table with a row per subject.
    """),
    code(r"""
    flat_fit = smf.ols("Reaction ~ 0 + Subject + Subject:Days", data=sleep).fit()
    subjects = sorted(sleep["Subject"].unique())
    flat = pd.DataFrame({
        "(Intercept)": [flat_fit.params[f"Subject[{s}]"] for s in subjects],
        "Days": [flat_fit.params[f"Subject[{s}]:Days"] for s in subjects],
    }, index=subjects)
    flat.loc[["350"]]
    """),
    md(r"""
    The flat model knows 18 separate lines, but nothing about people in general: it gives no average
    slope with an honest uncertainty and no prediction for a 19th person.

    ## The multilevel model

    Each subject's pair of coefficients $\vec\beta_j = (\beta_{j0}, \beta_{j1})$ is a draw from a
    bivariate normal population, $\vec\beta_j \sim N(\vec b, \Sigma)$. Writing $\vec\beta_j = \vec b +
    \vec\zeta_j$, with $s_i$ the subject of observation $i$:

    $$
    \begin{aligned}
    y_i &\sim N(\mu_i, \sigma^2), \\
    \mu_i &= \underbrace{b_0 + b_1 x_i}_{\text{fixed effects}}
            + \underbrace{\zeta_{[s_i]0} + \zeta_{[s_i]1} x_i}_{\text{random effects}}, \\
    \vec\zeta_j &\sim N(0, \Sigma), \qquad
    \Sigma = \begin{pmatrix} \tau_0^2 & \rho\tau_0\tau_1 \\ \rho\tau_0\tau_1 & \tau_1^2 \end{pmatrix}.
    \end{aligned}
    $$

    | R (lme4) | Python (mlmkit) |
    |---|---|
    | `lmer(Reaction ~ Days + (Days \| Subject), data = sleepstudy)` | `mk.lmer("Reaction ~ Days + (Days \| Subject)", sleep)` |

    `(Days | Subject)` means `(1 + Days | Subject)`: the intercept is implicit, as in any R formula.
    """),
    code(r"""
    m = mk.lmer("Reaction ~ Days + (Days | Subject)", sleep)
    m.summary()
    """),
    code(r"""
    sd = m.varcorr["sdcor"]
    check("b0", m.fixef["(Intercept)"], "251.40510")
    check("b1", m.fixef["Days"], "10.46729")
    check("tau0", sd.iloc[0], "24.7407")
    check("tau1", sd.iloc[1], "5.9221")
    check("rho", sd.iloc[2], "0.066")
    check("sigma", sd.iloc[3], "25.5918")
    """),
    md(r"""
    The average person starts at 251 ms and slows by 10.5 ms per day; people's starting points scatter
    with a standard deviation of about 25 ms, their slopes with one of about 6 ms/day, almost
    uncorrelated. Σ itself, built from these numbers:
    """),
    code(r"""
    t0, t1, rho = sd.iloc[:3]
    Sigma = pd.DataFrame([[t0**2, rho * t0 * t1], [rho * t0 * t1, t1**2]],
                         index=["(Intercept)", "Days"], columns=["(Intercept)", "Days"])
    Sigma.round(2)
    """),
    md(r"""
    Each subject's own line is $\vec b + \hat{\vec\zeta}_j$: `m.coef` (R: `coef(m)$Subject`).
    """),
    code(r"""
    coefs = m.coef["Subject"]
    for subject, icpt, slope in [("308", "253.6637", "19.666262"), ("309", "211.0064", "1.847605"),
                                 ("310", "212.4447", "5.018429"), ("330", "275.0957", "5.652936")]:
        check(f"subject {subject} intercept", coefs.loc[subject, "(Intercept)"], icpt)
        check(f"subject {subject} slope", coefs.loc[subject, "Days"], slope)
    """),
    md(r"""
    ## Flat versus multilevel lines
    """),
    code(r"""
    plots.group_panels(sleep, "Days", "Reaction", "Subject", lines={"flat": flat, "multilevel": m})
    plt.show()
    """),
    md(r"""
    Where a subject's data follow a clear line the two fits coincide. Where a few days pull a subject's own
    line to an unusual slope (look at 330, 335, 350 or 370) the multilevel line is pulled back towards the
    population line: the model borrows strength from the other 17 people. The same pull is visible in
    the plane of the two coefficients: the ellipses are contours of the fitted population
    $N(\vec b, \Sigma)$, the green points are the multilevel estimates and grey lines lead to them from
    the flat ones (crosses).
    """),
    code(r"""
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    plots.ranef_contour(m, ax=ax)
    ax.scatter(flat["(Intercept)"], flat["Days"], marker="x", color="0.4", label="flat estimates")
    ax.plot([flat["(Intercept)"], coefs["(Intercept)"]], [flat["Days"], coefs["Days"]], color="0.6", lw=0.7)
    ax.legend(fontsize=7, loc="lower left")
    plt.show()
    """),
    md(r"""
    ## The same model in statsmodels

    `re_formula="~Days"` asks for a random intercept and slope per group, with a free covariance.
    """),
    code(r"""
    sm_full = smf.mixedlm("Reaction ~ Days", sleep, groups="Subject", re_formula="~Days").fit(reml=True)
    cov = sm_full.cov_re.to_numpy()
    pd.DataFrame({
        "mlmkit": [*m.fixef, t0, t1, rho, m.sigma],
        "statsmodels": [*sm_full.fe_params, np.sqrt(cov[0, 0]), np.sqrt(cov[1, 1]),
                        cov[0, 1] / np.sqrt(cov[0, 0] * cov[1, 1]), np.sqrt(sm_full.scale)],
    }, index=["b0", "b1", "tau0", "tau1", "rho", "sigma"]).round(3)
    """),
    md(r"""
    ## Variants: intercepts only, slopes only, uncorrelated

    | model | random part | lme4 / mlmkit formula |
    |---|---|---|
    | varying intercepts | $\zeta_{j0} \sim N(0, \tau_0^2)$ | `Reaction ~ Days + (1 \| Subject)` |
    | varying slopes | $\zeta_{j1} \sim N(0, \tau_1^2)$ | `Reaction ~ Days + (0 + Days \| Subject)` |
    | uncorrelated | both, with $\rho = 0$ | `Reaction ~ Days + (Days \|\| Subject)` |

    `(Days || Subject)` is shorthand for `(1 | Subject) + (0 + Days | Subject)`: two terms on the same
    factor, so no correlation between them is estimated. lme4 names the second one `Subject.1`.
    """),
    code(r"""
    m_vi = mk.lmer("Reaction ~ Days + (1 | Subject)", sleep)
    m_vs = mk.lmer("Reaction ~ Days + (0 + Days | Subject)", sleep)
    m_diag = mk.lmer("Reaction ~ Days + (Days || Subject)", sleep)
    m_diag2 = mk.lmer("Reaction ~ Days + (1 | Subject) + (0 + Days | Subject)", sleep)
    m_diag.varcorr
    """),
    code(r"""
    check("intercepts only: tau0", m_vi.varcorr["sdcor"].iloc[0], "37.124")
    check("intercepts only: sigma", m_vi.sigma, "30.991")
    check("slopes only: tau1", m_vs.varcorr["sdcor"].iloc[0], "7.260")
    check("slopes only: sigma", m_vs.sigma, "29.018")
    for name, fit in [("||", m_diag), ("two terms", m_diag2)]:
        check(f"uncorrelated ({name}): tau0", fit.varcorr["sdcor"].iloc[0], "25.0513")
        check(f"uncorrelated ({name}): tau1", fit.varcorr["sdcor"].iloc[1], "5.9882")
        check(f"uncorrelated ({name}): sigma", fit.sigma, "25.5653")
    check("the same fixed effects in every variant", m_vs.fixef["Days"], "10.46729")
    """),
    md(r"""
    The fixed effects are identical in all variants (the design is balanced), but the variances are not:
    when the slopes may not vary, the intercepts and the residual absorb that variation (τ₀ rises from
    25 to 37), and vice versa.
    """),
    code(r"""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5), sharey=True)
    plots.fitted_lines(m_vi, "Days", data=sleep, y="Reaction", ax=axes[0])
    plots.fitted_lines(m_vs, "Days", data=sleep, y="Reaction", ax=axes[1])
    axes[0].set_title("varying intercepts: parallel lines")
    axes[1].set_title("varying slopes: a common start")
    plt.show()
    """),
    md(r"""
    statsmodels fits the first two with `groups=` alone and with `re_formula="0 + Days"`; for the
    uncorrelated model its covariance must be constrained to be diagonal through `free=`:
    """),
    code(r"""
    sm_vi = smf.mixedlm("Reaction ~ Days", sleep, groups="Subject").fit(reml=True)
    sm_vs = smf.mixedlm("Reaction ~ Days", sleep, groups="Subject", re_formula="0 + Days").fit(reml=True)
    diagonal = MixedLMParams.from_components(fe_params=np.ones(2), cov_re=np.eye(2))
    sm_diag = smf.mixedlm("Reaction ~ Days", sleep, groups="Subject", re_formula="~Days").fit(reml=True, free=diagonal)
    pd.DataFrame({
        "mlmkit": [m_vi.varcorr["sdcor"].iloc[0], m_vs.varcorr["sdcor"].iloc[0], *m_diag.varcorr["sdcor"].iloc[:2]],
        "statsmodels": [np.sqrt(sm_vi.cov_re.iloc[0, 0]), np.sqrt(sm_vs.cov_re.iloc[0, 0]),
                        *np.sqrt(np.diag(sm_diag.cov_re))],
    }, index=["intercepts only: tau0", "slopes only: tau1", "uncorrelated: tau0", "uncorrelated: tau1"]).round(3)
    """),
    md(r"""
    ## Frequent question: how do I compare these models, and why is there no AIC?

    A REML fit maximises a likelihood of the data *after* the fixed effects are projected out, so its
    value depends on the fixed-effects design; lme4 therefore prints a "REML criterion" instead of an
    AIC. To compare models by likelihood, fit them by ML. `mk.anova` (R: `anova(m1, m2)`) does this for
    you: it refits REML fits with ML, says so, and gives the likelihood-ratio test.
    """),
    code(r"""
    mk.anova(m_diag, m)
    """),
    md(r"""
    Allowing the correlation $\rho$ costs one parameter and does not improve the fit: the data are
    consistent with uncorrelated intercepts and slopes. Dropping the random slopes is another matter:
    """),
    code(r"""
    mk.anova(m_vi, m_diag)
    """),
    md(r"""
    (A variance tested against 0 sits on the boundary of its range, which makes this p-value
    conservative — roughly twice too large; here it hardly matters.)

    ## Frequent question: predictions with and without the random effects

    For a subject in the data, `m.predict(newdata)` uses that subject's line; `re_form="~0"` uses the
    population line $b_0 + b_1 x$, the prediction for a typical new person. R: `predict(m, newdata)` and
    `predict(m, newdata, re.form = NA)`.
    """),
    code(r"""
    day9 = pd.DataFrame({"Days": [9, 9, 9], "Subject": ["308", "309", "new person"]})
    pd.DataFrame({
        "subject's own line": m.predict(day9, allow_new_levels=True),
        "population line": m.predict(day9, re_form="~0"),
    }, index=day9["Subject"]).round(1)
    """),
    md(r"""
    ## Checking the model

    Residuals against fitted values, and normal Q-Q plots of the scaled residuals and of the predicted
    intercepts. A few large residuals (subject 332's outlying day, for instance) stand out; otherwise
    the assumptions look reasonable.
    """),
    code(r"""
    plots.residual_diagnostics(m)
    plt.show()
    """),
    md(r"""
    ## Exercise

    **Exercise `lesson06_sleepstudy`:** the share of people whose reaction time would *improve* with
    sleep loss, a likelihood-ratio test for the correlation, and predictions with and without the random
    effects.

    **Next:** [Lesson 7 — school achievement and formula pitfalls](07_imm10.ipynb).
    """),
]
