"""The corridor game's rules as one compiled transition kernel, and the observation encoding.

Everything that moves agents calls :func:`transition`: the PettingZoo environment, the exact
solver and every learner. There is no second copy of the rules. The rules are those of
``corridor-rules.md``; the test suite checks this kernel against a plain Python statement of
them on every reachable joint state and joint action.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from .tasks import Task

N_AGENTS = 2
N_ACTIONS = 5
ACTION_NAMES = ("stay", "down", "up", "left", "right")
#: ``(d_row, d_col)`` of each action, in the reference implementation's order.
MOVES = np.array([(0, 0), (1, 0), (-1, 0), (0, -1), (0, 1)], dtype=np.int64)

STEP_REWARD = -0.1
GOAL_REWARD = 100.0

CONTENTION_RULES = ("reference", "both_blocked")
REFERENCE, BOTH_BLOCKED = 0, 1

OBSERVATION_ORDERS = ("egocentric", "absolute")


@dataclass(frozen=True)
class GameArrays:
    """A task in the flat form the compiled kernels take."""

    walls: np.ndarray  # (rows, cols) bool
    goals: np.ndarray  # (2, 2) int64: goals[agent] = (row, col)
    starts: np.ndarray  # (2, 2) int64
    cell_index: np.ndarray  # (rows, cols) int64, -1 on walls
    n_cells: int

    @property
    def n_observations(self) -> int:
        return observation_count(self.n_cells)


def game_arrays(task: Task) -> GameArrays:
    return GameArrays(
        walls=np.ascontiguousarray(task.walls, dtype=np.bool_),
        goals=np.array(task.goals, dtype=np.int64),
        starts=np.array(task.starts, dtype=np.int64),
        cell_index=task.cell_index,
        n_cells=task.n_cells,
    )


def contention_code(contention: str) -> int:
    if contention not in CONTENTION_RULES:
        raise ValueError(
            f"unknown contention rule {contention!r}: expected one of {', '.join(CONTENTION_RULES)}"
        )
    return CONTENTION_RULES.index(contention)


def observation_count(n_cells: int) -> int:
    """Size of the observation index: both cells, both previous actions, the other's done flag."""
    return n_cells * n_cells * N_ACTIONS * N_ACTIONS * 2


@numba.njit(cache=True)
def transition(walls, goals, pos, done, actions, contention, new_pos, new_done, rewards):
    """One simultaneous step of both agents (``corridor-rules.md``, "One step").

    Reads ``pos`` (2, 2), ``done`` (2,) and ``actions`` (2,); writes the next positions, done
    flags and this step's rewards into ``new_pos``, ``new_done`` and ``rewards``.
    """
    n_rows, n_cols = walls.shape
    target = np.empty((2, 2), dtype=np.int64)
    for agent in range(2):
        row, col = pos[agent, 0], pos[agent, 1]
        if not done[agent]:
            row += MOVES[actions[agent], 0]
            col += MOVES[actions[agent], 1]
        if row < 0 or row >= n_rows or col < 0 or col >= n_cols or walls[row, col]:
            row, col = pos[agent, 0], pos[agent, 1]
        target[agent, 0] = row
        target[agent, 1] = col

    for agent in range(2):
        new_pos[agent, 0] = pos[agent, 0]
        new_pos[agent, 1] = pos[agent, 1]

    # Agent 1 (index 0) fails into the other's current cell, and into a contested cell under both
    # rules; under "reference" agent 2 then takes the contested cell, under "both_blocked" it fails too.
    t1_on_t2 = target[0, 0] == target[1, 0] and target[0, 1] == target[1, 1]
    t1_on_p2 = target[0, 0] == pos[1, 0] and target[0, 1] == pos[1, 1]
    if not t1_on_t2 and not t1_on_p2:
        new_pos[0, 0] = target[0, 0]
        new_pos[0, 1] = target[0, 1]
    t2_on_p1 = target[1, 0] == pos[0, 0] and target[1, 1] == pos[0, 1]
    t2_on_f1 = target[1, 0] == new_pos[0, 0] and target[1, 1] == new_pos[0, 1]
    contested = t1_on_t2 and not (target[1, 0] == pos[1, 0] and target[1, 1] == pos[1, 1])
    if not t2_on_p1 and not t2_on_f1 and not (contention == BOTH_BLOCKED and contested):
        new_pos[1, 0] = target[1, 0]
        new_pos[1, 1] = target[1, 1]

    for agent in range(2):
        if done[agent]:
            new_done[agent] = True
            rewards[agent] = 0.0
        elif new_pos[agent, 0] == goals[agent, 0] and new_pos[agent, 1] == goals[agent, 1]:
            new_done[agent] = True
            rewards[agent] = GOAL_REWARD
        else:
            new_done[agent] = False
            rewards[agent] = STEP_REWARD


@numba.njit(cache=True)
def observation_index(cell_index, n_cells, pos, prev_actions, done, agent, egocentric):
    """The table index of ``agent``'s observation septuple (see :func:`observation_tuple`)."""
    other = 1 - agent
    first, second = (agent, other) if egocentric else (0, 1)
    cell_a = cell_index[pos[first, 0], pos[first, 1]]
    cell_b = cell_index[pos[second, 0], pos[second, 1]]
    index = cell_a * n_cells + cell_b
    index = index * N_ACTIONS + prev_actions[agent]
    index = index * N_ACTIONS + prev_actions[other]
    return index * 2 + (1 if done[other] else 0)


def observation_tuple(pos, prev_actions, done, agent: int, egocentric: bool = True) -> tuple:
    """The septuple an agent observes (report 3.3).

    ``(row, col)`` of the first agent, ``(row, col)`` of the second, the observer's previous
    action, the other agent's previous action and whether the other agent is done. Egocentric
    order puts the observer's own position first; absolute order always puts agent 1 first.
    """
    other = 1 - agent
    first, second = (agent, other) if egocentric else (0, 1)
    return (
        int(pos[first][0]),
        int(pos[first][1]),
        int(pos[second][0]),
        int(pos[second][1]),
        int(prev_actions[agent]),
        int(prev_actions[other]),
        int(bool(done[other])),
    )


def decode_observation_index(index: int, free_cells: np.ndarray) -> tuple:
    """Inverse of :func:`observation_index`: the septuple (in the index's order) for a table row."""
    n_cells = len(free_cells)
    index, other_done = divmod(int(index), 2)
    index, other_prev = divmod(index, N_ACTIONS)
    index, own_prev = divmod(index, N_ACTIONS)
    cell_a, cell_b = divmod(index, n_cells)
    if cell_a >= n_cells:
        raise ValueError(f"observation index out of range for {n_cells} free cells")
    (row_a, col_a), (row_b, col_b) = free_cells[cell_a], free_cells[cell_b]
    return (int(row_a), int(col_a), int(row_b), int(col_b), own_prev, other_prev, other_done)


@dataclass(frozen=True)
class Trajectory:
    """One played episode: ``positions[t]``/``done[t]`` before step t, the joint actions and rewards.

    ``positions`` has shape (T + 1, 2, 2), ``done`` (T + 1, 2), ``actions`` and ``rewards`` (T, 2).
    """

    task: Task
    positions: np.ndarray
    done: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray

    def __len__(self) -> int:
        return len(self.actions)

    def returns(self, gamma: float) -> np.ndarray:
        """Each agent's discounted return ``sum_t gamma^t r_t``."""
        discounts = gamma ** np.arange(len(self.rewards))
        return discounts @ self.rewards


def play(task: Task, policy, max_steps: int = 200, contention: str = "reference") -> Trajectory:
    """Play one episode with ``policy(positions, done, prev_actions, step) -> (a1, a2)``."""
    arrays, code = game_arrays(task), contention_code(contention)
    pos, done, prev = arrays.starts.copy(), np.zeros(2, np.bool_), np.zeros(2, np.int64)
    positions, dones, actions, rewards = [pos.copy()], [done.copy()], [], []
    for step in range(max_steps):
        if done.all():
            break
        joint = np.array(policy(pos, done, prev, step), dtype=np.int64)
        joint[done] = 0
        new_pos, new_done, reward = np.empty((2, 2), np.int64), np.empty(2, np.bool_), np.empty(2)
        transition(arrays.walls, arrays.goals, pos, done, joint, code, new_pos, new_done, reward)
        pos, done, prev = new_pos, new_done, joint
        positions.append(pos.copy())
        dones.append(done.copy())
        actions.append(joint)
        rewards.append(reward.copy())
    return Trajectory(
        task=task,
        positions=np.array(positions),
        done=np.array(dones),
        actions=np.array(actions, dtype=np.int64).reshape(-1, 2),
        rewards=np.array(rewards, dtype=np.float64).reshape(-1, 2),
    )
