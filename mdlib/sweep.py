"""Sweeps: many settings × seeds of MultiDistral and of the exact alternation, as one tidy table.

A sweep is a grid of Distral settings (α, β), versions and learner switches, each run over a list
of seeds (the sampled learner) or once (the exact alternation of :func:`mdlib.solve_distral`,
which has no randomness). Every finished run is one row of a CSV file: every setting and every
measure a column, readable by ``pandas.read_csv(path, comment="#")``. The file starts with one
comment line holding the sweep's arguments, so that

* the sweep is **resumable**: rows are appended (and flushed to disk) as each run finishes, a
  rerun with the same arguments skips the runs already in the file, and an interrupted sweep
  loses at most the runs in flight (a torn last line is dropped);
* a rerun with **different arguments** into the same file is refused before any work;
* when every run is in, the file is rewritten in a canonical row order, so the same arguments
  give the same bytes whatever the order in which runs finished.

Runs are spread over a local process pool (default), or over an existing Dask cluster
(``dask.distributed``) given its scheduler address: the standard way to use many machines. A
run's row depends only on its settings and seed, so both backends give identical rows.

Measures of a row (returns discounted with γ = 0.99, averaged over the two agents unless the
column names one, and over the tasks unless it names one): ``final`` and ``final_agent_1/2``
(the last evaluation of the learned or exact task policies), ``final_task_<k>``, the learning
curve ``curve_<iteration>``, ``games_to_95`` (games per task until the curve first reaches 95%
of the exact joint optimum; empty if it never does) and ``auc`` (the curve's mean over its points,
as a share of that optimum), and per iteration J (``objective_<iteration>``, the soft values at the
start summed over tasks and agents) and the task policies' ``entropy_`` and ``kl_`` from the prior.
Sampled rows add the greedy evaluation (``greedy_final``...); exact rows the arrival probability
and the E-step's convergence. For exact rows "games" place iteration k where the learner's k-th
iteration ends.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import math
import multiprocessing
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field, replace
from itertools import product
from pathlib import Path

import numpy as np

from .files import OutputError, check_output_file, write_text_atomically
from .learners import MultiDistral
from .learners.base import check_count, check_real, require
from .tasks import resolve_tasks

METHODS = ("multidistral", "exact_alone", "exact_both")
VERSIONS = ("v1", "v2")
HEADER_PREFIX = "# mdlib sweep: "
#: The share of the exact joint optimum that counts as "reached" for ``games_to_95``.
REACHED = 0.95


@dataclass(frozen=True)
class Sweep:
    """The arguments of a sweep: a grid of settings and, for the sampled learner, seeds.

    Lists of learner switches (``q_inits``, ``distills``, ...) multiply the grid like α and β.
    ``learner`` holds the MultiDistral settings that are the same in every run.
    """

    alphas: tuple[float, ...]
    betas: tuple[float, ...]
    seeds: tuple[int, ...] = tuple(range(10))
    versions: tuple[str, ...] = ("v1", "v2")
    methods: tuple[str, ...] = ("multidistral",)
    tasks: tuple[str, ...] = ("task1", "task2", "task3", "task4", "task5")
    q_inits: tuple = (0.0,)
    distills: tuple[bool, ...] = (True,)
    rollouts_learns: tuple[bool, ...] = (False,)
    e_games: tuple[int, ...] = (75,)
    learner: dict = field(default_factory=dict)

    def __post_init__(self):
        require(len(self.alphas) > 0 and len(self.betas) > 0, "a sweep needs at least one alpha and one beta")
        for alpha in self.alphas:
            check_real("alpha", alpha, 0.0, 1.0)
        for beta in self.betas:
            check_real("beta", beta, 0.0, float("inf"), low_open=True, high_open=True)
        require(len(self.seeds) > 0, "a sweep needs at least one seed")
        require(len(set(self.seeds)) == len(self.seeds), f"seeds must be distinct, got {list(self.seeds)}")
        for seed in self.seeds:
            check_count("seed", seed, minimum=0)
        for name, values, allowed in (("version", self.versions, VERSIONS), ("method", self.methods, METHODS)):
            require(len(values) > 0, f"a sweep needs at least one {name}")
            for value in values:
                require(value in allowed, f"{name} must be one of {', '.join(allowed)}, got {value!r}")
        for name in ("alphas", "betas", "versions", "methods", "q_inits", "distills", "rollouts_learns", "e_games"):
            values = getattr(self, name)
            require(len(set(values)) == len(values), f"{name} repeat a value: {list(values)}")
        resolve_tasks(list(self.tasks))
        for variant in self.variants():  # every learner setting is checked before any work
            MultiDistral(version="v1", alpha=self.alphas[0], beta=self.betas[0], **variant)

    def variants(self) -> list[dict]:
        """The learner settings of the sampled runs, one dict per combination of the switches."""
        return [
            {**self.learner, "q_init": q, "distill": d, "rollouts_learn": r, "e_games": e}
            for q, d, r, e in product(self.q_inits, self.distills, self.rollouts_learns, self.e_games)
        ]

    def runs(self) -> list[Run]:
        """Every run of the sweep, in the canonical order of the finished file."""
        out = []
        for method, version, alpha, beta in product(self.methods, self.versions, self.alphas, self.betas):
            if method == "multidistral":
                for variant, seed in product(self.variants(), self.seeds):
                    out.append(Run(method, version, float(alpha), float(beta), self.tasks, variant, int(seed)))
            else:
                learner = MultiDistral(**self.variants()[0])
                exact = {"iterations": learner.iterations, "games_per_iteration": learner.games_per_iteration}
                out.append(Run(method, version, float(alpha), float(beta), self.tasks, exact, None))
        return out

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


@dataclass(frozen=True)
class Run:
    """One row of a sweep: a method at one setting, and a seed for the sampled learner."""

    method: str
    version: str
    alpha: float
    beta: float
    tasks: tuple[str, ...]
    settings: dict
    seed: int | None

    def key(self) -> tuple:
        return (
            self.method,
            self.version,
            repr(self.alpha),
            repr(self.beta),
            json.dumps(self.settings, sort_keys=True),
            "" if self.seed is None else str(self.seed),
        )


SETTING_COLUMNS = ("method", "version", "alpha", "beta", "settings", "seed")


def _row_key(row: dict) -> tuple:
    return tuple(row[c] for c in SETTING_COLUMNS)


def _curve_measures(
    curve: np.ndarray,
    per_agent_final: np.ndarray,
    per_task_final: np.ndarray,
    x: np.ndarray,
    optimum: float,
    prefix: str = "",
) -> dict:
    """The measures shared by every row: final returns, the curve, games to 95% and its area."""
    reached = np.flatnonzero(curve >= REACHED * optimum)
    row = {
        f"{prefix}final": float(per_agent_final.mean()),
        f"{prefix}final_agent_1": float(per_agent_final[0]),
        f"{prefix}final_agent_2": float(per_agent_final[1]),
    }
    if prefix:
        return row
    row |= {f"final_task_{k + 1}": float(v) for k, v in enumerate(per_task_final)}
    row |= {f"curve_{k + 1:02d}": float(v) for k, v in enumerate(curve)}
    row["games_to_95"] = int(x[reached[0]]) if len(reached) else ""
    row["auc"] = float(curve.mean() / optimum)
    return row


@functools.lru_cache(maxsize=None)
def _optimum(tasks: tuple[str, ...]) -> float:
    """The exact joint optimum per agent of a task set (seconds to compute: once per process)."""
    from .experiments import optimum_per_agent

    return optimum_per_agent(tasks)


def run_one(run: Run) -> dict:
    """Compute one row (a pure function of ``run``: the same row on every backend)."""
    optimum = _optimum(tuple(run.tasks))
    row = {
        "method": run.method,
        "version": run.version,
        "alpha": run.alpha,
        "beta": run.beta,
        "settings": json.dumps(run.settings, sort_keys=True),
        "seed": "" if run.seed is None else run.seed,
    }
    if run.method == "multidistral":
        method = MultiDistral(version=run.version, alpha=run.alpha, beta=run.beta, **run.settings)
        result = method.run(run.tasks, seed=run.seed)
        sampled = result.eval_returns["sampled"]  # (tasks, points, agents)
        greedy = result.eval_returns["greedy"]
        row |= _curve_measures(
            sampled.mean(axis=(0, 2)), sampled[:, -1].mean(axis=0), sampled[:, -1].mean(axis=1), result.eval_x, optimum
        )
        row |= _curve_measures(
            greedy.mean(axis=(0, 2)), greedy[:, -1].mean(axis=0), None, result.eval_x, optimum, prefix="greedy_"
        )
        d = result.diagnostics  # (tasks, iterations, agents)
        row |= _diagnostic_curves(d.objective.sum(axis=(0, 2)), d.entropy.mean(axis=(0, 2)), d.kl.mean(axis=(0, 2)))
        row["env_steps"] = int(result.env_steps)
        return row
    from .exact_distral import solve_distral

    players = "alone" if run.method == "exact_alone" else "both"
    solution = solve_distral(
        run.tasks, run.alpha, run.beta, iterations=run.settings["iterations"], version=run.version, players=players
    )
    returns = solution.task_return  # (iterations, tasks, agents)
    x = (np.arange(len(returns)) + 1) * run.settings["games_per_iteration"]  # placed as the learner's iterations
    row |= _curve_measures(returns.mean(axis=(1, 2)), returns[-1].mean(axis=0), returns[-1].mean(axis=1), x, optimum)
    row |= _diagnostic_curves(solution.objective, solution.entropy.mean(axis=(1, 2)), solution.kl.mean(axis=(1, 2)))
    row |= {
        "arrival": float(solution.arrival[-1].mean()),
        "converged": bool(solution.converged.all()),
        "residual": float(solution.residual.max()),
        "weighted_residual": float(solution.weighted_residual.max()),
    }
    return row


def _diagnostic_curves(objective, entropy, kl) -> dict:
    """Per iteration: J (the soft values at the start, summed over tasks and agents), and the
    task policies' entropy and KL from the prior (occupancy-weighted, averaged over tasks and
    agents), for the sampled and the exact alternation alike."""
    row = {}
    for name, values in (("objective", objective), ("entropy", entropy), ("kl", kl)):
        row |= {f"{name}_{k + 1:02d}": float(v) for k, v in enumerate(values)}
    return row


def columns(sweep: Sweep) -> list[str]:
    """The file's columns, in order: settings, then the measures of every method in the sweep."""
    n_tasks, iterations = len(sweep.tasks), sweep.learner.get("iterations", MultiDistral.iterations)
    names = list(SETTING_COLUMNS) + ["final", "final_agent_1", "final_agent_2"]
    names += [f"final_task_{k + 1}" for k in range(n_tasks)] + [f"curve_{k + 1:02d}" for k in range(iterations)]
    names += ["games_to_95", "auc"]
    for name in ("objective", "entropy", "kl"):
        names += [f"{name}_{k + 1:02d}" for k in range(iterations)]
    if "multidistral" in sweep.methods:
        names += ["greedy_final", "greedy_final_agent_1", "greedy_final_agent_2", "env_steps"]
    if set(sweep.methods) - {"multidistral"}:
        names += ["arrival", "converged", "residual", "weighted_residual"]
    return names


def _format(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    return str(value)


def _line(row: dict, names: Sequence[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow([_format(row.get(name, "")) for name in names])
    return buffer.getvalue()


def read_rows(path: Path) -> tuple[str | None, list[dict]]:
    """The header's arguments (JSON text) and the complete rows of a sweep file; a torn last line
    (an interrupted write) is left out."""
    text = path.read_text(encoding="utf-8")
    if not text:
        return None, []
    lines = text.split("\n")[:-1]  # the last piece is "" after a complete line, else a torn one
    if not lines or not lines[0].startswith(HEADER_PREFIX):
        raise OutputError(f"--out {path}: exists and is not a sweep file (its first line is not '{HEADER_PREFIX}...')")
    return lines[0][len(HEADER_PREFIX) :], list(csv.DictReader(lines[1:]))


def check_out(path, sweep: Sweep) -> Path:
    """Check the output file before any work: writable, a .csv, and either new or written by a
    sweep with exactly these arguments."""
    path = check_output_file(path, (".csv",), "--out")
    if path.exists():
        arguments, _ = read_rows(path)
        if arguments is not None and arguments != sweep.to_json():
            raise OutputError(
                f"--out {path}: holds a sweep with other arguments; give another file, or delete "
                f"it to start again (its arguments: {arguments})"
            )
    return path


def run_sweep(
    sweep: Sweep, out, workers: int | None = None, scheduler: str | None = None, progress: bool = True
) -> Path:
    """Run every run of ``sweep`` not yet in ``out`` and append its row as soon as it finishes;
    then rewrite ``out`` in canonical order. Returns the path. See the module docstring."""
    from tqdm.auto import tqdm

    path = check_out(out, sweep)
    names = columns(sweep)
    _, done_rows = read_rows(path) if path.exists() else (None, [])
    done = {_row_key(row) for row in done_rows}
    todo = [run for run in sweep.runs() if run.key() not in done]
    client = _connect(scheduler) if scheduler is not None and todo else None
    _start_file(path, sweep, names, done_rows)
    bar = tqdm(
        total=len(sweep.runs()), initial=len(sweep.runs()) - len(todo), desc="sweep", unit="run", disable=not progress
    )
    with open(path, "a", encoding="utf-8") as handle:
        for row in _execute(todo, workers, client):
            handle.write(_line(row, names))
            handle.flush()
            os.fsync(handle.fileno())
            bar.update()
    bar.close()
    _finish_file(path, sweep, names)
    return path


def _start_file(path: Path, sweep: Sweep, names: list[str], rows: list[dict]) -> None:
    """A new file gets its header; a resumed one is rewritten without a torn last line."""
    text = HEADER_PREFIX + sweep.to_json() + "\n" + _line(dict(zip(names, names)), names)
    text += "".join(_line(row, names) for row in rows)
    write_text_atomically(path, text, "sweep file")


def _finish_file(path: Path, sweep: Sweep, names: list[str]) -> None:
    _, rows = read_rows(path)
    order = {run.key(): i for i, run in enumerate(sweep.runs())}
    rows.sort(key=lambda row: order[_row_key(row)])
    _start_file(path, sweep, names, rows)


def _connect(scheduler: str):
    """A client of the Dask cluster at ``scheduler``, or one clear error before any work."""
    from distributed import Client

    try:
        return Client(scheduler, timeout="10s")
    except (OSError, TimeoutError, ValueError) as error:
        raise ValueError(f"--scheduler {scheduler}: cannot reach a Dask scheduler there ({error})") from None


def _execute(runs: list[Run], workers: int | None, client) -> Iterable[dict]:
    if not runs:
        return
    if client is not None:
        yield from _on_dask(runs, client)
        return
    workers = min(len(runs), workers or os.cpu_count() or 1)
    _warm_up(runs)
    if workers == 1:
        for run in runs:
            yield _canonical(run_one(run))
        return
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        futures = [pool.submit(run_one, run) for run in runs]
        for future in as_completed(futures):
            yield _canonical(future.result())


def _on_dask(runs: list[Run], client) -> Iterable[dict]:
    from distributed import as_completed as dask_completed

    with client:
        futures = client.map(run_one, runs, pure=False)
        for future in dask_completed(futures):
            yield _canonical(future.result())


def _canonical(row: dict) -> dict:
    """A row as the file stores it (text), so rows from any backend compare equal."""
    return {name: _format(value) for name, value in row.items()}


def _warm_up(runs: list[Run]) -> None:
    """Load the compiled kernels and the optimum once in this process, before forking workers."""
    _optimum(tuple(runs[0].tasks))
    if any(run.method == "multidistral" for run in runs):
        first = next(run for run in runs if run.method == "multidistral")
        small = replace(
            MultiDistral(version=first.version, alpha=first.alpha, beta=first.beta, **first.settings),
            iterations=1,
            e_games=1,
            m_games=1,
        )
        small.run(first.tasks[:1], seed=0)


def load(path) -> tuple[dict, object]:
    """A sweep file as ``(arguments, pandas.DataFrame)``; the frame's ``attrs`` hold the arguments."""
    import pandas as pd

    path = Path(path)
    arguments, _ = read_rows(path)
    require(arguments is not None, f"{path} is empty")
    arguments = json.loads(arguments)
    frame = pd.read_csv(path, comment="#", keep_default_na=True)
    frame.attrs.update(arguments)  # the sweep's own arguments travel with its rows
    return arguments, frame


# Reading grids from the command line -------------------------------------------------------------


def parse_grid(text: str, name: str) -> tuple[float, ...]:
    """``0,0.25,0.5`` (a list), ``0:1:11`` (11 values from 0 to 1, evenly spaced) or
    ``log:0.1:100:13`` (13 values from 0.1 to 100, evenly spaced on a log scale). Values are
    rounded to 12 significant digits, so 0.30000000000000004 is written 0.3."""
    try:
        if text.startswith("log:"):
            low, high, count = text[4:].split(":")
            values = np.geomspace(float(low), float(high), _grid_count(count, name))
        elif ":" in text:
            low, high, count = text.split(":")
            values = np.linspace(float(low), float(high), _grid_count(count, name))
        else:
            values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError as error:
        if str(error).startswith(name):
            raise
        raise ValueError(
            f"{name}: expected a list (0,0.5,1), a range (0:1:11) or a log range (log:0.1:100:13), got {text!r}"
        ) from None
    values = tuple(float(f"{v:.12g}") for v in values)
    require(len(values) > 0 and all(math.isfinite(v) for v in values), f"{name}: no finite values in {text!r}")
    return values


def _grid_count(text: str, name: str) -> int:
    count = int(text)
    require(count >= 1, f"{name}: a range needs at least one value, got {count}")
    return count


def parse_seeds(text: str) -> tuple[int, ...]:
    """``10`` (seeds 0..9), ``100-119`` (a range) or ``1,5,9`` (a list)."""
    try:
        if "," in text:
            seeds = [int(s) for s in text.split(",")]
        elif "-" in text.strip("-"):
            low, high = text.split("-")
            seeds = list(range(int(low), int(high) + 1))
        else:
            count = int(text)
            require(count >= 1, f"--seeds: need at least one seed, got {count}")
            seeds = list(range(count))
    except ValueError as error:
        if str(error).startswith("--seeds"):
            raise
        raise ValueError(f"--seeds: expected a count (10), a range (100-119) or a list (1,5,9), got {text!r}") from None
    require(len(seeds) > 0 and min(seeds) >= 0, f"--seeds: seeds must be whole numbers >= 0, got {text!r}")
    return tuple(seeds)
