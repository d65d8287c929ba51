"""Lesson 10: the course's multilevel models, Bayesian (bambi/PyMC), with plate diagrams."""
from tools.lessons import code, md

SLUG = "bayesian"

CELLS = [
    md(r"""
    # Lesson 10 — The same models, Bayesian

    **Learning objectives.** After this lesson you can

    1. read a multilevel model as a plate diagram (a Bayesian network) and write it with priors;
    2. state priors, justify them, and check them with a prior predictive simulation;
    3. fit the rats, alcohol and sleepstudy models with **bambi** / **PyMC** and read R-hat, ESS and
       divergences as instructions ("sample longer", "reparametrise", "trust it");
    4. compare posterior means and intervals with `mk.lmer`/`mk.glmer`'s estimates and standard errors,
       and explain where and why they differ;
    5. predict for a new batch, country or subject with its uncertainty;
    6. say when the Bayesian fit helps: few groups, and a singular maximum-likelihood fit.

    Source: the models of Mark Andrews' notes on multilevel models (lessons 4–6), fitted the Bayesian way.
    """),
    code(r"""
    import warnings

    import numpy as np
    import pandas as pd
    import matplotlib.pyplot as plt
    from scipy.special import expit

    import pymc as pm
    import mlmkit as mk
    from mlmkit import bayes, plots

    pd.set_option("display.precision", 3)
    """),
    md(r"""
    `mlmkit.bayes.fit` calls bambi (which reads the same lme4 formulas as `mk.lmer`) and samples with
    PyMC's NUTS, with three settings made for a course: chains run one after the other in this process,
    the seed is fixed, and the sampler's arithmetic avoids the BLAS library so that the draws are the
    same numbers on every computer (the module's docstring explains how: `help(bayes)`).

    ## 1. Rats: the model as a diagram

    Lesson 4's model for the tumour counts $m_j$ out of $n_j$ rats in batch $j$, now with priors on the
    top-level parameters:

    $$
    \begin{aligned}
    m_j &\sim \text{Binomial}(n_j, \theta_j), &\quad \text{logit}(\theta_j) &= \beta_0 + b_j,\\
    b_j &\sim N(0, \tau^2), &\quad \beta_0 &\sim N(0, 1.5^2), \quad \tau \sim \text{HalfNormal}(1).
    \end{aligned}
    $$

    In the diagram the shaded circle is observed, open circles are unknown, a plate (rounded box) repeats
    what is inside it once per batch or per observation, and arrows say "is drawn from a distribution
    that depends on". The rats data have one row per batch, so observation $i$ is batch $i$ here.
    """),
    code(r"""
    rats = mk.datasets.load("rats")
    ax = plots.model_diagram("cbind(m, n - m) ~ 1 + (1 | batch)", data=rats)
    """),
    md(r"""
    **Why these priors.** $\beta_0 \sim N(0, 1.5^2)$ puts 95% of its mass on log-odds between −3 and 3,
    a typical batch tumour rate between 5% and 95%: it rules out nothing plausible and excludes only
    near-certain tumours or none. $\tau \sim \text{HalfNormal}(1)$ says that batches differing by a
    factor of $e^2 \approx 7$ in their odds (two standard deviations) would be unusual but possible.

    **Prior predictive check.** Before seeing the data, simulate tumour rates from the priors alone and
    ask whether they look like rates a lab could observe:
    """),
    code(r"""
    rng = np.random.default_rng(2024)
    beta0 = rng.normal(0, 1.5, 4000)
    tau = np.abs(rng.normal(0, 1, 4000))
    theta = expit(beta0 + tau * rng.normal(size=4000))          # a batch's tumour rate, prior only
    prior_rates = pd.Series(np.quantile(theta, [0.025, 0.25, 0.5, 0.75, 0.975]),
                            index=["2.5%", "25%", "50%", "75%", "97.5%"]).round(2)
    print("prior predictive batch tumour rate:", prior_rates.to_dict())
    print(f"observed rates m/n range from {(rats.m / rats.n).min():.2f} to {(rats.m / rats.n).max():.2f}")
    """),
    md(r"""
    The priors allow any rate from near 0 to near 1, with most mass away from the extremes; the observed
    rates (0 to 0.38) sit comfortably inside. A prior that put 95% of batches above 0.9 would fail
    this check.

    ## 2. Fitting with bambi

    | R (brms) | Python (bambi via mlmkit) |
    |---|---|
    | `brm(m \| trials(n) ~ 1 + (1 \| batch), family = binomial, data = rats, prior = ..., seed = 1)` | `bayes.fit("p(m, n) ~ 1 + (1 \| batch)", rats, family="binomial", priors=..., seed=1)` |

    bambi writes "$m$ successes out of $n$" as `p(m, n)` where lme4 writes `cbind(m, n - m)`.
    """),
    code(r"""
    import bambi as bmb

    rat_priors = {"Intercept": bmb.Prior("Normal", mu=0, sigma=1.5),
                  "1|batch": bmb.Prior("Normal", mu=0, sigma=bmb.Prior("HalfNormal", sigma=1))}
    fit_rats = bayes.fit("p(m, n) ~ 1 + (1 | batch)", rats, family="binomial", priors=rat_priors,
                         draws=500, tune=500, chains=2, seed=1)
    bayes.summary(fit_rats, ["Intercept", "1|batch_sigma"])
    """),
    md(r"""
    ### Reading the diagnostics

    * **R-hat** compares the chains with each other: 1.00 means they explore the same distribution.
      Above 1.01, do not use the numbers — sample longer (`draws`, `tune`) or look for a problem.
    * **ESS** (effective sample size) is how many independent draws the correlated chain is worth.
      `ess_bulk` governs the mean, `ess_tail` the interval ends. Below 100 per chain (200 here), the
      summaries are not reliable: sample longer.
    * **Divergences** are trajectories the sampler could not follow (usually a funnel between a group
      standard deviation and its effects). Even a few mean that part of the posterior may be missed:
      raise `target_accept` (0.9 → 0.99) or reparametrise. bambi already uses the non-centred form
      $b_j = \tau z_j$, $z_j \sim N(0, 1)$, which removes most funnels.
    """),
    code(r"""
    def diagnostics(fit):
        s = bayes.summary(fit)
        return pd.Series({"max R-hat": s["r_hat"].max(), "min bulk ESS": s["ess_bulk"].min(),
                          "min tail ESS": s["ess_tail"].min(), "divergences": fit.divergences})

    diagnostics(fit_rats)
    """),
    md(r"""
    ### Posterior against maximum likelihood

    | R | Python |
    |---|---|
    | `glmer(cbind(m, n - m) ~ 1 + (1 \| batch), data = rats, family = binomial)` | `mk.glmer("cbind(m, n - m) ~ 1 + (1 \| batch)", rats, family="binomial")` |
    """),
    code(r"""
    m_rats = mk.glmer("cbind(m, n - m) ~ 1 + (1 | batch)", rats, family="binomial")

    def compare(fit, pairs, ml_values, ml_se):
        s = bayes.summary(fit, [p for p in pairs.values()])
        out = s.loc[list(pairs.values()), ["mean", "sd", "q0.025", "q0.975"]]
        out.index = list(pairs)
        out.columns = ["posterior mean", "posterior sd", "2.5%", "97.5%"]
        out["ML estimate"] = np.round(ml_values, 3)
        out["ML SE"] = [np.nan if v is None else round(v, 3) for v in ml_se]
        return out

    compare(fit_rats, {"intercept": "Intercept", "tau": "1|batch_sigma"},
            [m_rats.fixef["(Intercept)"], m_rats.varcorr["sdcor"].iloc[0]],
            [float(np.sqrt(m_rats.vcov.iloc[0, 0])), None])
    """),
    md(r"""
    The intercepts agree (posterior mean −1.933 against glmer's −1.937, and the posterior sd equals the
    ML standard error, 0.121): with 71 batches the likelihood dominates the prior. The posterior mean of $\tau$ is above
    the ML estimate 0.665, for two reasons:

    1. **Skewness.** $\tau$ cannot go below 0 and its likelihood falls off slowly to the right, so its
       posterior has a long right tail. The ML estimate is the *mode* of the likelihood; a mean is pulled
       into the long tail. Compare the posterior median (below), which sits nearer the mode.
    2. **Integration instead of maximisation.** glmer plugs in the best $\beta_0$ and the Laplace
       approximation; the posterior averages over every $\beta_0$ and every set of batch effects that the
       data allow, and that uncertainty widens the spread attributed to batches.

    No standard error is printed for ML's $\tau$ because lme4 gives none (a Wald SE is poor for a
    skewed, bounded parameter — lesson 8 uses profile intervals instead).
    """),
    code(r"""
    tau_draws = fit_rats.posterior["1|batch_sigma"].values.ravel()
    print(f"tau: posterior mean {tau_draws.mean():.3f}, median {np.median(tau_draws):.3f}; "
          f"ML {m_rats.varcorr['sdcor'].iloc[0]:.3f}")
    """),
    md(r"""
    ### Shrinkage, Bayesian style

    Each batch's posterior mean tumour rate against its raw rate $m_j/n_j$, as in lesson 4:
    """),
    code(r"""
    post = fit_rats.posterior
    theta_draws = expit(post["Intercept"] + post["1|batch"])              # chain, draw, batch
    theta_bayes = theta_draws.mean(("chain", "draw")).to_series()
    theta_bayes.index = theta_bayes.index.astype(str)
    flat = (rats["m"] / rats["n"]).set_axis(rats["batch"])
    fig, ax = plt.subplots(figsize=(4.5, 5))
    plots.shrinkage(flat, theta_bayes, sizes=rats.set_index("batch")["n"],
                    population=float(expit(post["Intercept"]).mean()), labels=("m/n", "posterior mean"),
                    ylabel="tumour rate", ax=ax)
    plt.show()
    """),
    md(r"""
    **A new batch.** Its rate is $\text{logit}^{-1}(\beta_0 + b_{\text{new}})$ with $b_{\text{new}} \sim
    N(0, \tau^2)$: draw one new effect per posterior draw. The interval includes both the uncertainty
    about $\beta_0, \tau$ and the batch-to-batch variation.
    """),
    code(r"""
    rng = np.random.default_rng(7)
    b0 = post["Intercept"].values.ravel()
    new_batch = expit(b0 + tau_draws * rng.normal(size=b0.size))
    print(f"new batch tumour rate: mean {new_batch.mean():.3f}, 95% interval "
          f"{np.quantile(new_batch, 0.025):.3f} to {np.quantile(new_batch, 0.975):.3f}")
    """),
    md(r"""
    ## 3. Alcohol: normal random intercepts

    Lesson 5's model with priors: $y_i \sim N(\phi + \xi_{[x_i]}, \sigma^2)$, $\xi_j \sim N(0, \tau^2)$,
    $\phi \sim N(8, 5^2)$ (litres per adult per year: 95% between −2 and 18, wide for any country),
    $\tau \sim \text{HalfNormal}(5)$, $\sigma \sim \text{HalfNormal}(5)$.
    """),
    code(r"""
    alcohol = mk.datasets.load("alcohol")
    ax = plots.model_diagram("alcohol ~ 1 + (1 | country)", data=alcohol)
    """),
    md(r"""
    We write the model in lesson 5's first form, $\mu_j \sim N(\phi, \tau^2)$ for the country means,
    so the formula has no fixed intercept and the group effects get a prior whose mean $\phi$ is itself
    unknown (bambi accepts a prior as a parameter of a prior):

    | R (brms) | Python (bambi via mlmkit) |
    |---|---|
    | `brm(alcohol ~ 1 + (1 \| country), data = alcohol_df, prior = ...)` | `bayes.fit("alcohol ~ 0 + (1 \| country)", alcohol, priors=..., noncentered=False)` |

    It is the same model as `alcohol ~ 1 + (1 | country)`, but it samples far better here. Written with
    an intercept, every country effect $\xi_j = \mu_j - \phi$ moves when $\phi$ moves, and the sampler
    (which adapts one scale per parameter, not their correlations) crawls along that joint direction:
    with this seed and 500 draws per chain it gave R-hat 1.05 and a bulk ESS of 26 for $\phi$. Each country's mean $\mu_j$ is
    pinned down by its own data ($\sigma$ is small against $\tau$), so sampling the $\mu_j$ directly
    (`noncentered=False`: no $\mu_j = \phi + \tau z_j$ rewriting) leaves little correlation.
    """),
    code(r"""
    alc_priors = {"1|country": bmb.Prior("Normal", mu=bmb.Prior("Normal", mu=8, sigma=5),
                                         sigma=bmb.Prior("HalfNormal", sigma=5)),
                  "sigma": bmb.Prior("HalfNormal", sigma=5)}
    fit_alc = bayes.fit("alcohol ~ 0 + (1 | country)", alcohol, priors=alc_priors, noncentered=False,
                        draws=1000, tune=500, chains=2, seed=2)
    m_alc = mk.lmer("alcohol ~ 1 + (1 | country)", alcohol)
    compare(fit_alc, {"phi": "1|country_mu", "tau": "1|country_sigma", "sigma": "sigma"},
            [m_alc.fixef["(Intercept)"], m_alc.varcorr["sdcor"].iloc[0], m_alc.sigma],
            [float(np.sqrt(m_alc.vcov.iloc[0, 0])), None, None])
    """),
    code(r"""
    diagnostics(fit_alc)
    """),
    md(r"""
    With 189 countries every parameter is pinned down and the two methods agree closely; the posterior
    of $\tau$ is again a little to the right of the REML estimate, for the reasons above.


    Shrinkage is weak here (lesson 5: ICC ≈ 0.95), and the posterior shows the same:
    """),
    code(r"""
    post_a = fit_alc.posterior
    mu_bayes = post_a["1|country"].mean(("chain", "draw")).to_series()
    mu_bayes.index = mu_bayes.index.astype(str)
    flat_a = alcohol.groupby("country")["alcohol"].mean()
    fig, ax = plt.subplots(figsize=(4.5, 5))
    plots.shrinkage(flat_a, mu_bayes, sizes=alcohol.groupby("country").size(),
                    population=float(post_a["1|country_mu"].mean()), labels=("country mean", "posterior mean"),
                    ylabel="litres per adult per year", ax=ax)
    plt.show()
    """),
    code(r"""
    rng = np.random.default_rng(8)
    phi_d, tau_d, sig_d = (post_a[v].values.ravel() for v in ("1|country_mu", "1|country_sigma", "sigma"))
    new_country = phi_d + tau_d * rng.normal(size=phi_d.size)                  # the country's mean
    new_year = new_country + sig_d * rng.normal(size=phi_d.size)                # one year's observation
    print(f"new country's mean: {new_country.mean():.1f} litres, 95% interval "
          f"{np.quantile(new_country, 0.025):.1f} to {np.quantile(new_country, 0.975):.1f}")
    print(f"one year of it:     {new_year.mean():.1f} litres, 95% interval "
          f"{np.quantile(new_year, 0.025):.1f} to {np.quantile(new_year, 0.975):.1f}")
    """),
    md(r"""
    The lower ends are below zero litres: the normal model knows nothing about the bound at 0. With a
    $\tau$ of almost 5 litres around a mean of 6.6 that matters for a new country; a model for
    log-consumption would respect the bound.
    """),
    md(r"""
    ## 4. Sleepstudy: correlated intercepts and slopes

    Lesson 6's model has, per subject, an intercept effect and a slope effect that are **correlated**:
    $(b_{0j}, b_{1j}) \sim N(0, \Sigma)$ with
    $\Sigma = \begin{pmatrix}\tau_0^2 & \rho\tau_0\tau_1\\ \rho\tau_0\tau_1 & \tau_1^2\end{pmatrix}$.
    In the diagram the two effects are one vector node with the covariance matrix $\Sigma$ above it;
    `(Days || Subject)` would give two nodes with a $\tau$ each and no $\rho$.
    """),
    code(r"""
    sleep = mk.datasets.load("sleepstudy")
    fig, axs = plt.subplots(1, 2, figsize=(9, 3.6))
    plots.model_diagram("Reaction ~ Days + (Days | Subject)", ax=axs[0], data=sleep)
    plots.model_diagram("Reaction ~ Days + (Days || Subject)", ax=axs[1], data=sleep)
    plt.show()
    """),
    md(r"""
    **What bambi 0.17 fits for `(Days | Subject)`.** Independent normal priors for the intercept and
    the slope effects, each with its own $\tau$: structurally lme4's `(Days || Subject)`, *no*
    correlation parameter. To fit the correlated model we write it in PyMC directly (10 lines). For two
    effects the usual LKJ($\eta$) prior on the correlation is simply $(\rho + 1)/2 \sim
    \text{Beta}(\eta, \eta)$; $\eta = 2$ favours small correlations but allows any. Writing
    $b_{1j} = \tau_1(\rho z_{0j} + \sqrt{1-\rho^2}\, z_{1j})$ with standard normal $z$ gives the
    required covariance (the non-centred form again).

    Priors (ms): $\beta_0 \sim N(250, 50^2)$ (a reaction time around a quarter second),
    $\beta_1 \sim N(0, 20^2)$ per day (no direction assumed), $\tau_0 \sim \text{HalfNormal}(50)$,
    $\tau_1 \sim \text{HalfNormal}(20)$, $\sigma \sim \text{HalfNormal}(50)$.
    """),
    code(r"""
    subj_codes, subjects = pd.factorize(sleep["Subject"])
    days, reaction = sleep["Days"].to_numpy(float), sleep["Reaction"].to_numpy(float)

    with pm.Model(coords={"Subject": subjects.astype(str)}) as sleep_model:
        beta0 = pm.Normal("beta0", 250, 50)
        beta1 = pm.Normal("beta1", 0, 20)
        tau0, tau1 = pm.HalfNormal("tau0", 50), pm.HalfNormal("tau1", 20)
        rho = pm.Deterministic("rho", 2 * pm.Beta("rho01", 2, 2) - 1)            # LKJ(2) for 2 x 2
        z0, z1 = pm.Normal("z0", 0, 1, dims="Subject"), pm.Normal("z1", 0, 1, dims="Subject")
        b0 = pm.Deterministic("b0", tau0 * z0, dims="Subject")
        b1 = pm.Deterministic("b1", tau1 * (rho * z0 + pm.math.sqrt(1 - rho**2) * z1), dims="Subject")
        sigma = pm.HalfNormal("sigma", 50)
        mu = beta0 + b0[subj_codes] + (beta1 + b1[subj_codes]) * days
        pm.Normal("Reaction", mu, sigma, observed=reaction)

    fit_sleep = bayes.fit(sleep_model, draws=500, tune=500, chains=2, seed=3)
    diagnostics(fit_sleep)
    """),
    code(r"""
    m_sleep = mk.lmer("Reaction ~ Days + (Days | Subject)", sleep)
    vc = m_sleep.varcorr.set_index(["var1", "var2"], drop=False)
    se = np.sqrt(np.diag(m_sleep.vcov))
    compare(fit_sleep, {"(Intercept)": "beta0", "Days": "beta1", "tau0": "tau0", "tau1": "tau1", "rho": "rho",
                        "sigma": "sigma"},
            [m_sleep.fixef["(Intercept)"], m_sleep.fixef["Days"], m_sleep.varcorr["sdcor"].iloc[0],
             m_sleep.varcorr["sdcor"].iloc[1], m_sleep.varcorr["sdcor"].iloc[2], m_sleep.sigma],
            [se[0], se[1], None, None, None, None])
    """),
    md(r"""
    The fixed effects agree with lmer's to well within their standard errors (the posterior sds are a
    little larger: they include the uncertainty about the variance parameters). The two standard
    deviations $\tau_0, \tau_1$ come out larger than the REML estimates, as $\tau$ did for the rats and
    for the same reasons — with 18 subjects, more so. The data say little about $\rho$: its 95% interval
    runs from about −0.4 to 0.55, and both the posterior mean and the REML estimate are small numbers
    inside it.

    **A new subject.** Their expected reaction time on day 5 is $\beta_0 + b_{0} + 5(\beta_1 + b_{1})$
    with new effects drawn from $N(0, \Sigma)$ at each posterior draw:
    """),
    code(r"""
    p = fit_sleep.posterior
    d = {v: p[v].values.ravel() for v in ("beta0", "beta1", "tau0", "tau1", "rho")}
    rng = np.random.default_rng(9)
    z0n, z1n = rng.normal(size=(2, d["beta0"].size))
    b0n = d["tau0"] * z0n
    b1n = d["tau1"] * (d["rho"] * z0n + np.sqrt(1 - d["rho"] ** 2) * z1n)
    day5 = d["beta0"] + b0n + 5 * (d["beta1"] + b1n)
    print(f"new subject, day 5: mean {day5.mean():.0f} ms, 95% interval "
          f"{np.quantile(day5, 0.025):.0f} to {np.quantile(day5, 0.975):.0f} ms")
    """),
    md(r"""
    ## 5. Where the Bayesian model helps: imm10's singular fit

    In lesson 7 the logistic model `white ~ homework + (1 + homework | schid)` for the 10 schools of
    imm10 was **singular**: glmer put a variance at 0 or a correlation at ±1, the boundary of the
    parameter space. With 10 groups the data cannot tell a small variance from none, and ML picks the
    edge. A posterior instead keeps every value the data allow, weighted by how well it fits and by the
    prior, so the group standard deviations get a whole distribution away from an exact 0.
    (bambi's term here has independent intercept and slope effects, as explained above; the few
    groups make the sampler's job harder, so `target_accept=0.95` takes smaller steps and avoids
    divergences.)
    """),
    code(r"""
    imm = mk.datasets.load("imm10")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mk.errors.SingularFitWarning)     # lesson 7 discussed it
        m_imm = mk.glmer("white ~ homework + (1 + homework | schid)", imm, family="binomial")
    print("glmer singular:", m_imm.is_singular)
    print(m_imm.varcorr[["grp", "var1", "var2", "sdcor"]].round(3).to_string(index=False))
    imm_priors = {"Intercept": bmb.Prior("Normal", mu=0, sigma=1.5),
                  "homework": bmb.Prior("Normal", mu=0, sigma=1),
                  "1|schid": bmb.Prior("Normal", mu=0, sigma=bmb.Prior("HalfNormal", sigma=1)),
                  "homework|schid": bmb.Prior("Normal", mu=0, sigma=bmb.Prior("HalfNormal", sigma=0.5))}
    fit_imm = bayes.fit("white ~ homework + (homework | schid)", imm.assign(schid=imm["schid"].astype(str)),
                        family="bernoulli", priors=imm_priors, draws=500, tune=500, chains=2, seed=4,
                        target_accept=0.95)
    bayes.summary(fit_imm, ["Intercept", "homework", "1|schid_sigma", "homework|schid_sigma"])
    """),
    code(r"""
    diagnostics(fit_imm)
    """),
    md(r"""
    The slope standard deviation, which glmer pushed to the boundary (with a correlation of −1), now
    has a whole distribution: its 95% interval runs from about 0.01 to 0.7, so the data are compatible
    with almost no school-to-school variation in the homework effect and with a fair amount, and the
    posterior says so instead of reporting an edge. The intercept standard deviation is clearly
    positive but smaller than glmer's 4.04: with 10 schools the HalfNormal(1) prior, which puts little
    mass above 2.5, pulls on it. That is the price — with few groups the answer depends on the prior,
    so state it and try a second one to see how much it matters.

    **Self-check.** The posterior of a group standard deviation $\tau$ is skewed to the right. Which is
    larger, its posterior mean or its posterior median? Write `"mean"` or `"median"`.
    """),
    code(r"""
    my_answer = ...
    mk.checks.self_check(my_answer, "mean", "a long right tail pulls the mean above the median (and the "
                         "median above the mode, which is close to the ML estimate).", options=["mean", "median"])
    """),
    md(r"""
    ## Summary

    * A plate diagram is the model: observed (shaded) and unknown (open) quantities, plates for
      repetition, arrows for "depends on". `mk.plots.model_diagram(formula)` draws one from any lme4
      formula.
    * With many groups, posterior means and sds agree with ML estimates and SEs for the fixed effects;
      standard deviations of random effects come out a little larger (skewed posteriors, integrated
      uncertainty).
    * Check R-hat ≤ 1.01, ESS in the hundreds and zero divergences before using any number.
    * Predictions for new groups come with honest intervals by simulating new effects at every draw.
    * With few groups, or where ML is singular, the posterior gives a proper answer — at the price of a
      prior that matters and must be stated.

    **Exercise:** `exercises/lesson10_bayesian.ipynb`.
    """),
]
