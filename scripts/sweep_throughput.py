"""How fast `python -m mdlib sweep` runs on this machine: one local worker, two, and a Dask cluster.

    .venv/bin/python scripts/sweep_throughput.py [--runs N]

Runs the same small grid of the landscape's runs (the book's learner: 10 iterations of 75 + 75
games on the five maps, V1, distillation on and off) three times into scratch files: with a local
pool of 1 worker, of 2 workers, and on a Dask LocalCluster of 2 single-threaded worker processes on
127.0.0.1. Prints runs per second and the wall time a full landscape table (11 x 13 settings x
10 seeds x 2 arms = 2860 runs per version) would take at that rate, and checks that the three
files are identical. Run it on an idle machine: the rates are what the cores give.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from mdlib.sweep import Sweep, run_sweep

#: Runs in one landscape table (one version): 11 alphas x 13 betas x 10 seeds x distill on/off.
LANDSCAPE_RUNS = 11 * 13 * 10 * 2


def grid(runs: int) -> Sweep:
    """A grid of about ``runs`` runs spread over the landscape's range of beta."""
    seeds = max(1, runs // 8)
    return Sweep(
        alphas=(0.3, 0.7), betas=(0.5, 100.0), seeds=tuple(range(seeds)), versions=("v1",), distills=(True, False)
    )


def timed(sweep: Sweep, out: Path, **backend) -> float:
    start = time.perf_counter()
    run_sweep(sweep, out, progress=False, **backend)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=16, help="runs per measurement (default 16)")
    args = parser.parse_args()
    if args.runs < 8:
        parser.error(f"--runs must be at least 8, got {args.runs}")
    sweep = grid(args.runs)
    n = len(sweep.runs())
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        timed(replace(sweep, seeds=(0,)), folder / "warm.csv", workers=1)  # compile the kernels
        seconds = {
            "local pool, 1 worker": timed(sweep, folder / "one.csv", workers=1),
            "local pool, 2 workers": timed(sweep, folder / "two.csv", workers=2),
        }
        from distributed import LocalCluster

        with LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        ) as cluster:
            seconds["Dask LocalCluster, 2 workers"] = timed(
                sweep, folder / "dask.csv", scheduler=cluster.scheduler_address
            )
        same = len({(folder / name).read_bytes() for name in ("one.csv", "two.csv", "dask.csv")}) == 1
    print(f"{n} runs of the landscape's learner (V1, 10 iterations of 75 + 75 games, five maps):")
    for name, value in seconds.items():
        rate = n / value
        table = LANDSCAPE_RUNS / rate / 60
        print(f"  {name:30s} {rate:5.2f} runs/s   a landscape table ({LANDSCAPE_RUNS} runs): {table:5.1f} min")
    print(f"  the three files are {'identical' if same else 'DIFFERENT'}")
    if not same:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
