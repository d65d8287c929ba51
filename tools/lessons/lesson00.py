"""Lesson 0: welcome, how the course works, notation."""
from tools.lessons import code, md

SLUG = "welcome"

CELLS = [
    md(r"""
    # Lesson 0 — Welcome to multilevel models with mlmkit

    Data often come in groups: pupils in schools, repeated measurements on the same person, rats in
    laboratory batches, years within countries. Observations in the same group resemble each other
    more than observations from different groups, and a *multilevel model* (also called a mixed-effects,
    hierarchical or random-effects model) says so explicitly: it has a regression model for each group
    *and* a model for how those regressions vary across groups.

    This course teaches these models in Python with **mlmkit**, whose `lmer` and `glmer` reproduce
    R's lme4 to the digits it prints. Every lesson holds its numbers against a published R tutorial, so
    you can read the R original side by side with the Python version.

    **In this lesson you will**

    * learn how lessons and exercises are organised and how to run them in JupyterLab;
    * fit a first model and find your way around its result;
    * meet the notation and the formula language used in the rest of the course.
    """),
    md(r"""
    ## How to use these notebooks

    * Run a cell with **Shift + Enter**. Run a whole lesson from the top with
      *Kernel → Restart Kernel and Run All Cells*; every lesson is self-contained.
    * Lessons are in `notebooks/`, numbered in the order to take them. Each one states its objectives,
      writes the model as equations and as a formula, shows the R call beside the Python call, and ends
      with a pointer to an exercise notebook in `exercises/`.
    * Near the end of lessons 1–8 a table sets the lesson's numbers beside those the source tutorial
      printed (lesson 8: R's lme4) — "ours / the tutorial's / difference / agree?"; where they differ,
      a note says why. If that
      cell stops with an error, the kit is broken, not you — please report it.
    * **Try it** prompts suggest a change to make and what to look for; **self-check** cells ask a
      question — replace `...` with your answer and run the cell for immediate feedback.
    * Change anything you like: the lessons are yours to experiment with. `git checkout notebooks/`
      (or downloading them again) restores the originals.
    """),
    md(r"""
    | lesson | topic | source |
    |---|---|---|
    | 1 | variance components: the simplest two-level model, ICC | simulation tutorial |
    | 2 | level-1 and level-2 predictors | simulation tutorial |
    | 3 | random slopes, correlated random effects, profile intervals | simulation tutorial |
    | 4 | rat tumours: a binomial multilevel model and shrinkage | Andrews' notes |
    | 5 | alcohol consumption by country: a normal random-effects model | Andrews' notes |
    | 6 | sleep deprivation: varying intercepts and slopes | Andrews' notes |
    | 7 | school achievement (imm10): formula pitfalls and a logistic GLMM | Seton Hall review |
    | 8 | beyond the sources: three-level nested and crossed designs | — |
    | 9 | beyond the sources: how many clusters? power by simulation | — |

    The three sources are the University of Virginia StatLab article on simulating multilevel data
    (L. Jamison, 2023), Mark Andrews' lecture notes on multilevel models (Nottingham Trent University)
    and a Seton Hall University review of multilevel models in R built on the UCLA IDRE `imm10` data.
    """),
    md(r"""
    ## The tools

    Every lesson starts with the same imports. `mlmkit` is imported as `mk`; its figures live in
    `mlmkit.plots`. Most lessons also fit their models with statsmodels' `MixedLM`, Python's other
    mixed-model implementation, where it can express them: an independent check, and a bridge if you
    meet statsmodels elsewhere.
    """),
    code(r"""
    import numpy as np
    import pandas as pd
    import matplotlib.pyplot as plt

    import mlmkit as mk
    from mlmkit import plots

    pd.set_option("display.precision", 4)      # show 4 decimals in tables
    """),
    md(r"""
    ## A first model in two lines

    The `sleepstudy` data record the average reaction time (ms) of 18 people on each of 10 days of sleep
    restriction. The data sets used in the course ship with mlmkit:
    """),
    code(r"""
    sleep = mk.datasets.load("sleepstudy")
    sleep.head()
    """),
    md(r"""
    We let each person $j$ have their own straight line over days, with the lines scattered around an
    average line (lesson 6 takes this model apart):

    $$\text{Reaction}_{ij} = (b_0 + \zeta_{j0}) + (b_1 + \zeta_{j1})\,\text{Days}_{ij} + \epsilon_{ij},
    \qquad (\zeta_{j0}, \zeta_{j1}) \sim N(0, \Sigma),\ \ \epsilon_{ij} \sim N(0, \sigma^2).$$

    In R you would write the call on the left; in Python the call on the right. The formula is the same
    string.

    | R (lme4) | Python (mlmkit) |
    |---|---|
    | `m <- lmer(Reaction ~ Days + (Days \| Subject), data = sleepstudy)` | `m = mk.lmer("Reaction ~ Days + (Days \| Subject)", sleep)` |
    | `summary(m)` | `m.summary()` |
    """),
    code(r"""
    m = mk.lmer("Reaction ~ Days + (Days | Subject)", sleep)
    m.summary()
    """),
    md(r"""
    `m.summary()` shows lme4's layout as a table; `print(m.summary())` gives the plain text that R prints.
    The pieces of the summary are also attributes of the result:

    | R | mlmkit | what it is |
    |---|---|---|
    | `fixef(m)` | `m.fixef` | fixed effects (pandas Series) |
    | `vcov(m)` | `m.vcov` | their covariance matrix (DataFrame) |
    | `as.data.frame(VarCorr(m))` | `m.varcorr` | variances, standard deviations, correlations |
    | `ranef(m)` | `m.ranef["Subject"]` | each group's random effects (predictions) |
    | `coef(m)` | `m.coef["Subject"]` | each group's own coefficients: fixed + random |
    | `sigma(m)` | `m.sigma` | residual standard deviation |
    | `predict(m, newdata, re.form = NA)` | `m.predict(newdata, re_form="~0")` | predictions without random effects |
    """),
    code(r"""
    m.fixef
    """),
    code(r"""
    m.varcorr
    """),
    md(r"""
    Lesson 6's source printed an average slope of 10.46729 ms per day and a standard deviation of the
    subjects' slopes of 5.9221. Each lesson ends with a table like this one:
    """),
    code(r"""
    mk.checks.tutorial_table([
        ("average slope (ms per day)", m.fixef["Days"], "10.46729"),
        ("sd of the subjects' slopes", m.varcorr["sdcor"].iloc[1], "5.9221"),
    ])
    """),
    md(r"""
    **Self-check.** How many fixed effects does this model estimate? Replace `...` with a number and run
    the cell.
    """),
    code(r"""
    n_fixed = ...
    mk.checks.self_check(n_fixed, 2, "Two: the average intercept (Intercept) and the average slope Days; "
                         "the subjects' own deviations are random effects, summarised by their variances.")
    """),
    md(r"""
    Most lessons draw a figure with `mlmkit.plots`. Every function there returns the matplotlib Axes it
    drew on and accepts `ax=` so you can arrange figures yourself. Here: one line per person, and the
    population line (the fixed effects) in black.
    """),
    code(r"""
    ax = plots.fitted_lines(m, "Days", data=sleep, y="Reaction")
    ax.set_title("one regression line per subject")
    ax.set_xlabel("day of the study")
    ax.set_ylabel("average reaction time (ms)")
    ax.legend(handles=[line for line in ax.get_lines() if line.get_label() == "population"],
              labels=["population line (fixed effects)"], fontsize=8, loc="upper left")
    plt.show()
    """),
    md(r"""
    ## Notation

    Lessons 1–3 and 7 follow the source tutorials in writing one equation per level
    (Raudenbush & Bryk's notation); lessons 4–6 follow Andrews' single-equation notation. Both describe
    the same models.

    | symbol | meaning | in the output |
    |---|---|---|
    | $y_{ij}$ | response of unit $i$ in cluster (group) $j$ | the response column |
    | $\gamma_{00}, \gamma_{01}, \beta_1$ or $b_0, b_1$ | fixed effects: population intercept and slopes | `m.fixef` |
    | $u_{0j}, u_{1j}$ or $\zeta_{j0}, \zeta_{j1}$ | random effects: cluster $j$'s deviation from them | `m.ranef` |
    | $\beta_{0j} = \gamma_{00} + u_{0j}$ | cluster $j$'s own intercept | `m.coef` |
    | $\tau^2_{u0}, \tau^2_{u1}$ (or $\tau_0^2, \tau_1^2$), $\rho$ | variances and correlation of the random effects | `m.varcorr` |
    | $\sigma^2$ | residual variance (within clusters) | `m.sigma ** 2` |
    | ICC $=\tau^2/(\tau^2+\sigma^2)$ | share of the variance that lies between clusters | `m.icc()` |

    ## The formula language (lme4's)

    | formula term | meaning |
    |---|---|
    | `(1 \| g)` | a random intercept for each level of `g` |
    | `(x \| g)` = `(1 + x \| g)` | random intercept and random slope of `x`, correlated (the `1` is implicit!) |
    | `(0 + x \| g)` | a random slope only; the intercept stays fixed |
    | `(x \|\| g)` = `(1 \| g) + (0 + x \| g)` | random intercept and slope, uncorrelated |
    | `(1 \| a) + (1 \| b)` | crossed factors (every `a` can meet every `b`) |
    | `(1 \| a/b)` = `(1 \| a) + (1 \| a:b)` | `b` nested in `a` (classes within schools) |
    """),
    md(r"""
    ## Exercises

    Every lesson ends with an exercise named after it, `lessonNN_<topic>` (for example
    `lesson01_variance_components`). Each question has a cell like `grader.check("q1")` that tells you at
    once whether your answer is right and, if not, what the likely slip is (a standard deviation where a
    variance was asked, a REML estimate where ML was meant, ...). Your instructor hands out the student
    versions and may grade them automatically. Working on your own, open them in JupyterLab's file
    browser (left sidebar) under `exercises/student/`, starting with
    `exercises/student/lesson01_variance_components.ipynb`: they come with the repository and need nothing beyond `make lab`. Questions marked "marked by your instructor" ask for a
    few sentences; the masters in `exercises/` hold model answers (and all solutions), so try first.

    **Next:** [Lesson 1 — variance components](01_variance_components.ipynb).
    """),
]
