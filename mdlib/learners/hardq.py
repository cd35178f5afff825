"""Q-learning's kernels: greedy actions with random tie-breaking, the max backup and the epsilon
schedule (the hard counterparts of :mod:`mdlib.learners.softq`), for the compiled episode loop."""

from __future__ import annotations

import numba
import numpy as np


def exploration_rate(epsilon_min, epsilon_decay, episode):
    """Epsilon in ``episode`` (counted from 0): ``epsilon_min + (1 - epsilon_min) exp(-epsilon_decay * episode)``.

    Plain Python, so it also takes arrays of episodes; the loop runs :func:`exploration_rate_kernel`,
    the same function compiled."""
    return epsilon_min + (1.0 - epsilon_min) * np.exp(-epsilon_decay * episode)


exploration_rate_kernel = numba.njit(cache=True, inline="always")(exploration_rate)


@numba.njit(cache=True, inline="always")
def argmax(values):
    """Index of the largest of ``values``, ties broken uniformly at random (a fresh table is all ties)."""
    best, ties, choice = values[0], 1, 0
    for a in range(1, values.shape[0]):
        if values[a] > best:
            best, ties, choice = values[a], 1, a
        elif values[a] == best:
            ties += 1
            if np.random.randint(ties) == 0:
                choice = a
    return choice


@numba.njit(cache=True, inline="always")
def greedy_action(q, agent, s):
    """Argmax of Q(s, .), ties broken uniformly at random."""
    return argmax(q[agent, s])


@numba.njit(cache=True, inline="always")
def epsilon_greedy_action(q, agent, s, epsilon):
    """A uniformly random action with probability ``epsilon``, else :func:`greedy_action`."""
    if np.random.random() < epsilon:
        return np.random.randint(q.shape[2])
    return greedy_action(q, agent, s)


@numba.njit(cache=True, inline="always")
def max_value(q, agent, s):
    """``max_a Q(s, a)``: Q-learning's V(s)."""
    best = q[agent, s, 0]
    for a in range(1, q.shape[2]):
        best = max(best, q[agent, s, a])
    return best
