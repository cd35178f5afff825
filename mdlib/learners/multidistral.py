"""MultiDistral: Distral's alternation of soft-Q E-steps and distillation M-steps, two agents.

V1 (report 3.2.1) gives each agent its own shared policy pi0^(j); V2 (report 3.2.2, eqs. 7-8)
gives both agents one pi0. Each iteration runs, for every task, ``e_games`` games in which both
agents learn their task policies by soft Q-learning against the current prior (eqs. 3-5), then
``m_games`` games of those policies whose discounted visits are distilled into the new pi0
(eq. 6 for V1, eq. 8 for V2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..game import agent_observation, game_spec
from . import episodes, rng
from .base import (
    DIAGNOSTICS,
    PLAYERS,
    Diagnostics,
    Learner,
    RunResult,
    Setup,
    check_count,
    check_real,
    play_round,
    require,
    table_shape,
)
from .distill import VERSIONS, distill
from .softq import PI0_FLOOR, log_prior, wander_value

#: The two ways learned task policies are played at an evaluation point: sampling eq. 5, or
#: its most probable action.
EVALUATIONS = ("sampled", "greedy")


@dataclass(frozen=True)
class MultiDistral(Learner):
    """MultiDistral with the report's settings as defaults.

    ``alpha`` (Distral's exponent on pi0, in [0, 1]) and ``beta`` (its inverse temperature, > 0)
    are the Distral parameters, ``learning_rate`` the step size of the soft-Q update. With
    ``carry_q`` the task Q tables carry over from one iteration to the next; the original code
    restarted them every iteration (``carry_q=False``).

    The switches of the diagnosis, each off by default:

    * ``q_init``: every entry of every task Q table starts at this number (and restarts there
      without ``carry_q``), or at ``"wander"``, :func:`~mdlib.learners.softq.wander_value`, the
      soft value of wandering for ever under a uniform prior (``initial_q`` is the number used).
    * ``distill=False``: pi0 stays uniform for the whole run, the no-transfer control; the
      M-step rollouts are still played, so games, env steps and the random stream stay comparable.
    * ``rollouts_learn=True``: the M-step games also update Q (the E-step's soft-Q update), as
      well as being counted: every game teaches Q, for the same number of games. Both
      evaluations still play the tables the E-step left.
    * ``players="alone"``: each agent plays each map alone, the other absent (it neither moves
      nor blocks), observing only its own free cell (tables of ``n_cells`` rows); per iteration
      and task agent 1's games come before agent 2's in each phase. V1 distils per agent, V2
      pools both agents' cell counts. The sampled counterpart of the exact
      :func:`mdlib.exact_distral.solve_distral` with ``players="alone"``.

    Every evaluation point plays ``setup.eval_games`` games per task twice, learning nothing:
    sampling eq. 5 right after the E-step (as the report did), and greedily on eq. 5's logits
    ``alpha log pi0 + beta Q`` (ties at random) once all of the iteration's other games are played.
    ``evaluation`` says which one ``RunResult.eval_return`` holds; ``eval_returns`` has both.
    The greedy games draw random numbers (ties), so from the second iteration on a run differs
    from one without them; its first point (training and sampled evaluation) does not.

    ``run(..., initial_pi0=table)`` starts the alternation from a given prior instead of the
    uniform one (for example a pi0 distilled on other maps: :mod:`mdlib.transfer`); with
    ``distill=False`` the prior then stays that table for the whole run (the transferred-prior arm).
    """

    version: str = "v1"
    alpha: float = 0.7
    beta: float = 0.5
    gamma: float = 0.99
    learning_rate: float = 0.1
    iterations: int = 10
    e_games: int = 75
    m_games: int = 75
    carry_q: bool = True
    pi0_floor: float = PI0_FLOOR
    q_init: float | str = 0.0
    distill: bool = True
    rollouts_learn: bool = False
    evaluation: str = "sampled"
    players: str = "both"
    setup: Setup = field(default_factory=Setup)

    def __post_init__(self):
        require(self.version in VERSIONS, f"version must be one of {', '.join(VERSIONS)}, got {self.version!r}")
        check_real("alpha", self.alpha, 0.0, 1.0)
        check_real("beta", self.beta, 0.0, float("inf"), low_open=True, high_open=True)
        check_real("gamma", self.gamma, 0.0, 1.0, high_open=True)
        check_real("learning_rate", self.learning_rate, 0.0, 1.0, low_open=True)
        check_count("iterations", self.iterations)
        check_count("e_games", self.e_games)
        check_count("m_games", self.m_games)
        require(isinstance(self.carry_q, bool), f"carry_q must be True or False, got {self.carry_q!r}")
        check_real("pi0_floor", self.pi0_floor, 0.0, 1.0 / episodes.N_ACTIONS, low_open=True)
        number = isinstance(self.q_init, (int, float, np.integer, np.floating)) and not isinstance(self.q_init, bool)
        require(
            (number and math.isfinite(self.q_init)) or (isinstance(self.q_init, str) and self.q_init == "wander"),
            f"q_init must be a finite number or 'wander', got {self.q_init!r}",
        )
        require(isinstance(self.distill, bool), f"distill must be True or False, got {self.distill!r}")
        require(
            isinstance(self.rollouts_learn, bool), f"rollouts_learn must be True or False, got {self.rollouts_learn!r}"
        )
        require(
            self.evaluation in EVALUATIONS,
            f"evaluation must be one of {', '.join(EVALUATIONS)}, got {self.evaluation!r}",
        )
        require(self.players in PLAYERS, f"players must be one of {', '.join(PLAYERS)}, got {self.players!r}")
        self.setup.check()

    @property
    def method(self) -> str:
        return f"multidistral_{self.version}"

    @property
    def games_per_iteration(self) -> int:
        return self.e_games + self.m_games

    @property
    def initial_q(self) -> float:
        """The value every task Q table entry starts at: ``q_init``, or the wander value."""
        if isinstance(self.q_init, str):
            return wander_value(self.alpha, self.beta, self.gamma)
        return float(self.q_init)

    def run(self, tasks="original", seed: int = 0, keep_tables: bool = False, initial_pi0=None) -> RunResult:
        """Run MultiDistral once. With ``keep_tables`` the result keeps the task Q tables
        (``RunResult.q``), the prior they were learned against (``prior``) and the last distilled
        ``pi0``.

        ``initial_pi0`` (default None: uniform) is the prior of the first iteration, a table of
        the run's pi0 shape, (2, n_observations, 5) for ``players="both"`` and (2, n_cells, 5)
        for ``"alone"``, finite, non-negative, each row summing to 1 (within 1e-9); it is floored
        at ``pi0_floor`` like every prior the learner uses. With ``distill=False`` it is the prior
        of every iteration. For V2 give both agents the same table (a V2 pi0 is stored twice)."""
        tasks, rounds = self.setup.rounds(tasks, self.players)
        rng.seed(seed)
        return_gamma, eval_games = self.setup.return_gamma, self.setup.eval_games
        e_step = episodes.learning_rule(
            episodes.SOFT,
            learn=True,
            learning_rate=self.learning_rate,
            gamma=self.gamma,
            alpha=self.alpha,
            beta=self.beta,
        )
        play = episodes.learning_rule(episodes.SOFT, alpha=self.alpha, beta=self.beta)
        greedy = episodes.learning_rule(episodes.DISTRAL_GREEDY, alpha=self.alpha, beta=self.beta)
        m_step = e_step if self.rollouts_learn else play
        shape = table_shape(int(rounds[0][0].n_cells), self.players)
        q = np.full((len(tasks), *shape), self.initial_q)
        evaluated = np.empty_like(q) if self.rollouts_learn else q  # the tables the E-step left
        if initial_pi0 is None:
            pi0 = np.full(shape, 1.0 / episodes.N_ACTIONS)
        else:
            pi0 = check_prior(initial_pi0, shape)
        train = np.empty((len(tasks), self.iterations, 2))
        evals = {mode: np.empty((len(tasks), self.iterations, 2)) for mode in EVALUATIONS}
        diagnostics = {name: np.empty((len(tasks), self.iterations, 2)) for name in DIAGNOSTICS}
        starts = [start_rows(task, self.players, self.setup.order) for task in tasks]
        counts = np.empty((len(tasks), *shape))  # each task's discounted M-step visits
        steps = 0
        for it in range(self.iterations):
            log_pi0 = log_prior(pi0, self.pi0_floor)
            counts[:] = 0.0
            for i, games in enumerate(rounds):
                if not self.carry_q:
                    q[i] = self.initial_q
                train[i, it], n = play_round(
                    games,
                    e_step,
                    q[i],
                    log_pi0,
                    self.e_games,  # eqs. 3-5
                    return_gamma,
                )
                steps += n
                if self.rollouts_learn:
                    evaluated[i] = q[i]
                evals["sampled"][i, it], n = play_round(games, play, q[i], log_pi0, eval_games, return_gamma)
                steps += n
                _, n = play_round(
                    games,
                    m_step,
                    q[i],
                    log_pi0,
                    self.m_games,
                    return_gamma,  # visits of pi_i
                    counts[i],
                    self.gamma,
                )
                steps += n
                for name, value in iteration_diagnostics(
                    evaluated[i], log_pi0, counts[i], starts[i], self.alpha, self.beta
                ).items():
                    diagnostics[name][i, it] = value
            for i, games in enumerate(rounds):
                evals["greedy"][i, it], n = play_round(games, greedy, evaluated[i], log_pi0, eval_games, return_gamma)
                steps += n
            prior = pi0
            if self.distill:
                pi0 = distill(counts.sum(axis=0), self.version)  # eq. 6 (V1) or eq. 8 (V2)
        x = np.arange(1, self.iterations + 1) * self.games_per_iteration
        return RunResult(
            learner=self,
            tasks=tuple(t.name for t in tasks),
            seed=int(seed),
            train_x=x,
            train_return=train,
            eval_x=x,
            eval_return=evals[self.evaluation],
            env_steps=int(steps),
            evaluation=self.evaluation,
            eval_returns=evals,
            diagnostics=Diagnostics(**diagnostics),
            q=q if keep_tables else None,
            prior=prior if keep_tables else None,
            pi0=pi0 if keep_tables else None,
        )


#: How far from 1 a row of a given prior may sum.
PRIOR_TOLERANCE = 1e-9


def check_prior(table, shape: tuple[int, ...], name: str = "initial_pi0") -> np.ndarray:
    """A given prior as a fresh float array, or one ``ValueError``: it must have ``shape``, be
    finite and non-negative, and each row (last axis) must sum to 1 within ``PRIOR_TOLERANCE``."""
    try:
        prior = np.array(table, dtype=float, copy=True)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an array of probabilities, got {type(table).__name__}") from None
    shape = tuple(int(n) for n in shape)
    require(prior.shape == shape, f"{name} must have shape {shape} (agents, rows, actions), got {prior.shape}")
    require(
        bool(np.isfinite(prior).all()),
        f"{name} must be finite, got {int((~np.isfinite(prior)).sum())} non-finite entries",
    )
    require(bool((prior >= 0).all()), f"{name} must be non-negative, got a smallest entry {prior.min()!r}")
    error = np.abs(prior.sum(axis=-1) - 1.0)
    worst = np.unravel_index(int(error.argmax()), error.shape)
    require(
        bool(error.max() <= PRIOR_TOLERANCE),
        f"{name}: every row must sum to 1 (within {PRIOR_TOLERANCE:g}); row {tuple(int(i) for i in worst)} "
        f"sums to {prior[worst].sum()!r}",
    )
    return prior


def start_rows(task, players: str = "both", order: str = "egocentric") -> np.ndarray:
    """The table row each agent observes at the start of a game: (2,)."""
    if players == "alone":
        return np.array([task.cell_index[tuple(task.starts[j])] for j in (0, 1)])
    arrays = game_spec(task)
    pos, prev, done = arrays.starts, np.zeros(2, np.int64), np.zeros(2, np.bool_)
    return np.array(
        [
            agent_observation(arrays.cell_index, arrays.n_cells, pos, prev, done, j, order == "egocentric")
            for j in (0, 1)
        ]
    )


def iteration_diagnostics(q, log_pi0, counts, starts, alpha: float, beta: float) -> dict[str, np.ndarray]:
    """For both agents of one task: V(start) of eq. 3 from ``q`` under the prior ``log_pi0`` (as
    the learner uses it, floored), and the entropy of the task policy (eq. 5) and its KL from the
    prior, averaged over rows with the discounted visits ``counts`` (nats per step)."""
    out = {name: np.zeros(2) for name in DIAGNOSTICS}
    for j in (0, 1):
        logits = alpha * log_pi0[j] + beta * q[j] if alpha else beta * q[j]
        top = logits[starts[j]].max()
        out["objective"][j] = (top + np.log(np.exp(logits[starts[j]] - top).sum())) / beta
        weights = counts[j].sum(axis=1)
        rows = np.flatnonzero(weights)
        if len(rows) == 0:
            continue
        visited = logits[rows]
        log_pi = visited - visited.max(axis=1, keepdims=True)
        log_pi -= np.log(np.exp(log_pi).sum(axis=1, keepdims=True))
        pi, w = np.exp(log_pi), weights[rows] / weights[rows].sum()
        out["entropy"][j] = w @ -(pi * log_pi).sum(axis=1)
        out["kl"][j] = w @ (pi * (log_pi - log_pi0[j, rows])).sum(axis=1)
    return out


def mstep_counts(result: RunResult, games: int | None = None, seed: int = 0, tasks=None) -> np.ndarray:
    """What an M-step would count with the task policies a MultiDistral run ended with.

    Plays ``games`` games per task (default: the run's ``m_games``) of eq. 5 with the run's final
    Q tables and the prior they were learned against (the run must keep its tables), through the
    same compiled loop as the run's M-steps, learning nothing, and returns the discounted visits
    ``gamma^t`` of every (observation, action) an agent took: ``(tasks, 2, n_observations, 5)``,
    in the run's observation order (for agents alone, each alone on the map: rows are free cells).
    Summed over tasks and passed to :func:`~mdlib.learners.distill`, they give a fresh estimate of
    the run's last pi0; they also say where each agent goes, and so which rows of a pooled (V2) pi0
    each agent's experience fills. Give ``tasks`` when the run's tasks are map files rather than
    built-in names.
    """
    learner = result.learner
    require(isinstance(learner, MultiDistral), f"expected a MultiDistral run, got {result.method!r}")
    result.require_tables()
    games = learner.m_games if games is None else games
    check_count("games", games)
    _, rounds = learner.setup.rounds(result.tasks if tasks is None else tasks, learner.players)
    q, log_pi0 = result.q, log_prior(result.prior, learner.pi0_floor)
    require(len(rounds) == len(q), f"the run has {len(q)} tasks, got {len(rounds)}")
    play = episodes.learning_rule(episodes.SOFT, alpha=learner.alpha, beta=learner.beta)
    counts = np.zeros(q.shape)
    rng.seed(seed)
    for i, task_games in enumerate(rounds):
        play_round(task_games, play, q[i], log_pi0, games, learner.setup.return_gamma, counts[i], learner.gamma)
    return counts
