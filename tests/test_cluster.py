"""Bootstrap and power replicates on a Dask cluster (joblib's "dask" backend): the same numbers.

Needs the ``cluster`` extra (dask[distributed]); skipped otherwise.  The cluster is a LocalCluster of
two worker *processes*, so models are pickled to other interpreters exactly as on a real cluster.
"""
from __future__ import annotations

import os

import numpy as np
import pytest

distributed = pytest.importorskip("dask.distributed", reason="the cluster extra is not installed (pip install -e '.[cluster]')")

from joblib import parallel_config  # noqa: E402

import mlmkit  # noqa: E402
from mlmkit import datasets  # noqa: E402

POWER = dict(n_clusters=8, nsim=16, seed=3, progress=False, cluster_size=5,
             fixed={"(Intercept)": 0.0, "x1": 0.5}, re_cov=[[1.0]], sigma2=1.0)


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as c:
        yield c


def _fixef_and_pid(fit):
    return {"(Intercept)": fit.fixef.iloc[0], "Days": fit.fixef.iloc[1], "pid": os.getpid()}


def test_bootstrap_on_the_cluster_equals_one_process(client):
    m = mlmkit.lmer("Reaction ~ Days + (Days | Subject)", datasets.load("sleepstudy"))
    local = mlmkit.bootstrap(m, _fixef_and_pid, nsim=40, seed=7, progress=False)
    with parallel_config(backend="dask"):
        remote = mlmkit.bootstrap(m, _fixef_and_pid, nsim=40, seed=7, n_jobs=-1, progress=False)
    cols = ["(Intercept)", "Days"]
    np.testing.assert_array_equal(local.replicates[cols].to_numpy(), remote.replicates[cols].to_numpy())
    worker_pids = set(client.run(os.getpid).values())
    assert set(remote.replicates["pid"].astype(int)) <= worker_pids       # the fits ran on the workers
    assert os.getpid() not in set(remote.replicates["pid"].astype(int))


def test_power_on_the_cluster_equals_one_process(client):
    local = mlmkit.power("y ~ x1 + (1 | cluster)", "x1", **POWER)
    with distributed.get_task_stream(client) as ts, parallel_config(backend="dask"):
        remote = mlmkit.power("y ~ x1 + (1 | cluster)", "x1", n_jobs=-1, **POWER)
    assert len(ts.data) > 0                                                # tasks went through the scheduler
    np.testing.assert_array_equal(local.pvalues, remote.pvalues)
    np.testing.assert_array_equal(local.estimates, remote.estimates)
    assert local.power == remote.power
