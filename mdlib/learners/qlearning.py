"""Independent Q-learning: the report's baseline (each agent has its own table, learns alone)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import episodes, rng
from .base import NO_TABLE, Learner, RunResult, Setup, check_count, check_real, empty_tables, play_round
from .hardq import exploration_rate


@dataclass(frozen=True)
class QLearning(Learner):
    """Tabular Q-learning per agent over its observation index, epsilon-greedy with the schedule
    :meth:`~mdlib.learners.qlearning.QLearning.epsilon`.

    The defaults are the report's settings. Each task is learned from scratch, as in the report;
    the greedy policy is evaluated every ``eval_every`` episodes.
    """

    episodes: int = 2000
    learning_rate: float = 0.2
    gamma: float = 0.9
    epsilon_min: float = 0.01
    epsilon_decay: float = 0.001
    eval_every: int = 100
    setup: Setup = field(default_factory=Setup)

    method = "q_learning"

    def __post_init__(self):
        check_count("episodes", self.episodes)
        check_real("learning_rate", self.learning_rate, 0.0, 1.0, low_open=True)
        check_real("gamma", self.gamma, 0.0, 1.0, high_open=True)
        check_real("epsilon_min", self.epsilon_min, 0.0, 1.0)
        check_real("epsilon_decay", self.epsilon_decay, 0.0, float("inf"))
        check_count("eval_every", self.eval_every)
        self.setup.check()

    def epsilon(self, episode):
        """The exploration rate in ``episode`` (counted from 0; a number or an array), as the
        compiled loop computes it: :func:`~mdlib.learners.hardq.exploration_rate`."""
        return exploration_rate(self.epsilon_min, self.epsilon_decay, np.asarray(episode, float))

    def learning_rule(self) -> episodes.LearningRule:
        """How the agents act and learn in the training games: epsilon-greedy Q-learning."""
        return episodes.learning_rule(
            episodes.EPSILON_GREEDY,
            learn=True,
            learning_rate=self.learning_rate,
            gamma=self.gamma,
            epsilon_min=self.epsilon_min,
            epsilon_decay=self.epsilon_decay,
        )

    def run(self, tasks="original", seed: int = 0, keep_tables: bool = False) -> RunResult:
        tasks, specs = self.setup.specs(tasks)
        rng.seed(seed)
        learn = self.learning_rule()
        greedy = episodes.learning_rule(episodes.GREEDY)
        eval_x = np.unique(np.r_[np.arange(self.eval_every, self.episodes + 1, self.eval_every), self.episodes])
        train = np.empty((len(tasks), self.episodes, 2))
        evals = np.empty((len(tasks), len(eval_x), 2))
        lengths = np.empty(self.episodes, np.int64)
        tables, steps = [], 0
        for i, spec in enumerate(specs):
            q = empty_tables(int(spec.n_cells))
            done_episodes = 0
            for k, stop in enumerate(eval_x):
                n = int(stop - done_episodes)
                steps += episodes.play_episodes(
                    spec,
                    learn,
                    q,
                    first_episode=done_episodes,
                    n_episodes=n,
                    return_gamma=self.setup.return_gamma,
                    returns=train[i, done_episodes:stop],
                    lengths=lengths[done_episodes:stop],
                )
                done_episodes = int(stop)
                evals[i, k], eval_steps = play_round(
                    (spec,), greedy, q, NO_TABLE, self.setup.eval_games, self.setup.return_gamma
                )
                steps += eval_steps
            if keep_tables:
                tables.append(q)
        return RunResult(
            learner=self,
            tasks=tuple(t.name for t in tasks),
            seed=int(seed),
            train_x=np.arange(1, self.episodes + 1),
            train_return=train,
            eval_x=eval_x,
            eval_return=evals,
            env_steps=int(steps),
            evaluation="greedy",
            eval_returns={"greedy": evals},
            q=np.array(tables) if keep_tables else None,
        )
