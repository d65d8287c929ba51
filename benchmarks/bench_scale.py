"""Speed and memory at a million rows: mlmkit against the mixedlm package (and lme4 at a tenth).

    python benchmarks/bench_scale.py                 # full sizes, mlmkit and mixedlm (if installed)
    python benchmarks/bench_scale.py --cases glmer_intercept --no-peers
    python benchmarks/bench_scale.py --lme4           # also re-time lme4 at 1/10 (needs Rscript + lme4)

Workloads (simulated with a fixed seed, the same arrays for every engine):

    glmer_intercept  binomial, 1,000,000 rows, 10,000 groups   y ~ x + (1 | g)
    glmer_slope      binomial, 1,000,000 rows, 10,000 groups   y ~ x + (1 + x | g)
    lmer_crossed     gaussian, 2,000,000 rows, 2,000 × 500     y ~ x + (1 | a) + (1 | b)

Each engine fits each workload in a fresh child process, which loads the data arrays from .npy
files, builds the data frame, records its resident memory, fits once and reports the wall time of
the fit call (and the process's CPU time, all threads, which depends less on other load) and its
peak memory: ``ru_maxrss`` after the fit minus the resident size before it
(written ``≤`` when the fit did not raise the process's earlier maximum).  The goal of issue 17 is
mlmkit ≤ 0.5 × mixedlm's time in the same run and a peak ≤ 4 × the data arrays (20 bytes a row for
the glmer data, 24 for the crossed).  Estimates are compared between engines, so a fast wrong answer
shows up: ``fixef_rel`` is the largest relative difference of the fixed effects, ``loglik_diff``
mlmkit's log-likelihood minus the peer's (positive: mlmkit's optimum is higher).

lme4 (R) is timed at one tenth of each size, from ``benchmarks/lme4_scale_times.json`` unless
``--lme4`` re-runs it; mlmkit is timed at the same tenth sizes for that table.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
LME4_JSON = HERE / "lme4_scale_times.json"

CASES = {
    # id: (formula, family, rows, levels, seed)
    "glmer_intercept": ("y ~ x + (1 | g)", "binomial", 1_000_000, (10_000,), 1),
    "glmer_slope": ("y ~ x + (1 + x | g)", "binomial", 1_000_000, (10_000,), 2),
    "lmer_crossed": ("y ~ x + (1 | a) + (1 | b)", "gaussian", 2_000_000, (2_000, 500), 3),
}


def simulate(case: str, scale: float = 1.0, seed: int | None = None) -> dict[str, np.ndarray]:
    """The data arrays of a workload: float64 y and x, int32 group codes (g, or a and b).
    ``seed`` replaces the workload's own (``--seed``: the same workload drawn again)."""
    formula, family, n, levels, seed0 = CASES[case]
    seed = seed0 if seed is None else seed
    n = int(n * scale)
    levels = tuple(max(2, int(k * scale)) for k in levels)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n)
    if family == "binomial":
        g = rng.integers(0, levels[0], n).astype(np.int32)
        b0 = rng.normal(0.0, 0.8, levels[0])
        b1 = rng.normal(0.0, 0.4, levels[0]) if "1 + x" in formula else np.zeros(levels[0])
        eta = -0.3 + 0.5 * x + b0[g] + b1[g] * x
        y = (rng.random(n) < 1.0 / (1.0 + np.exp(-eta))).astype(float)
        return {"y": y, "x": x, "g": g}
    a = rng.integers(0, levels[0], n).astype(np.int32)
    b = rng.integers(0, levels[1], n).astype(np.int32)
    y = 1.0 + 0.5 * x + rng.normal(0.0, 0.7, levels[0])[a] + rng.normal(0.0, 0.5, levels[1])[b] + rng.standard_normal(n)
    return {"y": y, "x": x, "a": a, "b": b}


# --- child process: one engine, one workload ---------------------------------------------------
def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _fit_mlmkit(df, formula, family):
    import mlmkit
    if family == "gaussian":
        m = mlmkit.lmer(formula, df)
    else:
        m = mlmkit.glmer(formula, df, family=family)
    return {k: float(v) for k, v in m.fixef.items()}, float(m.loglik)


def _fit_mixedlm(df, formula, family):
    import mixedlm
    if family == "gaussian":
        m = mixedlm.lmer(formula, df)
    else:
        m = mixedlm.glmer(formula, df, family=mixedlm.families.Binomial())
    fe = m.fixef() if callable(m.fixef) else m.fixef
    ll = m.logLik()
    return {k: float(v) for k, v in dict(fe).items()}, float(getattr(ll, "value", ll))


def child(engine: str, case: str, folder: str) -> None:
    """Fit one workload with one engine and print a JSON line (run in its own process)."""
    import warnings

    import pandas as pd
    formula, family = CASES[case][:2]
    if engine == "mlmkit":
        import mlmkit  # noqa: F401  (imports outside the measurement)
    else:
        import mixedlm  # noqa: F401
    arrays = {k: np.load(Path(folder) / f"{k}.npy") for k in ("y", "x", "g", "a", "b")
              if (Path(folder) / f"{k}.npy").exists()}
    data_mb = sum(v.nbytes for v in arrays.values()) / 2**20
    df = pd.DataFrame(arrays, copy=False)
    del arrays
    base, max0 = _rss_mb(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t, c = time.perf_counter(), time.process_time()
        fixef, loglik = (_fit_mlmkit if engine == "mlmkit" else _fit_mixedlm)(df, formula, family)
        wall, cpu = time.perf_counter() - t, time.process_time() - c
    max1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"engine": engine, "case": case, "rows": len(df), "seconds": wall, "cpu_seconds": cpu,
                      "data_mb": data_mb,
                      "peak_mb": max1 - base, "peak_is_bound": max1 <= max0, "fixef": fixef, "loglik": loglik}))


# --- parent --------------------------------------------------------------------------------------
def run_child(engine: str, case: str, folder: str) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "2"))
    out = subprocess.run([sys.executable, __file__, "--child", engine, case, folder], capture_output=True,
                         text=True, env=env)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if out.returncode or not lines:
        tail = (out.stderr.strip().splitlines() or ["no output"])[-1]
        return {"engine": engine, "case": case, "error": tail[:120]}
    return json.loads(lines[-1])


def write_arrays(case: str, scale: float, folder: Path, seed: int | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for k, v in simulate(case, scale, seed).items():
        np.save(folder / f"{k}.npy", v)


def compare(a: dict, b: dict) -> tuple[float, float]:
    """(largest relative difference of the fixed effects, loglik of a − loglik of b)."""
    rel = max(abs(a["fixef"][k] - b["fixef"][k]) / max(abs(b["fixef"][k]), 1e-8) for k in a["fixef"])
    return rel, a["loglik"] - b["loglik"]


def have_mixedlm() -> bool:
    try:
        import mixedlm  # noqa: F401
    except ImportError:
        print("mixedlm is not installed: timing mlmkit alone (pip install mixedlm to compare)")
        return False
    return True


def lme4_tenth(cases, rerun: bool) -> dict:
    """lme4's times at one tenth of each size: recorded in lme4_scale_times.json, or re-run with R."""
    recorded = json.loads(LME4_JSON.read_text()) if LME4_JSON.exists() else {"timings": {}}
    if rerun:
        if not shutil.which("Rscript"):
            print("Rscript not found: using the recorded lme4 times")
            return recorded
        with tempfile.TemporaryDirectory() as tmp:
            for case in cases:
                import pandas as pd
                pd.DataFrame(simulate(case, 0.1)).to_csv(Path(tmp) / f"{case}.csv", index=False)
            out = subprocess.run(["Rscript", str(HERE / "lme4_scale.R"), tmp, *cases], capture_output=True, text=True)
        if out.returncode:
            print("lme4 run failed:", (out.stderr.strip().splitlines() or ["?"])[-1])
            return recorded
        fresh = json.loads(out.stdout[out.stdout.index("{"):])
        recorded.update({k: v for k, v in fresh.items() if k != "timings"})
        recorded.setdefault("timings", {}).update(fresh["timings"])
        LME4_JSON.write_text(json.dumps(recorded, indent=2) + "\n")
    return recorded


def fmt(v, spec=".3g"):
    return "" if v is None else (v if isinstance(v, str) else format(v, spec))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", nargs="*", default=list(CASES), choices=list(CASES))
    ap.add_argument("--no-peers", action="store_true", help="time mlmkit only")
    ap.add_argument("--lme4", action="store_true", help="re-time lme4 at one tenth of the sizes (Rscript)")
    ap.add_argument("--no-tenth", action="store_true", help="skip the one-tenth table")
    ap.add_argument("--seed", type=int, nargs="*", default=None,
                    help="simulate with these seeds instead of each workload's own (one row per seed)")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(*args.child)
    engines = ["mlmkit"] + ([] if args.no_peers or not have_mixedlm() else ["mixedlm"])
    print(f"load average before: {os.getloadavg()[0]:.2f} (compare engines within one run)")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for case in args.cases:
            for seed in args.seed or [None]:
                folder = Path(tmp) / case
                write_arrays(case, 1.0, folder, seed)
                res = {e: run_child(e, case, str(folder)) for e in engines}
                rows.append(_row(case, res) | ({} if seed is None else {"seed": seed}))
                print(_table(rows[-1:], header=len(rows) == 1), flush=True)
        print(f"load average after: {os.getloadavg()[0]:.2f}\n")
        print(_table(rows))
        if not args.no_tenth:
            print("\nAt one tenth of the sizes, with lme4 (recorded in lme4_scale_times.json):")
            lme4 = lme4_tenth(args.cases, args.lme4)
            tenth = []
            for case in args.cases:
                folder = Path(tmp) / f"{case}_tenth"
                write_arrays(case, 0.1, folder)
                mk = run_child("mlmkit", case, str(folder))
                ref = lme4.get("timings", {}).get(case)
                rel, dll = compare(mk, ref) if ref and "fixef" in mk else (None, None)
                tenth.append({"case": case, "rows": mk.get("rows"), "mlmkit_s": mk.get("seconds", mk.get("error")),
                              "mlmkit_cpu_s": mk.get("cpu_seconds"), "lme4_s": ref and ref["seconds"],
                              "lme4_cpu_s": ref and ref["cpu_seconds"], "fixef_rel": rel, "loglik_diff": dll})
            print(_table(tenth))


def _row(case: str, res: dict) -> dict:
    mk, mx = res["mlmkit"], res.get("mixedlm")
    row = {"case": case, "rows": mk.get("rows"), "mlmkit_s": mk.get("seconds", mk.get("error")),
           "mlmkit_cpu_s": mk.get("cpu_seconds")}
    if mx is not None:
        row["mixedlm_s"] = mx.get("seconds", mx.get("error"))
        row["mixedlm_cpu_s"] = mx.get("cpu_seconds")
        if "seconds" in mk and "seconds" in mx:
            row["ratio"] = mk["seconds"] / mx["seconds"]
            row["fixef_rel"], row["loglik_diff"] = compare(mk, mx)
    if "peak_mb" in mk:
        row["data_mb"] = mk["data_mb"]
        row["mlmkit_peak_mb"] = ("≤ " if mk["peak_is_bound"] else "") + format(mk["peak_mb"], ".0f")
        row["peak_per_data"] = mk["peak_mb"] / mk["data_mb"]
    if mx is not None and "peak_mb" in mx:
        row["mixedlm_peak_mb"] = ("≤ " if mx["peak_is_bound"] else "") + format(mx["peak_mb"], ".0f")
    return row


def _table(rows: list[dict], header: bool = True) -> str:
    cols = list(dict.fromkeys(k for r in rows for k in r))
    body = [[fmt(r.get(c)) for c in cols] for r in rows]
    width = [max(len(c), *(len(b[i]) for b in body)) for i, c in enumerate(cols)]
    lines = ["  ".join(c.rjust(w) for c, w in zip(cols, width))] if header else []
    lines += ["  ".join(v.rjust(w) for v, w in zip(b, width)) for b in body]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
