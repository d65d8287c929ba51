"""Lesson 8 (beyond the sources): three-level nested designs and crossed designs."""
from tools.lessons import code, md

SLUG = "nested_crossed"

CELLS = [
    md(r"""
    # Lesson 8 — Beyond the sources: nested and crossed random effects

    The source tutorials stop at two levels. Real designs often have more grouping factors, and how
    they relate to one another decides the formula.

    **Learning objectives.** After this lesson you can

    1. tell *nested* factors (every class belongs to one school) from *crossed* ones (every rater scores
       every essay);
    2. write both in lme4's formula language — `(1 | school/class)` and `(1 | rater) + (1 | essay)` — and
       read lme4's names for the groups;
    3. avoid the most common nesting mistake: class labels that repeat across schools;
    4. split the variance over three levels and compute the ICCs;
    5. recognise when an upper level has too few units to estimate its variance (imm23).
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
    This lesson has no source tutorial to hold its numbers against. Instead, the table at its end compares
    them with what R's lme4 (version 1.1-31) gives for the same data — the simulated data were written to
    a file and refitted in R when the lesson was written.
    """),
    md(r"""
    ## A three-level nested design

    Pupils $i$ in classrooms $j$ in schools $k$. Each level gets its own random intercept:

    $$
    y_{ijk} = \gamma_{000} + \gamma_{100}\, x_{ijk} + \gamma_{001}\, w_k + v_{k} + u_{jk} + e_{ijk},
    \qquad v_k \sim N(0, \tau^2_{\text{school}}),\ u_{jk} \sim N(0, \tau^2_{\text{class}}),\
    e_{ijk} \sim N(0, \sigma^2),
    $$

    with a pupil-level predictor $x$ and a school-level predictor $w$. `mk.simulate.multilevel` draws
    such data: 30 schools with 4 classrooms of 15 pupils each. It numbers classrooms 1–120 across
    schools (so a classroom number identifies a classroom) and keeps the truth in `df.attrs["truth"]`.
    """),
    code(r"""
    sim = mk.simulate.multilevel(
        n_clusters=4, cluster_size=15, n_upper=30,
        fixed={"(Intercept)": 50.0, "x1": 2.0, "w1": 3.0},
        re_cov=4.0, upper_cov=9.0, sigma2=25.0, seed=2024,
    )
    schools = sim.rename(columns={"upper": "school", "cluster": "classroom"})
    schools.head(3)
    """),
    md(r"""
    | R (lme4) | Python (mlmkit) |
    |---|---|
    | `lmer(y ~ x1 + w1 + (1 \| school/classroom), data = schools)` | `mk.lmer("y ~ x1 + w1 + (1 \| school/classroom)", schools)` |

    `(1 | school/classroom)` expands to `(1 | school) + (1 | school:classroom)`: a random intercept for
    every school and one for every classroom *within* a school. lme4 calls the inner factor
    `classroom:school` and, having more levels, lists it first.
    """),
    code(r"""
    m3 = mk.lmer("y ~ x1 + w1 + (1 | school/classroom)", schools)
    m3.summary()
    """),
    code(r"""
    vc = m3.varcorr.set_index("grp")["vcov"]
    """),
    md(r"""
    Against the truth the simulation used:
    """),
    code(r"""
    truth = schools.attrs["truth"]
    pd.DataFrame({
        "truth": [truth.fixed["(Intercept)"], truth.fixed["x1"], truth.fixed["w1"],
                  truth.upper_cov[0, 0], truth.re_cov[0, 0], truth.sigma2],
        "estimate": [*m3.fixef, vc["school"], vc["classroom:school"], vc["Residual"]],
    }, index=["gamma000", "x1 (pupil)", "w1 (school)", "tau2 school", "tau2 class", "sigma2"])
    """),
    md(r"""
    With three levels there are two ICCs. `m.icc()` gives each factor's share of the total variance:
    the correlation of two pupils of the same school but different classes is the school share; two
    pupils of the same class share both.
    """),
    code(r"""
    icc = m3.icc()
    print(f"same school, different class: {icc['school']:.3f}")
    print(f"same class:                    {icc.sum():.3f}")
    """),
    md(r"""
    statsmodels expresses the nested model with one grouping factor (school) plus a variance component
    for the classrooms inside each school:
    """),
    code(r"""
    sm3 = smf.mixedlm("y ~ x1 + w1", schools, groups="school", re_formula="1",
                      vc_formula={"classroom": "0 + C(classroom)"}).fit(reml=True)
    pd.DataFrame({
        "mlmkit": [vc["school"], vc["classroom:school"], vc["Residual"]],
        "statsmodels": [sm3.cov_re.iloc[0, 0], sm3.vcomp[0], sm3.scale],
    }, index=["tau2 school", "tau2 class", "sigma2"]).round(3)
    """),
    md(r"""
    ## Frequent question: nested or crossed — does the labelling matter?

    Many data sets number classes *within* each school: class 1, 2, 3, 4 in every school. Then the label
    `1` means 30 different classes.
    """),
    code(r"""
    schools["class_in_school"] = schools.groupby("school")["classroom"].rank(method="dense").astype(int)
    schools[["school", "classroom", "class_in_school"]].drop_duplicates().head(6)
    """),
    md(r"""
    With such labels, `(1 | school) + (1 | class_in_school)` declares a factor with only 4 levels that
    is *crossed* with school — "class 1" of every school is treated as one and the same class:
    """),
    code(r"""
    wrong = mk.lmer("y ~ x1 + w1 + (1 | school) + (1 | class_in_school)", schools)
    right = mk.lmer("y ~ x1 + w1 + (1 | school/class_in_school)", schools)
    v_wrong, v_right = (fit.varcorr.set_index("grp")["vcov"] for fit in (wrong, right))
    pd.DataFrame({
        "wrong (crossed)": [v_wrong["school"], v_wrong["class_in_school"], v_wrong["Residual"]],
        "right (nested)": [v_right["school"], v_right["class_in_school:school"], v_right["Residual"]],
    }, index=["tau2 school", "tau2 class", "sigma2"]).round(3)
    """),
    code(r"""
    print("wrong:", list(wrong.ngroups.items()))
    print("right:", list(right.ngroups.items()))
    """),
    md(r"""
    The wrong model finds almost no classroom variance and pushes it into the residual. The `/` form
    builds the combination `class_in_school:school`, with 120 levels, and gives the same fit as unique
    classroom ids. Rule of thumb: check `m.ngroups` — it should count the units you have in mind.

    ## A crossed design

    Ten raters each score the same 20 essays. Neither factor is inside the other: every rater meets
    every essay, and a score is shifted both by its essay's quality and by its rater's severity,

    $$y_{re} = \mu + a_r + b_e + \varepsilon_{re}, \qquad a_r \sim N(0, \tau^2_a),\ b_e \sim N(0, \tau^2_b).$$

    We draw the data with the R-compatible generator, so R's `set.seed(2024)` followed by the same three
    `rnorm` calls gives the same scores:
    """),
    code(r"""
    stream = mk.rng.RRandom(2024)
    n_raters, n_essays = 10, 20
    severity = stream.rnorm(n_raters, 0, 1.0)           # tau_a = 1
    quality = stream.rnorm(n_essays, 0, 2.0)            # tau_b = 2
    noise = stream.rnorm(n_raters * n_essays, 0, 1.5)   # sigma = 1.5
    ratings = pd.DataFrame({"rater": np.repeat(np.arange(1, n_raters + 1), n_essays),
                            "essay": np.tile(np.arange(1, n_essays + 1), n_raters)})
    ratings["score"] = 10 + severity[ratings["rater"] - 1] + quality[ratings["essay"] - 1] + noise
    ratings.head(3)
    """),
    md(r"""
    | R (lme4) | Python (mlmkit) |
    |---|---|
    | `lmer(score ~ 1 + (1 \| rater) + (1 \| essay), data = ratings)` | `mk.lmer("score ~ 1 + (1 \| rater) + (1 \| essay)", ratings)` |

    Two separate terms, neither inside the other. (With unique labels, `(1 | school) + (1 | classroom)`
    written the same way fits the nested model above too: nesting is a property of the labels, and `/`
    only saves you from building `school:classroom` yourself.)
    """),
    code(r"""
    m_x = mk.lmer("score ~ 1 + (1 | rater) + (1 | essay)", ratings)
    vx = m_x.varcorr.set_index("grp")["vcov"]
    m_x.varcorr
    """),
    md(r"""
    statsmodels can fit crossed factors only with a trick (one group holding all rows, each factor a
    variance component); it scales badly, and the appendix at the end shows it.
    """),
    md(r"""
    Each essay's predicted quality, with the intervals of its conditional distribution:
    """),
    code(r"""
    ax = plots.caterpillar(m_x, "essay")
    ax.set_xlabel("essay effect (score points)")
    ax.set_title("predicted essay effects with 95% conditional intervals", fontsize=9)
    plt.show()
    """),
    md(r"""
    ## Real data: imm23, with schools in regions

    The 23-school version of the NELS data (imm23) records each school's region. Pupils are nested in
    schools and schools in regions — a three-level structure in real data:
    """),
    code(r"""
    imm23 = mk.datasets.load("imm23")
    print(imm23.groupby("region")["schid"].nunique().rename("schools per region").to_string())
    """),
    code(r"""
    m_reg = mk.lmer("math ~ homework + (1 | region/schid)", imm23.assign(region=imm23["region"].astype(str)))
    vr = m_reg.varcorr.set_index("grp")["vcov"]
    m_reg.varcorr
    """),
    md(r"""
    The model runs, but a variance estimated from **three** regions is little more than a guess — it
    rests on three region means, and a standard deviation estimated from three numbers can be anything
    from near 0 to several times its value. With so few upper-level units, model them as fixed effects
    instead (`C(region)` in the fixed part) and keep the random intercept for the 23
    schools:
    """),
    code(r"""
    m_fix = mk.lmer("math ~ homework + C(region) + (1 | schid)", imm23)
    m_fix.fixef.round(3)
    """),
    md(r"""
    A common guideline asks for at least 5–10 units before treating a factor as random; below that,
    random-effect variances are unstable and often estimated as exactly 0 (a singular fit).

    ## Our numbers against lme4's
    """),
    code(r"""
    mk.checks.tutorial_table([
        ("nested: classroom variance", vc["classroom:school"], "3.504"),
        ("nested: school variance", vc["school"], "7.826"),
        ("nested: residual variance", vc["Residual"], "23.651"),
        ("nested: w1 (school level)", m3.fixef["w1"], "2.53538"),
        ("crossed: first score", ratings["score"].iloc[0], "5.478428895"),
        ("crossed: essay variance", vx["essay"], "6.0469"),
        ("crossed: rater variance", vx["rater"], "0.6257"),
        ("crossed: residual variance", vx["Residual"], "2.1499"),
        ("imm23: school variance", vr["schid:region"], "16.86"),
        ("imm23: region variance", vr["region"], "6.6775"),
        ("imm23: region 3 vs region 1", m_fix.fixef["C(region)3"], "-5.568"),
    ], source="lme4 1.1-31")
    """),
    md(r"""
    ## Exercise

    This lesson has no graded exercise. Try on your own: simulate a design with 10 schools instead of 30
    and see how the school variance behaves; renumber `classroom` within schools and repair the formula;
    and fit imm23's schools with `(1 | schid)` only, as in the exercise `lesson07_imm23`, to see which
    variance the regions take away.

    **Next:** [Lesson 9 — how many clusters do I need?](09_power.ipynb)

    ## Appendix: crossed factors in statsmodels

    statsmodels' `MixedLM` has one grouping factor. For crossed factors, make a single group that holds
    every row and declare each factor a variance component; the estimates come back in `vcomp`, in the
    order of the model's `exog_vc.names`:
    """),
    code(r"""
    sm_x = smf.mixedlm("score ~ 1", ratings.assign(all_rows=1), groups="all_rows", re_formula="0",
                       vc_formula={"rater": "0 + C(rater)", "essay": "0 + C(essay)"}).fit(reml=True)
    sm_vc = dict(zip(sm_x.model.exog_vc.names, sm_x.vcomp))
    pd.DataFrame({
        "mlmkit": [vx["rater"], vx["essay"], vx["Residual"]],
        "statsmodels": [sm_vc["rater"], sm_vc["essay"], sm_x.scale],
    }, index=["tau2 rater", "tau2 essay", "sigma2"]).round(3)
    """),
]
