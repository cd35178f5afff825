"""The corridor game: its rules as one compiled transition kernel, and the observation encoding.

Two agents share a map of two rooms joined by a corridor one cell wide; each must reach its own
goal, and when their paths cross in the corridor one of them has to wait. The complete rules are
the book's appendix *The rules of the corridor game* (``book/rules.md``); this docstring is their
summary. Everything that moves agents calls :func:`transition`: the PettingZoo environment
(:class:`mdlib.CorridorEnv`), the exact solvers and every learner. There is no second copy of the
rules; ``tests/test_game.py`` checks the kernel against an independent plain-Python statement of
them on every reachable joint state and joint action of every map, under both contention rules.

=================  ==========================================================================
Agents             ``agent_1`` (starts on ``4``, goal ``2``), ``agent_2`` (starts on ``5``,
                   goal ``3``) (:data:`AGENTS`); both act at every step, simultaneously
Actions            ``Discrete(5)``: 0 stay, 1 down, 2 up, 3 left, 4 right (:data:`ACTION_NAMES`,
                   :data:`MOVES`)
Observations       the septuple (first agent's row, col, second agent's row, col, own previous
                   action, other's previous action, other arrived), egocentric (own cell first)
                   or absolute (agent 1 first); as a table row, :func:`observation_index` over the
                   free cells: 23 x 23 x 5 x 5 x 2 = 26,450 rows on the report's maps
Rewards            +100 (:data:`GOAL_REWARD`) on arriving at one's own goal, -0.1
                   (:data:`STEP_REWARD`) for every other step until then, 0 after arriving
Contention         ``reference`` (agent 2 wins a contested cell, agent 1 stays) or
                   ``both_blocked`` (both stay); no entering the other's current cell
Episode end        both agents arrived, or ``max_steps`` steps (200 by default)
Lone game          one agent alone, the other absent (done, at :data:`OFF_MAP`): it blocks
                   nothing and never moves
=================  ==========================================================================

Version history: ``corridor_v0``, the game as the appendix states it (the report's maps, actions
and rewards; -0.1 also for a step onto the other agent's goal, which the report's code left
free; the reference contention rule by default).
"""

from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass

import numba
import numpy as np

from .tasks import Task

#: The number of agents.
N_AGENTS = 2
#: The number of actions (``Discrete(5)``).
N_ACTIONS = 5
#: The actions' names, in the order of their numbers.
ACTION_NAMES = ("stay", "down", "up", "left", "right")
#: ``(d_row, d_col)`` of each action, in the reference implementation's order.
MOVES = np.array([(0, 0), (1, 0), (-1, 0), (0, -1), (0, 1)], dtype=np.int64)

#: The reward of every step before arriving at one's own goal.
STEP_REWARD = -0.1
#: The reward of arriving at one's own goal.
GOAL_REWARD = 100.0

#: The contention rules, by name (see the table above).
CONTENTION_RULES = ("reference", "both_blocked")
REFERENCE, BOTH_BLOCKED = 0, 1

#: The observation orders: own cell first, or agent 1's first.
OBSERVATION_ORDERS = ("egocentric", "absolute")


#: The agents' names, as the PettingZoo environment, the solvers and the result tables spell them.
AGENTS = ("agent_1", "agent_2")

#: Where an absent agent stands (the lone game): no move of the agent playing can aim there.
OFF_MAP = (-1, -1)


class GameSpec(namedtuple("GameSpec", "walls goals starts cell_index n_cells contention egocentric max_steps alone")):
    """A task and the game's settings in the flat form the compiled kernels take.

    ``walls`` (rows, cols) bool, ``goals`` and ``starts`` (2, 2) int64 (``[agent] = (row, col)``),
    ``cell_index`` (rows, cols) int64, -1 on walls. ``alone`` is -1 when both agents play, else the
    agent (0 or 1) playing alone: the other starts done at :data:`OFF_MAP`, so no move is ever
    blocked by it, and the one playing observes its own free cell only (tables of ``n_cells`` rows).
    """

    __slots__ = ()

    @property
    def n_observations(self) -> int:
        return observation_count(int(self.n_cells))


def game_spec(
    task: Task, contention: str = "reference", order: str = "egocentric", max_steps: int = 200, alone: int | None = None
) -> GameSpec:
    """The kernels' form of ``task``; with ``alone`` (0 or 1) that agent plays the map alone."""
    if order not in OBSERVATION_ORDERS:
        raise ValueError(f"unknown observation order {order!r}: expected one of {OBSERVATION_ORDERS}")
    if alone not in (None, 0, 1):
        raise ValueError(f"alone must be None, 0 or 1, got {alone!r}")
    starts = np.array(task.starts, dtype=np.int64)
    if alone is not None:
        starts[1 - alone] = OFF_MAP
    # A writeable copy of the walls: a Task's own array is read-only, and numba compiles a
    # read-only array as a different type, so a Task unpickled in a worker process (writeable)
    # would miss the kernels compiled in the parent and compile them all again.
    return GameSpec(
        np.array(task.walls, dtype=np.bool_, order="C"),
        np.array(task.goals, dtype=np.int64),
        starts,
        task.cell_index,
        np.int64(task.n_cells),
        np.int64(contention_code(contention)),
        order == "egocentric",
        np.int64(max_steps),
        np.int64(-1 if alone is None else alone),
    )


#: The name chapters and older code use for a task's :class:`GameSpec` with the default settings.
GameArrays = GameSpec


def game_arrays(task: Task) -> GameSpec:
    """:func:`game_spec` of ``task`` with the default settings (both agents, reference contention)."""
    return game_spec(task)


def contention_code(contention: str) -> int:
    if contention not in CONTENTION_RULES:
        raise ValueError(f"unknown contention rule {contention!r}: expected one of {', '.join(CONTENTION_RULES)}")
    return CONTENTION_RULES.index(contention)


def observation_count(n_cells: int) -> int:
    """Size of the observation index: both cells, both previous actions, the other's done flag."""
    return n_cells * n_cells * N_ACTIONS * N_ACTIONS * 2


@numba.njit(cache=True, inline="always")
def transition(walls, goals, contention, row_1, col_1, row_2, col_2, done_1, done_2, action_1, action_2):
    """One simultaneous step of both agents (the rules appendix, "One step").

    Takes both positions, done flags and actions; returns the next
    ``(row_1, col_1, row_2, col_2, done_1, done_2, reward_1, reward_2)``. Scalars in and out, no
    allocation, so the learners' loops can call it millions of times a second.
    """
    to_row_1, to_col_1 = _target(walls, row_1, col_1, done_1, action_1)
    to_row_2, to_col_2 = _target(walls, row_2, col_2, done_2, action_2)

    # Agent 1 fails into agent 2's current cell and into a contested cell (under both rules).
    contested = to_row_1 == to_row_2 and to_col_1 == to_col_2
    if contested or (to_row_1 == row_2 and to_col_1 == col_2):
        to_row_1, to_col_1 = row_1, col_1
    # Agent 2 fails into agent 1's current or final cell; under "both_blocked" also when contested.
    into_1 = (to_row_2 == row_1 and to_col_2 == col_1) or (to_row_2 == to_row_1 and to_col_2 == to_col_1)
    if into_1 or (contention == BOTH_BLOCKED and contested):
        to_row_2, to_col_2 = row_2, col_2

    arrived_1 = not done_1 and to_row_1 == goals[0, 0] and to_col_1 == goals[0, 1]
    arrived_2 = not done_2 and to_row_2 == goals[1, 0] and to_col_2 == goals[1, 1]
    return (
        to_row_1,
        to_col_1,
        to_row_2,
        to_col_2,
        done_1 or arrived_1,
        done_2 or arrived_2,
        _reward(done_1, arrived_1),
        _reward(done_2, arrived_2),
    )


@numba.njit(cache=True, inline="always")
def _reward(was_done, arrived):
    if was_done:
        return 0.0
    return GOAL_REWARD if arrived else STEP_REWARD


@numba.njit(cache=True, inline="always")
def _target(walls, row, col, done, action):
    """The cell an agent aims at: a done agent stays, a move off the map or into a wall fails."""
    if done:
        return row, col
    to_row, to_col = row + MOVES[action, 0], col + MOVES[action, 1]
    if to_row < 0 or to_row >= walls.shape[0] or to_col < 0 or to_col >= walls.shape[1]:
        return row, col
    if walls[to_row, to_col]:
        return row, col
    return to_row, to_col


def step(walls, goals, contention: int, pos, done, actions):
    """:func:`transition` on joint-state arrays: returns ``(new_pos, new_done, rewards)``."""
    out = transition(
        walls, goals, contention, pos[0, 0], pos[0, 1], pos[1, 0], pos[1, 1], done[0], done[1], actions[0], actions[1]
    )
    new_pos = np.array(out[:4], dtype=np.int64).reshape(2, 2)
    return new_pos, np.array(out[4:6], dtype=np.bool_), np.array(out[6:], dtype=np.float64)


@numba.njit(cache=True, inline="always")
def observation_index(n_cells, first_cell, second_cell, own_prev, other_prev, other_done):
    """The table index of an observation septuple (see :func:`observation_tuple`), with the two
    positions given as free-cell numbers in the observation's order."""
    index = first_cell * n_cells + second_cell
    index = index * N_ACTIONS + own_prev
    index = index * N_ACTIONS + other_prev
    return index * 2 + (1 if other_done else 0)


@numba.njit(cache=True, inline="always")
def observation_from_cells(n_cells, agent, egocentric, own_cell, other_cell, own_prev, other_prev, other_done):
    """``agent``'s observation index from its own and the other agent's free-cell numbers: its own
    cell first in egocentric order, agent 1's first in absolute order (the other agent's previous
    action and done flag as :func:`observation_index` takes them)."""
    if egocentric or agent == 0:
        return observation_index(n_cells, own_cell, other_cell, own_prev, other_prev, other_done)
    return observation_index(n_cells, other_cell, own_cell, own_prev, other_prev, other_done)


@numba.njit(cache=True, inline="always")
def agent_observation(cell_index, n_cells, pos, prev_actions, done, agent, egocentric):
    """``agent``'s observation index from the joint state arrays ``pos`` (2, 2), ``prev_actions``
    (2,) and ``done`` (2,)."""
    other = 1 - agent
    return observation_from_cells(
        n_cells,
        agent,
        egocentric,
        cell_index[pos[agent, 0], pos[agent, 1]],
        cell_index[pos[other, 0], pos[other, 1]],
        prev_actions[agent],
        prev_actions[other],
        done[other],
    )


def observation(task: Task, positions, previous_actions, done, agent: int, order: str = "egocentric") -> int:
    """The table row ``agent`` (0 or 1) reads in ``task``, from Python: both agents' cells
    ``positions`` [(row, col), (row, col)], their ``previous_actions`` and ``done`` flags, in
    ``order`` "egocentric" (own cell first) or "absolute" (agent 1's first). The compiled
    :func:`agent_observation` computes the same row inside the loops."""
    if agent not in (0, 1):
        raise ValueError(f"agent must be 0 or 1, got {agent!r}")
    if order not in ("egocentric", "absolute"):
        raise ValueError(f"order must be 'egocentric' or 'absolute', got {order!r}")
    cells = [task.cell_index[int(row), int(col)] for row, col in positions]
    if min(cells) < 0:
        raise ValueError(f"positions {positions} are not free cells of {task.name}")
    return int(
        agent_observation(
            task.cell_index,
            task.n_cells,
            np.asarray(positions, np.int64),
            np.asarray(previous_actions, np.int64),
            np.asarray(done, np.bool_),
            agent,
            order == "egocentric",
        )
    )


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
    arrays, code = game_spec(task), contention_code(contention)
    pos, done, prev = arrays.starts.copy(), np.zeros(2, np.bool_), np.zeros(2, np.int64)
    positions, dones, actions, rewards = [pos.copy()], [done.copy()], [], []
    for t in range(max_steps):
        if done.all():
            break
        joint = np.array(policy(pos, done, prev, t), dtype=np.int64)
        joint[done] = 0
        pos, done, reward = step(arrays.walls, arrays.goals, code, pos, done, joint)
        prev = joint
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
