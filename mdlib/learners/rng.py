"""Seeding of the compiled kernels' random stream (numba keeps its own, apart from NumPy's)."""

import numba
import numpy as np


@numba.njit(cache=True)
def _seed(seed):
    np.random.seed(seed)


def seed(value: int) -> None:
    """Seed the stream every kernel draws from, so a run is repeatable bit for bit."""
    _seed(int(value) % 2**32)
