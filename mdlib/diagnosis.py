"""Why MultiDistral falls short of the optimum: the objective's price apart from the learner's.

The gap between the best the game allows and what the sampled MultiDistral learns has parts
that different computations separate:

* **the objective's price**: the hard optimum of one agent alone minus the exact Distral
  alternation of one agent alone (:func:`mdlib.solve_distral`, ``players="alone"``): what the
  regularised objective itself gives up, for a learner that solves it exactly;
* **the other agent**: exact alone minus exact with both agents (``players="both"``): the
  corridor, and playing against the other's soft policy;
* **the learner's shortfall**: exact with both agents minus the sampled learner, split by
  ablations of the learner into its initialisation (Q started at 0 or at the value of
  wandering), its budget (ten times the E-step games) and what remains;
* and, beside it, the **transfer control**: the same learner with pi0 frozen uniform.

The numbers come from sweep tables (:mod:`mdlib.sweep`) committed in ``mdlib/data/sweeps`` and
made by ``scripts/make-data.sh``; :func:`sweep_table` reads them. All returns are the final
evaluation (the task policies sampled from eq. 5, or played exactly for the exact alternation),
discounted with γ = 0.99 and averaged over the two agents.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources

import numpy as np

from .experiments import t_half_width
from .learners.base import require
from .solver import lone_return, shortest_path_length, solve_joint
from .tasks import resolve_tasks

#: The rungs of the sampled learner, from the book's protocol to the most generous: the switches
#: of :class:`mdlib.MultiDistral` that differ from its defaults.
LADDER = {
    "as the book runs it": dict(q_init=0.0, e_games=75, rollouts_learn=False),
    "optimistic start": dict(q_init="wander", e_games=75, rollouts_learn=False),
    "every game teaches Q": dict(q_init="wander", e_games=75, rollouts_learn=True),
    "ten times the E-step games": dict(q_init="wander", e_games=750, rollouts_learn=False),
}


def sweep_table(name: str):
    """A committed sweep table of ``mdlib/data/sweeps`` by file stem, as ``(arguments, frame)``."""
    from .sweep import load

    path = resources.files("mdlib.data.sweeps") / f"{name}.csv"
    require(path.is_file(), f"no sweep table {name!r} in mdlib/data/sweeps (see scripts/make-data.sh)")
    return load(path)


def _settings(frame) -> list[dict]:
    return [json.loads(text) for text in frame["settings"]]


def select(frame, method: str = "multidistral", **match):
    """The rows of ``frame`` for ``method`` whose columns (version, alpha, beta, seed) and learner
    settings (q_init, distill, e_games, ...) equal ``match``, sorted by seed."""
    rows = frame[frame["method"] == method]
    settings = _settings(rows)
    keep = np.ones(len(rows), bool)
    for key, value in match.items():
        if key in rows.columns:
            keep &= (
                np.isclose(rows[key].to_numpy(float), value)
                if isinstance(value, float)
                else (rows[key].to_numpy() == value)
            )
        else:
            keep &= np.array([s.get(key) == value for s in settings])
    chosen = rows[keep]
    return chosen.sort_values("seed") if "seed" in chosen else chosen


def task_columns(frame) -> list[str]:
    return sorted(c for c in frame.columns if c.startswith("final_task_"))


@dataclass(frozen=True)
class Estimate:
    """A return per task (and their mean), with a 95% interval across seeds (exact values: none)."""

    per_task: np.ndarray
    low: np.ndarray
    high: np.ndarray
    mean: float
    mean_low: float
    mean_high: float
    n_seeds: int

    @classmethod
    def of(cls, per_seed: np.ndarray) -> Estimate:
        """From values of shape (seeds, tasks): Student-t intervals across seeds."""
        per_seed = np.atleast_2d(np.asarray(per_seed, float))
        n = len(per_seed)
        means, mean_over_tasks = per_seed.mean(axis=0), per_seed.mean(axis=1)
        if n < 2:
            return cls(
                means,
                means,
                means,
                float(mean_over_tasks.mean()),
                float(mean_over_tasks.mean()),
                float(mean_over_tasks.mean()),
                n,
            )
        half, half_mean = t_half_width(per_seed), t_half_width(mean_over_tasks)
        m = float(mean_over_tasks.mean())
        return cls(means, means - half, means + half, m, m - half_mean, m + half_mean, n)

    def text(self, digits: int = 1) -> str:
        """``mean [low, high]`` of the task average (``mean`` alone for an exact value)."""
        from .book import interval, number

        if self.n_seeds < 2:
            return number(self.mean, digits)
        return interval(self.mean, self.mean_low, self.mean_high, digits)


@dataclass(frozen=True)
class GapDecomposition:
    """The gap between the hard optimum and the sampled MultiDistral at one setting, in parts.

    ``levels`` are returns (per task and on average), from the hard optimum of one agent alone
    down to the learner as the book runs it; ``steps`` the differences between consecutive
    levels, named by what they measure (paired across seeds where both levels are sampled);
    ``transfer[rung]`` is the learner minus its frozen-pi0 control at each rung (paired seeds);
    ``hard_joint`` the exact joint optimum per agent (the ceiling with two agents).
    """

    version: str
    alpha: float
    beta: float
    tasks: tuple[str, ...]
    levels: dict
    steps: dict
    transfer: dict
    hard_joint: np.ndarray


def decompose(exact, sampled, version: str, alpha: float, beta: float, budget=None) -> GapDecomposition:
    """The decomposition at one setting from the diagnosis tables: ``exact`` (exact_alone and
    exact_both rows), ``sampled`` (the learner's 75-game rungs, with and without distillation)
    and ``budget`` (the ten-times rung); each a DataFrame from :func:`sweep_table`."""
    columns = task_columns(sampled)
    tasks = resolve_tasks(sampled_tasks(sampled))
    where = dict(version=version, alpha=float(alpha), beta=float(beta))

    def exact_level(method):
        rows = select(exact, method, **where)
        require(len(rows) == 1, f"expected one {method} row at {where}, found {len(rows)}")
        return rows[columns].to_numpy(float)

    def rung(distill=True, **switches):
        table = budget if switches.get("e_games") == 750 else sampled
        require(table is not None, "the budget rung needs the budget table")
        rows = select(table, **where, distill=distill, **switches)
        require(len(rows) > 1, f"expected seeds for {switches} at {where}, found {len(rows)}")
        return rows[columns].to_numpy(float), tuple(rows["seed"])

    hard = np.array([[np.mean([lone_return(shortest_path_length(t, j), 0.99) for j in (0, 1)]) for t in tasks]])
    alone, both = exact_level("exact_alone"), exact_level("exact_both")
    ladder = {
        name: rung(**switches) for name, switches in LADDER.items() if budget is not None or switches["e_games"] == 75
    }
    book, seeds = ladder["as the book runs it"]
    for name, (values, rung_seeds) in ladder.items():
        require(rung_seeds == seeds, f"the rungs must share their seeds ({name})")
    levels = {
        "hard optimum, one agent alone": Estimate.of(hard),
        "exact Distral, one agent alone": Estimate.of(alone),
        "exact Distral, both agents": Estimate.of(both),
    }
    levels |= {f"learner: {name}": Estimate.of(values) for name, (values, _) in reversed(ladder.items())}
    best = ladder["ten times the E-step games"][0] if budget is not None else ladder["optimistic start"][0]
    optimistic = ladder["optimistic start"][0]
    steps = {
        "the objective's price": Estimate.of(hard - alone),
        "the other agent": Estimate.of(alone - both),
        "the learner: what remains": Estimate.of(both - best),
    }
    if budget is not None:
        steps["the learner: its budget"] = Estimate.of(best - optimistic)
    steps["the learner: its initialisation"] = Estimate.of(optimistic - book)
    transfer = {}
    for name, switches in LADDER.items():
        if name in ladder:
            frozen, frozen_seeds = rung(distill=False, **switches)
            require(frozen_seeds == seeds, "the control must share the learner's seeds")
            transfer[name] = Estimate.of(ladder[name][0] - frozen)
    hard_joint = np.array([solve_joint(t, 0.99).value / 2 for t in tasks])
    return GapDecomposition(
        version, float(alpha), float(beta), tuple(t.name for t in tasks), levels, steps, transfer, hard_joint
    )


def sampled_tasks(frame) -> tuple[str, ...]:
    """The task names a sweep table's arguments list (its ``attrs``, set by :func:`sweep_table`)."""
    tasks = frame.attrs.get("tasks")
    require(tasks is not None, "this frame does not carry its sweep's tasks (read it with sweep_table)")
    return tuple(tasks)
