"""The pure-Python Q-learner (``mdlib.plainpython``), the yardstick of ``python -m mdlib bench``,
is mdlib's Q-learning written again in plain Python. These tests show that the comparison is
like with like:

* its game is the kernel's: every joint state and joint action of every map, both contention rules;
* it counts the same steps (transitions of the joint game, training and evaluation games alike),
  plays the same greedy game from the same table, and makes the same update, as mdlib's loop;
* with the report's settings it learns as mdlib's learner does on task 1: its random numbers
  differ, so the learning curves are compared over seeds, and its final greedy pair is held to
  what mdlib's reaches against the exact joint optimum.
"""

from __future__ import annotations

import functools
import itertools
from collections import defaultdict

import numpy as np
import pytest

from mdlib import game, load_task, plainpython, solve_joint
from mdlib.learners import QLearning, episodes, rng
from mdlib.learners.base import Setup
from mdlib.tasks import REPORT_TASKS

RETURN_GAMMA = 0.99
DOWN = 1


@functools.lru_cache(maxsize=None)
def task(name):
    return load_task(name)


def septuple(cells, previous, done, agent):
    """The plain learner's key for ``agent``: own cell, other's cell, own and other's previous
    action, other arrived."""
    other = 1 - agent
    return (cells[agent], cells[other], previous[agent], previous[other], done[other])


@pytest.mark.parametrize("contention", ["reference", "both_blocked"])
@pytest.mark.parametrize("name", REPORT_TASKS)
def test_the_plain_game_is_the_kernel_on_every_joint_state_and_action(name, contention):
    """Both agents on any two distinct free cells, either one done or not, any joint action."""
    plain = plainpython.CorridorGame(task(name), contention)
    spec = game.game_spec(task(name), contention)
    free = [tuple(int(x) for x in cell) for cell in task(name).free_cells]
    checked = 0
    for here_1, here_2 in itertools.permutations(free, 2):
        for done_1, done_2 in itertools.product((False, True), repeat=2):
            for action_1, action_2 in itertools.product(range(game.N_ACTIONS), repeat=2):
                row_1, col_1, row_2, col_2, *rest = game.transition(
                    spec.walls, spec.goals, spec.contention, *here_1, *here_2, done_1, done_2, action_1, action_2
                )
                expected = ((row_1, col_1), (row_2, col_2), *rest)
                assert plain.step(here_1, here_2, done_1, done_2, action_1, action_2) == expected
                checked += 1
    assert checked == len(free) * (len(free) - 1) * 4 * 25


def test_it_counts_transitions_of_the_joint_game_in_training_and_evaluation_as_mdlib_does():
    """No walk on task 1 arrives within 5 steps (each agent needs 10 moves), so one training game
    and one evaluation game are 5 transitions each: 10 environment steps, both ways."""
    learner = QLearning(episodes=1, eval_every=1, setup=Setup(eval_games=1, max_steps=5))
    assert plainpython.q_learning("task1", seed=0, learner=learner).env_steps == 10
    assert learner.run("task1", seed=0).env_steps == 10
    # Two training games and three evaluation games of 5 steps after each: 2 * 5 + 2 * 3 * 5.
    learner = QLearning(episodes=2, eval_every=1, setup=Setup(eval_games=3, max_steps=5))
    assert plainpython.q_learning("task1", seed=0, learner=learner).env_steps == 40 == learner.run("task1").env_steps


def test_a_greedy_game_on_the_same_table_is_the_same_game():
    """Tables that prefer, at each observation of the exact joint optimum's trajectory on task 1,
    that trajectory's action: both greedy loops replay it, with the same length and returns."""
    trajectory = solve_joint("task1", gamma=RETURN_GAMMA).trajectory
    spec = game.game_spec(task("task1"))
    q = np.zeros((2, spec.n_observations, game.N_ACTIONS))
    tables = ({}, {})
    previous = (0, 0)
    for t, joint in enumerate(trajectory.actions):
        cells = [tuple(int(x) for x in p) for p in trajectory.positions[t]]
        done = tuple(bool(d) for d in trajectory.done[t])
        for agent in (0, 1):
            if not done[agent]:
                values = [0.0] * game.N_ACTIONS
                values[joint[agent]] = 1.0
                tables[agent][septuple(cells, previous, done, agent)] = values
                s = game.observation(task("task1"), cells, previous, done, agent)
                q[agent, s, joint[agent]] = 1.0
        previous = tuple(int(a) for a in joint)

    returns, steps = plainpython.play_episode(plainpython.CorridorGame(task("task1")), tables, None)
    assert steps == len(trajectory)
    np.testing.assert_allclose(returns, trajectory.returns(RETURN_GAMMA), rtol=0, atol=1e-12)

    mdlib_returns, lengths = np.empty((1, 2)), np.empty(1, np.int64)
    mdlib_steps = episodes.play_episodes(
        spec,
        episodes.learning_rule(episodes.GREEDY),
        q,
        n_episodes=1,
        return_gamma=RETURN_GAMMA,
        returns=mdlib_returns,
        lengths=lengths,
    )
    assert mdlib_steps == lengths[0] == steps
    np.testing.assert_allclose(mdlib_returns[0], returns, rtol=0, atol=1e-12)


def test_one_learning_game_makes_mdlibs_updates():
    """Task 5, every Q(s, down) = 1 at the start, learning rate 1 and gamma 0.9 (as in
    tests/test_qlearning.py): both agents walk down to their goals, and the plain tables end with
    mdlib's values at every observation visited (0.8 on the way, 100 onto the goal)."""
    plain_game = plainpython.CorridorGame(task("task5"))
    tables = tuple(defaultdict(lambda: [0.0, 1.0, 0.0, 0.0, 0.0]) for _ in range(2))
    returns, steps = plainpython.play_episode(plain_game, tables, None, learn=(1.0, 0.9))

    spec = game.game_spec(task("task5"))
    q = np.zeros((2, spec.n_observations, game.N_ACTIONS))
    q[:, :, DOWN] = 1.0
    rule = episodes.learning_rule(
        episodes.EPSILON_GREEDY, learn=True, learning_rate=1.0, gamma=0.9, epsilon_min=0.0, epsilon_decay=1000.0
    )
    mdlib_returns, lengths = np.empty((1, 2)), np.empty(1, np.int64)
    rng.seed(0)
    episodes.play_episodes(
        spec, rule, q, first_episode=1, n_episodes=1, return_gamma=RETURN_GAMMA, returns=mdlib_returns, lengths=lengths
    )
    assert steps == lengths[0] == 4
    np.testing.assert_allclose(returns, mdlib_returns[0], rtol=0, atol=1e-12)
    for agent in (0, 1):
        assert len(tables[agent]) >= 4
        for (own, other, own_prev, other_prev, other_done), values in tables[agent].items():
            cells = [own, other] if agent == 0 else [other, own]
            s = game.observation(
                task("task5"),
                cells,
                (own_prev, other_prev) if agent == 0 else (other_prev, own_prev),
                (False, other_done) if agent == 0 else (other_done, False),
                agent,
            )
            np.testing.assert_allclose(values, q[agent, s], rtol=0, atol=1e-12)
        learned = sorted(v[DOWN] for v in tables[agent].values() if v[DOWN] != 1.0)
        assert learned == pytest.approx([0.8, 0.8, 0.8, 100.0])


@pytest.mark.slow
def test_with_the_report_settings_it_learns_as_mdlib_does_on_task_1():
    """Report settings (2000 episodes, learning rate 0.2, gamma 0.9, epsilon 0.01 + 0.99 e^(-0.001 n),
    greedy evaluation every 100 episodes). Over seeds, the plain learner's training returns (both
    agents' sum, averaged over each quarter of the episodes) and its environment steps per run lie
    within 4 standard errors of mdlib's (Welch); and, as every mdlib seed does
    (tests/test_qlearning.py), every seed's final greedy pair earns at least 95% of the exact joint
    optimum 175.09 and at most it. 8 seeds of the plain learner against 40 of mdlib (some 15 s on a
    busy 2-core machine)."""
    optimum = solve_joint("task1", gamma=RETURN_GAMMA).value
    quarters = np.arange(2000).reshape(4, 500)

    def summary(train_return, final, steps):
        total = np.asarray(train_return).sum(axis=1)
        assert 0.95 * optimum <= final.sum() <= optimum + 1e-9
        return [*(total[q].mean() for q in quarters), steps]

    compiled = []
    for seed in range(40):
        run = QLearning().run("task1", seed=seed)
        compiled.append(summary(run.train_return[0], run.eval_return[0, -1], run.env_steps))
    plain = []
    for seed in range(8):
        run = plainpython.q_learning("task1", seed=seed)
        assert run.eval_x == list(range(100, 2001, 100))
        plain.append(summary(run.train_return, np.asarray(run.eval_return[-1]), run.env_steps))
    compiled, plain = np.array(compiled), np.array(plain)
    standard_error = np.sqrt(compiled.var(axis=0, ddof=1) / len(compiled) + plain.var(axis=0, ddof=1) / len(plain))
    difference = np.abs(compiled.mean(axis=0) - plain.mean(axis=0))
    assert np.all(difference < 4 * standard_error), (compiled.mean(axis=0), plain.mean(axis=0), standard_error)
