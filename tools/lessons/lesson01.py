"""Lesson 1: the variance-components model, simulated with R's seeds and fitted."""
from tools.lessons import code, md

SLUG = "variance_components"

CELLS = [
    md(r"""
    # Lesson 1 — Variance components: the simplest multilevel model

    **Learning objectives.** After this lesson you can

    1. write the two-level random-intercept model as level equations, as one composite equation and as
       an lme4 formula;
    2. simulate data from it with exactly the random numbers R draws for the same seeds;
    3. fit it with `mk.lmer` and read every line of the summary against the values you simulated;
    4. compute and interpret the intraclass correlation (ICC);
    5. explain why REML and ML give different variance estimates, and why other software may disagree
       with lme4.

    Source: the University of Virginia StatLab tutorial on simulating multilevel data (first model).
    """),
    md(r"""
    ## Why not ordinary regression?

    Ordinary least squares (OLS) assumes that the errors are independent and identically distributed
    (i.i.d.). In clustered data they are not: two people from the same cluster share whatever makes that
    cluster different, so their errors are correlated. Two tempting repairs fall short:

    * *Ignore the clusters.* The estimates may be fine, but the standard errors treat correlated
      observations as independent pieces of information and come out too small.
    * *Add the cluster as a covariate* (one dummy variable per cluster). This absorbs the cluster
      differences, but it spends one parameter per cluster, says nothing about clusters in general, and
      makes it impossible to study a variable measured on the clusters themselves: a cluster-level
      covariate (a school's size) is an exact linear combination of the cluster dummies — perfectly
      collinear with them — so its effect cannot be estimated at all.

    A multilevel model keeps the clusters in the model as draws from a population of clusters: it
    accounts for the correlation within clusters and leaves room for cluster-level predictors (lesson 2).

    ## The model

    Unit $i$ (a person) belongs to cluster $j$ (a school, a clinic). With no predictors, each cluster has
    its own mean $\beta_{0j}$ and the cluster means scatter around a grand mean $\gamma_{00}$:

    $$
    \begin{aligned}
    \text{level 1:}\quad & y_{ij} = \beta_{0j} + e_{ij}, & e_{ij} &\sim N(0, \sigma^2_{e0}) \\
    \text{level 2:}\quad & \beta_{0j} = \gamma_{00} + u_{0j}, & u_{0j} &\sim N(0, \tau^2_{u0}) \\
    \text{composite:}\quad & y_{ij} = \gamma_{00} + u_{0j} + e_{ij}
    \end{aligned}
    $$

    $\gamma_{00}$ is *fixed* (one number for everybody); $u_{0j}$ and $e_{ij}$ are *random* (draws from
    populations whose variances we estimate). The variance of $y$ splits into a between-cluster part
    $\tau^2_{u0}$ and a within-cluster part $\sigma^2_{e0}$ — hence "variance components".

    As an lme4 formula: `y ~ 1 + (1 | Cluster)` — a fixed intercept `1`, plus an intercept that varies by
    `Cluster`.
    """),
    code(r"""
    import numpy as np
    import pandas as pd
    import matplotlib.pyplot as plt
    import statsmodels.formula.api as smf

    import mlmkit as mk
    from mlmkit import plots, rng

    pd.set_option("display.precision", 4)
    """),
    md(r"""
    ## Simulating the data with R's random numbers

    We choose the truth: 20 clusters of 50 people, grand mean 2, between-cluster variance 5, residual
    variance 3. `mlmkit.rng` reproduces R's generator bit for bit, so `rng.set_seed(707)` followed by
    `rng.rnorm(...)` returns the very numbers R returns after `set.seed(707)`.

    | R | Python |
    |---|---|
    | `set.seed(707)` | `rng.set_seed(707)` |
    | `rnorm(n, mean, sd)` | `rng.rnorm(n, mean, sd)` |
    | `rep(x, each = N)` | `np.repeat(x, N)` |
    """),
    code(r"""
    C, N = 20, 50                    # clusters, people per cluster
    g00 = 2.0                        # grand mean (fixed)
    tau2, sigma2 = 5.0, 3.0          # between- and within-cluster variances

    rng.set_seed(707)
    u0 = rng.rnorm(C, 0, np.sqrt(tau2))          # one deviation per cluster
    rng.set_seed(777)
    e = rng.rnorm(N * C, 0, np.sqrt(sigma2))     # one residual per person
    """),
    md(r"""
    Each person inherits their cluster's deviation, so `u0` is repeated 50 times. We keep the ingredients
    as columns, as the tutorial does, to look at them later.
    """),
    code(r"""
    df = pd.DataFrame({
        "ID": np.arange(1, N * C + 1),
        "Cluster": np.repeat(np.arange(1, C + 1), N),
        "u0j": np.repeat(u0, N),
        "eij": e,
        "g00": g00,
    })
    df.insert(0, "y", df["g00"] + df["u0j"] + df["eij"])
    df.head(3)
    """),
    md(r"""
    The first value is −0.01799895 and the last 3.980374, the numbers R prints for the same seeds (the
    table at the end of the lesson compares them): anything you read in the tutorial about these data
    holds here too.
    `mk.simulate.variance_components()` wraps these steps (seeds and parameters are arguments, with the
    tutorial's values as defaults):
    """),
    code(r"""
    sim = mk.simulate.variance_components()
    print("identical to the hand-made data:", np.array_equal(sim["y"], df["y"]))
    """),
    md(r"""

    ## Fitting the model

    | R (lme4) | Python (mlmkit) |
    |---|---|
    | `m0 <- lmer(y ~ 1 + (1 \| Cluster), data = df)` | `m0 = mk.lmer("y ~ 1 + (1 \| Cluster)", df)` |
    | `summary(m0)` | `m0.summary()` |

    `Cluster` holds the numbers 1–20; like lme4, mlmkit treats a grouping variable as a factor whatever
    its type, so there is no need to convert it.
    """),
    code(r"""
    m0 = mk.lmer("y ~ 1 + (1 | Cluster)", df)
    m0.summary()
    """),
    md(r"""
    The summary's first block, *scaled residuals*, summarises the residuals $y_{ij} - \hat y_{ij}$
    divided by $\hat\sigma$. If the model's normal errors are right these behave roughly like draws
    from N(0, 1): a median near 0, quartiles near ±0.67, and a minimum and maximum of similar size. Here
    the median is 0.0068 and the quartiles −0.67 and 0.66 — symmetric, as the tutorial notes. Five
    numbers cannot prove normality, though; a Q-Q plot (lesson 6) is the proper check.
    """),
    code(r"""
    vc = m0.varcorr
    scaled = m0.residuals(type="pearson", scaled=True)
    pd.Series(np.quantile(scaled, [0, 0.25, 0.5, 0.75, 1]), index=["Min", "1Q", "Median", "3Q", "Max"]).round(4)
    """),
    md(r"""
    ## Reading the estimates against the truth

    We know the truth, so we can check each line of the summary. The last column shows what the 20
    clusters we actually drew look like: the estimate can only learn from these 20 draws, not from the
    population they came from.
    """),
    code(r"""
    truth = pd.DataFrame({
        "truth": [g00, tau2, sigma2],
        "estimate": [m0.fixef["(Intercept)"], vc["vcov"].iloc[0], vc["vcov"].iloc[1]],
        "in the draws": [g00 + u0.mean() + e.mean(), u0.var(ddof=1), e.var(ddof=1)],
    }, index=["grand mean g00", "tau2 (between)", "sigma2 (within)"])
    truth
    """),
    md(r"""
    * The grand mean is estimated as 2.36, not 2. With equal cluster sizes the estimate is simply the
      average of all 1,000 values of $y$, and the 20 cluster deviations we drew happen to average 0.35.
      With only 20 clusters, the standard error (0.55) is large — the number of *clusters*, not of
      people, limits what we know about $\gamma_{00}$.
    * The between-cluster variance (5.93) is close to the variance of the 20 deviations actually drawn
      (5.74); both are a noisy view of the true 5.
    * The residual variance is pinned down well: it rests on 1,000 residuals.

    The figure shows each cluster's predicted deviation $\hat u_{0j}$ with a 95% interval (lme4's
    "conditional" intervals). What should we compare them with? $\hat u_{0j}$ measures cluster $j$'s
    distance from the *estimated* grand mean $\hat\gamma_{00} = 2.36$, while the true $u_{0j}$ is its
    distance from the true $\gamma_{00} = 2$. The like-for-like truth is therefore
    $\gamma_{00} + u_{0j} - \hat\gamma_{00}$ (circles); the raw $u_{0j}$ (crosses) sit 0.36 to the left.
    """),
    code(r"""
    g00_hat = m0.fixef["(Intercept)"]
    fig, ax = plt.subplots(figsize=(5, 4.5))
    plots.caterpillar(m0, sort=False, ax=ax)
    ax.scatter(u0, np.arange(C), marker="x", color="0.35", zorder=4, label="true $u_{0j}$ (from the true mean 2)")
    ax.scatter(g00 + u0 - g00_hat, np.arange(C), facecolors="none", edgecolors="black", zorder=4,
               label=r"true $\beta_{0j} - \hat\gamma_{00}$ (from the estimated mean)")
    ax.set_xlabel("cluster deviation (units of y)")
    ax.set_ylabel("cluster")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), fontsize=8)
    plt.show()
    """),
    code(r"""
    half = 1.96 * np.sqrt(mk.plots.condvar(m0)["Cluster"][0][:, 0, 0])
    u_hat = m0.ranef["Cluster"]["(Intercept)"].to_numpy()
    print(f"outside the intervals: raw u0j {np.sum(np.abs(u0 - u_hat) > half)} of {C}, "
          f"shifted truth {np.sum(np.abs(g00 + u0 - g00_hat - u_hat) > half)} of {C}")
    print(f"interval half-width {half[0]:.2f}; SE of the grand mean {np.sqrt(m0.vcov.iloc[0, 0]):.2f}")
    """),
    md(r"""
    Against the raw $u_{0j}$, 7 of 20 intervals miss — not because the intervals are wrong but because
    every interval is centred on a deviation from $\hat\gamma_{00}$, and $\hat\gamma_{00}$ is itself
    0.36 off. Against the like-for-like truth 1 of 20 misses, about what 95% intervals should give. Two
    more facts explain the design of these intervals: they hold $\hat\gamma_{00}$, $\hat\tau$ and
    $\hat\sigma$ fixed at their estimates, so they ignore the grand mean's uncertainty (its standard
    error, 0.55, is larger than the intervals' half-width, 0.47); and their 95% is an average over
    clusters, not a promise for each one (a cluster far from the mean is shrunk towards it and is
    missed more often).

    ## Complete, no and partial pooling, scored against the truth

    How good are the cluster estimates? A simulation knows the answer. We draw a new, smaller study
    where it matters: 30 clusters of 2, 5, 10, 25 or 50 people (six of each size), true mean 10,
    $\tau = 1$, $\sigma = 3$ (numpy's generator, seed 2026), and estimate each cluster's mean
    $\beta_{0j}$ three ways:

    * **complete pooling** — one grand mean for every cluster (clusters are ignored);
    * **no pooling** — each cluster's own average (clusters are unrelated);
    * **partial pooling** — the multilevel model's $\hat\gamma_{00} + \hat u_{0j}$ (`m.coef`).
    """),
    code(r"""
    gen = np.random.default_rng(2026)
    sizes = np.tile([2, 5, 10, 25, 50], 6)
    beta_true = 10 + 1.0 * gen.standard_normal(30)
    cl = np.repeat(np.arange(1, 31), sizes)
    pool = pd.DataFrame({"y": beta_true[cl - 1] + 3.0 * gen.standard_normal(sizes.sum()), "cluster": cl})
    m_pool = mk.lmer("y ~ 1 + (1 | cluster)", pool)
    est = pd.DataFrame({
        "complete": pool["y"].mean(),
        "none": pool.groupby("cluster")["y"].mean().to_numpy(),
        "partial": m_pool.coef["cluster"]["(Intercept)"].to_numpy(),
    }, index=np.arange(1, 31))
    rmse = est.sub(beta_true, axis=0).pow(2).groupby(sizes).mean().pow(0.5)
    rmse.loc["all 30"] = est.sub(beta_true, axis=0).pow(2).mean().pow(0.5)
    rmse.rename_axis("cluster size").round(2)
    """),
    code(r"""
    fig, ax = plt.subplots(figsize=(6, 3.6))
    x = np.arange(30)
    order = np.lexsort((beta_true, sizes))
    ax.scatter(x, beta_true[order], marker="x", color="black", label="truth", zorder=4)
    ax.scatter(x, est["none"].to_numpy()[order], s=18, color="tab:orange", label="no pooling (own average)")
    ax.scatter(x, est["partial"].to_numpy()[order], s=18, color="tab:blue", label="partial pooling (multilevel)")
    ax.axhline(est["complete"].iloc[0], color="0.4", ls="--", lw=1, label="complete pooling (grand mean)")
    ax.set_xticks([2.5, 8.5, 14.5, 20.5, 26.5], ["n = 2", "5", "10", "25", "50"])
    for edge in (5.5, 11.5, 17.5, 23.5):
        ax.axvline(edge, color="0.85", lw=0.8)
    ax.set_xlabel("clusters, grouped by size")
    ax.set_ylabel("cluster mean (units of y)")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=2)
    plt.show()
    """),
    md(r"""
    The table gives each method's root-mean-square error against the true cluster means. No pooling is
    worst overall: averages of 2 or 5 people are very noisy. Complete pooling ignores real differences.
    Partial pooling has the smallest error overall: for small clusters it leans on the grand mean, for
    large ones on the cluster's own data — the weight is chosen by the estimated $\tau^2$ and
    $\sigma^2$ (lesson 5 gives the formula). It is not best in every single cluster, only on average;
    that is the trade it makes.

    **Try it.** Change `3.0` (σ) to `1.0` in the cell above, rerun both cells, and watch partial
    pooling move towards no pooling; set the true τ (`1.0`) to `0.1` and it moves towards complete
    pooling.
    """),
    md(r"""
    ## The intraclass correlation

    The ICC is the share of the total variance that lies between clusters,

    $$\text{ICC} = \frac{\tau^2_{u0}}{\tau^2_{u0} + \sigma^2_{e0}},$$

    and equally the correlation between two people of the same cluster. The truth is $5/8 = 0.625$.

    **Self-check.** Before running the next cell: if $\tau^2_{u0}$ were 3 and $\sigma^2_{e0}$ were 1,
    what would the ICC be? Put your number in place of `...` and run the cell.
    """),
    code(r"""
    my_icc = ...
    mk.checks.self_check(my_icc, 0.75, "ICC = 3 / (3 + 1) = 0.75: three quarters of the variance lies between clusters.")
    """),
    code(r"""
    print(f"true ICC      {tau2 / (tau2 + sigma2):.3f}")
    print(f"estimated ICC {m0.icc()['Cluster']:.3f}")
    """),
    md(r"""
    Two thirds of the variation in $y$ is between clusters: an ordinary regression that ignored
    `Cluster` would treat 1,000 strongly correlated observations as independent and report standard
    errors far too small.

    ## The same model in statsmodels

    statsmodels' `MixedLM` can fit this model too (it allows one grouping factor). Both use REML by
    default, so the numbers should agree.
    """),
    code(r"""
    sm = smf.mixedlm("y ~ 1", df, groups="Cluster").fit(reml=True)
    pd.DataFrame({
        "mlmkit": [m0.fixef["(Intercept)"], np.sqrt(m0.vcov.iloc[0, 0]), vc["vcov"].iloc[0], m0.sigma ** 2],
        "statsmodels": [sm.fe_params["Intercept"], sm.bse_fe["Intercept"], sm.cov_re.iloc[0, 0], sm.scale],
    }, index=["intercept", "its SE", "Cluster variance", "Residual variance"]).round(3)
    """),
    md(r"""
    They agree to about three digits. statsmodels' between-cluster variance is a little lower because its
    optimiser stops earlier on a criterion that is very flat near its minimum; lme4 and mlmkit, which
    use the same optimiser (BOBYQA) and stopping rule, agree to many more digits (lesson 5's appendix
    shows how flat the criterion is).

    ## Frequent question: why do REML and ML differ, and which does my software use?

    Maximum likelihood (ML) estimates the variances as if the fixed effects were known, which biases
    them downwards; REML (restricted ML) accounts for the fixed effects being estimated. lme4, mlmkit,
    statsmodels and SAS's `PROC MIXED` use REML by default; Stata's `mixed` uses ML by default (and
    `PROC MIXED` does with `method=ML`) — a common reason why "the same model" gives different variances
    in different programs.
    """),
    code(r"""
    m0_ml = mk.lmer("y ~ 1 + (1 | Cluster)", df, REML=False)
    pd.DataFrame({
        "REML": m0.varcorr["vcov"].to_numpy(),
        "ML": m0_ml.varcorr["vcov"].to_numpy(),
    }, index=["Cluster variance", "Residual variance"]).round(3)
    """),
    md(r"""
    The ML between-cluster variance is smaller, roughly by the factor $19/20$: with 20 balanced clusters
    ML in effect divides the between-cluster sum of squares by 20 where REML divides it by 19 (the $n$
    versus $n-1$ of a sample variance). The residual variance rests on 1,000 observations and does not
    change.

    The REML summary shows a "REML criterion" and no AIC: a REML likelihood depends on the fixed-effects
    design, so it cannot compare models with different fixed effects. The rule used throughout the
    course:

    * models whose **fixed effects differ**: compare ML fits (`m.refit_ml()`; `mk.anova(...)` refits
      for you);
    * models with the **same fixed effects** and nested random parts: REML likelihoods are comparable
      too (`mk.anova(..., refit=False)`), and so are ML ones;
    * either way, a test of a **variance against 0** has its null value on the boundary of the parameter
      space, so the usual $\chi^2$ reference is off (lessons 2 and 6 show the correction).

    ## Our numbers against the tutorial's

    The tutorial printed these numbers for the same seeds and model; the table rounds ours to the digits
    it printed.
    """),
    code(r"""
    mk.checks.tutorial_table([
        ("first y", df["y"].iloc[0], "-0.01799895"),
        ("second y", df["y"].iloc[1], "-1.55662749"),
        ("last y", df["y"].iloc[-1], "3.980374"),
        ("REML criterion", m0.reml_criterion, "4011.7"),
        ("Cluster variance", vc["vcov"].iloc[0], "5.930"),
        ("Residual variance", vc["vcov"].iloc[1], "2.954"),
        ("intercept", m0.fixef["(Intercept)"], "2.3557"),
        ("its standard error", np.sqrt(m0.vcov.iloc[0, 0]), "0.5472"),
        ("median scaled residual", np.median(scaled), "0.0068"),
    ])
    """),
    md(r"""

    ## Exercise

    **Exercise `lesson01_variance_components`:** simulate 40 clusters of 15 with other seeds, recover
    the parameters and the ICC, and see in small simulations how ML underestimates the between-cluster
    variance.

    **Next:** [Lesson 2 — level-1 and level-2 predictors](02_predictors.ipynb).
    """),
]
