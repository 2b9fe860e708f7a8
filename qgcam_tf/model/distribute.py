"""Distribution strategies for training, and local clusters of worker processes.

``qgcam train --distribute`` names a strategy (:data:`DISTRIBUTE`):

* ``none``: one process, no strategy (the default);
* ``mirrored``: ``tf.distribute.MirroredStrategy`` over this machine's devices (on a
  CPU-only machine that is one replica: TensorFlow Quantum has no GPU kernels);
* ``multi-worker``: ``tf.distribute.MultiWorkerMirroredStrategy``, one process per task
  of the cluster that the ``TF_CONFIG`` environment variable describes, in TensorFlow's
  standard format::

      {"cluster": {"worker": ["host1:12345", "host2:12345"]},
       "task": {"type": "worker", "index": 0}}

The strategy must be created before TensorFlow runs its first operation (a multi-worker
strategy configures the collective ops of the process) and before TensorFlow Quantum is
imported (as TFQ's own multi-worker tutorial does): :func:`strategy_for` is the first thing
``qgcam train`` does after its arguments are checked. The package imports TFQ only when a
VQC layer is built on the ``tfq`` executor, which happens under the strategy's scope.

:func:`parse_tf_config` checks a ``TF_CONFIG`` without TensorFlow (so a typo exits before
anything loads); :func:`local_cluster_configs` and :func:`start_local_workers` run a cluster
of processes on 127.0.0.1 (tests and the training benchmark).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
from collections.abc import Mapping, Sequence

__all__ = [
    "DISTRIBUTE",
    "TF_CONFIG_ENV",
    "free_ports",
    "is_chief",
    "local_cluster_configs",
    "parse_tf_config",
    "start_local_workers",
    "start_worker",
    "strategy_for",
    "worker_index",
]

DISTRIBUTE = ("none", "mirrored", "multi-worker")
TF_CONFIG_ENV = "TF_CONFIG"
# The task types of TF_CONFIG that train (an "evaluator" or "ps" is not a
# MultiWorkerMirroredStrategy task).
_TRAINING_TASKS = ("chief", "worker")


def parse_tf_config(text: str | None) -> dict:
    """The cluster and task of a ``TF_CONFIG`` text, checked without TensorFlow.

    Args:
        text: the value of the ``TF_CONFIG`` environment variable (None: not set).

    Returns:
        The parsed dict (``cluster`` and ``task``).

    Raises:
        ValueError: not set, not JSON, no ``cluster`` of ``host:port`` lists, a ``task``
            whose type is not a job of the cluster (or not ``chief``/``worker``), or whose
            index is not an int in range. The message names the value.
    """
    if text is None or not text.strip():
        raise ValueError(
            "--distribute multi-worker reads the cluster from the TF_CONFIG environment "
            "variable, which is not set"
        )
    try:
        config = json.loads(text)
    except ValueError as e:
        raise ValueError(f"TF_CONFIG is not valid JSON ({e}): {text!r}") from None
    if not isinstance(config, dict):
        raise ValueError(f"TF_CONFIG must be a JSON object with cluster and task, got {text!r}")
    cluster = config.get("cluster")
    if not isinstance(cluster, dict) or not cluster:
        raise ValueError(
            f"TF_CONFIG needs a 'cluster' object of job name -> ['host:port', ...], got {text!r}"
        )
    for job, addresses in cluster.items():
        if (
            not isinstance(addresses, list)
            or not addresses
            or not all(isinstance(a, str) and _is_address(a) for a in addresses)
        ):
            raise ValueError(
                f"TF_CONFIG cluster job {job!r} must be a non-empty list of 'host:port', "
                f"got {addresses!r}"
            )
    unknown = sorted(set(cluster) - set(_TRAINING_TASKS))
    if unknown:
        raise ValueError(
            f"TF_CONFIG cluster jobs must be 'chief' and/or 'worker' for multi-worker "
            f"training, got {unknown}"
        )
    if len(cluster.get("chief", [])) > 1:
        raise ValueError(f"TF_CONFIG cluster may have one 'chief' at most, got {cluster['chief']}")
    task = config.get("task")
    if not isinstance(task, dict):
        raise ValueError(f"TF_CONFIG needs a 'task' object with type and index, got {text!r}")
    task_type, index = task.get("type"), task.get("index")
    if task_type not in cluster:
        raise ValueError(
            f"TF_CONFIG task type must be one of the cluster's jobs {sorted(cluster)}, "
            f"got {task_type!r}"
        )
    count = len(cluster[task_type])
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < count:
        raise ValueError(
            f"TF_CONFIG task index must be an int in [0, {count - 1}] (the cluster has "
            f"{count} {task_type!r} address(es)), got {index!r}"
        )
    return config


def _is_address(text: str) -> bool:
    host, sep, port = text.rpartition(":")
    return bool(sep and host and port.isdigit() and 0 < int(port) < 65536)


def strategy_for(name: str):
    """The strategy of ``--distribute name`` (None for ``"none"``).

    Call it before TensorFlow runs any operation and before TensorFlow Quantum is imported
    (see the module docstring).

    Raises:
        ValueError: ``name`` is not one of :data:`DISTRIBUTE`, or (``multi-worker``) the
            ``TF_CONFIG`` environment variable is missing or malformed
            (:func:`parse_tf_config`).
        RuntimeError: TensorFlow already ran an operation in this process (multi-worker).
    """
    if name not in DISTRIBUTE:
        raise ValueError(f"distribute must be one of {DISTRIBUTE}, got {name!r}")
    if name == "none":
        return None
    import tensorflow as tf

    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    parse_tf_config(os.environ.get(TF_CONFIG_ENV))
    return tf.distribute.MultiWorkerMirroredStrategy()


def is_chief(strategy) -> bool:
    """Whether this process writes the run directory: True without a strategy, with a
    single-process strategy, and on a cluster's chief (the ``chief`` task, or ``worker`` 0
    when the cluster has no ``chief``)."""
    return strategy is None or bool(strategy.extended.should_checkpoint)


def worker_index(strategy) -> int:
    """This process's task index in its cluster (0 without a multi-worker strategy)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    task_id = getattr(resolver, "task_id", None) if resolver is not None else None
    return int(task_id or 0)


def free_ports(n: int) -> list[int]:
    """``n`` distinct TCP ports on 127.0.0.1 that were free a moment ago (the kernel's
    choice; all held at once while choosing, so they differ)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an int >= 1, got {n!r}")
    sockets = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def local_cluster_configs(n: int, ports: Sequence[int] | None = None) -> list[dict]:
    """The ``TF_CONFIG`` of each of ``n`` workers on 127.0.0.1 (worker 0 is the chief).

    Args:
        n: number of workers, >= 1.
        ports: their ports (default: :func:`free_ports`).

    Raises:
        ValueError: ``n`` < 1, or ``ports`` is not ``n`` ports.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an int >= 1, got {n!r}")
    ports = free_ports(n) if ports is None else list(ports)
    if len(ports) != n:
        raise ValueError(f"ports must hold {n} ports, got {ports!r}")
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    return [{"cluster": cluster, "task": {"type": "worker", "index": i}} for i in range(n)]


def start_worker(
    command: Sequence[str],
    config: dict,
    *,
    env: Mapping[str, str] | None = None,
    **popen_kwargs,
) -> subprocess.Popen:
    """Starts ``command`` with ``TF_CONFIG`` set to ``config`` (JSON).

    Args:
        command: the argument list (e.g. ``[python, "-m", "qgcam_tf", "train", ...,
            "--distribute", "multi-worker"]``).
        config: this worker's ``TF_CONFIG`` (:func:`local_cluster_configs`).
        env: the environment (default: this process's); ``TF_CONFIG`` is set on a copy.
        **popen_kwargs: passed to ``subprocess.Popen`` (``stdout``, ``cwd``, ...).
    """
    parse_tf_config(json.dumps(config))
    environment = dict(os.environ if env is None else env)
    environment[TF_CONFIG_ENV] = json.dumps(config)
    return subprocess.Popen(list(command), env=environment, **popen_kwargs)


def start_local_workers(
    command: Sequence[str],
    n: int,
    *,
    env: Mapping[str, str] | None = None,
    configs: Sequence[dict] | None = None,
    **popen_kwargs,
) -> list[subprocess.Popen]:
    """Starts ``n`` copies of ``command`` as the workers of a cluster on 127.0.0.1.

    Each gets its own ``TF_CONFIG`` (``configs``, default :func:`local_cluster_configs`
    of ``n`` free ports); worker 0 is the chief. The caller waits for them (with a timeout).

    Returns:
        The processes, worker 0 first.
    """
    configs = local_cluster_configs(n) if configs is None else list(configs)
    if len(configs) != n:
        raise ValueError(f"configs must hold {n} TF_CONFIGs, got {len(configs)}")
    return [start_worker(command, c, env=env, **popen_kwargs) for c in configs]
