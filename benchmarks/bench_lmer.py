"""lmer speed against lme4, statsmodels and the mixedlm package (a script, not a test).

    python benchmarks/bench_lmer.py            # all cases; statsmodels only where it takes seconds
    python benchmarks/bench_lmer.py --quick    # skip InstEval and the million-row case

lme4's times come from ``benchmarks/lme4_times.json`` (written by ``tools/lme4_timings.R`` on this
kind of machine); statsmodels and mixedlm are timed here when installed.  Every row also prints how far
mlmkit's criterion is from lme4's, so a fast wrong answer cannot pass unnoticed.
"""
from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import pandas as pd

import mlmkit
from common import lme4_times, timed

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

CASES = [
    # id in lme4_times.json, data, formula, grouping columns read as text, repetitions, goal (s)
    ("sleepstudy_lmer", ROOT / "data/sleepstudy.csv", "Reaction ~ Days + (Days | Subject)", ["Subject"], 30, 0.005),
    ("bench_100k_lmer", HERE / "data/bench_100k.csv.gz", "y ~ x + (x | g)", [], 5, 0.15),
    ("bench_1m_lmer", HERE / "data/bench_1m.csv.gz", "y ~ x + (x | g)", [], 3, 0.5),
    ("insteval_lmer", HERE / "data/InstEval.csv.gz", "y ~ service + (1 | s) + (1 | d) + (1 | dept)",
     ["s", "d", "dept", "service"], 1, 3.0),
]


def statsmodels_fit(df, formula):
    """The statsmodels equivalent for a single grouping factor (it cannot express crossed terms)."""
    import statsmodels.formula.api as smf
    fixed, rand = formula.split("+ (")
    expr, group = rand.rstrip(")").split("|")
    re_formula = "~" + expr.strip() if expr.strip() not in ("1",) else "~1"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return smf.mixedlm(fixed.strip(), df, groups=df[group.strip()], re_formula=re_formula).fit(reml=True)


def mixedlm_fit(df, formula):
    import mixedlm
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mixedlm.lmer(formula, df)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="skip InstEval and the million-row case")
    ap.add_argument("--no-peers", action="store_true", help="time mlmkit only")
    args = ap.parse_args()
    lme4 = lme4_times()
    rows = []
    for cid, data, formula, text_cols, reps, goal in CASES:
        if args.quick and cid in ("bench_1m_lmer", "insteval_lmer"):
            continue
        df = pd.read_csv(data, dtype={c: str for c in text_cols})
        mlmkit.lmer(formula, df)                                   # warm-up (imports, caches)
        t, _, m = timed(lambda: mlmkit.lmer(formula, df), reps)
        ref = lme4.get(cid, {})
        row = {"case": cid, "rows": len(df), "mlmkit_s": t, "goal_s": goal, "meets_goal": t <= goal,
               "lme4_s": ref.get("median"),
               "crit_minus_lme4": (m.reml_criterion - ref["fit"]["reml_criterion"]) if ref.get("fit") else None}
        if not args.no_peers:
            single = formula.count("|") == 1
            if single and len(df) <= 200_000:
                row["statsmodels_s"] = timed(lambda: statsmodels_fit(df, formula), 1 if len(df) > 1000 else 5)[0]
            try:
                row["mixedlm_s"] = timed(lambda: mixedlm_fit(df, formula), 1 if len(df) > 1000 else 5)[0]
            except ImportError:
                pass
        rows.append(row)
        print(pd.DataFrame([row]).to_string(index=False, header=len(rows) == 1), flush=True)
    print()
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.4g}"))


if __name__ == "__main__":
    main()
