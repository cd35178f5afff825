"""MultiDistral: Distral's alternation of soft-Q E-steps and distillation M-steps, two agents.

V1 (report 3.2.1) gives each agent its own shared policy pi0^(j); V2 (report 3.2.2, eqs. 7-8)
gives both agents one pi0. Each iteration runs, for every task, ``e_games`` games in which both
agents learn their task policies by soft Q-learning against the current prior (eqs. 3-5), then
``m_games`` games of those policies whose discounted visits are distilled into the new pi0
(eq. 6 for V1, eq. 8 for V2).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import episodes, rng
from .base import Learner, Protocol, RunResult, check_count, check_real, empty_tables, evaluate, require
from .distill import VERSIONS, distill
from .softq import PI0_FLOOR, log_prior


@dataclass(frozen=True)
class MultiDistral(Learner):
    """MultiDistral with the report's settings as defaults.

    ``alpha`` (Distral's exponent on pi0, in [0, 1]) and ``beta`` (its inverse temperature, > 0)
    are the Distral parameters, ``learning_rate`` the step size of the soft-Q update. With
    ``carry_q`` the task Q tables carry over from one iteration to the next; the original code
    restarted them from zero every iteration (``carry_q=False``).
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
    protocol: Protocol = field(default_factory=Protocol)

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
        self.protocol.check()

    @property
    def method(self) -> str:
        return f"multidistral_{self.version}"

    @property
    def games_per_iteration(self) -> int:
        return self.e_games + self.m_games

    def run(self, tasks="original", seed: int = 0, keep_tables: bool = False) -> RunResult:
        """Run MultiDistral once. With ``keep_tables`` the result keeps the task Q tables, the
        prior they were learned against (``prior``) and the last distilled ``pi0``."""
        tasks, specs = self.protocol.specs(tasks)
        rng.seed(seed)
        n_cells = int(specs[0].n_cells)
        e_step = episodes.rule(episodes.SOFT, learn=True, learning_rate=self.learning_rate,
                               gamma=self.gamma, alpha=self.alpha, beta=self.beta)
        play = episodes.rule(episodes.SOFT, alpha=self.alpha, beta=self.beta)
        q = np.array([empty_tables(n_cells) for _ in tasks])
        pi0 = np.full_like(q[0], 1.0 / episodes.N_ACTIONS)
        train = np.empty((len(tasks), self.iterations, 2))
        evals = np.empty((len(tasks), self.iterations, 2))
        returns = np.empty((max(self.e_games, self.m_games), 2))
        lengths = np.empty(len(returns), np.int64)
        steps = 0
        for it in range(self.iterations):
            log_pi0 = log_prior(pi0, self.pi0_floor)
            counts = np.zeros_like(pi0)
            for i, spec in enumerate(specs):
                if not self.carry_q:
                    q[i] = 0.0
                steps += episodes.play_episodes(  # E-step: soft Q-learning against pi0 (eqs. 3-5)
                    spec, e_step, q[i], log_pi0, 0, self.e_games, False, counts, 1.0,
                    self.protocol.return_gamma, returns, lengths,
                )
                train[i, it] = returns[: self.e_games].mean(axis=0)
                evals[i, it], eval_steps = evaluate(spec, play, q[i], log_pi0, self.protocol.eval_games,
                                                    self.protocol.return_gamma)
                steps += eval_steps
                steps += episodes.play_episodes(  # M-step rollouts: discounted visits of pi_i
                    spec, play, q[i], log_pi0, 0, self.m_games, True, counts, self.gamma,
                    self.protocol.return_gamma, returns, lengths,
                )
            prior, pi0 = pi0, distill(counts, self.version)  # eq. 6 (V1) or eq. 8 (V2)
        x = np.arange(1, self.iterations + 1) * self.games_per_iteration
        return RunResult(
            method=self.method,
            tasks=tuple(t.name for t in tasks),
            seed=int(seed),
            settings=self.settings(),
            train_x=x,
            train_return=train,
            eval_x=x,
            eval_return=evals,
            env_steps=int(steps),
            tables={"q": q, "prior": prior, "pi0": pi0} if keep_tables else {},
        )


def mstep_counts(result: RunResult, games: int | None = None, seed: int = 0, tasks=None) -> np.ndarray:
    """What an M-step would count with the task policies a MultiDistral run ended with.

    Plays ``games`` games per task (default: the run's ``m_games``) of eq. 5 with the run's final
    Q tables and the prior they were learned against (the run must keep its tables), through the
    same compiled loop as the run's M-steps, and returns the discounted visits ``gamma^t`` of every
    (observation, action) an agent took: ``(tasks, 2, n_observations, 5)``, in the run's
    observation order. Summed over tasks and passed to :func:`~mdlib.learners.distill`, they give
    a fresh estimate of the run's last pi0; they also say where each agent goes, and so which rows
    of a pooled (V2) pi0 each agent's experience fills. Give ``tasks`` when the run's tasks are
    map files rather than built-in names.
    """
    require(result.method.startswith("multidistral"), f"expected a MultiDistral run, got {result.method!r}")
    require("q" in result.tables and "prior" in result.tables,
            "this run kept no tables: run it with keep_tables=True")
    settings = result.settings
    games = settings["m_games"] if games is None else games
    check_count("games", games)
    protocol = Protocol(**{name: settings[name] for name in Protocol.__dataclass_fields__})
    _, specs = protocol.specs(result.tasks if tasks is None else tasks)
    q, log_pi0 = result.tables["q"], log_prior(result.tables["prior"], settings["pi0_floor"])
    require(len(specs) == len(q), f"the run has {len(q)} tasks, got {len(specs)}")
    play = episodes.rule(episodes.SOFT, alpha=settings["alpha"], beta=settings["beta"])
    counts = np.zeros(q.shape)
    returns, lengths = np.empty((games, 2)), np.empty(games, np.int64)
    rng.seed(seed)
    for i, spec in enumerate(specs):
        episodes.play_episodes(spec, play, q[i], log_pi0, 0, games, True, counts[i], settings["gamma"],
                               settings["return_gamma"], returns, lengths)
    return counts
