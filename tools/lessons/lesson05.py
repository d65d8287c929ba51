"""Lesson 5: alcohol consumption by country, a normal random-effects model and the ICC."""
from tools.lessons import code, md

SLUG = "alcohol"

CELLS = [
    md(r"""
    # Lesson 5 — Alcohol consumption by country: a normal random-effects model

    **Learning objectives.** After this lesson you can

    1. contrast a "flat" model (a separate mean for every country) with a multilevel model of the
       country means;
    2. fit the normal random-effects model with `mk.lmer` on real, unbalanced data;
    3. compute the ICC and say what a high ICC means for the data;
    4. explain how much each country's estimate is shrunk, and why it depends on its number of
       observations;
    5. predict for a country in the data and for a new one.

    Source: Mark Andrews' notes on multilevel models (the alcohol example).
    """),
    code(r"""
    import numpy as np
    import pandas as pd
    import matplotlib.pyplot as plt
    import statsmodels.formula.api as smf

    import mlmkit as mk
    from mlmkit import plots

    pd.set_option("display.precision", 4)
    """),
    md(r"""
    ## The data

    Recorded alcohol consumption per adult (litres of pure alcohol per year) for 189 countries in some of
    22 years. `mk.datasets.describe("alcohol")` gives the source and the columns.
    """),
    code(r"""
    alcohol = mk.datasets.load("alcohol")
    alcohol.head()
    """),
    code(r"""
    per_country = alcohol.groupby("country").size()
    print(f"{len(alcohol)} rows, {per_country.size} countries")
    per_country.value_counts().sort_index().rename_axis("observations per country").rename("countries")
    """),
    md(r"""
    Most countries have two years (2005 and 2008), a few have one, and Russia and Sweden have more than
    ten. Data this unbalanced are where multilevel models earn their keep.

    ## Two models for the country means

    Write $y_i$ for observation $i$ and $x_i \in \{1, \dots, J\}$ for its country. The **flat** model
    gives each country its own mean, estimated from that country's data alone:

    $$y_i \sim N(\mu_{[x_i]}, \sigma^2), \qquad i = 1, \dots, n.$$

    The **multilevel** model adds a model for the means themselves — they are draws from a population of
    countries with mean $\phi$ and standard deviation $\tau$:

    $$
    \begin{aligned}
    y_i &\sim N(\mu_{[x_i]}, \sigma^2), \\
    \mu_j &\sim N(\phi, \tau^2), \qquad j = 1, \dots, J,
    \end{aligned}
    \qquad\text{equivalently}\qquad
    y_i = \phi + \xi_{[x_i]} + \epsilon_i,\ \ \xi_j \sim N(0, \tau^2),\ \epsilon_i \sim N(0, \sigma^2).
    $$

    The flat model's estimates are the country averages (in R, `lm(alcohol ~ 0 + country)`):
    """),
    code(r"""
    flat = alcohol.groupby("country")["alcohol"].mean()
    flat.sort_values().tail(3)
    """),
    md(r"""
    ## Fitting the multilevel model

    | R (lme4) | Python (mlmkit) |
    |---|---|
    | `m <- lmer(alcohol ~ 1 + (1 \| country), data = alcohol_df)` | `m = mk.lmer("alcohol ~ 1 + (1 \| country)", alcohol)` |
    """),
    md(r"""
    The same model as a plate diagram (the source tutorial draws one for each model): shaded circles are
    observed, white ones are estimated, the diamond $\eta_i$ is computed from its parents (the linear
    predictor), and a plate repeats what it holds, once per observation $i$ or per group $j$. Arrows
    point from a quantity to what it helps generate. Each year's figure $y_i$ scatters around its country's mean with variance $\sigma^2$; the country effects come from $N(0, \tau^2)$.
    """),
    code(r"""
    ax = plots.model_diagram("alcohol ~ 1 + (1 | country)")
    """),
    code(r"""
    m = mk.lmer("alcohol ~ 1 + (1 | country)", alcohol)
    m.summary()
    """),
    code(r"""
    phi = m.fixef["(Intercept)"]
    tau, sigma = m.varcorr["sdcor"].iloc[0], m.sigma
    print(f"phi = {phi:.3f}, tau = {tau:.3f}, sigma = {sigma:.3f}")
    """),
    md(r"""
    Countries differ a lot (a standard deviation of 4.7 litres around 6.7), while a country's consumption
    moves little from year to year (1.05 litres).

    ## The intraclass correlation

    $$\text{ICC} = \frac{\tau^2}{\tau^2 + \sigma^2}$$
    """),
    code(r"""
    icc = tau**2 / (tau**2 + sigma**2)
    print(f"ICC = {icc:.4f}; m.icc() gives the same: {m.icc()['country']:.4f}")
    """),
    md(r"""
    95% of the variation is between countries: two years of the same country are nearly as alike as two
    measurements can be. The high ICC also says how the multilevel model treats each country.

    ## Shrinkage, and why it is weak here

    For this model the multilevel estimate of a country's mean is a weighted average of its own average
    $\bar y_j$ (from $n_j$ observations) and the global mean:

    $$\hat\mu_j = \hat\phi + \lambda_j (\bar y_j - \hat\phi), \qquad
      \lambda_j = \frac{\tau^2}{\tau^2 + \sigma^2 / n_j}.$$

    With $\tau^2$ twenty times $\sigma^2$, even a single observation earns a weight above 0.95.

    **Self-check.** Suppose countries differed less and years more: $\tau = 2$ and $\sigma = 2$ litres.
    What weight $\lambda_j$ would a country with a single year of data get? Put it in place of `...` and
    run the cell.
    """),
    code(r"""
    my_weight = ...
    mk.checks.self_check(my_weight, 0.5, "lambda = 4 / (4 + 4 / 1) = 0.5: the country's one year and the global "
                         "mean would count equally — strong shrinkage, unlike these data.", rtol=0.01)
    """),
    md(r"""
    Let us confirm that `m.coef` is exactly this formula:
    """),
    code(r"""
    n_j = per_country.reindex(m.coef["country"].index)
    ybar = flat.reindex(n_j.index)
    lam = tau**2 / (tau**2 + sigma**2 / n_j)
    by_formula = phi + lam * (ybar - phi)
    print("m.coef equals the formula:", np.allclose(by_formula, m.coef["country"]["(Intercept)"], rtol=1e-12))
    lam.groupby(n_j).first().rename("weight on own average").rename_axis("n_j").round(3)
    """),
    md(r"""
    **Explore (JupyterLab).** The same formula with sliders: change $\tau^2$, $\sigma^2$ or multiply every
    $n_j$ and watch how far each country's estimate moves towards $\hat\phi$ (a static page shows the
    fitted values). Try $\tau^2$ below $\sigma^2$ to see the strong shrinkage of lesson 4.
    """),
    code(r"""
    mk.explore.shrinkage(flat, per_country, tau2=tau**2, sigma2=sigma**2, mean=phi,
                         ylabel="litres per adult per year")
    """),
    code(r"""
    fig, ax = plt.subplots(figsize=(4.5, 5))
    plots.shrinkage(flat, m.coef["country"]["(Intercept)"], sizes=per_country, population=phi,
                    ylabel="litres of pure alcohol per adult per year", ax=ax)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1), markerscale=0.6)
    ax.set_title("point area: number of years (1 to 12)", fontsize=9)
    plt.show()
    """),
    md(r"""
    Each line joins a country's own average (left) to its multilevel estimate (right); larger points are
    countries with more years. The lines are almost flat: with an ICC of 0.95 the data of a country are
    trusted nearly completely. Compare the rat tumour data of lesson 4, where shrinkage is strong.

    ## The same model in statsmodels
    """),
    code(r"""
    sm = smf.mixedlm("alcohol ~ 1", alcohol, groups="country").fit(reml=True)
    pd.DataFrame({
        "mlmkit": [phi, tau, sigma],
        "statsmodels": [sm.fe_params["Intercept"], np.sqrt(sm.cov_re.iloc[0, 0]), np.sqrt(sm.scale)],
    }, index=["phi", "tau", "sigma"]).round(3)
    """),
    md(r"""
    statsmodels stops at $\hat\tau = 4.712$, one unit lower in the last digit; the appendix at the end
    of this lesson explains why such last-digit differences are harmless.

    ## Frequent question: predictions with and without the random effects

    `m.predict(newdata)` uses each country's estimated mean; `re_form="~0"` drops the random effects and
    predicts the population mean $\hat\phi$. A country the model has not seen has no random effect; with
    `allow_new_levels=True` it gets the population prediction (as in lme4).
    """),
    code(r"""
    new = pd.DataFrame({"country": ["Russia", "Sweden", "Atlantis"]})
    pd.DataFrame({
        "with random effects": m.predict(new, allow_new_levels=True),
        "population level": m.predict(new, re_form="~0"),
    }, index=new["country"]).round(3)
    """),
    md(r"""
    ## Our numbers against the tutorial's
    """),
    code(r"""
    mk.checks.tutorial_table([
        ("phi (global mean)", phi, "6.661"),
        ("tau (sd between countries)", tau, "4.713"),
        ("sigma (sd within a country)", sigma, "1.053"),
        ("ICC", icc, "0.95"),
    ])
    """),
    md(r"""
    ## Exercise

    **Exercise `lesson05_alcohol`:** the ICC, the shrinkage weight $\lambda_j$ computed by hand, and
    reading the shrinkage plot.

    **Next:** [Lesson 6 — sleep deprivation: varying intercepts and slopes](06_sleepstudy.ipynb).
    """),
    md(r"""
    ## Appendix: why do my digits differ from lme4's (or the tutorial's)?

    mlmkit and lme4 1.1-31 agree on $\hat\tau = 4.71252$, printed as 4.713 at three decimals (a source
    that truncates instead of rounding shows 4.712). Other programs, or other versions of lme4, can differ
    in the last digit, because an optimiser stops when the criterion no longer improves, and near its
    minimum the REML criterion is very flat. We can look at the criterion ourselves: θ is lme4's parameter $\tau/\sigma$, and `m.devfun(θ)` returns the REML
    criterion at θ.
    """),
    code(r"""
    theta_hat = m.theta[0]
    for shift in (1e-4, 1e-3, 1e-2):
        rise = m.devfun([theta_hat + shift]) - m.reml_criterion
        print(f"theta moved by {shift:g}: the criterion rises by about {rise:.0e}")
    """),
    md(r"""
    A change of θ in the fourth decimal moves the criterion by about $10^{-7}$ — far below any optimiser's
    stopping rule — so differences in the last printed digit of a variance are optimiser tolerance, not
    a different model. Larger disagreements usually come from REML vs ML (lesson 1), a different
    handling of missing values, or a fit on the boundary of the parameter space (lesson 7).
    """),
]
