"""The compiled transition kernel and the observation encoding against the rules appendix.

The heart of this module is a plain Python statement of the rules (``rules_step``), written from
the rules appendix (book/rules.md) and not from the kernel. The kernel must agree with it on
every reachable joint state and every joint action of every task, under both contention rules.
"""

from __future__ import annotations

import itertools
from collections import deque

import numpy as np
import pytest

from mdlib import game, load_task
from mdlib.solver import joint_mdp

TASKS = ("task1", "task2", "task3", "task4", "task5")
CONTENTIONS = ("reference", "both_blocked")

STAY, DOWN, UP, LEFT, RIGHT = range(5)
MOVE = {STAY: (0, 0), DOWN: (1, 0), UP: (-1, 0), LEFT: (0, -1), RIGHT: (0, 1)}


# --- the rules, stated plainly ----------------------------------------------------------------------


def rules_step(walls, goals, positions, done, actions, contention):
    """One step of the rules appendix (book/rules.md, "One step") for agents 1 and 2 (indices 0 and 1).

    ``positions`` and ``goals`` are pairs of (row, col); returns (new positions, new done flags,
    rewards), each a pair.
    """
    n_rows, n_cols = len(walls), len(walls[0])

    def enterable(cell):  # rule 2: a move into a wall or off the map fails
        row, col = cell
        return 0 <= row < n_rows and 0 <= col < n_cols and not walls[row][col]

    # Rule 1: a done agent is frozen; its action counts as stay.
    actions = [STAY if done[i] else actions[i] for i in (0, 1)]
    # Rule 2: each agent aims at position + move.
    p1, p2 = positions
    t1 = (p1[0] + MOVE[actions[0]][0], p1[1] + MOVE[actions[0]][1])
    t2 = (p2[0] + MOVE[actions[1]][0], p2[1] + MOVE[actions[1]][1])

    if contention == "reference":
        # Rule 4, precise form: agent 1 fails if its target is agent 2's target or agent 2's
        # current cell (rule 3); agent 2 then fails if its target is agent 1's final cell or
        # agent 1's current cell (rule 3).
        agent_1_moves = enterable(t1) and t1 != t2 and t1 != p2
        final_1 = t1 if agent_1_moves else p1
        agent_2_moves = enterable(t2) and t2 != final_1 and t2 != p1
    elif contention == "both_blocked":
        # Rule 4: both aim at the same free cell -> both stay. Rule 3: nobody enters the cell
        # the other occupies now (no swapping, no following).
        both_aim_at_same_free_cell = enterable(t1) and t1 == t2
        agent_1_moves = enterable(t1) and t1 != p2 and not both_aim_at_same_free_cell
        agent_2_moves = enterable(t2) and t2 != p1 and not both_aim_at_same_free_cell
    else:
        raise AssertionError(contention)
    new_positions = (t1 if agent_1_moves else p1, t2 if agent_2_moves else p2)

    # Rule 5: +100 on arriving at one's own goal (done from then on), else -0.1; 0 once done.
    new_done, rewards = [], []
    for i in (0, 1):
        if done[i]:
            new_done.append(True)
            rewards.append(0.0)
        elif new_positions[i] == goals[i]:
            new_done.append(True)
            rewards.append(100.0)
        else:
            new_done.append(False)
            rewards.append(-0.1)
    return new_positions, tuple(new_done), tuple(rewards)


def reachable_states(task, contention):
    """Every joint state (positions, done flags) reachable from the starts under ``rules_step``."""
    walls = task.walls.tolist()
    start = (task.starts, (False, False))
    seen, frontier = {start}, deque([start])
    while frontier:
        positions, done = frontier.popleft()
        for actions in itertools.product(range(5), repeat=2):
            new_positions, new_done, _ = rules_step(walls, task.goals, positions, done, actions, contention)
            state = (new_positions, new_done)
            if state not in seen:
                seen.add(state)
                frontier.append(state)
    return seen


class Kernel:
    """Calls the compiled kernel ``mdlib.game.transition`` with plain tuples in and out."""

    def __init__(self, task, contention="reference"):
        arrays = game.game_arrays(task)
        self.walls, self.goals = arrays.walls, arrays.goals
        self.code = game.contention_code(contention)

    def __call__(self, positions, done, actions):
        (row_1, col_1), (row_2, col_2) = positions
        out = game.transition(
            self.walls, self.goals, self.code, row_1, col_1, row_2, col_2, done[0], done[1], actions[0], actions[1]
        )
        row_1, col_1, row_2, col_2, done_1, done_2, reward_1, reward_2 = out
        return (
            ((int(row_1), int(col_1)), (int(row_2), int(col_2))),
            (bool(done_1), bool(done_2)),
            (float(reward_1), float(reward_2)),
        )


def step(task_name, positions, actions, done=(False, False), contention="reference"):
    """One kernel step on a built-in map from hand-placed agents."""
    return Kernel(load_task(task_name), contention)(positions, done, actions)


# --- the kernel equals the rules everywhere -----------------------------------------------------------


@pytest.mark.parametrize("contention", CONTENTIONS)
@pytest.mark.parametrize("task_name", TASKS)
def test_kernel_follows_the_rules_on_every_reachable_state_and_joint_action(task_name, contention):
    task = load_task(task_name)
    walls = task.walls.tolist()
    kernel = Kernel(task, contention)
    mismatches = []
    for positions, done in reachable_states(task, contention):
        for actions in itertools.product(range(5), repeat=2):
            expected = rules_step(walls, task.goals, positions, done, actions, contention)
            got = kernel(positions, done, actions)
            if got != expected:
                mismatches.append((positions, done, actions, expected, got))
    assert not mismatches, f"{len(mismatches)} mismatches, first: {mismatches[0]}"


@pytest.mark.parametrize("contention", CONTENTIONS)
@pytest.mark.parametrize("task_name", TASKS)
def test_joint_mdp_of_the_solver_follows_the_rules(task_name, contention):
    """``joint_mdp`` (built with ``game.step``) lists exactly the reachable states, and its
    next-state and reward tables (joint action = 5 * a1 + a2) are the rules'."""
    task = load_task(task_name)
    walls = task.walls.tolist()
    mdp = joint_mdp(task, contention)
    states = [(tuple(map(tuple, p.tolist())), tuple(map(bool, d))) for p, d in zip(mdp.positions, mdp.done)]
    assert len(set(states)) == mdp.n_states
    assert set(states) == reachable_states(task, contention)
    for s, (positions, done) in enumerate(states):
        for a1, a2 in itertools.product(range(5), repeat=2):
            new_positions, new_done, rewards = rules_step(walls, task.goals, positions, done, (a1, a2), contention)
            assert states[mdp.next_state[s, 5 * a1 + a2]] == (new_positions, new_done)
            assert tuple(mdp.rewards[s, 5 * a1 + a2].tolist()) == rewards


@pytest.mark.parametrize("contention", CONTENTIONS)
@pytest.mark.parametrize("task_name", TASKS)
def test_every_legal_joint_state_is_reachable(task_name, contention):
    """Neither agent is on its own goal unless done, and the agents are on different cells:
    22 * 22 - 21 pairs with neither done, 21 + 21 with one done, 1 with both: 506 states."""
    assert len(reachable_states(load_task(task_name), contention)) == (22 * 22 - 21) + 21 + 21 + 1 == 506


@pytest.mark.parametrize("task_name", TASKS)
def test_reachable_states_never_put_both_agents_on_one_cell(task_name):
    for positions, _ in reachable_states(load_task(task_name), "reference"):
        assert positions[0] != positions[1]


@pytest.mark.parametrize("task_name", TASKS)
def test_a_done_agent_is_always_on_its_goal(task_name):
    task = load_task(task_name)
    for positions, done in reachable_states(task, "both_blocked"):
        for i in (0, 1):
            assert not done[i] or positions[i] == task.goals[i]


# --- scenarios, one rule each (task 1; corridor cells (3, 3), (3, 4), (3, 5)) -------------------------


def test_both_agents_move_at_once():
    positions, done, rewards = step("task1", ((1, 1), (1, 7)), (DOWN, LEFT))
    assert positions == ((2, 1), (1, 6))
    assert done == (False, False)
    assert rewards == (-0.1, -0.1)


def test_every_action_moves_as_documented():
    centre = (3, 1)  # agent 1 in the left room's middle row; agent 2 far away
    expected = {STAY: (3, 1), DOWN: (4, 1), UP: (2, 1), LEFT: (3, 1), RIGHT: (3, 2)}  # left is a wall
    for action, cell in expected.items():
        positions, _, _ = step("task1", (centre, (1, 7)), (action, STAY))
        assert positions[0] == cell, game.ACTION_NAMES[action]


def test_move_into_a_wall_fails_and_costs_a_step():
    positions, _, rewards = step("task1", ((1, 1), (1, 7)), (UP, RIGHT))
    assert positions == ((1, 1), (1, 7))
    assert rewards == (-0.1, -0.1)


def test_reference_contention_in_the_corridor_lets_agent_2_in():
    positions, _, rewards = step("task1", ((3, 3), (3, 5)), (RIGHT, LEFT), contention="reference")
    assert positions == ((3, 3), (3, 4))
    assert rewards == (-0.1, -0.1)


def test_both_blocked_contention_in_the_corridor_blocks_both():
    positions, _, rewards = step("task1", ((3, 3), (3, 5)), (RIGHT, LEFT), contention="both_blocked")
    assert positions == ((3, 3), (3, 5))
    assert rewards == (-0.1, -0.1)


def test_reference_contention_favours_agent_2_in_a_room_too():
    positions, _, _ = step("task1", ((1, 1), (2, 2)), (RIGHT, UP), contention="reference")
    assert positions == ((1, 1), (1, 2))


@pytest.mark.parametrize("contention", CONTENTIONS)
def test_swap_attempt_fails_for_both(contention):
    positions, _, _ = step("task1", ((3, 3), (3, 4)), (RIGHT, LEFT), contention=contention)
    assert positions == ((3, 3), (3, 4))


@pytest.mark.parametrize("contention", CONTENTIONS)
def test_agent_1_cannot_follow_into_the_cell_agent_2_vacates(contention):
    positions, _, _ = step("task1", ((3, 3), (3, 4)), (RIGHT, RIGHT), contention=contention)
    assert positions == ((3, 3), (3, 5))


@pytest.mark.parametrize("contention", CONTENTIONS)
def test_agent_2_cannot_follow_into_the_cell_agent_1_vacates(contention):
    positions, _, _ = step("task1", ((3, 4), (3, 5)), (LEFT, LEFT), contention=contention)
    assert positions == ((3, 3), (3, 5))


@pytest.mark.parametrize("contention", CONTENTIONS)
def test_moving_into_a_standing_agent_fails(contention):
    positions, _, rewards = step("task1", ((3, 3), (3, 4)), (STAY, LEFT), contention=contention)
    assert positions == ((3, 3), (3, 4))
    assert rewards == (-0.1, -0.1)


def test_arriving_on_own_goal_pays_100_and_finishes_the_agent():
    positions, done, rewards = step("task1", ((4, 7), (1, 1)), (DOWN, STAY))
    assert positions[0] == (5, 7)
    assert done == (True, False)
    assert rewards == (100.0, -0.1)


def test_both_agents_can_arrive_in_the_same_step():
    _, done, rewards = step("task1", ((4, 7), (4, 1)), (DOWN, DOWN))
    assert done == (True, True)
    assert rewards == (100.0, 100.0)


def test_moving_onto_the_other_agents_goal_costs_a_step_and_finishes_nothing():
    # Agent 2's goal in task 1 is (5, 1); agent 1 steps onto it.
    positions, done, rewards = step("task1", ((4, 1), (1, 7)), (DOWN, STAY))
    assert positions[0] == (5, 1)
    assert done == (False, False)
    assert rewards == (-0.1, -0.1)


def test_a_done_agent_is_frozen_whatever_its_action_and_earns_nothing():
    for action in range(5):
        positions, done, rewards = step("task1", ((5, 7), (1, 1)), (action, RIGHT), done=(True, False))
        assert positions == ((5, 7), (1, 2))
        assert done == (True, False)
        assert rewards == (0.0, -0.1)


@pytest.mark.parametrize("contention", CONTENTIONS)
def test_a_done_agent_keeps_blocking_its_goal_cell(contention):
    # Agent 2 (goal (5, 1)) is done; agent 1 tries to walk through it.
    positions, done, rewards = step("task1", ((4, 1), (5, 1)), (DOWN, STAY), done=(False, True), contention=contention)
    assert positions == ((4, 1), (5, 1))
    assert done == (False, True)
    assert rewards == (-0.1, 0.0)


def test_nothing_happens_once_both_are_done():
    positions, done, rewards = step("task1", ((5, 7), (5, 1)), (UP, UP), done=(True, True))
    assert positions == ((5, 7), (5, 1))
    assert done == (True, True)
    assert rewards == (0.0, 0.0)


def test_unknown_contention_rule_is_an_error():
    with pytest.raises(
        ValueError, match="unknown contention rule 'agent_1_wins': expected one of reference, both_blocked"
    ):
        game.contention_code("agent_1_wins")


# --- observation index -----------------------------------------------------------------------------


def all_valid_observation_inputs(task):
    """Every (positions, previous actions, done flags) the index must cover: any two free cells
    (the same cell included), any two previous actions, the other agent done or not."""
    cells = [tuple(c) for c in task.free_cells.tolist()]
    for a, b in itertools.product(cells, repeat=2):
        for prev in itertools.product(range(5), repeat=2):
            for other_done in (False, True):
                yield np.array([a, b], np.int64), np.array(prev, np.int64), other_done


@pytest.mark.parametrize("order", game.OBSERVATION_ORDERS)
@pytest.mark.parametrize("agent", (0, 1))
def test_observation_index_is_a_bijection_onto_its_range_and_decodes_to_the_septuple(agent, order):
    task = load_task("task1")
    arrays = game.game_arrays(task)
    egocentric = order == "egocentric"
    n = 23 * 23 * 5 * 5 * 2
    assert arrays.n_observations == game.observation_count(23) == n == 26_450
    seen = np.zeros(n, dtype=np.int64)
    done = np.zeros(2, np.bool_)
    for pos, prev, other_done in all_valid_observation_inputs(task):
        done[1 - agent] = other_done
        index = game.agent_observation(arrays.cell_index, arrays.n_cells, pos, prev, done, agent, egocentric)
        assert 0 <= index < n
        seen[index] += 1
        septuple = game.observation_tuple(pos, prev, done, agent, egocentric)
        assert game.decode_observation_index(index, task.free_cells) == septuple
    assert (seen == 1).all()


def test_observation_index_ignores_the_observers_own_done_flag():
    arrays = game.game_arrays(load_task("task1"))
    pos, prev = np.array([(5, 7), (3, 4)], np.int64), np.array([1, 3], np.int64)
    indices = {
        game.agent_observation(arrays.cell_index, arrays.n_cells, pos, prev, np.array([own, False]), 0, True)
        for own in (False, True)
    }
    assert len(indices) == 1


def test_septuple_is_both_positions_own_and_other_previous_action_and_other_done():
    pos, prev, done = [(2, 1), (3, 6)], [4, 1], [False, True]
    assert game.observation_tuple(pos, prev, done, agent=0) == (2, 1, 3, 6, 4, 1, 1)


def test_egocentric_order_puts_the_observers_position_first():
    pos, prev, done = [(2, 1), (3, 6)], [4, 1], [True, False]
    assert game.observation_tuple(pos, prev, done, agent=1, egocentric=True) == (3, 6, 2, 1, 1, 4, 1)


def test_absolute_order_puts_agent_1_first_for_both_observers():
    pos, prev, done = [(2, 1), (3, 6)], [4, 1], [True, False]
    assert game.observation_tuple(pos, prev, done, agent=0, egocentric=False) == (2, 1, 3, 6, 4, 1, 0)
    assert game.observation_tuple(pos, prev, done, agent=1, egocentric=False) == (2, 1, 3, 6, 1, 4, 1)


def test_egocentric_and_absolute_order_agree_for_agent_1():
    arrays = game.game_arrays(load_task("task2"))
    pos, prev, done = np.array([(2, 1), (3, 6)]), np.array([4, 1]), np.array([False, True])
    ego = game.agent_observation(arrays.cell_index, arrays.n_cells, pos, prev, done, 0, True)
    absolute = game.agent_observation(arrays.cell_index, arrays.n_cells, pos, prev, done, 0, False)
    assert ego == absolute


def test_egocentric_index_lets_one_table_serve_either_agent():
    """Agent 2's egocentric index equals agent 1's in the mirrored situation (roles swapped)."""
    arrays = game.game_arrays(load_task("task1"))
    pos, prev, done = np.array([(2, 1), (3, 6)]), np.array([4, 1]), np.array([True, False])
    as_agent_2 = game.agent_observation(arrays.cell_index, arrays.n_cells, pos, prev, done, 1, True)
    swapped = game.agent_observation(
        arrays.cell_index, arrays.n_cells, pos[::-1].copy(), prev[::-1].copy(), done[::-1].copy(), 0, True
    )
    assert as_agent_2 == swapped
    absolute = game.agent_observation(arrays.cell_index, arrays.n_cells, pos, prev, done, 1, False)
    assert absolute != as_agent_2


def test_observation_index_layout_is_cells_then_actions_then_done_flag():
    index = game.observation_index(23, 1, 22, 3, 4, True)  # first cell, second cell, own, other, done
    assert index == (((1 * 23 + 22) * 5 + 3) * 5 + 4) * 2 + 1
    assert game.decode_observation_index(index, load_task("task1").free_cells) == (1, 2, 5, 7, 3, 4, 1)


def test_decoding_an_index_past_the_end_is_an_error():
    free = load_task("task1").free_cells
    with pytest.raises(ValueError, match="observation index out of range for 23 free cells"):
        game.decode_observation_index(26_450, free)


def test_the_python_observation_is_the_kernels_row_and_refuses_bad_input():
    task = load_task("task3")
    for order in ("egocentric", "absolute"):
        for agent in (0, 1):
            row = game.observation(task, task.starts, (2, 4), (False, True), agent, order)
            septuple = game.decode_observation_index(row, task.free_cells)
            assert septuple == game.observation_tuple(
                np.array(task.starts), np.array([2, 4]), np.array([False, True]), agent, order == "egocentric"
            )
    with pytest.raises(ValueError, match="agent must be 0 or 1"):
        game.observation(task, task.starts, (0, 0), (False, False), 2)
    with pytest.raises(ValueError, match="order must be"):
        game.observation(task, task.starts, (0, 0), (False, False), 0, "mirrored")
    with pytest.raises(ValueError, match="not free cells"):
        game.observation(task, [(0, 0), task.starts[1]], (0, 0), (False, False), 0)
