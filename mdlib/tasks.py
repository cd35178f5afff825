"""Tasks: the report's five maps, two held-out maps of the book, their validation, and the task
sets of the report's experiments.

A map is a text file of whitespace-separated symbols, one map row per line:
``1`` wall, ``0`` free, ``4``/``5`` start of agent 1/2, ``2``/``3`` goal of agent 1/2.
A :class:`Task` is the validated, immutable form every other module works with.
"""

from __future__ import annotations

import os
from collections import deque
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

WALL, FREE, GOAL_1, GOAL_2, START_1, START_2 = 1, 0, 2, 3, 4, 5
SYMBOLS = {"0": FREE, "1": WALL, "2": GOAL_1, "3": GOAL_2, "4": START_1, "5": START_2}
SYMBOL_NAMES = {
    START_1: "start of agent 1 (4)",
    START_2: "start of agent 2 (5)",
    GOAL_1: "goal of agent 1 (2)",
    GOAL_2: "goal of agent 2 (3)",
}

#: The report's five maps.
REPORT_TASKS = ("task1", "task2", "task3", "task4", "task5")

#: Maps the report never used, for the held-out experiment (:mod:`mdlib.transfer`): the report's
#: walls (so that one observation table fits them and the report's maps, ``Task.same_layout``),
#: with starts and goals that give each agent a route it takes on none of the five report maps.
#: On every report map agent 1 either crosses the corridor from the left room to the right one
#: (tasks 1-4) or stays in the right room (task 5), and agent 2 crosses from right to left or stays
#: in the left room.
#:
#: * ``swapped_roles``: task 1 with the agents' roles swapped: agent 1 crosses right to left (top
#:   right to bottom left), agent 2 left to right (top left to bottom right). Each agent's route is
#:   the other agent's route on task 1, so it tests whether a prior can carry a route from one
#:   agent to the other: V2's pooled pi0 over egocentric observations has seen these situations
#:   (from agent 2 on task 1), V1's per-agent pi0 has seen only the opposite direction.
#: * ``same_direction``: both agents start in the left room and cross to the right one, one behind
#:   the other (agent 1 top left to top right, agent 2 bottom left to bottom right): no head-on
#:   meeting in the corridor, agent 2 going left to right, and both agents in one room at the
#:   start, a joint situation no report map has.
#:
#: Exact joint optima (``solve_joint``, gamma 0.99): 175.09 (87.55 per agent, agent 2 waits six
#: steps, as on task 1) and 178.97 (89.49 per agent, agent 2 two steps behind agent 1).
HELDOUT_TASKS = ("swapped_roles", "same_direction")

BUILTIN_TASKS = REPORT_TASKS + HELDOUT_TASKS

#: The report's task sets: the original five maps, and the symmetric ablation (report 4.2.2)
#: in which task 4 is replaced by a copy of task 1.
TASK_SETS = {
    "original": ("task1", "task2", "task3", "task4", "task5"),
    "symmetric": ("task1", "task2", "task3", "task1", "task5"),
}


@dataclass(frozen=True, eq=False)
class Task:
    """One validated map: walls, both agents' starts and goals, and the free-cell numbering.

    Positions are ``(row, col)`` with row 0 at the top, walls included. ``cell_index`` numbers
    the free cells in reading order (``-1`` on walls); tables are indexed by these numbers.
    """

    name: str
    walls: np.ndarray
    starts: tuple[tuple[int, int], tuple[int, int]]
    goals: tuple[tuple[int, int], tuple[int, int]]
    source: str

    @property
    def shape(self) -> tuple[int, int]:
        return self.walls.shape

    @property
    def free_cells(self) -> np.ndarray:
        """``(n_cells, 2)`` array of the free cells' ``(row, col)``, in reading order."""
        return np.argwhere(~self.walls)

    @property
    def n_cells(self) -> int:
        return int((~self.walls).sum())

    @property
    def cell_index(self) -> np.ndarray:
        index = np.full(self.walls.shape, -1, dtype=np.int64)
        free = self.free_cells
        index[free[:, 0], free[:, 1]] = np.arange(len(free))
        return index

    def same_layout(self, other: Task) -> bool:
        """True when both maps have the same walls, so one observation table fits both."""
        return self.walls.shape == other.walls.shape and bool(np.all(self.walls == other.walls))

    def __repr__(self) -> str:
        return f"Task({self.name!r}, starts={self.starts}, goals={self.goals})"


def load_task(name_or_path: str | os.PathLike) -> Task:
    """Load a built-in task by name (``"task1"`` … ``"task5"``, or one of ``HELDOUT_TASKS``) or
    any map file by path."""
    if isinstance(name_or_path, str) and name_or_path in BUILTIN_TASKS:
        text = resources.files("mdlib.data.tasks").joinpath(f"{name_or_path}.txt").read_text()
        return parse_task(text, name=name_or_path, source=f"{name_or_path}.txt")
    path = Path(name_or_path)
    if not path.is_file():
        raise ValueError(
            f"unknown task {str(name_or_path)!r}: expected one of {', '.join(BUILTIN_TASKS)} or the path of a map file"
        )
    return parse_task(path.read_text(), name=path.stem, source=str(path))


def load_task_set(name: str) -> tuple[Task, ...]:
    """The tasks of a named set (``"original"`` or ``"symmetric"``), in the report's order."""
    if name not in TASK_SETS:
        raise ValueError(f"unknown task set {name!r}: expected one of {', '.join(TASK_SETS)}")
    return tuple(load_task(task) for task in TASK_SETS[name])


def resolve_tasks(tasks, same_layout: bool = True) -> tuple[Task, ...]:
    """Accept a task-set name, one task, or a sequence of tasks/names/paths; unless
    ``same_layout=False``, check they share walls (as tasks learned together must)."""
    if isinstance(tasks, Task):
        resolved = (tasks,)
    elif isinstance(tasks, str) and tasks in TASK_SETS:
        resolved = load_task_set(tasks)
    elif isinstance(tasks, (str, os.PathLike)):
        resolved = (load_task(tasks),)
    else:
        resolved = tuple(t if isinstance(t, Task) else load_task(t) for t in tasks)
    if not resolved:
        raise ValueError("no tasks given")
    for task in resolved[1:] if same_layout else ():
        if not task.same_layout(resolved[0]):
            raise ValueError(
                f"task {task.name!r} has different walls from {resolved[0].name!r}: "
                "tasks learned together must share one layout so their observations line up"
            )
    return resolved


def parse_task(text: str, name: str, source: str) -> Task:
    """Parse and validate a map; raise one ``ValueError`` naming ``source``, line and column."""
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise ValueError(f"{source}, line 1, column 1: the map is empty")

    grid: list[list[int]] = []
    columns: list[list[int]] = []  # 1-based text column of each symbol, for messages

    def where(row: int, col: int) -> str:
        return f"{source}, line {row + 1}, column {columns[row][col]}"

    for line_no, line in enumerate(lines):
        tokens, starts, pos = line.split(), [], 0
        for token in tokens:
            pos = line.index(token, pos)
            starts.append(pos + 1)
            pos += len(token)
        for token, col in zip(tokens, starts):
            if token not in SYMBOLS:
                raise ValueError(
                    f"{source}, line {line_no + 1}, column {col}: unknown symbol {token!r} "
                    "(expected 0 free, 1 wall, 2/3 goal of agent 1/2, 4/5 start of agent 1/2)"
                )
        if grid and len(tokens) != len(grid[0]):
            col = starts[len(grid[0])] if len(tokens) > len(grid[0]) else len(line.rstrip()) + 1
            raise ValueError(
                f"{source}, line {line_no + 1}, column {col}: ragged row: "
                f"{len(tokens)} symbols where line 1 has {len(grid[0])}"
            )
        if not tokens:
            raise ValueError(f"{source}, line {line_no + 1}, column 1: empty row inside the map")
        grid.append([SYMBOLS[t] for t in tokens])
        columns.append(starts)

    cells = np.array(grid, dtype=np.int64)
    n_rows, n_cols = cells.shape

    found: dict[int, tuple[int, int]] = {}
    for (row, col), symbol in np.ndenumerate(cells):
        if symbol in SYMBOL_NAMES:
            if symbol in found:
                first = found[symbol]
                raise ValueError(
                    f"{where(row, col)}: duplicate {SYMBOL_NAMES[symbol]}; "
                    f"the first is at line {first[0] + 1}, column {columns[first[0]][first[1]]}"
                )
            found[symbol] = (int(row), int(col))
    for symbol, what in SYMBOL_NAMES.items():
        if symbol not in found:
            end = f"{source}, line {len(lines)}, column {len(lines[-1].rstrip()) + 1}"
            raise ValueError(f"{end}: missing {what}: the map ends without one")

    for (row, col), symbol in np.ndenumerate(cells):
        on_border = row in (0, n_rows - 1) or col in (0, n_cols - 1)
        if on_border and symbol != WALL:
            raise ValueError(f"{where(row, col)}: open border: the map's edge must be walls (1), found {symbol}")

    walls = cells == WALL
    starts = (found[START_1], found[START_2])
    goals = (found[GOAL_1], found[GOAL_2])
    for agent in (0, 1):
        if path_length(walls, starts[agent], goals[agent]) is None:
            row, col = goals[agent]
            raise ValueError(
                f"{where(row, col)}: unreachable goal: agent {agent + 1} cannot reach its goal "
                f"from its start at line {starts[agent][0] + 1}, "
                f"column {columns[starts[agent][0]][starts[agent][1]]}"
            )

    walls.setflags(write=False)
    return Task(name=name, walls=walls, starts=starts, goals=goals, source=source)


def path_length(walls: np.ndarray, start: tuple[int, int], goal: tuple[int, int]) -> int | None:
    """The fewest moves (down, up, left, right) from ``start`` to ``goal`` over free cells, by
    breadth-first search; None if the goal cannot be reached."""
    start, goal = (int(start[0]), int(start[1])), (int(goal[0]), int(goal[1]))
    distance, frontier = {start: 0}, deque([start])
    while frontier:
        cell = frontier.popleft()
        row, col = cell
        if cell == goal:
            return distance[cell]
        for d_row, d_col in ((1, 0), (-1, 0), (0, -1), (0, 1)):
            nxt = (row + d_row, col + d_col)
            inside = 0 <= nxt[0] < walls.shape[0] and 0 <= nxt[1] < walls.shape[1]
            if inside and not walls[nxt] and nxt not in distance:
                distance[nxt] = distance[cell] + 1
                frontier.append(nxt)
    return None
