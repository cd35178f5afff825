"""Matplotlib figures of the maps, in the same colours and markers as :mod:`mdlib.render`.

Labels are drawn as text paths in data units, so they keep their size relative to the cells
whatever the figure's size: one map in a notebook and five side by side in the README read alike.
"""

from __future__ import annotations

import os

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.patches import Circle, FancyBboxPatch, PathPatch, Polygon, Rectangle
from matplotlib.textpath import TextPath
from matplotlib.transforms import Affine2D

from .render import AGENT_COLOURS, COLOURS, GOAL_COLOURS
from .tasks import TASK_SETS, Task, load_task, load_task_set

_BOLD = FontProperties(family="DejaVu Sans", weight="bold")


def draw_task(task: Task | str, ax=None, title: str | None = None):
    """Draw one map with both agents at their starts and both goals; return the axes.

    Cell ``(row, col)`` is the unit square centred on ``x = col, y = row``, row 0 at the top.
    """
    task = task if isinstance(task, Task) else load_task(task)
    if ax is None:
        _, ax = plt.subplots(figsize=(0.45 * task.shape[1], 0.45 * task.shape[0] + 0.3), layout="constrained")
    rows, cols = task.shape
    for (row, col), wall in np.ndenumerate(task.walls):
        face, edge = (COLOURS["wall"], COLOURS["wall"]) if wall else (COLOURS["free"], COLOURS["grid"])
        ax.add_patch(Rectangle((col - 0.5, row - 0.5), 1, 1, facecolor=face, edgecolor=edge, linewidth=0.6))
    for agent, (row, col) in enumerate(task.goals):
        ax.add_patch(
            FancyBboxPatch(
                (col - 0.43, row - 0.43), 0.86, 0.86,
                boxstyle="round,pad=0,rounding_size=0.14",
                facecolor=GOAL_COLOURS[agent], edgecolor="none",
            )
        )
        _label(ax, col, row, f"G{agent + 1}", 0.27, "white")
    for agent, (row, col) in enumerate(task.starts):
        ax.add_patch(_agent_patch(agent, col, row, 0.36))
        _label(ax, col, row, str(agent + 1), 0.36, GOAL_COLOURS[agent])
    ax.set_xlim(-0.5, cols - 0.5)
    ax.set_ylim(rows - 0.5, -0.5)
    ax.set_aspect("equal")
    ax.set_axis_off()
    ax.set_title(title if title is not None else _pretty(task.name), fontsize=12, fontweight="bold")
    return ax


def draw_tasks(tasks="original", title: str | None = "The five tasks of the report"):
    """All maps side by side with one shared legend; ``tasks`` is a task-set name or a sequence of
    tasks, names or paths. Returns the figure (one axes per map)."""
    if isinstance(tasks, Task):
        tasks = (tasks,)
    elif isinstance(tasks, str) and tasks in TASK_SETS:
        tasks = load_task_set(tasks)
    elif isinstance(tasks, (str, os.PathLike)):
        tasks = (load_task(tasks),)
    else:
        tasks = tuple(t if isinstance(t, Task) else load_task(t) for t in tasks)
    if not tasks:
        raise ValueError("no tasks to draw")
    rows, cols = tasks[0].shape
    size = (0.36 * cols * len(tasks) + 0.4, 0.36 * rows + 1.0)
    fig, axes = plt.subplots(1, len(tasks), figsize=size, layout="constrained", squeeze=False)
    for task, ax in zip(tasks, axes[0]):
        draw_task(task, ax)
    fig.legend(
        handles=legend_handles(), loc="outside lower center", ncol=6, frameon=False,
        fontsize=10, handletextpad=0.4, columnspacing=1.4,
    )
    if title:
        fig.suptitle(title, fontsize=14)
    return fig


def legend_handles() -> list[Line2D]:
    """Legend entries for the agents' start markers, the goals, walls and free cells."""

    def marker(label, shape, face, edge, size=11, width=1.6):
        return Line2D([], [], linestyle="none", marker=shape, markersize=size, markerfacecolor=face,
                      markeredgecolor=edge, markeredgewidth=width, label=label)

    return [
        marker("agent 1 (start)", "o", AGENT_COLOURS[0], GOAL_COLOURS[0]),
        marker("agent 2 (start)", "D", AGENT_COLOURS[1], GOAL_COLOURS[1], size=9.5),
        marker("goal of agent 1 (G1)", "s", GOAL_COLOURS[0], GOAL_COLOURS[0]),
        marker("goal of agent 2 (G2)", "s", GOAL_COLOURS[1], GOAL_COLOURS[1]),
        marker("wall", "s", COLOURS["wall"], COLOURS["wall"]),
        marker("free cell", "s", COLOURS["free"], COLOURS["grid"], width=1),
    ]


def _agent_patch(agent: int, x: float, y: float, r: float):
    """Agent 1 a circle, agent 2 a diamond of about the same area, as in the rendered frames."""
    style = dict(facecolor=AGENT_COLOURS[agent], edgecolor=GOAL_COLOURS[agent], linewidth=1.6)
    if agent == 0:
        return Circle((x, y), r, **style)
    d = 1.2 * r
    return Polygon([(x, y - d), (x + d, y), (x, y + d), (x - d, y)], closed=True, **style)


def _label(ax, x: float, y: float, text: str, height: float, colour: str) -> None:
    """Bold text centred on ``(x, y)``, ``height`` data units tall (cap height of digits)."""
    path = TextPath((0, 0), text, size=1, prop=_BOLD)
    box = path.get_extents()
    scale = height / TextPath((0, 0), "0", size=1, prop=_BOLD).get_extents().height
    transform = (
        Affine2D()
        .translate(-(box.x0 + box.x1) / 2, -(box.y0 + box.y1) / 2)
        .scale(scale, -scale)
        .translate(x, y)
    )
    ax.add_patch(PathPatch(transform.transform_path(path), facecolor=colour, edgecolor="none"))


def _pretty(name: str) -> str:
    return f"task {name[4:]}" if name.startswith("task") and name[4:].isdigit() else name
