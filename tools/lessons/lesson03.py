"""Lesson 3: random slopes, independent and correlated, profile intervals, singular fits."""
from tools.lessons import code, md

SLUG = "random_slopes"

CELLS = [
    md(r"""
    # Lesson 3 — Random slopes

    **Learning objectives.** After this lesson you can

    1. write a model in which the slope, not only the intercept, varies between clusters;
    2. simulate independent random effects with `rnorm` and correlated ones with `mvrnorm`, exactly as R
       draws them;
    3. read the variance of the slopes and the intercept–slope correlation from a fit;
    4. use profile confidence intervals to judge whether an estimated correlation is more than noise;
    5. recognise a singular (boundary) fit and know what to do about it.

    Source: the University of Virginia StatLab tutorial on simulating multilevel data (third part).
    """),
    md(r"""
    ## The model

    $$
    \begin{aligned}
    \text{level 1:}\quad & y_{ij} = \beta_{0j} + \beta_{1j} X_{1ij} + e_{ij}, & e_{ij} &\sim N(0, \sigma^2_{e0}) \\
    \text{level 2:}\quad & \beta_{0j} = \gamma_{00} + u_{0j}, & u_{0j} &\sim N(0, \tau^2_{u0}) \\
                         & \beta_{1j} = \gamma_{01} + u_{1j}, & u_{1j} &\sim N(0, \tau^2_{u1}) \\
    \text{composite:}\quad & y_{ij} = \gamma_{00} + u_{0j} + (\gamma_{01} + u_{1j}) X_{1ij} + e_{ij}
    \end{aligned}
    $$

    Every cluster now has its own line: its own height *and* its own steepness. lme4 estimates the
    variances of $u_{0j}$ and $u_{1j}$ and, by default, their correlation. Formula:
    `yij ~ X + (1 + X | Cluster)`.
    """),
    code(r"""
    import warnings

    import numpy as np
    import pandas as pd
    import matplotlib.pyplot as plt
    import statsmodels.formula.api as smf

    import mlmkit as mk
    from mlmkit import plots, rng

    pd.set_option("display.precision", 4)
    """),
    md(r"""
    ## Simulating independent random effects

    The truth: $\gamma_{00} = 2$, $\gamma_{01} = 5$, $\tau^2_{u0} = 5$, $\tau^2_{u1} = 3$,
    $\sigma^2_{e0} = 3$, and $u_{0j}$, $u_{1j}$ drawn separately — so truly uncorrelated.
    """),
    code(r"""
    C, N = 20, 50
    g00, g01 = 2.0, 5.0
    tau2_u0, tau2_u1, sigma2 = 5.0, 3.0, 3.0

    rng.set_seed(707)
    u0 = rng.rnorm(C, 0, np.sqrt(tau2_u0))
    rng.set_seed(5707)
    u1 = rng.rnorm(C, 0, np.sqrt(tau2_u1))
    rng.set_seed(111)
    e = rng.rnorm(N * C, 0, np.sqrt(sigma2))
    rng.set_seed(555)
    X = rng.rnorm(N * C, 0, 1)

    Cluster = np.repeat(np.arange(1, C + 1), N)
    yij = (g00 + np.repeat(u0, N)) + (g01 + np.repeat(u1, N)) * X + e
    df = pd.DataFrame({"yij": yij, "X": X, "Cluster": Cluster})
    df.head(3)
    """),
    md(r"""
    `mk.simulate.random_slopes()` performs the same steps in one call and also returns the tutorial's
    helper columns (`u0j`, `u1j`, `b0j`, `b1j`, ...):
    """),
    code(r"""
    sim = mk.simulate.random_slopes()
    print("identical to the hand-made data:", np.array_equal(sim["yij"], df["yij"]))
    list(sim.columns)
    """),
    md(r"""
    ## Fitting

    | R (lme4) | Python (mlmkit) |
    |---|---|
    | `m2 <- lmer(yij ~ X + (1 + X \| Cluster), data = df)` | `m2 = mk.lmer("yij ~ X + (1 + X \| Cluster)", df)` |
    """),
    code(r"""
    m2 = mk.lmer("yij ~ X + (1 + X | Cluster)", df)
    m2.summary()
    """),
    md(r"""
    ## Against the truth

    The slope variance comes out at 1.14, far below the true 3. Look at the 20 slopes that were
    actually drawn:
    """),
    code(r"""
    vc2 = m2.varcorr
    pd.DataFrame({
        "truth": [tau2_u0, tau2_u1, 0.0, sigma2],
        "estimate": [vc2["vcov"].iloc[0], vc2["vcov"].iloc[1], vc2["sdcor"].iloc[2], vc2["vcov"].iloc[3]],
        "in the draws": [u0.var(ddof=1), u1.var(ddof=1), np.corrcoef(u0, u1)[0, 1], e.var(ddof=1)],
    }, index=["tau2_u0", "tau2_u1", "correlation", "sigma2"])
    """),
    md(r"""
    By chance the 20 slope deviations drawn have a variance of only 1.02 — and, although drawn
    independently, a sample correlation of 0.21 with the intercept deviations. The estimates track these
    draws: any estimator sees only the 20 clusters that were drawn, not the population they came from.
    Sampling variation of variance components is large — remember this when you plan a study (lesson 9).

    **Try it.** In the simulation cell, change the slopes' seed `5707` to any other number, rerun it and
    the fit, and note the slope variance. Repeat a few times: the estimates scatter widely around the
    true 3.

    ## What random slopes look like
    """),
    code(r"""
    ax = plots.fitted_lines(m2, "X", data=df, y="yij")
    ax.set_title("one line per cluster: different heights and slopes")
    ax.set_xlabel("X (standard units)")
    ax.legend(handles=[line for line in ax.get_lines() if line.get_label() == "population"],
              labels=["population line (fixed effects)"], fontsize=8, loc="upper left")
    plt.show()
    """),
    md(r"""
    ## The same model in statsmodels
    """),
    code(r"""
    sm2 = smf.mixedlm("yij ~ X", df, groups="Cluster", re_formula="~X").fit(reml=True)
    cov = sm2.cov_re.to_numpy()
    pd.DataFrame({
        "mlmkit": [*m2.fixef, vc2["vcov"].iloc[0], vc2["vcov"].iloc[1], vc2["sdcor"].iloc[2], m2.sigma**2],
        "statsmodels": [*sm2.fe_params, cov[0, 0], cov[1, 1], cov[0, 1] / np.sqrt(cov[0, 0] * cov[1, 1]), sm2.scale],
    }, index=["gamma00", "gamma01", "tau2_u0", "tau2_u1", "correlation", "sigma2"]).round(3)
    """),
    md(r"""
    ## Is the correlation of 0.17 real? Profile confidence intervals

    The fit reports a correlation of 0.17 between intercepts and slopes, although we drew them
    independently. A point estimate says nothing about its uncertainty; a confidence interval does.

    lme4's `confint` computes *profile* intervals: for each parameter it fixes the parameter at a grid of
    values, re-optimises all the others, and records how much the deviance rises; the interval holds
    the values whose rise stays below the $\chi^2_1$ cut-off (3.84 for 95%). Unlike a
    "± 1.96 standard errors" interval it respects bounds (a standard deviation cannot be negative, a
    correlation cannot leave [−1, 1]) and needs no standard error at all.

    | R (lme4) | Python (mlmkit) |
    |---|---|
    | `confint(m2, parm = "theta_", oldNames = FALSE)` | `m2.confint(parm="theta_", method="profile")` |
    """),
    code(r"""
    ci = m2.confint(parm="theta_", method="profile")
    ci
    """),
    md(r"""
    The profile itself shows how the interval arises: $\zeta$, the signed square root of the rise in
    deviance, against the correlation. The interval is where $|\zeta| < 1.96$. The curve bends, so the
    interval is not symmetric around 0.17; for correlations near ±1 it bends much more, which is why
    profile intervals are preferred to "estimate ± 1.96 SE" for variance parameters.
    """),
    code(r"""
    prof = m2.profile(which="cor_X.(Intercept)|Cluster")
    plots.plot_profile(prof)
    plt.show()
    """),
    md(r"""
    The interval for the correlation runs from −0.28 to 0.56. It includes 0, the value we simulated —
    consistent with independence, though it does not prove it: the interval is just as consistent
    with a correlation of 0.4, and a 95% interval misses the true value in one study out of twenty. With 20 clusters, a correlation between random effects is among the
    most poorly determined quantities in a mixed model. (The interval for `sd_X` also includes
    $\sqrt{1.02} \approx 1.01$, the spread of the slopes actually drawn, but not $\sqrt 3 \approx 1.73$.)

    A second view of the same question: fit the model without the correlation, `(X || Cluster)`, and
    compare the two with a likelihood-ratio test. The two models have the same fixed effects, so their
    REML likelihoods are comparable and `refit=False` compares them as they are; by default `mk.anova`
    (like lme4's `anova`) refits both with ML, which is also valid. The rule from lesson 1: ML is
    *required* only when the fixed effects differ.
    """),
    code(r"""
    m2_diag = mk.lmer("yij ~ X + (X || Cluster)", df)
    mk.anova(m2_diag, m2, refit=False)
    """),
    code(r"""
    mk.anova(m2_diag, m2)
    """),
    md(r"""
    Both versions agree with the interval: no evidence for a correlation. (A correlation of 0 is inside
    its range, so the $\chi^2_1$ reference applies; for a *variance* tested against 0 it does not —
    lesson 2.)

    ## Correlated random effects

    To simulate a correlation we must draw $(u_{0j}, u_{1j})$ together from a bivariate normal with
    covariance matrix

    $$\Sigma = \begin{pmatrix} 5 & 1 \\ 1 & 3 \end{pmatrix}, \qquad
      \rho = \frac{1}{\sqrt{5 \cdot 3}} \approx 0.258 .$$

    R uses `MASS::mvrnorm`; `mlmkit.rng.mvrnorm` follows the same algorithm (eigen decomposition of Σ)
    and so returns the same numbers for the same seed.

    | R | Python |
    |---|---|
    | `set.seed(609); u <- mvrnorm(n = C, mu = c(0, 0), Sigma = var_mat)` | `rng.set_seed(609); u = rng.mvrnorm(C, [0, 0], Sigma)` |
    | `var(u)`, `cor(u)` | `np.cov(u.T)`, `np.corrcoef(u.T)` |
    """),
    code(r"""
    Sigma = np.array([[5.0, 1.0], [1.0, 3.0]])
    rng.set_seed(609)
    u = rng.mvrnorm(C, [0, 0], Sigma)
    var_u = np.cov(u.T)
    var_u
    """),
    code(r"""
    df3 = df.copy()
    df3["yij"] = (g00 + np.repeat(u[:, 0], N)) + (g01 + np.repeat(u[:, 1], N)) * X + e
    m3 = mk.lmer("yij ~ X + (1 + X | Cluster)", df3)
    vc3 = m3.varcorr
    vc3
    """),
    md(r"""
    The estimated correlation is now 0.26 — right at the true 0.258. The figure shows the fitted
    bivariate normal of the clusters' (intercept, slope) pairs and the 20 clusters' estimates on it: the
    ellipses tilt upwards, a positive correlation. The ellipses enclose 50%, 80% and 95% of the fitted
    population of clusters, and the "+" marks its centre, the fixed effects.
    """),
    code(r"""
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.2), sharex=True, sharey=True)
    plots.ranef_contour(m2, ax=axes[0])
    plots.ranef_contour(m3, ax=axes[1])
    axes[0].set_title(r"independent draws: $\hat\rho$ = 0.17")
    axes[1].set_title(r"correlated draws: $\hat\rho$ = 0.26")
    for a in axes:
        a.set_xlabel("cluster intercept (units of y)")
    axes[0].set_ylabel("cluster slope (units of y per unit of X)")
    axes[1].set_ylabel("")
    axes[1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1))
    plt.show()
    """),
    md(r"""
    Even so, 20 clusters cannot distinguish 0.26 from 0 with any confidence — try `m3.confint()` in a new
    cell.

    ## Frequent question: what is a singular fit?

    Fit the random-slopes model to data in which the slopes do **not** vary ($\tau^2_{u1} = 0$), from
    only 10 clusters:
    """),
    code(r"""
    few = mk.simulate.random_slopes(n_clusters=10, tau2_u1=0.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m_sing = mk.lmer("yij ~ X + (1 + X | Cluster)", few)
    for w in caught:
        print(f"{w.category.__name__}: {w.message}")
    print("is_singular:", m_sing.is_singular)
    m_sing.varcorr
    """),
    md(r"""
    A fit is *singular* (on the boundary) when the estimated covariance matrix of the random effects is
    degenerate: a variance of exactly 0 or, as here, a correlation of exactly ±1. lme4 and mlmkit warn
    (the same "boundary (singular) fit" message; R prints it too for these data). It means the data
    cannot support the random-effects structure you asked for — here, a tiny slope variance whose
    direction is indistinguishable from the intercept's.

    What to do: the estimates are still the maximum of the (restricted) likelihood, so they are not
    wrong, but the model is over-parameterised. Simplify it — drop the correlation (`||`) or the random
    slope — and compare with `mk.anova`; or keep it if the design demands it and say so. Do not trust
    the correlation of ±1. (Above, we silenced the warning only to print it tidily; normally just let it
    show.)

    A *convergence* warning is a different message; lesson 6 shows one, and what to do about it.
    """),
    md(r"""
    ## Our numbers against the tutorial's

    The profile interval ends are compared at 5 decimals: they come from a spline through a few profiled
    points, whose placement differs between lme4 versions and mlmkit, so the 6th and 7th decimals vary
    (lme4 1.1-31 and the tutorial's 1.1-32 already differ there).
    """),
    code(r"""
    sd_x_end = ("lme4's profile optimiser stops short of the minimum; lme4's own deviance function minimised "
                "tightly gives 1.4882685 (lme4 1.1-31 reports 1.4881555, the tutorial's 1.1-32 1.4878505)")
    tutorial_ci = {"sd_(Intercept)|Cluster": ("1.7388424", "3.2756336"),
                   "cor_X.(Intercept)|Cluster": ("-0.2846315", "0.5567918"),
                   "sd_X|Cluster": ("0.7661714", "1.4878505"), "sigma": ("1.6205691", "1.7722665")}
    rows = [("first y", df["yij"].iloc[0], "-2.3706838"), ("last y", df["yij"].iloc[-1], "3.1699576"),
            ("REML criterion", m2.reml_criterion, "4040.6"),
            ("intercept variance", vc2["vcov"].iloc[0], "5.631"), ("slope variance", vc2["vcov"].iloc[1], "1.138"),
            ("their correlation", vc2["sdcor"].iloc[2], "0.17"), ("residual variance", vc2["vcov"].iloc[3], "2.868"),
            ("gamma00", m2.fixef["(Intercept)"], "2.3595"), ("gamma01", m2.fixef["X"], "5.1799")]
    for name, (low, high) in tutorial_ci.items():
        rows.append((f"{name} 2.5 %", ci.loc[name, "2.5 %"], low, None, 5))
        rows.append((f"{name} 97.5 %", ci.loc[name, "97.5 %"], high, sd_x_end if name == "sd_X|Cluster" else None, 5))
    rows += [("var(u0)", var_u[0, 0], "5.458752"), ("cov(u0, u1)", var_u[0, 1], "1.287149"),
             ("var(u1)", var_u[1, 1], "3.161914"), ("cor(u0, u1)", np.corrcoef(u.T)[0, 1], "0.3098185"),
             ("correlated: intercept variance", vc3["vcov"].iloc[0], "5.362"),
             ("correlated: slope variance", vc3["vcov"].iloc[1], "3.104"),
             ("correlated: their correlation", vc3["sdcor"].iloc[2], "0.26"),
             ("correlated: gamma00", m3.fixef["(Intercept)"], "2.7071"),
             ("correlated: gamma01", m3.fixef["X"], "5.4977")]
    mk.checks.tutorial_table(rows)
    """),
    md(r"""
    ## Exercise

    **Exercise `lesson03_random_slopes`:** correlated random effects of your own with `mvrnorm`, the
    steepest and flattest cluster, shrinkage of the slopes, a singular fit, and the profile interval of
    the correlation.

    **Next:** [Lesson 4 — rat tumours: a binomial multilevel model](04_rats.ipynb).
    """),
]
