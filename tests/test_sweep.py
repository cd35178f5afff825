"""Sweeps: a grid of settings x seeds as one tidy table, resumable, on a pool or a Dask cluster.

The specification of ``python -m mdlib sweep`` (``mdlib.sweep``):

* grids, seeds and switches are read from lists, ranges and log ranges; anything malformed is one
  clear error before any work, and nothing is written;
* every run is one row whose measures are those of the run itself (the learner's or the exact
  alternation's result), and a file is readable by pandas;
* rows are appended as runs finish; a rerun with the same arguments skips finished runs, an
  interrupted file (a torn last line included) is completed to the same bytes as an uninterrupted
  run, and a rerun with other arguments is refused;
* a local pool and a Dask cluster (a LocalCluster on 127.0.0.1) give identical files.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from mdlib import MultiDistral, solve_distral
from mdlib import sweep as sweep_module
from mdlib.files import OutputError
from mdlib.sweep import Sweep, load, parse_grid, parse_seeds, run_sweep

SMALL = dict(iterations=2, m_games=3)
TINY = Sweep(
    alphas=(0.7,),
    betas=(0.5, 10.0),
    seeds=(0, 1),
    versions=("v1",),
    methods=("multidistral",),
    tasks=("task1", "task5"),
    e_games=(3,),
    learner=SMALL,
)


def mdlib_cli(*args):
    return subprocess.run([sys.executable, "-m", "mdlib", "sweep", *args], capture_output=True, text=True, timeout=600)


# --- reading grids ---------------------------------------------------------------------------------


def test_grids_are_lists_linear_ranges_or_log_ranges():
    assert parse_grid("0,0.5,1", "--alphas") == (0.0, 0.5, 1.0)
    assert parse_grid("0:1:11", "--alphas") == tuple(round(0.1 * k, 10) for k in range(11))
    assert parse_grid("0:1:11", "--alphas")[3] == 0.3  # not 0.30000000000000004
    betas = parse_grid("log:0.1:100:13", "--betas")
    assert len(betas) == 13 and betas[0] == 0.1 and betas[-1] == 100.0
    assert np.allclose(np.diff(np.log(betas)), np.log(1000) / 12)
    assert parse_seeds("3") == (0, 1, 2) and parse_seeds("100-102") == (100, 101, 102)
    assert parse_seeds("4,9") == (4, 9)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--alphas", "0:1"], "--alphas: expected a list (0,0.5,1), a range (0:1:11) or a log range"),
        (["--alphas", "1.5"], "alpha must lie in [0, 1], got 1.5"),
        (["--betas", "log:0.1:100:0"], "--betas: a range needs at least one value, got 0"),
        (["--betas", "0,1"], "beta must lie in (0, inf), got 0.0"),
        (["--betas", "1,1"], "betas repeat a value"),
        (["--seeds", "0"], "--seeds: need at least one seed, got 0"),
        (["--seeds", "a-b"], "--seeds: expected a count (10), a range (100-119) or a list (1,5,9)"),
        (["--versions", "v3"], "--versions: expected v1 or v2, got 'v3'"),
        (["--methods", "exact"], "--methods: expected multidistral or exact_alone or exact_both, got 'exact'"),
        (["--q-init", "warm"], "--q-init: expected a number or 'wander', got 'warm'"),
        (["--distill", "maybe"], "--distill: expected on or off, got 'maybe'"),
        (["--e-games", "0"], "--e-games: must be at least 1, got 0"),
        (["--out", "/proc/sweep.csv"], "cannot write in /proc"),
        (["--out", "DIR/sweep.txt"], "must end in .csv"),
        (["--scheduler", "tcp://127.0.0.1:1"], "--scheduler tcp://127.0.0.1:1: cannot reach a Dask scheduler there"),
    ],
)
def test_bad_arguments_fail_before_any_work_and_write_nothing(tmp_path, args, message):
    base = {
        "--alphas": "0.7",
        "--betas": "0.5",
        "--seeds": "1",
        "--versions": "v1",
        "--tasks": "task5",
        "--iterations": "1",
        "--e-games": "1",
        "--m-games": "1",
        "--out": str(tmp_path / "s.csv"),
    }
    for name, value in zip(args[::2], args[1::2]):
        base[name] = value.replace("DIR", str(tmp_path))
    done = mdlib_cli(*[x for pair in base.items() for x in pair], "--no-progress")
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and done.stderr.count("error:") == 1 and "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []


# --- what a row holds ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("sweep") / "tiny.csv"
    run_sweep(TINY, path, workers=2, progress=False)
    return path


def test_a_row_holds_the_runs_own_measures(tiny_file):
    arguments, frame = load(tiny_file)
    assert arguments == json.loads(TINY.to_json()) and len(frame) == 4
    row = frame[(frame.beta == 10.0) & (frame.seed == 1)].iloc[0]
    result = MultiDistral(alpha=0.7, beta=10.0, e_games=3, **SMALL).run(("task1", "task5"), seed=1)
    sampled = result.eval_returns["sampled"]
    assert row.final == sampled[:, -1].mean() and row.final_agent_2 == sampled[:, -1, 1].mean()
    assert row.final_task_2 == sampled[1, -1].mean()
    assert [row.curve_01, row.curve_02] == list(sampled.mean(axis=(0, 2)))
    assert row.greedy_final == result.eval_returns["greedy"][:, -1].mean()
    assert row.env_steps == result.env_steps
    assert row.objective_02 == result.diagnostics.objective.sum(axis=(0, 2))[-1]
    assert row.entropy_01 == result.diagnostics.entropy.mean(axis=(0, 2))[0]
    assert json.loads(row.settings) == {
        "distill": True,
        "e_games": 3,
        "iterations": 2,
        "m_games": 3,
        "q_init": 0.0,
        "rollouts_learn": False,
    }


def test_exact_rows_have_no_seed_and_the_solvers_measures(tmp_path):
    sweep = Sweep(
        alphas=(0.7,),
        betas=(10.0,),
        seeds=(0,),
        versions=("v2",),
        methods=("exact_alone",),
        tasks=("task1", "task5"),
        learner=dict(iterations=3),
    )
    path = run_sweep(sweep, tmp_path / "exact.csv", workers=1, progress=False)
    _, frame = load(path)
    (row,) = frame.itertuples()
    solution = solve_distral(("task1", "task5"), 0.7, 10.0, iterations=3, version="v2")
    assert np.isnan(row.seed) and row.method == "exact_alone"
    assert row.final == solution.task_return[-1].mean() and row.objective_03 == solution.objective[-1]
    assert row.kl_01 == solution.kl.mean(axis=(1, 2))[0] and row.weighted_residual == solution.weighted_residual.max()
    assert row.curve_03 == solution.task_return[-1].mean() and row.converged
    assert row.games_to_95 == 150  # the first iteration, placed where the learner's first ends


# --- resuming ----------------------------------------------------------------------------------------


def test_an_interrupted_sweep_resumes_to_the_same_file_recomputing_only_what_is_missing(
    tiny_file, tmp_path, monkeypatch
):
    complete = tiny_file.read_bytes()
    lines = complete.decode().splitlines(keepends=True)
    path = tmp_path / "resumed.csv"
    path.write_text("".join(lines[:3]) + lines[3][:25])  # header, columns, one row, a torn row
    computed = []
    real = sweep_module.run_one
    monkeypatch.setattr(sweep_module, "run_one", lambda run: computed.append(run.key()) or real(run))
    run_sweep(TINY, path, workers=1, progress=False)
    assert path.read_bytes() == complete
    assert len(computed) == 3  # the row that was written is not run again
    computed.clear()
    run_sweep(TINY, path, workers=1, progress=False)
    assert computed == [] and path.read_bytes() == complete


def test_other_arguments_into_the_same_file_are_refused(tiny_file, tmp_path):
    path = tmp_path / "kept.csv"
    path.write_bytes(tiny_file.read_bytes())
    other = Sweep(**{**TINY.__dict__, "seeds": (0, 1, 2)})
    with pytest.raises(OutputError, match="holds a sweep with other arguments"):
        run_sweep(other, path, workers=1, progress=False)
    assert path.read_bytes() == tiny_file.read_bytes()
    (tmp_path / "notes.csv").write_text("a,b\n1,2\n")
    with pytest.raises(OutputError, match="is not a sweep file"):
        run_sweep(TINY, tmp_path / "notes.csv", workers=1, progress=False)


def test_the_cli_resumes_and_reports(tmp_path):
    args = [
        "--alphas",
        "0.7",
        "--betas",
        "0.5",
        "--seeds",
        "2",
        "--versions",
        "v1",
        "--tasks",
        "task5",
        "--iterations",
        "1",
        "--e-games",
        "2",
        "--m-games",
        "2",
        "--out",
        str(tmp_path / "s.csv"),
        "--no-progress",
        "--workers",
        "1",
    ]
    first = mdlib_cli(*args)
    assert first.returncode == 0, first.stderr
    before = (tmp_path / "s.csv").read_bytes()
    again = mdlib_cli(*args)
    assert again.returncode == 0 and (tmp_path / "s.csv").read_bytes() == before
    assert "wrote 2 runs" in again.stdout


# --- backends ----------------------------------------------------------------------------------------


def test_a_dask_cluster_gives_the_same_rows_as_the_local_pool(tiny_file, tmp_path):
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        path = run_sweep(TINY, tmp_path / "dask.csv", scheduler=cluster.scheduler_address, progress=False)
    assert path.read_bytes() == tiny_file.read_bytes()
