"""Speed of profiles, the parametric bootstrap and power simulations against lme4 (a script, not a test).

    python benchmarks/bench_inference.py            # everything (about a minute on 2 cores)
    python benchmarks/bench_inference.py --quick    # profiles only

lme4's times come from ``benchmarks/lme4_times.json`` (``tools/lme4_timings.R``) and
``tests/reference/profile.json`` (``tools/lme4_reference.R``), measured on this kind of shared
2-core machine.  Each row prints wall and CPU seconds (CPU is less sensitive to other load) and a
check that the answer is right, so a fast wrong answer cannot pass unnoticed.
"""
from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

from common import lme4_times, timed

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def row(what, wall, cpu, lme4, goal, check):
    lme4_txt = "" if lme4 is None else f"{lme4:8.2f}"
    goal_txt = "" if goal is None else f"{goal:6.1f} {'ok' if wall <= goal or cpu <= goal else 'SLOW'}"
    print(f"{what:<46} {wall:8.2f} {cpu:8.2f} {lme4_txt:>8} {goal_txt:>9}  {check}")


def profiles(lt):
    from mlmkit.glmm import glmer
    from mlmkit.lmm import lmer
    ref = json.load(open(ROOT / "tests" / "reference" / "profile.json"))
    for case in ref:
        if case["method"] != "profile":
            continue
        path = ROOT / case["data_file"]
        data = pd.read_csv(path)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = (glmer(case["formula"], data, family=case["family"]) if case.get("family")
                 else lmer(case["formula"], data, REML=case["REML"]))
        wall, cpu, ci = timed(lambda: m.confint())
        err = max(np.abs(ci.iloc[:, 0].to_numpy() - case["lower"]).max(),
                  np.abs(ci.iloc[:, 1].to_numpy() - case["upper"]).max())
        lme4 = case["elapsed"]
        goal = None
        if case["id"] == "tutorial_slopes":
            lme4 = lt.get("tutorial_slopes_profile", {}).get("median", lme4)
            goal = 1.0
        row(f"confint profile: {case['id']}", wall, cpu, lme4, goal, f"max |end - lme4| = {err:.1e}")


def bootstrap_refits(lt):
    import mlmkit
    from mlmkit.lmm import lmer
    data = pd.read_csv(ROOT / "tests" / "data" / "tutorial_slopes.csv")
    m = lmer("y ~ X + (1 | Cluster)", data)
    ref = lt.get("tutorial_ri_simulate_refit_1000", {})
    for n_jobs in (1, 2):
        wall, cpu, b = timed(lambda: mlmkit.bootstrap(m, lambda f: f.fixef["X"], nsim=1000, seed=20240101,
                                                      n_jobs=n_jobs, progress=False))
        x = b.replicates.iloc[:, 0]
        row(f"1000 simulate + refit, (1|Cluster), n_jobs={n_jobs}", wall, cpu, ref.get("median"), None,
            f"X: mean {x.mean():.4f} sd {x.std():.4f} (lme4 {ref.get('boot_X_mean_sd', ['?', '?'])[0]:.4f} "
            f"{ref.get('boot_X_mean_sd', ['?', '?'])[1]:.4f})")


def power_sims():
    import mlmkit
    design = dict(cluster_size=50, fixed={"(Intercept)": 2.0, "x1": 0.25}, re_cov=[[5.0, 0.0], [0.0, 3.0]], sigma2=3.0)
    for method in ("lrt", "z"):
        for n_jobs in (1, 2):
            wall, cpu, r = timed(lambda: mlmkit.power("y ~ x1 + (1 + x1 | cluster)", "x1", n_clusters=20, nsim=1000,
                                                      seed=1, method=method, n_jobs=n_jobs, progress=False, **design))
            row(f"power, 1000 data sets 20 x 50, {method}, n_jobs={n_jobs}", wall, cpu, None, 20.0,
                f"power {r.power:.3f} (MC SE {r.se:.3f}), {int(r.singular.sum())} singular, {int(r.failed.sum())} failed")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="profiles only")
    args = ap.parse_args()
    lt = lme4_times()
    print(f"{'':<46} {'wall s':>8} {'cpu s':>8} {'lme4 s':>8} {'goal s':>9}  check")
    profiles(lt)
    if not args.quick:
        bootstrap_refits(lt)
        power_sims()


if __name__ == "__main__":
    main()
