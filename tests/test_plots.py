"""Figures of learning curves: one setting of an α-β grid, as the chapters' explorers show it."""

from __future__ import annotations

import matplotlib
import numpy as np

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from mdlib.experiments import SeedRuns  # noqa: E402
from mdlib.plots import figure_setting, plot_heatmap  # noqa: E402


def runs_with(evals: np.ndarray) -> SeedRuns:
    x = np.arange(1, evals.shape[2] + 1) * 150
    return SeedRuns(
        method="multidistral_v1",
        settings={},
        tasks=("a", "b"),
        seeds=tuple(range(len(evals))),
        train_x=x,
        train=evals,
        eval_x=x,
        evals=evals,
        env_steps=0,
    )


def test_figure_setting_draws_both_agents_the_optimum_and_the_reference():
    evals = np.linspace(0, 40, 3 * 2 * 4 * 2).reshape(3, 2, 4, 2)
    runs = runs_with(evals)
    reference = runs_with(evals + 10).evaluation()
    fig = figure_setting(runs, 90.0, "α = 0.7, β = 0.5", reference=reference, ylim=(-10, 95))
    (ax,) = fig.axes
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels[0].startswith("Q-learning") and "agent 1, evaluation" in labels
    assert "agent 2, evaluation" in labels and "exact joint optimum, per agent" in labels
    optimum = ax.get_lines()[labels.index("exact joint optimum, per agent")]
    assert set(optimum.get_ydata()) == {90.0}
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), reference.mean.mean(axis=1))
    assert len(ax.collections) == 2  # one 95% band per agent
    assert ax.get_ylim() == (-10, 95) and ax.get_title() == "α = 0.7, β = 0.5"
    assert ax.get_xlabel() == "games per task" and "discounted return" in ax.get_ylabel()
    final = runs.evaluation().mean[-1]
    assert any(f"agent 1 {final[0]:.1f}" in t.get_text() and "3 seeds" in t.get_text() for t in ax.texts)
    plt.close(fig)


def test_one_seed_has_no_band():
    fig = figure_setting(runs_with(np.ones((1, 2, 3, 2))), 90.0, "one run")
    assert len(fig.axes[0].collections) == 0
    assert any("1 seed)" in t.get_text() for t in fig.axes[0].texts)
    plt.close(fig)


def test_draw_policy_can_leave_the_other_agent_out():
    """A uniform table draws four arrows in every free cell but the agent's own goal (where its
    episode ends) and the other agent's; without the other agent, in every free cell but the goal,
    and no agent marker."""
    from matplotlib.patches import Circle, FancyArrow, Polygon

    from mdlib import game, load_task
    from mdlib.plots import draw_policy

    task = load_task("task1")
    table = np.full((2, game.observation_count(task.n_cells), game.N_ACTIONS), 0.2)
    for show_other, cells, markers in ((True, task.n_cells - 2, 1), (False, task.n_cells - 1, 0)):
        fig, ax = plt.subplots()
        draw_policy(task, table, agent=0, ax=ax, show_other=show_other)
        assert sum(isinstance(p, FancyArrow) for p in ax.patches) == 4 * cells
        # agent 2 is a diamond (Polygon); the stay discs are Circles, one per drawn cell
        assert sum(isinstance(p, Polygon) and not isinstance(p, FancyArrow) for p in ax.patches) == markers
        assert sum(isinstance(p, Circle) for p in ax.patches) == cells
        plt.close(fig)


def test_a_heatmap_writes_every_value_in_its_cell_and_a_rounded_zero_without_a_sign():
    fig, ax = plt.subplots()
    values = np.array([[-0.3, 1.6], [np.nan, -2.0]])
    plot_heatmap(ax, values, [0.0, 1.0], [0.5, 100.0], "a grid", mark=(1.0, 100.0))
    texts = sorted(t.get_text() for t in ax.texts)
    assert texts == sorted(["0", "2", "–", "-2"]), texts
    assert [p.get_edgecolor() for p in ax.patches][-1][:3] != (0, 0, 0), "the marked cell is outlined"
    plt.close(fig)
