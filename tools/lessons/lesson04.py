"""Lesson 4: rat tumours, from one binomial model to a multilevel binomial model; shrinkage."""
from tools.lessons import code, md

SLUG = "rats"

CELLS = [
    md(r"""
    # Lesson 4 — Rat tumours: a multilevel binomial model

    **Learning objectives.** After this lesson you can

    1. model a proportion with a binomial logistic regression and read its single coefficient;
    2. explain why one separate estimate per group (the flat model) is not a model of the groups;
    3. fit the multilevel binomial model with `mk.glmer` and relate `fixef`, `ranef` and `coef`;
    4. draw and explain *shrinkage*: why small or extreme groups move towards the average;
    5. say why a GLMM reports z values and p-values while an LMM reports t values.

    Source: Mark Andrews' notes on multilevel models (random effects models: the rats data).
    """),
    code(r"""
    import numpy as np
    import pandas as pd
    import matplotlib.pyplot as plt
    from scipy.special import expit
    from statsmodels.genmod.families import Binomial
    from statsmodels.genmod.generalized_linear_model import GLM

    import mlmkit as mk
    from mlmkit import plots

    pd.set_option("display.precision", 4)
    """),
    md(r"""
    ## The data

    71 batches of laboratory rats (a classic data set from Tarone, 1982): in batch $j$, $m_j$ of the
    $n_j$ rats developed a tumour. `batch` is a label, so `mk.datasets.load` reads it as text.
    """),
    code(r"""
    rats = mk.datasets.load("rats")
    rats.head()
    """),
    md(r"""
    ## One batch

    Batch 42 had 2 tumours among 13 rats. If each rat in the batch has the same unknown probability
    $\theta$ of a tumour, the count is binomial; on the log-odds scale that is a logistic regression with
    only an intercept:

    $$m \sim \text{Binomial}(n, \theta), \qquad \log\frac{\theta}{1-\theta} = \beta .$$

    In R this is `glm(cbind(m, n - m) ~ 1, family = binomial)`. statsmodels' `GLM` (also available as
    `statsmodels.api.GLM`) fits the same model; we give it one row per rat (a binomial count is a sum of
    0/1 outcomes, and the likelihood is the same).
    """),
    code(r"""
    b42 = rats[rats["batch"] == "42"].iloc[0]
    tumour = np.repeat([1, 0], [b42["m"], b42["n"] - b42["m"]])          # 2 ones, 11 zeros
    glm42 = GLM(tumour, np.ones((len(tumour), 1)), family=Binomial()).fit()
    theta42 = expit(glm42.params[0])
    print(f"estimated tumour probability for batch 42: {theta42:.7f}")
    """),
    md(r"""
    The estimate is simply $2/13$: for one batch, the model adds nothing to the observed proportion.

    ## The flat model: one estimate per batch

    Giving every batch its own $\beta_j$ (R: `glm(cbind(m, n - m) ~ 0 + batch, family = binomial)`) is 71
    unrelated binomial models, and each estimate is again the observed proportion $m_j / n_j$:

    $$m_j \sim \text{Binomial}(n_j, \theta_j), \qquad \log\frac{\theta_j}{1-\theta_j} = \beta_j .$$
    """),
    code(r"""
    flat = (rats["m"] / rats["n"]).set_axis(rats["batch"])
    print(f"batches with no tumour at all: {(rats['m'] == 0).sum()}  (flat estimate 0, log-odds -infinity)")
    flat.describe().round(3)
    """),
    md(r"""
    Fourteen batches get an estimated tumour probability of exactly 0 — hard to believe when their
    neighbours have rates around 10–20%. And the flat model has nothing to say about batches in general:
    no average rate, no spread, no prediction for a 72nd batch.

    ## The multilevel model

    Model the batches' log-odds as draws from a normal population:

    $$
    \begin{aligned}
    m_j &\sim \text{Binomial}(n_j, \theta_j), & \log\frac{\theta_j}{1-\theta_j} &= \beta_j, \\
    \beta_j &\sim N(b, \tau^2)
    \quad\Longleftrightarrow\quad \beta_j = b + \xi_j,\ \ \xi_j \sim N(0, \tau^2).
    \end{aligned}
    $$

    The batches now inform one another through $b$ and $\tau$, which are estimated from all of them.

    | R (lme4) | Python (mlmkit) |
    |---|---|
    | `glmer(cbind(m, n - m) ~ 1 + (1 \| batch), data = rats_df, family = binomial(link = "logit"))` | `mk.glmer("cbind(m, n - m) ~ 1 + (1 \| batch)", rats, family="binomial")` |
    """),
    md(r"""
    The same model as a plate diagram (the source tutorial draws one for each model): shaded circles are
    observed, white ones are estimated, the diamond $\eta_i$ is computed from its parents (the linear
    predictor), and a plate repeats what it holds, once per observation $i$ or per group $j$. Arrows
    point from a quantity to what it helps generate. Here $\eta_j = b + \xi_j$ is the log-odds of batch $j$, and no $\sigma^2$ appears: a binomial count has no separate residual variance.
    """),
    code(r"""
    ax = plots.model_diagram("cbind(m, n - m) ~ 1 + (1 | batch)", family="binomial")
    """),
    code(r"""
    m_ml = mk.glmer("cbind(m, n - m) ~ 1 + (1 | batch)", rats, family="binomial")
    m_ml.summary()
    """),
    code(r"""
    b = m_ml.fixef["(Intercept)"]
    se_b = np.sqrt(m_ml.vcov.iloc[0, 0])
    """),
    md(r"""
    The batches' log-odds of a tumour are estimated to be normally distributed with mean −1.94 and
    standard deviation 0.66; on the probability scale the typical batch has a rate of
    $\text{logit}^{-1}(-1.94) \approx 0.126$.

    ## `ranef`, `fixef` and `coef`

    `ranef` holds each batch's predicted offset $\hat\xi_j$, `fixef` the population mean $\hat b$, and
    `coef` their sum, the batch's own log-odds $\hat\beta_j = \hat b + \hat\xi_j$ (R: `ranef(m)`,
    `fixef(m)`, `coef(m)`). Rows are labelled by batch; select them by label, as below.
    """),
    code(r"""
    xi = m_ml.ranef["batch"]["(Intercept)"]
    beta = m_ml.coef["batch"]["(Intercept)"]
    print("coef = fixef + ranef:", np.allclose(beta, b + xi))
    pd.DataFrame({"ranef": xi, "coef": beta}).loc[["1", "10", "12", "14"]]
    """),
    md(r"""
    (The tutorial prints these to seven digits; the table at the end compares them at four. A GLMM's
    optimum is found numerically — lme4's inner PIRLS iterations stop at a tolerance of $10^{-7}$ — and
    the predicted random effects inherit that tolerance, so their fifth and later digits differ between
    programs and versions.)

    ## Shrinkage

    Compare each batch's flat estimate $m_j/n_j$ with its multilevel estimate
    $\text{logit}^{-1}(\hat\beta_j)$. Point sizes show the number of rats.
    """),
    code(r"""
    theta_ml = expit(beta)
    fig, ax = plt.subplots(figsize=(4.5, 5))
    plots.shrinkage(flat, theta_ml, sizes=rats.set_index("batch")["n"], population=expit(b),
                    ylabel="probability of a tumour", ax=ax)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1), markerscale=0.6)
    ax.set_title("point area: number of rats (10 to 52)", fontsize=9)
    plt.show()
    """),
    md(r"""
    Every estimate moves towards the population value, the zeros most of all: a batch with 0 of 20 now
    gets about 7%, because a rate of exactly 0 is implausible given the other 70 batches. How far an
    estimate moves depends on how much data the batch has and how far it sits from the rest — small,
    extreme batches move most. This *partial pooling* lies between two extremes: no pooling (the flat
    model) and complete pooling (one rate for all batches).

    **Try it.** Give every batch ten times as many rats with the same rates —
    `rats10 = rats.assign(m=rats["m"] * 10, n=rats["n"] * 10)` — refit, and redraw the plot. With more
    data per batch, how much do the estimates still move?
    """),
    code(r"""
    table = pd.DataFrame({"m": rats["m"].to_numpy(), "n": rats["n"].to_numpy(), "flat": flat.to_numpy(),
                          "multilevel": theta_ml.reindex(rats["batch"]).to_numpy()}, index=rats["batch"])
    table.iloc[[0, 41, 70]].round(3)
    """),
    md(r"""
    **Explore (JupyterLab).** The simplest version of partial pooling is a normal model: group $j$ keeps
    the fraction $\lambda_j = \tau^2/(\tau^2 + \sigma^2/n_j)$ of its distance from the population value
    (lesson 5 derives it). Below it is applied to the batches on the probability scale, a normal
    approximation: $\sigma^2 = \bar\theta(1-\bar\theta)$ per rat and $\tau^2 = \sigma^4 \hat\tau^2_{\text{logit}}$.
    Move the sliders: a larger $\tau^2$ or more rats per batch means less shrinkage.
    """),
    code(r"""
    v = expit(b) * (1 - expit(b))          # binomial variance of one rat at the typical rate
    mk.explore.shrinkage(flat, rats.set_index("batch")["n"], tau2=v**2 * m_ml.varcorr["vcov"].iloc[0],
                         sigma2=v, mean=expit(b), ylabel="probability of a tumour")
    """),
    md(r"""
    ## Frequent question: z or t, and where do the p-values come from?

    The fixed-effects table of a GLMM has `z value` and `Pr(>|z|)`, that of an LMM `t value` and no p-value.
    In a binomial or Poisson model the variance follows from the mean — there is no residual variance to
    estimate — so lme4 uses the large-sample normal (Wald z) reference and prints its p-value. In an LMM
    the estimated residual variance adds uncertainty of unknown degrees of freedom (lesson 2).
    The z test here has a clear meaning: is the typical batch's log-odds different from 0, i.e. its
    tumour rate different from 50%? Unsurprisingly, yes.

    ## Frequent question: predictions with and without the random effects

    With a non-linear link the two kinds of prediction answer different questions.
    `m.predict(type="response")` gives each batch's own estimated rate; `re_form="~0"` gives
    $\text{logit}^{-1}(\hat b)$, the rate of a *typical* batch (the median batch). The *average* rate over
    the population of batches is higher, because the inverse logit is curved: it integrates over
    $\xi \sim N(0, \hat\tau^2)$. We compute that integral with Gauss–Hermite quadrature: a weighted sum
    of the integrand at 40 fixed nodes, exact for polynomials up to degree 79 and very accurate for a
    smooth function like this one (R: `statmod::gauss.quad.prob` or `integrate`).
    """),
    code(r"""
    new_batch = pd.DataFrame({"batch": ["a new batch"]})
    typical = m_ml.predict(new_batch, re_form="~0", type="response")[0]
    tau = m_ml.varcorr["sdcor"].iloc[0]
    nodes, weights = np.polynomial.hermite_e.hermegauss(40)         # integrate over N(0, 1)
    average = np.sum(weights * expit(b + tau * nodes)) / np.sum(weights)
    print(f"typical (median) batch: {typical:.4f}")
    print(f"average over batches:   {average:.4f}")
    print(f"observed overall rate:  {rats['m'].sum() / rats['n'].sum():.4f}")
    """),
    md(r"""
    Why is the observed overall rate (0.154) above the model's population average (0.143)? The two
    answer different questions. The population average is the rate of a batch *drawn at random from the
    population*, every batch counting once. The observed rate $\sum m_j / \sum n_j$ counts every *rat*
    once, so large batches weigh more — and in these data the larger batches tend to have higher rates:
    """),
    code(r"""
    fitted_rate = theta_ml.reindex(rats["batch"]).to_numpy()
    n = rats["n"].to_numpy()
    print(f"the 71 batches' estimated rates, each batch once:   {fitted_rate.mean():.4f}")
    print(f"the same, each batch weighted by its number of rats: {np.sum(fitted_rate * n) / n.sum():.4f}")
    print(f"correlation of batch size and estimated rate:        {np.corrcoef(n, fitted_rate)[0, 1]:.2f}")
    """),
    md(r"""
    Counting batches once, the 71 batches average 0.140, close to the population's 0.143; weighting them
    by size gives 0.150, close to the observed 0.154. So most of the gap is the weighting, and the rest is
    what one sample of 71 batches leaves to chance. Report the quantity that answers your question: a
    typical batch (0.126), a random batch on average (0.143), or a random rat (0.154).

    ## The Laplace approximation, and nAGQ

    A GLMM's likelihood is an integral over the random effects: for each batch,
    $\int \prod_i p(y_{ij} \mid \xi_j)\, \phi(\xi_j; 0, \tau^2)\, d\xi_j$, and for a binomial
    response it has no closed form. lme4 and mlmkit replace the integrand by the normal curve that
    matches it at its peak (the conditional mode $\hat\xi_j$) and its curvature there — the **Laplace
    approximation** — and integrate that exactly. It is very good when each cluster carries much
    information (many trials, counts far from 0), and degrades for binary outcomes, small clusters and
    large $\tau$, where the integrand is skewed; the usual symptom is a variance estimated too small.

    With a single scalar random effect (one `(1 | g)` term) lme4 can do better: **adaptive Gauss–Hermite
    quadrature** with `nAGQ` nodes per cluster, placed around each cluster's mode. `nAGQ = 1` *is* the
    Laplace approximation; more nodes make the integral more exact. In R:
    `glmer(..., nAGQ = 10)`; in mlmkit the same argument:
    """),
    code(r"""
    rows = {}
    for q in (1, 5, 10, 25):
        fit = mk.glmer("cbind(m, n - m) ~ 1 + (1 | batch)", rats, family="binomial", nAGQ=q)
        rows[f"nAGQ = {q}"] = [fit.fixef["(Intercept)"], fit.varcorr["sdcor"].iloc[0], np.sqrt(fit.vcov.iloc[0, 0])]
    pd.DataFrame(rows, index=["b", "tau", "SE of b"]).T.round(3)
    """),
    md(r"""
    The Laplace fit (nAGQ = 1) gives $\hat\tau = 0.665$; quadrature gives 0.674 from 5 nodes on:
    the Laplace approximation understated the spread between batches by about 1.4%, a small error
    because every batch has at least 10 rats. With 0/1 outcomes and clusters of 2 or 3 the difference can
    be many times larger, and quadrature (or a Bayesian fit) is the safer choice. One caution: lme4 and
    mlmkit report a log-likelihood for nAGQ > 1 that is not on the Laplace fit's scale, so compare
    log-likelihoods and AIC only between fits with the same nAGQ.

    **Self-check.** Which of these data sets most needs nAGQ > 1 rather than the Laplace approximation:
    (a) counts of about 50 per hospital for 200 hospitals, (b) one yes/no answer from each of 2 twins in 300
    families, (c) a normal response in 20 schools of 30?
    """),
    code(r"""
    answer = ...          # "a", "b" or "c"
    mk.checks.self_check(answer, "b", "Binary outcomes in clusters of 2 carry little information per cluster, "
                         "so the integrand is far from normal and the Laplace approximation is at its worst.",
                         options=["a", "b", "c"],
                         wrong={"a": "Counts of about 50 give a nearly normal integrand: Laplace is accurate there.",
                                "c": "A normal response needs no approximation: lmer's likelihood is exact."})
    """),
    md(r"""
    ## Why not statsmodels here?

    statsmodels' `MixedLM` is for normal responses only. Its binomial mixed model
    (`BinomialBayesMixedGLM`) is Bayesian — fitted by a variational or a Laplace-type posterior
    approximation with its own priors — so its numbers are not maximum-likelihood estimates and cannot
    match lme4's; that is why this lesson compares with the source tutorial only. mlmkit's `glmer` uses
    lme4's method: the Laplace approximation to the likelihood (or quadrature, above), maximised over the
    variance and the fixed effects together.

    ## Our numbers against the tutorial's

    The batch effects are compared at 4 decimals (see above).
    """),
    code(r"""
    rows = [("theta for batch 42", theta42, "0.1538462"),
            ("AIC", m_ml.aic, "319.9"), ("BIC", m_ml.bic, "324.4"), ("log-likelihood", m_ml.loglik, "-157.9"),
            ("deviance", -2 * m_ml.loglik, "315.9"), ("batch variance", m_ml.varcorr["vcov"].iloc[0], "0.4417"),
            ("batch sd (tau)", m_ml.varcorr["sdcor"].iloc[0], "0.6646"), ("b", b, "-1.9369"),
            ("its standard error", se_b, "0.1211")]
    for label, p_xi, p_beta in [("1", "-0.6298720", "-2.566785"), ("10", "-0.6096908", "-2.546604"),
                                ("12", "-0.5888596", "-2.525773"), ("14", "-0.5673326", "-2.504246")]:
        rows += [(f"ranef, batch {label}", xi[label], p_xi, None, 4), (f"coef, batch {label}", beta[label], p_beta, None, 4)]
    mk.checks.tutorial_table(rows)
    """),
    md(r"""

    ## Exercise

    **Exercise `lesson04_rats`:** the flat and multilevel estimates yourself, the typical batch's tumour
    probability, and which batch the shrinkage plot moves most — and why.

    **Next:** [Lesson 5 — alcohol consumption by country](05_alcohol.ipynb).
    """),
]
