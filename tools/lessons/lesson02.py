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

    Reading the coefficients: $\gamma_{00}$ is the expected $y$ when $Z$ and $X$ are 0 (in a cluster with
    $u_{0j} = 0$); $\beta_1$ is the expected difference between two people *of the same cluster* whose
    $X$ differs by 1; $\gamma_{01}$ is the expected difference between two clusters whose $Z$ differs by
    1 (for people with the same $X$). The model also assumes that $u_{0j}$ is uncorrelated with $X$, $Z$
    and $e_{ij}$: the clusters' unexplained differences must not go with their predictor values. The
    section on centring below shows what to do when that is doubtful.
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
    md(r"""
    ## Estimates against the truth

    If you read the tutorial beside this lesson: its printed summary for this model shows a cluster
    variance of 5.618, a residual variance of 2.927 and estimates 2.17320, 2.81310 and 4.02161 — the
    numbers above — but the paragraph that discusses the summary quotes 5.447, 3.067, 2.17656, 2.81563
    and 4.1107, which appear in no output it shows (probably left over from an earlier run). Trust the
    printed summary.
    """),
    code(r"""
    se = np.sqrt(np.diag(m1.vcov))
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
    cor_fe.round(3)
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
    ax.set_xlabel("X (level-1 predictor, standard units)")
    ax.legend(handles=[line for line in ax.get_lines() if line.get_label() == "population"],
              labels=["population line (at the average Z)"], fontsize=8, loc="upper left")
    plt.show()
    """),
    md(r"""
    The black line is the population line at the average cluster ($Z = \bar Z$); the coloured lines are
    the 20 clusters, each at the height $\hat\gamma_{00} + \hat\gamma_{01} Z_j + \hat u_{0j}$.

    ## Centring, and within- versus between-cluster effects

    A level-1 predictor such as $X$ can differ between people of the same cluster *and* between the
    clusters' averages. Its single slope $\beta_1$ silently assumes both differences have the same
    effect — and, with it, that the random intercepts $u_{0j}$ are unrelated to the clusters' average $X$.
    Splitting $X$ into its cluster mean $\bar X_j$ and the deviation $X_{ij} - \bar X_j$
    (*centring within clusters*) estimates the two effects separately:

    $$y_{ij} = \gamma_{00} + \gamma_{01} Z_j + \beta_W (X_{ij} - \bar X_j) + \beta_B \bar X_j + u_{0j} + e_{ij}.$$

    $\beta_W$ is the *within-cluster* effect (the same as a model with one dummy per cluster would give),
    $\beta_B$ the *between-cluster* effect, and $\beta_B - \beta_W$ the *contextual* effect: how much
    more a cluster's average matters than an individual's own value. (Pupils' socioeconomic status is
    the classic example: the school's average often matters beyond a pupil's own.)
    """),
    code(r"""
    df["X_mean"] = df.groupby("Cluster")["X"].transform("mean")
    df["X_within"] = df["X"] - df["X_mean"]
    m_wb = mk.lmer("y ~ 1 + Z + X_within + X_mean + (1 | Cluster)", df)
    se_wb = np.sqrt(np.diag(m_wb.vcov))
    pd.DataFrame({"estimate": m_wb.fixef, "std. error": se_wb}).round(3)
    """),
    md(r"""
    We simulated $X$ with no cluster component, so the true within and between effects are both 4. The
    within effect is 4.02 ± 0.06; the between effect, 2.0 ± 4.7, is consistent with 4 but almost
    uninformative, because it rests on 20 cluster means of $X$ that vary very little (each is an average
    of 50 standard normal draws). In real data a clear
    difference between $\beta_W$ and $\beta_B$ is a finding in itself, and a warning that a model with
    one slope mixes two different things.

    **Try it.** Give the clusters different average $X$ and a contextual effect: in a new cell set
    `df2 = df.assign(X=df["X"] + 0.5 * df["Z"])`, rebuild `y` with an extra `+ 2 * df2.groupby("Cluster")["X"].transform("mean")`,
    and compare the one-slope model with the within/between model.
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

    Other routes, all in mlmkit: a likelihood-ratio test comparing the model with and without the term
    (`mk.anova`, lesson 6), profile confidence intervals (`m.confint()`, lesson 3) and the parametric
    bootstrap (below). For the Wald z test, the arithmetic is one line:
    """),
    code(r"""
    z = m1.fixef / se
    p = 2 * scipy.stats.norm.sf(np.abs(z))
    pd.DataFrame({"estimate": m1.fixef.round(4), "std. error": se.round(4), "z": z.round(3),
                  "p (normal)": [f"{v:.2g}" if v >= 2e-16 else "<2e-16" for v in p]})
    """),
    md(r"""
    That $Z$ matters is not in doubt here ($z \approx 14$). In a borderline case, how far can these
    p-values be trusted?

    ## How often do the tests reject a true null hypothesis with few clusters?

    A test at $\alpha = 0.05$ should reject a true null hypothesis 5% of the time. We can check by
    simulation with `mk.power` (lesson 9): set the school-level effect to 0 and count how often each test
    rejects. Clusters of 10, $\tau^2 = 0.5$, $\sigma^2 = 1$, a level-1 and a level-2 predictor:
    """),
    code(r"""
    null_design = dict(cluster_size=10, fixed={"(Intercept)": 0.0, "x1": 0.3, "z1": 0.0}, re_cov=0.5, sigma2=1.0)
    for method in ("lrt", "z"):
        r = mk.power("y ~ x1 + z1 + (1 | cluster)", "z1", n_clusters=10, nsim=200, seed=2026, method=method,
                     new_design=True, progress=False, **null_design)
        print(f"10 clusters, {method:>3}: rejects {r.rejections} of {r.nsim} = {r.power:.3f} (Monte Carlo SE {r.se:.3f})")
    """),
    md(r"""
    200 simulations give a rough answer. The same code with `nsim=10000` (seed 2026, `n_jobs=1`; about
    four minutes on one core) gives precise ones:

    | clusters of 10 | likelihood-ratio test | Wald z test |
    |---|---|---|
    | 10 | 8.9% | 8.5% |
    | 20 | 6.5% | 6.4% |
    | 40 | 5.6% | 5.6% |

    (Monte Carlo standard error about 0.25 percentage points.) **Both** tests are anti-conservative with
    few clusters: with 10 clusters a nominal 5% test rejects a true null almost 9% of the time. Neither is
    "better-founded" here; both rely on large-sample theory, and the sample size that matters is the
    number of clusters. Two remedies:

    **1. The parametric-bootstrap likelihood-ratio test.** Simulate many data sets from the fitted
    *null* model, fit both models to each, and see how often the simulated statistic reaches the observed
    one. Its reference distribution is built for the design at hand, so it needs no large-sample
    argument. A small study of 10 clusters where $z_1$'s effect is borderline:
    """),
    code(r"""
    few = mk.simulate.multilevel(n_clusters=10, seed=6, **{**null_design, "fixed": {"(Intercept)": 0.0, "x1": 0.3, "z1": 0.4}})
    full = mk.lmer("y ~ x1 + z1 + (1 | cluster)", few, REML=False)
    null = mk.lmer("y ~ x1 + (1 | cluster)", few, REML=False)
    lrt_obs = 2 * (full.loglik - null.loglik)
    print(f"LRT statistic {lrt_obs:.3f}, p from chi-square(1): {scipy.stats.chi2.sf(lrt_obs, 1):.3f}")
    """),
    code(r"""
    def lrt(fit):
        y_sim = fit.fitted + fit.residuals()                 # the simulated response the null was refitted to
        return 2 * (full.refit(y_sim).loglik - fit.loglik)

    boot = mk.bootstrap(null, lrt, nsim=300, seed=1, progress=False)
    reached = int((boot.replicates.iloc[:, 0] >= lrt_obs).sum())
    print(f"{reached} of 300 simulated statistics reach {lrt_obs:.3f}: bootstrap p = {(reached + 1) / 301:.3f}")
    """),
    md(r"""
    The $\chi^2$ reference says $p = 0.063$, the bootstrap about 0.10: with 10 clusters the $\chi^2_1$
    distribution is too short-tailed for this statistic, as the simulation above predicted. (R: `pbkrtest::PBmodcomp`.
    With 300 simulations the bootstrap p-value itself has a Monte Carlo error of about 0.02; use
    1,000 or more for a report.)

    **2. For a variance component: a boundary-corrected reference.** When the null hypothesis sets a
    variance to 0, the null value sits on the edge of the parameter space (a variance cannot be
    negative). Then, in large samples, the likelihood-ratio statistic is 0 half of the time and
    $\chi^2_1$ the other half: its reference is the 50:50 mixture of $\chi^2_0$ (a point mass at 0) and
    $\chi^2_1$, and the correct p-value is *half* the $\chi^2_1$ one. The plain $\chi^2_1$ p-value is
    conservative here — the opposite error to the one above. Lesson 6 applies it.

    **Self-check.** A likelihood-ratio test of a random-intercept variance gives $\chi^2 = 3.2$ and,
    from $\chi^2_1$, $p = 0.074$. What is the boundary-corrected p-value?
    """),
    code(r"""
    my_p = ...
    mk.checks.self_check(my_p, 0.037, "half of 0.074: under the null the statistic is 0 half of the time, "
                         "so only half of the chi-square(1) tail counts.")
    """),
    md(r"""
    ## Our numbers against the tutorial's
    """),
    code(r"""
    mk.checks.tutorial_table([
        ("first y", df["y"].iloc[0], "0.3386258"),
        ("last y", df["y"].iloc[-1], "6.658694"),
        ("REML criterion", m1.reml_criterion, "4005.2"),
        ("Cluster variance", m1.varcorr["vcov"].iloc[0], "5.618"),
        ("Residual variance", m1.varcorr["vcov"].iloc[1], "2.927"),
        *[(f"{name} {what}", value, printed)
          for name, est, err, p_est, p_se in zip(m1.fixef.index, m1.fixef, se, ["2.17320", "2.81310", "4.02161"],
                                                 ["0.57279", "0.19821", "0.05583"])
          for what, value, printed in (("estimate", est, p_est), ("standard error", err, p_se))],
        ("cor(intercept, Z)", cor_fe.loc["Z", "(Intercept)"], "0.367"),
        ("cor(intercept, X)", cor_fe.loc["X", "(Intercept)"], "0.006"),
        ("cor(Z, X)", cor_fe.loc["X", "Z"], "0.009"),
    ])
    """),
    md(r"""

    ## Exercise

    **Exercise `lesson02_predictors`:** a level-2 predictor whose mean is far from 0 — the correlation of
    fixed effects before and after centring, and why its standard error is large.

    **Next:** [Lesson 3 — random slopes](03_random_slopes.ipynb).
    """),
]
