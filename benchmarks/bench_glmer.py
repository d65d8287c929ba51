"""glmer speed against lme4 and the mixedlm package (a script, not a test).

    python benchmarks/bench_glmer.py              # all cases, with mixedlm if installed
    python benchmarks/bench_glmer.py --no-peers   # mlmkit only

lme4's times come from ``benchmarks/lme4_times.json`` (written by ``tools/lme4_timings.R`` on this
kind of machine).  mlmkit's time is the median wall time of the whole ``mlmkit.glmer`` call (formula
parsing included) after one warm-up; its CPU time is printed too, because the machine is shared and
wall time depends on the load.  Every row shows how far mlmkit's log-likelihood is from lme4's
(positive: mlmkit's optimum is better), so a fast wrong answer cannot pass unnoticed.
"""
from __future__ import annotations

import argparse
import os
import warnings
from pathlib import Path

import pandas as pd

import mlmkit
from common import lme4_times, timed

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

CASES = [
    # id in lme4_times.json, data, formula, columns read as text, repetitions, goal (s)
    ("rats_glmer", ROOT / "data/rats.csv", "cbind(m, n - m) ~ 1 + (1 | batch)", ["batch"], 20, 0.05),
    ("imm10_glmer", ROOT / "data/imm10.csv", "white ~ homework + (1 + homework | schid)", ["schid"], 20, 0.1),
    ("verbagg_glmer", ROOT / "tests/data/VerbAgg.csv",
     "r2 ~ (Anger + Gender + btype + situ) + (1 | id) + (1 | item)", ["Gender", "btype", "situ", "id", "item", "r2"],
     5, 1.0),
]

# The same models in the mixedlm package's formula dialect (it parses neither cbind() nor a
# parenthesised fixed part): data transform, formula, weights column.
PEER = {
    "rats_glmer": (lambda df: df.assign(p=df.m / df.n), "p ~ 1 + (1 | batch)", "n"),
    "imm10_glmer": (lambda df: df, "white ~ homework + (1 + homework | schid)", None),
    "verbagg_glmer": (lambda df: df.assign(y=(df.r2 == "Y").astype(float)),
                      "y ~ Anger + Gender + btype + situ + (1 | id) + (1 | item)", None),
}


def quiet(fn):
    def run():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn()
    return run


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--no-peers", action="store_true", help="time mlmkit only")
    args = ap.parse_args()
    lme4 = lme4_times()
    print(f"load average before: {os.getloadavg()[0]:.2f} (2 cores shared with other processes)")
    rows = []
    for cid, data, formula, text_cols, reps, goal in CASES:
        df = pd.read_csv(data, dtype={c: str for c in text_cols})
        fit = quiet(lambda: mlmkit.glmer(formula, df, family="binomial"))
        fit()                                                           # warm-up (imports, caches)
        wall, cpu, m = timed(fit, reps)
        ref = lme4.get(cid, {})
        row = {"case": cid, "rows": len(df), "mlmkit_s": wall, "mlmkit_cpu_s": cpu, "goal_s": goal,
               "meets_goal": wall <= goal, "lme4_s": ref.get("median"),
               "loglik_minus_lme4": (m.loglik - ref["fit"]["loglik"]) if ref.get("fit") else None}
        if not args.no_peers:
            try:
                import mixedlm
                prep, peer_formula, wcol = PEER[cid]
                pdf = prep(df)
                kw = {} if wcol is None else {"weights": pdf[wcol].to_numpy(float)}
                row["mixedlm_s"] = timed(quiet(lambda: mixedlm.glmer(peer_formula, pdf, family=mixedlm.families.Binomial(), **kw)),
                                         1 if len(df) > 1000 else 3)[0]
            except Exception as exc:          # noqa: BLE001 - a peer that cannot fit is reported, not fatal
                row["mixedlm_s"] = f"n/a ({type(exc).__name__})"
        rows.append(row)
        print(pd.DataFrame([row]).to_string(index=False, header=len(rows) == 1), flush=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print()
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.4g}"))


if __name__ == "__main__":
    main()
