"""Comparing the two agents across seeds: ``mean_interval`` and ``agent_gap``.

The numbers are built by hand (a SeedRuns with chosen returns), so every count, share and
interval can be checked against its definition: the gap is agent 2's task-averaged return minus
agent 1's, per seed; the share of seeds with agent 2 ahead gets an exact Clopper-Pearson 95%
interval; the mean gap a Student-t 95% interval.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from mdlib.experiments import SeedRuns, agent_gap, learned_trajectories, mean_interval
from mdlib.learners import QLearning, play_learned


def hand_made_runs(evals: np.ndarray, train: np.ndarray | None = None) -> SeedRuns:
    """``evals[seed, task, point, agent]``."""
    train = evals if train is None else train
    return SeedRuns(method="hand", settings={}, tasks=("a", "b"), seeds=tuple(range(len(evals))),
                    train_x=np.arange(1, train.shape[2] + 1), train=train,
                    eval_x=np.arange(1, evals.shape[2] + 1), evals=evals, env_steps=0)


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
