"""The compiled kernels' random stream: seeding, and the two draws the episode loop makes.

numba keeps its own Mersenne Twister, apart from NumPy's. ``uniform()`` and ``integer(n)``
draw from that very stream, with numba's own code for ``np.random.random()`` and
``np.random.randint(n)``, so they return what those calls would, number for number
(``tests/test_rng.py``). They exist for speed: numba compiles each ``np.random`` call as a call
to a separate function that looks up the thread's generator every time; these are built into
the calling kernel, where the look-up is done once per loop. That makes the Q-learning loop
about a tenth faster.
"""

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core.typing import signature
from numba.cpython import randomimpl
from numba.extending import intrinsic

_INT64 = ir.IntType(64)


@numba.njit(cache=True)
def _seed(seed):
    np.random.seed(seed)


def seed(value: int) -> None:
    """Seed the stream every kernel draws from, so a run is repeatable bit for bit."""
    _seed(int(value) % 2**32)


@intrinsic
def uniform(typingcontext):
    """A float in [0, 1): the next ``np.random.random()`` of numba's stream (compiled code only)."""

    def codegen(context, builder, sig, args):
        state = randomimpl.get_state_ptr(context, builder, "np")
        return randomimpl.get_next_double(context, builder, state)

    return signature(types.float64), codegen


@intrinsic
def integer(typingcontext, n):
    """An integer in [0, n): the next ``np.random.randint(n)`` of numba's stream (compiled code
    only; ``n`` >= 1)."""

    def codegen(context, builder, sig, args):
        (stop,) = args
        zero, one = ir.Constant(_INT64, 0), ir.Constant(_INT64, 1)
        return randomimpl._randrange_impl(context, builder, zero, stop, one, _INT64, True, "np")

    return signature(types.int64, types.int64), codegen


if numba.config.DISABLE_JIT:
    # With numba switched off the kernels run as Python, and draw from NumPy's legacy generator,
    # the same Mersenne Twister with the same two algorithms (tests/test_compiled_loop.py).
    uniform, integer = np.random.random, np.random.randint  # noqa: F811
