"""Statistics of played episodes (``mdlib.analysis``), checked on trajectories whose answers are
known: the exact joint optimum of task 1 (agent 1 crosses first at full speed, agent 2 waits six
steps and arrives on its 16th, see ``test_solver.py``), and scripted episodes.

* the corridor is the set of free cells walled in on two opposite sides: row 3, columns 3-5 in
  every map of the report, one vertical cell in a hand-made map;
* who enters the corridor first is the agent standing in it at the earliest step; nobody when
  neither enters or both enter at the same step;
* an agent crosses when it leaves the corridor at the other end from where it came in; who
  crosses first is decided by who gets out first, even after a tie at the entrance;
* arrival steps are the steps at which each agent is first done, extra steps those minus the
  agent's shortest path; an agent that never arrives has neither;
* ``games_to_reach`` finds the first point at (or from which the curve stays at) a target.
"""

from __future__ import annotations

import numpy as np
import pytest

from mdlib import game, load_task, solve_joint
from mdlib.analysis import (
    arrival_steps,
    corridor_cells,
    corridor_crossings,
    corridor_entries,
    extra_steps,
    games_to_reach,
    who_crosses_corridor_first,
    who_enters_corridor_first,
)
from mdlib.tasks import BUILTIN_TASKS, parse_task

STAY, DOWN, UP, LEFT, RIGHT = range(5)
REPORT_CORRIDOR = frozenset({(3, 3), (3, 4), (3, 5)})

VERTICAL_CORRIDOR = """
1 1 1 1 1 1
1 4 0 0 5 1
1 0 0 0 0 1
1 1 0 1 1 1
1 0 0 0 0 1
1 3 0 0 2 1
1 1 1 1 1 1
""".strip()


def scripted(plan_1, plan_2):
    """A policy replaying two lists of actions (stay once they run out)."""

    def act(pos, done, prev, t):
        return [plan[t] if t < len(plan) else STAY for plan in (plan_1, plan_2)]

    return act


def play(task, plan_1, plan_2, max_steps=30):
    return game.play(load_task(task), scripted(plan_1, plan_2), max_steps=max_steps)


@pytest.mark.parametrize("name", BUILTIN_TASKS)
def test_the_corridor_of_every_report_map_is_row_3_columns_3_to_5(name):
    assert corridor_cells(load_task(name)) == REPORT_CORRIDOR


def test_a_vertical_corridor_is_found_too():
    task = parse_task(VERTICAL_CORRIDOR, name="vertical", source="vertical.txt")
    assert corridor_cells(task) == {(3, 2)}


@pytest.mark.parametrize("favour, first", [("agent_1", 0), ("agent_2", 1)])
def test_the_exact_optimum_of_task_1_lets_the_favoured_agent_cross_first(favour, first):
    trajectory = solve_joint("task1", favour=favour).trajectory
    assert who_enters_corridor_first(trajectory) == first
    waiting = 1 - first
    arrivals = arrival_steps(trajectory)
    assert arrivals[first] == 10 and arrivals[waiting] == 16
    extra = extra_steps(trajectory)
    assert extra[first] == 0 and extra[waiting] == 6
    entries = corridor_entries(trajectory)
    assert entries[first] < entries[waiting]
    assert who_crosses_corridor_first(trajectory) == first


def test_the_exact_optimum_of_task_1_enters_the_corridor_at_the_expected_steps():
    """Agent 1 walks down twice and right twice: in the corridor at step 4. Agent 2 enters after
    agent 1, and at step 10 at the latest: from the corridor's first cell on its side, (3, 5), it
    still needs six moves to arrive on step 16."""
    entries = corridor_entries(solve_joint("task1", favour="agent_1").trajectory)
    assert entries[0] == 4
    assert entries[1] is not None and 4 < entries[1] <= 10


def test_the_crossings_of_the_exact_optimum_of_task_1():
    """Agent 1 is in the corridor on steps 4-6 and beyond its far end, at (3, 6), on step 7.
    Agent 2 steps in at (3, 5) on step 10 and is beyond the other end, at (3, 2), on step 13,
    three moves from the goal it reaches on step 16."""
    crossings = corridor_crossings(solve_joint("task1", favour="agent_1").trajectory)
    assert crossings == ((4, 7), (10, 13))


def test_backing_out_is_not_crossing():
    """Both step into the corridor on step 4; agent 1 backs out to (3, 2) and steps down out of
    the way, agent 2 walks on: agent 2 crosses first although nobody entered first."""
    trajectory = play(
        "task1", [DOWN, DOWN, RIGHT, RIGHT, LEFT, DOWN], [DOWN, DOWN, LEFT, LEFT, LEFT, LEFT, LEFT], max_steps=8
    )
    assert who_enters_corridor_first(trajectory) is None
    assert tuple(trajectory.positions[7, 1]) == (3, 2)
    assert corridor_crossings(trajectory) == (None, (4, 7))
    assert who_crosses_corridor_first(trajectory) == 1


def test_nobody_enters_when_both_stay():
    trajectory = play("task1", [], [], max_steps=5)
    assert corridor_entries(trajectory) == (None, None)
    assert who_enters_corridor_first(trajectory) is None
    assert corridor_crossings(trajectory) == (None, None)
    assert who_crosses_corridor_first(trajectory) is None
    assert arrival_steps(trajectory) == (None, None)
    assert extra_steps(trajectory) == (None, None)


def test_entering_at_the_same_step_from_both_ends_is_nobody_first():
    """Agent 1: down, down, right, right reaches (3, 3); agent 2: down, down, left, left
    reaches (3, 5), both on step 4."""
    trajectory = play("task1", [DOWN, DOWN, RIGHT, RIGHT], [DOWN, DOWN, LEFT, LEFT], max_steps=6)
    assert tuple(trajectory.positions[4, 0]) == (3, 3) and tuple(trajectory.positions[4, 1]) == (3, 5)
    assert corridor_entries(trajectory) == (4, 4)
    assert who_enters_corridor_first(trajectory) is None


@pytest.mark.parametrize("mover", [0, 1])
def test_an_agent_that_never_enters_counts_as_last(mover):
    plans = [[], []]
    plans[mover] = [DOWN, DOWN, RIGHT, RIGHT] if mover == 0 else [DOWN, DOWN, LEFT, LEFT]
    trajectory = play("task1", *plans, max_steps=6)
    assert who_enters_corridor_first(trajectory) == mover
    assert corridor_entries(trajectory)[1 - mover] is None


def test_arrivals_of_a_scripted_lone_walk():
    """Task 5: agent 1 walks straight down (4 moves) to its goal; agent 2 never moves."""
    task = load_task("task5")
    (r1, c1), (g1, h1) = task.starts[0], task.goals[0]
    assert c1 == h1
    trajectory = play("task5", [DOWN] * (g1 - r1), [], max_steps=8)
    assert arrival_steps(trajectory) == (g1 - r1, None)
    assert extra_steps(trajectory) == (0, None)
    assert who_enters_corridor_first(trajectory) is None


def test_games_to_reach():
    x, curve = [10, 20, 30, 40], [0.0, 5.0, 3.0, 6.0]
    assert games_to_reach(x, curve, 5.0, stay=False) == 20
    assert games_to_reach(x, curve, 5.0) == 40
    assert games_to_reach(x, curve, 7.0) is None
    assert games_to_reach(x, curve, 7.0, stay=False) is None
    assert games_to_reach(x, curve, -1.0) == 10
    assert games_to_reach(x, [0.0, 5.0, 6.0, 4.0], 5.0) is None


def test_corridor_share_counts_the_visits_made_standing_in_the_corridor():
    from mdlib.analysis import corridor_share, own_cell_visits

    task = load_task("task1")
    n = task.n_cells
    weights = np.zeros((2, game.observation_count(n)))
    corridor = task.cell_index[3, 4]
    room = task.cell_index[1, 1]
    weights[0, game.observation_index(n, corridor, room, 2, 0, False)] = 3.0  # agent 1 in the corridor
    weights[0, game.observation_index(n, room, corridor, 0, 0, True)] = 1.0
    weights[1, game.observation_index(n, room, corridor, 4, 1, False)] = 2.0
    np.testing.assert_allclose(corridor_share(weights, task), [0.75, 0.0])
    assert own_cell_visits(weights, task)[0, corridor] == 3.0
    lone = np.zeros((2, n))
    lone[1, corridor] = 1.0
    lone[1, room] = 1.0
    lone[0, room] = 1.0
    np.testing.assert_allclose(corridor_share(lone, task), [0.0, 0.5])
    with pytest.raises(ValueError, match="expected visits of shape"):
        own_cell_visits(np.zeros((2, 7)), task)
