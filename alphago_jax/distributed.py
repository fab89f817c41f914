"""Multi-process (multi-host) runs: joining the job before jax touches a device.

Every process of a multi-process run executes the same program on its local devices; the data
mesh (`trainer.make_mesh`) spans the devices of all of them. `initialize` connects the process
to the others through `jax.distributed.initialize`; it must run before anything asks jax for
its devices. Where the settings come from, first match wins:

* the `train` flags `--coordinator HOST:PORT --num-processes N --process-id I`;
* the environment variables JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES, JAX_PROCESS_ID;
* `--distributed` alone: jax's cluster auto-detection (Cloud TPU pod slices, SLURM, ...).

Only process 0 (`is_primary`) writes the run directory's own files (config.json,
metrics.jsonl, wandb) and prints progress; checkpoints are written by all processes together
through orbax.
"""

from __future__ import annotations

import os
from typing import NamedTuple

import jax
from jax.experimental import multihost_utils

ENV = ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID")
"""The environment variables read when the flags are not given."""


class DistributedError(ValueError):
    """Settings of a multi-process run that do not fit together."""


class Cluster(NamedTuple):
    """How this process joins a multi-process run.

    Attributes:
      coordinator: 'HOST:PORT' of process 0's coordinator service, or None (auto-detect).
      num_processes: processes in the run, or None (auto-detect).
      process_id: this process's index in 0..num_processes - 1, or None (auto-detect).
    """

    coordinator: str | None
    num_processes: int | None
    process_id: int | None


def _env_int(name: str) -> int | None:
    text = os.environ.get(name, "").strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise DistributedError(f"{name} must be an integer, got {text!r}") from None


def resolve(coordinator: str | None = None, num_processes: int | None = None,
            process_id: int | None = None, auto: bool = False) -> Cluster | None:
    """The cluster settings of the flags, else of the environment (`ENV`); None for a
    one-process run.

    Raises:
      DistributedError: a process id without a process count or the reverse, an id out of
        range, a count without a coordinator, or a coordinator not like HOST:PORT.
    """
    given = (coordinator, num_processes, process_id)
    source = "--coordinator/--num-processes/--process-id"
    if all(v is None for v in given):
        coordinator = os.environ.get(ENV[0]) or None
        num_processes, process_id = _env_int(ENV[1]), _env_int(ENV[2])
        source = "/".join(ENV)
    if coordinator is None and num_processes is None and process_id is None:
        return Cluster(None, None, None) if auto else None
    if (num_processes is None) != (process_id is None):
        missing = "process count" if num_processes is None else "process id"
        raise DistributedError(f"{source}: a process id and a process count go together; the "
                               f"{missing} is missing")
    if num_processes is not None:
        if num_processes < 1:
            raise DistributedError(f"{source}: the process count must be >= 1, got "
                                   f"{num_processes}")
        if not 0 <= process_id < num_processes:
            raise DistributedError(f"{source}: the process id must be in 0..{num_processes - 1} "
                                   f"(the count is {num_processes}), got {process_id}")
        if coordinator is None:
            raise DistributedError(f"{source}: {num_processes} processes need a coordinator "
                                   "address HOST:PORT (process 0's host)")
    if coordinator is not None:
        host, _, port = coordinator.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise DistributedError(f"{source}: the coordinator must be HOST:PORT, got "
                                   f"{coordinator!r}")
    return Cluster(coordinator, num_processes, process_id)


def initialize(cluster: Cluster | None) -> None:
    """Joins the multi-process run `cluster` (nothing for None). Call before anything asks jax
    for its devices."""
    if cluster is None:
        return
    # CPU processes exchange collectives (the gradient pmean) through gloo; set before the
    # backend starts. It changes nothing on GPU or TPU.
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(cluster.coordinator, cluster.num_processes, cluster.process_id)


def is_primary() -> bool:
    """Process 0: the one that writes the run directory's files and prints."""
    return jax.process_index() == 0


def barrier(name: str) -> None:
    """Waits until every process reaches the barrier `name` (nothing in a one-process run)."""
    if jax.process_count() > 1:
        multihost_utils.sync_global_devices(name)
