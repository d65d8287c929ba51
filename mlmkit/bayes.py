"""Bayesian fits with bambi/PyMC whose draws do not depend on the BLAS library.

:func:`fit` builds a bambi model from an lme4-style formula (or takes a ready PyMC model), samples it
with NUTS and returns :class:`BayesFit`; :func:`summary` makes the table the lessons print.

Why a helper?  NUTS is chaotic: a last-bit difference in a gradient or an energy grows until, a few
hundred iterations later, the draws differ, and the last bits depend on the machine's BLAS kernel in
three places: the leapfrog step's ``daxpy`` (FMA in OpenBLAS's Haswell/SkylakeX kernels, not in
Sandybridge), the kinetic energy's ``ddot`` (whose summation order depends on the kernel; it feeds the
acceptance statistic and the step-size adaptation) and the graph's matrix products (``X @ beta``),
compiled to ``gemv``/``dot``.  Inside :func:`fit` (:func:`deterministic_sampling`, undone on exit) the
first two become NumPy element-wise operations and sums, and a PyTensor rewrite turns every dense ``dot``
into a product and a sum before the BLAS rewrites see it (NUTS's U-turn test still calls ``ddot`` but
reads only its sign).  PyTensor's C code is compiled with ``-ffp-contract=off`` (:func:`configure_pytensor`,
called on import unless ``PYTENSOR_FLAGS`` sets ``gcc__cxxflags``), and each compiled function is one C
module (:func:`one_module_linker`): a cold cache waits for one g++ run per function instead of ~30.

Measured on this course's machines: the lesson's draws hash to the same bytes under
``OPENBLAS_CORETYPE=Haswell``, ``SkylakeX`` and ``Sandybridge`` with one or two BLAS threads.

>>> f = bayes.fit("p(m, n) ~ 1 + (1|batch)", mk.datasets.load("rats"), family="binomial", seed=1)  # doctest: +SKIP
>>> bayes.summary(f, ["Intercept", "1|batch_sigma"])                      # doctest: +SKIP
"""
from __future__ import annotations

import contextlib
import logging
import os
import warnings
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd

from .errors import MlmkitError, ParameterError

__all__ = ["BayesFit", "fit", "sample", "summary", "deterministic_sampling", "configure_pytensor",
           "draws_hash", "blas_free_mode", "one_module_linker"]

#: Loggers that narrate sampling ("Initializing NUTS", "Sequential sampling ...", the chain-count
#: advice); silenced to ERROR during :func:`fit` only.  Diagnostics are reported by :func:`summary`.
QUIET_LOGGERS = ("pymc", "pymc.sampling.mcmc", "pymc.stats.convergence", "bambi")

#: Appended to PyTensor's C compiler flags.  ``-ffp-contract=off``: never fuse a multiply and an add
#: (results must not depend on whether a CPU has FMA).  ``-O1`` overrides PyTensor's ``-O3``: the
#: first (cold-cache) compile of a course model is about 30% faster, sampling no slower for graphs
#: this small, and the draws are bit-identical (neither level changes floating-point semantics).
#: ``-g0`` drops PyTensor's ``-g`` (debug symbols nobody reads: 5-15% of each module's compile).
#: Not ``-O0``: it compiles each module in half the time but samples lesson 10 some 10 s slower.
_CXXFLAGS = ("-O1", "-g0", "-ffp-contract=off")


def configure_pytensor() -> None:
    """Compile PyTensor's C code without floating-point contraction (no fused multiply-add), at -O1.

    Leaves an explicit ``gcc__cxxflags`` in ``PYTENSOR_FLAGS`` alone.  Safe to call more than once.
    """
    import pytensor

    if "gcc__cxxflags" in os.environ.get("PYTENSOR_FLAGS", ""):
        return
    flags = pytensor.config.gcc__cxxflags.split()
    missing = [f for f in _CXXFLAGS if f not in flags]
    if missing:
        pytensor.config.gcc__cxxflags = " ".join(flags + missing)


# ---------------------------------------------------------------------------------------------------
# 1. the graph: dense dot -> element-wise product and sum
# ---------------------------------------------------------------------------------------------------
_REWRITE_TAG = "mlmkit_blas_free"


def _blas_free_dot(x, y):
    """``x @ y`` for dense tensors of 1 or 2 dimensions, as a broadcast product and a sum."""
    import pytensor.tensor as pt

    if x.ndim == 1 and y.ndim == 1:
        return pt.sum(x * y)
    if x.ndim == 2 and y.ndim == 1:
        return pt.sum(x * y[None, :], axis=1)
    if x.ndim == 1 and y.ndim == 2:
        return pt.sum(x[:, None] * y, axis=0)
    return pt.sum(x[:, :, None] * y[None, :, :], axis=1)


def _register_rewrite() -> None:
    from pytensor.compile import optdb
    from pytensor.graph.rewriting.basic import in2out, node_rewriter
    from pytensor.tensor.math import Dot
    from pytensor.tensor.type import TensorType

    if _REWRITE_TAG in optdb.__db__:
        return

    @node_rewriter([Dot])
    def local_dot_to_sum(fgraph, node):
        x, y = node.inputs
        if not (isinstance(x.type, TensorType) and isinstance(y.type, TensorType)):
            return None                       # sparse products are left to their own ops
        if x.ndim not in (1, 2) or y.ndim not in (1, 2):
            return None
        return [_blas_free_dot(x, y).astype(node.outputs[0].dtype)]

    # position 0.5: before canonicalize (1) and long before the BLAS rewrites (gemm at 70)
    optdb.register(_REWRITE_TAG, in2out(local_dot_to_sum, name="mlmkit_dot_to_sum"), position=0.5)


def blas_free_mode():
    """The default PyTensor mode plus the rewrite that removes dense ``dot`` from a graph, linked by
    :func:`one_module_linker` (the whole graph as one C module)."""
    from pytensor.compile.mode import Mode, get_default_mode

    _register_rewrite()
    mode = get_default_mode().including(_REWRITE_TAG)
    return Mode(linker=one_module_linker(), optimizer=mode.provided_optimizer)


def one_module_linker():
    """A PyTensor linker that compiles a whole graph into one C module (PyTensor's ``CLinker``), and
    links op by op with the default linker when some op of the graph has no C code.

    PyTensor's default linker compiles one module per distinct op: some 30 for the log density and
    gradient of a lesson-10 model, each a separate g++ run (0.15-0.3 s) the first time.  One module
    runs the same C code of each op in the same order (the draws are bit-identical) for one g++ run
    of about a second, and a call skips the virtual machine's per-op dispatch.
    """
    import copy

    from pytensor.compile.mode import predefined_linkers
    from pytensor.graph.utils import MethodNotDefined
    from pytensor.link.c.basic import CLinker
    from pytensor.link.c.exceptions import CompileError
    from pytensor.link.c.op import CLinkerOp

    class OneModuleCLinker(CLinker):
        def make_thunk(self, input_storage=None, output_storage=None, storage_map=None, **kwargs):
            # What PyTensor's CLinker raises for an op or type without C code (MethodNotDefined, or
            # its own "... cannot produce C code" error) and for a module that does not compile: then
            # the graph is linked op by op below, as by default (a random draw, scipy's Cholesky, ...)
            fallback = (MethodNotDefined, NotImplementedError, CompileError)
            if all(isinstance(node.op, CLinkerOp) for node in self.fgraph.apply_nodes):
                with contextlib.suppress(*fallback):
                    return super().make_thunk(input_storage, output_storage, storage_map, **kwargs)
            vm = copy.copy(predefined_linkers["cvm"]).accept(self.fgraph, self.no_recycling)
            return vm.make_thunk(input_storage=input_storage, output_storage=output_storage,
                                 storage_map=storage_map)

    return OneModuleCLinker()


# ---------------------------------------------------------------------------------------------------
# 2. the sampler: no BLAS in the leapfrog step or in the kinetic energy
# ---------------------------------------------------------------------------------------------------
def _axpy(x, y, a=1.0):
    """BLAS ``axpy`` semantics (``y += a * x`` in place, returns ``y``) in NumPy: two roundings."""
    y += a * x
    return y


def _get_axpy(name, dtype=None, *args, **kwargs):
    if name != "axpy":
        raise MlmkitError(f"mlmkit.bayes: unexpected BLAS routine {name!r} requested by the integrator")
    return _axpy


def _energies(variance: str):
    """BLAS-free ``energy``/``velocity_energy`` for a diagonal potential whose variances are ``self.<variance>``.

    K(p) = ½ pᵀ M⁻¹ p with diagonal M⁻¹: element-wise products and NumPy's own sum, no ``ddot``.
    """
    def energy(self, x, velocity=None):
        if velocity is not None:
            return 0.5 * np.sum(x * velocity)
        return 0.5 * np.sum(x * (getattr(self, variance) * x))

    def velocity_energy(self, x, v_out):
        np.multiply(x, getattr(self, variance), out=v_out)
        return 0.5 * np.sum(x * v_out)

    return energy, velocity_energy


_energy, _velocity_energy = _energies("_var")          # QuadPotentialDiagAdapt
_diag_energy, _diag_velocity_energy = _energies("v")   # QuadPotentialDiag


@contextlib.contextmanager
def deterministic_sampling(quiet: bool = True):
    """Within the block PyMC's NUTS (diagonal mass matrix) makes no BLAS call whose rounding matters.

    Replaces, and restores on exit: the integrator's ``axpy``; the kinetic energy of
    ``QuadPotentialDiagAdapt`` and ``QuadPotentialDiag``; with ``quiet`` the level of the loggers in
    :data:`QUIET_LOGGERS` (set to ERROR) and the sampler's ``UserWarning``/``FutureWarning`` about
    chain counts and ``RuntimeWarning`` s of ArviZ's diagnostics.
    """
    from pymc.step_methods.hmc import integration, quadpotential as qp
    from scipy import linalg

    blas = SimpleNamespace(get_blas_funcs=_get_axpy)
    patches = [(integration, "linalg", SimpleNamespace(blas=blas, LinAlgError=linalg.LinAlgError)),
               (qp.QuadPotentialDiagAdapt, "energy", _energy),
               (qp.QuadPotentialDiagAdapt, "velocity_energy", _velocity_energy),
               (qp.QuadPotentialDiag, "energy", _diag_energy),
               (qp.QuadPotentialDiag, "velocity_energy", _diag_velocity_energy)]
    saved = [(obj, attr, getattr(obj, attr)) for obj, attr, _ in patches]
    levels = {name: logging.getLogger(name).level for name in QUIET_LOGGERS}
    for obj, attr, value in patches:
        setattr(obj, attr, value)
    try:
        with warnings.catch_warnings():
            if quiet:
                for name in QUIET_LOGGERS:
                    logging.getLogger(name).setLevel(logging.ERROR)
                warnings.filterwarnings("ignore", message=".*[Cc]hains.*", category=UserWarning)
                warnings.filterwarnings("ignore", category=FutureWarning, module=r"(pymc|bambi|arviz).*")
            yield
    finally:
        for obj, attr, value in saved:
            setattr(obj, attr, value)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


# ---------------------------------------------------------------------------------------------------
# fitting
# ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BayesFit:
    """A sampled model: ``bambi_model`` (None for a hand-written PyMC model), ``model`` (PyMC) and
    ``idata`` (ArviZ InferenceData with ``posterior`` and ``sample_stats``)."""

    bambi_model: Any
    model: Any
    idata: Any

    @property
    def posterior(self):
        return self.idata.posterior

    @property
    def divergences(self) -> int:
        """Number of divergent transitions after warm-up, all chains."""
        return int(self.idata.sample_stats["diverging"].sum())


def sample(model, *, draws: int = 1000, tune: int = 1000, chains: int = 2, seed: int = 1,
           target_accept: float = 0.9, quiet: bool = True, **kwargs):
    """Sample a PyMC model with :func:`deterministic_sampling` and a BLAS-free compiled graph.

    Chains run one after another in this process (``cores=1``): no worker processes, and the same
    draws for the same ``seed`` whatever the number of cores.  Returns ArviZ InferenceData.
    """
    import pymc as pm
    import pytensor

    for name, value in (("draws", draws), ("tune", tune), ("chains", chains)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ParameterError(f"{name} must be a positive integer, got {value!r}")
    if not 0 < target_accept < 1:
        raise ParameterError(f"target_accept must lie between 0 and 1, got {target_accept!r}")
    mode = blas_free_mode()
    # the mode of every function pm.sample compiles (log density, initial point, deterministics)
    with deterministic_sampling(quiet=quiet), model, pytensor.config.change_flags(mode=mode):
        return pm.sample(draws=draws, tune=tune, chains=chains, cores=1, random_seed=seed,
                         target_accept=target_accept, progressbar=False,
                         compute_convergence_checks=False, compile_kwargs={"mode": mode}, **kwargs)


def fit(formula, data: pd.DataFrame | None = None, family: str = "gaussian", *, priors: dict | None = None,
        draws: int = 1000, tune: int = 1000, chains: int = 2, seed: int = 1, target_accept: float = 0.9,
        quiet: bool = True, **model_kwargs) -> BayesFit:
    """Fit a bambi model (an lme4-style ``formula`` with ``data``), or sample a ready ``pymc.Model``.

    ``priors`` is passed to ``bambi.Model`` (a dict of ``bambi.Prior``); the other keyword arguments of
    ``bambi.Model`` go in ``model_kwargs``.  Binomial counts are written bambi's way,
    ``p(successes, trials) ~ ...``.  See :func:`sample` for the sampling arguments.
    """
    import pymc as pm

    if isinstance(formula, pm.Model):
        return BayesFit(None, formula, sample(formula, draws=draws, tune=tune, chains=chains, seed=seed,
                                              target_accept=target_accept, quiet=quiet))
    if not isinstance(formula, str):
        raise ParameterError(f"formula must be a string or a pymc.Model, got {type(formula).__name__}")
    if not isinstance(data, pd.DataFrame):
        raise ParameterError("data must be a pandas DataFrame")
    import bambi as bmb

    with deterministic_sampling(quiet=quiet):
        try:
            bm = bmb.Model(formula, data, family=family, priors=priors, **model_kwargs)
        except Exception as err:   # bambi/formulae raise many types; say which input was at fault
            raise MlmkitError(f"bambi could not build the model {formula!r}: {err}") from err
        bm.build()
    idata = sample(bm.backend.model, draws=draws, tune=tune, chains=chains, seed=seed,
                   target_accept=target_accept, quiet=quiet)
    return BayesFit(bm, bm.backend.model, idata)


def summary(fit_or_idata, var_names=None, hdi_prob: float = 0.95, digits: int = 3) -> pd.DataFrame:
    """Posterior mean, sd, equal-tailed interval, R-hat, bulk and tail ESS of the named variables.

    One row per scalar (vector variables get one row per element, labelled ``name[label]``).  Means,
    sds and interval ends are rounded to ``digits`` decimals, R-hat to 2 and ESS to whole draws.
    """
    import arviz as az

    idata = fit_or_idata.idata if isinstance(fit_or_idata, BayesFit) else fit_or_idata
    lo, hi = (1 - hdi_prob) / 2, 1 - (1 - hdi_prob) / 2
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=RuntimeWarning)
        post = idata.posterior if var_names is None else idata.posterior[list(var_names)]
        rows = {}
        rhat, ess_b, ess_t = az.rhat(post), az.ess(post, method="bulk"), az.ess(post, method="tail")
    for name in post.data_vars:
        da = post[name].stack(sample=("chain", "draw"))
        other = [d for d in da.dims if d != "sample"]
        flat = da.transpose(*other, "sample").values.reshape(-1, da.sizes["sample"])
        labels = ([name] if not other else
                  [f"{name}[{v}]" for v in da.coords[other[0]].values.astype(str)] if len(other) == 1 else
                  [f"{name}[{i}]" for i in range(flat.shape[0])])
        r, eb, et = (np.ravel(x[name].values) for x in (rhat, ess_b, ess_t))
        for k, lab in enumerate(labels):
            q = np.quantile(flat[k], [lo, hi])
            rows[lab] = {"mean": flat[k].mean(), "sd": flat[k].std(ddof=1), f"q{lo:.3g}": q[0],
                         f"q{hi:.3g}": q[1], "r_hat": r[k], "ess_bulk": eb[k], "ess_tail": et[k]}
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.iloc[:, :4] = out.iloc[:, :4].round(digits)
    out["r_hat"] = out["r_hat"].round(2)
    out[["ess_bulk", "ess_tail"]] = out[["ess_bulk", "ess_tail"]].round(0).astype(int)
    return out


def draws_hash(fit_or_idata) -> str:
    """SHA-256 of every posterior draw's bytes (variables in name order): equal hashes, equal draws."""
    import hashlib

    idata = fit_or_idata.idata if isinstance(fit_or_idata, BayesFit) else fit_or_idata
    h = hashlib.sha256()
    for name in sorted(idata.posterior.data_vars):
        h.update(name.encode())
        h.update(np.ascontiguousarray(idata.posterior[name].values, dtype=np.float64).tobytes())
    return h.hexdigest()


if "gcc__cxxflags" not in os.environ.get("PYTENSOR_FLAGS", ""):
    with contextlib.suppress(ImportError):   # the Bayesian stack is optional; fit() raises it
        configure_pytensor()
