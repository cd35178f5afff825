"""Reading sweep tables as landscapes over Distral's α and β.

A sweep table (:mod:`mdlib.sweep`) has one row per run. These functions turn it into what the
chapters draw: a grid of a measure over (α, β) with 95% intervals across seeds, the transfer of
distillation (MultiDistral minus the same learner with π0 frozen uniform, paired by seed) per
cell, any other paired difference (V2 minus V1, say), and the learning curve of one cell, for the
sampled learner and the exact alternation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from .diagnosis import select
from .experiments import mean_interval
from .learners import MultiDistral
from .learners.base import require

#: The grids of the committed tables (``scripts/make-data.sh``), which the chapters read:
#: α from 0 to 1 by 0.1; β on a 1-2-3-5 log scale from 0.1 to 100, which holds the report's 0.5.
LANDSCAPE_ALPHAS = tuple(round(0.1 * k, 10) for k in range(11))
#: β of the committed tables' grid (see :data:`LANDSCAPE_ALPHAS`).
LANDSCAPE_BETAS = (0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0, 50.0, 100.0)
#: The explorers' grid in the V1 and V2 chapters (a part of the landscape).
EXPLORER_ALPHAS = (0.0, 0.3, 0.5, 0.7, 1.0)
#: β of the explorers' grid (see :data:`EXPLORER_ALPHAS`).
EXPLORER_BETAS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 100.0)
#: The report's Distral setting, and the book's better one (the report's α, the landscape's best β).
REPORT_SETTING = (0.7, 0.5)
#: The book's better Distral setting, (α, β) (see :data:`REPORT_SETTING`).
BETTER_SETTING = (0.7, 100.0)


@dataclass(frozen=True)
class Grid:
    """A measure over the (α, β) grid: ``mean[i, j]`` at ``alphas[i]``, ``betas[j]``, with its 95%
    interval across seeds (equal to the mean for the exact alternation) and the seed count."""

    alphas: tuple[float, ...]
    betas: tuple[float, ...]
    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    n_seeds: int

    def at(self, alpha: float, beta: float) -> tuple[float, float, float]:
        i, j = self.alphas.index(alpha), self.betas.index(beta)
        return float(self.mean[i, j]), float(self.low[i, j]), float(self.high[i, j])

    def best(self) -> tuple[float, float]:
        """The (α, β) with the largest mean."""
        i, j = np.unravel_index(np.nanargmax(self.mean), self.mean.shape)
        return self.alphas[i], self.betas[j]

    @property
    def excludes_zero(self) -> np.ndarray:
        """Cells whose interval lies entirely above or below 0."""
        return (self.low > 0) | (self.high < 0)


def _axes(frame) -> tuple[tuple[float, ...], tuple[float, ...]]:
    return tuple(float(a) for a in frame.attrs["alphas"]), tuple(float(b) for b in frame.attrs["betas"])


def grid(frame, measure: str = "final", version: str = "v1", method: str = "multidistral", **switches) -> Grid:
    """``measure`` (a column: ``final``, ``games_to_95``, ``auc``...) over the sweep's (α, β) grid,
    for one version and method; ``switches`` select learner settings (e.g. ``distill=True``).
    Runs that never reach a measure (an empty ``games_to_95``) count as missing: a cell is NaN
    unless every seed has a value."""
    alphas, betas = _axes(frame)
    shape = (len(alphas), len(betas))
    mean, low, high = np.full(shape, np.nan), np.full(shape, np.nan), np.full(shape, np.nan)
    seeds = 0
    for i, alpha in enumerate(alphas):
        for j, beta in enumerate(betas):
            rows = select(frame, method, version=version, alpha=alpha, beta=beta, **switches)
            require(len(rows) > 0, f"no {method} rows at alpha {alpha}, beta {beta} ({version}, {switches})")
            values = rows[measure].to_numpy(float)
            seeds = max(seeds, len(values))
            if not np.isnan(values).any():
                mean[i, j], low[i, j], high[i, j] = mean_interval(values)
    return Grid(alphas, betas, mean, low, high, seeds)


def paired_grid(first, second, measure: str = "final", *, where_first: dict, where_second: dict) -> Grid:
    """``measure`` of the runs ``where_first`` selects in table ``first`` minus those ``where_second``
    selects in table ``second`` (the same table, or another over the same grid), paired by seed, in
    every (α, β) cell, with a Student-t 95% interval."""
    alphas, betas = _axes(first)
    require(_axes(second) == (alphas, betas), "the two tables must cover the same (alpha, beta) grid")
    shape = (len(alphas), len(betas))
    mean, low, high = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    seeds = 0
    for i, alpha in enumerate(alphas):
        for j, beta in enumerate(betas):
            one = select(first, alpha=alpha, beta=beta, **where_first)
            other = select(second, alpha=alpha, beta=beta, **where_second)
            require(
                list(one["seed"]) == list(other["seed"]) and len(one) > 1,
                f"the two sides need the same seeds at alpha {alpha}, beta {beta} (two or more)",
            )
            mean[i, j], low[i, j], high[i, j] = mean_interval(
                one[measure].to_numpy(float) - other[measure].to_numpy(float)
            )
            seeds = len(one)
    return Grid(alphas, betas, mean, low, high, seeds)


def transfer(frame, version: str = "v1", measure: str = "final", **switches) -> Grid:
    """Distillation's effect per cell: ``measure`` of MultiDistral minus the same learner with π0
    frozen uniform (``distill=False``), paired by seed, with a Student-t 95% interval."""
    where = dict(version=version, **switches)
    return paired_grid(
        frame, frame, measure, where_first=where | {"distill": True}, where_second=where | {"distill": False}
    )


@dataclass(frozen=True)
class Curve:
    """A learning curve averaged over tasks and agents: at ``x`` games per task, the mean and its
    95% interval across seeds (equal to the mean for the exact alternation)."""

    x: np.ndarray
    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    n_seeds: int


def curve(frame, version: str, alpha: float, beta: float, method: str = "multidistral", **switches) -> Curve:
    """The learning curve of one cell (the ``curve_<iteration>`` columns)."""
    rows = select(frame, method, version=version, alpha=float(alpha), beta=float(beta), **switches)
    require(len(rows) > 0, f"no {method} rows at alpha {alpha}, beta {beta} ({version}, {switches})")
    columns = sorted(c for c in rows.columns if c.startswith("curve_"))
    values = rows[columns].to_numpy(float)
    settings = json.loads(rows["settings"].iloc[0])
    per_iteration = settings.get("games_per_iteration") or MultiDistral(**settings).games_per_iteration
    x = (np.arange(len(columns)) + 1) * per_iteration
    stats_ = np.array([mean_interval(values[:, k]) for k in range(len(columns))])
    return Curve(x, stats_[:, 0], stats_[:, 1], stats_[:, 2], len(values))
