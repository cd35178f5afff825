"""Learned tables as playable policies, for GIFs and pictures of what the agents learned."""

from __future__ import annotations

import numpy as np

from ..game import Trajectory, agent_observation, game_spec, play
from ..tasks import Task, load_task
from .softq import PI0_FLOOR, distral_logits, distral_policy


class TablePolicy:
    """Both agents acting from their tables: greedy on Q (ties at random), or with a prior ``pi0``
    sampling eq. 5, or with ``greedy`` taking eq. 5's most probable action (ties at random).
    With ``alone`` the tables are a lone run's: a row per free cell, read at the agent's own cell."""

    def __init__(
        self,
        task: Task,
        q: np.ndarray,
        pi0: np.ndarray | None = None,
        alpha: float = 0.0,
        beta: float = 1.0,
        order: str = "egocentric",
        seed: int = 0,
        greedy: bool = False,
        alone: bool = False,
        pi0_floor: float = PI0_FLOOR,
    ):
        self.task, self.arrays = task, game_spec(task)
        self.q, self.pi0, self.alpha, self.beta, self.pi0_floor = q, pi0, alpha, beta, pi0_floor
        self.egocentric, self.greedy, self.alone = order == "egocentric", greedy, alone
        self.rng = np.random.default_rng(seed)

    def probabilities(self, agent: int, s: int) -> np.ndarray:
        if self.pi0 is None:
            row = self.q[agent, s]
        elif self.greedy:
            row = distral_logits(self.q[agent, s], self.pi0[agent, s], self.alpha, self.beta, self.pi0_floor)
        else:
            return distral_policy(self.q[agent, s], self.pi0[agent, s], self.alpha, self.beta, self.pi0_floor)
        best = row == row.max()
        return best / best.sum()

    def observation(self, agent: int, pos, done, prev) -> int:
        if self.alone:
            return int(self.arrays.cell_index[pos[agent][0], pos[agent][1]])
        return agent_observation(self.arrays.cell_index, self.arrays.n_cells, pos, prev, done, agent, self.egocentric)

    def __call__(self, pos, done, prev, t):
        actions = []
        for agent in (0, 1):
            s = self.observation(agent, pos, done, prev)
            actions.append(int(self.rng.choice(len(self.q[agent, s]), p=self.probabilities(agent, s))))
        return actions


def learned_policy(result, task_index: int = 0, seed: int = 0, task: Task | None = None) -> TablePolicy:
    """The policy a run learned on one of its tasks (the run must keep its tables), played the way
    its ``eval_return`` was; give ``task`` when the run's tasks are map files rather than built-in
    names."""
    result.require_tables()
    task = task or load_task(result.tasks[task_index])
    learner = result.learner
    if result.prior is None:  # Q-learning: greedy on Q
        return TablePolicy(task, result.q[task_index], order=learner.setup.order, seed=seed)
    return TablePolicy(
        task,
        result.q[task_index],
        result.prior,
        learner.alpha,
        learner.beta,
        learner.setup.order,
        seed,
        greedy=result.evaluation == "greedy",
        alone=learner.players == "alone",
        pi0_floor=learner.pi0_floor,
    )


def play_learned(result, task_index: int = 0, seed: int = 0, task: Task | None = None) -> Trajectory:
    """One episode of the learned policies on a task, learning nothing. The policies of a run whose
    agents played alone meet here for the first time: both are on the map."""
    policy = learned_policy(result, task_index, seed, task)
    setup = result.learner.setup
    return play(policy.task, policy, setup.max_steps, setup.contention)


def typical_game(
    result, task_index: int = 0, games: int = 7, gamma: float = 0.99, task: Task | None = None
) -> Trajectory:
    """Of ``games`` seeded games of a run's learned policies on one task, the median one by its
    return (both agents averaged, discounted with ``gamma``): a game to show as "typical"."""
    played = [play_learned(result, task_index, seed=k, task=task) for k in range(games)]
    returns = [game.returns(gamma).mean() for game in played]
    return played[int(np.argsort(returns, kind="stable")[games // 2])]
