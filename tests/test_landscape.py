"""mdlib.landscape: measures over the (alpha, beta) grid, distillation's effect per cell and one
cell's learning curve, read from sweep tables."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mdlib import landscape
from mdlib.diagnosis import sweep_table


def table(values: dict, games_per_iteration: int = 150) -> pd.DataFrame:
    """A small sweep-like table: values[(alpha, beta, distill)] = list of finals over seeds 0.."""
    rows = []
    for (alpha, beta, distill), finals in values.items():
        for seed, final in enumerate(finals):
            settings = json.dumps({"distill": distill, "games_per_iteration": games_per_iteration})
            rows.append(
                dict(
                    method="multidistral",
                    version="v1",
                    alpha=alpha,
                    beta=beta,
                    seed=seed,
                    settings=settings,
                    final=final,
                    games_to_95=np.nan if final < 0 else 10 * final,
                    curve_01=final / 2,
                    curve_02=final,
                )
            )
    frame = pd.DataFrame(rows)
    frame.attrs.update(alphas=sorted({k[0] for k in values}), betas=sorted({k[1] for k in values}))
    return frame


FRAME = table(
    {
        (0.0, 1.0, True): [3.0, 4.0, 5.0],
        (0.0, 1.0, False): [0.0, 0.0, 0.0],
        (1.0, 1.0, True): [5.0, 5.0, 8.0],
        (1.0, 1.0, False): [6.0, 6.0, 6.0],
        (0.0, 2.0, True): [-1.0, 2.0, 2.0],
        (0.0, 2.0, False): [1.0, 1.0, 1.0],
        (1.0, 2.0, True): [9.0, 9.0, 9.0],
        (1.0, 2.0, False): [9.0, 9.0, 9.0],
    }
)


def t_interval(values):
    values = np.asarray(values, float)
    half = stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
    return values.mean(), values.mean() - half, values.mean() + half


def test_grid_holds_each_cells_mean_and_interval():
    g = landscape.grid(FRAME, distill=True)
    assert g.alphas == (0.0, 1.0) and g.betas == (1.0, 2.0) and g.n_seeds == 3
    assert g.at(0.0, 1.0) == pytest.approx(t_interval([3, 4, 5]))
    assert g.best() == (1.0, 2.0)


def test_a_cell_where_a_seed_never_reaches_the_measure_is_missing():
    g = landscape.grid(FRAME, "games_to_95", distill=True)
    assert np.isnan(g.at(0.0, 2.0)[0]) and g.at(1.0, 2.0)[0] == pytest.approx(90.0)


def test_transfer_is_the_paired_difference_and_marks_cells_apart_from_zero():
    t = landscape.transfer(FRAME)
    assert t.at(1.0, 1.0) == pytest.approx(t_interval([-1, -1, 2]))
    assert t.at(1.0, 2.0) == (0.0, 0.0, 0.0)
    assert t.excludes_zero.tolist() == [[True, False], [False, False]]


def test_transfer_needs_the_same_seeds_on_both_sides():
    frame = FRAME[
        ~(
            (FRAME.alpha == 0.0)
            & (FRAME.beta == 1.0)
            & (FRAME.seed == 2)
            & FRAME.settings.str.contains('"distill": false')
        )
    ]
    frame.attrs.update(FRAME.attrs)
    with pytest.raises(ValueError, match="same seeds at alpha 0.0, beta 1.0"):
        landscape.transfer(frame)


def test_paired_grid_subtracts_two_tables_seed_by_seed():
    other = FRAME.assign(version="v2", final=FRAME["final"] + FRAME["seed"])  # v2 = v1 + seed
    other.attrs.update(FRAME.attrs)
    g = landscape.paired_grid(
        other, FRAME, where_first=dict(version="v2", distill=True), where_second=dict(version="v1", distill=True)
    )
    assert g.n_seeds == 3 and g.at(0.0, 1.0) == pytest.approx(t_interval([0, 1, 2]))
    assert landscape.paired_grid(FRAME, FRAME, where_first={}, where_second={}).mean.tolist() == [[0, 0], [0, 0]]


def test_paired_grid_refuses_tables_over_different_grids():
    other = FRAME[FRAME.beta == 1.0].copy()
    other.attrs.update(alphas=[0.0, 1.0], betas=[1.0])
    with pytest.raises(ValueError, match="same .alpha, beta. grid"):
        landscape.paired_grid(FRAME, other, where_first={}, where_second={})


def test_curve_puts_each_iteration_at_its_games_per_task():
    c = landscape.curve(FRAME, "v1", 0.0, 1.0, distill=True)
    assert c.x.tolist() == [150, 300] and c.n_seeds == 3
    assert c.mean == pytest.approx([2.0, 4.0])


def test_a_cell_the_table_lacks_is_one_clear_error():
    with pytest.raises(ValueError, match="no multidistral rows at alpha 0.5"):
        landscape.curve(FRAME, "v1", 0.5, 1.0)


def test_the_committed_explorer_table_covers_the_explorer_grid():
    _, frame = sweep_table("explorer-sampled")
    g = landscape.grid(frame, version="v2", distill=False)
    assert (g.alphas, g.betas) == (landscape.EXPLORER_ALPHAS, landscape.EXPLORER_BETAS)
    assert not np.isnan(g.mean).any() and g.n_seeds == 5
