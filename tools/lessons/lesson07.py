"""Lesson 7: imm10 — random intercepts and slopes, formula pitfalls, and a logistic GLMM."""
from tools.lessons import code, md

SLUG = "imm10"

CELLS = [
    md(r"""
    # Lesson 7 — School achievement (imm10): formula pitfalls and a logistic GLMM

    **Learning objectives.** After this lesson you can

    1. write random-intercept and random-slope models in Raudenbush & Bryk's $\gamma$ notation and as
       lme4 formulas;
    2. avoid the implicit-intercept trap: `(homework | schid)` still has a random intercept;
    3. fit a random slope with a fixed intercept (`0 +`) and uncorrelated random effects;
    4. fit a logistic multilevel model with `mk.glmer` and recognise a singular fit in it;
    5. choose between REML and ML, and compare models with likelihood-ratio tests.

    Source: a Seton Hall University review of multilevel models in R, built on the UCLA IDRE `imm10`
    data.
    """),
    code(r"""
    import warnings

    import numpy as np
    import pandas as pd
    import matplotlib.pyplot as plt
    import statsmodels.formula.api as smf

    import mlmkit as mk
    from mlmkit import plots

    pd.set_option("display.precision", 4)


    def se(m):
        return np.sqrt(np.diag(m.vcov))
    """),
    md(r"""
    ## The data

    260 eighth-graders in 10 schools from the US National Education Longitudinal Study of 1988 (a
    teaching extract prepared by UCLA's IDRE). We use `math` (a maths score), `homework` (hours of maths
    homework per week), `white` (1 if the student is white) and the school identifier `schid`.
    """),
    code(r"""
    imm = mk.datasets.load("imm10")
    print(list(imm.columns))                      # R: names(mlmdata) or str(mlmdata)
    """),
    md(r"""
    Before any model, look at the variables you will use: their ranges, and how the pupils spread over
    the schools (R: `summary(mlmdata)`, `table(mlmdata$schid)`).
    """),
    code(r"""
    imm[["math", "homework", "white"]].describe().round(2)
    """),
    code(r"""
    imm.groupby("schid").agg(pupils=("math", "size"), mean_math=("math", "mean"),
                             homework_min=("homework", "min"), homework_max=("homework", "max")).round(1)
    """),
    md(r"""
    Maths scores run from about 30 to 70; homework from 0 to 7 hours, but in most schools only up to 4
    or 5, and in one school only up to 2. School sizes range from 20 to 67 pupils. Keep the homework
    ranges in mind: a school's fitted line says nothing outside the hours its pupils actually reported.
    """),
    md(r"""
    ## Random intercepts

    $$
    \begin{aligned}
    \text{math}_{ij} &= \beta_{0j} + \beta_1\, \text{homework}_{ij} + \varepsilon_{ij}, \\
    \beta_{0j} &= \gamma_{00} + u_{0j}, \qquad \beta_1 = \gamma_{10}, \\
    \text{combined:}\quad \text{math}_{ij} &= \gamma_{00} + \gamma_{10}\, \text{homework}_{ij} + u_{0j} + \varepsilon_{ij}.
    \end{aligned}
    $$

    Schools differ in their average level; homework has the same effect everywhere.

    | R (lme4) | Python (mlmkit) |
    |---|---|
    | `lmer(math ~ homework + (1 \| schid), data = mlmdata)` | `mk.lmer("math ~ homework + (1 \| schid)", imm)` |
    """),
    code(r"""
    m_int = mk.lmer("math ~ homework + (1 | schid)", imm)
    m_int.summary()
    """),
    md(r"""
    In Raudenbush & Bryk's notation $\tau_{00} = \operatorname{Var}(u_{0j})$ is a **variance**: here
    $\hat\tau_{00} = 25.22$ (the `Variance` column), and $\sigma^2 = 64.52$ the residual variance. The
    source tutorial slips here: it calls $\tau_{00}$ the standard deviation of $u_{0j}$ and reads 5.02 from
    the `Std.Dev.` column — that is $\sqrt{\tau_{00}}$. One more hour of homework goes with 2.2 more
    points.

    ### Frequent question: REML or ML — and why does Stata give other numbers?

    lme4 and mlmkit fit by REML unless told otherwise; Stata's `mixed` uses ML by default. With
    `REML=False` the numbers match Stata's and statsmodels' `reml=False`:
    """),
    code(r"""
    m_int_ml = mk.lmer("math ~ homework + (1 | schid)", imm, REML=False)
    sm_int_ml = smf.mixedlm("math ~ homework", imm, groups="schid").fit(reml=False)
    pd.DataFrame({
        "mlmkit REML": [*m_int.fixef, m_int.varcorr["vcov"].iloc[0], m_int.sigma**2],
        "mlmkit ML": [*m_int_ml.fixef, m_int_ml.varcorr["vcov"].iloc[0], m_int_ml.sigma**2],
        "statsmodels ML": [*sm_int_ml.fe_params, sm_int_ml.cov_re.iloc[0, 0], sm_int_ml.scale],
    }, index=["gamma00", "gamma10", "school variance", "residual variance"]).round(3)
    """),
    md(r"""
    With only 10 schools the school variance differs noticeably (25.2 vs 22.5): ML ignores that two fixed
    effects were estimated from the same data. Prefer REML for reporting variances; use ML (or let
    `mk.anova` refit) when comparing models that differ in their fixed effects.

    ## Random slopes

    Now the effect of homework may differ between schools:

    $$\beta_{1j} = \gamma_{10} + u_{1j}, \qquad
      \text{math}_{ij} = \gamma_{00} + \gamma_{10}\, \text{homework}_{ij} + u_{0j} + u_{1j}\, \text{homework}_{ij} + \varepsilon_{ij}.$$
    """),
    code(r"""
    m_slope = mk.lmer("math ~ homework + (1 + homework | schid)", imm)
    vc = m_slope.varcorr
    m_slope.summary()
    """),
    md(r"""
    The homework effect varies a lot between schools: its variance is $\hat\tau_{11} = 22.45$, a standard
    deviation of $\sqrt{\tau_{11}} = 4.74$ points per hour around an average of 2.04. Schools with a high
    intercept tend to have a flatter slope: the covariance is $\hat\tau_{01} = -31.76$, a correlation of
    $\tau_{01} / \sqrt{\tau_{00}\tau_{11}} = -0.81$. (The source calls $\tau_{11}$ the standard deviation
    of $u_{1j}$ and $\tau_{01}$ the correlation; in Raudenbush & Bryk's notation they are the variance and
    the covariance.) The average effect's standard error quadruples (0.38 → 1.55): once slopes may
    differ, the evidence about the *average* slope comes from 10 schools, not 260 students.
    """),
    md(r"""
    Each school's line, drawn only over the homework hours its own pupils reported:
    """),
    code(r"""
    def school_lines(m, ax, title):
        co = m.coef["schid"]
        ax.scatter(imm["homework"], imm["math"], s=8, color="0.75")
        for school, (lo, hi) in imm.groupby("schid")["homework"].agg(["min", "max"]).iterrows():
            a, b = co.loc[school, "(Intercept)"], co.loc[school, "homework"]
            ax.plot([lo, hi], [a + b * lo, a + b * hi], color="tab:green" if b > 0 else "tab:purple", lw=1.3)
        a, b = m.fixef["(Intercept)"], m.fixef["homework"]
        ax.plot([0, 7], [a, a + 7 * b], color="black", lw=2.2, label="population line (fixed effects)")
        ax.set_xlabel("homework (hours per week)")
        ax.set_title(title, fontsize=10)

    fig, ax = plt.subplots(figsize=(5, 3.8))
    school_lines(m_slope, ax, "each school's own homework effect")
    ax.set_ylabel("maths score")
    ax.legend(fontsize=8, loc="lower right")
    plt.show()
    print("schools with a positive slope:", int((m_slope.coef["schid"]["homework"] > 0).sum()),
          "| negative:", int((m_slope.coef["schid"]["homework"] < 0).sum()))
    """),
    md(r"""
    Six schools have positive slopes (green, 1.3 to 7.6 points per hour) and four negative ones
    (purple, −1.8 to −3.8). The four negative slopes belong to schools with high intercepts (49 to 53
    points at 0 hours), the positive ones mostly to schools with low intercepts (35 to 39), with one
    exception (school 62821: intercept 58, slope 1.3). That is the −0.81 correlation at work: where pupils
    who report no homework already score high, more homework goes with no gain or a small loss. One of them reaches only 2 hours, so its slope rests on a short range. With 10
    schools we cannot tell whether this split is a real difference between schools or partly noise —
    the average slope, 2.04 with a standard error of 1.55, is itself not clearly above 0. Averages hide
    such heterogeneity; the random slope reveals it.

    **Try it.** The intercept–slope correlation refers to homework = 0. Centre homework
    (`imm.assign(hw_c=imm["homework"] - imm["homework"].mean())`) and refit with `(1 + hw_c | schid)`:
    the slope variance stays, but the intercept variance and the correlation change, because the
    intercept is now each school's level at the average amount of homework.
    """),
    code(r"""
    sm_slope = smf.mixedlm("math ~ homework", imm, groups="schid", re_formula="~homework").fit(reml=True)
    cov = sm_slope.cov_re.to_numpy()
    pd.DataFrame({
        "mlmkit": [*m_slope.fixef, vc["vcov"].iloc[0], vc["vcov"].iloc[1], vc["sdcor"].iloc[2], m_slope.sigma**2],
        "statsmodels": [*sm_slope.fe_params, cov[0, 0], cov[1, 1], cov[0, 1] / np.sqrt(cov[0, 0] * cov[1, 1]),
                        sm_slope.scale],
    }, index=["gamma00", "gamma10", "tau00 (variance)", "tau11 (variance)", "correlation", "sigma^2"]).round(3)
    """),
    md(r"""
    ## The implicit-intercept trap

    Suppose you want a random slope *without* a random intercept and write `(homework | schid)`. In R's
    formula language an intercept is included unless removed, inside the random term as well as outside
    it — so this is the same model as before:
    """),
    code(r"""
    m_trap = mk.lmer("math ~ homework + (homework | schid)", imm)
    same = np.allclose(m_trap.varcorr["vcov"], m_slope.varcorr["vcov"]) and np.allclose(m_trap.fixef, m_slope.fixef)
    print("identical to (1 + homework | schid):", same)
    m_trap.varcorr
    """),
    md(r"""
    The random intercept is still there (the `(Intercept)` row). To drop it, remove the intercept
    explicitly with `0 +` (or `- 1`):

    $$\beta_{0j} = \gamma_{00}, \qquad \beta_{1j} = \gamma_{10} + u_{1j}.$$
    """),
    code(r"""
    m_noint = mk.lmer("math ~ homework + (0 + homework | schid)", imm)
    m_noint.varcorr
    """),
    code(r"""
    sm_noint = smf.mixedlm("math ~ homework", imm, groups="schid", re_formula="0 + homework").fit(reml=True)
    print(f"statsmodels: slope variance {sm_noint.cov_re.iloc[0, 0]:.3f}, residual variance {sm_noint.scale:.3f}")
    """),
    code(r"""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5), sharey=True)
    school_lines(m_slope, axes[0], "(1 + homework | schid)")
    school_lines(m_noint, axes[1], "(0 + homework | schid): one start")
    axes[0].set_ylabel("maths score")
    axes[0].legend(fontsize=8, loc="lower right")
    plt.show()
    """),
    md(r"""
    ## Uncorrelated random intercepts and slopes

    Putting the intercept and the slope in separate terms fixes their correlation at 0. lme4 offers the
    shorthand `(homework || schid)` for `(1 | schid) + (0 + homework | schid)`.
    """),
    code(r"""
    m_uncor = mk.lmer("math ~ homework + (1 | schid) + (0 + homework | schid)", imm)
    m_uncor2 = mk.lmer("math ~ homework + (homework || schid)", imm)
    print("|| gives the same fit:", np.allclose(m_uncor2.varcorr["vcov"], m_uncor.varcorr["vcov"]))
    """),
    md(r"""
    ### Frequent question: which random-effects structure?

    The four fits above differ only in their random part and share their fixed effects, so their REML
    likelihoods can be compared directly (`refit=False`); `mk.anova` by default refits with ML, as lme4
    does, which is valid too. ML is *required* only when the fixed effects differ (lesson 1).
    """),
    code(r"""
    mk.anova(m_int, m_uncor, m_slope, refit=False)
    """),
    md(r"""
    The random slope improves the fit enormously, and the correlation improves it further. The first
    test sets the slope variance to 0, on the boundary of its range, so its $\chi^2_1$ p-value is
    conservative; the correct 50:50 $\chi^2_0$/$\chi^2_1$ mixture halves it (lesson 2) — here it is tiny
    either way. The second test, of the correlation, needs no correction. And with only 10 schools, all
    these large-sample p-values are rough (lesson 2's simulation); a parametric bootstrap is the careful
    check.

    ## A logistic multilevel model

    `white` is 0/1. A logistic GLMM models the log-odds of being white with a random intercept and slope
    over schools:

    $$\log\frac{P(\text{white}_{ij} = 1)}{1 - P(\text{white}_{ij} = 1)} = \gamma_{00} + \gamma_{10}\, \text{homework}_{ij} + u_{0j} + u_{1j}\, \text{homework}_{ij}.$$

    | R (lme4) | Python (mlmkit) |
    |---|---|
    | `glmer(white ~ homework + (1 + homework \| schid), data = mlmdata, family = binomial(link = "logit"))` | `mk.glmer("white ~ homework + (1 + homework \| schid)", imm, family="binomial")` |

    This fit lands on the boundary, and mlmkit warns as lme4 does. We catch the warning to print it
    tidily:
    """),
    code(r"""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m_logit = mk.glmer("white ~ homework + (1 + homework | schid)", imm, family="binomial")
    for w in caught:
        print(f"{w.category.__name__}: {w.message}")
    print(f"AIC {m_logit.aic:.1f}, BIC {m_logit.bic:.1f}, logLik {m_logit.loglik:.1f}; is_singular: {m_logit.is_singular}")
    mk.VarCorr.from_result(m_logit, digits=3)
    """),
    md(r"""
    On this flat, singular optimum the estimates are determined to fewer digits than lme4 prints (see
    below), so we show the fixed effects to three decimals:
    """),
    code(r"""
    pd.DataFrame({"Estimate": m_logit.fixef, "Std. Error": se(m_logit)}).round(3)
    """),
    md(r"""
    ### Frequent question: what does a singular fit mean here?

    The estimated correlation between the schools' intercepts and slopes is exactly −1: the two random
    effects have collapsed onto a line, and the slope's standard deviation (0.22) is tiny. With 10 schools
    and a binary outcome, the data cannot support a random slope and a correlation. The fixed effects are
    still maximum-likelihood estimates, but the likelihood is nearly flat along the boundary, so the
    optimum is not pinned down to the digits lme4 prints: lme4 1.1-31 gives 1.67365 for $\gamma_{00}$,
    the tutorial's version printed 1.67362, mlmkit finds 1.6739 — and its standard error is uncertain
    in the third digit (lme4 1.1-31 prints 1.47324, mlmkit computes 1.4746, and the fifth digit of
    mlmkit's moves with the computer's arithmetic). A simpler model is the honest choice:
    """),
    code(r"""
    m_logit_int = mk.glmer("white ~ homework + (1 | schid)", imm, family="binomial")
    mk.anova(m_logit_int, m_logit)
    """),
    md(r"""
    The random slope does not improve the fit: keep the random-intercept model. Unlike the linear
    models, the GLMM's table shows z values and p-values (lesson 4 explains why). statsmodels has no
    maximum-likelihood logistic mixed model to compare with.

    ## Exercise

    ## Our numbers against the tutorial's
    """),
    code(r"""
    flat_fit = ("imm10's logistic fit is singular and its likelihood flat near the optimum, so the estimate is not "
                "pinned to these digits (lme4 1.1-31: 1.67365 and 0.04508)")
    mk.checks.tutorial_table([
        ("intercepts: REML criterion", m_int.reml_criterion, "1839.9"),
        ("intercepts: school variance", m_int.varcorr["vcov"].iloc[0], "25.22"),
        ("intercepts: residual variance", m_int.varcorr["vcov"].iloc[1], "64.52"),
        ("intercepts: gamma00", m_int.fixef["(Intercept)"], "44.982"),
        ("intercepts: gamma10", m_int.fixef["homework"], "2.207"),
        ("intercepts: SE of gamma10", se(m_int)[1], "0.379"),
        ("slopes: REML criterion", m_slope.reml_criterion, "1764"),
        ("slopes: intercept variance", vc["vcov"].iloc[0], "69.30",
         "69.3054 lies near the rounding boundary 69.305; lme4 1.1-31 also gives 69.306 (a last-digit optimiser difference, lesson 5's appendix)"),
        ("slopes: slope variance", vc["vcov"].iloc[1], "22.45"),
        ("slopes: correlation", vc["sdcor"].iloc[2], "-0.81"),
        ("slopes: residual variance", vc["vcov"].iloc[3], "43.07"),
        ("slopes: gamma10", m_slope.fixef["homework"], "2.040"),
        ("slopes: SE of gamma10", se(m_slope)[1], "1.554"),
        ("slope only: REML criterion", m_noint.reml_criterion, "1849.1"),
        ("slope only: slope variance", m_noint.varcorr["vcov"].iloc[0], "5.249"),
        ("slope only: residual variance", m_noint.varcorr["vcov"].iloc[1], "67.316"),
        ("slope only: gamma00", m_noint.fixef["(Intercept)"], "46.0301"),
        ("slope only: gamma10", m_noint.fixef["homework"], "1.6352"),
        ("uncorrelated: REML criterion", m_uncor.reml_criterion, "1772.7"),
        ("uncorrelated: intercept variance", m_uncor.varcorr["vcov"].iloc[0], "63.35"),
        ("uncorrelated: slope variance", m_uncor.varcorr["vcov"].iloc[1], "20.03"),
        ("uncorrelated: residual variance", m_uncor.varcorr["vcov"].iloc[2], "43.27"),
        ("uncorrelated: gamma10", m_uncor.fixef["homework"], "2.016"),
        ("logistic: AIC", m_logit.aic, "182.4"),
        ("logistic: BIC", m_logit.bic, "200.2"),
        ("logistic: log-likelihood", m_logit.loglik, "-86.2"),
        ("logistic: gamma00", m_logit.fixef["(Intercept)"], "1.67362", flat_fit, 3),
        ("logistic: gamma10", m_logit.fixef["homework"], "0.04508", flat_fit, 3),
        ("logistic: correlation", m_logit.varcorr["sdcor"].iloc[2], "-1.00"),
    ])
    """),
    md(r"""
    ## Exercise

    **Exercise `lesson07_imm23`:** this lesson's models on the 23-school data — the ICC, the
    `(homework | schid)` trap, and a likelihood-ratio test for the random slope.

    **Next:** [Lesson 8 — three-level nested and crossed designs](08_nested_crossed.ipynb).
    """),
]
