"""The kernels' random stream (``mdlib.learners.rng``): seeding repeats it, and the two draws
built into the episode loop are numba's own ``np.random.random()`` and ``np.random.randint(n)``,
number for number, interleaved in any order."""

from __future__ import annotations

import numba
import numpy as np

from mdlib.learners import rng


@numba.njit
def _numba_draws(bounds):
    out = np.empty((bounds.shape[0], 2))
    for i in range(bounds.shape[0]):
        out[i, 0] = np.random.random()
        out[i, 1] = np.random.randint(bounds[i])
    return out


@numba.njit
def _mdlib_draws(bounds):
    out = np.empty((bounds.shape[0], 2))
    for i in range(bounds.shape[0]):
        out[i, 0] = rng.uniform()
        out[i, 1] = rng.integer(bounds[i])
    return out


def test_uniform_and_integer_are_numbas_draws_number_for_number():
    """200,000 pairs (past many reshuffles of the 624-word state), with bounds from 1 (no draw)
    to 2**40 (two words per integer)."""
    bounds = np.random.default_rng(0).choice([1, 2, 3, 4, 5, 7, 100, 2**31 + 5, 2**40], size=200_000)
    rng.seed(11)
    expected = _numba_draws(bounds)
    rng.seed(11)
    drawn = _mdlib_draws(bounds)
    np.testing.assert_array_equal(drawn, expected)
    assert np.all((drawn[:, 1] >= 0) & (drawn[:, 1] < bounds)) and np.all((drawn[:, 0] >= 0) & (drawn[:, 0] < 1))


def test_the_two_kinds_of_draw_share_one_stream_with_numba():
    """A draw of either kind moves the stream that ``np.random`` reads inside kernels."""
    rng.seed(3)
    _mdlib_draws(np.array([5]))
    after_mdlib = _numba_draws(np.array([5, 5]))
    rng.seed(3)
    _numba_draws(np.array([5]))
    np.testing.assert_array_equal(after_mdlib, _numba_draws(np.array([5, 5])))


def test_seeding_repeats_the_stream_and_different_seeds_differ():
    bounds = np.full(1000, 5)
    rng.seed(7)
    first = _mdlib_draws(bounds)
    rng.seed(7)
    np.testing.assert_array_equal(first, _mdlib_draws(bounds))
    rng.seed(8)
    assert not np.array_equal(first, _mdlib_draws(bounds))
