"""What the agents did: statistics of played episodes and of learning curves.

The trajectory statistics answer the questions the book asks of learned play in the corridor
game: who steps into the corridor and who gets through it first, when each agent arrives, and
how many steps each lost on the way compared with walking alone. They take a
:class:`mdlib.game.Trajectory`, whatever played it: a learned policy
(:func:`mdlib.experiments.learned_trajectories` plays those of many seeded runs), the exact
solver or a script. :func:`games_to_reach` reads a learning curve.
"""

from __future__ import annotations

import math

import numpy as np

from .game import Trajectory, observation_count
from .solver import shortest_path_length
from .tasks import Task


def corridor_cells(task: Task) -> frozenset[tuple[int, int]]:
    """The free cells with walls on two opposite sides (above and below, or left and right):
    the passage one cell wide between the rooms. In the report's maps, row 3, columns 3 to 5."""
    walls, cells = task.walls, set()
    rows, cols = walls.shape

    def wall(row, col):
        return not (0 <= row < rows and 0 <= col < cols) or bool(walls[row, col])

    for row, col in task.free_cells:
        row, col = int(row), int(col)
        if (wall(row - 1, col) and wall(row + 1, col)) or (wall(row, col - 1) and wall(row, col + 1)):
            cells.add((row, col))
    return frozenset(cells)


def corridor_entries(trajectory: Trajectory) -> tuple[int | None, int | None]:
    """For each agent, the first step ``t`` at which it stands in the corridor
    (``trajectory.positions[t]``), or None if it never does."""
    corridor = corridor_cells(trajectory.task)
    entries = []
    for agent in (0, 1):
        inside = [t for t, cell in enumerate(trajectory.positions[:, agent]) if tuple(map(int, cell)) in corridor]
        entries.append(inside[0] if inside else None)
    return tuple(entries)


def who_enters_corridor_first(trajectory: Trajectory) -> int | None:
    """The agent (0 for agent 1, 1 for agent 2) that stands in the corridor before the other;
    an agent that never enters counts as entering last. None if neither enters, or both enter
    at the same step (from opposite ends)."""
    return _earlier(corridor_entries(trajectory))


def corridor_crossings(trajectory: Trajectory) -> tuple[tuple[int, int] | None, tuple[int, int] | None]:
    """For each agent, its first passage through the corridor as ``(enter, leave)``: it steps
    into the corridor at step ``enter`` from a cell outside, stays in it, and at step ``leave``
    stands outside again on a different cell from the one it came from (the far end). An agent
    that backs out the way it came has not crossed; None if an agent never crosses."""
    corridor = corridor_cells(trajectory.task)
    crossings = []
    for agent in (0, 1):
        cells = [tuple(map(int, cell)) for cell in trajectory.positions[:, agent]]
        crossing, enter = None, None
        for t in range(1, len(cells)):
            inside, was_inside = cells[t] in corridor, cells[t - 1] in corridor
            if inside and not was_inside:
                enter = t
            elif was_inside and not inside and enter is not None:
                if cells[t] != cells[enter - 1]:
                    crossing = (enter, t)
                    break
                enter = None
        crossings.append(crossing)
    return tuple(crossings)


def who_crosses_corridor_first(trajectory: Trajectory) -> int | None:
    """The agent (0 or 1) that gets through the corridor first (see :func:`corridor_crossings`),
    whoever stepped in first; an agent that never crosses counts as last. None if neither
    crosses."""
    return _earlier([None if crossing is None else crossing[1] for crossing in corridor_crossings(trajectory)])


def _earlier(steps) -> int | None:
    """The agent whose step comes first (None meaning never); None on a tie or if both never."""
    first, second = (math.inf if step is None else step for step in steps)
    return None if first == second else int(second < first)


def arrival_steps(trajectory: Trajectory) -> tuple[int | None, int | None]:
    """For each agent, the number of steps it took to reach its goal (the first ``t`` with
    ``done[t]``), or None if the episode ended without it."""
    arrivals = []
    for agent in (0, 1):
        done = np.flatnonzero(trajectory.done[:, agent])
        arrivals.append(int(done[0]) if len(done) else None)
    return tuple(arrivals)


def extra_steps(trajectory: Trajectory) -> tuple[int | None, int | None]:
    """For each agent, its arrival step minus the moves it needs alone on the map (the shortest
    path): the steps it lost waiting or detouring. None for an agent that never arrived."""
    return tuple(
        None if arrived is None else arrived - shortest_path_length(trajectory.task, agent)
        for agent, arrived in enumerate(arrival_steps(trajectory))
    )


def games_to_reach(x, curve, target: float, stay: bool = True) -> int | None:
    """The first ``x`` at which ``curve >= target``; with ``stay``, the first from which the curve
    never falls below ``target`` again. None if there is none."""
    x, above = np.asarray(x), np.asarray(curve) >= target
    if stay:
        below = np.flatnonzero(~above)
        start = below[-1] + 1 if len(below) else 0
        return int(x[start]) if start < len(x) else None
    hits = np.flatnonzero(above)
    return int(x[hits[0]]) if len(hits) else None


def own_cell_visits(weights: np.ndarray, task: Task) -> np.ndarray:
    """Visits per agent and own cell, ``(2, n_cells)``, from visits per observation ``(2,
    n_observations)`` in egocentric order (own cell first, see :func:`mdlib.game.observation_index`),
    or per free cell ``(2, n_cells)`` for agents alone (returned as they are)."""
    weights = np.asarray(weights, float)
    n = task.n_cells
    if weights.shape == (2, n):
        return weights
    if weights.shape != (2, observation_count(n)):
        raise ValueError(f"expected visits of shape (2, {observation_count(n)}) or (2, {n}), got {weights.shape}")
    return weights.reshape(2, n, -1).sum(axis=2)


def corridor_share(weights: np.ndarray, task: Task) -> np.ndarray:
    """Each agent's share of its visits made while standing in the corridor: (2,)."""
    per_cell = own_cell_visits(weights, task)
    inside = [int(task.cell_index[cell]) for cell in corridor_cells(task)]
    return per_cell[:, inside].sum(axis=1) / per_cell.sum(axis=1)
