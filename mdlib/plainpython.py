"""Independent Q-learning written the way one writes it in plain Python: the yardstick of
``python -m mdlib bench``.

Nothing here is compiled and nothing shares code with the compiled loop
(:mod:`mdlib.learners.episodes`): the map is a set of free cells, each agent's table a dict from
its observation (the septuple of the rules, ``book/rules.md``) to a list of five action values,
created on first visit, and exploration and tie-breaking draw from Python's ``random``. The game
is this module's own transcription of the rules appendix, "One step", under either contention
rule. The learner is :class:`mdlib.learners.QLearning`'s algorithm with its settings (read from a
``QLearning`` object, the report's by default): epsilon-greedy with epsilon ``epsilon_min + (1 -
epsilon_min) exp(-epsilon_decay * episode)``, Q(s, a) moved towards ``r + gamma max Q(s', .)``
with no bootstrap past an agent's own arrival, ties broken uniformly at random, and
``QLearning.run``'s protocol: the greedy policies evaluated in ``eval_games`` games every
``eval_every`` episodes, returns discounted with ``return_gamma``. ``env_steps`` counts what
``RunResult.env_steps`` counts: transitions of the joint game, in training and
evaluation games alike. ``tests/test_plainpython.py`` checks that it plays the same game and
learns as mdlib's learner does (its random numbers differ, so it compares distributions over
seeds).
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from dataclasses import dataclass

from .learners import QLearning
from .tasks import load_task

#: ``(d_row, d_col)`` of the actions stay, down, up, left, right (the rules' numbering).
MOVES = ((0, 0), (1, 0), (-1, 0), (0, -1), (0, 1))
N_ACTIONS = len(MOVES)
GOAL_REWARD, STEP_REWARD = 100.0, -0.1


class CorridorGame:
    """The corridor game of ``task`` (a :class:`mdlib.tasks.Task`); a cell is a ``(row, col)``
    tuple."""

    def __init__(self, task, contention: str = "reference", max_steps: int = 200):
        if contention not in ("reference", "both_blocked"):
            raise ValueError(f"unknown contention rule {contention!r}")
        rows, cols = task.walls.shape
        free = {(row, col) for row in range(rows) for col in range(cols) if not task.walls[row, col]}
        # Where each action leads from each free cell on the empty map: a move into a wall or off
        # the map fails (the edge of the map is wall).
        self.moves = {
            (row, col): tuple((row + dr, col + dc) if (row + dr, col + dc) in free else (row, col) for dr, dc in MOVES)
            for row, col in free
        }
        self.starts = tuple(tuple(int(x) for x in cell) for cell in task.starts)
        self.goals = tuple(tuple(int(x) for x in cell) for cell in task.goals)
        self.both_blocked = contention == "both_blocked"
        self.max_steps = max_steps

    def step(self, here_1, here_2, done_1, done_2, action_1, action_2):
        """One simultaneous step: ``(cell_1, cell_2, done_1, done_2, reward_1, reward_2)`` after it.
        A done agent stays; no agent enters the cell the other occupies; a contested cell goes to
        agent 2 (reference) or to nobody (both_blocked)."""
        to_1 = here_1 if done_1 else self.moves[here_1][action_1]
        to_2 = here_2 if done_2 else self.moves[here_2][action_2]
        contested = to_1 == to_2
        if contested or to_1 == here_2:
            to_1 = here_1
        if to_2 == here_1 or to_2 == to_1 or (contested and self.both_blocked):
            to_2 = here_2
        arrived_1 = not done_1 and to_1 == self.goals[0]
        arrived_2 = not done_2 and to_2 == self.goals[1]
        reward_1 = 0.0 if done_1 else GOAL_REWARD if arrived_1 else STEP_REWARD
        reward_2 = 0.0 if done_2 else GOAL_REWARD if arrived_2 else STEP_REWARD
        return to_1, to_2, done_1 or arrived_1, done_2 or arrived_2, reward_1, reward_2


def greedy_action(values, rnd: random.Random) -> int:
    """An action of largest value, ties broken uniformly at random."""
    best = max(values)
    if values.count(best) == 1:
        return values.index(best)
    return rnd.choice([action for action, value in enumerate(values) if value == best])


def choose_action(values, rnd: random.Random, epsilon: float) -> int:
    """A uniformly random action with probability ``epsilon``, else :func:`greedy_action`."""
    if epsilon and rnd.random() < epsilon:
        return rnd.randrange(N_ACTIONS)
    return greedy_action(values, rnd)


def play_episode(game, tables, rnd, epsilon=0.0, learn=None, return_gamma=0.99):
    """One episode, epsilon-greedy on ``tables`` (one dict per agent; greedy for ``epsilon`` 0);
    with ``learn = (learning_rate, gamma)`` each agent's table is updated at each of its steps.
    Returns both agents' discounted returns and the number of steps.

    An agent's observation is the septuple of the rules in egocentric order, grouped as
    ``(own cell, other's cell, own previous action, other's previous action, other arrived)``.
    Q(s, a) moves towards ``reward + gamma max Q(s', .)``, with no bootstrap past the agent's own
    arrival."""
    table_1, table_2 = tables
    learning_rate, gamma = learn if learn is not None else (0.0, 0.0)
    cell_1, cell_2 = game.starts
    done_1 = done_2 = False
    obs_1, obs_2 = (cell_1, cell_2, 0, 0, False), (cell_2, cell_1, 0, 0, False)
    return_1 = return_2 = 0.0
    discount, steps = 1.0, 0
    while steps < game.max_steps and not (done_1 and done_2):
        action_1 = 0 if done_1 else choose_action(table_1[obs_1], rnd, epsilon)
        action_2 = 0 if done_2 else choose_action(table_2[obs_2], rnd, epsilon)
        cell_1, cell_2, now_done_1, now_done_2, reward_1, reward_2 = game.step(
            cell_1, cell_2, done_1, done_2, action_1, action_2
        )
        next_1 = (cell_1, cell_2, action_1, action_2, now_done_2)
        next_2 = (cell_2, cell_1, action_2, action_1, now_done_1)
        # The two agents' updates are written out, not a function called twice: a Python call per
        # agent and step would slow this yardstick by a seventh and flatter the compiled ratio.
        if not done_1:
            return_1 += discount * reward_1
            if learn is not None:
                target = reward_1 if now_done_1 else reward_1 + gamma * max(table_1[next_1])
                values = table_1[obs_1]
                values[action_1] += learning_rate * (target - values[action_1])
        if not done_2:
            return_2 += discount * reward_2
            if learn is not None:
                target = reward_2 if now_done_2 else reward_2 + gamma * max(table_2[next_2])
                values = table_2[obs_2]
                values[action_2] += learning_rate * (target - values[action_2])
        obs_1, obs_2, done_1, done_2 = next_1, next_2, now_done_1, now_done_2
        discount *= return_gamma
        steps += 1
    return (return_1, return_2), steps


@dataclass
class PlainRun:
    """One run: the training games' returns ``[episode][agent]``, the greedy evaluation's mean
    returns ``[point][agent]`` at ``eval_x`` episodes, and the environment steps taken."""

    train_return: list
    eval_x: list
    eval_return: list
    env_steps: int


def q_learning(task="task1", seed: int = 0, learner=None) -> PlainRun:
    """Independent Q-learning on ``task`` with the settings of ``learner`` (a
    :class:`mdlib.learners.QLearning`, the report's settings by default), seeded with ``seed``."""
    settings = (learner if learner is not None else QLearning()).settings()
    if settings["order"] != "egocentric":
        raise ValueError("the plain-Python learner observes in egocentric order only")
    task = load_task(task) if isinstance(task, str) else task
    game = CorridorGame(task, settings["contention"], settings["max_steps"])
    return_gamma = settings["return_gamma"]
    learn = (settings["learning_rate"], settings["gamma"])
    n_episodes, every = settings["episodes"], settings["eval_every"]
    eval_x = sorted(set(range(every, n_episodes + 1, every)) | {n_episodes})
    rnd = random.Random(seed)
    tables = (defaultdict(lambda: [0.0] * N_ACTIONS), defaultdict(lambda: [0.0] * N_ACTIONS))
    train, evals, steps, episode = [], [], 0, 0
    for stop in eval_x:
        while episode < stop:
            epsilon = settings["epsilon_min"] + (1 - settings["epsilon_min"]) * math.exp(
                -settings["epsilon_decay"] * episode
            )
            returns, length = play_episode(game, tables, rnd, epsilon, learn, return_gamma)
            train.append(returns)
            steps += length
            episode += 1
        total = [0.0, 0.0]
        for _ in range(settings["eval_games"]):
            returns, length = play_episode(game, tables, rnd, 0.0, None, return_gamma)
            total = [total[0] + returns[0], total[1] + returns[1]]
            steps += length
        evals.append([total[0] / settings["eval_games"], total[1] / settings["eval_games"]])
    return PlainRun(train, eval_x, evals, steps)
