"""Time and bytes from `alphago-jax gtp --checkpoint RUN` start to its first `genmove` answer.

    python experiments/gtp_load_time.py RUN_DIR [--sims 2] [--repeats 1]

Starts the engine as a subprocess, sends `boardsize`/`clear_board`/`genmove b` and reports the
wall seconds until the genmove reply, the bytes the engine process read (`rchar` of
/proc/PID/io: every byte read through read-like system calls, page cache hits included) and its
peak resident memory (`VmHWM`). Used to compare run-directory readers (params alone vs the whole
training state).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path


def _io(pid: int) -> dict[str, int]:
    out = {}
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        k, v = line.split(":")
        out[k.strip()] = int(v)
    return out


def _peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def measure(run_dir: str, sims: int, command: list[str]) -> tuple[float, int, int, str]:
    """(seconds to the first genmove reply, bytes read, peak RSS bytes, the reply)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [*command, "gtp", "--checkpoint", run_dir, "--sims", str(sims)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    size = None
    cfg = Path(run_dir) / "config.json"
    if cfg.is_file():
        import json

        size = json.loads(cfg.read_text()).get("size")
    proc.stdin.write(f"boardsize {size}\nclear_board\ngenmove b\n" if size else "genmove b\n")
    proc.stdin.flush()
    replies = 0
    reply = ""
    while replies < (3 if size else 1):
        line = proc.stdout.readline()
        if not line:
            raise SystemExit(f"engine exited (code {proc.wait()}) before answering")
        if line.startswith(("=", "?")):
            replies += 1
            reply = line.strip()
    seconds = time.perf_counter() - t0
    rchar = _io(proc.pid)["rchar"]
    peak = _peak_rss(proc.pid)
    proc.stdin.write("quit\n")
    proc.stdin.flush()
    proc.wait(timeout=60)
    return seconds, rchar, peak, reply


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir")
    ap.add_argument("--sims", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=1)
    args = ap.parse_args()
    command = [sys.executable, "-m", "alphago_jax.cli"]
    for i in range(args.repeats):
        seconds, rchar, peak, reply = measure(args.run_dir, args.sims, command)
        print(f"run {i}: first genmove answer after {seconds:.1f} s, {rchar / 1e9:.3f} GB read, "
              f"peak RSS {peak / 1e9:.2f} GB ({reply})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
