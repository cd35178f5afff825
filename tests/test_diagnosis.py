"""mdlib.diagnosis: reading the committed sweep tables and splitting MultiDistral's gap to the
optimum into the objective's price, the other agent and the learner's shortfall."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from mdlib.diagnosis import LADDER, Estimate, decompose, select, sweep_table
from mdlib.landscape import BETTER_SETTING, REPORT_SETTING


def test_estimate_is_a_student_t_interval_of_the_task_average():
    per_seed = np.array([[1.0, 3.0], [2.0, 5.0], [4.0, 4.0]])  # 3 seeds x 2 tasks
    estimate = Estimate.of(per_seed)
    averages = per_seed.mean(axis=1)
    half = stats.t.ppf(0.975, 2) * averages.std(ddof=1) / np.sqrt(3)
    assert estimate.mean == pytest.approx(averages.mean())
    assert (estimate.mean_low, estimate.mean_high) == pytest.approx((averages.mean() - half, averages.mean() + half))
    assert estimate.per_task == pytest.approx([7 / 3, 4.0]) and estimate.n_seeds == 3


def test_an_exact_value_has_no_interval_and_no_negative_zero():
    exact = Estimate.of(np.array([[-1e-15, 1e-15]]))
    assert exact.n_seeds == 1 and exact.mean_low == exact.mean == exact.mean_high
    assert exact.text() == "0.0"
    assert Estimate.of(np.array([[-0.01], [0.01], [0.0]])).text() == "0.0 [0.0, 0.0]"


def test_a_missing_table_is_one_clear_error():
    with pytest.raises(ValueError, match="no sweep table 'nope'"):
        sweep_table("nope")


def test_select_matches_columns_and_learner_settings():
    _, frame = sweep_table("diagnosis-beta0.5")
    rows = select(frame, version="v1", q_init="wander", distill=False, rollouts_learn=True)
    assert len(rows) == 20 and list(rows["seed"]) == list(range(20))
    assert set(rows["version"]) == {"v1"}
    assert all('"q_init": "wander"' in s and '"distill": false' in s for s in rows["settings"])


@pytest.mark.parametrize("setting", [REPORT_SETTING, BETTER_SETTING], ids=["report", "better"])
@pytest.mark.parametrize("version", ["v1", "v2"])
def test_the_steps_add_up_from_the_hard_optimum_to_the_learner(setting, version):
    """Levels telescope: the hard optimum minus every step is the learner as the book runs it."""
    alpha, beta = setting
    _, exact = sweep_table(f"diagnosis-exact-beta{beta:g}")
    _, sampled = sweep_table(f"diagnosis-beta{beta:g}")
    _, budget = sweep_table(f"diagnosis-budget-beta{beta:g}")
    d = decompose(exact, sampled, version, alpha, beta, budget=budget)
    top = d.levels["hard optimum, one agent alone"].mean
    bottom = d.levels["learner: as the book runs it"].mean
    assert top - sum(step.mean for step in d.steps.values()) == pytest.approx(bottom, abs=1e-9)
    assert d.steps["the objective's price"].mean == pytest.approx(top - d.levels["exact Distral, one agent alone"].mean)
    assert set(d.transfer) == set(LADDER)
    assert d.levels["exact Distral, both agents"].mean <= d.hard_joint.mean() + 1e-9


def test_the_transfer_control_is_the_paired_difference_of_the_table():
    alpha, beta = REPORT_SETTING
    _, exact = sweep_table("diagnosis-exact-beta0.5")
    _, sampled = sweep_table("diagnosis-beta0.5")
    d = decompose(exact, sampled, "v1", alpha, beta)
    where = dict(version="v1", q_init=0.0, rollouts_learn=False, e_games=75)
    on, off = select(sampled, distill=True, **where), select(sampled, distill=False, **where)
    by_hand = on["final"].to_numpy() - off["final"].to_numpy()
    assert d.transfer["as the book runs it"].mean == pytest.approx(by_hand.mean())
    assert "the learner: its budget" not in d.steps  # no budget table given


def test_decompose_refuses_a_setting_the_tables_do_not_hold():
    _, exact = sweep_table("diagnosis-exact-beta0.5")
    _, sampled = sweep_table("diagnosis-beta0.5")
    with pytest.raises(ValueError, match="expected one exact_alone row"):
        decompose(exact, sampled, "v1", 0.3, 0.5)
