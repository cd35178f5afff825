"""What every learner shares: settings checks, the setup (the game and how learned policies are
measured) and the result record."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

import numpy as np

from ..game import CONTENTION_RULES, OBSERVATION_ORDERS, GameSpec, game_spec, observation_count
from ..tasks import Task, resolve_tasks
from . import episodes
from .episodes import NO_TABLE  # noqa: F401 (the name learners and tests import from here)


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


#: Who plays each game: both agents together, or each agent alone on the map.
PLAYERS = ("both", "alone")


@dataclass(frozen=True)
class Setup:
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
        require(
            self.contention in CONTENTION_RULES,
            f"contention must be one of {', '.join(CONTENTION_RULES)}, got {self.contention!r}",
        )
        require(
            self.order in OBSERVATION_ORDERS,
            f"order must be one of {', '.join(OBSERVATION_ORDERS)}, got {self.order!r}",
        )

    def specs(self, tasks) -> tuple[tuple[Task, ...], list[GameSpec]]:
        """The tasks, and each one's game of both agents."""
        tasks, rounds = self.rounds(tasks)
        return tasks, [games[0] for games in rounds]

    def rounds(self, tasks, players: str = "both") -> tuple[tuple[Task, ...], list[tuple[GameSpec, ...]]]:
        """The tasks, and for each the games of one round of play: the game of both agents, or with
        ``players="alone"`` agent 1's game alone, then agent 2's (see :func:`play_round`)."""
        require(players in PLAYERS, f"players must be one of {', '.join(PLAYERS)}, got {players!r}")
        tasks = resolve_tasks(tasks)
        seats = (None,) if players == "both" else (0, 1)
        return tasks, [
            tuple(game_spec(t, self.contention, self.order, self.max_steps, alone) for alone in seats) for t in tasks
        ]

    def settings(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class Learner:
    """What both learners' settings objects share: a ``method`` name, a :class:`Setup` and
    their settings as one flat dict, the setup's among them (what stored runs are keyed by)."""

    method: str
    setup: Setup

    def settings(self) -> dict:
        own = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "setup"}
        return own | self.setup.settings()


@dataclass(frozen=True)
class Diagnostics:
    """What a MultiDistral run measures at every iteration, as the exact alternation reports it
    too: ``[task, iteration, agent]`` each. ``objective`` is the soft value V(start) of eq. 3 from
    the learned Q (its sum over tasks and agents is the sampled J); ``entropy`` and ``kl`` are the
    task policies' entropy and KL divergence from the prior (nats per step), weighted by the
    M-step's discounted visits."""

    objective: np.ndarray
    entropy: np.ndarray
    kl: np.ndarray


#: The names of the diagnostics, in :class:`Diagnostics`' order.
DIAGNOSTICS = tuple(f.name for f in fields(Diagnostics))


@dataclass
class RunResult:
    """One seeded run of one learner on a task set.

    ``learner`` is the settings object that made the run (a ``QLearning`` or ``MultiDistral``,
    its ``setup`` included); ``method`` is its name and ``settings`` its settings as one flat dict.
    ``train_return[task, point, agent]`` is the return of the games the agents learned from (what
    the report plotted), at ``train_x`` games per task; ``eval_return`` the mean return of the
    learned policies played without learning, at ``eval_x`` games per task. ``eval_returns`` has
    every way the learned policies were played, by name: ``"sampled"`` (eq. 5) and ``"greedy"`` (its
    most probable action) for MultiDistral, ``"greedy"`` for Q-learning; ``evaluation`` names the
    one ``eval_return`` holds. All returns are discounted with the setup's ``return_gamma``.
    ``diagnostics`` (MultiDistral; None for Q-learning) holds, per task, iteration and agent, what
    the exact alternation reports too (:class:`Diagnostics`).

    The learned tables are kept only by ``run(..., keep_tables=True)`` (None otherwise); their rows
    are observations (:func:`~mdlib.game.observation_count`), or free cells for agents alone
    (``players="alone"``), and their last axis the 5 actions:

    * ``q[task, agent, row, action]``: each task's final Q tables;
    * ``prior[agent, row, action]`` (MultiDistral): the prior the last iteration's task policies
      were learned against (eq. 5 plays ``q`` with it);
    * ``pi0[agent, row, action]`` (MultiDistral): the last distilled prior, the one a next
      iteration would start from (``prior`` itself with ``distill=False``).
    """

    learner: Learner
    tasks: tuple[str, ...]
    seed: int
    train_x: np.ndarray
    train_return: np.ndarray
    eval_x: np.ndarray
    eval_return: np.ndarray
    env_steps: int
    evaluation: str = "sampled"
    eval_returns: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    diagnostics: Diagnostics | None = field(default=None, repr=False)
    q: np.ndarray | None = field(default=None, repr=False)
    prior: np.ndarray | None = field(default=None, repr=False)
    pi0: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self):
        self.eval_returns = self.eval_returns or {self.evaluation: self.eval_return}
        require(
            self.evaluation in self.eval_returns,
            f"evaluation {self.evaluation!r} is not one of eval_returns: {', '.join(self.eval_returns)}",
        )

    @property
    def method(self) -> str:
        """The learner's name: ``"q_learning"``, ``"multidistral_v1"`` or ``"multidistral_v2"``."""
        return self.learner.method

    @property
    def settings(self) -> dict:
        """The learner's settings, its setup's included, as one flat dict (``learner.settings()``)."""
        return self.learner.settings()

    def require_tables(self) -> None:
        """Raise ``ValueError`` unless the run kept its tables."""
        require(self.q is not None, "this run kept no tables: run it with keep_tables=True")

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


def table_shape(n_cells: int, players: str = "both") -> tuple[int, int, int]:
    """(agents, rows, actions) of a learner's tables: a row per observation, or per free cell
    for agents that play alone."""
    rows = n_cells if players == "alone" else observation_count(n_cells)
    return 2, rows, episodes.N_ACTIONS


def empty_tables(n_cells: int, players: str = "both") -> np.ndarray:
    return np.zeros(table_shape(n_cells, players))


def play_round(
    games, learning_rule, q, log_pi0, n_games: int, return_gamma: float, counts=None, count_gamma: float = 1.0
) -> tuple[np.ndarray, int]:
    """``n_games`` games of each of one task's ``games`` (:meth:`Setup.rounds`): each agent's
    mean return, and the environment steps taken. With ``counts`` the discounted visits are added
    to it (eqs. 6 and 8). An absent agent's return is 0, so over the games of agents alone the
    sum is each agent's return in its own games."""
    returns, lengths = np.empty((n_games, 2)), np.empty(n_games, np.int64)
    mean, steps = np.zeros(2), 0
    for game in games:
        steps += episodes.play_episodes(
            game,
            learning_rule,
            q,
            log_pi0=log_pi0,
            n_episodes=n_games,
            counts=counts,
            count_gamma=count_gamma,
            return_gamma=return_gamma,
            returns=returns,
            lengths=lengths,
        )
        mean += returns.mean(axis=0)
    return mean, steps
