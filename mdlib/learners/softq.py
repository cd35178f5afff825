"""Soft Q-learning with a Distral prior (the E-step; report equations 3-5).

With the shared policy pi0 fixed, each task's policy maximises the reward regularised by
``(alpha/beta) log pi0`` and the entropy ``-(1/beta) log pi``. Its soft values are ::

    V(s) = (1/beta) log sum_a pi0(a|s)^alpha exp(beta Q(s, a))        (eq. 3)
    Q(s, a) = r + gamma E[V(s')]                                     (eq. 4)
    pi(a|s) = pi0(a|s)^alpha exp(beta (Q(s, a) - V(s)))              (eq. 5)

Here alpha is Distral's exponent on the prior and beta its inverse temperature; the learning
rate is a separate parameter. Everything is computed in log space (log-sum-exp), so beta up to
100 and prior entries near zero are safe; pi0 is floored at ``PI0_FLOOR`` before its log.
"""

from __future__ import annotations

import numba
import numpy as np

from ..game import N_ACTIONS, STEP_REWARD
from . import rng
from .hardq import argmax

#: Smallest prior probability used in log pi0: a distilled pi0 has exact zeros for actions never
#: taken in a state, and log 0 would forbid them for ever.
PI0_FLOOR = 1e-4


def log_prior(pi0: np.ndarray, floor: float = PI0_FLOOR) -> np.ndarray:
    """``log max(pi0, floor)``: the form of the prior the kernels take."""
    return np.log(np.maximum(pi0, floor))


def wander_value(alpha: float, beta: float, gamma: float) -> float:
    """The soft value (eq. 3) of wandering for ever under a uniform prior, where every Q is equal:
    each step pays ``STEP_REWARD`` and eq. 3 adds ``(1 - alpha) / beta * log 5`` (the prior and
    entropy terms of the uniform policy), so ``V = ((1 - alpha) / beta * log 5 - 0.1) / (1 - gamma)``.

    Soft Q-learning pulls the Q of states from which the goal has not been seen to just below
    this level (to ``-0.1 + gamma V``, lower by ``(1 - alpha) / beta * log 5``): 86.6 at the
    report's alpha 0.7, beta 0.5, gamma 0.99. Tables started at 0 are some 86 too low there, so
    every visited state looks better than every unvisited one; tables started here are not.
    """
    return ((1.0 - alpha) / beta * np.log(N_ACTIONS) + STEP_REWARD) / (1.0 - gamma)


@numba.njit(cache=True, inline="always")
def distral_logit(q, log_pi0, s, a, alpha, beta):
    """``alpha log pi0(a|s) + beta Q(s, a)``: eq. 5's policy is proportional to its exponential.

    Here and below ``q`` and ``log_pi0`` are one agent's (states, actions) tables."""
    return alpha * log_pi0[s, a] + beta * q[s, a]


@numba.njit(cache=True, inline="always")
def distral_greedy_action(q, log_pi0, s, alpha, beta, logits):
    """The most probable action of eq. 5, ``argmax_a alpha log pi0(a|s) + beta Q(s, a)``, ties at random."""
    for a in range(q.shape[1]):
        logits[a] = distral_logit(q, log_pi0, s, a, alpha, beta)
    return argmax(logits)


@numba.njit(cache=True, inline="always")
def soft_policy(q, log_pi0, s, alpha, beta, probs):
    """Write pi(.|s) of eq. 5 into ``probs`` and return V(s) of eq. 3 (log-sum-exp)."""
    top = -np.inf
    for a in range(q.shape[1]):
        probs[a] = distral_logit(q, log_pi0, s, a, alpha, beta)
        top = max(top, probs[a])
    total = 0.0
    for a in range(q.shape[1]):
        probs[a] = np.exp(probs[a] - top)
        total += probs[a]
    for a in range(q.shape[1]):
        probs[a] /= total
    return (top + np.log(total)) / beta


@numba.njit(cache=True, inline="always")
def soft_state_value(q, log_pi0, s, alpha, beta):
    """V(s) of eq. 3, by log-sum-exp."""
    top = -np.inf
    for a in range(q.shape[1]):
        top = max(top, distral_logit(q, log_pi0, s, a, alpha, beta))
    total = 0.0
    for a in range(q.shape[1]):
        total += np.exp(distral_logit(q, log_pi0, s, a, alpha, beta) - top)
    return (top + np.log(total)) / beta


@numba.njit(cache=True, inline="always")
def sample(probs):
    """Draw an index from a probability vector."""
    u = rng.uniform()
    cumulative = 0.0
    for a in range(probs.shape[0] - 1):
        cumulative += probs[a]
        if u < cumulative:
            return a
    return probs.shape[0] - 1


def distral_logits(q_values, pi0, alpha: float, beta: float, floor: float = PI0_FLOOR) -> np.ndarray:
    """``alpha log pi0 + beta Q`` for an array of Q rows (last axis = actions), pi0 floored."""
    return alpha * log_prior(np.asarray(pi0, float), floor) + beta * np.asarray(q_values, float)


def soft_value(q_values, pi0, alpha: float, beta: float, floor: float = PI0_FLOOR) -> np.ndarray:
    """Eq. 3 for an array of Q rows (last axis = actions)."""
    logits = distral_logits(q_values, pi0, alpha, beta, floor)
    top = logits.max(axis=-1)
    return (top + np.log(np.exp(logits - top[..., None]).sum(axis=-1))) / beta


def distral_policy(q_values, pi0, alpha: float, beta: float, floor: float = PI0_FLOOR) -> np.ndarray:
    """Eq. 5 for an array of Q rows: pi proportional to pi0^alpha exp(beta Q)."""
    v = soft_value(q_values, pi0, alpha, beta, floor)
    return np.exp(distral_logits(q_values, pi0, alpha, beta, floor) - beta * v[..., None])


@numba.njit(cache=True)
def _soft_q_learning_mdp(transitions, rewards, log_pi0, alpha, beta, gamma, steps, power):
    n_states, n_actions = rewards.shape
    q = np.zeros((n_states, n_actions))
    visits = np.zeros((n_states, n_actions))
    for _ in range(steps):
        s = rng.integer(n_states)
        a = rng.integer(n_actions)
        s_next = sample(transitions[s, a])
        visits[s, a] += 1.0
        learning_rate = 1.0 / visits[s, a] ** power
        target = rewards[s, a] + gamma * soft_state_value(q, log_pi0, s_next, alpha, beta)
        q[s, a] += learning_rate * (target - q[s, a])
    return q


def soft_q_learning_mdp(
    transitions,
    rewards,
    pi0,
    alpha: float,
    beta: float,
    gamma: float,
    steps: int,
    seed: int = 0,
    power: float = 0.6,
) -> np.ndarray:
    """Sampled soft Q-learning (eqs. 3-4) on a small tabular MDP, for checking the update.

    ``transitions[s, a]`` is the distribution of s', ``rewards[s, a]`` the reward. State-action
    pairs are drawn uniformly; the learning rate of a pair is ``1 / visits^power`` (a
    Robbins-Monro schedule, so the estimate converges rather than hovering).
    """
    rng.seed(seed)
    return _soft_q_learning_mdp(
        np.asarray(transitions, float),
        np.asarray(rewards, float),
        log_prior(np.asarray(pi0, float)),
        float(alpha),
        float(beta),
        float(gamma),
        int(steps),
        float(power),
    )
