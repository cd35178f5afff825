"""The exact joint solver against returns derived by hand from the maps.

A lone agent that needs L moves collects -0.1 on each of its first L - 1 steps and +100 on the
L-th, so its discounted return is  -0.1 * sum_{k < L-1} gamma^k + 100 * gamma^(L-1).

Corridor delay in tasks 1-3 (both agents need L = 10 moves and must cross the corridor in
opposite directions). The corridor cells are (3, 3), (3, 4), (3, 5); the rooms' door cells are
(3, 2) and (3, 6). The agent that goes first reaches its room's door cell after 3 moves, the far
door cell after 7, and its goal after 10. The other agent must pass through that far door cell,
which the first agent occupies at step 7: it cannot be in it then, nor enter it at step 8 (no
following into a cell being vacated), so it is there at step 9 at the earliest, and 7 more moves
(4 along the corridor row, then 3 to its goal) bring it home at step 16: a delay of 6 steps.
Letting one agent go at full speed is better than sharing the delay, because the return is
convex in the arrival time.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest

from mdlib import game, load_task, solve_joint
from mdlib.solver import lone_return, shortest_path_length

try:  # pytest puts tests/ on sys.path (rootdir conftest, no tests/__init__.py)
    from test_game import rules_step
except ModuleNotFoundError:  # imported from the repository root
    from tests.test_game import rules_step

GAMMAS = (0.9, 0.99)
CROSSING_TASKS = ("task1", "task2", "task3")
AGENTS = game.AGENTS


def lone(moves: int, gamma: float) -> float:
    """A lone agent's discounted return when it arrives on its ``moves``-th step."""
    return sum(-0.1 * gamma**k for k in range(moves - 1)) + 100 * gamma ** (moves - 1)


@functools.lru_cache(maxsize=None)
def solved(task: str, gamma: float = 0.99, contention: str = "reference", favour: str = "agent_1"):
    return solve_joint(task, gamma=gamma, contention=contention, favour=favour)


def approx(value):
    return pytest.approx(value, rel=1e-9, abs=1e-9)


def straight_path_length(task, agent: int) -> int:
    """Moves along the L-shaped path start -> corridor row 3 -> goal, checking every cell is free."""
    (r0, c0), (r1, c1) = task.starts[agent], task.goals[agent]
    if c0 == c1:  # same column: straight down or up
        cells = [(r, c0) for r in _between(r0, r1)]
    else:
        cells = (
            [(r, c0) for r in _between(r0, 3)] + [(3, c) for c in _between(c0, c1)] + [(r, c1) for r in _between(3, r1)]
        )
    assert all(not task.walls[cell] for cell in cells), f"blocked path for agent {agent + 1}"
    return len(cells)


def _between(a: int, b: int) -> list[int]:
    """The coordinates after ``a`` up to and including ``b``."""
    step = 1 if b >= a else -1
    return list(range(a + step, b + step, step))


# --- the lone-agent formula ---------------------------------------------------------------------------


def test_lone_agent_needing_10_moves_earns_90_49_at_gamma_0_99():
    assert round(lone(10, 0.99), 2) == 90.49
    assert lone_return(10, 0.99) == approx(lone(10, 0.99))


@pytest.mark.parametrize("gamma", GAMMAS)
@pytest.mark.parametrize("moves", (1, 2, 4, 7, 10, 13, 16))
def test_solver_lone_return_is_the_hand_formula(moves, gamma):
    assert lone_return(moves, gamma) == approx(lone(moves, gamma))


def test_lone_return_of_one_move_is_just_the_goal_reward():
    assert lone(1, 0.99) == 100.0


# --- path lengths, counted on the maps ------------------------------------------------------------------


def test_task5_agents_each_walk_4_cells_straight_down_their_own_room():
    task = load_task("task5")
    assert task.starts == ((1, 7), (1, 1)) and task.goals == ((5, 7), (5, 1))
    for agent in (0, 1):
        assert straight_path_length(task, agent) == 4  # rows 2, 3, 4, 5
        assert shortest_path_length(task, agent) == 4


@pytest.mark.parametrize("task_name", CROSSING_TASKS)
def test_crossing_task_agents_each_need_10_moves_through_the_corridor(task_name):
    """2 rows to the corridor row (3), 6 columns across, 2 rows to the goal. The corridor row is
    the only way between the rooms, so no path is shorter."""
    task = load_task(task_name)
    for agent in (0, 1):
        assert straight_path_length(task, agent) == 10
        assert shortest_path_length(task, agent) == 10


def test_task4_agent_1_starts_at_the_corridor_and_needs_7_moves():
    task = load_task("task4")
    assert task.starts[0] == (3, 2)
    assert straight_path_length(task, 0) == 7  # 5 columns right, 2 rows down
    assert straight_path_length(task, 1) == 10


# --- task 5: no interaction ---------------------------------------------------------------------------


@pytest.mark.parametrize("gamma", GAMMAS)
def test_task5_both_agents_get_their_lone_optimum(gamma):
    solution = solved("task5", gamma)
    assert solution.returns == {"agent_1": approx(lone(4, gamma)), "agent_2": approx(lone(4, gamma))}
    assert solution.value == approx(2 * lone(4, gamma))
    assert solution.alternative == {a: approx(v) for a, v in solution.returns.items()}
    assert not solution.waits


@pytest.mark.parametrize("gamma", GAMMAS)
def test_task5_both_agents_arrive_on_step_4(gamma):
    trajectory = solved("task5", gamma).trajectory
    assert len(trajectory) == 4
    np.testing.assert_array_equal(trajectory.rewards[-1], [100.0, 100.0])


# --- tasks 1-3: one agent waits for the corridor ---------------------------------------------------------


@pytest.mark.parametrize("contention", ("reference", "both_blocked"))
@pytest.mark.parametrize("gamma", GAMMAS)
@pytest.mark.parametrize("task_name", CROSSING_TASKS)
def test_crossing_task_optimum_delays_one_agent_by_6_steps(task_name, gamma, contention):
    solution = solved(task_name, gamma, contention)
    assert solution.returns == {"agent_1": approx(lone(10, gamma)), "agent_2": approx(lone(16, gamma))}
    assert solution.value == approx(lone(10, gamma) + lone(16, gamma))


@pytest.mark.parametrize("gamma", GAMMAS)
@pytest.mark.parametrize("task_name", CROSSING_TASKS)
def test_crossing_task_optimum_is_below_the_sum_of_lone_optima(task_name, gamma):
    solution = solved(task_name, gamma)
    assert solution.lone_returns == {"agent_1": approx(lone(10, gamma)), "agent_2": approx(lone(10, gamma))}
    assert solution.value < 2 * lone(10, gamma)
    assert solution.waits


@pytest.mark.parametrize("gamma", GAMMAS)
@pytest.mark.parametrize("task_name", CROSSING_TASKS)
def test_favoured_agent_gets_its_lone_optimum(task_name, gamma):
    for favour in AGENTS:
        solution = solved(task_name, gamma, favour=favour)
        assert solution.favoured == favour
        assert solution.returns[favour] == approx(lone(10, gamma))


@pytest.mark.parametrize("gamma", GAMMAS)
@pytest.mark.parametrize("task_name", CROSSING_TASKS)
def test_alternative_split_is_the_mirror_image_of_the_returns(task_name, gamma):
    solution = solved(task_name, gamma)
    assert solution.alternative == {
        "agent_1": approx(solution.returns["agent_2"]),
        "agent_2": approx(solution.returns["agent_1"]),
    }


@pytest.mark.parametrize("task_name", CROSSING_TASKS)
def test_favouring_agent_2_swaps_the_split_and_keeps_the_value(task_name):
    by_1, by_2 = solved(task_name, favour="agent_1"), solved(task_name, favour="agent_2")
    assert by_2.value == approx(by_1.value)
    assert by_2.returns == {"agent_1": approx(by_1.returns["agent_2"]), "agent_2": approx(by_1.returns["agent_1"])}


@pytest.mark.parametrize("task_name", CROSSING_TASKS)
def test_crossing_task_trajectory_brings_the_favoured_agent_home_on_step_10_and_the_other_on_step_16(task_name):
    trajectory = solved(task_name).trajectory
    arrival = [int(np.argmax(trajectory.done[:, agent])) for agent in (0, 1)]
    assert arrival == [10, 16]


# --- task 4: the agent at the corridor goes first --------------------------------------------------------


@pytest.mark.parametrize("gamma", GAMMAS)
def test_task4_agent_1_goes_first_and_agent_2_arrives_on_step_13(gamma):
    """Agent 1 is at the far door cell (3, 6) on step 4, so agent 2 is there on step 6 at the
    earliest and needs 7 more moves: 13. Going first is worth more for the shorter path, so the
    split is the same whichever agent is favoured."""
    for favour in AGENTS:
        solution = solved("task4", gamma, favour=favour)
        assert solution.returns == {"agent_1": approx(lone(7, gamma)), "agent_2": approx(lone(13, gamma))}
        assert solution.alternative == {a: approx(v) for a, v in solution.returns.items()}


# --- properties of every solution ------------------------------------------------------------------------

ALL_CASES = [(t, g) for t in ("task1", "task2", "task3", "task4", "task5") for g in GAMMAS]


@pytest.mark.parametrize(("task_name", "gamma"), ALL_CASES)
def test_value_is_the_sum_of_both_splits(task_name, gamma):
    solution = solved(task_name, gamma)
    assert sum(solution.returns.values()) == approx(solution.value)
    assert sum(solution.alternative.values()) == approx(solution.value)
    assert solution.state_values[0] == approx(solution.value)


@pytest.mark.parametrize(("task_name", "gamma"), ALL_CASES)
def test_trajectory_is_legal_and_ends_with_both_done(task_name, gamma):
    """Playing the solver's joint actions through the game from the starts reproduces it exactly."""
    solution = solved(task_name, gamma)
    trajectory = solution.trajectory
    replayed = game.play(solution.task, lambda pos, done, prev, t: trajectory.actions[t], max_steps=len(trajectory))
    np.testing.assert_array_equal(trajectory.positions[0], solution.task.starts)
    np.testing.assert_array_equal(replayed.positions, trajectory.positions)
    np.testing.assert_array_equal(replayed.done, trajectory.done)
    np.testing.assert_array_equal(replayed.rewards, trajectory.rewards)
    assert trajectory.done[-1].all()
    assert not trajectory.done[-2].all()


@pytest.mark.parametrize(("task_name", "gamma"), ALL_CASES)
def test_trajectory_earns_the_favoured_split(task_name, gamma):
    solution = solved(task_name, gamma)
    rewards = solution.trajectory.rewards
    by_hand = [sum(gamma**t * r for t, r in enumerate(rewards[:, agent])) for agent in (0, 1)]
    assert by_hand == [approx(solution.returns["agent_1"]), approx(solution.returns["agent_2"])]
    assert solution.trajectory.returns(gamma).tolist() == [approx(v) for v in by_hand]


def test_accepts_a_task_object():
    task = load_task("task5")
    assert solve_joint(task).task is task


# --- bad input -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("gamma", (0, 1, -0.5, 1.5, math.nan))
def test_gamma_outside_the_open_unit_interval_is_an_error(gamma):
    with pytest.raises(ValueError, match=r"gamma must lie in \(0, 1\), got"):
        solve_joint("task5", gamma=gamma)


def test_unknown_favoured_agent_is_an_error():
    with pytest.raises(ValueError, match="favour must be one of"):
        solve_joint("task5", favour="agent_3")


def test_unknown_contention_rule_is_an_error():
    with pytest.raises(ValueError, match="unknown contention rule 'nobody'"):
        solve_joint("task5", contention="nobody")


# --- one agent alone: the exact soft (Distral) optimum ----------------------------------------------------


@pytest.mark.parametrize("task_name", ["task1", "task4", "task5"])
@pytest.mark.parametrize("agent", [0, 1])
def test_lone_mdp_is_the_game_without_the_other_agent(task_name, agent):
    """Every move follows the plain statement of the rules (``rules_step`` of tests/test_game.py)
    with the other agent absent, done off the map: same next cell, same reward, and a move onto
    the goal ends the episode (an all-zero row: nothing is bootstrapped past the arrival). The
    other agent's goal is an ordinary cell here."""
    from mdlib.solver import lone_mdp

    task = load_task(task_name)
    mdp = lone_mdp(task, agent)
    cells, walls = task.free_cells, task.walls.tolist()
    assert mdp.transitions.shape == (len(cells), game.N_ACTIONS, len(cells))
    assert tuple(cells[mdp.start]) == task.starts[agent]
    for s, cell in enumerate(cells):
        for a in range(game.N_ACTIONS):
            positions, done, actions = [game.OFF_MAP, game.OFF_MAP], [True, True], [0, 0]
            positions[agent], done[agent], actions[agent] = tuple(int(x) for x in cell), False, a
            new_positions, new_done, rewards = rules_step(walls, task.goals, positions, done, actions, "reference")
            assert mdp.rewards[s, a] == rewards[agent]
            if new_done[agent]:
                assert not mdp.transitions[s, a].any()
            else:
                assert mdp.transitions[s, a, task.cell_index[new_positions[agent]]] == 1.0
                assert mdp.transitions[s, a].sum() == 1.0


def test_lone_mdp_is_stepped_by_the_game_kernel(monkeypatch):
    """One copy of the rules: every entry of the lone MDP comes from :func:`mdlib.game.transition`,
    called once per free cell and action."""
    from mdlib.solver import lone_mdp

    task, calls = load_task("task2"), []
    kernel = game.transition

    def spy(*arguments):
        calls.append(arguments)
        return kernel(*arguments)

    monkeypatch.setattr(game, "transition", spy)
    mdp = lone_mdp(task, 1)
    assert len(calls) == task.n_cells * game.N_ACTIONS
    assert all(call[3:5] == game.OFF_MAP and call[7] for call in calls)  # agent 1 absent and done
    monkeypatch.undo()
    assert np.array_equal(mdp.transitions, lone_mdp(task, 1).transitions)


@pytest.mark.parametrize("task_name", ["task1", "task4"])
@pytest.mark.parametrize("gamma", GAMMAS)
def test_greedy_lone_policy_earns_the_lone_optimum_and_staying_earns_the_step_costs(task_name, gamma):
    """policy_return is exact: a shortest-path policy (greedy on the hard values, from a soft
    solution with beta = 200 and alpha = 1) earns the hand formula and arrives surely; staying
    put for the whole horizon earns -0.1 sum_{t < 200} gamma^t and never arrives."""
    from mdlib.solver import lone_mdp, lone_soft_optimum, policy_return

    task = load_task(task_name)
    for agent in (0, 1):
        mdp = lone_mdp(task, agent)
        soft = lone_soft_optimum(task, agent, alpha=1.0, beta=200.0, gamma=gamma)
        greedy = np.eye(game.N_ACTIONS)[soft.q.argmax(axis=1)]
        total, arrival = policy_return(mdp, greedy, gamma)
        assert total == approx(lone(shortest_path_length(task, agent), gamma))
        assert arrival == 1.0
        stay = np.eye(game.N_ACTIONS)[np.zeros(len(mdp.rewards), int)]
        total, arrival = policy_return(mdp, stay, gamma, horizon=200)
        assert total == approx(-0.1 * sum(gamma**t for t in range(200)))
        assert arrival == 0.0


def test_uniform_prior_raises_the_soft_value_by_the_entropy_bonus_of_a_wandering_agent():
    """With a uniform prior, eq. 3 adds (1/beta)(1 - alpha) log 5 per step to the value of a
    policy that never arrives. With beta = 0.5 and an exponent of 0.1 on the prior (the original
    code's defect 4) that bonus, 2.9 a step, is worth far more than the goal: the exact soft
    optimum never goes home and earns exactly the step costs. With the correct alpha = 0.7 it
    does go home, but wanders: it earns less than the lone optimum, and beta = 5 recovers it."""
    from mdlib.solver import lone_soft_optimum

    gamma = 0.99
    wrong = lone_soft_optimum("task1", 0, alpha=0.1, beta=0.5, gamma=gamma)
    assert wrong.arrival < 1e-6
    assert wrong.task_return == pytest.approx(-0.1 * sum(gamma**t for t in range(200)), abs=1e-3)
    bonus = 2 * 0.9 * math.log(5)
    assert wrong.value == pytest.approx((bonus - 0.1) / (1 - gamma), rel=0.05)  # wandering for ever
    right = lone_soft_optimum("task1", 0, alpha=0.7, beta=0.5, gamma=gamma)
    sharp = lone_soft_optimum("task1", 0, alpha=0.7, beta=5.0, gamma=gamma)
    optimum = lone(10, gamma)
    assert right.arrival > 0.95 and right.task_return < optimum - 20
    assert sharp.arrival == pytest.approx(1.0) and sharp.task_return == pytest.approx(optimum, abs=0.1)
    np.testing.assert_allclose(right.policy.sum(axis=1), 1.0, atol=1e-12)


def test_lone_mdp_refuses_an_unknown_agent():
    from mdlib.solver import lone_mdp

    with pytest.raises(ValueError, match="agent must be 0 or 1"):
        lone_mdp("task1", 2)
