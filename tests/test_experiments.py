"""Comparing the two agents across seeds: ``mean_interval`` and ``agent_gap``.

The numbers are built by hand (a SeedRuns with chosen returns), so every count, share and
interval can be checked against its definition: the gap is agent 2's task-averaged return minus
agent 1's, per seed; the share of seeds with agent 2 ahead gets an exact Clopper-Pearson 95%
interval; the mean gap a Student-t 95% interval. ``SeedRuns`` also carries every evaluation the
runs made (sampled and greedy for MultiDistral).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from mdlib.experiments import SeedRuns, agent_gap, difference, learned_trajectories, mean_interval, run_seeds
from mdlib.learners import MultiDistral, QLearning, play_learned
from mdlib.learners.base import Setup


def hand_made_runs(evals: np.ndarray, train: np.ndarray | None = None) -> SeedRuns:
    """``evals[seed, task, point, agent]``."""
    train = evals if train is None else train
    return SeedRuns(
        method="hand",
        settings={},
        tasks=("a", "b"),
        seeds=tuple(range(len(evals))),
        train_x=np.arange(1, train.shape[2] + 1),
        train=train,
        eval_x=np.arange(1, evals.shape[2] + 1),
        evals=evals,
        env_steps=0,
    )


def test_mean_interval_is_the_student_t_interval():
    values = [1.0, 2.0, 4.0, 7.0]
    mean, low, high = mean_interval(values)
    expected = stats.t.interval(0.95, 3, loc=np.mean(values), scale=stats.sem(values))
    assert mean == pytest.approx(3.5)
    assert (low, high) == pytest.approx(expected, rel=1e-12)
    assert mean_interval([2.5]) == (2.5, 2.5, 2.5)
    with pytest.raises(ValueError):
        mean_interval([])


def test_agent_gap_counts_the_seeds_where_agent_2_is_ahead():
    """Five seeds, two tasks, two points. The last point's task-averaged gaps are
    +1, +2, -1, 0 (a tie is not 'ahead') and +0.5: three seeds ahead of five."""
    evals = np.zeros((5, 2, 2, 2))
    evals[:, :, 0, :] = 50.0  # the first point must not matter
    final_gaps = np.array([1.0, 2.0, -1.0, 0.0, 0.5])
    evals[:, 0, 1, 0], evals[:, 0, 1, 1] = 10.0, 10.0 + 2 * final_gaps  # task a carries the gap
    evals[:, 1, 1, :] = 30.0  # task b: equal
    gap = agent_gap(hand_made_runs(evals))
    np.testing.assert_allclose(gap.gaps, final_gaps)
    assert (gap.ahead, gap.n_seeds) == (3, 5)
    ci = stats.binomtest(3, 5).proportion_ci(method="exact")
    assert (gap.share_low, gap.share_high) == pytest.approx((ci.low, ci.high))
    assert (gap.mean, gap.low, gap.high) == pytest.approx(mean_interval(final_gaps))


def test_agent_gap_reads_the_training_curve_and_averages_the_last_points():
    evals = np.zeros((3, 2, 4, 2))
    train = np.zeros((3, 2, 4, 2))
    train[:, :, 2, 1] = 4.0  # agent 2 ahead by 4 at the third point only
    assert agent_gap(hand_made_runs(evals, train), "training").ahead == 0
    gap = agent_gap(hand_made_runs(evals, train), "training", last=2)
    np.testing.assert_allclose(gap.gaps, 2.0)
    assert gap.ahead == 3 and agent_gap(hand_made_runs(evals, train)).ahead == 0
    with pytest.raises(ValueError, match="curve"):
        agent_gap(hand_made_runs(evals), "returns")


# --- difference: two methods at the same numbers of games ------------------------------------------


def test_difference_is_the_welch_interval_per_point_and_agent():
    """Every point and agent of ``difference(a, b)`` is scipy's Welch interval of the two samples
    of task-averaged returns, one number per seed."""
    rng = np.random.default_rng(7)
    a = hand_made_runs(rng.normal(10.0, 2.0, size=(6, 2, 3, 2)))
    b = hand_made_runs(rng.normal(8.0, 5.0, size=(9, 2, 3, 2)))
    d = difference(a, b)
    np.testing.assert_array_equal(d.x, [1, 2, 3])
    assert d.mean.shape == d.low.shape == d.high.shape == (3, 2) and d.n_seeds == 6
    for point in range(3):
        for agent in (0, 1):
            xa, xb = a.evals.mean(axis=1)[:, point, agent], b.evals.mean(axis=1)[:, point, agent]
            ci = stats.ttest_ind(xa, xb, equal_var=False).confidence_interval(0.95)
            assert d.mean[point, agent] == pytest.approx(xa.mean() - xb.mean())
            assert (d.low[point, agent], d.high[point, agent]) == pytest.approx((ci.low, ci.high))
    reverse = difference(b, a)
    np.testing.assert_allclose(reverse.mean, -d.mean)
    np.testing.assert_allclose(reverse.low, -d.high)


def test_difference_averages_windows_and_checks_the_points():
    """Q-learning-like training (one point per game) against MultiDistral-like points (one per
    block of games): with the window, the blocks line up; without it, refused."""
    per_game = np.zeros((3, 2, 6, 2))
    per_game[:, :, 3:, :] = 6.0  # the second block of three games averages 6
    blocks = np.zeros((4, 2, 2, 2))
    blocks[:, :, 1, :] = 6.0
    blocks[::2, :, 1, 0] += 1.0  # some spread in agent 1's second block
    q_like = hand_made_runs(per_game)
    md_like = SeedRuns(
        method="md",
        settings={},
        tasks=("a", "b"),
        seeds=(0, 1, 2, 3),
        train_x=np.array([3, 6]),
        train=blocks,
        eval_x=np.array([3, 6]),
        evals=blocks,
        env_steps=0,
    )
    d = difference(md_like, q_like, "training", window_b=3)
    np.testing.assert_array_equal(d.x, [3, 6])
    np.testing.assert_allclose(d.mean, [[0.0, 0.0], [0.5, 0.0]])
    assert d.low[0, 0] == d.high[0, 0] == 0.0  # no spread at all: a zero-width interval
    assert d.low[1, 0] < 0.5 < d.high[1, 0]
    with pytest.raises(ValueError, match="different points"):
        difference(md_like, q_like, "training")
    with pytest.raises(ValueError, match="two seeds"):
        difference(hand_made_runs(np.zeros((1, 2, 6, 2))), q_like)
    with pytest.raises(ValueError, match="curve"):
        difference(q_like, q_like, "returns")


# Learned play over seeds ---------------------------------------------------------------------------


def test_learned_trajectories_replay_the_runs_of_every_seed():
    """Each seed's trajectories are what ``play_learned`` plays from that seed's run (the very
    run ``run_seeds`` makes), in the seeds' order, the same with one worker or two."""
    method = QLearning(episodes=60, eval_every=30)
    tasks = ["task5", "task1"]
    trajectories = learned_trajectories(method, tasks, seeds=[3, 7], workers=2, progress=False)
    assert len(trajectories) == 2 and all(len(row) == 2 for row in trajectories)
    for seed, row in zip((3, 7), trajectories):
        result = method.run(tasks, seed=seed, keep_tables=True)
        for i, trajectory in enumerate(row):
            expected = play_learned(result, i, seed=seed)
            assert trajectory.task.name == tasks[i]
            np.testing.assert_array_equal(trajectory.positions, expected.positions)
            np.testing.assert_array_equal(trajectory.rewards, expected.rewards)
    alone = learned_trajectories(method, tasks, seeds=[3, 7], workers=1, progress=False)
    for a, b in zip(sum(trajectories, []), sum(alone, [])):
        np.testing.assert_array_equal(a.positions, b.positions)
    counted = learned_trajectories(method, tasks, seeds=2, progress=False)
    listed = learned_trajectories(method, tasks, seeds=[0, 1], progress=False)
    for a, b in zip(sum(counted, []), sum(listed, [])):
        np.testing.assert_array_equal(a.positions, b.positions)


def test_paired_difference_matches_seeds_and_is_the_paired_t_interval():
    """Paired: only the seeds both sets ran, matched by seed number, and scipy's paired
    (related-samples) interval; identical runs give exactly zero, with no width."""
    rng = np.random.default_rng(3)
    evals = rng.normal(20.0, 4.0, size=(6, 2, 3, 2))
    a = hand_made_runs(evals)  # seeds 0..5
    b_evals = evals[[4, 1, 0, 2]] + rng.normal(1.0, 0.5, size=(4, 2, 3, 2))
    b = SeedRuns(
        method="b",
        settings={},
        tasks=("a", "b"),
        seeds=(4, 1, 0, 2),
        train_x=a.train_x,
        train=b_evals,
        eval_x=a.eval_x,
        evals=b_evals,
        env_steps=0,
    )
    d = difference(a, b, paired=True)
    assert d.n_seeds == 4
    xa = a.evals.mean(axis=1)[[0, 1, 2, 4]]
    xb = b.evals.mean(axis=1)[[2, 1, 3, 0]]  # seeds 0, 1, 2, 4 in b's order
    for point in range(3):
        for agent in (0, 1):
            ci = stats.ttest_rel(xa[:, point, agent], xb[:, point, agent]).confidence_interval(0.95)
            assert d.mean[point, agent] == pytest.approx((xa - xb)[:, point, agent].mean())
            assert (d.low[point, agent], d.high[point, agent]) == pytest.approx((ci.low, ci.high))
    same = difference(a, a, paired=True)
    assert (same.mean == 0).all() and (same.low == 0).all() and (same.high == 0).all()
    lonely = SeedRuns(
        method="c",
        settings={},
        tasks=("a", "b"),
        seeds=(9, 0),
        train_x=a.train_x,
        train=evals[:2],
        eval_x=a.eval_x,
        evals=evals[:2],
        env_steps=0,
    )
    with pytest.raises(ValueError, match="common seeds"):
        difference(a, lonely, paired=True)


# Both evaluations over seeds ------------------------------------------------------------------------


def test_seed_runs_stack_both_evaluations_and_report_either():
    """``SeedRuns`` keeps every evaluation the runs made; ``evaluation()`` is the runs' own (the one
    ``eval_return`` holds), ``evaluation(mode)`` either one; an unknown mode is refused."""
    method = MultiDistral(iterations=2, e_games=5, m_games=5, evaluation="greedy", setup=Setup(eval_games=3))
    runs = run_seeds(method, ["task1", "task5"], seeds=[0, 3], workers=1, progress=False)
    assert runs.eval_mode == "greedy" and set(runs.eval_returns) == {"sampled", "greedy"}
    for mode in ("sampled", "greedy"):
        stacked = np.stack([method.run(["task1", "task5"], seed=s).eval_returns[mode] for s in (0, 3)])
        np.testing.assert_array_equal(runs.eval_returns[mode], stacked)
        np.testing.assert_array_equal(runs.evaluation(mode).mean, stacked.mean(axis=1).mean(axis=0))
    np.testing.assert_array_equal(runs.evals, runs.eval_returns["greedy"])
    np.testing.assert_array_equal(runs.evaluation().mean, runs.evaluation("greedy").mean)
    np.testing.assert_array_equal(runs.final("sampled").mean, runs.evaluation("sampled").mean[-1:])
    assert runs.to_dict()["evaluation"] == "greedy"
    with pytest.raises(ValueError, match="mode must be one of sampled, greedy, got 'mean'"):
        runs.evaluation("mean")
    q_runs = run_seeds(QLearning(episodes=20, eval_every=10), "task5", seeds=2, workers=1, progress=False)
    assert q_runs.eval_mode == "greedy" and set(q_runs.eval_returns) == {"greedy"}
    hand = hand_made_runs(np.zeros((2, 2, 3, 2)))  # made without them: its evals are its only evaluation
    assert hand.eval_returns == {"sampled": hand.evals}
