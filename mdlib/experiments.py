"""Experiments: many seeds of a method in one call, spread over the cores, with 95% intervals.

A method is a learner's settings object (:class:`~mdlib.learners.QLearning` or
:class:`~mdlib.learners.MultiDistral`); :func:`run_seeds` runs it once per seed and stacks the
results. Statistics are taken across seeds of the task-averaged return, per agent.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace

import numpy as np
from scipy import stats
from tqdm.auto import tqdm

from .game import AGENTS, Trajectory
from .learners import MultiDistral, QLearning, RunResult, play_learned
from .learners.base import check_count, require
from .runstore import active_store
from .solver import solve_joint
from .tasks import resolve_tasks


@dataclass(frozen=True)
class Summary:
    """Per-agent mean and 95% interval across seeds of one curve: arrays of shape (points, 2)."""

    x: np.ndarray
    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    n_seeds: int

    def to_dict(self) -> dict:
        return {
            "x": self.x.tolist(),
            "n_seeds": self.n_seeds,
            **{
                agent: {
                    "mean": self.mean[:, i].tolist(),
                    "ci95_low": self.low[:, i].tolist(),
                    "ci95_high": self.high[:, i].tolist(),
                }
                for i, agent in enumerate(AGENTS)
            },
        }


def t_half_width(values):
    """Half the width of the Student-t 95% interval of the mean of ``values`` along their first
    axis (one entry per seed, at least two): ``t_0.975(n - 1) * s / sqrt(n)``."""
    n = values.shape[0]
    return stats.t.ppf(0.975, n - 1) * values.std(axis=0, ddof=1) / np.sqrt(n)


def window_average(x: np.ndarray, per_seed: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """``(x, per_seed)`` with each seed's curve (seeds, points, 2) averaged over consecutive blocks of
    ``window`` points, each block placed at its last x (a partial last block is dropped)."""
    if window <= 1:
        return np.asarray(x), per_seed
    n = per_seed.shape[1] // window
    per_seed = per_seed[:, : n * window].reshape(per_seed.shape[0], n, window, 2).mean(axis=2)
    return np.asarray(x)[: n * window].reshape(n, window)[:, -1], per_seed


def summarise(x: np.ndarray, per_seed: np.ndarray, window: int = 1) -> Summary:
    """Mean and Student-t 95% interval across seeds of ``per_seed`` (seeds, points, 2).

    With ``window > 1`` each seed's curve is first averaged over consecutive blocks of
    ``window`` points (for the noisy per-episode training curve of Q-learning).
    """
    x, per_seed = window_average(x, per_seed, window)
    n_seeds = per_seed.shape[0]
    mean = per_seed.mean(axis=0)
    half = t_half_width(per_seed) if n_seeds > 1 else np.zeros_like(mean)
    return Summary(x=x, mean=mean, low=mean - half, high=mean + half, n_seeds=n_seeds)


@dataclass
class SeedRuns:
    """The runs of one method over several seeds, stacked: ``train[seed, task, point, agent]``.

    ``evals`` is the runs' own evaluation (``eval_mode``: ``RunResult.evaluation``), and
    ``eval_returns`` every evaluation the runs made, by name (``RunResult.eval_returns``).
    """

    method: str
    settings: dict
    tasks: tuple[str, ...]
    seeds: tuple[int, ...]
    train_x: np.ndarray
    train: np.ndarray
    eval_x: np.ndarray
    evals: np.ndarray
    env_steps: int
    eval_mode: str = "sampled"
    eval_returns: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        self.eval_returns = self.eval_returns or {self.eval_mode: self.evals}

    @classmethod
    def stack(cls, runs: list[RunResult]) -> SeedRuns:
        first = runs[0]
        evals = {mode: np.stack([r.eval_returns[mode] for r in runs]) for mode in first.eval_returns}
        return cls(
            method=first.method,
            settings=first.settings,
            tasks=first.tasks,
            seeds=tuple(r.seed for r in runs),
            train_x=first.train_x,
            train=np.stack([r.train_return for r in runs]),
            eval_x=first.eval_x,
            evals=evals[first.evaluation],
            env_steps=int(sum(r.env_steps for r in runs)),
            eval_mode=first.evaluation,
            eval_returns=evals,
        )

    def training(self, window: int = 1) -> Summary:
        """Training return averaged over tasks: mean and 95% interval across seeds."""
        return summarise(self.train_x, self.train.mean(axis=1), window)

    def evaluation(self, mode: str | None = None) -> Summary:
        """Return of the learned policies played without learning, averaged over tasks: played as
        ``mode`` (``"sampled"`` or ``"greedy"``), by default the runs' own ``eval_mode``."""
        mode = self.eval_mode if mode is None else mode
        require(mode in self.eval_returns, f"mode must be one of {', '.join(self.eval_returns)}, got {mode!r}")
        return summarise(self.eval_x, self.eval_returns[mode].mean(axis=1))

    def final(self, mode: str | None = None) -> Summary:
        """The last evaluation point only."""
        s = self.evaluation(mode)
        return Summary(s.x[-1:], s.mean[-1:], s.low[-1:], s.high[-1:], s.n_seeds)

    def to_dict(self, window: int = 1) -> dict:
        return {
            "method": self.method,
            "settings": self.settings,
            "tasks": list(self.tasks),
            "seeds": list(self.seeds),
            "x_axis": "games per task",
            "training_return": self.training(window).to_dict(),
            "evaluation": self.eval_mode,
            "evaluation_return": self.evaluation().to_dict(),
        }


def _run_one(job):
    method, tasks, seed = job
    return method.run(tasks, seed=seed)


def _play_one(job):
    method, tasks, seed = job
    result = method.run(tasks, seed=seed, keep_tables=True)
    return [play_learned(result, i, seed=seed, task=task) for i, task in enumerate(tasks)]


def _map(function, jobs: list, workers: int | None, progress: bool, description: str) -> list:
    """``function`` over ``jobs``, in order, over ``workers`` forked processes (default: all
    cores); the compiled kernels must already be loaded in this process (see :func:`_warm_up`)."""
    workers = min(len(jobs), workers or os.cpu_count() or 1)
    check_count("workers", workers)
    bar = tqdm(total=len(jobs), desc=description, unit="run", disable=not progress)
    results = []
    if workers == 1:
        for job in jobs:
            results.append(function(job))
            bar.update()
    else:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            for result in pool.map(function, jobs):
                results.append(result)
                bar.update()
    bar.close()
    return results


def run_seeds(
    method,
    tasks="original",
    seeds=10,
    workers: int | None = None,
    progress: bool = True,
    description: str | None = None,
) -> SeedRuns:
    """Run ``method`` once per seed (``seeds`` is a count, meaning 0..N-1, or a list of seeds),
    over ``workers`` processes (default: all cores). Each run is repeatable bit for bit."""
    (runs,) = run_many([method], tasks, seeds, workers, progress, description or method.method)
    return runs


def run_many(
    methods, tasks="original", seeds=10, workers: int | None = None, progress: bool = True, description: str = "runs"
) -> list[SeedRuns]:
    """Several methods (for example a grid of α, β settings), every one over the same seeds, in
    one pool of worker processes; returns one :class:`SeedRuns` per method, in order. Under a
    chapter's store (:func:`mdlib.runstore.stored_runs`) the runs it holds are read, not run."""
    seeds = _seed_list(seeds)
    tasks = resolve_tasks(tasks)
    methods = list(methods)
    require(len(methods) > 0, "no methods given")
    store = active_store()
    found = [store.load(m, tasks, seeds) if store else None for m in methods]
    todo = [m for m, runs in zip(methods, found) if runs is None]
    for method in {type(m): m for m in todo}.values():  # settings of one learner share kernels
        _warm_up(method, tasks)
    jobs = [(method, tasks, seed) for method in todo for seed in seeds]
    results: list[RunResult] = _map(_run_one, jobs, workers, progress, description) if jobs else []
    n = len(seeds)
    computed = iter(SeedRuns.stack(results[i * n : (i + 1) * n]) for i in range(len(todo)))
    out = []
    for method, runs in zip(methods, found):
        if runs is None:
            runs = next(computed)
            if store:
                store.save(method, tasks, seeds, runs)
        out.append(runs)
    return out


def learned_trajectories(
    method,
    tasks="original",
    seeds=10,
    workers: int | None = None,
    progress: bool = True,
    description: str | None = None,
) -> list[list[Trajectory]]:
    """Run ``method`` once per seed keeping its tables (the very runs :func:`run_seeds` makes),
    then play one episode of the learned policies on every task, learning nothing:
    ``trajectories[seed_index][task_index]``. Greedy Q-learning policies break ties at random and
    MultiDistral's task policies sample equation 5 (or take its most probable action, for a
    method with ``evaluation="greedy"``), all seeded by the run's seed, so the result repeats
    exactly. The statistics of :mod:`mdlib.analysis` read what the agents did."""
    seeds = _seed_list(seeds)
    tasks = resolve_tasks(tasks)
    _warm_up(method, tasks)
    jobs = [(method, tasks, seed) for seed in seeds]
    return _map(_play_one, jobs, workers, progress, description or f"{method.method}: learned play")


def _seed_list(seeds) -> list[int]:
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
        check_count("seeds", seeds)
        return list(range(int(seeds)))
    seeds = [int(s) for s in seeds]
    require(len(seeds) > 0, "no seeds given")
    require(len(set(seeds)) == len(seeds), f"seeds must be distinct, got {seeds}")
    return seeds


def _warm_up(method, tasks) -> None:
    """Compile (or load) the kernels once in this process, so forked workers inherit them
    (a matter of milliseconds once they are compiled)."""
    if isinstance(method, QLearning):
        replace(method, episodes=1, eval_every=1).run(tasks[:1], seed=0)
    else:
        replace(method, iterations=1, e_games=1, m_games=1).run(tasks[:1], seed=0)


def optimum_per_agent(tasks="original", gamma: float = 0.99) -> float:
    """The exact joint optimum per agent, averaged over tasks: the ceiling drawn on every curve."""
    tasks = resolve_tasks(tasks)
    return float(np.mean([solve_joint(t, gamma).value / 2 for t in tasks]))


@dataclass
class EqualGames:
    """MultiDistral and Q-learning after the same number of games per task."""

    games_per_task: int
    multidistral: SeedRuns
    q_learning: SeedRuns

    def table(self) -> list[dict]:
        rows = []
        for runs in (self.q_learning, self.multidistral):
            final = runs.final()
            for i, agent in enumerate(AGENTS):
                rows.append(
                    {
                        "method": runs.method,
                        "agent": agent,
                        "games_per_task": self.games_per_task,
                        "mean": float(final.mean[0, i]),
                        "ci95_low": float(final.low[0, i]),
                        "ci95_high": float(final.high[0, i]),
                    }
                )
        return rows


def compare_equal_games(
    multidistral: MultiDistral | None = None,
    q_learning: QLearning | None = None,
    tasks="original",
    seeds=10,
    workers: int | None = None,
    progress: bool = True,
) -> EqualGames:
    """Run MultiDistral, then Q-learning for exactly as many games per task (E- and M-step games
    both count), evaluated at the same points; compare the learned policies' returns."""
    multidistral = multidistral or MultiDistral()
    games = multidistral.iterations * multidistral.games_per_iteration
    q_learning = replace(
        q_learning or QLearning(),
        episodes=games,
        eval_every=multidistral.games_per_iteration,
        setup=multidistral.setup,
    )
    md = run_seeds(multidistral, tasks, seeds, workers, progress)
    ql = run_seeds(q_learning, tasks, seeds, workers, progress)
    return EqualGames(games_per_task=games, multidistral=md, q_learning=ql)


# Comparing the two agents, and one number per seed ------------------------------------------------


def mean_interval(values) -> tuple[float, float, float]:
    """Mean and Student-t 95% interval ``(mean, low, high)`` of one number per seed."""
    values = np.asarray(values, float).ravel()
    require(len(values) > 0, "no values given")
    mean = float(values.mean())
    if len(values) < 2:
        return mean, mean, mean
    half = float(t_half_width(values))
    return mean, mean - half, mean + half


@dataclass(frozen=True)
class AgentGap:
    """Agent 2's return minus agent 1's, one number per seed (averaged over tasks).

    ``ahead`` counts the seeds in which agent 2 is strictly ahead, with ``share_low`` and
    ``share_high`` the exact (Clopper-Pearson) 95% interval of that share; ``mean``, ``low``,
    ``high`` are the mean gap and its Student-t 95% interval across seeds.
    """

    gaps: np.ndarray
    ahead: int
    n_seeds: int
    share_low: float
    share_high: float
    mean: float
    low: float
    high: float


def agent_gap(runs: SeedRuns, curve: str = "evaluation", last: int = 1) -> AgentGap:
    """How much, and in how many seeds, agent 2 beats agent 1: ``curve`` is ``"evaluation"``
    (learned policies played without learning) or ``"training"`` (the games learned from),
    averaged over the last ``last`` points of each seed's task-averaged curve."""
    require(curve in ("evaluation", "training"), f"curve must be 'evaluation' or 'training', got {curve!r}")
    check_count("last", last)
    per_seed = (runs.evals if curve == "evaluation" else runs.train).mean(axis=1)[:, -last:].mean(axis=1)
    gaps = per_seed[:, 1] - per_seed[:, 0]
    ahead = int((gaps > 0).sum())
    ci = stats.binomtest(ahead, len(gaps)).proportion_ci(confidence_level=0.95, method="exact")
    mean, low, high = mean_interval(gaps)
    return AgentGap(gaps, ahead, len(gaps), float(ci.low), float(ci.high), mean, low, high)


# Two methods at the same numbers of games --------------------------------------------------------


def _per_seed_curve(runs: SeedRuns, curve: str, window: int) -> tuple[np.ndarray, np.ndarray]:
    """``(x, per_seed)``: the task-averaged ``curve`` of every seed, (seeds, points, 2), with
    ``window`` consecutive points averaged into one (as :func:`summarise` does)."""
    require(curve in ("evaluation", "training"), f"curve must be 'evaluation' or 'training', got {curve!r}")
    check_count("window", window)
    x, per_seed = (runs.eval_x, runs.evals) if curve == "evaluation" else (runs.train_x, runs.train)
    return window_average(x, per_seed.mean(axis=1), window)


def difference(
    a: SeedRuns, b: SeedRuns, curve: str = "evaluation", window_a: int = 1, window_b: int = 1, paired: bool = False
) -> Summary:
    """Mean of ``a`` minus mean of ``b``, per point and agent, with a Welch 95% interval.

    ``curve`` is ``"evaluation"`` (learned policies played without learning) or ``"training"``
    (the games learned from); ``window_a``/``window_b`` average consecutive points of each seed's
    curve first (Q-learning's training curve has one point per game). The two sets of runs are
    treated as independent samples (two methods, or one method on disjoint seeds) and must give
    their points at the same numbers of games. An interval that excludes 0 says the difference is
    significant at the 5% level at that point.

    With ``paired`` the runs are matched by seed instead: only the seeds both sets ran are used,
    and the interval is the Student-t interval of the per-seed differences. That is the right
    comparison for two variants of one learner run on the same seeds, which share their random
    draws for as long as they behave alike (MultiDistral V1 and V2 coincide until the first
    distillation).
    """
    x_a, per_a = _per_seed_curve(a, curve, window_a)
    x_b, per_b = _per_seed_curve(b, curve, window_b)
    require(
        x_a.shape == x_b.shape and np.array_equal(x_a, x_b),
        f"the two curves have different points: {x_a.tolist()} and {x_b.tolist()}",
    )
    if paired:
        common = [seed for seed in a.seeds if seed in set(b.seeds)]
        require(len(common) > 1, f"a paired interval needs at least two common seeds, got {common}")
        gaps = per_a[[a.seeds.index(s) for s in common]] - per_b[[b.seeds.index(s) for s in common]]
        mean, half = gaps.mean(axis=0), t_half_width(gaps)
        return Summary(x=x_a, mean=mean, low=mean - half, high=mean + half, n_seeds=len(common))
    n_a, n_b = len(per_a), len(per_b)
    require(n_a > 1 and n_b > 1, "a Welch interval needs at least two seeds on each side")
    mean = per_a.mean(axis=0) - per_b.mean(axis=0)
    var_a, var_b = per_a.var(axis=0, ddof=1) / n_a, per_b.var(axis=0, ddof=1) / n_b
    se2 = var_a + var_b
    with np.errstate(divide="ignore", invalid="ignore"):
        dof = se2**2 / (var_a**2 / (n_a - 1) + var_b**2 / (n_b - 1))
        half = np.where(se2 > 0, stats.t.ppf(0.975, np.where(se2 > 0, dof, 1.0)) * np.sqrt(se2), 0.0)
    return Summary(x=x_a, mean=mean, low=mean - half, high=mean + half, n_seeds=min(n_a, n_b))
