"""Q-learning's kernels: greedy actions with random tie-breaking, the max backup and the epsilon
schedule (the hard counterparts of :mod:`mdlib.learners.softq`), for the compiled episode loop."""

from __future__ import annotations

import numba
import numpy as np

from ..game import N_ACTIONS
from . import rng


def exploration_rate(epsilon_min, epsilon_decay, episode):
    """Epsilon in ``episode`` (counted from 0): ``epsilon_min + (1 - epsilon_min) exp(-epsilon_decay * episode)``.

    Plain Python, so it also takes arrays of episodes; the loop runs :func:`exploration_rate_kernel`,
    the same function compiled."""
    return epsilon_min + (1.0 - epsilon_min) * np.exp(-epsilon_decay * episode)


exploration_rate_kernel = numba.njit(cache=True, inline="always")(exploration_rate)


@numba.njit(cache=True, inline="always")
def argmax(values):
    """Index of the largest of the ``N_ACTIONS`` ``values``, ties broken uniformly at random (a fresh
    table is all ties).

    The scan keeps the first of the best values so far and, at each value equal to that best, draws
    whether to take it instead (reservoir sampling: each of k ties ends up chosen with chance 1/k).
    When no value equals the best before it, which a learned row usually is, no draw is made and the
    choice is the last value that beat the best so far: the shortcut finds that without branching
    and makes the same draws (none) as the scan, so the random stream is the same either way."""
    v_1, v_2, v_3, v_4 = values[1], values[2], values[3], values[4]
    best_1 = values[0]
    best_2 = max(best_1, v_1)
    best_3 = max(best_2, v_2)
    best_4 = max(best_3, v_3)
    if not ((v_1 == best_1) | (v_2 == best_2) | (v_3 == best_3) | (v_4 == best_4)):
        choice = 1 if v_1 > best_1 else 0
        choice = 2 if v_2 > best_2 else choice
        choice = 3 if v_3 > best_3 else choice
        return 4 if v_4 > best_4 else choice
    best, ties, choice = values[0], 1, 0
    for a in range(1, N_ACTIONS):
        if values[a] > best:
            best, ties, choice = values[a], 1, a
        elif values[a] == best:
            ties += 1
            if rng.integer(ties) == 0:
                choice = a
    return choice


@numba.njit(cache=True, inline="always")
def greedy_action(q, s):
    """Argmax of Q(s, .) in one agent's table ``q`` (states, actions), ties broken uniformly at random."""
    return argmax(q[s])


@numba.njit(cache=True, inline="always")
def epsilon_greedy_action(q, s, epsilon):
    """A uniformly random action with probability ``epsilon``, else :func:`greedy_action`."""
    if rng.uniform() < epsilon:
        return rng.integer(N_ACTIONS)
    return greedy_action(q, s)


@numba.njit(cache=True, inline="always")
def max_value(q, s):
    """``max_a Q(s, a)`` in one agent's table ``q`` (states, actions): Q-learning's V(s)."""
    best = q[s, 0]
    for a in range(1, N_ACTIONS):
        best = max(best, q[s, a])
    return best
