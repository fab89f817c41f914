"""Test-session settings: a persistent XLA compilation cache shared by every test process.

Many tests compile the same programs (the tiny training iteration in each `train` command, the
match loop's search for each checkpoint player, the notebooks' kernels); with the cache, the
second compile of an identical program is a disk read. Set before jax is imported anywhere, as
environment variables, so subprocesses (CLI runs, notebook kernels, pytest-xdist workers) share
it. Results are unchanged: a cached executable is the one XLA compiled.
"""

import os
import tempfile

os.environ.setdefault(
    "JAX_COMPILATION_CACHE_DIR", os.path.join(tempfile.gettempdir(), "alphago-jax-test-xla-cache")
)
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")
# Every test picks its device count: one unless it says otherwise (tests/test_scale.py runs its
# own subprocesses with JAX_NUM_CPU_DEVICES set, and one without it for `cpu_devices`' default),
# so a `train` command run in a test process never claims one device per core.
os.environ.setdefault("JAX_NUM_CPU_DEVICES", "1")
