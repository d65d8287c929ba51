"""Strict nbval of every stored notebook under several OpenBLAS CPU kernels and BLAS thread counts.

    .venv/bin/python tools/check_portability.py                                   # Haswell SkylakeX Sandybridge × 1, 2
    .venv/bin/python tools/check_portability.py --kernels Haswell --threads 1     # what CI runs
    make portability KERNELS="Haswell Sandybridge" THREADS=1

Why: OpenBLAS picks its compute kernel for the CPU it runs on, and kernels round differently (FMA,
AVX-512 vs AVX2 vs AVX accumulation order).  An optimiser's stopping point can move by ~1e-8 relative
between kernels, so a stored output that prints digits below that passes on the machine that stored it
and fails on a learner's.  ``OPENBLAS_CORETYPE`` forces a kernel, which lets one machine stand in for
others.  A kernel is only tried when this CPU has its instructions (SkylakeX needs AVX-512, Haswell
AVX2, Sandybridge AVX), and the kernel OpenBLAS actually loaded is read back with threadpoolctl, so a
run never silently tests the default kernel under another name.

Exit status 0 only if every combination passes.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: The CPU flag each kernel needs (from /proc/cpuinfo).
NEEDS = {"SkylakeX": "avx512f", "Haswell": "avx2", "Sandybridge": "avx", "Nehalem": "sse4_2",
         "Prescott": "sse3"}
#: Kernels OpenBLAS reports under another name.
REPORTED_AS = {"Prescott": "Katmai"}

_PROBE = ("import json, numpy, scipy.linalg\n"
          "from threadpoolctl import threadpool_info\n"
          "print(json.dumps(sorted({i.get('architecture') or '?' for i in threadpool_info()"
          " if i['internal_api'] == 'openblas'})))")


def cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def loaded_kernels(env: dict[str, str]) -> list[str]:
    out = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def run_nbval(env: dict[str, str], notebooks: list[str]) -> tuple[bool, str, float]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--nbval", *notebooks],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    tail = "\n".join(proc.stdout.strip().splitlines()[-1:])
    return proc.returncode == 0, (proc.stdout if proc.returncode else tail), time.perf_counter() - start


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kernels", nargs="+", default=["Haswell", "SkylakeX", "Sandybridge"])
    ap.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    ap.add_argument("--ci", action="store_true",
                    help="one kernel other than this machine's default (Haswell, else Sandybridge), 1 thread")
    ap.add_argument("notebooks", nargs="*", default=["notebooks"])
    args = ap.parse_args(argv)

    flags = cpu_flags()
    if args.ci:
        default = loaded_kernels({k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"})
        usable = [k for k in ("Haswell", "Sandybridge") if not flags or NEEDS[k] in flags]
        args.kernels = [k for k in usable if [k] != default][:1]
        args.threads = [1]
        print(f"default OpenBLAS kernel here: {default}; checking under {args.kernels}", flush=True)
    results, failed = [], False
    for kernel in args.kernels:
        need = NEEDS.get(kernel)
        if need and flags and need not in flags:
            results.append((kernel, "-", f"skipped: this CPU lacks {need}", 0.0))
            continue
        for threads in args.threads:
            env = dict(os.environ, OPENBLAS_CORETYPE=kernel, OPENBLAS_NUM_THREADS=str(threads),
                       OMP_NUM_THREADS=str(threads))
            got = loaded_kernels(env)
            expected = REPORTED_AS.get(kernel, kernel)
            if got != [expected]:
                results.append((kernel, threads, f"FAILED: OpenBLAS loaded {got}, not {expected}", 0.0))
                failed = True
                continue
            ok, text, seconds = run_nbval(env, args.notebooks)
            results.append((kernel, threads, "passed" if ok else "FAILED", seconds))
            if not ok:
                failed = True
                print(f"--- {kernel}, {threads} thread(s) ---\n{text}", flush=True)
            print(f"{kernel:12s} threads={threads}: {'passed' if ok else 'FAILED'} ({seconds:.0f} s)", flush=True)

    print("\nkernel        threads  strict nbval")
    for kernel, threads, status, seconds in results:
        print(f"{kernel:12s}  {threads!s:7s}  {status}" + (f" ({seconds:.0f} s)" if seconds else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
