"""Lesson 2: level-1 and level-2 predictors in a random-intercept model."""
from tools.lessons import code, md

SLUG = "predictors"

CELLS = [
    md(r"""
    # Lesson 2 — Level-1 and level-2 predictors

    **Learning objectives.** After this lesson you can

    1. tell a level-1 predictor (measured on each unit) from a level-2 predictor (one value per cluster)
       and place each in the level equations;
    2. simulate and fit a random-intercept model with both kinds of predictor;
    3. explain why a level-2 effect is estimated far less precisely than a level-1 effect;
    4. read the "Correlation of Fixed Effects" table — and know what it is not;
    5. say where p-values for mixed models come from, and why lme4 prints none.

    Source: the University of Virginia StatLab tutorial on simulating multilevel data (second model).
    """),
    md(r"""
    ## The model

    $X_{1ij}$ varies between the people of a cluster (a pupil's test score), $Z_j$ only between clusters
    (a school's size):

    $$
    \begin{aligned}
    \text{level 1:}\quad & y_{ij} = \beta_{0j} + \beta_1 X_{1ij} + e_{ij}, & e_{ij} &\sim N(0, \sigma^2_{e0}) \\
    \text{level 2:}\quad & \beta_{0j} = \gamma_{00} + \gamma_{01} Z_j + u_{0j}, & u_{0j} &\sim N(0, \tau^2_{u0}) \\
    \text{composite:}\quad & y_{ij} = \gamma_{00} + \gamma_{01} Z_j + \beta_1 X_{1ij} + u_{0j} + e_{ij}
    \end{aligned}
    $$

    The fixed part is $\gamma_{00} + \gamma_{01} Z_j + \beta_1 X_{1ij}$, the random part still
    $u_{0j} + e_{ij}$: only the intercept varies between clusters. In a formula the two kinds of
    predictor look alike — `y ~ 1 + Z + X + (1 | Cluster)` — the difference is in the data.
    """),
    code(r"""
    import numpy as np
    import pandas as pd
    import matplotlib.pyplot as plt
    import scipy.stats
    import statsmodels.formula.api as smf

    import mlmkit as mk
    from mlmkit import plots, rng

    pd.set_option("display.precision", 4)


    check = mk.checks.matches_printed      # value agrees with the tutorial to its printed digits
    """),
    md(r"""
    ## Simulating with R's seeds

    The truth: $\gamma_{00} = 2$, $\gamma_{01} = 3$, $\beta_1 = 4$, $\tau^2_{u0} = 5$, $\sigma^2_{e0} = 3$;
    $Z_j \sim N(0, 3^2)$ and $X_{1ij} \sim N(0, 1)$.

    R's `replicate(C, rnorm(1, 0, 3))` draws one number 20 times, which is the same stream as
    `rnorm(20, 0, 3)`; likewise `replicate(C, rnorm(N, 0, 1))` is `rnorm(N * C)`. So in Python:
    """),
    code(r"""
    C, N = 20, 50
    g00, g01, B1 = 2.0, 3.0, 4.0
    tau2, sigma2 = 5.0, 3.0

    rng.set_seed(111)
    Z = rng.rnorm(C, 0, 3)                      # level 2: one value per cluster
    rng.set_seed(555)
    X = rng.rnorm(N * C, 0, 1)                  # level 1: one value per person
    rng.set_seed(707)
    u0 = rng.rnorm(C, 0, np.sqrt(tau2))
    rng.set_seed(111)
    e = rng.rnorm(N * C, 0, np.sqrt(sigma2))
    """),
    md(r"""
    A detail worth noticing: the tutorial seeds $Z$ and $e$ both with 111, so they are built from the
    *same* standard normal draws. The 20 values of $Z$ are $\sqrt 3$ times the first 20 residuals:
    """),
    code(r"""
    np.allclose(Z, e[:C] * 3 / np.sqrt(3))
    """),
    md(r"""
    Harmless here, but in your own simulations give every ingredient its own seed (or draw everything
    from one stream) so that nothing is accidentally correlated.
    """),
    code(r"""
    df = pd.DataFrame({
        "ID": np.arange(1, N * C + 1),
        "Cluster": np.repeat(np.arange(1, C + 1), N),
        "Z": np.repeat(Z, N),
        "u0j": np.repeat(u0, N),
        "X": X,
        "eij": e,
    })
    df.insert(0, "y", g00 + g01 * df["Z"] + df["u0j"] + B1 * df["X"] + df["eij"])
    check("first y", df["y"].iloc[0], "0.3386258")
    check("last y", df["y"].iloc[-1], "6.658694")
    print("same as mk.simulate.level_predictors():", np.array_equal(mk.simulate.level_predictors()["y"], df["y"]))
    """),
    md(r"""
    ## Fitting

    | R (lme4) | Python (mlmkit) |
    |---|---|
    | `m1 <- lmer(y ~ 1 + Z + X + (1 \| Cluster), data = df)` | `m1 = mk.lmer("y ~ 1 + Z + X + (1 \| Cluster)", df)` |
    """),
    code(r"""
    m1 = mk.lmer("y ~ 1 + Z + X + (1 | Cluster)", df)
    m1.summary()
    """),
    code(r"""
    se = np.sqrt(np.diag(m1.vcov))
    check("REML criterion", m1.reml_criterion, "4005.2")
    check("Cluster variance", m1.varcorr["vcov"].iloc[0], "5.618")
    check("Residual variance", m1.varcorr["vcov"].iloc[1], "2.927")
    for name, est, err, printed_est, printed_se in zip(m1.fixef.index, m1.fixef, se,
                                                      ["2.17320", "2.81310", "4.02161"],
                                                      ["0.57279", "0.19821", "0.05583"]):
        check(f"{name} estimate", est, printed_est)
        check(f"{name} standard error", err, printed_se)
    """),
    md(r"""
    ## Estimates against the truth
    """),
    code(r"""
    pd.DataFrame({
        "truth": [g00, g01, B1, tau2, sigma2],
        "estimate": [*m1.fixef, m1.varcorr["vcov"].iloc[0], m1.sigma**2],
        "std. error": [*se, np.nan, np.nan],
    }, index=["g00 (intercept)", "g01 (Z, level 2)", "B1 (X, level 1)", "tau2", "sigma2"])
    """),
    md(r"""
    The level-1 slope is estimated almost exactly (4.02 ± 0.06), the level-2 slope much less precisely
    (2.81 ± 0.20). The reason is the amount of information: $X$ takes 1,000 different values, each
    with its own residual, whereas $Z$ takes only 20 — one per cluster — and each cluster mean is blurred
    by its random intercept. For a level-2 effect the effective sample size is the number of clusters.

    ## Reading the correlation of fixed effects

    The summary ends with the correlations of the *estimates*: if we repeated the study, how would the
    estimated intercept and the estimated slope of $Z$ move together? They come from `m1.vcov`
    (R: `cov2cor(vcov(m1))`):
    """),
    code(r"""
    sd_fe = np.sqrt(np.diag(m1.vcov))
    cor_fe = m1.vcov / np.outer(sd_fe, sd_fe)
    check("cor(intercept, Z)", cor_fe.loc["Z", "(Intercept)"], "0.367")
    check("cor(intercept, X)", cor_fe.loc["X", "(Intercept)"], "0.006")
    check("cor(Z, X)", cor_fe.loc["X", "Z"], "0.009")
    """),
    md(r"""
    This is not the correlation between the variables $Z$ and $X$ themselves:
    """),
    code(r"""
    print(f"correlation of the variables Z and X: {np.corrcoef(df['Z'], df['X'])[0, 1]:.3f}")
    print(f"mean of the 20 Z values:              {Z.mean():.3f}")
    """),
    md(r"""
    The intercept is the prediction at $Z = 0$, but our clusters sit around $Z \approx -1.06$; a steeper
    $Z$ slope then implies a higher intercept, so the two estimates are correlated. Centre $Z$ and the
    intercept becomes the prediction at the average cluster — the correlation vanishes, while the $Z$
    slope and its standard error stay the same:
    """),
    code(r"""
    df["Z_c"] = df["Z"] - Z.mean()
    m1c = mk.lmer("y ~ 1 + Z_c + X + (1 | Cluster)", df)
    sd_c = np.sqrt(np.diag(m1c.vcov))
    print(f"cor(intercept, Z_c) = {m1c.vcov.iloc[0, 1] / (sd_c[0] * sd_c[1]):.4f}")
    print(f"Z slope: {m1.fixef['Z']:.5f} ± {se[1]:.5f} before, {m1c.fixef['Z_c']:.5f} ± {sd_c[1]:.5f} after")
    """),
    md(r"""
    Large correlations of fixed effects are rarely a problem in themselves; they mostly say that an
    intercept sits far from the data, or that two predictors carry overlapping information.

    ## The fitted model as lines

    A random-intercept model draws one line per cluster, all parallel: the slope of $X$ is shared, and
    each cluster's height is $\gamma_{00} + \gamma_{01} Z_j + u_{0j}$.
    """),
    code(r"""
    co = m1.coef["Cluster"]
    heights = pd.DataFrame({"(Intercept)": co["(Intercept)"] + co["Z"] * Z, "X": co["X"]}, index=co.index)
    ax = plots.fitted_lines(heights, "X", data=df, y="y",
                            population=(m1.fixef["(Intercept)"] + m1.fixef["Z"] * Z.mean(), m1.fixef["X"]))
    ax.set_title("parallel lines: one per cluster")
    plt.show()
    """),
    md(r"""
    ## The same model in statsmodels, and where p-values come from
    """),
    code(r"""
    sm = smf.mixedlm("y ~ Z + X", df, groups="Cluster").fit(reml=True)
    sm.summary().tables[1].iloc[:3]
    """),
    md(r"""
    statsmodels agrees on the estimates and standard errors and adds a `z` column and a p-value; lme4
    prints a `t value` and no p-value. Both columns are the same ratio, estimate / standard error. The
    difference is the reference distribution:

    * statsmodels (and lme4's `glmer`) compare the ratio with a standard normal — a Wald **z** test,
      exact only as the number of clusters grows;
    * lme4's authors print no p-value because, for a linear mixed model, the ratio's distribution in a
      finite sample is not a $t$ with any known degrees of freedom. R users add them with
      approximations (Satterthwaite or Kenward–Roger in `lmerTest`/`pbkrtest`).

    Better-founded alternatives, all in mlmkit: a likelihood-ratio test comparing the model with and
    without the term (`mk.anova`, lesson 6), profile confidence intervals (`m.confint()`, lesson 3) and
    the parametric bootstrap. For the Wald z test, the arithmetic is one line:
    """),
    code(r"""
    z = m1.fixef / se
    p = 2 * scipy.stats.norm.sf(np.abs(z))
    pd.DataFrame({"estimate": m1.fixef.round(4), "std. error": se.round(4), "z": z.round(3),
                  "p (normal)": [f"{v:.2g}" if v >= 2e-16 else "<2e-16" for v in p]})
    """),
    md(r"""
    With 20 clusters the normal reference is optimistic for the level-2 effect; that $Z$ matters is not
    in doubt here, but for borderline cases prefer the likelihood-ratio test or profile intervals.

    ## Exercise

    **Exercise `lesson02_predictors`:** a level-2 predictor whose mean is far from 0 — the correlation of
    fixed effects before and after centring, and why its standard error is large.

    **Next:** [Lesson 3 — random slopes](03_random_slopes.ipynb).
    """),
]
