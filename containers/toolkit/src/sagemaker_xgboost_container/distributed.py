"""``sagemaker_xgboost_container.distributed``: what XGBoost scripts call to train across hosts.

``rabit_run`` runs ``exec_fun(**args)`` (adding ``is_master`` when ``update_rabit_args``). One host: it
runs here, as master. Several hosts: the first host (sorted) starts XGBoost's own RabitTracker and
every host joins it through ``xgboost.collective`` before running ``exec_fun``, so xgb.train
synchronises across the job's containers. Hosts without data are not left out (SageMaker drops them
from the ring): every host must have training data."""

from __future__ import annotations

import logging
import socket
import time

log = logging.getLogger(__name__)
TRACKER_PORT = 9099


def wait_hostname_resolution(sm_hosts, timeout=900):
    """Until every host name resolves (they may lag on a fresh network)."""
    deadline = time.monotonic() + timeout
    for host in sm_hosts:
        while True:
            try:
                socket.gethostbyname(host)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)


def rabit_run(exec_fun, args, include_in_training, hosts, current_host, first_port=None, second_port=None,
              max_connect_attempts=None, connect_retry_timeout=3, update_rabit_args=False):
    hosts = sorted(hosts)
    if len(hosts) == 1:
        return exec_fun(**args, **({"is_master": True} if update_rabit_args else {}))
    if not include_in_training:
        raise RuntimeError(f"{current_host} has no training data; smlocal's multi-host XGBoost needs data on "
                           "every host (use ShardedByS3Key with at least one object per host, or FullyReplicated).")
    from xgboost import collective
    from xgboost.tracker import RabitTracker

    wait_hostname_resolution(hosts)
    port = second_port or TRACKER_PORT
    master = hosts[0]
    tracker = None
    if current_host == master:
        tracker = RabitTracker(host_ip=socket.gethostbyname(master), n_workers=len(hosts), port=port, sortby="task")
        tracker.start(len(hosts))
    else:
        time.sleep(connect_retry_timeout)  # let the tracker start (a probe connection would confuse it)
    env = {"DMLC_TRACKER_URI": socket.gethostbyname(master), "DMLC_TRACKER_PORT": port,
           "DMLC_TASK_ID": str(hosts.index(current_host))}
    try:
        with collective.CommunicatorContext(**env):
            is_master = collective.get_rank() == 0
            log.info("Joined the XGBoost ring as rank %d of %d", collective.get_rank(), collective.get_world_size())
            return exec_fun(**args, **({"is_master": is_master} if update_rabit_args else {}))
    finally:
        if tracker is not None:
            tracker.join()
