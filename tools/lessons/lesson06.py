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
    4. compare them with likelihood-ratio tests, knowing when REML fits may be compared and when ML is
       needed, and how to correct the p-value of a variance tested against 0;
    5. predict with and without the random effects, check the model, and report it.

    Source: Mark Andrews' notes on multilevel models (the sleepstudy example).
    """),
    code(r"""
    import numpy as np
    import pandas as pd
    import matplotlib.pyplot as plt
    import scipy.stats
    import statsmodels.formula.api as smf

    import mlmkit as mk
    from mlmkit import plots

    pd.set_option("display.precision", 4)
    """),
    md(r"""
    ## The data

    Eighteen people were allowed only three hours of sleep per night; their average reaction time (ms)
    was measured on each of ten days, numbered 0 to 9. According to lme4's current documentation, days 0
    and 1 were adaptation and training, day 2 was the baseline, and the sleep restriction began after
    day 2. Like the source tutorial (and lme4's classic example) we fit a line over all ten days, so
    "day 0" below is simply the first day in the data, not a rested baseline; a **try it** prompt at
    the end of the lesson refits from the baseline on.
    """),
    code(r"""
    sleep = mk.datasets.load("sleepstudy")
    ax = sleep.pivot(index="Days", columns="Subject", values="Reaction").plot(
        legend=False, color="0.45", lw=0.9, figsize=(5, 3.5))
    ax.set_ylabel("average reaction time (ms)")
    ax.set_xlabel("day of the study")
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
    fit_350.params
    """),
    md(r"""
    Subject 350 started at about 226 ms and slowed by about 19.5 ms per day.

    ## The flat model: a regression per subject

    One line per subject $j$. Eighteen separate regressions would each estimate their own residual
    standard deviation $\sigma_j$:

    $$y_{jd} \sim N(\beta_{j0} + \beta_{j1} x_{jd}, \sigma_j^2).$$

    Assuming instead one residual standard deviation $\sigma$ shared by all subjects gives the flat
    model, a single regression with a line per subject:

    $$y_{jd} \sim N(\beta_{j0} + \beta_{j1} x_{jd}, \sigma^2).$$

    The two give the same 36 lines (each subject's least-squares line does not depend on $\sigma$); they
    differ in the standard errors, which the common $\sigma$ pools across subjects. The multilevel model
    below keeps the common $\sigma$ — as lme4 does — and adds a model for the lines themselves.

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
    md(r"""
    The same model as a plate diagram (the source tutorial draws one for each model): shaded circles are
    observed, white ones are estimated, the diamond $\eta_i$ is computed from its parents (the linear
    predictor), and a plate repeats what it holds, once per observation $i$ or per group $j$. Arrows
    point from a quantity to what it helps generate. The two effects of a subject, $u_{0j}$ (intercept) and $u_{1j}$ (slope of Days), share one covariance matrix $\Sigma$: that is the correlation the formula `(Days | Subject)` estimates.
    """),
    code(r"""
    ax = plots.model_diagram("Reaction ~ Days + (Days | Subject)")
    """),
    code(r"""
    m = mk.lmer("Reaction ~ Days + (Days | Subject)", sleep)
    m.summary()
    """),
    code(r"""
    sd = m.varcorr["sdcor"]
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
    coefs.loc[["308", "309", "310", "330"]]
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
    $N(\vec b, \Sigma)$ holding 50%, 80% and 95% of the population of people, the "+" is its centre
    $\vec b$, the green points are the multilevel estimates and grey lines lead to them from the flat
    ones (crosses).
    """),
    code(r"""
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    plots.ranef_contour(m, ax=ax)
    ax.scatter(flat["(Intercept)"], flat["Days"], marker="x", color="0.4", label="flat estimates")
    ax.plot([flat["(Intercept)"], coefs["(Intercept)"]], [flat["Days"], coefs["Days"]], color="0.6", lw=0.7)
    ax.set_xlabel("subject's intercept: reaction time on day 0 (ms)")
    ax.set_ylabel("subject's slope (ms per day)")
    ax.set_title(rf"fitted population, $\hat\rho$ = {rho:.2f}", fontsize=9)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1))
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
    mk.VarCorr.from_result(m_diag, digits=4, comp=("Variance", "Std.Dev."))    # lme4 prints 4 significant digits
    """),
    code(r"""
    pd.DataFrame({name: [*fit.fixef, *fit.varcorr["sdcor"].iloc[:-1], fit.sigma]
                  for name, fit in [("intercepts only", m_vi), ("slopes only", m_vs)]},
                 index=["b0", "b1", "tau", "sigma"]).round(3)
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
    axes[0].set_ylabel("average reaction time (ms)")
    axes[1].set_ylabel("")
    for a in axes:
        a.set_xlabel("day of the study")
    population_line = [line for line in axes[0].get_lines() if line.get_label() == "population"]
    axes[0].legend(handles=population_line, labels=["population line (fixed effects)"], fontsize=8, loc="upper left")
    plt.show()
    """),
    md(r"""
    ## Frequent question: how do I compare these models, and why is there no AIC?

    A REML fit maximises a likelihood of the data *after* the fixed effects are projected out, so its
    value depends on the fixed-effects design; lme4 therefore prints a "REML criterion" instead of an
    AIC. The rule (lesson 1): models whose fixed effects differ must be compared as ML fits; these
    variants all have the same fixed part, `Reaction ~ Days`, so their REML likelihoods are comparable as
    well. `mk.anova` (R: `anova(m1, m2)`) refits REML fits with ML by default, as lme4 does, says so, and
    gives the likelihood-ratio test; `refit=False` compares the REML fits themselves.
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
    This test asks whether the slopes' variance $\tau_1^2$ is 0. A variance of 0 sits on the boundary of
    its range, so the $\chi^2_1$ p-value is conservative; the reference is the 50:50 mixture of $\chi^2_0$
    and $\chi^2_1$ (lesson 2), whose p-value is half the $\chi^2_1$ one:
    """),
    code(r"""
    chisq = mk.anova(m_vi, m_diag)["Chisq"].iloc[1]
    print(f"chi-square(1) p = {scipy.stats.chi2.sf(chisq, 1):.2g}; mixture p = {0.5 * scipy.stats.chi2.sf(chisq, 1):.2g}")
    """),
    md(r"""
    Here the evidence for varying slopes is overwhelming either way. Near $p = 0.05$ the halving matters.
    (The first test, of the correlation, needs no correction: $\rho = 0$ is inside its range.)

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
    intercepts — and, below, of the predicted slopes, which the model also assumes to be normal. A few
    large residuals (subject 332's outlying day, for instance) stand out; otherwise the assumptions look
    reasonable. (With 18 subjects a Q-Q plot of random effects can reveal only gross departures.)
    """),
    code(r"""
    plots.residual_diagnostics(m)
    plt.show()
    """),
    code(r"""
    slopes = np.sort(m.ranef["Subject"]["Days"].to_numpy())
    q = scipy.stats.norm.ppf((np.arange(1, 19) - 0.5) / 18)
    fig, ax = plt.subplots(figsize=(3.6, 3.2))
    ax.scatter(q, slopes, s=14)
    ax.axline((0, 0), slope=sd.iloc[1], color="black", lw=0.9, label=r"N(0, $\hat\tau_1^2$)")
    ax.set_xlabel("normal quantiles")
    ax.set_ylabel("predicted slope deviation (ms per day)")
    ax.set_title("Q-Q plot of the subjects' slopes", fontsize=9)
    ax.legend(fontsize=8)
    plt.show()
    """),
    md(r"""
    The points lie close to the line of the fitted $N(0, \hat\tau_1^2)$, with nothing alarming. In
    general predicted random effects spread somewhat less than the fitted population, because they are
    shrunk towards 0; here each slope rests on ten days of data and the shrinkage is small.

    ## Frequent question: a convergence warning?

    `ConvergenceWarning: Model failed to converge with max|grad| = ...` means the optimiser stopped
    where lme4's gradient check is not satisfied. Badly scaled predictors are a common cause. Measure the
    days in minutes (1 day = 1,440 minutes) and fit the same model. In R,
    `lmer(Reaction ~ Minutes + (Minutes | Subject), sleep)` warns twice (lme4 1.1-31: "Model failed to
    converge with max|grad| = 4.81" and "Model is nearly unidentifiable: very large eigenvalue -
    Rescale variables?") and stops at a worse optimum: a random-intercept sd of 22.81 instead of 24.74.
    """),
    code(r"""
    import warnings

    minutes = sleep.assign(Minutes=sleep["Days"] * 1440)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m_min = mk.lmer("Reaction ~ Minutes + (Minutes | Subject)", minutes)
    print("warnings:", sorted({w.category.__name__ for w in caught}))
    sd_min = m_min.varcorr["sdcor"].to_numpy()
    print(f"slope: {m_min.fixef['Minutes'] * 1440:.4f} ms per day (from minutes), {m.fixef['Days']:.4f} (days)")
    print(f"slope sd: {sd_min[1] * 1440:.4f} ms per day (from minutes), {sd.iloc[1]:.4f} (days)")
    print(f"intercept sd: {sd_min[0]:.2f} (minutes), {sd.iloc[0]:.2f} (days)")   # see the note below on digits
    """),
    md(r"""
    mlmkit gives the same model in either unit, without a warning (the intercept sd agrees to the
    digits shown; its fourth digit depends on where each optimiser stops on this flat ridge, 24.7403 vs
    24.7407). When a random-slope covariate is
    badly scaled or far from zero, `mk.lmer` optimises over a centred and scaled copy of it, where the
    criterion is well conditioned, and maps the estimates back exactly: with an unstructured covariance
    matrix the model does not depend on the covariate's units or origin. (lme4 does not do this; in R,
    rescale the covariate yourself.)

    One number does change with the units: the REML criterion. It contains $\log|X^\top V^{-1} X|$,
    which grows by $2\log 1440$ when a column of $X$ is multiplied by 1,440. That is one more reason
    REML criteria are compared only between models with the same fixed effects:
    """),
    code(r"""
    gap = m_min.reml_criterion - m.reml_criterion
    print(f"REML criterion: days {m.reml_criterion:.2f}, minutes {m_min.reml_criterion:.2f}; "
          f"difference {gap:.4f}, 2 log(1440) = {2 * np.log(1440):.4f}")
    """),
    md(r"""
    When you do meet a convergence warning (in mlmkit or in R), two checks and a cure:

    * refit with another optimiser (`optimizer="L-BFGS-B"`; R users run `allFit`) — if the estimates
      agree to the digits you report, the warning was a false alarm; if not, it was not;
    * look at the scales of your predictors;
    * rescale (days, or minutes / 1,000) and refit; the estimates can be converted back exactly.

    ## How to report a mixed model

    A write-up should let a reader rebuild the model and judge its estimates. A template, filled in from
    the fit (fixed-effect intervals here are Wald intervals, estimate ± 1.96 SE; profile intervals from
    `m.confint()` are better for the variance parameters):
    """),
    code(r"""
    se_fe = np.sqrt(np.diag(m.vcov))
    lo, hi = m.fixef - 1.96 * se_fe, m.fixef + 1.96 * se_fe
    print(f'''We fitted a linear mixed model of reaction time (ms) with a fixed effect of day and a random
    intercept and random slope of day for each subject, allowing them to be correlated
    (Reaction ~ Days + (Days | Subject)), by REML with mlmkit {mk.__version__} (lme4's method),
    to {m.nobs} observations of {m.ngroups['Subject']} subjects. The fit raised no convergence warning and
    {'was singular' if m.is_singular else 'was not singular'}.
    Reaction time on the first day averaged {m.fixef['(Intercept)']:.1f} ms (95% CI {lo.iloc[0]:.1f} to {hi.iloc[0]:.1f})
    and rose by {m.fixef['Days']:.1f} ms per day (95% CI {lo.iloc[1]:.1f} to {hi.iloc[1]:.1f}).
    Subjects varied around these values with standard deviations of {sd.iloc[0]:.1f} ms (intercept)
    and {sd.iloc[1]:.1f} ms per day (slope), correlation {sd.iloc[2]:.2f}; the residual standard deviation
    was {sd.iloc[3]:.1f} ms. A model without the correlation fitted as well (likelihood-ratio test on ML
    fits, chi-square(1) = {mk.anova(m_diag, m)['Chisq'].iloc[1]:.2f}, p = {mk.anova(m_diag, m)['Pr(>Chisq)'].iloc[1]:.2f}).''')
    """),
    md(r"""
    The checklist behind it: the response and its units; the fixed and random parts (the formula);
    REML or ML; the software and version; the number of observations and of groups; convergence and
    singularity; estimates with intervals for the fixed effects; the random-effect standard deviations
    and correlations *and* the residual standard deviation; which tests were used, on which fits (ML or
    REML), and any boundary correction.

    **Try it.** Refit the model from the baseline on, as lme4's documentation suggests:
    `mk.lmer("Reaction ~ Days2 + (Days2 | Subject)", sleep[sleep["Days"] >= 2].assign(Days2=lambda d: d["Days"] - 2))`.
    How do the average slope and its standard deviation change?

    ## Our numbers against the tutorial's
    """),
    code(r"""
    rows = [("subject 350 intercept", fit_350.params["Intercept"], "225.83460"),
            ("subject 350 slope", fit_350.params["Days"], "19.50402"),
            ("b0", m.fixef["(Intercept)"], "251.40510"), ("b1", m.fixef["Days"], "10.46729"),
            ("tau0", sd.iloc[0], "24.7407"), ("tau1", sd.iloc[1], "5.9221"), ("rho", sd.iloc[2], "0.066"),
            ("sigma", sd.iloc[3], "25.5918")]
    for subject, icpt, slope in [("308", "253.6637", "19.666262"), ("309", "211.0064", "1.847605"),
                                 ("310", "212.4447", "5.018429"), ("330", "275.0957", "5.652936")]:
        rows += [(f"subject {subject} intercept", coefs.loc[subject, "(Intercept)"], icpt),
                 (f"subject {subject} slope", coefs.loc[subject, "Days"], slope, None, 5)]
    rows += [("intercepts only: tau0", m_vi.varcorr["sdcor"].iloc[0], "37.124"),
             ("intercepts only: sigma", m_vi.sigma, "30.991"),
             ("slopes only: tau1", m_vs.varcorr["sdcor"].iloc[0], "7.260"), ("slopes only: sigma", m_vs.sigma, "29.018")]
    for name, fit in [("||", m_diag), ("two terms", m_diag2)]:
        rows += [(f"uncorrelated ({name}): tau0", fit.varcorr["sdcor"].iloc[0], "25.0513"),
                 (f"uncorrelated ({name}): tau1", fit.varcorr["sdcor"].iloc[1], "5.9882"),
                 (f"uncorrelated ({name}): sigma", fit.sigma, "25.5653")]
    rows.append(("slopes only: b1", m_vs.fixef["Days"], "10.46729"))
    mk.checks.tutorial_table(rows)
    """),
    md(r"""
    The subjects' slopes are compared at 5 decimals: subject 310's is 5.01842949, within $10^{-8}$ of a
    rounding boundary at 6 decimals, where the last step of the optimiser decides the printed digit.
    """),
    md(r"""
    ## Exercise

    **Exercise `lesson06_sleepstudy`:** the share of people whose reaction time would *improve* with
    sleep loss, when a likelihood-ratio test may use REML (the slope variance, with the χ²₀/χ²₁ mixture)
    and when it needs ML (the fixed effect of Days), predictions with and without the random effects, and
    a written assessment of a claim about the population.

    **Next:** [Lesson 7 — school achievement and formula pitfalls](07_imm10.ipynb).
    """),
    md(r"""
    ## Appendix: the uncorrelated model in statsmodels

    statsmodels fits the intercepts-only and slopes-only models with `groups=` alone and with
    `re_formula="0 + Days"`. For the uncorrelated model its covariance must be constrained to be
    diagonal, through a `free=` argument that marks which covariance entries are free:
    """),
    code(r"""
    from statsmodels.regression.mixed_linear_model import MixedLMParams

    diagonal = MixedLMParams.from_components(fe_params=np.ones(2), cov_re=np.eye(2))   # 1 = free, 0 = fixed at 0
    sm_diag = smf.mixedlm("Reaction ~ Days", sleep, groups="Subject", re_formula="~Days").fit(reml=True, free=diagonal)
    pd.DataFrame({"mlmkit": m_diag.varcorr["sdcor"].iloc[:2].to_numpy(),
                  "statsmodels": np.sqrt(np.diag(sm_diag.cov_re))}, index=["tau0", "tau1"]).round(3)
    """),
]
