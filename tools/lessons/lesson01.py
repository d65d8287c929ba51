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


    check = mk.checks.matches_printed      # value agrees with the tutorial to its printed digits
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
    code(r"""
    check("first y", df["y"].iloc[0], "-0.01799895")
    check("second y", df["y"].iloc[1], "-1.55662749")
    check("last y", df["y"].iloc[-1], "3.980374")
    """),
    md(r"""
    The same numbers as the R tutorial: anything you read in it about these data holds here too.
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
    code(r"""
    vc = m0.varcorr
    check("REML criterion", m0.reml_criterion, "4011.7")
    check("Cluster variance", vc["vcov"].iloc[0], "5.930")
    check("Residual variance", vc["vcov"].iloc[1], "2.954")
    check("intercept", m0.fixef["(Intercept)"], "2.3557")
    check("its standard error", np.sqrt(m0.vcov.iloc[0, 0]), "0.5472")
    check("median scaled residual", np.median(m0.residuals(type="pearson", scaled=True)), "0.0068")
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

    The figure shows each cluster's predicted deviation $\hat u_{0j}$ with a 95% interval, and the true
    $u_{0j}$ as crosses.
    """),
    code(r"""
    ax = plots.caterpillar(m0, sort=False)
    ax.scatter(u0, np.arange(C), marker="x", color="black", zorder=4, label="true $u_{0j}$")
    ax.legend(loc="lower right", fontsize=8)
    plt.show()
    """),
    md(r"""
    ## The intraclass correlation

    The ICC is the share of the total variance that lies between clusters,

    $$\text{ICC} = \frac{\tau^2_{u0}}{\tau^2_{u0} + \sigma^2_{e0}},$$

    and equally the correlation between two people of the same cluster. The truth is $5/8 = 0.625$.
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
    use the same optimiser (BOBYQA) and stopping rule, agree to many more digits.

    ## Frequent question: why do REML and ML differ, and which does my software use?

    Maximum likelihood (ML) estimates the variances as if the fixed effects were known, which biases
    them downwards; REML (restricted ML) accounts for the fixed effects being estimated. lme4, mlmkit and
    statsmodels use REML by default, Stata's `mixed` and SAS's `PROC MIXED` with `method=ML` use ML — a
    common reason why "the same model" gives different variances in different programs.
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
    design, so it cannot compare models with different fixed effects. For AIC, BIC and likelihood-ratio
    tests refit with ML (`m.refit_ml()`); `mk.anova(...)` does that for you (lessons 3 and 6).

    ## Exercise

    **Exercise `lesson01_variance_components`:** simulate 40 clusters of 15 with other seeds, recover
    the parameters and the ICC, and see in small simulations how ML underestimates the between-cluster
    variance.

    **Next:** [Lesson 2 — level-1 and level-2 predictors](02_predictors.ipynb).
    """),
]
