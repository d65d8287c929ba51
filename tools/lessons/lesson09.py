"""Lesson 9 (beyond the sources): how many clusters do I need? Power by simulation."""
from tools.lessons import code, md

SLUG = "power"

CELLS = [
    md(r"""
    # Lesson 9 — Beyond the sources: how many clusters do I need?

    Lessons 1–3 simulated one data set and fitted it once. Repeat that a few hundred times and count how
    often the effect you care about is detected: that share is the study's *power*. For multilevel
    designs there is rarely a formula for it, but simulation always works.

    **Learning objectives.** After this lesson you can

    1. describe power analysis by simulation as a loop: simulate, fit, test, count;
    2. run it with `mk.power` and `mk.power_curve`, and read the Monte Carlo uncertainty of the result;
    3. explain why the number of clusters, not the number of people, limits the power for a
       cluster-level (level-2) effect;
    4. choose `nsim`, seeds and parallel workers sensibly.
    """),
    code(r"""
    import numpy as np
    import pandas as pd
    import matplotlib.pyplot as plt

    import mlmkit as mk
    from mlmkit import plots

    pd.set_option("display.precision", 3)
    """),
    md(r"""
    ## The planned study

    Schools (clusters) of 10 pupils; a pupil-level predictor $x_1$ and a school-level predictor $z_1$
    (say, a programme the school runs, standardised), both with true effects we think plausible:

    $$y_{ij} = 0.3\, x_{1ij} + 0.5\, z_{1j} + u_{0j} + e_{ij}, \qquad u_{0j} \sim N(0, 0.5),\ e_{ij} \sim N(0, 1).$$

    The intraclass correlation is $0.5 / 1.5 = 0.33$. In practice these numbers come from a pilot study
    or from published fits — exactly what lessons 1–8 taught you to read off a summary. We collect them in
    one dictionary:
    """),
    code(r"""
    design = dict(cluster_size=10, fixed={"(Intercept)": 0.0, "x1": 0.3, "z1": 0.5}, re_cov=0.5, sigma2=1.0)
    """),
    md(r"""
    ## One turn of the loop, by hand

    Simulate a study with 20 schools, fit the model, and test $H_0: \gamma_{z_1} = 0$ with a
    likelihood-ratio test (the model with and without $z_1$, both fitted by ML — `mk.anova` refits them).
    """),
    code(r"""
    one = mk.simulate.multilevel(n_clusters=20, seed=7, **design)
    m1 = mk.lmer("y ~ x1 + z1 + (1 | cluster)", one)
    m0 = mk.lmer("y ~ x1 + (1 | cluster)", one)
    lrt = mk.anova(m0, m1)
    lrt
    """),
    md(r"""
    The `Chisq` column is twice the difference of the two ML log-likelihoods; checking it by hand
    confirms what the table means:
    """),
    code(r"""
    by_hand = 2 * (m1.refit_ml().loglik - m0.refit_ml().loglik)
    assert np.isclose(lrt["Chisq"].iloc[1], by_hand), (lrt["Chisq"].iloc[1], by_hand)
    print(f"likelihood-ratio statistic {by_hand:.3f}: as in the table")
    """),
    md(r"""
    This study detects the effect; but one study tells us little about the next.

    **Self-check.** Before reading on: for the school-level effect, which raises the power more — doubling
    the pupils per school (20 schools of 20) or doubling the schools (40 schools of 10)? Answer
    `"pupils"` or `"schools"`.
    """),
    code(r"""
    guess = ...
    mk.checks.self_check(guess, "schools", "Each school contributes one value of z1, and its mean is blurred by "
                         "its random intercept however many pupils it has (variance 0.5 + 1/n): doubling n "
                         "only shrinks each school's 0.6 to 0.55, while doubling the schools halves the "
                         "variance of the estimate.",
                         options=["pupils", "schools"],
                         wrong={"pupils": "More pupils sharpen each school's mean only a little: the random "
                                          "intercept's variance 0.5 stays."})
    """),
    md(r"""
    Power is the share of many such studies that reject at $\alpha = 0.05$.

    ## Many turns: `mk.power`

    | R (package simr) | Python (mlmkit) |
    |---|---|
    | `powerSim(fit, test = fixed("z1", "lr"), nsim = 100)` | `mk.power(formula, "z1", n_clusters=20, nsim=100, **design)` |
    | `powerCurve(fit, along = "cluster", ...)` | `mk.power_curve(formula, "z1", [10, 20, 40], **design)` |

    `mk.power(formula, test, n_clusters=..., nsim=..., **design)` runs the loop: it simulates `nsim` data
    sets from the design, fits the formula to each and tests the named fixed effect (likelihood-ratio
    test by default, `method="z"` for a Wald z test). `new_design=True` draws new values of the
    predictors for every data set; with only a few clusters, a single draw of 20 school-level values can
    be unusually spread out or bunched, and fixing it would make the answer depend on that luck.
    `progress=True` (the default) shows a progress bar; we switch it off to keep the lesson's output tidy.
    """),
    code(r"""
    res = mk.power("y ~ x1 + z1 + (1 | cluster)", "z1", n_clusters=20, nsim=100, seed=1,
                   new_design=True, progress=False, **design)
    res
    """),
    md(r"""
    The estimate itself is a proportion from `nsim` simulated studies, so it has a Monte Carlo standard
    error $\sqrt{\hat p (1 - \hat p) / n_\text{sim}}$:
    """),
    code(r"""
    p = res.power
    print(f"power {p:.3f}, Monte Carlo SE {res.se:.3f} = sqrt({p:.3f} * {1 - p:.3f} / {res.nsim})")
    print(f"for a Monte Carlo SE of 0.01 at this power you would need about {p * (1 - p) / 0.01**2:.0f} simulations")
    """),
    md(r"""
    Use a few hundred simulations while exploring and 1,000 or more for the numbers you report.
    `n_jobs=2` (or more) spreads the work over processors; results do not depend on `n_jobs`, because each
    simulated study has its own seed derived from `seed`.

    ## A power curve over the number of clusters
    """),
    code(r"""
    curve = mk.power_curve("y ~ x1 + z1 + (1 | cluster)", "z1", [10, 40], nsim=100, seed=2,
                           new_design=True, progress=False, **design)
    curve.table[["n_clusters", "power", "se", "lower", "upper"]]
    """),
    md(r"""
    `mk.power_curve` takes a list of cluster counts. We already have the point for 20 clusters (`res`),
    so we add its row to the table instead of simulating it again; `plots.plot_power_curve` draws the
    table with 95% intervals and a dashed line at the 80% target.
    """),
    code(r"""
    table = pd.concat([curve.table, pd.DataFrame([res.row()])]).sort_values("n_clusters")
    ax = plots.plot_power_curve(table, target=0.8)
    ax.set_title("power for the school-level effect z1 (10 pupils per school)", fontsize=9)
    plt.show()
    """),
    md(r"""
    **Explore (JupyterLab).** A closed-form approximation of the same question, fast enough for a slider:
    for a standardised school-level predictor in a balanced design, the slope's variance is
    $(\tau^2 + \sigma^2/m)/J$, i.e. the total variance times the **design effect**
    $1 + (m-1)\,\text{ICC}$ divided by the number of pupils $mJ$; power follows from a $t$ test with
    $J - 2$ degrees of freedom. The grey squares are the simulated points of the table above. Move the
    ICC, the school size $m$, the number of schools $J$ and the effect.
    """),
    code(r"""
    mk.explore.power(effect=design["fixed"]["z1"], tau2=design["re_cov"], sigma2=design["sigma2"],
                     cluster_size=design["cluster_size"], n_clusters=20, simulated=table)
    """),
    md(r"""
    The bars are 95% intervals of the simulation itself: with 100 simulations per point they are wide, so
    read the curve as a rough guide and refine the region you care about with more simulations.

    **A caution about the left end.** Power is the rejection rate of a particular test — here the
    likelihood-ratio test with a $\chi^2_1$ reference. With few clusters that test rejects a true null
    hypothesis too often: lesson 2's simulation of this very design with the effect set to 0 found 8.9%
    rejections at a nominal 5% with 10 clusters, 6.5% with 20 and 5.6% with 40. So the power at 10
    clusters is partly the test's excess false-positive rate; a test that holds its 5% (a parametric
    bootstrap, lesson 2) would have somewhat less power there. From about 40 clusters on the distinction
    hardly matters.

    ## More clusters or bigger clusters?

    Keep the total number of pupils at 400 and split it differently:
    """),
    code(r"""
    few_big = mk.power("y ~ x1 + z1 + (1 | cluster)", "z1", n_clusters=10, nsim=100, seed=3, new_design=True,
                       progress=False, **{**design, "cluster_size": 40})
    many_small = curve.results[-1]            # 40 schools of 10, simulated above
    print(f"40 schools of 10 pupils: power {many_small.power:.2f}")
    print(f"10 schools of 40 pupils: power {few_big.power:.2f}")
    """),
    md(r"""
    The school-level effect loses much of its power when 400 pupils come from 10 schools instead of 40.

    **Try it.** Halve the intraclass correlation (`re_cov=0.25` in `design`) and rerun the 10-school
    simulation: with less variation between schools, big schools lose less.
    The standard errors of one simulated study per split show why:
    """),
    code(r"""
    splits = {"40 schools of 10": (40, 10), "20 schools of 20": (20, 20), "10 schools of 40": (10, 40)}
    ses = {}
    for label, (J, n) in splits.items():
        study = mk.simulate.multilevel(n_clusters=J, seed=11, **{**design, "cluster_size": n})
        fit = mk.lmer("y ~ x1 + z1 + (1 | cluster)", study)
        ses[label] = np.sqrt(np.diag(fit.vcov))[1:]
    pd.DataFrame(ses, index=["SE of x1 (pupil level)", "SE of z1 (school level)"]).T
    """),
    md(r"""
    The pupil-level slope is estimated from all 400 pupils in every split, so its standard error hardly
    moves (and its power, for an effect of 0.3, is essentially 100% in all three). Each school contributes
    one value of $z_1$, and a school's mean is blurred by its random intercept however many pupils it
    has: with 10 schools the school-level slope rests on 10 noisy points. For cluster-level questions,
    recruit clusters.

    ## What this lesson left out

    * Power for random-effect variances, or for cross-level interactions (`fixed={"x1:z1": ...}` and a
      random slope), works the same way; such effects typically need many more clusters.
    * Always check the test's size for your design: run `mk.power` with the effect set to 0 and compare
      the share of rejections with $\alpha$ (lesson 2 does this). Where it is well above $\alpha$, as with
      10 clusters, read the power at that design with the same reservation.
    * For a GLMM pass `family="binomial"` (or `"poisson"`) in the design and fit with the same formula.

    ## Exercise

    **Exercise `lesson09_power`:** plan a study of a school-level programme — the design effect, a
    back-of-the-envelope power, then `mk.power` and `mk.power_curve` to find the number of schools for
    80% power.

    This is the last lesson. Back to the [overview](00_welcome.ipynb).
    """),
]
