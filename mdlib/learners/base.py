"""What every learner shares: settings checks, the evaluation protocol and the result record."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

import numpy as np

from ..game import CONTENTION_RULES, OBSERVATION_ORDERS, observation_count
from ..tasks import Task, resolve_tasks
from . import episodes


def require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


def check_count(name: str, value, minimum: int = 1) -> None:
    require(
        isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= minimum,
        f"{name} must be an integer >= {minimum}, got {value!r}",
    )


def check_real(name: str, value, low: float, high: float, low_open=False, high_open=False) -> None:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    ok = ok and math.isfinite(value)
    ok = ok and (value > low if low_open else value >= low) and (value < high if high_open else value <= high)
    interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    require(ok, f"{name} must lie in {interval}, got {value!r}")


@dataclass(frozen=True)
class Protocol:
    """The game and how learned policies are measured; the same for every method so that curves
    share one axis. ``return_gamma`` discounts the reported returns (0.99, the exact optimum's
    gamma), whatever gamma a learner uses internally; ``eval_games`` games per task are played
    with the learned policies and no learning at every evaluation point."""

    eval_games: int = 20
    return_gamma: float = 0.99
    max_steps: int = 200
    contention: str = "reference"
    order: str = "egocentric"

    def check(self) -> None:
        check_count("eval_games", self.eval_games)
        check_real("return_gamma", self.return_gamma, 0.0, 1.0, low_open=True)
        check_count("max_steps", self.max_steps)
        require(self.contention in CONTENTION_RULES,
                f"contention must be one of {', '.join(CONTENTION_RULES)}, got {self.contention!r}")
        require(self.order in OBSERVATION_ORDERS,
                f"order must be one of {', '.join(OBSERVATION_ORDERS)}, got {self.order!r}")

    def specs(self, tasks) -> tuple[tuple[Task, ...], list[episodes.GameSpec]]:
        tasks = resolve_tasks(tasks)
        return tasks, [episodes.game_spec(t, self.contention, self.order, self.max_steps) for t in tasks]

    def settings(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class Learner:
    """What both learners' settings objects share: their settings as one flat dict."""

    protocol: Protocol

    def settings(self) -> dict:
        own = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "protocol"}
        return own | self.protocol.settings()


@dataclass
class RunResult:
    """One seeded run of one method on a task set.

    ``train_return[task, point, agent]`` is the return of the games the agents learned from (what
    the report plotted), at ``train_x`` games per task; ``eval_return`` the mean return of the
    learned policies played without learning, at ``eval_x`` games per task. All returns are
    discounted with the protocol's ``return_gamma``.
    """

    method: str
    tasks: tuple[str, ...]
    seed: int
    settings: dict
    train_x: np.ndarray
    train_return: np.ndarray
    eval_x: np.ndarray
    eval_return: np.ndarray
    env_steps: int
    tables: dict = field(default_factory=dict, repr=False)

    @property
    def train_mean(self) -> np.ndarray:
        """Training return averaged over tasks: (points, 2)."""
        return self.train_return.mean(axis=0)

    @property
    def eval_mean(self) -> np.ndarray:
        """Evaluation return averaged over tasks: (points, 2)."""
        return self.eval_return.mean(axis=0)

    @property
    def final_eval(self) -> np.ndarray:
        """Each agent's evaluation return at the end, averaged over tasks: (2,)."""
        return self.eval_mean[-1]


def empty_tables(n_cells: int) -> np.ndarray:
    return np.zeros((2, observation_count(n_cells), episodes.N_ACTIONS))


def evaluate(spec, rule, q, log_pi0, games: int, return_gamma: float) -> tuple[np.ndarray, int]:
    """Mean return per agent of ``games`` games of the current policies, learning nothing."""
    returns, lengths = np.empty((games, 2)), np.empty(games, np.int64)
    steps = episodes.play_episodes(spec, rule, q, log_pi0, 0, games, False, NO_TABLE, 1.0,
                                   return_gamma, returns, lengths)
    return returns.mean(axis=0), steps


#: Stands in for a table the episode loop does not read: the prior outside soft mode, the
#: counts when visits are not counted.
NO_TABLE = np.zeros((2, 1, episodes.N_ACTIONS))
