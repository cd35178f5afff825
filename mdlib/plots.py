"""Matplotlib figures of the maps, in the same colours and markers as :mod:`mdlib.render`.

Labels are drawn as text paths in data units, so they keep their size relative to the cells
whatever the figure's size: one map in a notebook and five side by side in the README read alike.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.patches import Circle, FancyBboxPatch, PathPatch, Polygon, Rectangle
from matplotlib.textpath import TextPath
from matplotlib.transforms import Affine2D

from .book import number
from .files import check_output_file, write_atomically
from .game import AGENTS
from .render import AGENT_COLOURS, COLOURS, GOAL_COLOURS
from .tasks import Task, load_task, resolve_tasks

_BOLD = FontProperties(family="DejaVu Sans", weight="bold")


def draw_task(task: Task | str, ax=None, title: str | None = None, agents: bool = True):
    """Draw one map with both goals and (unless ``agents=False``) both agents at their starts;
    return the axes.

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
                (col - 0.43, row - 0.43),
                0.86,
                0.86,
                boxstyle="round,pad=0,rounding_size=0.14",
                facecolor=GOAL_COLOURS[agent],
                edgecolor="none",
            )
        )
        _label(ax, col, row, f"G{agent + 1}", 0.27, "white")
    for agent, (row, col) in enumerate(task.starts if agents else ()):
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
    tasks = resolve_tasks(tasks, same_layout=False)
    rows, cols = tasks[0].shape
    size = (0.36 * cols * len(tasks) + 0.4, 0.36 * rows + 1.0)
    fig, axes = plt.subplots(1, len(tasks), figsize=size, layout="constrained", squeeze=False)
    for task, ax in zip(tasks, axes[0]):
        draw_task(task, ax)
    fig.legend(
        handles=legend_handles(),
        loc="outside lower center",
        ncol=6,
        frameon=False,
        fontsize=10,
        handletextpad=0.4,
        columnspacing=1.4,
    )
    if title:
        fig.suptitle(title, fontsize=14)
    return fig


def legend_handles() -> list[Line2D]:
    """Legend entries for the agents' start markers, the goals, walls and free cells."""

    def marker(label, shape, face, edge, size=11, width=1.6):
        return Line2D(
            [],
            [],
            linestyle="none",
            marker=shape,
            markersize=size,
            markerfacecolor=face,
            markeredgecolor=edge,
            markeredgewidth=width,
            label=label,
        )

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
        Affine2D().translate(-(box.x0 + box.x1) / 2, -(box.y0 + box.y1) / 2).scale(scale, -scale).translate(x, y)
    )
    ax.add_patch(PathPatch(transform.transform_path(path), facecolor=colour, edgecolor="none"))


def _pretty(name: str) -> str:
    return f"task {name[4:]}" if name.startswith("task") and name[4:].isdigit() else name


# Learning curves -------------------------------------------------------------------------------

#: :data:`mdlib.game.AGENTS` as a legend writes them.
AGENT_LABELS = tuple(name.replace("_", " ") for name in AGENTS)


def plot_curve(ax, summary, agent: int, label: str, linestyle: str = "-", band: bool = True):
    """One agent's mean curve with its 95% band across seeds."""
    colour = GOAL_COLOURS[agent]
    ax.plot(summary.x, summary.mean[:, agent], linestyle, color=colour, linewidth=1.8, label=label)
    if band and summary.n_seeds > 1:
        ax.fill_between(summary.x, summary.low[:, agent], summary.high[:, agent], color=colour, alpha=0.18, linewidth=0)


def plot_optimum(ax, optimum: float, label: str = "exact joint optimum, per agent") -> None:
    ax.axhline(optimum, color=COLOURS["text"], linestyle=":", linewidth=1.4, label=label)


def style_return_axes(ax, title: str | None = None, legend: bool = True) -> None:
    ax.set_xlabel("games per task")
    ax.set_ylabel("discounted return (γ = 0.99), mean over tasks")
    ax.grid(True, color="#e5e5e5", linewidth=0.8)
    ax.set_axisbelow(True)
    if title:
        ax.set_title(title, fontsize=12)
    if legend:
        ax.legend(fontsize=8.5, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)


def plot_runs(
    ax,
    runs,
    optimum: float | None = None,
    title: str | None = None,
    training: bool = True,
    window: int = 1,
    name: str = "",
    legend: bool = True,
):
    """Evaluation (solid) and, optionally, training (dashed) curves of both agents, with 95% bands
    across seeds, against the exact optimum (dotted)."""
    prefix = f"{name} " if name else ""
    evaluation = runs.evaluation()
    for agent in (0, 1):
        plot_curve(ax, evaluation, agent, f"{prefix}{AGENT_LABELS[agent]}, evaluation")
        if training:
            plot_curve(ax, runs.training(window), agent, f"{prefix}{AGENT_LABELS[agent]}, training", "--", band=False)
    if optimum is not None:
        plot_optimum(ax, optimum)
    style_return_axes(ax, title, legend)
    return ax


def figure_q_learning(runs, optimum: float | None = None, window: int = 50):
    """The report's figure 3 redrawn: Q-learning's training and evaluation returns per agent."""
    fig, ax = plt.subplots(figsize=(9.5, 4.6), layout="constrained")
    plot_runs(
        ax,
        runs,
        optimum,
        window=window,
        title=f"Independent Q-learning, {len(runs.tasks)} tasks, {len(runs.seeds)} seeds "
        f"(training averaged over {window} games)",
    )
    return fig


def figure_multidistral(v1, v2, optimum: float | None = None, suptitle: str | None = None):
    """The report's figures 4 and 5 redrawn: MultiDistral V1 (left) and V2 (right)."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 5.0), layout="constrained", sharey=True)
    for ax, runs, version in zip(axes, (v1, v2), ("V1: one π0 per agent", "V2: one π0 for both")):
        plot_runs(ax, runs, optimum, title=f"MultiDistral {version}", legend=False)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=5, frameon=False, fontsize=9)
    if suptitle:
        fig.suptitle(suptitle, fontsize=13)
    return fig


def save_figure(fig, path_stem, formats=("png", "svg"), dpi: int = 150) -> list[str]:
    """Write ``fig`` as ``path_stem.png`` and ``.svg`` with fixed metadata, so files repeat; each
    file is written whole or not at all (:func:`mdlib.files.write_atomically`)."""
    paths = []
    for fmt in formats:
        path = check_output_file(f"{path_stem}.{fmt}", (f".{fmt}",), "figure")
        metadata = {"Software": None} if fmt == "png" else {"Date": None}
        write_atomically(
            path, lambda temporary: fig.savefig(temporary, dpi=dpi, metadata=metadata, format=fmt), "figure"
        )
        paths.append(str(path))
    return paths


# Policies on the map ---------------------------------------------------------------------------


def draw_policy(
    task: Task | str,
    table: np.ndarray,
    agent: int = 0,
    other_cell=None,
    ax=None,
    title: str | None = None,
    order: str = "egocentric",
    show_other: bool = True,
):
    """A policy table drawn on the map: in every free cell, arrows whose lengths are the
    probabilities of the four moves (and a dot for staying), for ``agent`` standing there while
    the other agent waits at ``other_cell`` (default: its start), both previous actions "stay".

    ``table`` is (2, n_observations, 5), one row set per agent (a V2 π0 has equal halves).
    With ``show_other=False`` the other agent is not drawn and its cell gets arrows too: for a
    table that no longer depends on the other agent (see :func:`mdlib.learners.average_policy`).
    """
    from .game import agent_observation

    task = task if isinstance(task, Task) else load_task(task)
    ax = draw_task(task, ax, title=title, agents=False)
    other = 1 - agent
    other_cell = tuple(other_cell) if other_cell is not None else task.starts[other]
    if show_other:
        ax.add_patch(_agent_patch(other, other_cell[1], other_cell[0], 0.36))
        _label(ax, other_cell[1], other_cell[0], str(other + 1), 0.36, GOAL_COLOURS[other])
    cell_index = task.cell_index
    prev, done = np.zeros(2, np.int64), np.zeros(2, np.bool_)
    colour = GOAL_COLOURS[agent]
    for row, col in task.free_cells:
        if (show_other and (row, col) == other_cell) or (row, col) == tuple(task.goals[agent]):
            continue  # the other agent's cell; the agent's own goal, where its episode ends
        pos = np.zeros((2, 2), np.int64)
        pos[agent], pos[other] = (row, col), other_cell
        s = agent_observation(cell_index, task.n_cells, pos, prev, done, agent, order == "egocentric")
        _policy_glyph(ax, col, row, table[agent, s], colour)
    policy_legend(ax, colour)
    return ax


#: Scale of the policy glyphs: an arrow of probability 1 reaches this far from the cell's centre
#: (a cell is 1 wide), and a stay-disc of probability 1 has this radius (its area is proportional
#: to the probability of staying).
ARROW_REACH, STAY_RADIUS = 0.48, 0.3


def _policy_glyph(ax, x, y, probs, colour) -> None:
    if probs[0] > 0.005:
        ax.add_patch(
            Circle(
                (x, y), STAY_RADIUS * np.sqrt(probs[0]), facecolor=colour, alpha=0.45, edgecolor=colour, linewidth=0.6
            )
        )
    for action, (d_row, d_col) in enumerate(((1, 0), (-1, 0), (0, -1), (0, 1)), start=1):
        length = ARROW_REACH * probs[action]
        if length > 0.03:
            ax.arrow(
                x,
                y,
                d_col * length,
                d_row * length,
                width=0.045,
                head_width=0.15,
                head_length=min(0.13, 0.45 * length),
                length_includes_head=True,
                color=colour,
                linewidth=0,
            )


def policy_legend(ax, colour) -> None:
    """The key to the policy glyphs, below the map: arrow lengths and stay-disc sizes for
    probabilities 1 and 0.25."""
    from matplotlib.legend_handler import HandlerPatch

    class Glyph(HandlerPatch):
        def __init__(self, kind, p):
            super().__init__()
            self.kind, self.p = kind, p

        def create_artists(self, legend, orig, x0, y0, width, height, fontsize, trans):
            scale = height * 1.6
            if self.kind == "arrow":
                from matplotlib.patches import FancyArrow

                length = ARROW_REACH * self.p * scale * 2.2
                art = FancyArrow(
                    x0,
                    y0 + height / 2,
                    length,
                    0,
                    width=0.1 * scale,
                    head_width=0.34 * scale,
                    head_length=min(0.28 * scale, 0.45 * length),
                    length_includes_head=True,
                    color=colour,
                )
            else:
                art = Circle(
                    (x0 + width / 3, y0 + height / 2),
                    STAY_RADIUS * np.sqrt(self.p) * scale * 1.2,
                    facecolor=colour,
                    alpha=0.45,
                    edgecolor=colour,
                )
            art.set_transform(trans)
            return [art]

    keys = [
        ("arrow", 1.0, "move, probability 1"),
        ("arrow", 0.25, "move, 0.25"),
        ("disc", 1.0, "stay, probability 1"),
        ("disc", 0.25, "stay, 0.25"),
    ]
    handles = [Rectangle((0, 0), 1, 1, label=label) for _, _, label in keys]
    ax.legend(
        handles=handles,
        handler_map={h: Glyph(kind, p) for h, (kind, p, _) in zip(handles, keys)},
        loc="upper center",
        bbox_to_anchor=(0.5, 0.0),
        ncol=2,
        frameon=False,
        fontsize=8,
        handlelength=2.6,
        handleheight=1.2,
    )


# One setting of a grid (for the α-β explorers) ---------------------------------------------------


def figure_setting(
    runs,
    optimum: float,
    title: str,
    reference=None,
    reference_label: str = "Q-learning, same games (evaluation)",
    ylim=(-15.0, 100.0),
    figsize=(8.4, 4.2),
):
    """Evaluation curves of both agents (95% bands across seeds) for one setting, against the
    exact optimum and, if given, a ``reference`` :class:`~mdlib.experiments.Summary` drawn in grey
    (its two agents averaged). The axes are fixed by ``ylim`` so that the figures of a grid, shown
    one after the other in an explorer, compare at a glance. Returns the figure."""
    fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    if reference is not None:
        ax.plot(
            reference.x,
            reference.mean.mean(axis=1),
            color="#8a8f98",
            linewidth=1.6,
            linestyle="-.",
            label=reference_label,
        )
    evaluation = runs.evaluation()
    for agent in (0, 1):
        plot_curve(ax, evaluation, agent, f"{AGENT_LABELS[agent]}, evaluation")
    plot_optimum(ax, optimum)
    final = evaluation.mean[-1]
    seeds = f"{evaluation.n_seeds} seed{'s' if evaluation.n_seeds > 1 else ''}"
    ax.text(
        0.99,
        0.03,
        f"at the end: agent 1 {final[0]:.1f}, agent 2 {final[1]:.1f} ({seeds})",
        transform=ax.transAxes,
        ha="right",
        va="bottom",
        fontsize=9,
        color=COLOURS["text"],
    )
    ax.set_ylim(*ylim)
    style_return_axes(ax, title)
    return fig


# The exact alternation beside the learners ------------------------------------------------------

#: How the exact Distral alternation is drawn on learning curves: one agent alone, both agents.
EXACT_STYLES = {
    "alone": dict(color="#7b4ea3", linestyle=(0, (5, 2)), marker="s", label="exact Distral, one agent alone"),
    "both": dict(color="#1b7f5f", linestyle=(0, (5, 2)), marker="D", label="exact Distral, both agents"),
}


def plot_exact(ax, x, returns, players: str = "both", label: str | None = None) -> None:
    """The exact alternation's game return per iteration (agents and tasks averaged), placed at the
    learner's ``x`` (games per task after each iteration), so that the two alternations read
    iteration by iteration."""
    style = dict(EXACT_STYLES[players])
    style["label"] = label or style["label"]
    ax.plot(x, returns, linewidth=1.6, markersize=4, **style)


#: Colours of the parts of the gap (see :mod:`mdlib.diagnosis`).
GAP_COLOURS = {
    "level": "#8a8f98",
    "the objective's price": "#7b4ea3",
    "the other agent": "#dd8452",
    "the learner: what remains": "#4c72b0",
    "the learner: its budget": "#64a0d6",
    "the learner: its initialisation": "#9ecae9",
}


def plot_gap(ax, decomposition, title: str | None = None) -> None:
    """A waterfall of one :class:`~mdlib.diagnosis.GapDecomposition`, averaged over tasks: the hard
    optimum of one agent alone, each part of the gap as a falling bar (95% interval across seeds
    as a whisker, the parts' values written beside them), the exact two-agent level, and the
    learner as the book runs it. Per-task values are the small dots on each bar."""
    levels, steps = decomposition.levels, decomposition.steps
    top = levels["hard optimum, one agent alone"]
    order = [("level", "hard optimum\n(one agent alone)", top)]
    order += [
        (name, name.replace("the learner: ", "learner: "), steps[name])
        for name in ("the objective's price", "the other agent")
    ]
    order.append(("level", "exact Distral\n(both agents)", levels["exact Distral, both agents"]))
    learner = [
        n
        for n in ("the learner: what remains", "the learner: its budget", "the learner: its initialisation")
        if n in steps
    ]
    order += [(name, name.replace("the learner: ", "learner: "), steps[name]) for name in learner]
    order.append(("level", "learner as the\nbook runs it", levels["learner: as the book runs it"]))
    height = top.mean
    for k, (kind, label, estimate) in enumerate(order):
        colour = GAP_COLOURS[kind]
        if kind == "level":
            height = estimate.mean
            ax.bar(k, height, color=colour, width=0.7)
            dots = estimate.per_task
            ax.text(k, height + 2, f"{height:.1f}", ha="center", va="bottom", fontsize=9)
        else:
            ax.bar(k, -estimate.mean, bottom=height, color=colour, width=0.7)
            if estimate.n_seeds > 1:
                ax.errorbar(
                    k,
                    height - estimate.mean,
                    yerr=[[estimate.mean_high - estimate.mean], [estimate.mean - estimate.mean_low]],
                    color=COLOURS["text"],
                    capsize=3,
                    linewidth=1,
                )
            shown = number(-estimate.mean)  # a cost lowers the bar: "−14.7"; "0.0" has no sign
            ax.text(
                k + 0.4,
                height - estimate.mean / 2,
                shown.replace("-", "−") if shown.startswith("-") else ("+" + shown if float(shown) else shown),
                ha="left",
                va="center",
                fontsize=8.5,
            )
            dots = None
            height -= estimate.mean
        if dots is not None and len(dots) > 1:
            ax.plot(
                np.full(len(dots), k) + np.linspace(-0.2, 0.2, len(dots)),
                dots,
                "o",
                color="white",
                markeredgecolor=COLOURS["text"],
                markersize=3.5,
                linewidth=0,
            )
    ax.axhline(float(np.mean(decomposition.hard_joint)), color=COLOURS["text"], linestyle=":", linewidth=1.3)
    ax.set_xticks(range(len(order)), [label for _, label, _ in order], rotation=35, ha="right", fontsize=8.5)
    ax.set_ylabel("discounted return per agent (γ = 0.99)")
    ax.set_ylim(min(0.0, height - 5), top.mean * 1.12)
    ax.grid(True, axis="y", color="#e5e5e5", linewidth=0.8)
    ax.set_axisbelow(True)
    if title:
        ax.set_title(title, fontsize=11)


def figure_gap(decompositions, titles):
    """Waterfalls of several decompositions side by side (for instance the report's setting and a
    better one), with one legend for the parts and the dotted exact joint optimum."""
    fig, axes = plt.subplots(
        1,
        len(decompositions),
        figsize=(5.6 * len(decompositions), 5.2),
        layout="constrained",
        sharey=True,
        squeeze=False,
    )
    for ax, decomposition, title in zip(axes[0], decompositions, titles):
        plot_gap(ax, decomposition, title)
    handles = [
        Rectangle((0, 0), 1, 1, color=c, label=n.replace("level", "a level: a return")) for n, c in GAP_COLOURS.items()
    ]
    handles.append(Line2D([], [], color=COLOURS["text"], linestyle=":", label="exact joint optimum, per agent"))
    handles.append(
        Line2D([], [], marker="o", linestyle="none", color="white", markeredgecolor=COLOURS["text"], label="one task")
    )
    fig.legend(handles=handles, loc="outside lower center", ncol=4, frameon=False, fontsize=9)
    return fig


def draw_shared_policy(ax, table, weights, agent: int, title: str, task: Task | str = "task1") -> None:
    """A shared policy π0 as ``agent`` meets it: averaged over everything it observes but its own
    cell, weighted by its visits ``weights`` (2, n_observations), drawn on the map with the key to
    its glyphs; cells it never visits are greyed and hatched (its own goal, where an episode ends,
    is left as a goal)."""
    from .learners import average_policy

    task = task if isinstance(task, Task) else load_task(task)
    averaged, mass = average_policy(table, weights, keep_other=False)
    draw_policy(task, averaged, agent, ax=ax, title=title, show_other=False)
    goal = tuple(task.goals[agent])
    for cell, (row, col) in enumerate(task.free_cells):
        if mass[agent, cell].sum() == 0 and (int(row), int(col)) != goal:  # an agent is never "at" its goal
            ax.add_patch(
                Rectangle((col - 0.5, row - 0.5), 1, 1, facecolor="#9aa0a6", alpha=0.6, edgecolor="none", hatch="//")
            )
    ax.title.set_fontsize(11)


def plot_curve_mean(ax, curve, label: str, colour: str = "#4c72b0", linestyle="-") -> None:
    """A :class:`~mdlib.landscape.Curve` (agents averaged) with its 95% band across seeds."""
    ax.plot(curve.x, curve.mean, linestyle, color=colour, linewidth=1.8, label=label)
    if curve.n_seeds > 1:
        ax.fill_between(curve.x, curve.low, curve.high, color=colour, alpha=0.18, linewidth=0)


def figure_cell(
    sampled,
    optimum: float,
    title: str,
    exact=None,
    reference=None,
    reference_label: str = "Q-learning, same games (greedy)",
    ylim=(-15.0, 100.0),
    figsize=(8.4, 4.2),
    sampled_label: str = "MultiDistral, learned policies sampled from (5)",
):
    """One (α, β) setting as the explorers show it: the sampled learner's curve (agents averaged,
    95% band), the exact alternation's (``exact``: a dict ``{"alone": curve, "both": curve}``),
    a grey ``reference`` curve and the exact joint optimum, on fixed axes so that the figures of a
    grid compare at a glance. Returns the figure."""
    fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    if reference is not None:
        ax.plot(
            reference.x,
            reference.mean if reference.mean.ndim == 1 else reference.mean.mean(axis=1),
            color="#8a8f98",
            linewidth=1.6,
            linestyle="-.",
            label=reference_label,
        )
    for players, curve in (exact or {}).items():
        plot_exact(ax, curve.x, curve.mean, players)
    plot_curve_mean(ax, sampled, sampled_label, colour=GOAL_COLOURS[0])
    plot_optimum(ax, optimum)
    seeds = f"{sampled.n_seeds} seed{'s' if sampled.n_seeds > 1 else ''}"
    ax.text(
        0.99,
        0.03,
        f"at the end: {sampled.mean[-1]:.1f} per agent ({seeds})",
        transform=ax.transAxes,
        ha="right",
        va="bottom",
        fontsize=9,
        color=COLOURS["text"],
    )
    ax.set_ylim(*ylim)
    style_return_axes(ax, title)
    ax.set_ylabel("discounted return (γ = 0.99), mean over tasks and agents")
    return fig


def plot_heatmap(
    ax,
    grid_values,
    alphas,
    betas,
    title: str,
    vmin=None,
    vmax=None,
    cmap="viridis",
    digits: int = 0,
    mark=None,
    mark_label: str = "the report's setting",
    hatch=None,
    colorbar_label: str = "discounted return per agent (γ = 0.99)",
):
    """A measure over the (α, β) grid as a heatmap with every value written in its cell; ``mark``
    outlines one (α, β), ``hatch`` (a boolean grid) dots the cells it flags (for instance those
    whose 95% interval excludes 0). β is on a log scale: one column per grid value."""
    values = np.asarray(grid_values, float)
    image = ax.imshow(values, cmap=cmap, vmin=vmin, vmax=vmax, origin="lower", aspect="auto")
    norm = image.norm
    for (i, j), value in np.ndenumerate(values):
        if np.isnan(value):
            ax.text(j, i, "–", ha="center", va="center", fontsize=8, color=COLOURS["text"])
            continue
        shade = plt.get_cmap(cmap)(norm(value))
        light = 0.299 * shade[0] + 0.587 * shade[1] + 0.114 * shade[2] > 0.55
        text = f"{value:.{digits}f}"
        text = text.lstrip("-") if float(text) == 0 else text  # a rounded zero has no sign
        ax.text(j, i, text, ha="center", va="center", fontsize=7.5, color="black" if light else "white")
        if hatch is not None and hatch[i, j]:
            ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="black", linewidth=0.9))
    if mark is not None:
        i, j = list(alphas).index(mark[0]), list(betas).index(mark[1])
        ax.add_patch(
            Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="#ff7f0e", linewidth=2.6, label=mark_label)
        )
        ax.legend(loc="upper left", bbox_to_anchor=(0, -0.14), frameon=False, fontsize=8.5)
    ax.set(
        xticks=range(len(betas)),
        xticklabels=[f"{b:g}" for b in betas],
        yticks=range(len(alphas)),
        yticklabels=[f"{a:g}" for a in alphas],
        xlabel="β (Distral: inverse temperature, log scale)",
        ylabel="α (Distral: weight of π0)",
    )
    ax.set_title(title, fontsize=11)
    plt.colorbar(image, ax=ax, label=colorbar_label, shrink=0.9)
    return image
