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

GAMMAS = (0.9, 0.99)
CROSSING_TASKS = ("task1", "task2", "task3")
AGENTS = ("agent_1", "agent_2")


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
        cells = [(r, c0) for r in _between(r0, 3)] + [(3, c) for c in _between(c0, c1)] + [(r, c1) for r in _between(3, r1)]
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
