"""Run a bench section's independent jobs side by side: one process per CPU core, each with one thread
(small batches gain little from a second thread, so the section takes about 1/cores of its serial time).
A job is a list of commands run in order; its first command's seconds are its wall time."""

from __future__ import annotations

import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

WORKERS = os.cpu_count() or 1
ONE_THREAD = {"AEGAN_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

def _run(cmd) -> float:
    argv, out = cmd if isinstance(cmd, tuple) else (cmd, None)
    t0 = time.perf_counter()
    with open(out, "w") if out else open(os.devnull, "w") as f:
        subprocess.run([str(a) for a in argv], check=True, stdout=f, env={**os.environ, **ONE_THREAD})
    return time.perf_counter() - t0


def run_jobs(jobs: dict[str, list], workers: int = WORKERS) -> dict[str, float]:
    """Run each job's commands (each an argv, or (argv, a file for its standard output)) in order, `workers` jobs at a time, starting them in the dict's order (put
    the longest first). Returns each job's first command's seconds; a failed command raises once the
    jobs already started have finished."""
    def one(name: str, cmds: list) -> float:
        secs = [_run(c) for c in cmds]
        print(f"job {name}: {secs[0]:.0f} s (all its commands {sum(secs):.0f} s)", flush=True)
        return secs[0]

    with ThreadPoolExecutor(max(1, workers)) as ex:
        futures = {name: ex.submit(one, name, cmds) for name, cmds in jobs.items()}
        return {name: f.result() for name, f in futures.items()}
